"""Coverage paused while pytest collects, with every module of `service/` imported under it.

Collecting imports every test module, and with them Hypothesis, openapi
tooling and the rest. Under coverage's tracer, which on Python 3.11 slows every
line it sees, measured or not, that took 2.4 s per process against 0.6 s
untraced, and with xdist each worker collects. None of it is measured; only
`service/` is. Its modules are imported first, under coverage, so the lines
that run on import (definitions, decorators, module constants) are counted as
they would be; then the tracer rests until the first test starts.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import service


def import_service() -> list[str]:
    """Every module of the package (the migrations are loaded by their router, not imported)."""
    names = [
        module.name
        for module in pkgutil.walk_packages(service.__path__, f"{service.__name__}.")
        if module.name.rpartition(".")[2].isidentifier()
    ]
    for name in names:
        importlib.import_module(name)
    return names


def _controller(config: pytest.Config) -> Any | None:
    """pytest-cov's controller while it measures this process; None without coverage."""
    plugin = config.pluginmanager.getplugin("_cov")
    controller = getattr(plugin, "cov_controller", None)
    return controller if controller is not None and controller.started else None


@contextmanager
def paused(config: pytest.Config) -> Iterator[None]:
    """No tracing inside, as pytest-cov's own `no_cover` marker does for a test."""
    controller = _controller(config)
    if controller is None:
        yield
        return
    controller.pause()
    try:
        yield
    finally:
        controller.resume()
