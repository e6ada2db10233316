"""Manual mode refuses to start on placeholder credentials (checked again here, as a test)."""

from __future__ import annotations

import os

import pytest

from tests.support.wechat_credentials import missing_real_credentials


@pytest.mark.wechat
def test_credentials_are_real() -> None:
    assert missing_real_credentials(os.environ) is None
