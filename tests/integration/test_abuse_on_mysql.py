"""The unit suite's abuse tests, rerun with MySQL behind the app."""

from tests.unit.test_abuse import *  # noqa: F403
