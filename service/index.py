"""The index page: the counter, with buttons that call the API."""

from __future__ import annotations

from flask import Blueprint, render_template

from service import counter

bp = Blueprint("index", __name__)


@bp.get("/")
def index() -> str:
    return render_template("index.html", count=counter.current())
