"""Request and response values passed between the HTTP plumbing and the vendor handlers.

The vendor modules never touch sockets: they get a :class:`Request` and give back a
:class:`Response`, which keeps them testable and keeps the framing rules (Content-Length,
keep-alive) in one place, ``server.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qs

__all__ = [
    "ReceivedRequest",
    "Request",
    "Response",
    "empty_response",
    "json_response",
]


@dataclass(frozen=True)
class Request:
    """One HTTP request as a vendor handler sees it.

    Attributes:
        method: the HTTP method, upper case.
        path: the full path as received, without the query string.
        route: the path below the vendor's prefix (``/auth/login``), ``""`` outside one.
        query_string: the raw query string, without the ``?``.
        headers: received headers, original spelling; repeated headers joined with ``", "``.
        body: the exact body bytes (already de-chunked).
        client_ip: the peer's address, the key of per-IP rate limits.
        client_cert: the name of the client certificate the peer sent over TLS (see
            :func:`~.tls.client_cert_name`); None over plain HTTP or without one.
    """

    method: str
    path: str
    route: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes
    client_ip: str
    client_cert: str | None = None
    _lower: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Header names are case-insensitive; a lower-cased view makes lookups cheap.
        object.__setattr__(self, "_lower", {k.lower(): v for k, v in self.headers.items()})

    def header(self, name: str) -> str | None:
        """Return a header's value (case-insensitive name), or None when absent."""
        return self._lower.get(name.lower())

    @property
    def query(self) -> dict[str, list[str]]:
        """The query string parsed into name -> list of values (blank values kept)."""
        return parse_qs(self.query_string, keep_blank_values=True)

    def query_value(self, name: str) -> str | None:
        """Return the first value of a query parameter, or None when absent."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    """An answer to send: status, extra headers and the exact body bytes.

    ``Content-Length`` is always computed by the server; do not put it in ``headers``.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


class _ReceivedFields(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ReceivedRequest(_ReceivedFields):
    """A request a vendor endpoint received, as kept in ``Sandbox.received``.

    A named tuple so tests can unpack it: ``method, path, headers, body = sb.received[-1]``.
    ``path`` is the request target as sent, query string included.

    ``client_cert`` names the client certificate sent over TLS (the sandbox's own is
    ``auth_plugins.sandbox.CLIENT_CERT_NAME``), None without one. It is an attribute outside
    the tuple so that unpacking into four names, as above, keeps working.
    """

    client_cert: str | None

    def __new__(
        cls,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        client_cert: str | None = None,
    ) -> ReceivedRequest:
        """Make the record; ``client_cert`` is kept beside the four tuple fields."""
        self = super().__new__(cls, method, path, headers, body)
        self.client_cert = client_cert
        return self

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, client_cert={self.client_cert!r})"


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    """Build a JSON response (UTF-8, ``application/json``)."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    extra = [("Content-Type", "application/json")]
    if headers:
        extra.extend(headers.items())
    return Response(status, body, extra)


def empty_response(status: int = 204) -> Response:
    """Build a response with no body (204 No Content by default)."""
    return Response(status)
