"""The httpx adapter, async half: the same flow as :mod:`.httpx`, nothing blocking the loop.

What would block, and where it runs instead:

- The core's ``renew_flow`` takes the store's key lock (a thread lock, plus a
  file lock for :class:`~auth_plugins.FileTokenStore`), holds it across its
  calls and reads and writes the store. Each renewal runs it on one worker
  thread of its own (:class:`Worker`): a lock must be released by the thread
  that took it, so every step, the close included, runs there. The loop awaits
  each step and yields the login requests to the client in between.
- Tasks of one loop needing the same key's token wait on an ``asyncio.Lock``
  (:func:`loop_lock`), then find the token the first one got: one login, one
  worker thread. Loops in other threads (or other processes) meet at the
  store's own lock, on their worker threads.
- The store read when no token is in memory (``Renewal.current``) and the
  occasional store write of a sliding-window use run in ``asyncio.to_thread``.
  A token held in memory costs no thread hop.

Cancelling the task that logs in closes its flow: the worker thread closes the
core's generator (releasing the store's lock) and the asyncio lock passes to
the next task, which looks again and logs in itself if it still has to.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import weakref
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, Optional, TypeVar

import httpx

from ..core.errors import LoginError
from ..core.exchange import Flow
from ..core.messages import Answer, Call, error_body_worth_reading
from ..core.renewal import TOUCH_SAVE_SHARE, Renewal
from ..core.tokens import Token
from ..stores.base import TokenKey
from . import httpx as shared
from . import httpx_login as calls
from .httpx_bounds import WireCounted, WireLimit

if TYPE_CHECKING:
    from ..auth import PasswordAuth

T = TypeVar("T")

#: One asyncio lock per (event loop, store, key); a loop's entry goes with the loop.
_LOCKS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[int, TokenKey], asyncio.Lock]
] = weakref.WeakKeyDictionary()
#: Guards _LOCKS itself: loops in several threads add to it.
_LOCKS_GUARD = threading.Lock()


def loop_lock(renewal: Renewal) -> asyncio.Lock:
    """This loop's lock for the renewal's key: single flight among the loop's tasks."""
    loop = asyncio.get_running_loop()
    with _LOCKS_GUARD:
        locks = _LOCKS.setdefault(loop, {})
        return locks.setdefault((id(renewal.store), renewal.key), asyncio.Lock())


class Worker:
    """Runs one core flow on a single thread of its own, one awaited step at a time."""

    def __init__(self, flow: Flow[T]) -> None:
        self._flow: Flow[Any] = flow
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="auth-plugins-renewal"
        )

    async def step(
        self, answer: Optional[Answer] = None, failure: Optional[LoginError] = None
    ) -> tuple[bool, Any]:
        """Advance the flow: ``(False, call)`` for its next call, ``(True, result)`` at its end."""
        return await asyncio.wrap_future(self._pool.submit(_advance, self._flow, answer, failure))

    async def close(self) -> None:
        """Close the flow on its thread (the store's lock is released there), then let it go.

        The close is queued behind any step still running and happens even if
        this await is cancelled.
        """
        closing = self._pool.submit(self._flow.close)
        self._pool.shutdown(wait=False)
        await asyncio.shield(asyncio.wrap_future(closing))


def _advance(flow: Flow[Any], answer: Optional[Answer], failure: Optional[LoginError]) -> Any:
    # StopIteration cannot cross a future (a coroutine turns it into RuntimeError).
    try:
        if failure is not None:
            return False, flow.throw(failure)
        return False, (flow.send(answer) if answer is not None else next(flow))
    except StopIteration as stop:
        return True, stop.value


def fresh(renewal: Renewal, stale: Optional[Token] = None) -> Optional[Token]:
    """The token in memory if it is good for now (and not ``stale``): no I/O, no thread."""
    token = renewal.token
    if token is None or token.is_expired(renewal.leeway):
        return None
    if stale is not None and token.access_token == stale.access_token:
        return None
    return token


async def note_use(renewal: Renewal, token: Token, sent_at: float) -> None:
    """``Renewal.note_use``, off the loop only when it is going to write the store."""
    if token.idle_timeout is None:
        return
    saved_use = token.last_used or token.issued_at
    writes = sent_at - saved_use > token.idle_timeout * TOUCH_SAVE_SHARE
    if renewal.store.persistent and writes:
        await asyncio.to_thread(renewal.note_use, token, sent_at)
    else:
        renewal.note_use(token, sent_at)


