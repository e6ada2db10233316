"""The counter contract over real HTTP: gunicorn, two workers, MySQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.support.bodies import BAD_BODIES, RAW_BODIES
from tests.support.live_server import LiveServer
from tests.support.load import concurrent_incs


def get_count(server: LiveServer) -> int:
    response = requests.get(f"{server.url}/api/count", timeout=5)
    assert response.status_code == 200
    return int(response.json()["data"])


def post(server: LiveServer, **kwargs: Any) -> requests.Response:
    return requests.post(f"{server.url}/api/count", timeout=10, **kwargs)


def assert_failure(response: requests.Response, status: int, error: str, msg: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"code": 0, "data": {}, "msg": msg, "error": error}


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    """The module's server, with the counter back at 0."""
    assert post(live_server, json={"action": "clear"}).json()["data"] == 0
    return live_server


def test_get_inc_clear_over_http(server: LiveServer) -> None:
    assert requests.get(f"{server.url}/api/count", timeout=5).json() == {
        "code": 1,
        "data": 0,
        "msg": "success",
    }
    assert [post(server, json={"action": "inc"}).json()["data"] for _ in range(3)] == [1, 2, 3]
    assert get_count(server) == 3
    assert post(server, json={"action": "clear"}).json() == {"code": 1, "data": 0, "msg": "success"}
    assert get_count(server) == 0


@pytest.mark.parametrize(("body", "status", "error", "msg"), BAD_BODIES)
def test_bad_action_over_http(
    server: LiveServer, body: dict[str, object], status: int, error: str, msg: str
) -> None:
    post(server, json={"action": "inc"})
    assert_failure(post(server, json=body), status, error, msg)
    assert get_count(server) == 1


@pytest.mark.parametrize("raw", RAW_BODIES)
def test_malformed_body_over_http(server: LiveServer, raw: bytes) -> None:
    post(server, json={"action": "inc"})
    response = post(server, data=raw, headers={"Content-Type": "application/json"})
    assert_failure(response, 400, "invalid_json", "请求体必须是JSON对象")
    assert get_count(server) == 1


def test_wrong_content_type_over_http(server: LiveServer) -> None:
    response = post(server, data=b'{"action": "inc"}', headers={"Content-Type": "text/plain"})
    assert_failure(response, 415, "unsupported_media_type", "Content-Type必须是application/json")
    assert get_count(server) == 0


def test_oversized_body_over_http(server: LiveServer) -> None:
    response = post(server, json={"action": "inc", "pad": "x" * 70_000})
    assert_failure(response, 413, "payload_too_large", "请求体过大")
    assert get_count(server) == 0


def test_unknown_path_and_wrong_method_over_http(server: LiveServer) -> None:
    assert_failure(
        requests.get(f"{server.url}/api/missing", timeout=5), 404, "not_found", "接口不存在"
    )
    response = requests.delete(f"{server.url}/api/count", timeout=5)
    assert_failure(response, 405, "method_not_allowed", "不支持该请求方法")
    assert "POST" in response.headers["Allow"]


def test_request_id_round_trip_over_http(server: LiveServer) -> None:
    sent = requests.get(f"{server.url}/api/count", headers={"X-Request-ID": "it-42"}, timeout=5)
    assert sent.headers["X-Request-ID"] == "it-42"
    made = requests.get(f"{server.url}/api/count", timeout=5)
    assert len(made.headers["X-Request-ID"]) == 32


def test_index_page_over_http(server: LiveServer) -> None:
    post(server, json={"action": "inc"})
    page = requests.get(f"{server.url}/", timeout=5)
    assert page.status_code == 200
    assert '<p id="count" data-testid="count">1</p>' in page.text


def test_2000_incs_from_32_clients_return_exactly_1_to_2000(server: LiveServer) -> None:
    values = concurrent_incs(server.url, total=2000, clients=32)
    assert sorted(values) == list(range(1, 2001))
    assert get_count(server) == 2000


def test_one_json_access_line_per_request_and_no_secrets(server: LiveServer) -> None:
    ids = [f"it-log-{n}" for n in range(12)]
    for n, rid in enumerate(ids):
        headers = {"X-Request-ID": rid}
        if n % 3 == 0:
            requests.get(f"{server.url}/api/count?token=query-secret", headers=headers, timeout=5)
        elif n % 3 == 1:
            post(server, json={"action": "inc"}, headers=headers)
        else:
            requests.get(f"{server.url}/api/nope", headers=headers, timeout=5)

    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry.get("logger") == "service.access"]
    for rid in ids:
        mine = [entry for entry in access if entry["request_id"] == rid]
        assert len(mine) == 1, rid
        assert {"method", "path", "status", "duration_ms"} <= set(mine[0])
    output = server.output()
    for secret in (server.env["TOKEN_SECRET"], server.env["WX_SECRET"], "query-secret"):
        assert secret not in output
