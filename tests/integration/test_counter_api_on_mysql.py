"""The unit suite's counter api tests, rerun with MySQL behind the app."""

from tests.unit.test_counter_api import *  # noqa: F403
