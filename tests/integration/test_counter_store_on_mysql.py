"""The unit suite's counter queries, rerun on MySQL through this suite's `database_url`."""

from tests.unit.test_counter_store import *  # noqa: F403
