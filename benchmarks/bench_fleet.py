"""Benchmark 4: a fleet sharing a RedisTokenStore (a redis-server started for the run).

- logins the vendor sees for 32 processes started together on an empty
  store, and again after every token is revoked under them (target: 1 each),
  against a memory store per process;
- the per-request cost with a token held, RedisTokenStore against
  MemoryTokenStore (target ratio at most 1.05: no Redis round trip per request).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from types import TracebackType
from typing import Optional

import redis
import requests
from bench_overhead import _timed_round
from benchlib import (
    Row,
    SandboxProcess,
    base_env,
    median,
    teamup_auth,
)

from auth_plugins import MemoryTokenStore, RedisTokenStore

PROCESSES = 32
TARGET = 1.05

_WORKER = textwrap.dedent(
    """
    import sys
    import requests
    from auth_plugins import MemoryTokenStore, RedisTokenStore, TeamUpAuth
    from auth_plugins.sandbox import (
        DEMO_TEAMUP_DIRECT_AUTH_KEY, DEMO_TEAMUP_PASSWORD, DEMO_TEAMUP_USERNAME,
    )

    base_url, where = sys.argv[1], sys.argv[2]
    auth = TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=base_url,
        token_store=RedisTokenStore(where) if where else MemoryTokenStore(),
    )
    session = requests.Session()
    session.auth = auth
    print("ready", flush=True)
    for line in sys.stdin:  # one request per "go"
        print(session.get(base_url + "/customers", timeout=60).status_code, flush=True)
    """
)


class RedisProcess:
    """A throwaway redis-server on a free loopback port, no persistence."""

    def __init__(self) -> None:
        program = shutil.which("redis-server")
        if program is None:
            raise SystemExit("bench: needs redis-server on PATH (./dev bench installs it)")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._folder = tempfile.TemporaryDirectory(prefix="auth-plugins-bench-redis-")
        self._process = subprocess.Popen(
            [program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self._folder.name],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"redis://127.0.0.1:{self.port}/0"
        client = redis.Redis.from_url(self.url)
        for _ in range(500):
            try:
                client.ping()
                break
            except redis.RedisError:
                time.sleep(0.02)
        client.close()

    def flush(self) -> None:
        client = redis.Redis.from_url(self.url)
        client.flushall()
        client.close()

    def __enter__(self) -> RedisProcess:
        return self

    def __exit__(
        self,
        kind: Optional[type[BaseException]],
        value: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)
        self._folder.cleanup()


def _fleet_logins(sandbox: SandboxProcess, where: str) -> tuple[int, int]:
    """Logins by 32 processes: cold, then after every token is revoked."""
    sandbox.reset()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, sandbox.teamup_url, where],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=base_env(),
        )
        for _ in range(PROCESSES)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            worker.stdout.readline()
        counts = []
        for round_ in range(2):
            if round_:
                sandbox.revoke_tokens("teamup")
            before = sandbox.logins("teamup")
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
            statuses = []
            for worker in workers:
                assert worker.stdout is not None
                statuses.append(worker.stdout.readline().strip())
            if statuses != ["200"] * PROCESSES:
                raise RuntimeError(f"fleet benchmark requests failed: {statuses}")
            counts.append(sandbox.logins("teamup") - before)
    finally:
        for worker in workers:
            if worker.stdin is not None:
                worker.stdin.close()
            worker.wait(timeout=60)
    return counts[0], counts[1]


def run(sandbox: SandboxProcess, rounds: int, per_round: int) -> list[Row]:
    with RedisProcess() as server:
        cold, revoked = _fleet_logins(sandbox, server.url)
        alone_cold, alone_revoked = _fleet_logins(sandbox, "")
        # The goal is one login: as a ratio to the baseline, at most 1/baseline.
        rows = [
            Row("4", f"Logins: {PROCESSES} processes, cold, sharing RedisTokenStore",
                cold, alone_cold, "logins", "a memory store each", 1.0 / max(alone_cold, 1)),
            Row("4", f"Logins: the same {PROCESSES} processes after a revocation",
                revoked, alone_revoked, "logins", "a memory store each",
                1.0 / max(alone_revoked, 1)),
        ]  # fmt: skip
        server.flush()
        url = sandbox.teamup_url + "/customers"
        sessions: dict[str, requests.Session] = {}
        for name, store in (("redis", RedisTokenStore(server.url)), ("memory", MemoryTokenStore())):
            session = requests.Session()
            session.auth = teamup_auth(sandbox, token_store=store)
            session.get(url).raise_for_status()  # log in and open the connection first
            sessions[name] = session
        times: dict[str, list[float]] = {"redis": [], "memory": []}
        ratios = []
        for i in range(rounds):
            for name in ("redis", "memory") if i % 2 == 0 else ("memory", "redis"):
                times[name].append(_timed_round(sessions[name], url, per_round))
            ratios.append(times["redis"][-1] / times["memory"][-1])
        rows.append(
            Row(
                "4",
                f"RedisTokenStore, token held: GET on keep-alive, median of {rounds} x {per_round}",
                median(times["redis"]) * 1e6,
                median(times["memory"]) * 1e6,
                "µs",
                "MemoryTokenStore",
                TARGET,
                paired_ratio=median(ratios),
            )
        )
    return rows
