"""The unit suite's migration tests, rerun on MySQL (GET_LOCK, implicit DDL commits)."""

from tests.unit.test_migrations import *  # noqa: F403
