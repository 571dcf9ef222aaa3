"""The core's renewal, remembered failures and login calls, driven without a server.

Flows are driven by a scripted ``send``; times come from ``now=`` arguments, an
injected ``Deadline`` clock or, where the core reads the wall clock itself, a
frozen ``time.time``. What is checked is what a caller sees: the calls sent,
the errors raised (their type, fields and advice), what the store holds and
what is logged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any, Optional

import pytest
from core_helpers import PASSWORD, Script, ok, renewal, teamup_settings

from auth_plugins import (
    AccountLocked,
    InvalidCredentials,
    LoginError,
    MemoryTokenStore,
    RateLimited,
)
from auth_plugins.core import failures
from auth_plugins.core.exchange import Deadline, drive, password_login, refresh, vendor_call
from auth_plugins.core.messages import Answer, Headers
from auth_plugins.core.renewal import LOCK_MARGIN, TOUCH_SAVE_SHARE
from auth_plugins.core.scope import Scope, is_loopback, origin
from auth_plugins.core.settings import Settings
from auth_plugins.core.tokens import Token
from auth_plugins.core.vendor import Option
from auth_plugins.stores import Failure, FileTokenStore, TokenKey
from auth_plugins.vendors.teamup import TEAMUP
from auth_plugins.vendors.up2money import UP2MONEY

SECRET = "x-secret-value-42"


def refused(status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> Answer:
    return Answer(status, Headers(headers or {}), json.dumps(payload).encode())


def up2money_settings(**given: Any) -> Settings:
    values = {"username": "a@b.c", "password": PASSWORD, "secret": SECRET}
    return Settings(UP2MONEY, {**values, "base_url": "https://u.example", **given})


class FullDisk(MemoryTokenStore):
    """A store that cannot write anything (a full disk): tokens and failure records fail."""

    def save(self, key: TokenKey, token: Token) -> None:
        raise OSError(28, "No space left on device")

    def save_failure(self, key: TokenKey, failure: Failure) -> None:
        raise OSError(28, "No space left on device")


class Clock:
    """The wall clock (``time.time``), frozen and moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, now: float) -> None:
        self.now = now
        monkeypatch.setattr(time, "time", lambda: self.now)


# -- the calls a login exchange builds --------------------------------------------------------


def test_a_refresh_call_is_named_a_token_refresh_and_keeps_the_idle_window() -> None:
    """The call is labelled for messages, and a sliding-window token stays one after a refresh."""
    settings = teamup_settings()
    send = Script(ok({"access_token": "new", "refresh_token": "rt-2"}))
    flow = refresh(TEAMUP, settings, "rt-1", Deadline(30), idle_timeout=300.0)
    token = drive(flow, send)
    [call] = send.calls
    assert (call.method, call.url) == (
        "POST",
        "https://t.example/api/auth/refresh_access_token?format=json",
    )
    assert call.what == "token refresh"
    assert json.loads(call.body) == {"refresh_token": "rt-1"}
    assert token.idle_timeout == 300.0
    assert token.refresh_token == "rt-2"


