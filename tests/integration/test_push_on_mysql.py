"""The push receiver tests, rerun with MySQL behind the app."""

from tests.unit.test_push import *  # noqa: F403
