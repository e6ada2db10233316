"""What every run does besides its tests: hypothesis's profile, the `wechat` marker's rule,
the lines a run prints in its summary (from pytest-xdist's workers too), and the service's
log handler taken off at its end."""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest
from hypothesis import settings

from service.logs import JsonFormatter
from tests.support.reporting import summary_lines, take_from_worker
from tests.support.wechat_credentials import missing_real_credentials

#: Hypothesis: 40 examples per property in everyday runs; HYPOTHESIS_PROFILE=thorough for 1,000.
settings.register_profile("everyday", max_examples=40)
settings.register_profile("thorough", max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "everyday"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `wechat` call the real API: on placeholder credentials they skip, saying why."""
    problem = missing_real_credentials(os.environ)
    if problem is None:
        return
    skip = pytest.mark.skip(reason=f"real WeChat API not called: {problem}")
    for item in items:
        if "wechat" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: only called with `-n`
def pytest_testnodedown(node: Any, error: object) -> None:
    take_from_worker(node.config, node.gateway.id, getattr(node, "workeroutput", {}))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    for line in summary_lines(config):
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The service's log handler goes with the run whose stdout it holds.

    `service.logs.configure` adds it once per process, on the stdout of that
    moment: in a run, pytest's capture, which is closed at its end. A second
    run in the same process (mutmut runs the tests in its own process, then in
    each mutant's fork) would log into the closed stream, and "--- Logging
    error ---" would land in the output a CLI test reads.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler.formatter, JsonFormatter):
            root.removeHandler(handler)
