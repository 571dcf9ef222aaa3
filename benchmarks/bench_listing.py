"""Benchmark 7: listing cached tokens (``auth-plugins tokens``) in a big cache folder.

A folder of the file store holding N tokens (one per user, as a service
with N users leaves it) is listed with ``FileTokenStore.keys()``; the
baseline is ``os.listdir`` of the same folder, the least any listing does.
Each figure is the median of several rounds, measured in this process after
one warm-up round (the folder's entries are in the page cache for both).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Callable

from benchlib import Row

from auth_plugins import FileTokenStore
from auth_plugins.stores import TokenKey
from auth_plugins.tokens import Token


def _median_ms(action: Callable[[], object], rounds: int) -> float:
    action()  # warm-up: both figures read a cached folder
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(count: int, rounds: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="auth-plugins-bench-") as folder:
        store = FileTokenStore(folder)
        token = Token("x" * 40, refresh_token="r" * 40, expires_at=time.time() + 3600)
        for number in range(count):
            store.save(TokenKey("teamup", "https://goteamup.com/api/v2", f"user{number}@x"), token)
        listed = store.keys()
        assert len(listed) == count, len(listed)
        ours = _median_ms(store.keys, rounds)
        baseline = _median_ms(lambda: os.listdir(folder), rounds)
    return [
        Row(
            "7",
            f"list {count} cached tokens (FileTokenStore.keys)",
            ours,
            baseline,
            "ms",
            "os.listdir",
        )
    ]