def test_a_renewal_refreshes_with_its_idle_window_and_logs_a_failed_refresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Through a renewal: the refreshed token keeps the auth's idle window; a refused
    refresh is logged with the vendor and the user before the password login."""
    job = renewal(teamup_settings(), idle_timeout=300.0)
    stale = Token("old", refresh_token="rt-1")
    send = Script(ok({"access_token": "new", "refresh_token": "rt-2"}))
    with caplog.at_level(logging.INFO, logger="auth_plugins"):
        assert job.renew(stale, send).idle_timeout == 300.0
    assert [r.getMessage() for r in caplog.records] == ["teamup: refreshed the token for alice"]
    caplog.clear()
    send = Script(refused(400, {"message": "expired"}), ok({"access_token": "t2"}))
    with caplog.at_level(logging.INFO, logger="auth_plugins"):
        renewed = renewal(teamup_settings()).renew(Token("old", refresh_token="rt-2"), send)
    assert renewed.access_token == "t2"
    assert [call.what for call in send.calls] == ["token refresh", "login"]
    assert "teamup: token refresh for alice failed (HTTP 400); logging in with the password" in [
        r.getMessage() for r in caplog.records
    ]


def test_a_refused_refresh_says_the_refresh_failed_not_the_login() -> None:
    """A person reading the error must know it was the refresh token, not the password."""
    settings = teamup_settings()
    flow = refresh(TEAMUP, settings, "rt-1", Deadline(30), idle_timeout=None)
    with pytest.raises(LoginError, match=r"^TeamUp token refresh failed: HTTP 400") as caught:
        drive(flow, Script(refused(400, {"message": "expired"})))
    assert "login" not in str(caught.value)


def test_a_refresh_answer_without_a_token_names_the_refresh() -> None:
    settings = teamup_settings()
    flow = refresh(TEAMUP, settings, "rt-1", Deadline(30), idle_timeout=None)
    with pytest.raises(LoginError, match=r"^TeamUp token refresh answered HTTP 200 without"):
        drive(flow, Script(ok({"nothing": "here"})))


#: A vendor whose refresh carries a secret in its body and another in a login header.
REFRESHING = dataclasses.replace(
    UP2MONEY,
    name="refreshing",
    title="Refreshing",
    env_prefix="REFRESHING",
    refresh_path="/auth/refresh",
    refresh_body={"refreshToken": "{refresh_token}", "clientKey": "{client_key}"},
    refresh_token_field="refreshToken",
    options=(*UP2MONEY.options, Option("client_key", secret=True)),
)


def test_a_refresh_asks_for_the_secrets_its_call_carries_and_never_the_password() -> None:
    """Secrets in the refresh body and the login headers are fetched; the password is not."""
    asked: list[str] = []

    def source(name: str, value: str) -> Any:
        def fetch() -> str:
            asked.append(name)
            return value

        return fetch

    settings = Settings(
        REFRESHING,
        {
            "username": "a@b.c",
            "password": source("password", PASSWORD),
            "secret": source("secret", SECRET),
            "client_key": source("client_key", "ck-7"),
            "base_url": "https://r.example",
        },
    )
    send = Script(ok({"token": "new"}))
    token = drive(refresh(REFRESHING, settings, "rt-1", Deadline(30), idle_timeout=None), send)
    [call] = send.calls
    assert call.url == "https://r.example/auth/refresh"
    assert call.headers["x-secret"] == SECRET
    assert json.loads(call.body) == {"refreshToken": "rt-1", "clientKey": "ck-7"}
    assert sorted(asked) == ["client_key", "secret"]
    assert token.refresh_token == "rt-1"


def test_a_vendor_call_error_hides_the_headers_it_carried() -> None:
    """A step-up call carries the token in a header; a server echoing it must not leak it."""
    settings = up2money_settings()
    headers = {"Authorization-key": "tok-SECRET-77"}
    flow = vendor_call(
        UP2MONEY,
        settings,
        "step-up verification",
        "/auth/stepup/verify-otp",
        {},
        headers,
        Deadline(30),
    )
    echo = refused(400, {"message": f"bad key tok-SECRET-77 with {SECRET}"})
    with pytest.raises(LoginError, match=r"^up2.money step-up verification failed") as caught:
        drive(flow, Script(echo))
    assert "tok-SECRET-77" not in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_vendor_call_answer_that_is_not_json_is_named_and_redacted() -> None:
    """The message names the call, and quotes nothing secret (not even in the content type)."""
    settings = up2money_settings()
    flow = vendor_call(
        UP2MONEY, settings, "step-up code request", "/auth/stepup/send-otp", {}, {}, Deadline(30)
    )
    odd = Answer(200, Headers({"Content-Type": f"text/html; echo={SECRET}"}), b"<html>")
    with pytest.raises(
        LoginError, match=r"^up2.money step-up code request answered HTTP 200"
    ) as caught:
        drive(flow, Script(odd))
    assert SECRET not in str(caught.value)


def test_a_vendor_call_returns_its_json_or_none_for_an_empty_body() -> None:
    settings = up2money_settings()
    send = Script(ok({"done": True}), Answer(204, Headers(), b""))
    for expected in ({"done": True}, None):
        flow = vendor_call(UP2MONEY, settings, "x", "/p", {"a": 1}, {}, Deadline(30))
        assert drive(flow, send) == expected
    assert [call.url for call in send.calls] == ["https://u.example/p"] * 2


# -- the deadline -----------------------------------------------------------------------------


def test_a_login_deadline_is_over_at_exactly_its_end() -> None:
    """No call is started with zero seconds left: it could only time out."""
    clock = iter([0.0, 29.5, 30.0])
    deadline = Deadline(30.0, clock=lambda: next(clock))
    assert deadline.left(TEAMUP, "login") == 0.5
    with pytest.raises(LoginError) as caught:
        deadline.left(TEAMUP, "login")
    assert str(caught.value) == (
        "TeamUp login did not finish within 30s in all; the server is too slow: try again "
        "later or raise the auth's timeout="
    )


# -- what a refused login leaves in the store --------------------------------------------------


def test_a_wrong_password_is_remembered_for_a_day_with_the_vendors_status_and_code() -> None:
    error = InvalidCredentials("TeamUp login failed", status=401, code="authentication_failed")
    record = failures.record_for(error, lambda salt: 4242, now=1000.0)
    assert record is not None
    assert record.kind == "invalid_credentials"
    assert record.until == 1000.0 + failures.REMEMBER_INVALID
    assert (record.status, record.code) == (401, "authentication_failed")
    assert record.fingerprint == 4242
    assert record.message == "TeamUp login failed"


def test_each_record_gets_its_own_128_bit_salt() -> None:
    """A salt per record: one dictionary run cannot test every record in a store at once."""
    error = InvalidCredentials("refused", status=401)
    salts = [failures.record_for(error, lambda salt: 1, now=0.0) for _ in range(2)]
    first, second = (record.salt for record in salts if record is not None)
    assert first is not None
    assert second is not None
    assert len(bytes.fromhex(first)) == 16
    assert first != second


@pytest.mark.parametrize(("said", "held"), [(600.0, 600.0), (None, failures.REMEMBER_LOCKED)])
def test_a_locked_account_is_remembered_as_long_as_the_vendor_said(
    said: Optional[float], held: float
) -> None:
    error = AccountLocked("locked", status=423, code="LOCKED")
    error.retry_after = said
    record = failures.record_for(error, lambda salt: 0, now=1000.0)
    assert record is not None
    assert record.kind == "account_locked"
    assert record.until == 1000.0 + held
    assert record.retry_after == held
    assert (record.status, record.code) == (423, "LOCKED")
    assert record.fingerprint is None  # a lock holds for any password


@pytest.mark.parametrize(
    ("said", "held", "kept"),
    [
        (120.0, 120.0, 120.0),
        (None, failures.REMEMBER_RATE_LIMIT, failures.REMEMBER_RATE_LIMIT),
        (0.0, failures.MIN_HOLD, 0.0),
    ],
)
def test_a_rate_limit_is_remembered_for_its_retry_after_and_at_least_a_moment(
    said: Optional[float], held: float, kept: float
) -> None:
    error = RateLimited("busy", status=429, retry_after=said, code="SLOW_DOWN")
    record = failures.record_for(error, lambda salt: 0, now=1000.0)
    assert record is not None
    assert record.kind == "rate_limited"
    assert record.until == 1000.0 + held
    assert record.retry_after == kept
    assert (record.status, record.code) == (429, "SLOW_DOWN")


def test_the_cap_on_logins_is_not_remembered_as_a_vendor_rate_limit() -> None:
    """auth-plugins' own cap is counted per window, never written as a refusal to the store."""
    error = failures.too_many_attempts("TeamUp", "alice", 11, now=0.0)
    assert error.local
    assert failures.record_for(error, lambda salt: 0, now=0.0) is None


