"""The unit suite's jwt attacks tests, rerun with MySQL behind the app."""

from tests.unit.test_jwt_attacks import *  # noqa: F403
