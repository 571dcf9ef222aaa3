"""Where tokens live between requests: this process's memory, files shared by processes.

Every store keeps tokens under a :class:`TokenKey` (vendor, base URL, user
name) and hands out one lock per key; see :class:`TokenStore` for what a store
of your own must offer.
"""

from __future__ import annotations

from .base import KeyLocks, TokenKey, TokenStore
from .file import (
    CACHE_DIR_ENV,
    CACHE_SWITCH_ENV,
    LOCK_TIMEOUT,
    FileTokenStore,
    token_store_from_env,
)
from .memory import MemoryTokenStore

__all__ = [
    "CACHE_DIR_ENV",
    "CACHE_SWITCH_ENV",
    "LOCK_TIMEOUT",
    "FileTokenStore",
    "KeyLocks",
    "MemoryTokenStore",
    "TokenKey",
    "TokenStore",
    "token_store_from_env",
]
