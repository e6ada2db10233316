"""Lines a run prints past pytest's capture, and again in its summary, so CI's log names them."""

from __future__ import annotations

import logging

import pytest

log = logging.getLogger(__name__)
SUMMARY_LINES = pytest.StashKey[list[str]]()


def say(config: pytest.Config, line: str) -> None:
    log.info(line)
    config.stash.setdefault(SUMMARY_LINES, []).append(line)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


def summary_lines(config: pytest.Config) -> list[str]:
    return config.stash.get(SUMMARY_LINES, [])
