"""up2.money, complete: x-secret everywhere, sliding expiry, lockout safety, step-up, errors."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from helpers import age_token, session_with

from auth_plugins import (
    AccountLocked,
    AuthPluginError,
    InvalidCredentials,
    LoginError,
    RateLimited,
    StepUpRequired,
    Up2MoneyAuth,
)
from auth_plugins.adapters.requests import api_answer
from auth_plugins.sandbox import (
    DEMO_STEPUP_CODE,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)
from auth_plugins.vendors.up2money import UP2MONEY

JSON = {"Content-Type": "application/json"}


def accounts(sandbox: Sandbox, auth: Up2MoneyAuth) -> requests.Response:
    return requests.get(sandbox.up2money_url + "/managed_accounts", auth=auth)


# -- headers ---------------------------------------------------------------------------


def test_login_sends_secret_and_tokenized_password_as_given(
    sandbox: Sandbox, up2money_auth: Any
) -> None:
    accounts(sandbox, up2money_auth())
    login = next(r for r in sandbox.received if r.path.endswith("/auth/login"))
    assert login.method == "POST"
    assert login.headers["x-secret"] == DEMO_UP2MONEY_SECRET
    assert json.loads(login.body) == {
        "email": DEMO_UP2MONEY_EMAIL,
        "password": {"value": DEMO_UP2MONEY_PASSWORD},
    }


def test_api_calls_carry_secret_and_bare_token(sandbox: Sandbox, up2money_auth: Any) -> None:
    auth = up2money_auth()
    for method in ("GET", "POST", "DELETE"):
        headers = requests.request(method, sandbox.up2money_url + "/echo", auth=auth).json()[
            "headers"
        ]
        assert headers["x-secret"] == DEMO_UP2MONEY_SECRET
        assert headers["Authorization-key"] == auth.token.access_token
    assert sandbox.logins("up2money") == 1


# -- sliding expiry --------------------------------------------------------------------
#
# One test here waits for real time (the end-to-end run of the sliding window, on the
# client and the sandbox together); the others age the token through the auth's store
# (helpers.age_token) and do not sleep. The window's rules are unit-tested with ``now=``
# in test_core.py (test_a_sliding_window_moves_with_each_use).


def test_idle_token_is_replaced_before_sending(sandbox: Sandbox, up2money_auth: Any) -> None:
    auth = up2money_auth()
    assert accounts(sandbox, auth).status_code == 200
    # Idle past the client's window; the sandbox's (300 s) still holds, so only a renewal
    # by the client's own clock shows.
    age_token(auth, auth.idle_timeout + 1)
    response = accounts(sandbox, auth)
    assert response.status_code == 200
    assert response.history == []  # no 410 round trip
    assert sandbox.logins("up2money") == 2
    assert not auth.token.is_expired(auth.leeway)


def test_a_use_moves_the_clients_window(sandbox: Sandbox, up2money_auth: Any) -> None:
    auth = up2money_auth()
    auth.get_token()
    window = auth.idle_timeout
    # Idle for most of the window, not yet within the leeway of its end.
    aged = age_token(auth, window - 2 * auth.leeway)
    before = time.time()
    assert not aged.is_expired(auth.leeway, now=before)
    assert aged.is_expired(auth.leeway, now=before + auth.leeway)  # due soon, unless used
    assert accounts(sandbox, auth).status_code == 200
    token = auth.token
    assert token.access_token == aged.access_token  # the same token, used
    assert token.last_used is not None
    assert token.last_used >= before
    assert not token.is_expired(auth.leeway, now=before + window / 2)  # a window from its use
    assert sandbox.logins("up2money") == 1


def test_every_use_slides_the_window(sandbox: Sandbox, up2money_auth: Any) -> None:
    # THE end-to-end test of the sliding window: it sleeps, so that the client's window and
    # the sandbox's both slide with real time. The rule is unit-tested with now= in
    # test_core.py; test_a_use_moves_the_clients_window drives it without waiting.
    # A 1.5 s window, renewed 0.375 s early, with a use every 0.4 s: a stall of 0.7 s
    # between two uses still passes, while 4 pauses (1.6 s) outlast the window.
    window, pause = 1.5, 0.4
    sandbox.up2money.config.idle_timeout = window
    auth = up2money_auth(idle_timeout=window)
    auth.get_token()  # logged in before: every call below carries the token
    logged_in = time.monotonic()
    for call in range(5):
        if call:
            time.sleep(pause)
        response = accounts(sandbox, auth)
        assert response.status_code == 200
        assert response.history == []
    assert time.monotonic() - logged_in > window  # the token outlived one window
    assert sandbox.logins("up2money") == 1


def test_default_window_is_five_minutes(up2money_auth: Any) -> None:
    auth = up2money_auth()
    assert auth.idle_timeout == 300
    assert auth.get_token().idle_timeout == 300


# -- re-login signals ------------------------------------------------------------------


def test_400_token_expired_relogs_in_once(sandbox: Sandbox, up2money_auth: Any) -> None:
    sandbox.up2money.config.expired_style = "400"
    auth = up2money_auth()
    accounts(sandbox, auth)
    sandbox.expire_tokens("up2money")
    response = accounts(sandbox, auth)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [400]
    assert sandbox.logins("up2money") == 2


def test_403_access_token_required_means_log_in_again(sandbox: Sandbox) -> None:
    # The sandbox answers it to a call without Authorization-key, as the platform does.
    answer = requests.get(
        sandbox.up2money_url + "/managed_accounts", headers={"x-secret": DEMO_UP2MONEY_SECRET}
    )
    assert answer.status_code == 403
    assert UP2MONEY.token_rejected_hook is not None
    assert UP2MONEY.token_rejected_hook(api_answer(answer))


def test_other_403_is_not_a_relogin_signal(sandbox: Sandbox, up2money_auth: Any) -> None:
    auth = up2money_auth()
    with pytest.raises(StepUpRequired):
        requests.post(sandbox.up2money_url + "/transfers", json={"amount": 1}, auth=auth)
    assert sandbox.logins("up2money") == 1


# -- step-up ---------------------------------------------------------------------------


def test_step_up_flow_from_a_program(sandbox: Sandbox, up2money_auth: Any) -> None:
    auth = up2money_auth()
    session = session_with(auth)
    with pytest.raises(StepUpRequired) as caught:
        session.post(sandbox.up2money_url + "/transfers", json={"amount": 5})
    assert caught.value.response is not None
    assert caught.value.response.status_code == 403
    assert "verify_step_up" in str(caught.value)
    token = auth.token.access_token

    auth.send_step_up_otp()
    auth.verify_step_up(DEMO_STEPUP_CODE)

    response = session.post(sandbox.up2money_url + "/transfers", json={"amount": 5})
    assert response.status_code == 200
    assert auth.token.access_token == token  # same token, no re-login
    assert sandbox.logins("up2money") == 1


def test_wrong_step_up_code_is_a_clear_error(sandbox: Sandbox, up2money_auth: Any) -> None:
    auth = up2money_auth()
    auth.send_step_up_otp(channel="SMS")
    with pytest.raises(AuthPluginError, match="step-up verification failed: HTTP 400"):
        auth.verify_step_up("000000")


# -- lockout safety --------------------------------------------------------------------


def test_wrong_password_costs_exactly_one_attempt(sandbox: Sandbox, up2money_auth: Any) -> None:
    session = session_with(up2money_auth(password="tok_wrong"))
    for _ in range(10):
        with pytest.raises(InvalidCredentials):
            session.get(sandbox.up2money_url + "/managed_accounts")
    assert sandbox.login_attempts("up2money") == 1


def test_locked_account_raises_account_locked_after_one_attempt(
    sandbox: Sandbox, up2money_auth: Any
) -> None:
    sandbox.up2money.config.lockout_threshold = 2
    # Two different wrong passwords, one attempt each (the same one twice would be one).
    for wrong in ("tok_wrong_1", "tok_wrong_2"):
        with pytest.raises(InvalidCredentials):
            up2money_auth(password=wrong).get_token()
    with pytest.raises(InvalidCredentials):
        up2money_auth(password="tok_wrong_1").get_token()  # remembered: no attempt
    locked = up2money_auth()  # the right password, too late
    for _ in range(3):
        with pytest.raises(AccountLocked) as caught:
            accounts(sandbox, locked)
    assert caught.value.status == 423
    assert "30 minutes" in str(caught.value)
    assert sandbox.login_attempts("up2money") == 3


# -- errors ----------------------------------------------------------------------------


def test_syntax_errors_list_each_field(sandbox: Sandbox, up2money_auth: Any) -> None:
    body = {
        "message": "Bad request",
        "syntaxErrors": {
            "invalidFields": [
                {"params": [], "fieldName": "email", "error": "REQUIRED"},
                {"params": ["8", "64"], "fieldName": "password.value", "error": "SIZE"},
            ]
        },
    }
    sandbox.script_login("up2money", 400, json.dumps(body).encode(), JSON)
    with pytest.raises(LoginError) as caught:
        up2money_auth().get_token()
    message = str(caught.value)
    assert "HTTP 400" in message
    assert "email: REQUIRED" in message
    assert "password.value: SIZE" in message


def test_rate_limit_reads_the_reset_header(sandbox: Sandbox, up2money_auth: Any) -> None:
    sandbox.up2money.config.rate_limit_per_minute = 1
    up2money_auth().get_token()
    with pytest.raises(RateLimited) as caught:
        up2money_auth(username="bob@example.com", password="tok_bob-password").get_token()
    assert caught.value.retry_after is not None
    # The header is a whole epoch second, so up to one second over the window.
    assert 0 < caught.value.retry_after <= 61


def test_retry_after_header_is_read_too(sandbox: Sandbox, up2money_auth: Any) -> None:
    sandbox.script_login(
        "up2money", 429, b'{"message": "slow down"}', {**JSON, "Retry-After": "17"}
    )
    with pytest.raises(RateLimited) as caught:
        up2money_auth().get_token()
    assert caught.value.retry_after == 17


def test_maintenance_is_named(sandbox: Sandbox, up2money_auth: Any) -> None:
    sandbox.up2money.config.maintenance = True
    with pytest.raises(LoginError, match="maintenance") as caught:
        up2money_auth().get_token()
    assert caught.value.status == 503


@pytest.mark.parametrize(
    ("status", "content_type", "body", "expected"),
    [
        (200, "text/html", b"<html>login</html>", "text/html"),
        (200, "application/json", b"", "empty body"),
        (200, "application/json", b'{"tokenType": "ACCESS"}', "'token'"),
        (500, "application/json", b'{"message": "Internal"}', "HTTP 500"),
    ],
)
def test_undocumented_answers_are_login_errors(
    sandbox: Sandbox, up2money_auth: Any, status: int, content_type: str, body: bytes, expected: str
) -> None:
    sandbox.script_login("up2money", status, body, {"Content-Type": content_type})
    with pytest.raises(LoginError) as caught:
        up2money_auth().get_token()
    assert f"HTTP {status}" in str(caught.value)
    assert expected in str(caught.value)
