"""Refused logins remembered in the token store, so that a fleet holds back together.

A wrong password, a locked account and a rate limit are written to the store
(:class:`~auth_plugins.stores.base.Failure`) by the process that met them; every
process sharing the store reads the record before it logs in and raises the
same error instead, until the record's ``until``. A wrong password is only
remembered for the credentials that failed, told apart by a fingerprint.

The fingerprint is deliberately tiny: :data:`FINGERPRINT_BITS` bits of a salted
PBKDF2 of the user name, password and the vendor's other secret options, with
a random salt per record stored beside it. Anyone who reads the store (or a
backup of it) and tries a dictionary offline finds one candidate in 65,536
passing: a list of a billion passwords leaves some 15,000 candidates, which
the vendor's own lockout (five tries at up2.money) makes worthless. A full hash
would confirm the right one. The secret options (up2.money's API secret,
TeamUp's application key) are in the input, so without them no candidate can
be checked at all. The cost: a corrected password has one chance in 65,536
of matching the old fingerprint; ``auth.reset()`` or ``auth-plugins logout``
then clears the record.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from typing import Any, Callable, Optional

from ..stores.base import Failure
from .errors import AccountLocked, InvalidCredentials, LoginError, RateLimited

#: Bits of the fingerprint kept: few on purpose (see the module's docstring).
FINGERPRINT_BITS = 16
#: PBKDF2 rounds: each candidate an attacker tries costs this much too.
FINGERPRINT_ROUNDS = 100_000
#: A wrong password is not sent again for a day (unless the credentials change).
REMEMBER_INVALID = 24 * 3600.0
#: A locked account (HTTP 423 without Retry-After) is left alone this long.
REMEMBER_LOCKED = 30 * 60.0
#: A rate limit (429/503) that says no Retry-After holds back this long.
REMEMBER_RATE_LIMIT = 30.0
#: ... and one that says 0 at least this long, so that a fleet never spins on it.
MIN_HOLD = 1.0
#: Login attempts per key in one window, across every process sharing the store.
LOGINS_PER_WINDOW = 10
ATTEMPT_WINDOW = 60.0

HOW_TO_CLEAR = "correct the password, or clear it with auth.reset() or `auth-plugins logout`"


def fingerprint(material: bytes, salt: bytes) -> int:
    """A :data:`FINGERPRINT_BITS`-bit fingerprint of ``material``: stable, and short on purpose."""
    digest = hashlib.pbkdf2_hmac("sha256", material, salt, FINGERPRINT_ROUNDS)
    return int.from_bytes(digest[:4], "big") >> (32 - FINGERPRINT_BITS)


def new_salt() -> str:
    """A random salt for one record."""
    return os.urandom(16).hex()


def record_for(
    error: LoginError, print_for: Callable[[str], int], now: Optional[float] = None
) -> Optional[Failure]:
    """The record to keep for a refused login, ``None`` for errors not worth remembering.

    ``print_for(salt)`` gives the fingerprint of the credentials that were sent.
    """
    now = time.time() if now is None else now

    def failure(kind: str, wait: float, **more: Any) -> Failure:
        return Failure(
            kind, now + wait, error.summary, status=error.status, code=error.code, **more
        )

    if isinstance(error, InvalidCredentials):
        salt = new_salt()
        fingerprinted = {"fingerprint": print_for(salt), "salt": salt}
        return failure("invalid_credentials", REMEMBER_INVALID, **fingerprinted)
    if isinstance(error, AccountLocked):
        wait = error.retry_after if error.retry_after is not None else REMEMBER_LOCKED
        return failure("account_locked", max(wait, MIN_HOLD), retry_after=wait)
    if isinstance(error, RateLimited) and not error.local:
        wait = error.retry_after if error.retry_after is not None else REMEMBER_RATE_LIMIT
        return failure("rate_limited", max(wait, MIN_HOLD), retry_after=wait)
    return None


def remembered_error(failure: Failure, where: str, now: Optional[float] = None) -> LoginError:
    """A fresh exception for a remembered failure: the original message, and why it stands."""
    now = time.time() if now is None else now
    left = max(failure.until - now, 0.0)
    until = time.strftime("%H:%M:%S", time.localtime(failure.until))
    kind = failure.kind
    error: LoginError
    if kind == "rate_limited":
        error = RateLimited(
            failure.message,
            status=failure.status,
            code=failure.code,
            retry_after=left,
            hint=f"Retry after {math.ceil(left)}s: the vendor asked a process sharing {where} "
            "to wait, and every process waits with it",
        )
    elif kind == "account_locked":
        error = AccountLocked(
            failure.message,
            status=failure.status,
            code=failure.code,
            hint=f"Not retried before {until} (remembered in {where}, so no process "
            "extends the lock); once unlocked, clear it with auth.reset() or "
            "`auth-plugins logout`",
        )
        error.retry_after = left
    else:
        error = InvalidCredentials(
            failure.message,
            status=failure.status,
            code=failure.code,
            hint=f"These credentials were refused before (remembered in {where}, so the "
            f"fleet sends them once); {HOW_TO_CLEAR}",
        )
    error.remembered = True
    return error


def too_many_attempts(title: str, who: str, count: int, now: Optional[float] = None) -> RateLimited:
    """The error for a key past :data:`LOGINS_PER_WINDOW` logins in a window."""
    now = time.time() if now is None else now
    left = ATTEMPT_WINDOW - now % ATTEMPT_WINDOW
    error = RateLimited(
        f"{title}: {count - 1} logins for {who} in the last minute already, the most "
        f"auth-plugins makes (the API may keep refusing new tokens)",
        retry_after=left,
        hint=f"Retry after {math.ceil(left)}s; check that the API accepts this user's tokens",
    )
    error.local = True
    return error
