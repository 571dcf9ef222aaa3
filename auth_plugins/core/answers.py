"""Reading what a vendor answered: a token, a typed error, or a verdict on an API answer.

Pure functions over :class:`~auth_plugins.core.messages.Answer`: no I/O. Every
number a server sends is bounded here, and every text it sends is quoted on
one line, clipped and with secrets redacted before it reaches a message.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Iterable
from typing import Any, Optional

from .errors import AccountLocked, AuthPluginError, InvalidCredentials, LoginError, RateLimited
from .messages import Answer
from .text import quote, redact
from .tokens import Token
from .vendor import Vendor

#: Longest token we send: common servers refuse longer header lines
#: (nginx's default buffer is 8 KiB; ours leaves room for big JWTs).
MAX_TOKEN_LENGTH = 16 * 1024
#: How much of a vendor's error code or content type an error message quotes.
CODE_LIMIT = 60
#: A token life shorter than this is taken as this: a server saying 1e-9 seconds
#: must not turn every request into a login (with the leeway, at most about one a second).
MIN_LIFETIME = 1.0
#: ... and one longer than this as this (a year): no token is trusted for ever.
MAX_LIFETIME = 365 * 24 * 3600.0
#: The longest wait a rate limit may impose (a day); longer or odd values are clipped.
MAX_RETRY_AFTER = 24 * 3600.0


def read_token(
    vendor: Vendor,
    answer: Answer,
    secrets: Iterable[str],
    *,
    idle_timeout: Optional[float],
    what: str = "login",
    now: Optional[float] = None,
) -> Token:
    """The token in a login answer; :class:`LoginError` (or a subclass) for anything else."""
    if not answer.ok:
        raise login_error(vendor, answer, secrets, what=what)
    secrets = list(secrets)
    data = read_json(vendor, answer, secrets, what=what)
    if vendor.login_answer_hook is not None:
        try:
            vendor.login_answer_hook(data, answer)
        except AuthPluginError as exc:
            # A vendor's error carries what the server said (a pending-login id...),
            # which a hostile server can make an echo of the password.
            raise scrubbed(exc, secrets) from None
    access_token = dig(data, vendor.token_field)
    status = answer.status
    if not isinstance(access_token, str) or not access_token:
        raise LoginError(
            f"{vendor.title} {what} answered HTTP {status} without a token: "
            f"no text at {vendor.token_field!r} in the JSON; is the base URL right?",
            status=status,
        )
    if not header_safe(access_token):
        # It goes into a header: a line break or a non-Latin-1 character there
        # would fail later, inside the HTTP client, as a bare ValueError.
        raise LoginError(
            f"{vendor.title} {what} answered HTTP {status} with a token that cannot be sent "
            "in a header (it holds spaces, control or non-ASCII characters)",
            status=status,
        )
    if len(access_token) > MAX_TOKEN_LENGTH:
        # Servers refuse header lines this long (431), which no re-login can fix.
        raise LoginError(
            f"{vendor.title} {what} answered HTTP {status} with a token of "
            f"{len(access_token)} characters, longer than a header servers accept "
            f"({MAX_TOKEN_LENGTH}); is the base URL right?",
            status=status,
        )
    now = time.time() if now is None else now
    lifetime = vendor.token_lifetime
    if vendor.expires_in_field is not None:
        stated = bounded_seconds(dig(data, vendor.expires_in_field), MIN_LIFETIME, MAX_LIFETIME)
        lifetime = stated if stated is not None else lifetime
    refresh_token = dig(data, vendor.refresh_token_field) if vendor.refresh_token_field else None
    if not (
        isinstance(refresh_token, str)
        and 0 < len(refresh_token) <= MAX_TOKEN_LENGTH  # what a store reads back, too
        and header_safe(refresh_token)
    ):
        refresh_token = None
    return Token(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=now + lifetime if lifetime is not None else None,
        idle_timeout=idle_timeout,
        issued_at=now,
    )


def scrubbed(error: AuthPluginError, secrets: Iterable[str]) -> AuthPluginError:
    """``error`` with every secret redacted from its text attributes (in place)."""
    secrets = list(secrets)
    for name, value in list(vars(error).items()):
        if isinstance(value, str):
            setattr(error, name, redact(value, secrets))
    error.args = tuple(redact(a, secrets) if isinstance(a, str) else a for a in error.args)
    return error


def bounded_seconds(value: Any, low: float, high: float) -> Optional[float]:
    """A number of seconds clipped to ``[low, high]``; ``None`` for anything not a real number.

    0 and negative values count as "not stated" (``None``): a token that is
    already dead on arrival is better found out by the API's 401 than believed.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        number = math.inf if value > 0 else -math.inf
    if math.isnan(number) or number <= 0:
        return None
    return min(max(number, low), high)


def read_json(
    vendor: Vendor, answer: Answer, secrets: Iterable[str] = (), *, what: str = "login"
) -> Any:
    """The answer's JSON; a :class:`LoginError` saying what came instead."""
    parsed, data = (False, None) if answer.oversized else _parse(answer)
    if not parsed:
        # Raised outside any except block: a JSONDecodeError keeps the whole answer
        # (which may echo the password) in .doc, and would ride along as __context__.
        raise LoginError(
            f"{vendor.title} {what} answered HTTP {answer.status} with "
            f"{describe_body(answer, secrets)}, not the JSON it documents; is the base URL "
            "right?",
            status=answer.status,
        )
    return data


