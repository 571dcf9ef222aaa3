"""Refused logins remembered in the store: one attempt per password, rate limits for all.

In one process, with the memory and file stores (the Redis store and many
processes are in test_fleet.py).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
from helpers import join_all, run_threads

from auth_plugins import (
    AccountLocked,
    FileTokenStore,
    InvalidCredentials,
    LoginError,
    MemoryTokenStore,
    RateLimited,
    TeamUpAuth,
    Up2MoneyAuth,
)
from auth_plugins.core import failures
from auth_plugins.sandbox import DEMO_UP2MONEY_PASSWORD, Sandbox
from auth_plugins.stores import Failure

WRONG = "tok_not-the-password"


def call(auth: Any, url: str) -> int:
    return requests.get(url, auth=auth, timeout=30).status_code


# -- the fingerprint -----------------------------------------------------------------------


def test_the_fingerprint_is_stable_short_and_tells_passwords_apart() -> None:
    salt = bytes(range(16))  # fixed: the figures below are the same on every run
    one = failures.fingerprint(b"alice\0password=hunter2", salt)
    assert one == failures.fingerprint(b"alice\0password=hunter2", salt)
    assert 0 <= one < 2**16  # short on purpose: a dictionary leaves thousands of candidates
    others = [failures.fingerprint(b"alice\0password=hunter%d" % i, salt) for i in range(3, 40)]
    # A clash is possible by design (1 in 65,536 a pair) but rare.
    assert one not in others
    assert len(set(others)) >= 35
    # Another salt, another fingerprint for the same password (almost always).
    salts = [bytes.fromhex(failures.new_salt()) for _ in range(8)]
    assert len({failures.fingerprint(b"alice\0password=hunter2", s) for s in salts}) > 4


def test_the_record_holds_no_password_or_secret(
    sandbox: Sandbox, up2money_auth: Callable[..., Up2MoneyAuth], tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path)
    with pytest.raises(InvalidCredentials):
        up2money_auth(password=WRONG, token_store=store).get_token()
    [record] = tmp_path.glob("*.failure")
    text = record.read_text()
    assert WRONG not in text
    assert "sandbox-secret" not in text
    assert oct(record.stat().st_mode & 0o777) == "0o600"


# -- one attempt per password --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_a_wrong_password_is_sent_once_by_auths_sharing_a_store(
    sandbox: Sandbox, up2money_auth: Callable[..., Up2MoneyAuth], tmp_path: Path, kind: str
) -> None:
    store = MemoryTokenStore() if kind == "memory" else FileTokenStore(tmp_path)
    url = sandbox.up2money_url + "/managed_accounts"
    for _ in range(8):
        with pytest.raises(InvalidCredentials) as caught:
            call(up2money_auth(password=WRONG, token_store=store), url)
    assert sandbox.login_attempts("up2money") == 1
    assert caught.value.remembered
    assert "auth.reset()" in str(caught.value)
    # The right password is tried at once, and clears the record.
    assert call(up2money_auth(token_store=store), url) == 200
    assert sandbox.login_attempts("up2money") == 2
    assert store.load_failure(up2money_auth(token_store=store).key) is None


def test_reset_clears_the_record_and_a_lapsed_record_holds_nothing(
    sandbox: Sandbox, up2money_auth: Callable[..., Up2MoneyAuth]
) -> None:
    store = MemoryTokenStore()
    auth = up2money_auth(password=WRONG, token_store=store)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            auth.get_token()
    assert sandbox.login_attempts("up2money") == 1
    auth.reset(password=DEMO_UP2MONEY_PASSWORD)
    assert auth.get_token()
    # A record whose time is up is ignored.
    store.save_failure(auth.key, Failure("rate_limited", 1.0, "old"))
    auth.forget_token()
    assert auth.get_token()
    assert sandbox.login_attempts("up2money") == 3


def test_a_locked_account_is_left_alone_whatever_the_password(
    sandbox: Sandbox, up2money_auth: Callable[..., Up2MoneyAuth]
) -> None:
    store = MemoryTokenStore()
    sandbox.script_login("up2money", 423, b'{"message": "Locked"}', {"Retry-After": "600"})
    with pytest.raises(AccountLocked):
        up2money_auth(token_store=store).get_token()
    with pytest.raises(AccountLocked, match="Not retried before") as caught:
        up2money_auth(password="tok_another", token_store=store).get_token()
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 600
    assert sandbox.login_attempts("up2money") == 1


# -- rate limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_64_threads_against_a_login_that_answers_wait(
    sandbox: Sandbox, teamup_auth: Callable[..., TeamUpAuth], status: int
) -> None:
    body = b'{"message": "busy"}'
    sandbox.script_login("teamup", status, body, {"Retry-After": "60"}, count=500)
    auth = teamup_auth()
    url = sandbox.teamup_url + "/customers"
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            call(auth, url)
        except LoginError as exc:
            with lock:
                errors.append(exc)

    run_threads(64, work)
    assert len(errors) == 64
    assert all(isinstance(exc, RateLimited) for exc in errors)
    # One attempt per Retry-After window (of 60 s: this test takes far less).
    assert sandbox.login_attempts("teamup") == 1


class AlwaysUnauthorized(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api_401() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AlwaysUnauthorized)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    join_all([thread], timeout=10)


def test_an_api_that_always_answers_401_gets_a_bounded_number_of_logins(
    sandbox: Sandbox, up2money_auth: Callable[..., Up2MoneyAuth], api_401: str
) -> None:
    auth = up2money_auth(allowed_hosts=[api_401])
    results: list[object] = []
    for _ in range(20):
        try:
            results.append(call(auth, api_401 + "/anything"))
        except RateLimited as exc:
            results.append(exc)
    assert sandbox.login_attempts("up2money") == failures.LOGINS_PER_WINDOW
    assert results[:10] == [401] * 10
    assert all(isinstance(result, RateLimited) for result in results[10:])


# -- a full disk ---------------------------------------------------------------------------


def test_a_full_disk_keeps_the_token_in_memory(
    sandbox: Sandbox,
    teamup_auth: Callable[..., TeamUpAuth],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = FileTokenStore(tmp_path)
    auth = teamup_auth(token_store=store)
    with store.lock(auth.key):  # the lock file exists before the disk fills up
        pass

    def full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        statuses = [call(auth, sandbox.teamup_url + "/customers") for _ in range(5)]
    assert statuses == [200] * 5
    assert sandbox.login_attempts("teamup") == 1
    assert [str(w.message) for w in caught if "could not save" in str(w.message)] != []
    assert len([w for w in caught if "could not save" in str(w.message)]) == 1
