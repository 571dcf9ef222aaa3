"""A fleet of processes sharing one RedisTokenStore (a real redis-server) or one token folder.

Every figure is counted by the sandbox. Processes are started first and
wait, imports done, until the test says "go", so that they meet the empty
store together.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)

HTTP = str(Path(sys.executable).parent / "http")
WRONG = "tok_not-the-password"

#: One process: build an auth (argv[1] is a JSON dict of settings), wait for "go",
#: make N requests, print a JSON list of statuses or error type names.
WORKER = textwrap.dedent(
    """
    import json, sys
    import requests
    from auth_plugins import FileTokenStore, RedisTokenStore, TeamUpAuth, Up2MoneyAuth

    job = json.loads(sys.argv[1])
    where = job.pop("store")
    store = RedisTokenStore(where) if where.startswith("redis") else FileTokenStore(where)
    kind = TeamUpAuth if job.pop("vendor") == "teamup" else Up2MoneyAuth
    url, count = job.pop("url"), job.pop("requests")
    auth = kind(token_store=store, **job)
    session = requests.Session()
    session.auth = auth
    print("ready", flush=True)
    sys.stdin.readline()
    results = []
    for _ in range(count):
        try:
            results.append(session.get(url, timeout=60).status_code)
        except Exception as exc:
            results.append(type(exc).__name__)
    print(json.dumps(results), flush=True)
    """
)


class Fleet:
    """Worker processes, started waiting; always killed at the end."""

    def __init__(self) -> None:
        self.workers: list[subprocess.Popen[str]] = []

    def start(self, count: int, **job: Any) -> list[subprocess.Popen[str]]:
        started = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, json.dumps(job)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=os.environ.copy(),
            )
            for _ in range(count)
        ]
        self.workers += started
        for worker in started:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        return started

    @staticmethod
    def go(workers: list[subprocess.Popen[str]]) -> None:
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()

    @staticmethod
    def results(workers: list[subprocess.Popen[str]], timeout: float = 120) -> list[Any]:
        return [json.loads(worker.communicate(timeout=timeout)[0]) for worker in workers]

    def close(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=30)


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    made = Fleet()
    yield made
    made.close()


@pytest.fixture(autouse=True)
def no_rate_limit(sandbox: Sandbox) -> None:
    sandbox.teamup.config.rate_limit_per_minute = 1_000_000
    sandbox.up2money.config.rate_limit_per_minute = 1_000_000


def teamup_job(sandbox: Sandbox, store: str, requests: int, **more: Any) -> dict[str, Any]:
    return {
        "vendor": "teamup",
        "store": store,
        "url": sandbox.teamup_url + "/customers",
        "requests": requests,
        "username": DEMO_TEAMUP_USERNAME,
        "password": DEMO_TEAMUP_PASSWORD,
        "direct_auth_key": DEMO_TEAMUP_DIRECT_AUTH_KEY,
        "base_url": sandbox.teamup_url,
        **more,
    }


def up2money_job(sandbox: Sandbox, store: str, password: str, requests: int = 1) -> dict[str, Any]:
    return {
        "vendor": "up2money",
        "store": store,
        "url": sandbox.up2money_url + "/managed_accounts",
        "requests": requests,
        "username": DEMO_UP2MONEY_EMAIL,
        "password": password,
        "secret": DEMO_UP2MONEY_SECRET,
        "base_url": sandbox.up2money_url,
    }


# -- one login -----------------------------------------------------------------------------


def test_32_processes_cold_make_one_login(sandbox: Sandbox, redis_url: str, fleet: Fleet) -> None:
    workers = fleet.start(32, **teamup_job(sandbox, redis_url, requests=20))
    fleet.go(workers)
    assert fleet.results(workers) == [[200] * 20] * 32
    assert sandbox.login_attempts("teamup") == 1
    assert sandbox.api_calls("teamup") == 32 * 20


def test_a_lock_holder_killed_mid_login_delays_the_others_by_its_expiry_only(
    sandbox: Sandbox, redis_url: str, fleet: Fleet
) -> None:
    sandbox.teamup.config.login_delay = 1.0  # a slow login, to be killed in the middle of
    timeout = 3.0  # the auth's whole-login deadline: the lock lapses 2 s after it
    job = teamup_job(sandbox, redis_url, requests=1, timeout=timeout)
    [holder] = fleet.start(1, **job)
    others = fleet.start(15, **job)
    fleet.go([holder])
    r = redis.Redis.from_url(redis_url)
    for _ in range(3000):  # until the holder is inside the login (bounded: 30 s)
        if sandbox.login_attempts("teamup") == 1:
            break
        time.sleep(0.01)
    assert sandbox.login_attempts("teamup") == 1
    [lock] = r.keys("auth-plugins:lock:*")
    assert 0 < r.pttl(lock) <= (timeout + 2.0) * 1000  # it cannot outlive the deadline
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    started = time.monotonic()
    fleet.go(others)
    # The others are not stuck behind the dead holder: they finish (the hang guard
    # is the communicate timeout), after the lock lapsed, with one login between them.
    assert fleet.results(others, timeout=60) == [[200]] * 15
    waited = time.monotonic() - started
    print(f"others finished {waited:.1f}s after the kill (expiry {timeout + 2:.0f}s + a 1s login)")
    assert sandbox.login_attempts("teamup") == 2
    r.close()


# -- a wrong password ----------------------------------------------------------------------


def test_20_processes_with_a_wrong_password_make_one_attempt(
    sandbox: Sandbox, redis_url: str, fleet: Fleet
) -> None:
    workers = fleet.start(20, **up2money_job(sandbox, redis_url, WRONG))
    fleet.go(workers)
    assert fleet.results(workers) == [["InvalidCredentials"]] * 20
    assert sandbox.login_attempts("up2money") == 1
    # No lockout (the sandbox locks after 5), and the right password works at once.
    [right] = fleet.start(1, **up2money_job(sandbox, redis_url, DEMO_UP2MONEY_PASSWORD))
    fleet.go([right])
    assert fleet.results([right]) == [[200]]
    assert sandbox.login_attempts("up2money") == 2


def test_processes_sharing_a_token_folder_remember_a_wrong_password(
    sandbox: Sandbox, tmp_path: Path, fleet: Fleet
) -> None:
    workers = fleet.start(10, **up2money_job(sandbox, str(tmp_path / "tokens"), WRONG))
    fleet.go(workers)
    assert fleet.results(workers) == [["InvalidCredentials"]] * 10
    assert sandbox.login_attempts("up2money") == 1


def test_8_http_runs_with_a_wrong_password_make_one_attempt(
    sandbox: Sandbox, redis_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "AUTH_PLUGINS_TOKEN_STORE": redis_url,
        "UP2MONEY_BASE_URL": sandbox.up2money_url,
        "UP2MONEY_SECRET": DEMO_UP2MONEY_SECRET,
        "HOME": str(tmp_path),
    }

    def http(password: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [HTTP, "--ignore-stdin", "--check-status", "-A", "up2money",
             "-a", f"{DEMO_UP2MONEY_EMAIL}:{password}", sandbox.up2money_url + "/managed_accounts"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    runs = [http(WRONG) for _ in range(8)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [1] * 8
    assert sandbox.login_attempts("up2money") == 1
    assert all("Traceback" not in err and WRONG not in err for _, err in outputs)
    assert sum("auth-plugins logout up2money" in err for _, err in outputs) == 7
    right = http(DEMO_UP2MONEY_PASSWORD)
    _, err = right.communicate(timeout=120)
    assert right.returncode == 0, err
    assert sandbox.logins("up2money") == 1
    assert sandbox.login_attempts("up2money") == 2


# -- a rate limit --------------------------------------------------------------------------


def test_a_rate_limit_seen_by_one_process_holds_back_all(
    sandbox: Sandbox, redis_url: str, fleet: Fleet
) -> None:
    sandbox.script_login("teamup", 429, b'{"message": "slow down"}', {"Retry-After": "5"})
    # Both started and waiting before the 429, so the second asks within its 5 s.
    first, second = fleet.start(2, **teamup_job(sandbox, redis_url, requests=1))
    fleet.go([first])
    assert fleet.results([first]) == [["RateLimited"]]
    fleet.go([second])
    assert fleet.results([second]) == [["RateLimited"]]
    assert sandbox.login_attempts("teamup") == 1
