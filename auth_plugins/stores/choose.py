"""Which store a front end uses when nobody passed one: ``AUTH_PLUGINS_TOKEN_STORE``.

``AUTH_PLUGINS_TOKEN_STORE`` names the store for every auth in the process
that was built without ``token_store=``: HTTPie runs, the ``auth-plugins``
command, and ``TeamUpAuth(...)`` in Python. Its values:

- ``redis://[:password@]host:6379/0`` (also ``rediss://`` and ``unix://``):
  a :class:`~auth_plugins.stores.redis.RedisTokenStore`, one per URL and process;
- ``file``: the on-disk cache (:class:`~auth_plugins.stores.file.FileTokenStore`);
- ``memory``: this process's memory.

Unset, HTTPie and the command use the file cache (unless
``AUTH_PLUGINS_TOKEN_CACHE=off``) and Python auths each keep their own memory store.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Optional

from ..core.errors import ConfigError
from .base import TokenStore
from .memory import MemoryTokenStore
from .token_file import STORE_ENV, command_line_uses_files

#: URL schemes that name a Redis server.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

#: One Redis store (one connection pool) per URL in a process, however many auths use it.
_shared: dict[str, TokenStore] = {}
#: Memory stores shared by auths with the same credentials; each lives while an auth uses it.
_by_credentials: weakref.WeakValueDictionary[tuple[str, ...], TokenStore] = (
    weakref.WeakValueDictionary()
)
_shared_guard = threading.Lock()


def token_store_from_env() -> TokenStore:
    """The store HTTPie and the command line use: ``$AUTH_PLUGINS_TOKEN_STORE``, else on disk.

    Without ``AUTH_PLUGINS_TOKEN_STORE``, ``AUTH_PLUGINS_TOKEN_CACHE=off`` keeps
    tokens in memory only.
    """
    if command_line_uses_files():
        from .file import FileTokenStore

        return FileTokenStore()
    chosen = configured_store()
    return chosen if chosen is not None else MemoryTokenStore()


def default_store(credentials: Optional[tuple[str, ...]] = None) -> TokenStore:
    """The store of an auth built without ``token_store=``.

    The configured one; else a memory store shared by every auth object in this
    process with the same ``credentials`` (vendor, base URL, user and a keyed
    digest of the secrets; see ``Settings.sharing_key``), so that
    ``requests.get(url, auth=TeamUpAuth(...))`` per call logs in once, and never
    shares a token between different passwords. ``None`` credentials (a secret
    still to be asked for): a store of its own.
    """
    chosen = configured_store()
    if chosen is not None:
        return chosen
    if credentials is None:
        return MemoryTokenStore()
    with _shared_guard:
        store = _by_credentials.get(credentials)
        if store is None:
            store = _by_credentials[credentials] = MemoryTokenStore()
        return store


def configured_store() -> Optional[TokenStore]:
    """The store ``AUTH_PLUGINS_TOKEN_STORE`` names, ``None`` when it is not set."""
    spec = os.environ.get(STORE_ENV, "").strip()
    if not spec:
        return None
    if spec.lower().startswith(REDIS_SCHEMES):
        with _shared_guard:
            store = _shared.get(spec)
            if store is None:
                from .redis import RedisTokenStore

                store = _shared[spec] = RedisTokenStore(spec)
            return store
    if spec.lower() == "file":
        from .file import FileTokenStore

        return FileTokenStore()
    if spec.lower() == "memory":
        return MemoryTokenStore()
    raise ConfigError(
        f"{STORE_ENV} must be a redis://, rediss:// or unix:// URL, 'file' or 'memory', "
        f"not {_shown(spec)!r}"
    )


def _shown(spec: str) -> str:
    """``spec`` without a password it may hold, for messages."""
    head, sep, tail = spec.rpartition("@")
    return f"{head.split('//')[0]}//***@{tail}" if sep else spec[:60]
