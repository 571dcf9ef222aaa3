"""Benchmark 6: httpx, sync and async.

1. Per-request cost with a token held: an ``httpx.Client`` (and an
   ``httpx.AsyncClient``, requests awaited one after another) with the auth
   against one sending the same headers statically; rounds alternate as in
   benchmark 1 and the ratio is the median of paired rounds. Goal ≤ 1.03.
2. The longest event-loop stall while a task logs in and the login takes one
   second (a sandbox whose logins wait 1 s, a file token store): a ticker task
   sleeps 1 ms at a time and records its longest gap. Goal < 10 ms.
3. Logins the vendor sees when 200 tasks start at once with no token. Goal 1.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable
from typing import Any, Callable

import httpx
from benchlib import (
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Row,
    SandboxProcess,
    median,
)

from auth_plugins import FileTokenStore, Up2MoneyAuth

#: Largest acceptable ratio of the per-request times (the issue's target).
TARGET = 1.03
#: The longest acceptable loop stall during a login, in ms (the issue's goal).
STALL_GOAL_MS = 10.0
TASKS = 200


def _auth(sandbox: SandboxProcess, **kwargs: Any) -> Up2MoneyAuth:
    return Up2MoneyAuth(
        DEMO_UP2MONEY_EMAIL,
        DEMO_UP2MONEY_PASSWORD,
        secret=DEMO_UP2MONEY_SECRET,
        base_url=sandbox.up2money_url,
        **kwargs,
    )


def _sync_round(client: httpx.Client, url: str, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        if client.get(url).status_code != 200:
            raise RuntimeError("benchmark request failed")
    return (time.perf_counter() - started) / count


async def _async_round(client: httpx.AsyncClient, url: str, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        if (await client.get(url)).status_code != 200:
            raise RuntimeError("benchmark request failed")
    return (time.perf_counter() - started) / count


def _row(title: str, times: dict[str, list[float]], ratios: list[float], n: str) -> Row:
    return Row(
        "6",
        f"{title}: GET on keep-alive, token held, median of {n}",
        median(times["auth"]) * 1e6,
        median(times["static"]) * 1e6,
        "µs",
        "static headers",
        TARGET,
        paired_ratio=median(ratios),
    )


def overhead_sync(sandbox: SandboxProcess, rounds: int, per_round: int) -> Row:
    url = sandbox.up2money_url + "/managed_accounts"
    auth = _auth(sandbox)
    with httpx.Client(auth=auth) as with_auth:
        first = with_auth.get(url)
        headers = {name: first.request.headers[name] for name in auth.vendor.api_headers}
        with httpx.Client(headers=headers) as static:
            clients = {"auth": with_auth, "static": static}
            times: dict[str, list[float]] = {"auth": [], "static": []}
            ratios = []
            for i in range(rounds):
                for which in ["auth", "static"] if i % 2 == 0 else ["static", "auth"]:
                    times[which].append(_sync_round(clients[which], url, per_round))
                ratios.append(times["auth"][-1] / times["static"][-1])
    return _row("httpx.Client", times, ratios, f"{rounds} rounds x {per_round}")


def overhead_async(sandbox: SandboxProcess, rounds: int, per_round: int) -> Row:
    url = sandbox.up2money_url + "/managed_accounts"
    auth = _auth(sandbox)

    async def go() -> Row:
        async with httpx.AsyncClient(auth=auth) as with_auth:
            first = await with_auth.get(url)
            headers = {name: first.request.headers[name] for name in auth.vendor.api_headers}
            async with httpx.AsyncClient(headers=headers) as static:
                clients = {"auth": with_auth, "static": static}
                times: dict[str, list[float]] = {"auth": [], "static": []}
                ratios = []
                for i in range(rounds):
                    for which in ["auth", "static"] if i % 2 == 0 else ["static", "auth"]:
                        times[which].append(await _async_round(clients[which], url, per_round))
                    ratios.append(times["auth"][-1] / times["static"][-1])
        return _row("httpx.AsyncClient", times, ratios, f"{rounds} rounds x {per_round}")

    return asyncio.run(go())


async def _ticking_while(work: Callable[[], Awaitable[object]]) -> float:
    """The longest gap (seconds) of a 1 ms ticker task while ``work`` runs on the same loop."""
    loop = asyncio.get_running_loop()
    longest, done = 0.0, asyncio.Event()

    async def ticker() -> None:
        nonlocal longest
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = loop.time()
            longest, last = max(longest, now - last), now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)  # the ticker runs before the work starts
    await work()
    done.set()
    await ticking
    return longest


def longest_stall(slow: SandboxProcess, runs: int = 3) -> list[Row]:
    """Median over ``runs`` of the longest gap while one task logs in (1 s, file store).

    The baseline row is the same measure around a plain 1 s request with no auth:
    the noise floor of this machine (GIL switches, other load), for comparison.
    """
    ours, plain = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            auth = _auth(slow, token_store=FileTokenStore(folder))

            async def go(auth: Up2MoneyAuth = auth) -> tuple[float, float]:
                async with httpx.AsyncClient(auth=auth, timeout=30) as client:
                    url = slow.up2money_url + "/managed_accounts"
                    login = await _ticking_while(lambda: client.get(url))
                async with httpx.AsyncClient(timeout=30) as client:
                    url = slow.up2money_url + "/auth/login"
                    bare = await _ticking_while(lambda: client.post(url, json={}))
                return login, bare

            login, bare = asyncio.run(go())
            ours.append(login)
            plain.append(bare)
    # The 1 ms sleep itself is part of every gap; the ratio is against the goal.
    title = f"async: longest event-loop stall, median of {runs}"
    return [
        Row(
            "6",
            f"{title}, while a task logs in (login takes 1 s)",
            median(ours) * 1e3,
            STALL_GOAL_MS,
            "ms",
            "goal",
            1.0,
        ),
        Row(
            "6",
            f"{title}, plain 1 s request, no auth (this machine's floor)",
            median(plain) * 1e3,
            STALL_GOAL_MS,
            "ms",
            "goal",
        ),
    ]


def cold_logins(sandbox: SandboxProcess) -> Row:
    sandbox.reset()
    auth = _auth(sandbox)

    async def go() -> None:
        async with httpx.AsyncClient(auth=auth, timeout=30) as client:
            url = sandbox.up2money_url + "/managed_accounts"
            await asyncio.gather(*(client.get(url) for _ in range(TASKS)))

    asyncio.run(go())
    return Row(
        "6",
        f"async: logins for {TASKS} concurrent tasks, cold start (goal 1)",
        sandbox.logins("up2money"),
        TASKS,
        "logins",
        "one per task",
    )


def run(sandbox: SandboxProcess, rounds: int, per_round: int) -> list[Row]:
    rows = [
        overhead_sync(sandbox, rounds, per_round),
        overhead_async(sandbox, rounds, per_round),
    ]
    with SandboxProcess(login_delay=1.0) as slow:
        rows += longest_stall(slow)
    rows.append(cold_logins(sandbox))
    return rows
