"""The verdict of `nox -s mutate` (tests/support/mutation.py), on mutmut results written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import mutation

KILLED, SURVIVED = 1, 0  # the tests' exit code against a mutant: failed (killed), or passed


def run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    codes: dict[str, int],
    listed: dict[str, str],
) -> tuple[int, str]:
    """The verdict's exit code and what it printed, for these results and survivors file."""
    mutants = tmp_path / "mutants" / "service"
    mutants.mkdir(parents=True)
    (mutants / "counter.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    survivors = tmp_path / "survivors.txt"
    survivors.write_text("".join(f"{name}  {why}\n" for name, why in listed.items()))
    args = ["--gate=90", f"--mutants={tmp_path / 'mutants'}", f"--survivors={survivors}"]
    code = mutation.main(args)
    return code, capsys.readouterr().out


NAMES = [f"service.counter.x_increment__mutmut_{n}" for n in range(1, 21)]


def test_an_explained_survivor_under_the_gate_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    codes = dict.fromkeys(NAMES, KILLED) | {NAMES[0]: SURVIVED}
    code, out = run(tmp_path, capsys, codes=codes, listed={NAMES[0]: "equivalent"})
    assert code == 0, out
    assert "mutation score 95.0% (gate 90%): ok" in out


def test_an_unexplained_survivor_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    codes = dict.fromkeys(NAMES, KILLED) | {NAMES[0]: SURVIVED}
    code, out = run(tmp_path, capsys, codes=codes, listed={})
    assert code == 1
    assert f"unexplained (survived): {NAMES[0]}" in out


def test_a_listed_name_that_is_killed_or_gone_is_named_for_removal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = "service.counter.x_current__mutmut_99"
    listed = {NAMES[1]: "was equivalent", gone: "code since removed"}
    code, out = run(tmp_path, capsys, codes=dict.fromkeys(NAMES, KILLED), listed=listed)
    assert code == 0, out
    assert f"listed but killed now (remove the line): {NAMES[1]}" in out
    assert f"listed but no such mutant (remove the line): {gone}" in out
