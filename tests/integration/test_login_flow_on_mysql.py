"""The unit suite's login flow tests, rerun with MySQL behind the app."""

from tests.unit.test_login_flow import *  # noqa: F403
