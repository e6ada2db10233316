"""The counter contract of `/api/count`, through Flask's test client."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.bodies import BAD_BODIES, RAW_BODIES

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


def count(client: FlaskClient) -> int:
    response = client.get("/api/count")
    assert response.status_code == 200
    return int(response.json["data"])


def post(client: FlaskClient, action: object) -> dict[str, object]:
    response = client.post("/api/count", json={"action": action})
    assert response.status_code == 200, response.json
    return dict(response.json)


def test_count_is_zero_before_any_increment(client: FlaskClient) -> None:
    response = client.get("/api/count")
    assert response.status_code == 200
    assert response.json == {"code": 1, "data": 0, "msg": "success"}


def test_inc_returns_each_new_value(client: FlaskClient) -> None:
    assert [post(client, "inc")["data"] for _ in range(3)] == [1, 2, 3]
    assert count(client) == 3


def test_clear_sets_zero_and_counting_starts_again(client: FlaskClient) -> None:
    post(client, "inc")
    post(client, "inc")
    assert post(client, "clear") == {"code": 1, "data": 0, "msg": "success"}
    assert count(client) == 0
    assert post(client, "inc")["data"] == 1


def test_clear_before_any_increment_answers_zero(client: FlaskClient) -> None:
    assert post(client, "clear")["data"] == 0
    assert count(client) == 0


def test_json_with_charset_is_accepted(client: FlaskClient) -> None:
    response = client.post(
        "/api/count", data=b'{"action": "inc"}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 200
    assert response.json["data"] == 1


def assert_failure(response, status: int, error: str, msg: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.json == {"code": 0, "data": {}, "msg": msg, "error": error}


@pytest.mark.parametrize(("body", "status", "error", "msg"), BAD_BODIES)
def test_bad_action_is_rejected_and_changes_nothing(
    client: FlaskClient, body: dict[str, object], status: int, error: str, msg: str
) -> None:
    post(client, "inc")
    assert_failure(client.post("/api/count", json=body), status, error, msg)
    assert count(client) == 1


@pytest.mark.parametrize("raw", RAW_BODIES)
def test_body_that_is_not_a_json_object_is_400(client: FlaskClient, raw: bytes) -> None:
    post(client, "inc")
    response = client.post("/api/count", data=raw, content_type="application/json")
    assert_failure(response, 400, "invalid_json", "请求体必须是JSON对象")
    assert count(client) == 1


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_non_json_content_type_is_415(client: FlaskClient, content_type: str | None) -> None:
    post(client, "inc")
    kwargs = {"content_type": content_type} if content_type else {}
    response = client.post("/api/count", data=b'{"action": "inc"}', **kwargs)
    assert_failure(response, 415, "unsupported_media_type", "Content-Type必须是application/json")
    assert count(client) == 1


def test_body_over_64_kib_is_413(client: FlaskClient) -> None:
    post(client, "inc")
    padding = "x" * (64 * 1024)
    response = client.post("/api/count", json={"action": "inc", "padding": padding})
    assert_failure(response, 413, "payload_too_large", "请求体过大")
    assert count(client) == 1


def test_body_just_under_the_limit_is_accepted(client: FlaskClient) -> None:
    overhead = len('{"action": "inc", "padding": ""}')
    padding = "x" * (64 * 1024 - overhead)
    response = client.post("/api/count", json={"action": "inc", "padding": padding})
    assert response.status_code == 200
    assert response.json["data"] == 1


@pytest.mark.parametrize("path", ["/api/nope", "/api/count/1", "/api", "/api/"])
def test_unknown_api_path_is_404_in_the_envelope(client: FlaskClient, path: str) -> None:
    assert_failure(client.get(path), 404, "not_found", "接口不存在")


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_wrong_method_is_405_with_allow_header(client: FlaskClient, method: str) -> None:
    post(client, "inc")
    response = getattr(client, method)("/api/count", json={"action": "clear"})
    assert_failure(response, 405, "method_not_allowed", "不支持该请求方法")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert count(client) == 1


def test_unknown_page_outside_api_is_a_plain_404(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


# -- the counter: after any sequence of actions it holds what a plain integer would


# The client is shared by the examples on purpose: each starts by clearing the counter.
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(["inc", "clear", "get"]), max_size=25))
def test_the_counter_behaves_as_an_integer(client: FlaskClient, actions: list[str]) -> None:
    assert client.post("/api/count", json={"action": "clear"}).json["data"] == 0
    model = 0
    for action in actions:
        if action == "get":
            response = client.get("/api/count")
        else:
            response = client.post("/api/count", json={"action": action})
            model = model + 1 if action == "inc" else 0
        assert (response.status_code, response.json) == (
            200,
            {"code": 1, "data": model, "msg": "success"},
        )