# -- the error raised from memory --------------------------------------------------------------


def test_a_remembered_rate_limit_says_how_long_is_left() -> None:
    record = Failure(
        "rate_limited", 1089.2, "TeamUp login failed: HTTP 429", status=429, code="SLOW"
    )
    error = failures.remembered_error(record, "<the store>", now=1000.0)
    assert isinstance(error, RateLimited)
    assert error.remembered
    assert error.retry_after == pytest.approx(89.2)
    assert (error.status, error.code) == (429, "SLOW")
    assert str(error) == (
        "TeamUp login failed: HTTP 429. Retry after 90s: the vendor asked a process sharing "
        "<the store> to wait, and every process waits with it"
    )


def test_a_remembered_wait_of_under_a_second_is_not_rounded_up() -> None:
    """retry_after is the real time left: a caller sleeping on it must not oversleep."""
    record = Failure("rate_limited", 1000.25, "busy", status=503)
    error = failures.remembered_error(record, "this process", now=1000.0)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 0.25
    assert "Retry after 1s" in str(error)
    lapsed = failures.remembered_error(record, "this process", now=1001.0)
    assert isinstance(lapsed, RateLimited)
    assert lapsed.retry_after == 0.0


def test_a_remembered_lock_says_until_when_and_how_to_clear_it() -> None:
    until = time.time() + failures.REMEMBER_LOCKED
    record = Failure("account_locked", until, "Locked out", status=423, code="LOCKED")
    error = failures.remembered_error(record, "<the store>", now=until - 600.0)
    assert isinstance(error, AccountLocked)
    assert error.remembered
    assert error.retry_after == 600.0
    assert (error.status, error.code) == (423, "LOCKED")
    clock_time = time.strftime("%H:%M:%S", time.localtime(until))
    assert str(error) == (
        f"Locked out. Not retried before {clock_time} (remembered in <the store>, so no process "
        "extends the lock); once unlocked, clear it with auth.reset() or `auth-plugins logout`"
    )


