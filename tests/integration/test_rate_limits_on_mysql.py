"""The unit suite's rate limit tests, rerun with MySQL behind the app."""

from tests.unit.test_rate_limits import *  # noqa: F403
