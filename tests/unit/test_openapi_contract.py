"""openapi.yaml is a valid contract, and it describes exactly the routes the app has."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from service.errors import ALL_KINDS
from service.openapi import document

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def app_routes(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "push.receive"):  # push: plain text, its own tests
            continue
        path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def spec_routes() -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in document()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_the_document_is_valid_openapi() -> None:
    # Imported here: the validator takes half a second to import, which every
    # process that only collects this module would otherwise pay.
    from openapi_spec_validator import validate

    validate(document())


def test_spec_and_url_map_have_the_same_routes(app: Flask) -> None:
    routes, spec = app_routes(app), spec_routes()
    assert routes == spec, (
        "service/openapi.yaml and the app's routes differ: describe each new route in "
        "service/openapi.yaml, and remove the paths of deleted ones. "
        f"Routes missing from service/openapi.yaml: {sorted(routes - spec)}; "
        f"in service/openapi.yaml but not routed: {sorted(spec - routes)}"
    )


def test_every_error_key_is_in_the_spec() -> None:
    keys = set(document()["components"]["schemas"]["ErrorKey"]["enum"])
    assert keys == {kind.key for kind in ALL_KINDS} | {"http_error"}


def test_every_error_key_has_one_status() -> None:
    keys = [kind.key for kind in ALL_KINDS]
    assert len(keys) == len(set(keys))


def test_every_api_operation_documents_its_errors() -> None:
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                assert "default" in operation["responses"], (method, path)


def test_the_spec_is_served_as_json(client: FlaskClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json == document()
