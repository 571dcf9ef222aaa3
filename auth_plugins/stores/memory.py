"""Tokens in this process's memory: the default store."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Optional

from ..core.tokens import Token
from .base import Failure, KeyLocks, TokenKey


class MemoryTokenStore:
    """Tokens in this process's memory; the default, one per auth object.

    Pass one instance to several auth objects to let them share logins (and
    refused logins: a wrong password is sent once between them).
    """

    persistent = False

    def __init__(self) -> None:
        self._tokens: dict[TokenKey, Token] = {}
        self._failures: dict[TokenKey, Failure] = {}
        #: key -> (window number, attempts in it)
        self._attempts: dict[TokenKey, tuple[int, int]] = {}
        self._locks = KeyLocks()

    def load(self, key: TokenKey) -> Optional[Token]:
        """The stored token, or ``None``."""
        return self._tokens.get(key)

    def save(self, key: TokenKey, token: Token) -> None:
        """Keep ``token`` under ``key``."""
        self._tokens[key] = token

    def delete(self, key: TokenKey) -> None:
        """Forget the token under ``key``."""
        self._tokens.pop(key, None)

    def lock(
        self, key: TokenKey, *, expiry: Optional[float] = None
    ) -> AbstractContextManager[object]:
        """This key's thread lock (``expiry`` is for shared stores: a thread cannot vanish)."""
        return self._locks(key)

    def load_failure(self, key: TokenKey) -> Optional[Failure]:
        """The refused login remembered for ``key``, while it lasts."""
        failure = self._failures.get(key)
        if failure is not None and failure.until <= time.time():
            self._failures.pop(key, None)
            return None
        return failure

    def save_failure(self, key: TokenKey, failure: Failure) -> None:
        """Remember ``failure`` for ``key``."""
        self._failures[key] = failure

    def clear_failure(self, key: TokenKey) -> None:
        """Forget the refused login of ``key``."""
        self._failures.pop(key, None)

    def count_attempt(self, key: TokenKey, window: float, now: float) -> int:
        """Count a login attempt in the current window; returns the window's count."""
        number = int(now // window)
        seen, count = self._attempts.get(key, (number, 0))
        count = count + 1 if seen == number else 1
        self._attempts[key] = (number, count)
        return count

    def __repr__(self) -> str:
        return f"<MemoryTokenStore tokens={len(self._tokens)}>"
