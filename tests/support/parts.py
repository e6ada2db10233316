"""A tally per test folder at the end of a run that spans several: `meta: 108 passed`.

`nox -s unit` runs tests/unit (the service) and tests/meta (the repository's own
files: the lock, CI, deploy files, docs, and the harness) in one pytest run, so
they share one coverage measurement and one set of workers; pytest's own last
line adds them together, and these lines tell them apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import pytest

#: pytest's outcomes, in the order its own summary line names them.
OUTCOMES = ("failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "error")


def part_of(nodeid: str) -> str | None:
    """The folder under tests/ a test or collected file belongs to (`unit`, `meta`), if any."""
    path = nodeid.split("::", 1)[0].split("/")
    return path[1] if len(path) > 2 and path[0] == "tests" else None


def tallies(stats: Mapping[str, Sequence[object]]) -> dict[str, Counter[str]]:
    """Outcome counts per part, from the terminal reporter's reports (workers' included)."""
    counted: dict[str, Counter[str]] = {}
    for outcome in OUTCOMES:
        for report in stats.get(outcome, ()):
            part = part_of(getattr(report, "nodeid", ""))
            if part is not None:
                counted.setdefault(part, Counter())[outcome] += 1
    return counted


def summary(stats: Mapping[str, Sequence[object]]) -> list[str]:
    """One line per part, `unit: 2 failed, 575 passed`; none when the run had only one part."""
    counted = tallies(stats)
    if len(counted) < 2:
        return []
    lines = []
    for part, counts in sorted(counted.items()):
        said = []
        for outcome in OUTCOMES:
            if counts[outcome]:
                noun = "errors" if outcome == "error" and counts[outcome] > 1 else outcome
                said.append(f"{counts[outcome]} {noun}")
        lines.append(f"{part}: {', '.join(said)}")
    return lines


@pytest.hookimpl(trylast=True)  # after the coverage report, just above pytest's own last line
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in summary(terminalreporter.stats):
        terminalreporter.write_line(line)
