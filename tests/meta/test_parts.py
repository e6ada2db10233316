"""The tally per test folder (tests/support/parts.py): `nox -s unit` reports meta tests apart."""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.parts import part_of, summary


@dataclass
class Report:
    nodeid: str


def test_a_test_belongs_to_the_folder_under_tests() -> None:
    assert part_of("tests/meta/test_lock.py::test_x[a/b]") == "meta"
    assert part_of("tests/unit/test_counter_api.py") == "unit"  # a collection error's report
    assert part_of("tests/conftest.py") is None
    assert part_of("") is None


def test_each_folder_gets_its_own_line_in_pytest_s_words() -> None:
    stats = {
        "passed": [
            Report("tests/unit/test_a.py::t1"),
            Report("tests/unit/test_a.py::t2"),
            Report("tests/meta/test_b.py::t1"),
        ],
        "failed": [Report("tests/meta/test_b.py::t2")],
        "error": [Report("tests/meta/test_c.py"), Report("tests/meta/test_c.py::t1")],
        "skipped": [Report("tests/unit/test_a.py::t3")],
        "warnings": [Report("tests/unit/test_a.py::t1")],  # not an outcome: not counted
        "": [Report("tests/unit/test_a.py::t1")],
    }
    assert summary(stats) == [
        "meta: 1 failed, 1 passed, 2 errors",
        "unit: 2 passed, 1 skipped",
    ]


def test_a_run_of_one_folder_adds_nothing_to_pytest_s_own_line() -> None:
    assert summary({"passed": [Report("tests/unit/test_a.py::t1")]}) == []
    assert summary({}) == []
