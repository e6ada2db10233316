"""`GET /api/openapi.json`: the reviewed contract in openapi.yaml, served as JSON."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

SPEC_PATH = Path(__file__).resolve().parent / "openapi.yaml"

bp = Blueprint("openapi", __name__, url_prefix="/api")


@cache
def document() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())
