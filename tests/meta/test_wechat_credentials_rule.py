"""When tests may call the real WeChat API."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.envfiles import PROJECT_ROOT
from tests.support.wechat_credentials import missing_real_credentials


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "WX_APPID and WX_SECRET not set"),
        ({"WX_APPID": "wx1"}, "WX_SECRET not set"),
        ({"WX_APPID": "wx-test", "WX_SECRET": "s"}, "WX_APPID contain 'test'"),
        ({"WX_APPID": "wx1", "WX_SECRET": "TestSecret"}, "WX_SECRET contain 'test'"),
    ],
)
def test_placeholder_credentials_are_refused(env: dict[str, str], reason: str) -> None:
    problem = missing_real_credentials(env)
    assert problem is not None
    assert problem.startswith(reason)


def test_real_looking_credentials_pass() -> None:
    assert missing_real_credentials({"WX_APPID": "wx8a1b", "WX_SECRET": "9f3e"}) is None


def test_override_accepts_values_that_look_like_tests() -> None:
    env = {"WX_APPID": "wxtest1", "WX_SECRET": "s", "USE_REAL_WECHAT_CREDENTIALS": "true"}
    assert missing_real_credentials(env) is None


def test_the_example_env_file_keeps_the_guard_on() -> None:
    """Whoever copies .env.manual.example gets test-looking values skipped, not sent to WeChat."""
    text = (PROJECT_ROOT / ".env.manual.example").read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#"
    )
    assert settings["USE_REAL_WECHAT_CREDENTIALS"].strip().lower() != "true"
    assert missing_real_credentials(settings) is not None


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        ({"WX_APPID": "", "WX_SECRET": ""}, "WX_APPID and WX_SECRET not set"),
        (
            {"WX_APPID": "wx-test-appid", "WX_SECRET": "test-secret"},
            "WX_APPID and WX_SECRET contain 'test'",
        ),
    ],
)
def test_the_manual_suite_skips_with_its_reason_and_succeeds(
    credentials: dict[str, str], reason: str
) -> None:
    """`nox -s manual` (and `pytest tests`) without real credentials: skipped, exit 0.

    Values given here, even empty, win over a developer's own .env.manual.
    """
    env = {**os.environ, **credentials, "USE_REAL_WECHAT_CREDENTIALS": ""}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/manual", "--no-cov", "-p", "no:cacheprovider"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    skipped = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert any(f"real WeChat API not called: {reason}" in line for line in skipped), output
    last = output.strip().splitlines()[-1]
    assert "skipped" in last, last
    assert "passed" not in last, last
