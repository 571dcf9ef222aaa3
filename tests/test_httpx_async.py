"""httpx.AsyncClient: the same auths, one login for many tasks, nothing blocking the loop."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Callable, TypeVar

import httpx
import pytest
from helpers import KeepsNothingStore, run_threads
from httpx_helpers import TIMEOUT, assert_nothing_secret, texts_of_exception
from netservers import ForwardProxy

from auth_plugins import (
    BodyNotReplayable,
    FileTokenStore,
    InvalidCredentials,
    LoginError,
    StepUpRequired,
    Token,
    TwoFactorRequired,
)
from auth_plugins.sandbox import (
    DEMO_SMS_CODE,
    DEMO_STEPUP_CODE,
    DEMO_TEAMUP_TWO_FACTOR_PASSWORD,
    DEMO_TEAMUP_TWO_FACTOR_PHONE,
    DEMO_TEAMUP_TWO_FACTOR_USERNAME,
    Sandbox,
)

T = TypeVar("T")


def run(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a fresh event loop, bounded in time."""

    async def bounded() -> T:
        return await asyncio.wait_for(make(), timeout=60)

    return asyncio.run(bounded())


def vendor_url(sandbox: Sandbox, vendor: str) -> str:
    return sandbox.teamup_url if vendor == "teamup" else sandbox.up2money_url


@pytest.mark.parametrize("vendor", ["teamup", "up2money"])
def test_lazy_login_reuse_and_relogin_with_the_body_byte_exact(
    sandbox: Sandbox, vendor_auth: Any, vendor: str
) -> None:
    auth = vendor_auth(vendor)
    url = vendor_url(sandbox, vendor) + "/echo"
    payload = bytes(range(256)) * 2

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            got = [await client.get(url) for _ in range(3)]
            sandbox.revoke_tokens(vendor)
            got.append(await client.post(url, content=payload))
            if vendor == "up2money":
                sandbox.expire_tokens(vendor)
                got.append(await client.post(url, content=payload))
            return got

    assert sandbox.logins(vendor) == 0
    responses = run(go)
    assert [r.status_code for r in responses] == [200] * len(responses)
    assert responses[0].history == []
    assert [r.status_code for r in responses[3].history] == [401]
    if vendor == "up2money":
        assert [r.status_code for r in responses[4].history] == [410]
    echoed = [r.body for r in sandbox.received if r.path.endswith("/echo")]
    assert echoed[3:] == [payload] * (len(responses) * 2 - 6)
    assert sandbox.logins(vendor) == len(responses) - 2


def test_teamup_refresh(sandbox: Sandbox, teamup_auth: Any) -> None:
    async def go() -> int:
        async with httpx.AsyncClient(auth=teamup_auth(), timeout=TIMEOUT) as client:
            await client.get(sandbox.teamup_url + "/customers")
            sandbox.expire_tokens("teamup")
            return (await client.get(sandbox.teamup_url + "/customers")).status_code

    assert run(go) == 200
    assert (sandbox.logins("teamup"), sandbox.refreshes("teamup")) == (1, 1)


