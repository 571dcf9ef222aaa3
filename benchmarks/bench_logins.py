"""Benchmark 2: how many logins the vendor sees.

Each figure is counted by the sandbox, and each has a baseline measured the
same way in the same run: the same work with nothing shared (an auth per
thread, a memory-only store per process, HTTPie with its token cache off),
which is what a client without a shared, locked token store does.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path
from typing import Callable

import requests
from benchlib import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    Row,
    SandboxProcess,
    base_env,
    httpie_config_dir,
    teamup_auth,
)

from auth_plugins import MemoryTokenStore, TeamUpAuth

THREADS = 32
REQUESTS_EACH = 20
PROCESSES = 8
HTTPIE_RUNS = 2


def _threads(sandbox: SandboxProcess, auth_for_thread: Callable[[], TeamUpAuth]) -> int:
    """Logins made by 32 threads x 20 requests, each thread's auth from ``auth_for_thread``."""
    sandbox.reset()
    url = sandbox.teamup_url + "/customers"
    start = threading.Barrier(THREADS)
    failures: list[str] = []

    def work() -> None:
        session = requests.Session()
        session.auth = auth_for_thread()
        start.wait()
        for _ in range(REQUESTS_EACH):
            status = session.get(url, timeout=60).status_code
            if status != 200:
                failures.append(str(status))

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"thread benchmark requests failed: {failures[:5]}")
    return sandbox.logins("teamup")


_WORKER = textwrap.dedent(
    """
    import sys
    import requests
    from auth_plugins import FileTokenStore, MemoryTokenStore, TeamUpAuth
    from auth_plugins.sandbox import (
        DEMO_TEAMUP_DIRECT_AUTH_KEY, DEMO_TEAMUP_PASSWORD, DEMO_TEAMUP_USERNAME,
    )

    base_url, folder = sys.argv[1], sys.argv[2]
    auth = TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=base_url,
        token_store=FileTokenStore(folder) if folder else MemoryTokenStore(),
    )
    print("ready", flush=True)
    sys.stdin.readline()
    print(requests.get(base_url + "/customers", auth=auth, timeout=60).status_code, flush=True)
    """
)


def _processes(sandbox: SandboxProcess, folder: str) -> int:
    """Logins made by 8 processes started together; ``folder`` "" = no shared store."""
    sandbox.reset()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, sandbox.teamup_url, folder],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=base_env(),
        )
        for _ in range(PROCESSES)
    ]
    try:
        for worker in workers:  # all imported and waiting: they meet the empty cache together
            assert worker.stdout is not None
            worker.stdout.readline()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        statuses = [worker.communicate(timeout=120)[0].strip() for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    if statuses != ["200"] * PROCESSES:
        raise RuntimeError(f"process benchmark requests failed: {statuses}")
    return sandbox.logins("teamup")


def _httpie_runs(sandbox: SandboxProcess, workdir: Path, cache: bool) -> list[int]:
    """Logins made by each of two ``http`` runs in a row (token cache on or off)."""
    sandbox.reset()
    http = Path(sys.executable).with_name("http")
    env = base_env(
        HTTPIE_CONFIG_DIR=str(httpie_config_dir(workdir)),
        AUTH_PLUGINS_CACHE_DIR=str(workdir / ("cache" if cache else "unused")),
        AUTH_PLUGINS_TOKEN_CACHE="on" if cache else "off",
        TEAMUP_BASE_URL=sandbox.teamup_url,
        TEAMUP_DIRECT_AUTH_KEY=DEMO_TEAMUP_DIRECT_AUTH_KEY,
    )
    per_run: list[int] = []
    for _ in range(HTTPIE_RUNS):
        before = sandbox.logins("teamup")
        subprocess.run(
            [
                str(http),
                "--ignore-stdin",
                "--check-status",
                "--print=",
                "--auth-type=teamup",
                f"--auth={DEMO_TEAMUP_USERNAME}:{DEMO_TEAMUP_PASSWORD}",
                "GET",
                sandbox.teamup_url + "/customers",
            ],
            env=env,
            check=True,
            timeout=120,
        )
        per_run.append(sandbox.logins("teamup") - before)
    return per_run


def run(sandbox: SandboxProcess) -> list[Row]:
    shared = teamup_auth(sandbox)
    ours = _threads(sandbox, lambda: shared)
    # Nothing shared: auth objects with the same credentials share a store by default.
    alone = _threads(sandbox, lambda: teamup_auth(sandbox, token_store=MemoryTokenStore()))
    rows = [
        Row(
            "2",
            f"Logins: {THREADS} threads x {REQUESTS_EACH} requests sharing one auth",
            ours,
            alone,
            "logins",
            "an auth and a store per thread",
        )
    ]
    with tempfile.TemporaryDirectory(prefix="auth-plugins-bench-") as tmp:
        work = Path(tmp)
        rows.append(
            Row(
                "2",
                f"Logins: {PROCESSES} processes sharing an empty FileTokenStore",
                _processes(sandbox, str(work / "tokens")),
                _processes(sandbox, ""),
                "logins",
                "a memory store each",
            )
        )
        cached = _httpie_runs(sandbox, work, cache=True)
        uncached = _httpie_runs(sandbox, work, cache=False)
        for i in range(HTTPIE_RUNS):
            rows.append(
                Row(
                    "2",
                    f"Logins: `http --auth-type teamup`, run {i + 1} of {HTTPIE_RUNS} in a row",
                    cached[i],
                    uncached[i],
                    "logins",
                    "token cache off",
                )
            )
    return rows
