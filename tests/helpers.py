"""Plain helpers the tests share (the fixtures are in conftest.py).

Imported as ``from helpers import ...``: pytest puts this folder on ``sys.path``
for the tests here (``tests/`` is not a package), as it does for ``fake_plugins``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any, Callable, Optional, Protocol

import requests

from auth_plugins import PasswordAuth, Token
from auth_plugins.sandbox import Sandbox
from auth_plugins.stores.base import TokenKey

#: Seconds a test waits for its worker threads, all together: far more than any needs.
THREAD_TIMEOUT = 60.0


class VendorAuth(Protocol):
    """The ``vendor_auth`` fixture: an auth for the sandbox's ``"teamup"`` or ``"up2money"``."""

    def __call__(self, vendor: str, **overrides: Any) -> PasswordAuth: ...


def vendor_url(sandbox: Sandbox, vendor: str) -> str:
    """The sandbox's base URL for ``vendor`` (``"teamup"`` or ``"up2money"``)."""
    return sandbox.teamup_url if vendor == "teamup" else sandbox.up2money_url


def session_with(auth: PasswordAuth) -> requests.Session:
    """A new requests session that sends every request through ``auth``."""
    session = requests.Session()
    session.auth = auth
    return session


# -- time, without sleeping ------------------------------------------------------------------


def age_token(auth: PasswordAuth, seconds: float) -> Token:
    """Make the auth's token ``seconds`` older, as if that much time had passed since its login.

    Every time the token holds (issue, expiry, last use) moves ``seconds`` into the
    past; the vendor's copy is untouched, so the token still works on the server
    and only the client's own judgement of it changes. The aged copy goes back
    through the auth's public store API and the auth forgets the one it holds,
    so the next request reads the store (as a new process sharing it would) and
    renews before sending when the token is due. Returns the aged token.
    """
    token = auth.token
    assert token is not None, "age_token needs an auth that has logged in"

    def earlier(when: float | None) -> float | None:
        return None if when is None else when - seconds

    aged = dataclasses.replace(
        token,
        issued_at=token.issued_at - seconds,
        expires_at=earlier(token.expires_at),
        last_used=earlier(token.last_used),
        extra=dict(token.extra),
    )
    auth.forget_token()
    auth.token_store.save(auth.key, aged)
    return aged


class KeepsNothingStore:
    """A token store that keeps nothing (read-only, or failing quietly): memory is all there is."""

    persistent = False

    def load(self, key: TokenKey) -> Optional[Token]:
        return None

    def save(self, key: TokenKey, token: Token) -> None:
        pass

    def delete(self, key: TokenKey) -> None:
        pass

    def lock(self, key: TokenKey) -> Any:
        return nullcontext()


# -- threads ---------------------------------------------------------------------------------


class Workers:
    """A test's worker threads: each one's exception is kept, and :meth:`join` is bounded.

    ``join`` fails the test when a thread is still running after the wait, or
    when one raised (the first exception is chained to the failure). Threads
    are daemons, so a hung one cannot keep the test process alive.
    """

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def start(self, target: Callable[..., object], *args: Any) -> threading.Thread:
        """Run ``target(*args)`` on a new thread; returns the (started) thread."""

        def guarded() -> None:
            try:
                target(*args)
            except BaseException as exc:  # reported by join(), in the test's own thread
                with self._lock:
                    self.errors.append(exc)

        name = f"worker-{len(self.threads)}:{getattr(target, '__name__', 'work')}"
        thread = threading.Thread(target=guarded, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def join(self, timeout: float = THREAD_TIMEOUT) -> None:
        """Wait (``timeout`` seconds in all) for every thread; fail on a hung or failed one."""
        join_all(self.threads, timeout)
        with self._lock:
            errors = list(self.errors)
        if errors:
            raise AssertionError(
                f"{len(errors)} of {len(self.threads)} worker threads raised; "
                f"the first: {errors[0]!r}"
            ) from errors[0]


def join_all(threads: Iterable[threading.Thread], timeout: float = THREAD_TIMEOUT) -> None:
    """Join ``threads`` within ``timeout`` seconds in all; fail if one is still running."""
    threads = list(threads)
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))
    alive = [thread.name for thread in threads if thread.is_alive()]
    assert not alive, f"threads still running after {timeout:g}s: {alive}"


def run_threads(count: int, work: Callable[[], object], timeout: float = THREAD_TIMEOUT) -> None:
    """Run ``work`` on ``count`` threads at once; fail if one hangs or raises."""
    workers = Workers()
    for _ in range(count):
        workers.start(work)
    workers.join(timeout)
