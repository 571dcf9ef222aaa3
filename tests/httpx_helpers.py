"""What the httpx tests share: the secrets a test must never find, and where to look for them."""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterable
from typing import Any

import httpx

from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
)

#: Seconds any one test request may take (no test waits on the clock otherwise).
TIMEOUT = 10.0

SECRETS = (
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
)


def texts_of_exception(exc: BaseException) -> Iterable[str]:
    """Everything an exception shows: message, args, attributes, its chain, its pickle."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield str(current)
        yield repr(current.args)
        for value in vars(current).values():
            yield repr(value)
            if isinstance(value, httpx.Request):
                yield from texts_of_request(value)
        request = getattr(current, "_request", None)
        if isinstance(request, httpx.Request):
            yield from texts_of_request(request)
        todo += [current.__cause__, current.__context__]
    # An httpx error may not pickle; then nothing is shown that way.
    with contextlib.suppress(Exception):
        yield repr(pickle.dumps(exc))


def texts_of_request(request: httpx.Request) -> Iterable[str]:
    """A request's headers and whatever of its body can still be read."""
    yield repr(request.headers.raw)
    yield repr(getattr(request, "_content", b""))
    stream = request.stream
    if isinstance(stream, httpx.SyncByteStream):
        # A one-shot stream may refuse to repeat: then it shows nothing.
        with contextlib.suppress(Exception):
            yield repr(b"".join(stream))


def texts_of_response(response: httpx.Response) -> Iterable[str]:
    """A (read) response's body and headers, and its request's."""
    yield response.content.decode("latin-1")
    yield repr(response.headers.raw)
    yield from texts_of_request(response.request)


def assert_nothing_secret(texts: Iterable[str], *more: Any) -> None:
    """None of the demo secrets (or ``more``) appears in ``texts``."""
    shown = "\n".join(texts)
    for secret in (*SECRETS, *more):
        assert str(secret) not in shown
