"""The mutation score of each room, from mutmut's results (``./dev mutate`` prints this).

mutmut keeps each mutant's outcome beside its copy of the code
(``mutants/**/*.py.meta``). This reads them and prints, for each room (core,
adapters, stores), how many mutants the checks caught and the score, then the
names of the survivors, to be read with ``mutmut show NAME``.

A caught mutant is one a test failed on, that hung until mutmut's timeout, or
that mypy rejected (``type_check_command``): each is a change the project's
own checks stop. A mutant no test runs ("no tests") counts as a survivor.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ROOMS = ("core", "adapters", "stores")
CAUGHT = frozenset({"killed", "timeout", "caught by type check", "segfault"})
MISSED = frozenset({"survived", "no tests", "suspicious"})
GOAL = 0.90


@dataclass(frozen=True)
class RoomScore:
    """What mutmut found in one room."""

    room: str
    mutants: int
    caught: int
    missed: int
    #: Mutants not tested yet (a run stopped early, or the code changed since).
    unrun: int
    survivors: tuple[str, ...]

    @property
    def score(self) -> float:
        judged = self.caught + self.missed
        return self.caught / judged if judged else 0.0

    @property
    def done(self) -> bool:
        return self.unrun == 0 and self.mutants > 0 and self.score >= GOAL


def outcomes(mutants: Path, status_of: Optional[Mapping[Any, str]] = None) -> dict[str, str]:
    """Mutant name -> mutmut's status word, for every mutant in ``mutants``."""
    if status_of is None:
        from mutmut.stats import status_by_exit_code  # installed by ./dev mutate

        status_of = status_by_exit_code
    found: dict[str, str] = {}
    for meta in sorted(mutants.glob("auth_plugins/**/*.py.meta")):
        data = json.loads(meta.read_text())
        for name, code in data.get("exit_code_by_key", {}).items():
            found[name] = status_of[code]
    return found


def room_of(name: str) -> str:
    """``auth_plugins.core.answers.x_quote__mutmut_3`` -> ``core``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in ROOMS else "other"


def score_rooms(found: Mapping[str, str], rooms: tuple[str, ...] = ROOMS) -> list[RoomScore]:
    """Each room's counts and survivors, from :func:`outcomes`."""
    scores = []
    for room in rooms:
        mine = {name: status for name, status in found.items() if room_of(name) == room}
        counts = Counter(mine.values())
        scores.append(
            RoomScore(
                room=room,
                mutants=len(mine),
                caught=sum(counts[s] for s in CAUGHT),
                missed=sum(counts[s] for s in MISSED),
                unrun=len(mine) - sum(counts[s] for s in CAUGHT | MISSED),
                survivors=tuple(sorted(n for n, s in mine.items() if s in MISSED)),
            )
        )
    return scores


def main(argv: Optional[list[str]] = None, status_of: Optional[Mapping[Any, str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Rooms are checked by hand: Python 3.11's argparse rejects an empty
    # nargs="*" list when choices are given. No room named means every room.
    parser.add_argument("rooms", nargs="*", help=f"any of {', '.join(ROOMS)}; all by default")
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--quiet", action="store_true", help="scores only, no survivor names")
    parser.add_argument(
        "--names",
        action="store_true",
        help="only the survivors' names, one a line",
    )
    args = parser.parse_args(argv)
    unknown = [room for room in args.rooms if room not in ROOMS]
    if unknown:
        parser.error(f"unknown room {unknown[0]!r}: the rooms are {', '.join(ROOMS)}")
    found = outcomes(args.mutants, status_of)
    if not found:
        print("no mutmut results here: run ./dev mutate first", file=sys.stderr)
        return 2
    scores = score_rooms(found, tuple(args.rooms) or ROOMS)
    if args.names:
        print("\n".join(name for s in scores for name in s.survivors))
        return 0
    print(f"{'room':<10} {'mutants':>8} {'caught':>7} {'missed':>7} {'unrun':>6} {'score':>7}")
    for s in scores:
        counts = f"{s.mutants:>8} {s.caught:>7} {s.missed:>7} {s.unrun:>6}"
        print(f"{s.room:<10} {counts} {s.score:>7.1%}")
    print(f"goal: {GOAL:.0%} caught in each room, every mutant run")
    if not args.quiet:
        for s in scores:
            if s.survivors:
                print(f"\nsurvivors in {s.room} ({len(s.survivors)}), shown by mutmut show NAME:")
                print("\n".join(f"  {name}  [{found[name]}]" for name in s.survivors))
    return 0 if all(s.done for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
