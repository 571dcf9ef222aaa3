"""The calls to a vendor's login endpoints, and reading what they answer.

Nothing here wraps an API call: these functions post with a plain session of
their own, so a login can never trigger the auth that asked for it.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any, Optional

import requests

from .errors import AccountLocked, InvalidCredentials, LoginError, RateLimited
from .tokens import Token
from .vendor import Vendor, fill, fill_headers

logger = logging.getLogger("auth_plugins")

#: Longest token we send: common servers refuse longer header lines
#: (nginx's default buffer is 8 KiB; ours leaves room for big JWTs).
MAX_TOKEN_LENGTH = 16 * 1024
#: How much of an unexpected answer an error message quotes.
QUOTE_LIMIT = 200
#: How much of a vendor's error code or content type an error message quotes.
CODE_LIMIT = 60


def no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth that adds nothing: keeps requests from adding ~/.netrc credentials."""
    return request


def post(
    vendor: Vendor,
    session: requests.Session,
    url: str,
    body: Any,
    headers: Mapping[str, str],
    *,
    timeout: float,
    what: str = "login",
) -> requests.Response:
    """POST JSON to a vendor endpoint; network failures become :class:`LoginError`."""
    try:
        return session.post(
            url,
            json=body,
            headers={"Accept": "application/json", **headers},
            timeout=timeout,
            auth=no_auth,
            allow_redirects=False,
        )
    except requests.Timeout:
        raise LoginError(
            f"{vendor.title} {what} did not answer within {timeout:g}s ({url}); "
            "try again later or raise the auth's timeout="
        ) from None
    except requests.RequestException as exc:
        raise LoginError(
            f"{vendor.title} {what} failed: could not reach {url} ({type(exc).__name__}); "
            f"check the base URL (base_url= or {vendor.env_prefix}_BASE_URL) and the network"
        ) from None


def password_login(
    vendor: Vendor,
    session: requests.Session,
    values: Mapping[str, Any],
    *,
    timeout: float,
    idle_timeout: Optional[float],
) -> Token:
    """Log in with the password; the vendor's token, or an error saying why not."""
    base_url = values["base_url"]
    response = post(
        vendor,
        session,
        base_url + vendor.login_path,
        fill(vendor.login_body, values),
        fill_headers(vendor.login_headers, values),
        timeout=timeout,
    )
    return read_token(vendor, response, values, idle_timeout=idle_timeout)


def refresh(
    vendor: Vendor,
    session: requests.Session,
    values: Mapping[str, Any],
    refresh_token: str,
    *,
    timeout: float,
    idle_timeout: Optional[float],
) -> Token:
    """Trade a refresh token for a new token (and, usually, a new refresh token)."""
    assert vendor.refresh_path is not None
    values = {**values, "refresh_token": refresh_token}
    response = post(
        vendor,
        session,
        values["base_url"] + vendor.refresh_path,
        fill(vendor.refresh_body, values),
        fill_headers(vendor.login_headers, values),
        timeout=timeout,
        what="token refresh",
    )
    token = read_token(vendor, response, values, idle_timeout=idle_timeout, what="token refresh")
    # A vendor that does not rotate refresh tokens answers without one: keep ours.
    if token.refresh_token is None:
        token.refresh_token = refresh_token
    return token


def read_token(
    vendor: Vendor,
    response: requests.Response,
    values: Mapping[str, Any],
    *,
    idle_timeout: Optional[float],
    what: str = "login",
) -> Token:
    """The token in a login answer; :class:`LoginError` for anything else."""
    secrets = secret_values(vendor, values)
    if not 200 <= response.status_code < 300:
        raise login_error(vendor, response, secrets, what=what)
    data = read_json(vendor, response, what=what)
    if vendor.login_answer_hook is not None:
        vendor.login_answer_hook(data, response)
    access_token = dig(data, vendor.token_field)
    if not isinstance(access_token, str) or not access_token:
        raise LoginError(
            f"{vendor.title} {what} answered HTTP {response.status_code} without a token: "
            f"no text at {vendor.token_field!r} in the JSON; is the base URL right?",
            response=response,
        )
    if not _header_safe(access_token):
        # It goes into a header: a line break or a non-Latin-1 character there
        # would fail later, inside requests, as a bare ValueError.
        raise LoginError(
            f"{vendor.title} {what} answered HTTP {response.status_code} with a token that "
            "cannot be sent in a header (it holds spaces, control or non-ASCII characters)",
            response=response,
        )
    if len(access_token) > MAX_TOKEN_LENGTH:
        # Servers refuse header lines this long (431), which no re-login can fix.
        raise LoginError(
            f"{vendor.title} {what} answered HTTP {response.status_code} with a token of "
            f"{len(access_token)} characters, longer than a header servers accept "
            f"({MAX_TOKEN_LENGTH}); is the base URL right?",
            response=response,
        )
    now = time.time()
    lifetime = vendor.token_lifetime
    if vendor.expires_in_field is not None:
        expires_in = dig(data, vendor.expires_in_field)
        # Only a positive, finite life counts: 0, negative, NaN or infinite would
        # make every request log in (or none ever renew); the 401/410 covers those.
        if (
            isinstance(expires_in, (int, float))
            and not isinstance(expires_in, bool)
            and 0 < expires_in < float("inf")
        ):
            lifetime = float(expires_in)
    refresh_token = dig(data, vendor.refresh_token_field) if vendor.refresh_token_field else None
    return Token(
        access_token=access_token,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_at=now + lifetime if lifetime is not None else None,
        idle_timeout=idle_timeout,
        issued_at=now,
    )


