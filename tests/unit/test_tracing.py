"""tests/support/tracing.py: every module of service/ is imported before collection is untraced."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import service
from tests.support import tracing


def test_every_module_of_the_package_is_imported_and_no_migration() -> None:
    root = Path(service.__file__).parent
    expected = {
        ".".join(["service", *path.relative_to(root).with_suffix("").parts]).removesuffix(
            ".__init__"
        )
        for path in root.rglob("*.py")
        if path.stem.isidentifier() and "__pycache__" not in path.parts
    } - {"service"}
    assert set(tracing.import_service()) == expected
    assert expected <= set(sys.modules)
    assert not any(name.startswith("service.migrations.0") for name in expected)


def test_pausing_without_coverage_changes_nothing(pytestconfig: pytest.Config) -> None:
    tracer = sys.gettrace()
    with tracing.paused(pytestconfig):
        inside = sys.gettrace()
    # Measured, the tracer rests inside and comes back after (a new one, as coverage
    # makes on each start); unmeasured (--no-cov), there was none, and none appears.
    assert inside is None
    assert (sys.gettrace() is None) == (tracer is None)