def login_error(
    vendor: Vendor,
    answer: Answer,
    secrets: Iterable[str] = (),
    *,
    what: str = "login",
    now: Optional[float] = None,
) -> LoginError:
    """The exception for a failed login answer: its type says what to do about it."""
    secrets = list(secrets)
    status = answer.status
    code, detail = error_details(vendor, answer)
    # What the vendor wrote is quoted redacted, on one line and short: an answer
    # may echo the password, hold terminal escapes or be a megabyte long.
    code = quote(redact(code, secrets), CODE_LIMIT) if code else None
    detail = quote(redact(detail, secrets)) if detail else ""
    reason = vendor.status_messages.get(status) or quote(redact(answer.reason, secrets), CODE_LIMIT)
    message = f"{vendor.title} {what} failed: HTTP {status} {reason or 'error'}"
    if code:
        message += f" [{code}]"
    if detail:
        message += f": {detail}"
    message = redact(message, secrets)
    if status in vendor.locked_statuses:
        locked = AccountLocked(
            message,
            status=status,
            code=code,
            hint="Do not retry now: each attempt can extend the lock",
        )
        locked.retry_after = retry_after(answer, now=now)
        return locked
    if status in vendor.invalid_credentials_statuses:
        return InvalidCredentials(
            message,
            status=status,
            code=code,
            hint="Check the credentials; they will not be sent again until they change "
            "or reset() is called",
        )
    if status in (429, 503):
        # A login endpoint that is overloaded (503) is waited for like a rate
        # limit: a fleet retrying at once would only keep it down.
        wait = retry_after(answer, now=now)
        hint = f"Retry after {wait:.0f}s" if wait is not None else "Wait before retrying"
        return RateLimited(message, status=status, retry_after=wait, code=code, hint=hint)
    return LoginError(message, status=status, code=code)


def error_details(vendor: Vendor, answer: Answer) -> tuple[Optional[str], str]:
    """``(code, message)`` from an error answer, by the vendor's hook or the common shapes."""
    data = None if answer.oversized else json_object(answer)
    if data is None:
        return None, describe_body(answer) if answer.body else ""
    if vendor.error_hook is not None:
        return vendor.error_hook(data)
    code = next(
        (
            value
            for value in (data.get("code"), data.get("errorCode"), dig(data, "response.errorCode"))
            if isinstance(value, str)
        ),
        None,
    )
    message = data.get("message")
    return code, message if isinstance(message, str) else ""


def json_object(answer: Any) -> Optional[dict[str, Any]]:
    """The answer's JSON object, ``None`` when the body is not one.

    Takes an :class:`Answer` or anything with a ``json()`` method (a
    ``requests.Response``): vendor hooks call it on either.
    """
    parsed, data = _parse(answer)
    return data if parsed and isinstance(data, dict) else None


def _parse(answer: Any) -> tuple[bool, Any]:
    """``(True, value)`` for a JSON body, ``(False, None)`` for anything else.

    Nothing of a failed parse is kept: its error holds the whole body.
    """
    try:
        return True, answer.json()
    except (ValueError, RecursionError):
        return False, None


def describe_body(answer: Answer, secrets: Iterable[str] = ()) -> str:
    """A short description of a body that is not what we expected."""
    content_type = answer.headers.get("Content-Type") or ""
    content_type = quote(redact(content_type, secrets), CODE_LIMIT) or "no content type"
    size = len(answer.body)
    if answer.oversized:  # even with nothing decoded: the wire carried too much
        read = f"more than {size} bytes, " if size else ""
        return f"{content_type} ({read}more than a login answer can be)"
    if not size:
        return f"an empty body ({content_type})"
    return f"{content_type} ({size} bytes)"


def retry_after(answer: Answer, *, now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait, from ``Retry-After`` or ``x-ratelimit-reset`` (delta or epoch).

    Bounded to ``[0, MAX_RETRY_AFTER]``; ``None`` when no header says or it cannot be read.
    """
    now = time.time() if now is None else now
    header = answer.headers.get("Retry-After", "").strip()
    seconds: Optional[float] = None
    if header:
        seconds = _number(header)
        if seconds is None:
            try:
                when = email.utils.parsedate_to_datetime(header)
                seconds = when.timestamp() - now
            except (TypeError, ValueError, OverflowError, IndexError):
                return None
    else:
        reset = _number(answer.headers.get("x-ratelimit-reset", "").strip())
        if reset is None:
            return None
        # Epoch seconds are large; smaller values are a delay already.
        seconds = reset - now if reset > 1e9 else reset
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _number(text: str) -> Optional[float]:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path (``"response.errorCode"``), or ``None``."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def header_safe(value: str) -> bool:
    """True when ``value`` can go into an HTTP header as it is (visible ASCII only)."""
    return value.isascii() and value.isprintable() and " " not in value
