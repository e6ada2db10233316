"""Lines a run prints past pytest's capture, and again in its summary, so CI's log names them."""

from __future__ import annotations

import logging
from typing import Any

import pytest

log = logging.getLogger(__name__)
SUMMARY_LINES = pytest.StashKey[list[str]]()
#: Where an xdist worker leaves its lines for the controller (`config.workeroutput`).
WORKER_OUTPUT_KEY = "summary_lines"


def say(config: pytest.Config, line: str) -> None:
    log.info(line)
    config.stash.setdefault(SUMMARY_LINES, []).append(line)
    # A worker's terminal is not the run's: its lines reach the summary through
    # the controller (take_from_worker), which receives workeroutput at its end.
    worker_output = getattr(config, "workeroutput", None)
    if worker_output is not None:
        worker_output.setdefault(WORKER_OUTPUT_KEY, []).append(line)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


def summary_lines(config: pytest.Config) -> list[str]:
    return config.stash.get(SUMMARY_LINES, [])


def take_from_worker(config: pytest.Config, worker: str, output: dict[str, Any]) -> None:
    """The lines an xdist worker said, into the controller's summary, marked with its id."""
    lines = config.stash.setdefault(SUMMARY_LINES, [])
    lines.extend(f"[{worker}] {line}" for line in output.get(WORKER_OUTPUT_KEY, []))
