"""Benchmark 5: what many auth objects hold: open file descriptors and memory.

A multi-tenant service keeps one auth object per user. Each of N auth objects
makes one request (and so one login) through one ``requests.Session``; the
process's open descriptors and resident memory are read before and after, in
a child process of its own so that nothing else in this run counts. The
baseline is the same N requests with a static header and no auth.
"""

from __future__ import annotations

import json
import subprocess
import sys

from benchlib import Row

_CHILD = r"""
import json, os, resource, sys
import requests
from auth_plugins import TeamUpAuth
from auth_plugins.sandbox import (Sandbox, TeamUpConfig, DEMO_TEAMUP_USERNAME,
    DEMO_TEAMUP_PASSWORD, DEMO_TEAMUP_DIRECT_AUTH_KEY)

count, with_auth = int(sys.argv[1]), sys.argv[2] == "auth"

def descriptors():
    return len(os.listdir("/proc/self/fd"))

def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

with Sandbox(teamup=TeamUpConfig(rate_limit_per_minute=10**9)) as sandbox:
    url = sandbox.teamup_url + "/customers"
    session = requests.Session()
    session.auth = lambda r: r  # no ~/.netrc look-up
    session.get(sandbox.url + "/_sandbox/stats")
    before = (descriptors(), rss_kib())
    keep = []
    for _ in range(count):
        if with_auth:
            auth = TeamUpAuth(DEMO_TEAMUP_USERNAME, DEMO_TEAMUP_PASSWORD,
                              direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
                              base_url=sandbox.teamup_url)
            keep.append(auth)
            response = session.get(url, auth=auth)
        else:
            response = session.get(url, headers={"Authorization": "Bearer static"})
        assert response.status_code in (200, 401), response.status_code
    after = (descriptors(), rss_kib())
print(json.dumps({"fds": after[0] - before[0], "rss_kib": after[1] - before[1]}))
"""


def _measure(count: int, kind: str) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(count), kind],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    ).stdout
    result: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return result


def run(counts: tuple[int, ...]) -> list[Row]:
    rows: list[Row] = []
    for count in counts:
        ours, baseline = _measure(count, "auth"), _measure(count, "static")
        rows.append(
            Row(
                "5",
                f"{count} auth objects, one request each on one session: descriptors opened",
                ours["fds"],
                baseline["fds"],
                "fds",
                "no auth",
            )
        )
        rows.append(
            Row(
                "5",
                f"{count} auth objects, one request each: resident memory grown",
                ours["rss_kib"] / 1024,
                max(baseline["rss_kib"], 1) / 1024,
                "MiB",
                "no auth",
            )
        )
    return rows
