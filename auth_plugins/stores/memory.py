"""Tokens in this process's memory: the default store."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Optional

from ..core.tokens import Token
from .base import KeyLocks, TokenKey


class MemoryTokenStore:
    """Tokens in this process's memory; the default, one per auth object.

    Pass one instance to several auth objects to let them share logins.
    """

    persistent = False

    def __init__(self) -> None:
        self._tokens: dict[TokenKey, Token] = {}
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

    def lock(self, key: TokenKey) -> AbstractContextManager[object]:
        """This key's thread lock."""
        return self._locks(key)

    def __repr__(self) -> str:
        return f"<MemoryTokenStore tokens={len(self._tokens)}>"
