"""The database-state tests, rerun with MySQL behind the app."""

from tests.unit.test_database_states import *  # noqa: F403
