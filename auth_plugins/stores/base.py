"""What every token store offers: tokens under a key, one lock per key, remembered failures.

A store holds :class:`~auth_plugins.core.tokens.Token` objects under a key made
of vendor, base URL and user name (never anything derived from a password) and
hands out one lock per key, so that renewing one user's token never waits on
another's. The built-in stores also keep, per key, the last refused login
(:class:`Failure`) and a count of recent login attempts (:class:`FleetStore`),
so that every process sharing the store holds back together.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Optional, Protocol, cast, runtime_checkable

from ..core.record import Record
from ..core.tokens import Token

#: What a :class:`Failure` can be.
FAILURE_KINDS = ("invalid_credentials", "account_locked", "rate_limited")


class TokenKey(NamedTuple):
    """What a stored token belongs to."""

    vendor: str
    base_url: str
    username: str

    def __str__(self) -> str:
        return f"{self.vendor} {self.username} at {self.base_url}"


class StoreUnavailableWarning(UserWarning):
    """A shared store (Redis) cannot be reached: this process works on its own for now."""


class Failure(Record):
    """A refused login, remembered so that no process sharing the store repeats it early.

    ``until`` is wall-clock time (``time.time()``). ``fingerprint`` and ``salt``
    (``invalid_credentials`` only) tell the credentials that failed apart from
    corrected ones without revealing them: see :mod:`auth_plugins.core.failures`.
    ``message`` is the error's summary, which never holds a secret.
    """

    kind: str
    until: float
    message: str
    status: Optional[int] = None
    code: Optional[str] = None
    retry_after: Optional[float] = None
    fingerprint: Optional[int] = None
    salt: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {name: getattr(self, name) for name in self._fields}

    @classmethod
    def from_dict(cls, data: Any) -> Failure:
        """Rebuild from :meth:`to_dict`; ``ValueError`` for anything else."""
        if not isinstance(data, dict) or data.get("kind") not in FAILURE_KINDS:
            raise ValueError("not a failure record")
        until, message = data.get("until"), data.get("message")
        if not isinstance(until, (int, float)) or not _real(until) or not isinstance(message, str):
            raise ValueError("not a failure record")

        def typed(name: str, kind: type) -> Any:
            value = data.get(name)
            return value if isinstance(value, kind) and not isinstance(value, bool) else None

        retry_after = data.get("retry_after")
        return cls(
            kind=data["kind"],
            until=float(until),
            message=message,
            status=typed("status", int),
            code=typed("code", str),
            retry_after=float(retry_after) if isinstance(retry_after, (int, float)) else None,
            fingerprint=typed("fingerprint", int),
            salt=typed("salt", str),
        )


def _real(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


class TokenStore(Protocol):
    """What the auth needs of a token store."""

    #: True when tokens outlive the process (the auth then saves last-use times too).
    persistent: bool

    def load(self, key: TokenKey) -> Optional[Token]:
        """The stored token, or ``None``."""

    def save(self, key: TokenKey, token: Token) -> None:
        """Store ``token`` under ``key``, replacing what was there."""

    def delete(self, key: TokenKey) -> None:
        """Forget the token under ``key``, if any."""

    def lock(self, key: TokenKey) -> AbstractContextManager[object]:
        """A lock held while a token for ``key`` is checked and renewed."""


@runtime_checkable
class FleetStore(TokenStore, Protocol):
    """A store that also shares refused logins and login counts (every built-in store).

    A store of your own written to :class:`TokenStore` alone still works: its
    auths then remember failures in their own process only.
    """

    def lock(
        self, key: TokenKey, *, expiry: Optional[float] = None
    ) -> AbstractContextManager[object]:
        """The key's lock; a lock other machines share lapses after ``expiry`` seconds."""

    def load_failure(self, key: TokenKey) -> Optional[Failure]:
        """The refused login remembered for ``key`` (``None`` once its ``until`` passed)."""

    def save_failure(self, key: TokenKey, failure: Failure) -> None:
        """Remember ``failure`` for ``key`` until ``failure.until``."""

    def clear_failure(self, key: TokenKey) -> None:
        """Forget the refused login of ``key``, if any."""

    def count_attempt(self, key: TokenKey, window: float, now: float) -> int:
        """Count one login attempt; returns the attempts in the ``window`` now runs in.

        Windows are fixed slices of wall-clock time (``now // window``), so
        that processes and machines agree on them without talking. Called with
        the key's lock held.
        """


def as_fleet_store(store: TokenStore) -> Optional[FleetStore]:
    """``store`` if it is a :class:`FleetStore`, else ``None``.

    ``isinstance(store, FleetStore)`` without the protocol check's cost: before
    Python 3.12 that looks up every member on each call, which costs more than
    reading a cached token; this looks up the four methods only a fleet store has.
    """
    if all(callable(getattr(store, name, None)) for name in _FLEET_METHODS):
        return cast("FleetStore", store)
    return None


_FLEET_METHODS = ("load_failure", "save_failure", "clear_failure", "count_attempt")


class KeyLocks:
    """One re-entrant thread lock per key, made on first use."""

    def __init__(self) -> None:
        self._locks: dict[TokenKey, threading.RLock] = {}
        self._guard = threading.Lock()
        #: How deep each key's lock is held (read and written only by its holder).
        self._depth: dict[TokenKey, int] = {}

    def __call__(self, key: TokenKey) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(key, threading.RLock())

    @contextlib.contextmanager
    def held(self, key: TokenKey) -> Iterator[bool]:
        """Hold ``key``'s thread lock; yields True for the holder's outermost entry.

        A store takes its cross-process lock (a lock file, a Redis lock) only
        then: taken again by the thread that holds it, it would wait for itself.
        """
        with self(key):
            depth = self._depth.get(key, 0)
            self._depth[key] = depth + 1
            try:
                yield depth == 0
            finally:
                self._depth[key] = depth

    def __reduce__(self) -> tuple[type[KeyLocks], tuple[()]]:
        # Locks belong to one process: a copy (pickled to a worker, deep-copied) gets its own.
        return (KeyLocks, ())
