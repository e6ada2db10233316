"""The index page shows the count and wires its buttons to the API."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


def test_index_shows_the_current_count(client: FlaskClient) -> None:
    for _ in range(7):
        client.post("/api/count", json={"action": "inc"})
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<p id="count" data-testid="count">7</p>' in page


def test_index_buttons_call_the_counter_api(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert 'fetch("/api/count"' in page
    assert 'send("inc")' in page
    assert 'send("clear")' in page
