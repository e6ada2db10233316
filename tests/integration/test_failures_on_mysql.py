"""The unit suite's failures tests, rerun with MySQL behind the app."""

from tests.unit.test_failures import *  # noqa: F403
