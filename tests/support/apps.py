"""The types of the `make_app` and `seeded` fixtures (tests/conftest.py), for the tests that ask."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from flask import Flask

#: `make_app(migrated=True, **changes)`: the app on the test's config with those fields replaced.
AppFactory = Callable[..., Flask]

T = TypeVar("T")


class Seeded(Protocol):
    """`seeded(key, build)`: the database `build()` left, made once per run, and its result."""

    def __call__(self, key: str, build: Callable[[], T]) -> T: ...
