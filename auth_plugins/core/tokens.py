"""The token object: what a login returns, kept apart from the auth that uses it."""

from __future__ import annotations

import math
import time
from typing import Any, Optional

from .record import Record, field

#: The longest token read back from a store (the longest a login accepts, too).
MAX_STORED_TOKEN = 16 * 1024
#: Renew this many seconds before expiry (clamped to a share of the token's life).
DEFAULT_LEEWAY = 30.0
#: The leeway never exceeds this share of a token's life (or idle window), so a
#: short-lived token is not treated as expired from the moment it is issued.
MAX_LEEWAY_SHARE = 0.25


class Token(Record, frozen=False):
    """An access token and what is known of its life.

    Times are wall-clock seconds (``time.time()``) so that a token stored on disk
    by one process means the same to the next one.

    ``expires_at`` is a fixed end of life (``None``: unknown, rely on the
    vendor's 401/410). ``idle_timeout`` is a sliding window instead: the token
    dies that many seconds after its ``last_used``.
    """

    access_token: str
    refresh_token: Optional[str] = None
    expires_at: Optional[float] = None
    idle_timeout: Optional[float] = None
    issued_at: float = field(default_factory=time.time)
    last_used: Optional[float] = None
    #: Vendor details worth keeping with the token (never secrets), e.g. its type.
    extra: dict[str, Any] = field(default_factory=dict)

    def expires_in(self, now: Optional[float] = None) -> Optional[float]:
        """Seconds of life left, ``None`` when the token gives no end."""
        now = time.time() if now is None else now
        ends = [t for t in (self.expires_at, self._idle_deadline()) if t is not None]
        return min(ends) - now if ends else None

    def is_expired(self, leeway: float = 0.0, now: Optional[float] = None) -> bool:
        """True when the token has ``leeway`` seconds of life left or less.

        The leeway is clamped to a share of the token's life so that a token
        living 10 seconds with a 30-second leeway is not expired on arrival.
        """
        now = time.time() if now is None else now
        if self.expires_at is not None:
            life = max(self.expires_at - self.issued_at, 0.0)
            if now >= self.expires_at - min(leeway, life * MAX_LEEWAY_SHARE):
                return True
        idle_deadline = self._idle_deadline()
        if idle_deadline is None or self.idle_timeout is None:
            return False
        return now >= idle_deadline - min(leeway, self.idle_timeout * MAX_LEEWAY_SHARE)

    def touch(self, when: Optional[float] = None) -> None:
        """Record a use of the token at ``when`` (sliding-window vendors)."""
        when = time.time() if when is None else when
        if self.last_used is None or when > self.last_used:
            self.last_used = when

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for token stores."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "idle_timeout": self.idle_timeout,
            "issued_at": self.issued_at,
            "last_used": self.last_used,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Token:
        """Rebuild a token from :meth:`to_dict`; ``ValueError`` when it is not one.

        A stored token is read as untrusted input (a file another program could
        have written): a token that could not go into a header, odd numbers or
        absurd sizes make it "not a stored token", never an error later.
        """
        if not isinstance(data, dict) or not _sendable(data.get("access_token")):
            raise ValueError("not a stored token")
        refresh_token = data.get("refresh_token")
        if refresh_token is not None and not _sendable(refresh_token):
            raise ValueError("not a stored token")
        extra = data.get("extra")
        return cls(
            access_token=data["access_token"],
            refresh_token=refresh_token,
            expires_at=_optional_number(data.get("expires_at")),
            idle_timeout=_optional_number(data.get("idle_timeout")),
            issued_at=_optional_number(data.get("issued_at")) or time.time(),
            last_used=_optional_number(data.get("last_used")),
            extra=extra if isinstance(extra, dict) else {},
        )

    def _idle_deadline(self) -> Optional[float]:
        if self.idle_timeout is None:
            return None
        return (self.last_used or self.issued_at) + self.idle_timeout

    def __repr__(self) -> str:
        left = self.expires_in()
        life = "unknown" if left is None else f"{left:.0f}s"
        refresh = "yes" if self.refresh_token else "no"
        return f"<Token access_token=*** expires_in={life} refresh_token={refresh}>"

    __str__ = __repr__


def _sendable(value: Any) -> bool:
    """A token that can go into a header as it is: visible ASCII, at most 16 KiB."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_STORED_TOKEN
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )


def _optional_number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits: not a time
        return None
    return number if math.isfinite(number) else None
