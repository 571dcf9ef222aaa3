"""The login exchange as plain data: a :class:`Call` to make, an :class:`Answer` that came back.

The core never does I/O. A login step yields ``Call`` values and receives
``Answer`` values (httpx's ``auth_flow`` shape, h11's "no I/O" rule); an adapter
sends each call over the caller's own client (requests, httpx, HTTPie) and reads
the answer back, bounded by :data:`MAX_ANSWER_BYTES` and the call's deadline.

A ``Call`` holds secrets (the password is in its body): it never goes into an
exception, a log line or a ``repr``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import LoginError
from .record import Record, field

#: The most of a login answer an adapter reads (decoded). A login answer is a few
#: hundred bytes; a larger one is refused instead of filling memory (gzip bombs too).
MAX_ANSWER_BYTES = 64 * 1024
#: The most of a login answer's body an adapter reads off the wire (framing and
#: compression included): a body that decodes to little or nothing (empty gzip blocks,
#: endless trailers) never reaches ``MAX_ANSWER_BYTES``; a real login answer is far below.
MAX_WIRE_BYTES = 4 * MAX_ANSWER_BYTES
#: A compressed API error body is read only up to this size (it inflates at most ~1000x).
MAX_COMPRESSED_ERROR = 4 * 1024


class Call(Record):
    """One request of a login exchange: ``POST url`` with a JSON body."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    #: For messages: the vendor's title ("TeamUp") and the call ("login", "token refresh").
    vendor: str
    what: str
    #: Seconds this call may take, all reads together (the rest of the login's deadline).
    timeout: float

    def __repr__(self) -> str:
        # The body and headers hold the password and API secrets.
        return f"<Call {self.vendor} {self.what}: {self.method} {self.url.split('?', 1)[0]}>"


def json_call(
    vendor: str, what: str, url: str, payload: Any, headers: Mapping[str, str], timeout: float
) -> Call:
    """A ``POST`` with a JSON body, asking for JSON back."""
    return Call(
        method="POST",
        url=url,
        headers={"Accept": "application/json", "Content-Type": "application/json", **headers},
        body=json.dumps(payload).encode(),
        vendor=vendor,
        what=what,
        timeout=timeout,
    )


class Headers(Mapping[str, str]):
    """Answer headers, looked up without regard to case (first value wins)."""

    def __init__(self, items: Mapping[str, str] | list[tuple[str, str]] | None = None) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items or []
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            self._items.setdefault(name.lower(), (name, value))

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self)!r})"


class Answer(Record):
    """What a server answered: status, headers and (at most ``MAX_ANSWER_BYTES`` of) body.

    ``status_code``, ``content``, ``reason`` and ``json()`` read as on a
    ``requests.Response``, so vendor hooks written for one keep working.
    """

    status: int
    #: Looked up without regard to case (a :class:`Headers`, or requests' own mapping).
    headers: Mapping[str, str] = field(default_factory=Headers)
    body: bytes = b""
    reason: str = ""
    #: The URL answered, without its query string (kept for messages only).
    url: str = ""
    #: The body was longer than ``MAX_ANSWER_BYTES``: ``body`` holds only its start.
    oversized: bool = False

    @property
    def status_code(self) -> int:
        """The HTTP status, as requests names it."""
        return self.status

    @property
    def content(self) -> bytes:
        """The body, as requests names it."""
        return self.body

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not JSON (or nested absurdly deep)."""
        try:
            return json.loads(self.body)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

    def __repr__(self) -> str:
        # Bodies of login answers hold tokens.
        return f"<Answer {self.status} {self.url} ({len(self.body)} bytes)>"


def error_body_worth_reading(headers: Mapping[str, str]) -> bool:
    """May an API error body be read for the vendor's checks before the caller sees it?

    Only one that says it is small (``Content-Length``) and, when compressed,
    small enough that no inflation costs much: the caller may be streaming a
    body it never reads, and a gzip bomb of an error is not ours to open.
    """
    length = headers.get("Content-Length", "").strip()
    if not length.isdigit():
        return False
    limit = MAX_COMPRESSED_ERROR if headers.get("Content-Encoding") else MAX_ANSWER_BYTES
    return int(length) <= limit


def cut_short(what: str, where: str, status: int, exc: BaseException) -> LoginError:
    """The error for an answer whose head came (``status``) but whose body broke off.

    The server was reached: "could not reach" would send the user to check the URL.
    Only the exception's type is named (its text may quote the request).
    """
    return LoginError(
        f"{what} answered HTTP {status}, but its body could not be read whole "
        f"({type(exc).__name__}) ({where})",
        status=status,
        hint="Try again later; if it goes on, the server or something between (a proxy) "
        "breaks its answers",
    )
