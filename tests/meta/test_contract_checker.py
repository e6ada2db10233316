"""The integration suite's contract checker catches responses that break openapi.yaml."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.support.contract import Contract, ContractViolation


def response(method: str, path: str, status: int, body: Any, **request: Any) -> requests.Response:
    made = requests.Response()
    made.status_code = status
    made._content = json.dumps(body).encode()
    made.headers["Content-Type"] = "application/json"
    made.request = requests.Request(method, f"http://127.0.0.1:5000{path}", **request).prepare()
    made.url = made.request.url or ""
    return made


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract()


def test_a_conforming_response_passes(contract: Contract) -> None:
    contract.check(response("GET", "/api/count", 200, {"code": 1, "data": 3, "msg": "success"}))
    assert contract.checked >= 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, {"code": 1, "data": "three", "msg": "success"}),
        (200, {"code": 0, "data": 3, "msg": "success"}),
        (400, {"code": 0, "data": {}, "msg": "x", "error": "no_such_key"}),
        (400, {"code": 0, "data": {"leak": 1}, "msg": "x", "error": "invalid_json"}),
        (503, {"code": 0, "data": {}, "msg": "x"}),
    ],
)
def test_a_broken_response_is_caught(contract: Contract, status: int, body: Any) -> None:
    with pytest.raises(ContractViolation):
        contract.check(response("GET", "/api/count", status, body))


def test_paths_outside_the_spec_are_left_to_their_tests(contract: Contract) -> None:
    before = contract.skipped
    contract.check(
        response("GET", "/api/nope", 404, {"code": 0, "data": {}, "msg": "x", "error": "not_found"})
    )
    assert contract.skipped == before + 1