def read_json(vendor: Vendor, response: requests.Response, *, what: str = "login") -> Any:
    """The answer's JSON; a :class:`LoginError` saying what came instead."""
    try:
        return json_body(response)
    except ValueError:
        raise LoginError(
            f"{vendor.title} {what} answered HTTP {response.status_code} with "
            f"{describe_body(response)}, not the JSON it documents; is the base URL right?",
            response=response,
        ) from None


def login_error(
    vendor: Vendor,
    response: requests.Response,
    secrets: Iterable[str] = (),
    *,
    what: str = "login",
) -> LoginError:
    """The exception for a failed login answer: its type says what to do about it."""
    status = response.status_code
    code, detail = error_details(vendor, response)
    # What the vendor wrote is quoted redacted, on one line and short: an answer
    # may echo the password, hold terminal escapes or be a megabyte long.
    code = quote(redact(code, secrets), CODE_LIMIT) if code else None
    detail = quote(redact(detail, secrets)) if detail else ""
    reason = vendor.status_messages.get(status) or response.reason or "error"
    message = f"{vendor.title} {what} failed: HTTP {status} {reason}"
    if code:
        message += f" [{code}]"
    if detail:
        message += f": {detail}"
    message = redact(message, secrets)
    if status in vendor.locked_statuses:
        return AccountLocked(
            message,
            response=response,
            code=code,
            hint="Do not retry now: each attempt can extend the lock",
        )
    if status in vendor.invalid_credentials_statuses:
        return InvalidCredentials(
            message,
            response=response,
            code=code,
            hint="Check the credentials; this auth will not send them again until reset()",
        )
    if status == 429:
        wait = retry_after(response)
        hint = f"Retry after {wait:.0f}s" if wait is not None else "Wait before retrying"
        return RateLimited(message, response=response, retry_after=wait, code=code, hint=hint)
    return LoginError(message, response=response, code=code)


def error_details(vendor: Vendor, response: requests.Response) -> tuple[Optional[str], str]:
    """``(code, message)`` from an error answer, by the vendor's hook or the common shapes."""
    data = json_object(response)
    if data is None:
        return None, describe_body(response) if response.content else ""
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


def json_object(response: requests.Response) -> Optional[dict[str, Any]]:
    """The answer's JSON object, ``None`` when the body is not one."""
    try:
        data = json_body(response)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def describe_body(response: requests.Response) -> str:
    """A short description of a body that is not what we expected."""
    content_type = quote(response.headers.get("Content-Type") or "", CODE_LIMIT)
    content_type = content_type or "no content type"
    size = len(response.content)
    if not size:
        return f"an empty body ({content_type})"
    return f"{content_type} ({size} bytes)"


def retry_after(response: requests.Response) -> Optional[float]:
    """Seconds to wait, from ``Retry-After`` or ``x-ratelimit-reset`` (delta or epoch)."""
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(float(header), 0.0)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        return max(when.timestamp() - time.time(), 0.0)
    reset = response.headers.get("x-ratelimit-reset")
    if reset:
        try:
            value = float(reset)
        except ValueError:
            return None
        # Epoch seconds are large; smaller values are a delay already.
        return max(value - time.time(), 0.0) if value > 1e9 else max(value, 0.0)
    return None


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path (``"response.errorCode"``), or ``None``."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def secret_values(vendor: Vendor, values: Mapping[str, Any]) -> list[str]:
    """The values of secret options, to be kept out of messages."""
    secret_names = {option.name for option in vendor.all_options() if option.secret}
    secret_names |= {"refresh_token", "verification_key"}
    return [v for k, v in values.items() if k in secret_names and isinstance(v, str) and v]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A vendor's text made fit for a one-line message: printable, spaced once, clipped.

    Redact before quoting: clipping first could leave half a secret behind.
    """
    text = "".join(ch if ch.isprintable() else " " for ch in text[: limit * 4])
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def json_body(response: requests.Response) -> Any:
    """The answer's JSON; ``ValueError`` when it is not JSON.

    ``json`` recurses once per nesting level, so an answer such as ``[[[[...``
    a million deep raises ``RecursionError``; it is not JSON we can use either.
    """
    try:
        return response.json()
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _header_safe(value: str) -> bool:
    """True when ``value`` can go into an HTTP header as it is (visible ASCII only)."""
    return value.isascii() and value.isprintable() and " " not in value
