"""The built image under docker/docker-compose.yml, for the live-server tests.

Used instead of a local gunicorn when RUN_DOCKER_INTEGRATION_TESTS=true; the
stack is built, started, waited for on /readyz, and removed with its volumes.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping

import requests

from tests.support.live_server import PROJECT_ROOT
from tests.support.mysql import docker_engine_answers

COMPOSE_FILE = PROJECT_ROOT / "docker" / "docker-compose.yml"
DEFAULT_STARTUP_TIMEOUT = 180.0


class DockerUnavailable(RuntimeError):
    pass


def docker_mode(
    env: Mapping[str, str], engine: Callable[[Mapping[str, str]], bool] = docker_engine_answers
) -> bool:
    """Whether to test the built container; an explicit request without an engine is an error."""
    if env.get("RUN_DOCKER_INTEGRATION_TESTS", "").strip().lower() != "true":
        return False
    if not engine(env):
        raise DockerUnavailable(
            "RUN_DOCKER_INTEGRATION_TESTS=true but no Docker engine answered at "
            f"{env.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}"
        )
    return True


class ComposeStack:
    url = "http://127.0.0.1:8080"

    def __init__(self) -> None:
        self.project = f"it-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "MYSQL_PASSWORD": secrets.token_urlsafe(18),
            "TOKEN_SECRET": secrets.token_urlsafe(48),
            "WX_SECRET": f"it-wx-secret-{secrets.token_hex(8)}",
        }
        self.startup_timeout = float(
            os.environ.get("DOCKER_STARTUP_TIMEOUT", DEFAULT_STARTUP_TIMEOUT)
        )

    def _compose(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE_FILE), "-p", self.project, *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self) -> ComposeStack:
        up = self._compose("up", "--build", "--detach")
        if up.returncode != 0:
            self.stop()
            raise DockerUnavailable(f"docker compose up failed:\n{up.stderr}")
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(1)
        logs = self.output()
        self.stop()
        raise DockerUnavailable(
            f"the container was not ready within {self.startup_timeout:.0f} s "
            f"(DOCKER_STARTUP_TIMEOUT):\n{logs}"
        )

    def output(self) -> str:
        return self._compose("logs", "--no-color", "--no-log-prefix", "app", timeout=60).stdout

    def stop(self) -> None:
        self._compose("down", "--volumes", "--remove-orphans", timeout=300)

    def __enter__(self) -> ComposeStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
