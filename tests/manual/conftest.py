"""Manual mode: the real WeChat API, with real credentials, only when asked for."""

from __future__ import annotations

import os

import pytest

from tests.support.envfiles import load_mode
from tests.support.wechat_credentials import missing_real_credentials

load_mode("manual")


def pytest_configure(config: pytest.Config) -> None:
    problem = missing_real_credentials(os.environ)
    if problem:
        pytest.exit(f"manual: {problem} (set them in .env.manual or the environment)", returncode=2)