def test_a_remembered_wrong_password_keeps_the_vendors_code() -> None:
    record = Failure("invalid_credentials", 2000.0, "Bad login", status=401, code="auth_failed")
    error = failures.remembered_error(record, "<the store>", now=1000.0)
    assert type(error) is InvalidCredentials
    assert error.remembered
    assert (error.status, error.code) == (401, "auth_failed")
    assert "remembered in <the store>" in str(error)
    assert failures.HOW_TO_CLEAR in str(error)


def test_the_cap_on_logins_waits_for_the_next_window() -> None:
    """Windows are whole minutes of the wall clock: 15s into one, 45s are left."""
    error = failures.too_many_attempts("TeamUp", "alice", 11, now=60.0 * 1000 + 15)
    assert error.local
    assert error.status is None
    assert error.retry_after == 45.0
    assert str(error) == (
        "TeamUp: 10 logins for alice in the last minute already, the most auth-plugins makes "
        "(the API may keep refusing new tokens). Retry after 45s; check that the API accepts "
        "this user's tokens"
    )


# -- the fingerprint ---------------------------------------------------------------------------


def test_the_fingerprint_of_given_credentials_does_not_change_between_versions() -> None:
    """Records outlive processes (files, Redis): a record written earlier must still match.

    The figure is PBKDF2-SHA256 (100,000 rounds), its first 16 bits.
    """
    assert failures.fingerprint(b"alice\0password=hunter2", bytes(range(16))) == 0x473F


# -- renewal: remembered failures --------------------------------------------------------------


def test_a_remembered_lock_carries_the_vendors_status_and_code_to_every_auth() -> None:
    store = MemoryTokenStore()
    locked = refused(
        423, {"message": "Locked", "errorCode": "ACCOUNT_LOCKED"}, {"Retry-After": "600"}
    )
    send = Script(locked)
    with pytest.raises(AccountLocked):
        renewal(up2money_settings(), store).renew(None, send)
    other = renewal(up2money_settings(password="another"), store)
    with pytest.raises(AccountLocked) as caught:
        other.renew(None, send)
    assert caught.value.remembered
    assert (caught.value.status, caught.value.code) == (423, "ACCOUNT_LOCKED")
    assert len(send.calls) == 1


