"""The unit suite's index page tests, rerun with MySQL behind the app."""

from tests.unit.test_index_page import *  # noqa: F403
