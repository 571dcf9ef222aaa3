"""The login exchange, written once as generators that yield calls and receive answers.

A flow is a generator: each ``yield`` hands a :class:`Call` to whoever drives it
and gets the :class:`Answer` back; its return value is the result (a
:class:`Token`, a vendor's JSON). An adapter drives a flow over its client's
own connection: :func:`drive` for a plain ``send(call) -> answer`` function;
httpx yields the calls from its ``auth_flow``. A failure to send (no route, a
bad certificate) is thrown into the flow at its ``yield``, so a failed refresh
can still fall back to the password.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any, Callable, Optional, TypeVar

from .answers import login_error, read_json, read_token
from .errors import LoginError
from .messages import Answer, Call, json_call
from .settings import Settings
from .templates import fill, fill_headers, template_names
from .tokens import Token
from .vendor import Vendor

T = TypeVar("T")
#: A login step: yields calls, receives answers, returns a ``T``.
Flow = Generator[Call, Answer, T]
#: Sends one call and returns what came back; raises :class:`LoginError` when it cannot.
Send = Callable[[Call], Answer]


class Deadline:
    """The time a whole login (all its calls) may take; each call gets what is left."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def left(self, vendor: Vendor, what: str) -> float:
        """Seconds left; :class:`LoginError` once there are none."""
        left = self._end - self._clock()
        if left <= 0:
            raise LoginError(
                f"{vendor.title} {what} did not finish within {self.seconds:g}s in all; "
                "the server is too slow: try again later or raise the auth's timeout="
            )
        return left


def password_login(
    vendor: Vendor, settings: Settings, deadline: Deadline, *, idle_timeout: Optional[float]
) -> Flow[Token]:
    """Log in with the password; the vendor's token, or an error saying why not."""
    values = settings.values()
    answer = yield json_call(
        vendor.title,
        "login",
        settings.base_url + vendor.login_path,
        fill(vendor.login_body, values),
        fill_headers(vendor.login_headers, values),
        deadline.left(vendor, "login"),
    )
    return read_token(vendor, answer, settings.secrets(), idle_timeout=idle_timeout)


def refresh(
    vendor: Vendor,
    settings: Settings,
    refresh_token: str,
    deadline: Deadline,
    *,
    idle_timeout: Optional[float],
) -> Flow[Token]:
    """Trade a refresh token for a new token (and, usually, a new refresh token)."""
    assert vendor.refresh_path is not None
    what = "token refresh"
    # Only what the refresh call sends: a refresh needs no password (no command, no keyring).
    needed = template_names(vendor.refresh_body) | template_names(vendor.login_headers)
    values = {**settings.values(needed), "refresh_token": refresh_token}
    answer = yield json_call(
        vendor.title,
        what,
        settings.base_url + vendor.refresh_path,
        fill(vendor.refresh_body, values),
        fill_headers(vendor.login_headers, values),
        deadline.left(vendor, what),
    )
    secrets = settings.secrets(refresh_token)
    token = read_token(vendor, answer, secrets, idle_timeout=idle_timeout, what=what)
    # A vendor that does not rotate refresh tokens answers without one: keep ours.
    if token.refresh_token is None:
        token.refresh_token = refresh_token
    return token


def vendor_call(
    vendor: Vendor,
    settings: Settings,
    what: str,
    path: str,
    payload: Any,
    headers: dict[str, str],
    deadline: Deadline,
) -> Flow[Any]:
    """One of a vendor's extra calls (two-factor, step-up): its JSON, ``None`` if empty."""
    answer = yield json_call(
        vendor.title, what, settings.base_url + path, payload, headers, deadline.left(vendor, what)
    )
    if not answer.ok:
        raise login_error(vendor, answer, settings.secrets(*headers.values()), what=what)
    return read_json(vendor, answer, settings.secrets(), what=what) if answer.body else None


def drive(flow: Flow[T], send: Send) -> T:
    """Run ``flow`` to its end, sending each call with ``send``."""
    try:
        call = next(flow)
        while True:
            try:
                answer = send(call)
            except LoginError as exc:
                call = flow.throw(exc)
            else:
                call = flow.send(answer)
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        flow.close()