def test_a_new_verification_key_does_not_make_a_wrong_password_worth_sending() -> None:
    """Only the user name and lasting secrets tell credentials apart; a spent 2FA key does not."""
    settings = teamup_settings(verification_key="vk-1", provider_id="12")
    job = renewal(settings)
    send = Script(refused(401, {"code": "authentication_failed"}))
    with pytest.raises(InvalidCredentials):
        job.renew(None, send)
    settings.set("verification_key", "vk-2")
    settings.set("provider_id", "13")
    with pytest.raises(InvalidCredentials) as caught:
        job.renew(None, send)
    assert caught.value.remembered
    assert len(send.calls) == 1
    # Another auth sharing the store, with a corrected password, is tried at once.
    corrected = renewal(teamup_settings(password="corrected"), job.store)
    send.answers.append(ok({"access_token": "t", "expires_in": 600}))
    assert corrected.renew(None, send).access_token == "t"


def test_a_refusal_recorded_by_an_earlier_version_still_holds_back() -> None:
    """Records outlive processes (files, Redis) and upgrades: the fingerprint must not drift.

    The record below is what a refused login of alice (this password and direct
    auth key) wrote with an all-zero salt.
    """
    store = MemoryTokenStore()
    record = Failure(
        "invalid_credentials",
        time.time() + 3600,
        "refused",
        status=401,
        fingerprint=0x14F5,
        salt="00" * 16,
    )
    job = renewal(teamup_settings(), store)
    store.save_failure(job.key, record)
    send = Script()
    with pytest.raises(InvalidCredentials) as caught:
        job.renew(None, send)
    assert caught.value.remembered
    assert send.calls == []
    corrected = renewal(teamup_settings(password="corrected"), store)
    send.answers.append(ok({"access_token": "t", "expires_in": 600}))
    assert corrected.renew(None, send).access_token == "t"


def test_a_remembered_refusal_says_where_it_is_remembered(tmp_path: Path) -> None:
    """Read from a shared store, a refusal names that store (where the user must clear
    it); one in memory only, or kept by the process whose shared store could not write
    it, says "this process"."""

    class SharedButFull(FullDisk):
        persistent = True

    def refused_then_held_back(first: Any, then: Any) -> str:
        with pytest.raises(InvalidCredentials):
            first.renew(None, Script(refused(401, {})))
        with pytest.raises(InvalidCredentials) as caught:
            then.renew(None, Script())
        assert caught.value.remembered
        return str(caught.value)

    shared, memory, full = FileTokenStore(tmp_path), MemoryTokenStore(), SharedButFull()
    settings = teamup_settings()
    message = refused_then_held_back(renewal(settings, shared), renewal(settings, shared))
    assert f"(remembered in {shared!r}," in message
    message = refused_then_held_back(renewal(settings, memory), renewal(settings, memory))
    assert "(remembered in this process," in message
    job = renewal(settings, full)
    assert "(remembered in this process," in refused_then_held_back(job, job)


def test_a_login_held_back_asks_for_no_two_factor_key() -> None:
    """A refused password, remembered in the store, stops the login before any prompt."""
    store = MemoryTokenStore()
    with pytest.raises(InvalidCredentials):
        renewal(teamup_settings(), store).renew(None, Script(refused(401, {})))
    asked: list[int] = []

    def verification_key() -> str:
        asked.append(1)
        return "vk"

    other = renewal(teamup_settings(verification_key=verification_key), store)
    with pytest.raises(InvalidCredentials) as caught:
        other.renew(None, Script())
    assert caught.value.remembered
    assert asked == []


