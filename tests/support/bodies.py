"""Request bodies the counter must refuse, shared by the unit suite and the live-server tests."""

from __future__ import annotations

import pytest

#: Parsed bodies with a bad `action`: (body, status, error key, msg).
BAD_BODIES = [
    pytest.param({}, 400, "missing_action", "缺少action参数", id="missing-action"),
    pytest.param({"action": None}, 400, "missing_action", "缺少action参数", id="null-action"),
    pytest.param({"action": "dec"}, 400, "invalid_action", "action参数错误", id="unknown-action"),
    pytest.param({"action": "INC"}, 400, "invalid_action", "action参数错误", id="wrong-case"),
    pytest.param({"action": 1}, 400, "invalid_action", "action参数错误", id="number-action"),
    pytest.param({"action": ["inc"]}, 400, "invalid_action", "action参数错误", id="list-action"),
    pytest.param({"action": {"a": 1}}, 400, "invalid_action", "action参数错误", id="object-action"),
    pytest.param({"action": True}, 400, "invalid_action", "action参数错误", id="bool-action"),
]

#: Bodies that are not a JSON object at all, each answered 400 invalid_json.
RAW_BODIES = [
    pytest.param(b"", id="empty"),
    pytest.param(b"{", id="truncated"),
    pytest.param(b"action=inc", id="form-encoded"),
    pytest.param(b'["inc"]', id="array"),
    pytest.param(b'"inc"', id="string"),
    pytest.param(b"null", id="null"),
    pytest.param(b"42", id="number"),
    pytest.param(b'{"action": "inc"', id="unclosed"),
    pytest.param(b'{"action": NaN}', id="nan"),
    pytest.param(b'{"action": "\xff\xfe"}', id="invalid-utf8"),
    pytest.param(b"[" * 30_000 + b"]" * 30_000, id="deeply-nested"),
    pytest.param(b'{"action": ' + b"9" * 5000 + b"}", id="huge-integer"),
]