def test_two_factor_with_awaitable_calls(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth(
        username=DEMO_TEAMUP_TWO_FACTOR_USERNAME, password=DEMO_TEAMUP_TWO_FACTOR_PASSWORD
    )

    async def go() -> int:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            with pytest.raises(TwoFactorRequired) as caught:
                await client.get(sandbox.teamup_url + "/customers")
            pending = caught.value
            await auth.astart_two_factor(
                client, DEMO_TEAMUP_TWO_FACTOR_PHONE, pending.providers[0], pending.pending_login_id
            )
            await auth.averify_two_factor(client, DEMO_TEAMUP_TWO_FACTOR_PHONE, DEMO_SMS_CODE)
            return (await client.get(sandbox.teamup_url + "/customers")).status_code

    assert run(go) == 200
    assert sandbox.logins("teamup") == 1


def test_step_up_and_sliding_expiry(sandbox: Sandbox, up2money_auth: Any) -> None:
    auth = up2money_auth()

    async def go() -> int:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            with pytest.raises(StepUpRequired) as caught:
                await client.post(sandbox.up2money_url + "/transfers", json={"amount": 5})
            assert isinstance(caught.value.response, httpx.Response)
            used = auth.token.last_used
            await auth.asend_step_up_otp(client)
            await auth.averify_step_up(client, DEMO_STEPUP_CODE)
            response = await client.post(sandbox.up2money_url + "/transfers", json={"amount": 5})
            assert auth.token.last_used is not None
            assert auth.token.last_used >= (used or 0)
            return response.status_code

    assert run(go) == 200
    assert sandbox.logins("up2money") == 1


def test_wrong_password_is_one_attempt(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth(password="wrong")

    async def go() -> None:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            for _ in range(3):
                with pytest.raises(InvalidCredentials) as caught:
                    await client.get(sandbox.teamup_url + "/customers")
                assert_nothing_secret(texts_of_exception(caught.value), "wrong")

    run(go)
    assert sandbox.login_attempts("teamup") == 1


def test_async_iterator_body_is_not_resent_empty(sandbox: Sandbox, teamup_auth: Any) -> None:
    auth = teamup_auth()

    async def body() -> AsyncIterator[bytes]:
        yield b"one-shot"

    async def go() -> None:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            await client.get(sandbox.teamup_url + "/echo")
            sandbox.revoke_tokens("teamup")
            with pytest.raises(BodyNotReplayable):
                await client.post(sandbox.teamup_url + "/echo", content=body())

    run(go)
    assert sandbox.logins("teamup") == 2
    assert [r.body for r in sandbox.received if r.path.endswith("/echo")][-1] == b"one-shot"


def test_https_and_proxy_are_the_clients(
    auth_plugins_sandbox_tls: Sandbox, forward_proxy: ForwardProxy
) -> None:
    from auth_plugins import TeamUpAuth
    from auth_plugins.sandbox import (
        DEMO_TEAMUP_DIRECT_AUTH_KEY,
        DEMO_TEAMUP_PASSWORD,
        DEMO_TEAMUP_USERNAME,
    )

    sandbox = auth_plugins_sandbox_tls
    auth = TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
    )
    context = ssl.create_default_context(cafile=sandbox.ca_file)

    async def go() -> None:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            with pytest.raises(LoginError, match="could not be verified") as caught:
                await client.get(sandbox.teamup_url + "/customers")
            assert_nothing_secret(texts_of_exception(caught.value))
        async with httpx.AsyncClient(
            auth=auth, verify=context, proxy=forward_proxy.url, timeout=TIMEOUT
        ) as client:
            assert (await client.get(sandbox.teamup_url + "/customers")).status_code == 200

    run(go)
    assert forward_proxy.seen == [("CONNECT", f"127.0.0.1:{sandbox.port}")]
    assert sandbox.logins("teamup") == 1


# -- single flight -------------------------------------------------------------------------


def test_200_tasks_on_a_cold_start_make_one_login(sandbox: Sandbox, up2money_auth: Any) -> None:
    auth = up2money_auth()

    async def go() -> list[int]:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            url = sandbox.up2money_url + "/managed_accounts"
            return [
                r.status_code for r in await asyncio.gather(*(client.get(url) for _ in range(200)))
            ]

    assert run(go) == [200] * 200
    assert sandbox.logins("up2money") == 1


def test_tasks_waiting_on_a_login_use_its_token_when_the_store_keeps_nothing(
    sandbox: Sandbox, up2money_auth: Any
) -> None:
    """The tasks that waited on the loop's lock find the token the first one got in memory:
    with a store that keeps nothing, looking in the store would send them to log in too."""
    auth = up2money_auth(token_store=KeepsNothingStore())

    async def go() -> tuple[list[int], list[str]]:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            url = sandbox.up2money_url + "/managed_accounts"
            responses = await asyncio.gather(*(client.get(url) for _ in range(5)))
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            auth.forget_token()
            tokens = await asyncio.gather(*(auth.aget_token(client) for _ in range(5)))
        return [r.status_code for r in responses], [t.access_token for t in tokens]

    statuses, tokens = run(go)
    assert statuses == [200] * 5
    assert len(set(tokens)) == 1  # the five get_token calls: one login, its token for all
    assert sandbox.logins("up2money") == 2


class RefreshFailsOnce(httpx.AsyncHTTPTransport):
    """The real transport, except that the first token refresh cannot connect."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/refresh_access_token") and not self.failed:
            self.failed = True
            raise httpx.ConnectError("connection refused", request=request)
        return await super().handle_async_request(request)


def test_a_refresh_that_cannot_connect_falls_back_to_a_password_login(
    sandbox: Sandbox, teamup_auth: Any
) -> None:
    """The failed refresh is the core's to handle (it logs in with the password instead):
    the renewal goes on to that login and ends with its token.

    A tiny idle_timeout makes the token due for renewal as soon as any time has passed.
    """
    auth = teamup_auth(token_store=KeepsNothingStore(), idle_timeout=1e-9)
    transport = RefreshFailsOnce()

    async def go() -> tuple[Token, Token]:
        async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
            first = await auth.aget_token(client)
            assert first.refresh_token
            return first, await auth.aget_token(client)

    first, second = run(go)
    assert transport.failed
    assert isinstance(second, Token)
    assert second.access_token != first.access_token
    assert second is auth.token
    assert (sandbox.logins("teamup"), sandbox.refreshes("teamup")) == (2, 0)


def test_two_loops_in_two_threads_share_a_file_store(
    sandbox: Sandbox, teamup_auth: Any, tmp_path: Any
) -> None:
    store = FileTokenStore(tmp_path)
    sandbox.teamup.config.login_delay = 0.3  # both threads ask while the first login runs
    statuses: list[int] = []

    def thread_main() -> None:
        auth = teamup_auth(token_store=store)

        async def go() -> list[int]:
            async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
                url = sandbox.teamup_url + "/customers"
                return [
                    r.status_code
                    for r in await asyncio.gather(*(client.get(url) for _ in range(20)))
                ]

        statuses.extend(run(go))

    run_threads(2, thread_main)  # fails on a hung thread or one that raised
    assert statuses == [200] * 40
    assert sandbox.logins("teamup") == 1


def test_a_slow_login_does_not_stall_the_loop(sandbox: Sandbox, teamup_auth: Any) -> None:
    sandbox.teamup.config.login_delay = 1.0
    auth = teamup_auth(token_store=FileTokenStore())

    async def go() -> float:
        loop = asyncio.get_running_loop()
        longest = 0.0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal longest
            last = loop.time()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now = loop.time()
                longest = max(longest, now - last)
                last = now

        ticking = asyncio.create_task(ticker())
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            response = await client.get(sandbox.teamup_url + "/customers")
        done.set()
        await ticking
        assert response.status_code == 200
        return longest

    # A loop blocked for the login would show a gap of the whole 1 s login delay, at least;
    # a shorter one is the machine's scheduling, which a loaded machine may stretch.
    assert run(go) < 0.9


def test_cancelling_the_task_that_logs_in_frees_the_others_and_the_lock(
    sandbox: Sandbox, teamup_auth: Any, tmp_path: Any
) -> None:
    sandbox.teamup.config.login_delay = 0.5
    store = FileTokenStore(tmp_path)
    auth = teamup_auth(token_store=store)
    url = sandbox.teamup_url + "/customers"

    async def go() -> list[int]:
        async with httpx.AsyncClient(auth=auth, timeout=TIMEOUT) as client:
            first = asyncio.create_task(client.get(url))
            for _ in range(500):  # until the first login reaches the sandbox
                if any("password_login" in r.path for r in sandbox.received):
                    break
                await asyncio.sleep(0.01)
            others = [asyncio.create_task(client.get(url)) for _ in range(5)]
            await asyncio.sleep(0.05)
            first.cancel()
            with pytest.raises(asyncio.CancelledError):
                await first
            done = await asyncio.wait_for(asyncio.gather(*others), timeout=20)
            return [r.status_code for r in done]

    assert run(go) == [200] * 5
    # The cancelled login's answer never reached the auth: one of the others logged in again.
    assert sandbox.login_attempts("teamup") == 2
    # The store's lock (thread lock and file lock) is free: another thread takes it at once.
    took: list[bool] = []

    def take() -> None:
        with store.lock(auth.key):
            took.append(True)

    run_threads(1, take, timeout=10)
    assert took == [True]