def test_a_store_that_cannot_write_still_holds_this_process_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full disk: the refusal is kept in the process, until exactly its time is up."""
    clock = Clock(monkeypatch, 1_000_000.0)
    job = renewal(teamup_settings(), FullDisk())
    send = Script(refused(401, {"code": "authentication_failed"}))
    with pytest.raises(InvalidCredentials):
        job.renew(None, send)
    clock.now += failures.REMEMBER_INVALID - 1
    with pytest.raises(InvalidCredentials, match="remembered in this process") as caught:
        job.renew(None, send)
    assert caught.value.remembered
    assert len(send.calls) == 1
    clock.now += 1  # the record's until: it no longer holds
    send.answers.append(ok({"access_token": "t", "expires_in": 600}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert job.renew(None, send).access_token == "t"
    assert len(send.calls) == 2


# -- renewal: saving and reusing tokens --------------------------------------------------------


def test_a_token_that_cannot_be_saved_is_warned_about_once() -> None:
    """Each login of a process with a full disk would warn again: one warning says it all."""
    job = renewal(teamup_settings(), FullDisk())
    send = Script(*[ok({"access_token": f"t{n}", "expires_in": 600}) for n in range(2)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            job.renew(None, send)
            job.token = None
    messages = [str(w.message) for w in caught]
    assert messages == [
        "auth-plugins: could not save the TeamUp token ([Errno 28] No space left on device); "
        "this process keeps it in memory"
    ]
    assert len(send.calls) == 2


def test_a_stored_token_only_idle_here_is_used_without_a_login() -> None:
    """Another process used the sliding-window token: its stored copy is good, not refused."""
    store = MemoryTokenStore()
    job = renewal(up2money_settings(), store)
    now = time.time()
    idle_here = Token("shared", idle_timeout=300.0, issued_at=now - 290.0)
    stored = Token("shared", idle_timeout=300.0, issued_at=now - 290.0, last_used=now - 5.0)
    store.save(job.key, stored)
    send = Script()
    assert job.renew(idle_here, send) is stored
    assert send.calls == []


def test_the_current_token_is_judged_at_the_moment_asked_about() -> None:
    """``current(now=)`` answers for that moment, for the token held and for the stored one.

    Tokens living from t=1000 to t=2000 (far in the past of the wall clock):
    good at 1500, gone at 2500. A renewal judging by the wall clock instead
    would call both gone.
    """
    held = renewal(teamup_settings(), leeway=0.0)
    held.token = Token("held", expires_at=2000.0, issued_at=1000.0)
    assert held.current(now=1500.0) is held.token
    assert held.current(now=2500.0) is None
    store = MemoryTokenStore()
    fresh = renewal(teamup_settings(), store, leeway=0.0)
    stored = Token("stored", expires_at=2000.0, issued_at=1000.0)
    store.save(fresh.key, stored)
    assert fresh.current(now=2500.0) is None
    assert fresh.current(now=1500.0) == stored
    assert fresh.token == stored


def test_a_use_is_kept_on_the_token_at_the_time_it_was_sent() -> None:
    job = renewal(up2money_settings())
    token = Token("t", idle_timeout=300.0, issued_at=1000.0)
    job.note_use(token, 1100.0)
    assert token.last_used == 1100.0


def test_a_use_exactly_a_share_of_the_window_old_is_not_written_back(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path)
    job = renewal(up2money_settings(), store)
    token = Token("t", idle_timeout=300.0, issued_at=1000.0)
    store.save(job.key, token)
    share = 300.0 * TOUCH_SAVE_SHARE
    job.note_use(token, 1000.0 + share)
    assert store.load(job.key).last_used is None  # type: ignore[union-attr]
    job.note_use(token, 1000.0 + share + 0.5)
    assert store.load(job.key).last_used == 1000.0 + share + 0.5  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"access_token": "t", "expires_in": 600}, "good for 600s"),
        ({"access_token": "t"}, "with no stated expiry"),
    ],
)
def test_a_login_is_logged_with_the_tokens_life(
    caplog: pytest.LogCaptureFixture, answer: dict[str, Any], said: str
) -> None:
    job = renewal(teamup_settings())
    with caplog.at_level(logging.INFO, logger="auth_plugins"):
        job.renew(None, Script(ok(answer)))
    assert f"teamup: logged in as alice (first request); token {said}" in caplog.messages


def test_a_login_is_logged_with_why_it_was_needed(caplog: pytest.LogCaptureFixture) -> None:
    job = renewal(teamup_settings())
    with caplog.at_level(logging.INFO, logger="auth_plugins"):
        job.renew(Token("old"), Script(ok({"access_token": "t1"})))
        job.renew(job.token, Script(ok({"access_token": "t2"})), rejected=True)
    assert [m.split(";")[0] for m in caplog.messages] == [
        "teamup: logged in as alice (token expired)",
        "teamup: logged in as alice (token rejected)",
    ]


def test_a_password_login_keeps_the_auths_idle_window() -> None:
    job = renewal(up2money_settings(), idle_timeout=300.0)
    assert job.renew(None, Script(ok({"token": "t"}))).idle_timeout == 300.0


def test_a_login_past_its_deadline_names_the_login() -> None:
    clock = iter([0.0, 31.0])
    flow = password_login(
        TEAMUP, teamup_settings(), Deadline(30.0, clock=lambda: next(clock)), idle_timeout=None
    )
    with pytest.raises(LoginError, match=r"^TeamUp login did not finish within 30s in all"):
        drive(flow, Script())


def test_a_fleet_lock_lapses_after_the_logins_whole_deadline() -> None:
    """A holder killed mid-login delays the others by the login's time and a margin, not
    for ever (and never less than the login may take)."""

    expiries: list[Optional[float]] = []

    class LockExpiries(MemoryTokenStore):
        def lock(self, key: TokenKey, *, expiry: Optional[float] = None) -> Any:
            expiries.append(expiry)
            return super().lock(key, expiry=expiry)

    renewal(teamup_settings(), LockExpiries()).renew(None, Script(ok({"access_token": "t"})))
    assert expiries == [30.0 + LOCK_MARGIN]  # the helper's timeout=30
    assert LOCK_MARGIN > 0


# -- scope -------------------------------------------------------------------------------------


def test_a_request_without_a_url_gets_no_token() -> None:
    scope = Scope(TEAMUP, "https://t.example/api")
    assert scope.applies_to("https://t.example/api/customers")
    assert not scope.applies_to("")
    assert not scope.applies_to(None)


@pytest.mark.parametrize(
    "url", ["https://u@t.example/api/x", "https://u:p@t.example/api/x", "https://@t.example/api"]
)
def test_a_url_with_a_user_name_gets_no_token(url: str) -> None:
    """Parsers disagree on such URLs (``a@b@host``, ``user\\@host``): no guessing, no token,
    even when the host after the last ``@`` is the vendor's."""
    assert origin(url) == ("", "", None)
    assert not Scope(TEAMUP, "https://t.example/api").applies_to(url)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost.", True),
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("[::1]", True),
        ("::1", True),
        (".localhost", False),
        ("localhost..x", False),
        ("LOCALHOSTX", False),
        ("X127.0.0.1", False),
        ("[::2]", False),
        ("10.0.0.1", False),
        ("", False),
    ],
)
def test_which_hosts_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # A backslash only in the query is no second reading of the host.
        ("https://t.example/api?a=\\b?c", ("https", "t.example", 443)),
        ("https://bücher.example/", ("https", "xn--bcher-kva.example", 443)),
        ("https:///api", ("https", "", 443)),
        # Read two ways, or not at all: no origin, so no token.
        ("https://t.example\\@evil.example/api", ("", "", None)),
        ("https://t.example:99999/api", ("", "", None)),
        ("https://a\u200d.example/", ("", "", None)),
        ("https://aa\u3002\u3002b/", ("", "", None)),
    ],
)
def test_the_origin_of_a_url(url: str, expected: tuple[str, str, Optional[int]]) -> None:
    assert origin(url) == expected
