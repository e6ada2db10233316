"""When the integration suite tests the built container instead of a local gunicorn."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tests.support.compose import DockerUnavailable, docker_mode


def engine_up(env: Mapping[str, str]) -> bool:
    return True


def engine_down(env: Mapping[str, str]) -> bool:
    return False


def test_off_unless_asked_for() -> None:
    assert docker_mode({}, engine=engine_up) is False
    assert docker_mode({"RUN_DOCKER_INTEGRATION_TESTS": "false"}, engine=engine_up) is False


def test_on_when_asked_for_and_an_engine_answers() -> None:
    assert docker_mode({"RUN_DOCKER_INTEGRATION_TESTS": "true"}, engine=engine_up) is True


def test_asked_for_without_an_engine_fails_with_one_line() -> None:
    with pytest.raises(DockerUnavailable) as caught:
        docker_mode({"RUN_DOCKER_INTEGRATION_TESTS": "TRUE"}, engine=engine_down)
    message = str(caught.value)
    assert "\n" not in message
    assert "RUN_DOCKER_INTEGRATION_TESTS=true" in message
    assert "no Docker engine" in message
