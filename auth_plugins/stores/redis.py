"""Tokens in Redis, shared by every process on every machine of a fleet.

``RedisTokenStore("redis://host:6379/0")`` (needs the ``redis`` extra). What
it keeps, under ``prefix`` (``auth-plugins:``)::

    {prefix}token:{vendor}:{hash}       the token as JSON; TTL a little past its life
    {prefix}lock:{vendor}:{hash}        the login lock (redis-py Lock: owner token, expiry)
    {prefix}failure:{vendor}:{hash}     a refused login; TTL until it no longer holds back
    {prefix}attempts:{vendor}:{hash}:N  login attempts in minute N (INCR + EXPIRE)

``hash`` is made of vendor, base URL and user name: never of a password. When
Redis cannot be reached or fails, the store warns once, keeps working from
this process's memory (each process then logs in on its own) and tries Redis
again after :data:`RETRY_INTERVAL` seconds, not on every request.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import warnings
from collections.abc import Iterator
from functools import partial
from typing import Any, Callable, Optional, TypeVar, Union

from ..core.errors import AuthPluginError
from ..core.tokens import Token
from .base import Failure, KeyLocks, TokenKey
from .memory import MemoryTokenStore
from .redis_link import RedisLink

#: Seconds a stored token outlives its own expiry (clock skew between machines, a late reader).
TTL_MARGIN = 60.0
#: A lock taken with no ``expiry`` (a renewal names its own deadline) lapses after this.
DEFAULT_LOCK_EXPIRY = 35.0
#: Seconds between tries while Redis is unreachable.
RETRY_INTERVAL = 5.0

T = TypeVar("T")


class RedisTokenStore:
    """Tokens, login locks and refused logins in Redis, for a fleet of processes.

    :param client: a ``redis://``/``rediss://`` URL (password and database in
        it), or a ``redis.Redis`` client of your own (its settings are kept).
    :param prefix: what every key starts with.
    :param retry_interval: seconds to work from memory after Redis failed.
    """

    persistent = True

    def __init__(
        self,
        client: Union[str, Any],
        *,
        prefix: str = "auth-plugins:",
        retry_interval: float = RETRY_INTERVAL,
    ) -> None:
        self.prefix = prefix
        #: The URL it was built from (``None``: a client was passed), to rebuild it when unpickled.
        self._url = client if isinstance(client, str) else None
        self._link = RedisLink(client, retry_interval)
        #: What this process works from while Redis is away.
        self._fallback = MemoryTokenStore()
        self._thread_locks = KeyLocks()

    def __reduce__(self) -> tuple[Any, ...]:
        # A client holds sockets and locks: a copy (a worker process, deepcopy)
        # makes its own client from the same URL and so shares the same Redis.
        if self._url is None:
            raise TypeError(
                "a RedisTokenStore built on a client cannot be pickled or copied; "
                "build it from a URL: RedisTokenStore('redis://host:6379/0')"
            )
        return (_rebuilt, (self._url, self.prefix, self._link.retry_interval))

    @property
    def client(self) -> Any:
        """The ``redis.Redis`` client."""
        return self._link.client

    # -- the store protocol -------------------------------------------------

    def load(self, key: TokenKey) -> Optional[Token]:
        """The stored token, or ``None``."""
        raw = self._run(partial(_get, self._name("token", key)), lambda: _MISSING)
        if raw is _MISSING:
            return self._fallback.load(key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("key") != list(key):
                raise ValueError("it is not this key's token")
            return Token.from_dict(data.get("token"))
        except ValueError as exc:
            warnings.warn(
                f"auth-plugins: ignoring the token in Redis for {key} ({exc})", stacklevel=2
            )
            return None

    def save(self, key: TokenKey, token: Token) -> None:
        """Store the token with a TTL a little past its life (none when it states none)."""
        self._fallback.save(key, token)
        payload = json.dumps({"key": list(key), "token": token.to_dict()})
        left = token.expires_in()
        ttl = None if left is None else max(int((max(left, 0.0) + TTL_MARGIN) * 1000), 1)
        self._run(lambda r: r.set(self._name("token", key), payload, px=ttl), lambda: None)

    def delete(self, key: TokenKey) -> None:
        """Forget the token under ``key``."""
        self._fallback.delete(key)
        self._run(lambda r: r.delete(self._name("token", key)), lambda: None)

    @contextlib.contextmanager
    def lock(self, key: TokenKey, *, expiry: Optional[float] = None) -> Iterator[object]:
        """This key's lock among threads, then among processes and machines.

        The Redis lock lapses after ``expiry`` seconds (a renewal passes its
        login's deadline), so a holder killed mid-login delays the others by
        at most that. Its owner value means a holder whose lock lapsed cannot
        release the lock another process took since. With Redis away, only
        the thread lock is held: each process logs in on its own.
        """
        with self._thread_locks.held(key) as outermost:
            if not outermost:
                yield self
                return
            held = self._link.acquire(self._name("lock", key), expiry or DEFAULT_LOCK_EXPIRY)
            try:
                yield self
            finally:
                if held is not None:
                    self._link.release(held, str(key))

    def load_failure(self, key: TokenKey) -> Optional[Failure]:
        """The refused login remembered for ``key``, while its TTL lasts."""
        raw = self._run(partial(_get, self._name("failure", key)), lambda: _MISSING)
        if raw is _MISSING:
            return self._fallback.load_failure(key)
        try:
            failure = Failure.from_dict(json.loads(raw)) if raw is not None else None
        except ValueError:
            return None
        return failure if failure is not None and failure.until > time.time() else None

    def save_failure(self, key: TokenKey, failure: Failure) -> None:
        """Remember ``failure`` with a TTL that ends at ``failure.until``."""
        self._fallback.save_failure(key, failure)
        ttl = int((failure.until - time.time()) * 1000)
        if ttl > 0:
            payload = json.dumps(failure.to_dict())
            self._run(lambda r: r.set(self._name("failure", key), payload, px=ttl), lambda: None)

    def clear_failure(self, key: TokenKey) -> None:
        """Forget the refused login of ``key``."""
        self._fallback.clear_failure(key)
        self._run(lambda r: r.delete(self._name("failure", key)), lambda: None)

    def count_attempt(self, key: TokenKey, window: float, now: float) -> int:
        """INCR this window's counter; it expires two windows on (a key per window)."""
        name = f"{self._name('attempts', key)}:{int(now // window)}"

        def count(r: Any) -> int:
            pipe = r.pipeline(transaction=True)
            pipe.incr(name)
            pipe.expire(name, max(int(window * 2), 1))
            return int(pipe.execute()[0])

        return self._run(count, lambda: self._fallback.count_attempt(key, window, now))

    # -- beyond the protocol: listing and logout ----------------------------

    def keys(self) -> list[TokenKey]:
        """The keys of every stored token (SCAN, never KEYS: a big Redis is not blocked)."""
        found: list[TokenKey] = []
        for name in self._scan(self._pattern("token", None)):
            raw: Any = self._strict(partial(_get, name))
            with contextlib.suppress(ValueError, TypeError, AttributeError, KeyError):
                found.append(TokenKey(*json.loads(raw)["key"]))
        return sorted(found)

    def clear(self, vendor: Optional[str] = None) -> int:
        """Delete tokens, refused logins and login counts (one vendor's, or all).

        Returns how many tokens. Locks stay: another process may hold one.
        """
        removed = 0
        for kind in ("token", "failure", "attempts"):
            names = list(self._scan(self._pattern(kind, vendor)))
            for start in range(0, len(names), 500):
                batch = names[start : start + 500]
                deleted = int(self._strict(partial(_delete, batch)))
                removed += deleted if kind == "token" else 0
        self._fallback = MemoryTokenStore()
        return removed

    # -- helpers ------------------------------------------------------------

    def _name(self, kind: str, key: TokenKey) -> str:
        digest = hashlib.sha256("\n".join(key).encode()).hexdigest()[:32]
        return f"{self.prefix}{kind}:{key.vendor}:{digest}"

    def _pattern(self, kind: str, vendor: Optional[str]) -> str:
        head = _glob_escape(f"{self.prefix}{kind}:")
        return f"{head}{_glob_escape(vendor)}:*" if vendor is not None else f"{head}*"

    def _scan(self, pattern: str) -> Iterator[Any]:
        return iter(self._strict(lambda r: list(r.scan_iter(match=pattern, count=500))))

    def _run(self, call: Callable[[Any], T], fallback: Callable[[], T]) -> T:
        """``call(client)``, or ``fallback()`` while Redis is away (one warning per outage)."""
        return self._link.run(call, fallback)

    def _strict(self, call: Callable[[Any], T]) -> T:
        """``call(client)`` for the command line: Redis away is an error, not a fallback."""

        def unreachable() -> T:
            raise AuthPluginError(
                f"cannot reach the token store {self._link.where} "
                f"(set in AUTH_PLUGINS_TOKEN_STORE); is Redis running?"
            )

        return self._link.run(call, unreachable, retry_now=True)

    def __repr__(self) -> str:
        return f"<RedisTokenStore {self._link.where} prefix={self.prefix!r}>"


#: "Redis did not answer", told apart from "no such key" (None).
_MISSING: Any = object()


def _rebuilt(url: str, prefix: str, retry_interval: float) -> RedisTokenStore:
    return RedisTokenStore(url, prefix=prefix, retry_interval=retry_interval)


def _get(name: Any, client: Any) -> Any:
    """GET; a key holding another type (a hash another tool wrote) reads as absent."""
    from redis.exceptions import ResponseError  # redis is loaded: this store uses it

    try:
        return client.get(name)
    except ResponseError as exc:
        if str(exc).startswith("WRONGTYPE"):
            return None  # bad data, not an outage: no back-off, no failed command
        raise


def _delete(names: list[Any], client: Any) -> int:
    return int(client.delete(*names))


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
