"""The built image as Cloud Run runs it: non-root, healthy, migrating once, stopping cleanly.

Runs with RUN_DOCKER_INTEGRATION_TESTS=true (the `service_image` fixture skips
otherwise, saying so); the image is docker/Dockerfile built once for the run,
under docker/docker-compose.yml with MYSQL_IMAGE.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from service import migrations
from tests.support.compose import ComposeStack, docker

MIGRATION_NAMES = sorted(p.stem for p in migrations.MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.py"))
HEALTHY_WITHIN = 45.0


@pytest.fixture(scope="module")
def stack(service_image: str) -> Iterator[ComposeStack]:
    with ComposeStack(service_image) as running:
        yield running


def test_the_container_runs_as_a_non_root_user(stack: ComposeStack) -> None:
    uid = stack.exec("id", "-u").stdout.strip()
    assert uid.isdigit()
    assert uid != "0"
    # PID 1 is gunicorn's master (the image's CMD); its workers are its children.
    status = stack.exec("cat", "/proc/1/status").stdout
    (real, effective, *_) = re.search(r"^Uid:\s+(.+)$", status, re.MULTILINE)[1].split()
    assert real == effective == uid
    assert "gunicorn" in stack.exec("cat", "/proc/1/cmdline").stdout


def test_the_healthcheck_reports_healthy(stack: ComposeStack) -> None:
    container = stack.container()
    deadline = time.monotonic() + HEALTHY_WITHIN
    status = ""
    while time.monotonic() < deadline:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip()
        if status == "healthy":
            break
        time.sleep(1)
    assert status == "healthy", docker("inspect", "-f", "{{json .State.Health}}", container).stdout


def test_two_replicas_started_together_apply_each_migration_once(
    stack: ComposeStack, service_image: str
) -> None:
    fresh = f"it_{secrets.token_hex(6)}"
    stack.mysql(f"CREATE DATABASE `{fresh}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    env = {
        "MYSQL_ADDRESS": "mysql:3306",
        "MYSQL_USERNAME": "root",
        "MYSQL_PASSWORD": stack.env["MYSQL_PASSWORD"],
        "MYSQL_DATABASE": fresh,
        "TOKEN_SECRET": secrets.token_urlsafe(48),
    }
    flags = [part for key, value in env.items() for part in ("-e", f"{key}={value}")]
    replicas: list[str] = []

    def run(_: int) -> str:
        done = docker("run", "-d", "--network", stack.network, *flags, service_image)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    try:
        barrier = threading.Barrier(2)

        def together(n: int) -> str:
            barrier.wait()
            return run(n)

        with ThreadPoolExecutor(2) as pool:
            replicas = list(pool.map(together, range(2)))
        deadline = time.monotonic() + 90
        ready = set()
        while len(ready) < 2 and time.monotonic() < deadline:
            for replica in replicas:
                probe = docker(
                    "exec",
                    replica,
                    "python",
                    "-c",
                    "import urllib.request; urllib.request.urlopen('http://127.0.0.1/readyz')",
                )
                if probe.returncode == 0:
                    ready.add(replica)
            time.sleep(1)
        logs = {r: docker("logs", r).stdout + docker("logs", r).stderr for r in replicas}
        assert len(ready) == 2, logs
        for name in MIGRATION_NAMES:
            applied = sum(
                len(re.findall(rf"migration applied: {name}\b", text)) for text in logs.values()
            )
            assert applied == 1, f"{name} applied {applied} times: {logs}"
        history = stack.mysql(f"SELECT name FROM `{fresh}`.migratehistory ORDER BY id")
        assert history.split() == MIGRATION_NAMES
    finally:
        for replica in replicas:
            docker("rm", "--force", replica)


def test_docker_stop_loses_no_acknowledged_increment(stack: ComposeStack) -> None:
    url = f"{stack.url}/api/count"
    assert requests.post(url, json={"action": "clear"}, timeout=5).json()["data"] == 0
    stop_at = threading.Event()

    def inc(_: int) -> int:
        stop_at.wait()
        try:
            return requests.post(url, json={"action": "inc"}, timeout=30).status_code
        except requests.RequestException:
            return 0  # refused or cut off: not acknowledged

    container = stack.container()
    with ThreadPoolExecutor(24) as pool:
        futures = [pool.submit(inc, n) for n in range(24)]
        stop_at.set()
        time.sleep(0.05)  # requests in flight when SIGTERM arrives
        stopped = docker("stop", "--time", "25", container, timeout=60)
        statuses = [f.result(timeout=60) for f in futures]
    assert stopped.returncode == 0, stopped.stderr
    assert docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip() == "0"

    assert docker("start", container).returncode == 0
    stack.wait_ready()
    acknowledged = sum(1 for status in statuses if status == 200)
    stored = requests.get(url, timeout=5).json()["data"]
    assert stored == acknowledged, statuses
