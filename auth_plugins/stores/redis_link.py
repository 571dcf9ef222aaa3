"""The connection to Redis of one store: outages, back-off, and the login lock.

redis-py is imported here, when a store is built, never at package import.
Every Redis call goes through :meth:`RedisLink.run`, which turns a Redis
failure into the caller's fallback (this process's memory), warns once per
outage and leaves Redis alone for ``retry_interval`` seconds before trying
again, so that a dead server costs no connection attempt per request.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from typing import Any, Callable, Optional, TypeVar, Union
from urllib.parse import urlsplit, urlunsplit

from ..core.errors import AuthPluginError, ConfigError
from .base import StoreUnavailableWarning

logger = logging.getLogger("auth_plugins")

#: Seconds to wait for a TCP connection to Redis, and for any one answer: a
#: Redis that does not answer must not hold a request for long.
CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 5.0
#: How long a process waits for another one's login lock at most; a holder
#: keeps it no longer than its expiry, so this is only reached under contention.
LOCK_WAIT = 120.0
#: How often a waiting process asks again whether the lock is free.
LOCK_POLL = 0.05

T = TypeVar("T")


class RedisLink:
    """A Redis client with outage handling, shared by one store's calls."""

    def __init__(self, client: Union[str, Any], retry_interval: float) -> None:
        try:
            import redis
        except ImportError:
            raise ConfigError(
                "RedisTokenStore needs redis-py: pip install 'auth-plugins[redis]'"
            ) from None
        if isinstance(client, str):
            self.where = _without_password(client)
            try:
                client = redis.Redis.from_url(
                    client, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT
                )
            except ValueError as exc:
                raise ConfigError(f"cannot use the Redis URL {self.where}: {exc}") from None
        else:
            self.where = repr(client)
        self.client = client
        self.retry_interval = retry_interval
        # ConnectionError, TimeoutError, ResponseError (a read-only replica, OOM)...
        # all mean "work without Redis for now"; OSError covers sockets torn mid-way.
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._lock_error: type[BaseException] = redis.exceptions.LockError
        self._not_owned: type[BaseException] = redis.exceptions.LockNotOwnedError
        self._state = threading.Lock()
        #: time.monotonic() before which Redis is not tried (0: it is up).
        self._down_until = 0.0
        self._in_outage = False

    def run(
        self, call: Callable[[Any], T], fallback: Callable[[], T], *, retry_now: bool = False
    ) -> T:
        """``call(client)``; ``fallback()`` when Redis fails or failed less than a back-off ago."""
        if not retry_now and time.monotonic() < self._down_until:
            return fallback()
        try:
            result = call(self.client)
        except self._errors as exc:
            self.failed(exc)
            return fallback()
        self._recovered()
        return result

    def failed(self, exc: BaseException) -> None:
        """Redis failed: work from memory for a while; warn at the start of an outage only."""
        with self._state:
            self._down_until = time.monotonic() + self.retry_interval
            first = not self._in_outage
            self._in_outage = True
        if first:
            warnings.warn(
                f"auth-plugins: the token store {self.where} is unreachable "
                f"({type(exc).__name__}: {str(exc)[:200]}); this process keeps its tokens in "
                f"memory and logs in on its own, and tries Redis again every "
                f"{self.retry_interval:g}s",
                StoreUnavailableWarning,
                stacklevel=4,
            )

    def _recovered(self) -> None:
        if self._in_outage:
            with self._state:
                was, self._in_outage, self._down_until = self._in_outage, False, 0.0
            if was:
                logger.warning("auth-plugins: the token store %s is reachable again", self.where)

    def acquire(self, name: str, expiry: float) -> Optional[Any]:
        """Take the Redis lock ``name`` (lapsing after ``expiry`` s); ``None`` with Redis away."""
        if time.monotonic() < self._down_until:
            return None
        # A fresh Lock object per use: its owner value (a random token) belongs
        # to this acquisition only, and release() deletes the key only while it
        # still holds that value (a Lua compare-and-delete).
        lock = self.client.lock(
            name,
            timeout=expiry,
            sleep=LOCK_POLL,
            blocking_timeout=max(LOCK_WAIT, 3 * expiry),
            thread_local=False,
        )
        try:
            acquired = lock.acquire()
        except self._errors as exc:
            self.failed(exc)
            return None
        if not acquired:
            raise AuthPluginError(
                f"waited {max(LOCK_WAIT, 3 * expiry):.0f}s for the login lock {name} in "
                f"{self.where}: other processes keep logging in with it"
            )
        self._recovered()
        return lock

    def release(self, lock: Any, what: str) -> None:
        """Let go of a lock from :meth:`acquire`; never someone else's."""
        try:
            lock.release()
        except self._not_owned:
            # Our lock lapsed (the login outlived its expiry) and, perhaps, another
            # process holds the key now: redis-py refused to delete it, as it should.
            logger.warning(
                "auth-plugins: the login lock for %s lapsed before this process let go of it; "
                "another process may have logged in as well",
                what,
            )
        except self._lock_error:
            pass
        except self._errors as exc:
            # The key lapses on its own; the outage is noted for the calls that follow.
            self.failed(exc)


def _without_password(url: str) -> str:
    """``url`` fit for a message or a repr: the password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
    except ValueError:
        return "a Redis URL that cannot be read"
