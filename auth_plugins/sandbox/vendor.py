"""What both simulated vendors share: the state base class and the diagnostic endpoints.

``/echo`` and ``/redirect`` exist on both vendors for the project's own tests: echo shows the
exact bytes and headers a client sent, redirect lets a test check what a client does with its
credentials when it is sent elsewhere.
"""

from __future__ import annotations

import abc
import base64
import hashlib
import threading
from collections.abc import Iterable
from typing import Any, Callable, ClassVar

from .bookkeeping import Counters, RateLimiter, ScriptedAnswers
from .messages import Request, Response, json_response

__all__ = ["REDIRECT_STATUSES", "VendorState", "echo_payload", "mark_tokens", "redirect_response"]

#: Statuses ``/redirect?status=`` accepts.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class VendorState(abc.ABC):
    """One vendor's mutable state: counters, scripted answers, rate limits and tokens.

    Subclasses keep their tokens under ``self._lock`` and must never sleep while holding it.
    """

    #: The vendor's name as used by the control API (``"teamup"``, ``"up2money"``).
    name: ClassVar[str]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Per-user counts of logins, login attempts, refreshes and successful API calls.
        self.counters = Counters()
        #: Canned answers for the next login calls.
        self.scripts = ScriptedAnswers()
        #: Per-minute request windows.
        self.limiter = RateLimiter()

    @abc.abstractmethod
    def handle(self, request: Request) -> Response:
        """Answer a request whose path is below this vendor's prefix."""

    @abc.abstractmethod
    def revoke_tokens(self, user: str | None = None) -> int:
        """Make tokens (all, or one user's) answer 401 from now on; return how many."""

    @abc.abstractmethod
    def expire_tokens(self, user: str | None = None) -> int:
        """Make access tokens (all, or one user's) behave as expired; return how many."""

    @abc.abstractmethod
    def _clear_tokens(self) -> None:
        """Forget every token and login-flow record (called under no lock)."""

    def reset(self) -> None:
        """Put the state back to new; the config object is left as it is."""
        self.counters.reset()
        self.scripts.reset()
        self.limiter.reset()
        self._clear_tokens()


def mark_tokens(records: Iterable[Any], user: str | None, flag: str) -> int:
    """Set ``flag`` (``"revoked"`` or ``"expired"``) on live token records; return how many.

    Only ``user``'s records when given (names compare without regard to case);
    records already revoked, or already carrying the flag, are left alone.
    """
    wanted = None if user is None else user.strip().lower()
    count = 0
    for record in records:
        if wanted is not None and record.user != wanted:
            continue
        if record.revoked or getattr(record, flag):
            continue
        setattr(record, flag, True)
        count += 1
    return count


def echo_payload(request: Request, **extra: Any) -> dict[str, Any]:
    """Describe a request exactly as received, for ``/echo``.

    ``body_b64`` carries the exact bytes so a test can compare uploads byte for byte, even
    binary ones; ``extra`` adds the vendor's view of the caller (user, token type).
    """
    payload: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "query_string": request.query_string,
        "headers": dict(request.headers),
        "body_b64": base64.b64encode(request.body).decode("ascii"),
        "body_sha256": hashlib.sha256(request.body).hexdigest(),
        "body_length": len(request.body),
    }
    payload.update(extra)
    return payload


def redirect_response(request: Request, bad_request: Callable[[str, str], Response]) -> Response:
    """Answer ``/redirect?to=<url>&status=<3xx>`` with that redirect.

    ``bad_request(field, message)`` builds the vendor's own 400 answer for a bad parameter.
    """
    target = request.query_value("to")
    if not target:
        return bad_request("to", "This parameter is required.")
    if any(ch in target for ch in "\r\n\0"):
        # A header value with a line break would let a caller forge headers.
        return bad_request("to", "The target may not contain control characters.")
    raw_status = request.query_value("status") or "302"
    try:
        status = int(raw_status)
    except ValueError:
        status = 0
    if status not in REDIRECT_STATUSES:
        allowed = ", ".join(str(s) for s in sorted(REDIRECT_STATUSES))
        return bad_request("status", f"Must be one of {allowed}.")
    return json_response(status, {"location": target}, {"Location": target})
