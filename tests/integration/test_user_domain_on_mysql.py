"""The unit suite's user domain tests, rerun with MySQL behind the app."""

from tests.unit.test_user_domain import *  # noqa: F403
