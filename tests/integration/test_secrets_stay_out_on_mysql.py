"""The unit suite's secrets stay out tests, rerun with MySQL behind the app."""

from tests.unit.test_secrets_stay_out import *  # noqa: F403
