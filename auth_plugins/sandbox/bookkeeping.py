"""Thread-safe bookkeeping shared by both vendors: counters, scripted answers, rate limits.

Each class has its own lock so the HTTP handler threads and the test thread reading counters
never see a half-updated value.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from .messages import Response

__all__ = ["COUNTER_KINDS", "Counters", "RateLimiter", "ScriptedAnswers"]

#: What the sandbox counts, per vendor and user.
COUNTER_KINDS = ("logins", "login_attempts", "refreshes", "api_calls")


class Counters:
    """Counts events (one of :data:`COUNTER_KINDS`) per user."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[str]] = {kind: Counter() for kind in COUNTER_KINDS}

    def add(self, kind: str, user: str) -> None:
        """Count one event of ``kind`` for ``user`` (``""`` when no user could be told)."""
        with self._lock:
            self._counts[kind][user] += 1

    def count(self, kind: str, user: str | None = None) -> int:
        """Return the number of ``kind`` events: all users when ``user`` is None."""
        if kind not in self._counts:
            raise ValueError(f"unknown counter {kind!r}; expected one of {COUNTER_KINDS}")
        with self._lock:
            counts = self._counts[kind]
            return sum(counts.values()) if user is None else counts[user]

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Return ``{kind: {"total": n, "by_user": {user: n}}}`` for every kind."""
        with self._lock:
            return {
                kind: {"total": sum(counts.values()), "by_user": dict(counts)}
                for kind, counts in self._counts.items()
            }

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            for counts in self._counts.values():
                counts.clear()


@dataclass
class _Script:
    response: Response
    remaining: int


class ScriptedAnswers:
    """A queue of canned login answers, each served a given number of times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[_Script] = deque()

    def push(self, status: int, body: bytes, headers: Mapping[str, str] | None, count: int) -> None:
        """Queue ``status``/``body``/``headers`` for the next ``count`` calls."""
        if count < 1:
            raise ValueError("count must be at least 1")
        if not 200 <= status <= 599:
            # 1xx answers are not final responses, so a client would wait for another one.
            raise ValueError("status must be a final status code (200-599)")
        if body and status in (204, 304):
            # These statuses cannot carry a body: the client would read the bytes as the start
            # of the next response on the kept-alive connection.
            raise ValueError(f"a {status} answer cannot have a body")
        extra = [
            (name, value)
            for name, value in (headers or {}).items()
            # The server frames the body itself; a scripted length would break keep-alive.
            if name.lower() not in ("content-length", "transfer-encoding", "connection")
        ]
        with self._lock:
            self._queue.append(_Script(Response(status, bytes(body), extra), count))

    def pop(self) -> Response | None:
        """Take the next scripted answer, or None when none is queued."""
        with self._lock:
            if not self._queue:
                return None
            script = self._queue[0]
            script.remaining -= 1
            if script.remaining == 0:
                self._queue.popleft()
            # A copy, so a handler adding headers cannot change later answers.
            answer = script.response
            return Response(answer.status, answer.body, list(answer.headers))

    def pending(self) -> int:
        """Return how many scripted answers are still to be served."""
        with self._lock:
            return sum(script.remaining for script in self._queue)

    def reset(self) -> None:
        """Drop every queued answer."""
        with self._lock:
            self._queue.clear()


class RateLimiter:
    """Fixed one-minute windows per key (a user, a token or a client IP).

    A window opens at a key's first request and admits ``limit`` requests; the next request
    after that is refused until the window ends. Times come from ``time.monotonic()``.
    """

    WINDOW_SECONDS = 60.0
    # Forget finished windows once this many keys are kept, so a long-running sandbox hit by
    # many tokens does not grow without bound.
    _PRUNE_AT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[Hashable, tuple[float, int]] = {}

    def hit(self, key: Hashable, limit: int, now: float) -> tuple[bool, float]:
        """Count one request for ``key``.

        Returns ``(allowed, seconds_until_the_window_resets)``.
        """
        with self._lock:
            if len(self._windows) >= self._PRUNE_AT:
                self._windows = {
                    k: w for k, w in self._windows.items() if now - w[0] < self.WINDOW_SECONDS
                }
            start, used = self._windows.get(key, (now, 0))
            if now - start >= self.WINDOW_SECONDS:
                start, used = now, 0
            remaining = max(0.0, start + self.WINDOW_SECONDS - now)
            if used >= limit:
                self._windows[key] = (start, used)
                return False, remaining
            self._windows[key] = (start, used + 1)
            return True, remaining

    def reset(self) -> None:
        """Forget every window."""
        with self._lock:
            self._windows.clear()
