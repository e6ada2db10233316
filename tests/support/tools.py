"""The environment for a tool the tests run that is not the service: schemathesis, pip, linters.

Coverage measures every Python process the tests start (`patch = ["subprocess"]` in
pyproject.toml), by handing it COVERAGE_PROCESS_CONFIG through the environment. A tool
runs none of `service/`, so measuring it adds nothing, and on Python 3.12 tracing costs
it about half its speed: the schemathesis run took 30 s traced and 15 s untraced.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: What makes coverage start in a new Python process (coverage's .pth file reads these).
COVERAGE_SWITCHES = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


def untraced(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (this process's environment by default) without coverage's switches."""
    env = dict(os.environ if base is None else base)
    for name in COVERAGE_SWITCHES:
        env.pop(name, None)
    return env
