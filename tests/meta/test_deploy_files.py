"""The container, compose and Cloud Run files agree with each other and with the service."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.support.deploy import DOCKER, dockerfile
from tests.support.live_server import PROJECT_ROOT
from tests.support.settings import variables_the_config_reads


def compose(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / name).read_text(encoding="utf-8"))
    return data


def test_image_is_python_3_12_slim_multi_stage() -> None:
    image = dockerfile()
    assert image.base_images == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert image.args["PYTHON_IMAGE"] == "python:3.12-slim"  # what users pull by default
    assert "COPY --from=builder" in image.final


def test_image_installs_exactly_the_lock() -> None:
    image = dockerfile()
    assert "--require-hashes" in image.text
    assert "-r requirements.lock" in image.text
    assert "--no-index" in image.final  # nothing but the locked wheels


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.dev.yml"])
def test_compose_files_use_only_what_compose_1_29_reads(name: str) -> None:
    """Debian's docker-compose 1.29 rejects a top-level `name:` and `env_file: {path, required}`."""
    data = compose(name)
    assert "name" not in data
    for service in data["services"].values():
        for entry in service.get("env_file", []):
            assert isinstance(entry, str), f"{name}: env_file entries must be paths"


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.dev.yml"])
def test_compose_takes_both_base_images_from_the_environment(name: str) -> None:
    services = compose(name)["services"]
    assert services["app"]["build"]["args"]["PYTHON_IMAGE"] == "${PYTHON_IMAGE:-python:3.12-slim}"


def test_image_runs_gunicorn_as_a_non_root_user() -> None:
    image = dockerfile()
    assert image.cmd == ["gunicorn", "service:create_app()"]
    (user,) = image.instructions("USER")
    assert user.strip() not in ("root", "0")
    assert image.instructions("HEALTHCHECK")
    assert "/healthz" in image.instructions("HEALTHCHECK")[0]


def test_image_sets_production_and_migrations_at_start() -> None:
    env = dockerfile().env
    assert env["APP_ENV"] == "production"
    assert env["AUTO_MIGRATE"] == "true"
    assert env["PORT"] == "80"


def test_ports_agree_everywhere() -> None:
    port = int(dockerfile().env["PORT"])
    config = json.loads((PROJECT_ROOT / "container.config.json").read_text(encoding="utf-8"))
    assert config["containerPort"] == port
    for name, host in (("docker-compose.yml", ""), ("docker-compose.dev.yml", "127.0.0.1:")):
        app = compose(name)["services"]["app"]
        assert app["ports"] == [f"{host}${{APP_PORT:-8080}}:{port}"], name
    assert compose("docker-compose.yml")["services"]["app"]["environment"]["PORT"] == str(port)


def with_defaults(value: str) -> str:
    """`value` as compose reads it with no variables set: `${NAME:-default}` becomes `default`."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def published(port: str | dict[str, Any]) -> tuple[str, str]:
    """A `ports:` entry's host address (empty: every interface) and host port, either form."""
    if isinstance(port, dict):
        return str(port.get("host_ip", "")), str(port.get("published", ""))
    parts = with_defaults(port).rsplit(":", 2)
    return (parts[0], parts[1]) if len(parts) == 3 else ("", parts[0])


def test_dev_compose_publishes_every_port_on_loopback_only() -> None:
    """Flask's debugger runs any code it is sent: nobody else on the network may reach it.

    Both host ports are variables, so a laptop already running MySQL on 3306 can move it.
    """
    services = compose("docker-compose.dev.yml")["services"]
    ports = {name: [published(p) for p in s.get("ports", [])] for name, s in services.items()}
    assert ports == {"mysql": [("127.0.0.1", "3306")], "app": [("127.0.0.1", "8080")]}
    assert services["mysql"]["ports"] == ["127.0.0.1:${MYSQL_PORT:-3306}:3306"]
    assert services["app"]["ports"] == ["127.0.0.1:${APP_PORT:-8080}:80"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("8080:80", ("", "8080")),
        ("${APP_PORT:-8080}:80", ("", "8080")),
        ("127.0.0.1:${MYSQL_PORT:-3306}:3306", ("127.0.0.1", "3306")),
        ({"target": 80, "published": 8080}, ("", "8080")),
        ({"target": 80, "published": 8080, "host_ip": "127.0.0.1"}, ("127.0.0.1", "8080")),
    ],
)
def test_published_ports_are_read_as_compose_reads_them(
    entry: str | dict[str, Any], expected: tuple[str, str]
) -> None:
    assert published(entry) == expected


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.dev.yml"])
def test_compose_passes_every_variable_the_config_reads(name: str) -> None:
    app = compose(name)["services"]["app"]
    passed = set(app["environment"])
    missing = variables_the_config_reads() - passed - {"DATABASE_URL"}
    assert missing == set(), f"{name} does not pass {sorted(missing)}"


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.dev.yml"])
def test_app_waits_for_a_healthy_mysql_8_4(name: str) -> None:
    services = compose(name)["services"]
    assert services["mysql"]["image"] == "${MYSQL_IMAGE:-mysql:8.4}"
    assert "test" in services["mysql"]["healthcheck"]
    assert services["app"]["depends_on"]["mysql"]["condition"] == "service_healthy"
    assert services["app"]["environment"]["MYSQL_ADDRESS"] == "mysql:3306"


def test_production_compose_keeps_data_in_a_named_volume() -> None:
    data = compose("docker-compose.yml")
    (mount,) = data["services"]["mysql"]["volumes"]
    volume = mount.split(":")[0]
    assert volume in data["volumes"]


def test_dev_compose_mounts_the_source_and_reloads() -> None:
    app = compose("docker-compose.dev.yml")["services"]["app"]
    assert "..:/app" in app["volumes"]
    command = " ".join(app["command"])
    assert "flask --debug run --host 0.0.0.0" in command
    assert "flask db upgrade" in command


def test_cloud_run_config_only_creates_the_database() -> None:
    config = json.loads((PROJECT_ROOT / "container.config.json").read_text(encoding="utf-8"))
    assert config["dataBaseName"] == "flask_demo"
    assert config["dockerfilePath"] == "docker/Dockerfile"
    statements = config["executeSQLs"]
    assert all(s.upper().startswith("CREATE DATABASE IF NOT EXISTS FLASK_DEMO") for s in statements)
    assert "utf8mb4" in statements[0]
    assert config["envParams"]["AUTO_MIGRATE"] == "true"
    assert 0 <= config["minNum"] <= config["maxNum"]


def test_dockerignore_keeps_tests_env_files_and_git_out() -> None:
    ignored = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".git", "tests", ".env", ".env.*", ".venv", ".nox"):
        assert entry in ignored
