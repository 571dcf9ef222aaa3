"""``scripts/mutation_report.py``: the per-room mutation score ``./dev mutate`` prints."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import mutation_report

# mutmut's own exit-code words (mutmut.stats.status_by_exit_code), the few used here.
STATUS = {
    1: "killed",
    0: "survived",
    33: "no tests",
    36: "timeout",
    37: "caught by type check",
    None: "not checked",
}


def write_meta(root: Path, module: str, codes: dict[str, object]) -> None:
    path = root / (module.replace(".", "/") + ".py.meta")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes}))


def test_scores_each_room_and_names_its_survivors(tmp_path: Path) -> None:
    write_meta(
        tmp_path,
        "auth_plugins.core.answers",
        {
            "auth_plugins.core.answers.x_quote__mutmut_1": 1,
            "auth_plugins.core.answers.x_quote__mutmut_2": 36,
            "auth_plugins.core.answers.x_quote__mutmut_3": 37,
            "auth_plugins.core.answers.x_quote__mutmut_4": 0,
            "auth_plugins.core.answers.x_quote__mutmut_5": 33,
        },
    )
    write_meta(
        tmp_path,
        "auth_plugins.stores.file",
        {
            "auth_plugins.stores.file.x_load__mutmut_1": 1,
            "auth_plugins.stores.file.x_load__mutmut_2": None,
        },
    )
    found = mutation_report.outcomes(tmp_path, STATUS)
    core, adapters, stores = mutation_report.score_rooms(found)
    assert (core.mutants, core.caught, core.missed, core.unrun) == (5, 3, 2, 0)
    assert core.score == pytest.approx(0.6)
    assert core.survivors == (
        "auth_plugins.core.answers.x_quote__mutmut_4",
        "auth_plugins.core.answers.x_quote__mutmut_5",
    )
    assert not core.done  # under the 90% goal
    assert (adapters.mutants, adapters.score, adapters.done) == (0, 0.0, False)
    assert (stores.caught, stores.unrun, stores.score) == (1, 1, 1.0)
    assert not stores.done  # a mutant not run yet: no score to claim


def test_a_room_at_the_goal_with_every_mutant_run_is_done() -> None:
    found = {f"auth_plugins.adapters.httpie.x_f__mutmut_{i}": "killed" for i in range(9)}
    found["auth_plugins.adapters.httpie.x_f__mutmut_9"] = "survived"
    [adapters] = mutation_report.score_rooms(found, ("adapters",))
    assert adapters.score == pytest.approx(0.9)
    assert adapters.done


def test_the_command_names_survivors_for_a_second_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_meta(
        tmp_path,
        "auth_plugins.core.answers",
        {
            "auth_plugins.core.answers.x_quote__mutmut_1": 1,
            "auth_plugins.core.answers.x_quote__mutmut_2": 0,
        },
    )
    write_meta(
        tmp_path, "auth_plugins.stores.file", {"auth_plugins.stores.file.x_load__mutmut_1": 33}
    )
    argv = ["--mutants", str(tmp_path), "--names"]
    assert mutation_report.main(argv, STATUS) == 0
    assert capsys.readouterr().out.split() == [
        "auth_plugins.core.answers.x_quote__mutmut_2",
        "auth_plugins.stores.file.x_load__mutmut_1",
    ]
    assert mutation_report.main(["core", *argv], STATUS) == 0  # one room only
    assert capsys.readouterr().out.split() == ["auth_plugins.core.answers.x_quote__mutmut_2"]
    # No room named: every room's table, and not done (under the goal, rooms unrun).
    assert mutation_report.main(["--mutants", str(tmp_path)], STATUS) == 1
    table = capsys.readouterr().out
    assert [line.split()[0] for line in table.splitlines()[1:4]] == ["core", "adapters", "stores"]


def test_an_unknown_room_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        mutation_report.main(["cores"])
    assert stop.value.code == 2
    assert "unknown room 'cores': the rooms are core, adapters, stores" in capsys.readouterr().err
