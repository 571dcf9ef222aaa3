"""Benchmark 8: a cold start of 8 and 32 processes sharing one FileTokenStore.

Each round starts N Python processes at once and times them from the first
spawn until the last has its API answer. Ours: each process imports requests
and auth_plugins and makes one request with a TeamUpAuth on an empty
FileTokenStore (one of them logs in, the others wait on its lock and read the
token it wrote). Baseline, in the same run, rounds interleaved: the same
processes sending the same request with the header typed in (a static token,
no auth_plugins imported). The ratio is the median of the per-pair ratios.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from benchlib import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    Row,
    SandboxProcess,
    base_env,
    median,
    teamup_auth,
)

from auth_plugins import MemoryTokenStore

SIZES = (8, 32)

_WITH_AUTH = textwrap.dedent(
    """
    import sys
    import requests
    from auth_plugins import FileTokenStore, TeamUpAuth

    base_url, folder, user, password, key = sys.argv[1:6]
    auth = TeamUpAuth(
        user, password, direct_auth_key=key, base_url=base_url,
        token_store=FileTokenStore(folder),
    )
    sys.exit(requests.get(base_url + "/customers", auth=auth, timeout=120).status_code != 200)
    """
)

_WITHOUT_AUTH = textwrap.dedent(
    """
    import sys
    import requests

    base_url, token = sys.argv[1:3]
    headers = {"Authorization": "Bearer " + token}
    sys.exit(requests.get(base_url + "/customers", headers=headers, timeout=120).status_code != 200)
    """
)


def _start_all(commands: list[list[str]]) -> float:
    """Seconds from the first spawn until every process has exited with status 0."""
    env = base_env()
    started = time.perf_counter()
    processes = [subprocess.Popen(command, env=env) for command in commands]
    statuses = [process.wait(timeout=300) for process in processes]
    elapsed = time.perf_counter() - started
    if any(statuses):
        raise RuntimeError(f"cold-start benchmark: some processes failed: {statuses}")
    return elapsed


def _a_token(sandbox: SandboxProcess) -> str:
    """A valid token for the baseline's typed-in header (logged in once, outside the timing)."""
    return teamup_auth(sandbox, token_store=MemoryTokenStore()).get_token().access_token


def run(sandbox: SandboxProcess, rounds: int) -> list[Row]:
    rows: list[Row] = []
    token = _a_token(sandbox)
    for size in SIZES:
        ours: list[float] = []
        theirs: list[float] = []
        logins: list[int] = []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory(prefix="auth-plugins-cold-") as tmp:
                folder = str(Path(tmp) / "tokens")
                before = sandbox.logins("teamup")
                ours.append(
                    _start_all(
                        [
                            [
                                sys.executable,
                                "-c",
                                _WITH_AUTH,
                                sandbox.teamup_url,
                                folder,
                                DEMO_TEAMUP_USERNAME,
                                DEMO_TEAMUP_PASSWORD,
                                DEMO_TEAMUP_DIRECT_AUTH_KEY,
                            ]
                        ]
                        * size
                    )
                )
                logins.append(sandbox.logins("teamup") - before)
            theirs.append(
                _start_all(
                    [[sys.executable, "-c", _WITHOUT_AUTH, sandbox.teamup_url, token]] * size
                )
            )
        pairs = [a / b for a, b in zip(ours, theirs)]
        rows.append(
            Row(
                "8",
                f"Cold start: {size} processes, one request each, sharing an empty "
                f"FileTokenStore, median of {rounds}",
                median(ours) * 1000,
                median(theirs) * 1000,
                "ms",
                "the same processes, header typed in, no auth_plugins",
                paired_ratio=median(pairs),
            )
        )
        rows.append(
            Row(
                "8",
                f"Cold start: logins for {size} processes (most in one round)",
                max(logins),
                size,
                "logins",
                "one per process",
            )
        )
    return rows
