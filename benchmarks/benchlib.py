"""What the benchmarks share: a sandbox in its own process, rows of results, a table.

The sandbox runs in a separate process so that its server threads do not take
the benchmark's GIL: on a two-core machine the client and the server then
each get a core, as they would against a real vendor.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Optional

import requests

from auth_plugins import TeamUpAuth
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    TEAMUP_PREFIX,
    UP2MONEY_PREFIX,
)

__all__ = [
    "DEMO_TEAMUP_DIRECT_AUTH_KEY",
    "DEMO_TEAMUP_PASSWORD",
    "DEMO_TEAMUP_USERNAME",
    "DEMO_UP2MONEY_EMAIL",
    "DEMO_UP2MONEY_PASSWORD",
    "DEMO_UP2MONEY_SECRET",
    "Row",
    "SandboxProcess",
    "format_table",
    "httpie_config_dir",
    "median",
    "teamup_auth",
]

#: The sandbox process: rate limits off (a benchmark is far above 250 calls a
#: minute), print the URL, serve until stdin closes.
_SERVER = textwrap.dedent(
    """
    import os, sys
    from auth_plugins.sandbox import Sandbox, TeamUpConfig, Up2MoneyConfig

    delay = float(os.environ.get("BENCH_LOGIN_DELAY", "0"))
    sandbox = Sandbox(
        teamup=TeamUpConfig(rate_limit_per_minute=10**9, login_delay=delay),
        up2money=Up2MoneyConfig(rate_limit_per_minute=10**9, login_delay=delay),
    ).start()
    print(sandbox.url, flush=True)
    sys.stdin.read()
    sandbox.stop()
    """
)


class SandboxProcess:
    """The sandbox in a child process, read and reset through its control endpoints."""

    def __init__(self, login_delay: float = 0.0) -> None:
        """``login_delay``: seconds each password login takes (the async stall benchmark)."""
        self._control = requests.Session()
        env = {**os.environ, "BENCH_LOGIN_DELAY": str(login_delay)}
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError("the sandbox process did not start")
        self.teamup_url = self.url + TEAMUP_PREFIX
        self.up2money_url = self.url + UP2MONEY_PREFIX

    def logins(self, vendor: str) -> int:
        """Successful password logins so far (since the last reset)."""
        return self._count(vendor, "logins")

    def login_attempts(self, vendor: str) -> int:
        """Calls to the login endpoint so far, whatever their answer."""
        return self._count(vendor, "login_attempts")

    def _count(self, vendor: str, kind: str) -> int:
        stats = self._control.get(self.url + "/_sandbox/stats", timeout=10).json()
        return int(stats[vendor][kind]["total"])

    def revoke_tokens(self, vendor: str) -> None:
        """Revoke every token of ``vendor``: the next API calls answer 401."""
        self._control.post(
            self.url + "/_sandbox/revoke", json={"vendor": vendor}, timeout=10
        ).raise_for_status()

    def reset(self) -> None:
        """Counters and tokens back to new."""
        self._control.post(self.url + "/_sandbox/reset", timeout=10).raise_for_status()

    def close(self) -> None:
        """Stop the sandbox process."""
        self._control.close()
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


def httpie_config_dir(parent: Path) -> Path:
    """An HTTPie config folder with update checks off (they would spawn a process)."""
    folder = parent / "httpie-config"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"disable_update_warnings": True}))
    return folder


def base_env(**extra: str) -> dict[str, str]:
    """This process's environment without the package's own variables, plus ``extra``."""
    prefixes = ("TEAMUP_", "UP2MONEY_", "AUTH_PLUGINS_", "ACME_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(extra)
    return env


def teamup_auth(sandbox: SandboxProcess, **kwargs: Any) -> TeamUpAuth:
    """A ``TeamUpAuth`` for the sandbox's demo user; ``kwargs`` as ``TeamUpAuth`` takes them."""
    return TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
        **kwargs,
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class Row:
    """One figure: ours against a baseline measured in the same run."""

    #: "1", "2" or "3": which of the three benchmarks.
    group: str
    name: str
    ours: float
    baseline: float
    unit: str
    #: What the baseline is, shown next to its figure.
    baseline_is: str
    #: Largest acceptable ratio (``None``: no target).
    target: Optional[float] = None
    #: The median of ours/baseline over adjacent pairs of rounds, when timed in
    #: pairs: it cancels drift in the machine's load better than a ratio of medians.
    paired_ratio: Optional[float] = None

    @property
    def ratio(self) -> Optional[float]:
        if self.paired_ratio is not None:
            return self.paired_ratio
        return self.ours / self.baseline if self.baseline else None

    @property
    def verdict(self) -> str:
        if self.target is None or self.ratio is None:
            return ""
        return "ok" if self.ratio <= self.target else "MISSED"

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            "ours": self.ours,
            "baseline": self.baseline,
            "baseline_is": self.baseline_is,
            "unit": self.unit,
            "ratio": self.ratio,
            "target": self.target,
            "verdict": self.verdict,
        }


def _number(value: float, unit: str) -> str:
    if unit == "logins":
        return f"{value:.0f}"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "µs":
        return f"{value:.0f} µs"
    return f"{value:g} {unit}"


def format_table(rows: list[Row]) -> str:
    """A Markdown table: the README shows it as it is printed."""
    lines = [
        "| # | Measure | auth-plugins | Baseline (same run) | Ratio | Target |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        if row.unit == "logins":
            ratio = f"{row.ours:.0f} / {row.baseline:.0f}"
        else:
            ratio = "" if row.ratio is None else f"{row.ratio:.3f}"
        target = "" if row.target is None else f"≤ {row.target:g}: {row.verdict}"
        lines.append(
            f"| {row.group} | {row.name} | {_number(row.ours, row.unit)} "
            f"| {_number(row.baseline, row.unit)} ({row.baseline_is}) | {ratio} | {target} |"
        )
    return "\n".join(lines)
