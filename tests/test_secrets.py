"""No password, token, refresh token, direct_auth_key or API secret in what users see.

Each test runs a whole life: first login, refresh (TeamUp), re-login after a
revoke, expiry, refused logins, field errors, vendor answers that echo the
password back, a body that cannot be resent. Meanwhile it captures every log
record at DEBUG (ours, urllib3's, the root logger's), every warning, every
exception's ``str`` and ``repr`` (and those of its causes), and the ``repr``
and ``str`` of the auth, token and store objects; then it looks for each
secret in all of it. (``http --debug`` output is checked with the HTTPie plugin.)
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Callable, Optional

import pytest
from helpers import session_with

from auth_plugins import (
    AccountLocked,
    AuthPluginError,
    BodyNotReplayable,
    FileTokenStore,
    InvalidCredentials,
    LoginError,
    MemoryTokenStore,
    PasswordAuth,
    StepUpRequired,
    TeamUpAuth,
    Up2MoneyAuth,
)
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)

WRONG_PASSWORD = "wrong-password-5Zq9"


class Witness:
    """Everything a user could see during a run, and every secret that must not be in it."""

    def __init__(self, sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
        self.sandbox = sandbox
        self.caplog = caplog
        self.texts: list[str] = []
        self.secrets: set[str] = set()
        self.errors: list[BaseException] = []

    def look_at(self, *objects: object) -> None:
        for obj in objects:
            self.texts += [repr(obj), str(obj)]

    def note_tokens(self, auth: PasswordAuth) -> None:
        token = auth.token
        if token is not None:
            self.secrets.add(token.access_token)
            if token.refresh_token:
                self.secrets.add(token.refresh_token)
            self.look_at(token)

    def expect_error(self, kind: type[BaseException], call: Callable[[], object]) -> BaseException:
        with pytest.raises(kind) as caught:
            call()
        self.errors.append(caught.value)
        return caught.value

    def tokens_on_the_wire(self) -> Iterator[str]:
        """Every token the sandbox received: in headers, and refresh tokens in bodies."""
        for received in self.sandbox.received:
            for name, value in received.headers.items():
                if name.lower() == "authorization":
                    yield value.split(" ", 1)[-1]
                elif name.lower() == "authorization-key":
                    yield value
            try:
                body = json.loads(received.body or b"null")
            except ValueError:
                continue
            if isinstance(body, dict) and isinstance(body.get("refresh_token"), str):
                yield body["refresh_token"]

    def assert_no_secret_shown(self, fixed_secrets: Iterable[str]) -> None:
        secrets = {*self.secrets, *fixed_secrets, *self.tokens_on_the_wire()}
        assert all(len(s) >= 8 for s in secrets), "a short secret would match by accident"
        texts = [*self.texts, self.caplog.text]
        texts += [record.getMessage() for record in self.caplog.records]
        for error in self.errors:
            texts += [str(e) for e in chain(error)] + [repr(e) for e in chain(error)]
            texts += [str(a) for e in chain(error) for a in e.args]
        assert len(self.caplog.records) > 5, "the run logged nothing: is capture working?"
        for secret in secrets:
            for text in texts:
                assert secret not in text, f"a secret is shown in: {text[:300]!r}"


def chain(error: Optional[BaseException]) -> Iterator[BaseException]:
    """The exception and what it was raised from, as a traceback would print them."""
    while error is not None:
        yield error
        cause = error.__cause__
        if cause is None and not error.__suppress_context__:
            cause = error.__context__
        error = cause


@pytest.fixture
def witness(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> Iterator[Witness]:
    caplog.set_level(logging.DEBUG)
    for name in ("auth_plugins", "urllib3", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seen = Witness(sandbox, caplog)
        yield seen
        seen.texts += [str(w.message) for w in caught]


def get_through(auth: PasswordAuth, url: str) -> Callable[[], object]:
    return lambda: session_with(auth).get(url)


def echo_password_answers(password: str, other_secret: str) -> list[tuple[int, bytes, str]]:
    """Login answers (status, body, content type) that quote the secrets back."""
    said = f"the password {password} with key {other_secret} is not accepted"
    return [
        (
            400,
            json.dumps(
                {
                    "code": password,
                    "message": said,
                    "type": "invalid_request_error",
                    "field_errors": {"password": [said], "non_field_errors": [other_secret]},
                }
            ).encode(),
            "application/json",
        ),
        (
            400,
            json.dumps(
                {
                    "message": said,
                    "syntaxErrors": {
                        "invalidFields": [
                            {"params": [password, other_secret], "fieldName": "password"}
                        ]
                    },
                }
            ).encode(),
            "application/json",
        ),
        (
            403,
            json.dumps({"errorCode": other_secret, "message": said}).encode(),
            "application/json",
        ),
        (500, f"<html><body>{said}</body></html>".encode(), "text/html"),
        (
            200,
            json.dumps({"access_token": 5, "token": 5, "message": said}).encode(),
            "application/json",
        ),
        (423, json.dumps({"message": said}).encode(), "application/json"),
        (429, json.dumps({"message": said}).encode(), "application/json"),
    ]


def test_teamup_run_shows_no_secret(
    sandbox: Sandbox,
    teamup_auth: Callable[..., TeamUpAuth],
    witness: Witness,
    tmp_path: Path,
) -> None:
    url = sandbox.teamup_url + "/customers"
    store = FileTokenStore(tmp_path / "tokens")
    # The password as a callable too: it must not show once it has been asked for.
    auth = teamup_auth(password=lambda: DEMO_TEAMUP_PASSWORD, token_store=store)
    session = session_with(auth)
    witness.look_at(auth, store)

    assert session.get(url).status_code == 200  # first login
    witness.note_tokens(auth)
    sandbox.expire_tokens("teamup")
    assert session.get(url).status_code == 200  # refresh
    witness.note_tokens(auth)
    assert sandbox.refreshes("teamup") == 1
    sandbox.revoke_tokens("teamup")
    assert session.get(url).status_code == 200  # refresh refused, password login again
    witness.note_tokens(auth)
    assert sandbox.logins("teamup") == 2
    witness.look_at(auth, store, store.load(auth.key))

    sandbox.revoke_tokens("teamup")
    witness.expect_error(
        BodyNotReplayable,
        lambda: session.post(sandbox.teamup_url + "/echo", data=iter([b"a", b"b"])),
    )
    witness.note_tokens(auth)

    wrong = teamup_auth(password=WRONG_PASSWORD)
    witness.expect_error(InvalidCredentials, get_through(wrong, url))
    # Refused credentials are not sent again: the same error, from memory.
    witness.expect_error(InvalidCredentials, get_through(wrong, url))
    wrong_key = teamup_auth(direct_auth_key="wrong-direct-auth-key-7Hx")
    witness.expect_error(InvalidCredentials, get_through(wrong_key, url))
    witness.look_at(wrong, wrong_key)

    for status, body, content_type in echo_password_answers(
        DEMO_TEAMUP_PASSWORD, DEMO_TEAMUP_DIRECT_AUTH_KEY
    ):
        sandbox.script_login("teamup", status, body, {"Content-Type": content_type})
        scripted = teamup_auth(token_store=MemoryTokenStore())  # no refusal remembered
        error = witness.expect_error(LoginError, get_through(scripted, url))
        assert f"HTTP {status}" in str(error)
        witness.look_at(scripted)

    witness.assert_no_secret_shown(
        [
            DEMO_TEAMUP_PASSWORD,
            WRONG_PASSWORD,
            DEMO_TEAMUP_DIRECT_AUTH_KEY,
            "wrong-direct-auth-key-7Hx",
        ]
    )


def test_up2money_run_shows_no_secret(
    sandbox: Sandbox,
    up2money_auth: Callable[..., Up2MoneyAuth],
    witness: Witness,
) -> None:
    url = sandbox.up2money_url + "/managed_accounts"
    auth = up2money_auth()
    session = session_with(auth)
    witness.look_at(auth)

    assert session.get(url).status_code == 200  # first login
    witness.note_tokens(auth)
    sandbox.expire_tokens("up2money")
    assert session.get(url).status_code == 200  # 410, login again
    witness.note_tokens(auth)
    sandbox.revoke_tokens("up2money")
    assert session.get(url).status_code == 200  # 401, login again
    witness.note_tokens(auth)
    assert sandbox.logins("up2money") == 3
    witness.expect_error(
        StepUpRequired, lambda: session.post(sandbox.up2money_url + "/transfers", json={})
    )
    sandbox.expire_tokens("up2money")
    witness.expect_error(
        BodyNotReplayable,
        lambda: session.post(sandbox.up2money_url + "/echo", data=iter([b"a", b"b"])),
    )
    witness.note_tokens(auth)
    witness.look_at(auth)

    sandbox.up2money.config.lockout_threshold = 2
    for _ in range(2):  # two clients that share nothing: two attempts
        wrong = up2money_auth(password=WRONG_PASSWORD, token_store=MemoryTokenStore())
        witness.expect_error(InvalidCredentials, get_through(wrong, url))
        witness.look_at(wrong)
    locked = up2money_auth(password=WRONG_PASSWORD, token_store=MemoryTokenStore())
    witness.expect_error(AccountLocked, get_through(locked, url))
    sandbox.up2money.config.lockout_threshold = 5

    for status, body, content_type in echo_password_answers(
        DEMO_UP2MONEY_PASSWORD, DEMO_UP2MONEY_SECRET
    ):
        sandbox.script_login("up2money", status, body, {"Content-Type": content_type})
        scripted = up2money_auth(token_store=MemoryTokenStore())
        error = witness.expect_error(LoginError, get_through(scripted, url))
        assert f"HTTP {status}" in str(error)

    witness.assert_no_secret_shown([DEMO_UP2MONEY_PASSWORD, WRONG_PASSWORD, DEMO_UP2MONEY_SECRET])


def test_errors_keep_what_the_vendor_said_minus_the_secrets(
    sandbox: Sandbox, teamup_auth: Callable[..., TeamUpAuth]
) -> None:
    # Redacting must not throw the useful part away with the secret.
    status, body, content_type = echo_password_answers(
        DEMO_TEAMUP_PASSWORD, DEMO_TEAMUP_DIRECT_AUTH_KEY
    )[0]
    sandbox.script_login("teamup", status, body, {"Content-Type": content_type})
    with pytest.raises(AuthPluginError) as caught:
        session_with(teamup_auth()).get(sandbox.teamup_url + "/customers")
    assert "the password *** with key *** is not accepted" in str(caught.value)
