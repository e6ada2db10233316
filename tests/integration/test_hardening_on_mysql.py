"""The hardening tests, rerun with MySQL behind the app."""

from tests.unit.test_hardening import *  # noqa: F403
