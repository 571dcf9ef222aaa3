"""Finding plugins: the entry points in our group, chosen by ``AUTH_PLUGINS_LOAD``.

Imported only when the plugin host loads third-party plugins: reading the
installed distributions' metadata is the slowest part of start-up, and a
built-in vendor needs none of it.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from dataclasses import dataclass
from typing import Callable

from .plugins import ENTRY_POINT_GROUP, LOAD_ENV


@dataclass(frozen=True)
class Candidate:
    """An entry point in our group, with the distribution that declares it."""

    entry_point: importlib.metadata.EntryPoint
    dist_name: str
    version: str

    @property
    def name(self) -> str:
        return self.entry_point.name

    @property
    def origin(self) -> str:
        return f"{self.dist_name} {self.version}"


def selected_entry_points(problem: Callable[[str], None]) -> list[Candidate]:
    """The entry points to load: all, or those ``AUTH_PLUGINS_LOAD`` names; by name."""
    wanted = os.environ.get(LOAD_ENV)
    only = None if wanted is None else {normal(n) for n in wanted.split(",") if n.strip()}
    chosen: dict[str, Candidate] = {}
    matched: set[str] = set()
    every = candidates()
    for candidate in every:
        if only is not None:
            names = {normal(candidate.name), normal(candidate.dist_name)} & only
            if not names:
                continue
            matched |= names
        earlier = chosen.get(candidate.name)
        if earlier is None:
            chosen[candidate.name] = candidate
        elif (earlier.dist_name, earlier.entry_point.value) != (
            candidate.dist_name,
            candidate.entry_point.value,
        ):
            # (The same distribution seen twice on sys.path is one plugin, not a clash.)
            problem(
                f"two installed plugins are named {candidate.name!r} "
                f"({earlier.origin} and {candidate.origin}); loading the first only"
            )
    if only:
        for name in sorted(only - matched):
            installed = ", ".join(sorted({c.name for c in every})) or "none"
            problem(
                f"{LOAD_ENV} names {name!r}, but no installed plugin has that name "
                f"(installed plugins: {installed})"
            )
    return list(chosen.values())


def candidates() -> list[Candidate]:
    """Every ``auth_plugins`` entry point on ``sys.path``, sorted by name.

    Read per distribution, as pip lists them, so that each entry point knows
    its distribution on every Python version (``EntryPoint.dist`` is 3.10+).
    """
    found: list[Candidate] = []
    for dist in importlib.metadata.distributions():
        ours = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
        if ours:
            # Reading the metadata parses a file: only for the few that are plugins.
            name = dist.metadata["Name"] or "unknown distribution"
            found.extend(Candidate(ep, name, dist.version) for ep in ours)
    return sorted(found, key=lambda c: (c.name, normal(c.dist_name), c.entry_point.value))


def normal(name: str) -> str:
    """Compare names as pip does: case, ``-``, ``_`` and ``.`` do not matter."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()