async def async_auth_flow(
    auth: PasswordAuth, request: httpx.Request
) -> AsyncGenerator[httpx.Request, httpx.Response]:
    """``Auth.async_auth_flow``: log in if needed, send, renew once and resend if refused."""
    if not shared.applies(auth, request.url):
        yield request
        return
    renewal = auth._renewal
    token = fresh(renewal) or await asyncio.to_thread(renewal.current)
    stale, refused = renewal.token, None
    while True:
        if token is None:
            got: list[Token] = []
            renewing = renew(auth, request, stale, got, rejected=refused is not None)
            try:
                login = await renewing.__anext__()
                while True:
                    login = await renewing.asend((yield login))
            except StopAsyncIteration:
                pass
            finally:
                await renewing.aclose()
            token = got[0]
        if refused is None:
            shared.attach(auth, request, token)
        else:
            shared.check_replayable(auth, request, refused)
            request = shared.resend(auth, request, token)
        sent_at = time.time()
        response = yield request
        if response.status_code >= 400 and error_body_worth_reading(response.headers):
            await response.aread()
        answer = shared.api_answer(response)
        if not auth._refused(answer, token):
            await note_use(renewal, token, sent_at)
            shared.vendor_checks(auth, response, answer)
            return
        if refused is not None:
            shared.still_refused(auth, request, response)
            return
        stale, refused, token = token, response, None


async def renew(
    auth: PasswordAuth,
    template: Optional[httpx.Request],
    stale: Optional[Token],
    got: list[Token],
    *,
    rejected: bool,
) -> AsyncGenerator[httpx.Request, httpx.Response]:
    """Yield the renewal's login requests; its token is appended to ``got``."""
    renewal = auth._renewal
    async with loop_lock(renewal):
        # Another task of this loop may have renewed while this one waited.
        token = fresh(renewal, stale)
        if token is not None:
            got.append(token)
            return
        worker = Worker(renewal.renew_flow(stale, rejected=rejected))
        try:
            timeouts = template.extensions.get("timeout") if template is not None else None
            agent = calls.user_agent(template)
            done, value = await worker.step()
            while not done:
                login = calls.LoginRequest(value, timeouts, agent)
                login.request.extensions["trace"] = login.async_trace
                failure: Optional[LoginError] = None
                try:
                    response = yield login.request
                except GeneratorExit:
                    failure = login.send_failed()
                    if failure is None:
                        raise
                if failure is not None:
                    # httpx closes the flow while it handles the transport's error, which would
                    # ride along (printed as a traceback from deep in httpcore, the login request
                    # in it) even outside the except block: 'from None' leaves it out.
                    raise failure from None
                try:
                    answer = await read_login_answer(login, response)
                except LoginError as exc:
                    done, value = await worker.step(failure=exc)
                else:
                    done, value = await worker.step(answer)
            got.append(value)
        finally:
            await worker.close()


async def read_login_answer(login: calls.LoginRequest, response: httpx.Response) -> Answer:
    """Read a login answer within its bounds (async); LoginError when it cannot be read."""
    bounded = calls.Bounded()
    failure: Optional[LoginError] = None
    response.stream = WireCounted(
        response.stream, login.ends, lambda: login.too_slow(response.status_code)
    )
    try:
        async for chunk in response.aiter_bytes():
            if not bounded.add(chunk):
                break
    except WireLimit:  # much on the wire, little decoded: the core says what came
        bounded.oversized = True
    except httpx.HTTPError as exc:
        failure = calls.transport_error(login, exc, response.status_code)
    finally:
        await response.aclose()
    if failure is not None:
        calls.hide_answer(response)
        login.scrub()
        raise failure  # outside the except block: the httpx error holds the login request
    return login.answer(response, bounded.body(), bounded.oversized)


# -- calls outside a request: get_token, two-factor, step-up ------------------------------


async def send_call(client: httpx.AsyncClient, call: Call) -> Answer:
    """One core call through ``client`` (without its auth); LoginError when it fails."""
    login = calls.LoginRequest(call, client.timeout.as_dict(), calls.user_agent(None))
    login.request.extensions["trace"] = login.async_trace
    failure: Optional[LoginError] = None
    try:
        response = await client.send(login.request, stream=True, auth=None, follow_redirects=False)
    except httpx.HTTPError as exc:
        login.scrub()
        failure = calls.transport_error(login, exc)
    if failure is not None:
        raise failure  # outside the except block: the httpx error holds the request
    return await read_login_answer(login, response)


async def drive(flow: Flow[T], client: httpx.AsyncClient) -> T:
    """Run a core flow that does no store I/O (a vendor call) on the loop, over ``client``."""
    try:
        call = next(flow)
        while True:
            try:
                answer = await send_call(client, call)
            except LoginError as exc:
                call = flow.throw(exc)
            else:
                call = flow.send(answer)
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        flow.close()


async def get_token(auth: PasswordAuth, client: httpx.AsyncClient) -> Token:
    """A token good for now, logging in through ``client`` when needed."""
    renewal = auth._renewal
    token = fresh(renewal) or await asyncio.to_thread(renewal.current)
    if token is not None:
        return token
    async with loop_lock(renewal):
        token = fresh(renewal)
        if token is not None:
            return token
        worker = Worker(renewal.renew_flow(renewal.token))
        try:
            done, value = await worker.step()
            while not done:
                try:
                    answer = await send_call(client, value)
                except LoginError as exc:
                    done, value = await worker.step(failure=exc)
                else:
                    done, value = await worker.step(answer)
            result: Token = value
            return result
        finally:
            await worker.close()
