"""What every token store offers: tokens under a key, and one lock per key.

A store holds :class:`~auth_plugins.core.tokens.Token` objects under a key made
of vendor, base URL and user name (never anything derived from a password) and
hands out one lock per key, so that renewing one user's token never waits on
another's.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import NamedTuple, Optional, Protocol

from ..core.tokens import Token


class TokenKey(NamedTuple):
    """What a stored token belongs to."""

    vendor: str
    base_url: str
    username: str

    def __str__(self) -> str:
        return f"{self.vendor} {self.username} at {self.base_url}"


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


class KeyLocks:
    """One re-entrant thread lock per key, made on first use."""

    def __init__(self) -> None:
        self._locks: dict[TokenKey, threading.RLock] = {}
        self._guard = threading.Lock()

    def __call__(self, key: TokenKey) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(key, threading.RLock())
