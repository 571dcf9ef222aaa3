"""Where tokens live between requests: this process's memory, files shared by processes.

Every store keeps tokens under a :class:`TokenKey` (vendor, base URL, user
name) and hands out one lock per key; see :class:`TokenStore` for what a store
of your own must offer. ``auth_plugins.stores.redis.RedisTokenStore`` shares
them between machines (the ``redis`` extra).

Names are imported on first use, as in the top-level package: HTTPie's
start-up with a cached token reads it through :mod:`.token_file` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

# Public name -> the module that defines it. RedisTokenStore lives in .redis,
# imported by whoever uses it: redis-py is an extra.
_EXPORTS = {
    "CACHE_DIR_ENV": "token_file",
    "CACHE_SWITCH_ENV": "token_file",
    "STORE_ENV": "token_file",
    "LOCK_TIMEOUT": "file",
    "FileTokenStore": "file",
    "Failure": "base",
    "FleetStore": "base",
    "KeyLocks": "base",
    "StoreUnavailableWarning": "base",
    "TokenKey": "base",
    "TokenStore": "base",
    "MemoryTokenStore": "memory",
    "token_store_from_env": "choose",
}

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


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

if TYPE_CHECKING:
    from .base import Failure, FleetStore, KeyLocks, StoreUnavailableWarning, TokenKey, TokenStore
    from .choose import token_store_from_env
    from .file import LOCK_TIMEOUT, FileTokenStore
    from .memory import MemoryTokenStore
    from .token_file import CACHE_DIR_ENV, CACHE_SWITCH_ENV, STORE_ENV
