"""The core on its own: no server, no sleeping. Flows are driven by a scripted ``send``.

Because the core does no I/O, expiry, refresh, single-use values and message limits are
tested here with exact times and exact answers; the end-to-end tests keep one slow run
per behaviour.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from core_helpers import KEY, PASSWORD, Script, ok, renewal, teamup_settings

from auth_plugins import (
    ConfigError,
    InvalidCredentials,
    LoginError,
    MemoryTokenStore,
    TeamUpAuth,
    TwoFactorRequired,
)
from auth_plugins.core.answers import MAX_TOKEN_LENGTH, login_error, read_token
from auth_plugins.core.exchange import Deadline, drive, refresh
from auth_plugins.core.messages import Answer, Headers
from auth_plugins.core.renewal import TOUCH_SAVE_SHARE
from auth_plugins.core.settings import Settings
from auth_plugins.core.text import QUOTE_LIMIT
from auth_plugins.core.tokens import MAX_LEEWAY_SHARE, Token
from auth_plugins.stores import FileTokenStore
from auth_plugins.vendors.teamup import TEAMUP
from auth_plugins.vendors.up2money import UP2MONEY

# -- expiry, without sleeping ---------------------------------------------------------------


@pytest.mark.parametrize(("life", "leeway"), [(10.0, 30.0), (3600.0, 30.0), (4.0, 0.0)])
def test_the_leeway_is_clamped_to_a_share_of_the_life(life: float, leeway: float) -> None:
    token = Token("t", expires_at=1000.0 + life, issued_at=1000.0)
    renew_at = 1000.0 + life - min(leeway, life * MAX_LEEWAY_SHARE)
    assert not token.is_expired(leeway, now=renew_at - 0.001)
    assert token.is_expired(leeway, now=renew_at)


def test_a_sliding_window_moves_with_each_use() -> None:
    token = Token("t", idle_timeout=300.0, issued_at=0.0)
    assert token.is_expired(30.0, now=270.0)
    token.touch(200.0)
    assert not token.is_expired(30.0, now=469.9)
    assert token.is_expired(30.0, now=470.0)
    token.touch(100.0)  # an older use never moves it back
    assert token.last_used == 200.0


def test_a_use_is_written_back_to_a_shared_store_after_a_share_of_the_window(
    tmp_path: Any,
) -> None:
    store = FileTokenStore(tmp_path)
    settings = Settings(
        UP2MONEY, {"username": "a@b.c", "password": "p", "secret": "s", "base_url": "https://u.x"}
    )
    job = renewal(settings, store)
    token = Token("t", idle_timeout=300.0, issued_at=1000.0)
    store.save(job.key, token)
    share = 300.0 * TOUCH_SAVE_SHARE
    # Uses a second apart, for longer than the share: the store hears of it once it is due.
    for second in range(int(share)):
        job.note_use(token, 1000.0 + second)
    assert store.load(job.key).last_used is None  # type: ignore[union-attr]
    job.note_use(token, 1000.0 + share + 1)
    stored = store.load(job.key)
    assert stored is not None
    assert stored.last_used == 1000.0 + share + 1
    job.note_use(token, 1000.0 + share + 2)  # too soon after: not written again
    assert store.load(job.key).last_used == 1000.0 + share + 1  # type: ignore[union-attr]


# -- reading answers --------------------------------------------------------------------------


def test_a_token_of_exactly_the_maximum_length_is_taken_one_more_is_not() -> None:
    settings = teamup_settings()
    longest = read_token(
        TEAMUP, ok({"access_token": "a" * MAX_TOKEN_LENGTH}), [], idle_timeout=None
    )
    assert len(longest.access_token) == MAX_TOKEN_LENGTH
    with pytest.raises(LoginError, match="longer than a header"):
        read_token(
            TEAMUP,
            ok({"access_token": "a" * (MAX_TOKEN_LENGTH + 1)}),
            settings.secrets(),
            idle_timeout=None,
        )


@pytest.mark.parametrize("offset", range(-4, 5))
def test_a_secret_at_the_quote_limit_is_never_cut_in_half(offset: int) -> None:
    # The secret straddles the point where a long vendor message is clipped.
    lead = "x" * (QUOTE_LIMIT - len(PASSWORD) // 2 + offset)
    body = json.dumps({"message": lead + PASSWORD + " tail"}).encode()
    error = login_error(TEAMUP, Answer(400, Headers(), body), [PASSWORD])
    message = str(error)
    for size in range(6, len(PASSWORD) + 1):
        for start in range(len(PASSWORD) - size + 1):
            piece = PASSWORD[start : start + size]
            assert piece not in message, piece


def test_overlapping_secrets_are_hidden_whole() -> None:
    body = json.dumps({"message": f"{KEY}{PASSWORD} and {PASSWORD[:10]}"}).encode()
    message = str(login_error(TEAMUP, Answer(400, Headers(), body), [PASSWORD[:10], PASSWORD, KEY]))
    assert PASSWORD not in message
    assert KEY not in message
    assert PASSWORD[:10] not in message


def test_a_refresh_token_echoed_in_a_refresh_error_is_hidden() -> None:
    settings = teamup_settings()
    echo = Answer(400, Headers(), json.dumps({"message": "bad token rt-SECRET-99"}).encode())
    flow = refresh(TEAMUP, settings, "rt-SECRET-99", Deadline(30), idle_timeout=None)
    with pytest.raises(LoginError) as caught:
        drive(flow, Script(echo))
    assert "rt-SECRET-99" not in str(caught.value)


def test_a_vendor_that_does_not_rotate_refresh_tokens_keeps_the_old_one() -> None:
    settings = teamup_settings()
    flow = refresh(TEAMUP, settings, "rt-old", Deadline(30), idle_timeout=None)
    token = drive(flow, Script(ok({"access_token": "new", "expires_in": 600})))
    assert token.refresh_token == "rt-old"
    rotated = drive(
        refresh(TEAMUP, settings, "rt-old", Deadline(30), idle_timeout=None),
        Script(ok({"access_token": "new", "expires_in": 600, "refresh_token": "rt-new"})),
    )
    assert rotated.refresh_token == "rt-new"


# -- renewal ----------------------------------------------------------------------------------


def test_a_password_callable_is_asked_once_for_many_logins() -> None:
    asked: list[int] = []

    def password() -> str:
        asked.append(1)
        return PASSWORD

    settings = teamup_settings(password=password)
    job = renewal(settings)
    send = Script(*[ok({"access_token": f"t{n}", "expires_in": 600}) for n in range(3)])
    for _ in range(3):
        job.renew(job.token, send)
        job.forget()
    assert len(asked) == 1
    assert [body["password"] for body in send.bodies()] == [PASSWORD] * 3


def test_a_spent_verification_key_is_not_sent_again() -> None:
    settings = teamup_settings(verification_key="vk-once")
    job = renewal(settings)
    send = Script(ok({"access_token": "t1", "expires_in": 600}), ok({"access_token": "t2"}))
    job.renew(None, send)
    job.forget()
    job.renew(None, send)
    first, second = send.bodies()
    assert first["verification_key"] == "vk-once"
    assert "verification_key" not in second


def test_a_two_factor_handler_finishes_the_login_in_the_same_renewal() -> None:
    pending = ok({"object": "pending_login", "id": "p-1", "two_factor_required_providers": [7]})
    seen: list[TwoFactorRequired] = []
    settings = teamup_settings()

    def handler(error: TwoFactorRequired) -> bool:
        seen.append(error)
        settings.set("verification_key", "vk-2")
        return True

    job = renewal(settings, two_factor=handler, idle_timeout=300.0)
    send = Script(pending, ok({"access_token": "t", "expires_in": 600}))
    token = job.renew(None, send)
    assert (token.access_token, token.idle_timeout) == ("t", 300.0)  # the auth's idle window
    assert seen[0].providers == [7]
    assert send.bodies()[1]["verification_key"] == "vk-2"


def test_a_refused_password_is_sent_once_until_reset() -> None:
    job = renewal(teamup_settings())
    refused = Answer(401, Headers(), b'{"code": "authentication_failed"}')
    send = Script(refused)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            job.renew(None, send)
    assert len(send.calls) == 1


def test_a_good_stored_token_of_another_worker_is_used_without_a_login() -> None:
    store = MemoryTokenStore()
    job = renewal(teamup_settings(), store)
    store.save(job.key, Token("from-another-worker", expires_at=None))
    send = Script()
    assert job.renew(None, send).access_token == "from-another-worker"
    assert send.calls == []


def test_the_login_deadline_covers_every_call_together() -> None:
    clock = iter([0.0, 10.0, 31.0, 31.0])
    deadline = Deadline(30.0, clock=lambda: next(clock))
    assert deadline.left(TEAMUP, "login") == 20.0
    with pytest.raises(LoginError, match="within 30s in all"):
        deadline.left(TEAMUP, "token refresh")


def test_a_non_http_base_url_is_refused() -> None:
    for base_url in ("ftp://t.example/api", "t.example/api", "file:///etc/passwd"):
        with pytest.raises(ConfigError, match="not an http"):
            TeamUpAuth("u", "p", direct_auth_key="k", base_url=base_url)


def test_a_secret_is_hidden_as_json_writes_it_too() -> None:
    from auth_plugins.core.text import redact

    secret = 'p\u00e4ssw\\ord"Secret'
    echoed = json.dumps({"password": secret})  # as the login body carried it
    assert redact(echoed, [secret]) == '{"password": "***"}'
    assert redact(json.dumps(secret, ensure_ascii=False), [secret]) == '"***"'


@pytest.mark.parametrize(
    ("headers", "readable"),
    [
        ({"Content-Length": "120"}, True),
        ({"Content-Length": str(64 * 1024 + 1)}, False),
        ({"Content-Length": "3000", "Content-Encoding": "gzip"}, True),
        ({"Content-Length": "500000", "Content-Encoding": "gzip"}, False),
        ({"Transfer-Encoding": "chunked"}, False),
    ],
)
def test_an_api_error_body_is_read_only_when_it_says_it_is_small(
    headers: dict[str, str], readable: bool
) -> None:
    from auth_plugins.core.messages import error_body_worth_reading

    assert error_body_worth_reading(Headers(headers)) is readable
