"""The benchmarks: ``./dev bench`` (or ``.venv/bin/python benchmarks/run.py``).

Prints one Markdown table; each figure stands next to a baseline measured in
the same run, on the same machine, against the same local sandbox:

1. per-request cost once logged in (a session with the auth against one
   sending the same headers statically), target ratio at most 1.03;
2. logins the vendor sees (threads, processes, HTTPie runs in a row) against
   the same work with nothing shared;
3. HTTPie start-up with auth-plugins installed against without, target ratio
   at most 1.03;
4. a fleet on a RedisTokenStore (a redis-server started for the run): logins
   for 32 processes cold and after a revocation (target 1 each), and the
   per-request cost with a token held against a memory store (at most 1.05);
5. open descriptors and memory for many auth objects (one request each)
   against the same requests without auth;
6. httpx, sync and async: per-request cost once logged in (target ratio at
   most 1.03), the longest event-loop stall during a 1 s login (goal 10 ms),
   logins for 200 concurrent tasks on a cold start (goal 1);
7. listing 10,000 cached tokens in the file store (``auth-plugins tokens``)
   against ``os.listdir`` of the same folder;
8. a cold start of 8 and 32 processes sharing an empty FileTokenStore, one
   request each, against the same processes sending a typed-in header.

``--quick`` runs fewer rounds (a smoke test); ``--only 1,4`` picks benchmarks;
``--json FILE`` also writes the figures as JSON. The exit status is 0 unless
``--strict`` is given and a target is missed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

# Run as a script: this folder's modules import each other by plain name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_coldstart
import bench_descriptors
import bench_fleet
import bench_httpx
import bench_listing
import bench_logins
import bench_overhead
import bench_startup
from benchlib import Row, SandboxProcess, format_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke test")
    parser.add_argument("--only", default="1,2,3,4,5,6,7,8", help="which benchmarks, e.g. 1,3")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    chosen = {part.strip() for part in args.only.split(",") if part.strip()}
    known = {"1", "2", "3", "4", "5", "6", "7", "8"}
    unknown = chosen - known
    if unknown:
        parser.error(f"--only takes {', '.join(sorted(known))}, not {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    rows: list[Row] = []
    with SandboxProcess() as sandbox:
        if "1" in chosen:
            rounds, per_round = (4, 50) if args.quick else (16, 250)
            rows += bench_overhead.run(sandbox, rounds, per_round)
        if "2" in chosen:
            rows += bench_logins.run(sandbox)
        if "3" in chosen:
            rows += bench_startup.run(sandbox, 3 if args.quick else 20)
        if "4" in chosen:
            rounds, per_round = (4, 50) if args.quick else (16, 250)
            rows += bench_fleet.run(sandbox, rounds, per_round)
        if "6" in chosen:
            rounds, per_round = (4, 50) if args.quick else (16, 250)
            rows += bench_httpx.run(sandbox, rounds, per_round)
        if "8" in chosen:
            rows += bench_coldstart.run(sandbox, 2 if args.quick else 7)
    if "5" in chosen:
        rows += bench_descriptors.run((200,) if args.quick else (1_000, 10_000))
    if "7" in chosen:
        rows += bench_listing.run(1_000 if args.quick else 10_000, 3 if args.quick else 11)
    elapsed = time.perf_counter() - started

    print(format_table(rows))
    print()
    print(
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{_cpus()} CPUs; took {elapsed:.0f}s"
    )
    missed = [row for row in rows if row.verdict == "MISSED"]
    for row in missed:
        print(f"target missed: {row.name}: ratio {row.ratio:.3f} > {row.target}")
    if args.json:
        args.json.write_text(json.dumps([row.as_dict() for row in rows], indent=2))
    return 1 if missed and args.strict else 0


def _cpus() -> str:
    import os

    return str(os.cpu_count() or "?")


if __name__ == "__main__":
    sys.exit(main())
