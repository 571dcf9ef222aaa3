"""Where tokens live between requests: this process's memory, files shared by processes.

Every store keeps tokens under a :class:`TokenKey` (vendor, base URL, user
name) and hands out one lock per key; see :class:`TokenStore` for what a store
of your own must offer. ``auth_plugins.stores.redis.RedisTokenStore`` shares
them between machines (the ``redis`` extra).
"""

from __future__ import annotations

from .base import Failure, FleetStore, KeyLocks, StoreUnavailableWarning, TokenKey, TokenStore
from .choose import STORE_ENV, token_store_from_env
from .file import CACHE_DIR_ENV, CACHE_SWITCH_ENV, LOCK_TIMEOUT, FileTokenStore
from .memory import MemoryTokenStore

# RedisTokenStore lives in .redis, imported by whoever uses it: redis-py is an extra.

__all__ = [
    "CACHE_DIR_ENV",
    "CACHE_SWITCH_ENV",
    "LOCK_TIMEOUT",
    "STORE_ENV",
    "Failure",
    "FileTokenStore",
    "FleetStore",
    "KeyLocks",
    "MemoryTokenStore",
    "StoreUnavailableWarning",
    "TokenKey",
    "TokenStore",
    "token_store_from_env",
]
