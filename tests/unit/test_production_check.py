"""Production refuses to start with a TOKEN_SECRET anyone could know."""

from __future__ import annotations

import base64
import os
import random
import re
from collections.abc import Iterator

import pytest

from service import create_app
from service.config import PUBLISHED_SECRETS, Config, ConfigError
from tests.support.apps import TEST_TOKEN_SECRET
from tests.support.live_server import PROJECT_ROOT, gunicorn_until_it_stops
from tests.support.net import free_port

STRONG = "k3J9v0xQ2mZ7LwR5tY8pA1sD4fG6hJ0kL2zX5cV7bN9m"
PATTERN = "visible pattern"


def refusal(secret: str, app_env: str = "production") -> str | None:
    """Why the service refuses to start with this TOKEN_SECRET, or None when it starts."""
    try:
        Config(app_env=app_env, token_secret=secret).check()
    except ConfigError as error:
        return str(error)
    return None


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("", "not set"),
        ("short-secret", "shorter than 32 bytes"),
        ("x" * 31, "shorter than 32 bytes"),
        ("dev-only-token-secret-not-for-production", "example value"),
        ("s" * 40, PATTERN),
        ("a" * 52, PATTERN),
        (TEST_TOKEN_SECRET, PATTERN),
        ("abcdefgh" * 5, PATTERN),
        ("0123456789abcdefghij" + "0123456789abcdefghij", PATTERN),
        ("ab" * 24, PATTERN),
    ],
)
def test_production_refuses_weak_secrets(secret: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        Config(app_env="production", token_secret=secret).check()
    with pytest.raises(ConfigError, match=reason):
        create_app(Config(app_env="production", token_secret=secret))


def test_production_accepts_a_random_secret() -> None:
    assert refusal(STRONG) is None


def test_development_does_not_insist() -> None:
    assert refusal("", app_env="development") is None
    assert refusal("", app_env="production") is not None  # the setting makes the difference


def drawn_secrets(length: int, count: int = 200) -> Iterator[str]:
    """Secrets as `openssl rand -hex N` and `secrets.token_urlsafe(N)` make them, from a fixed
    seed: the same ones every run, so a refusal can be reproduced, not a one-in-10,000 flake."""
    draw = random.Random(f"token-secrets-{length}")
    for _ in range(count):
        raw = draw.randbytes(length)
        yield raw.hex()
        if length >= 24:
            yield base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@pytest.mark.parametrize("length", [16, 24, 32, 48, 64])
def test_production_accepts_random_secrets(length: int) -> None:
    """token_hex(16) is `openssl rand -hex 16`: 32 characters from 16 symbols."""
    drawn = list(drawn_secrets(length))
    assert len(set(drawn)) == len(drawn) == (400 if length >= 24 else 200)
    assert [s for s in drawn if refusal(s) is not None] == []


def published_secret_values() -> set[str]:
    """TOKEN_SECRET values written anywhere in the repository's docs and examples."""
    files = [PROJECT_ROOT / "README.md", *(PROJECT_ROOT / "docs").glob("*.md")]
    files += [*PROJECT_ROOT.glob(".env*.example")]
    files += [*(PROJECT_ROOT / "docker").glob("docker-compose*.yml")]
    values = set()
    for path in files:
        for match in re.finditer(
            r"TOKEN_SECRET[=:]\s*\$?\{?[A-Z_]*:?-?([^\s}\"'`]*)", path.read_text()
        ):
            if match.group(1):
                values.add(match.group(1))
    return values


def test_every_secret_written_in_the_repository_is_refused() -> None:
    values = published_secret_values()
    assert "dev-only-token-secret-not-for-production" in values  # the scan works
    for value in values:
        if len(value.encode()) >= 32:
            assert value.lower() in PUBLISHED_SECRETS, f"{value!r} is published but accepted"


def test_gunicorn_refuses_to_start_with_one_clear_line() -> None:
    env = {
        **os.environ,
        "APP_ENV": "production",
        "TOKEN_SECRET": "dev-only-token-secret-not-for-production",
        "DATABASE_URL": "sqlite:///:memory:",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }
    done = gunicorn_until_it_stops(env)
    assert done.returncode != 0
    output = done.stdout
    refusals = [line for line in output.splitlines() if "refusing to start" in line]
    assert len(refusals) == 1, output
    assert "TOKEN_SECRET is an example value" in refusals[0]
    assert "Traceback" not in output
