"""The type of the `make_app` fixture (tests/conftest.py), for the tests that ask for it."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

#: `make_app(migrated=True, **changes)`: the app on the test's config with those fields replaced.
AppFactory = Callable[..., Flask]
