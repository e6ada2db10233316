"""The yardstick for the service's request path: Flask's floor under the same gunicorn.

One view that answers every path with a constant envelope, no database, no
hooks: what one request costs in gunicorn.conf.py's worker with Flask and
nothing of ours. bench/run.py serves it next to the service and divides.

    gunicorn "bench.floor:create_app()"
"""

from __future__ import annotations

from flask import Flask, Response, jsonify


def create_app() -> Flask:
    app = Flask(__name__)

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PATCH"])
    @app.route("/<path:path>", methods=["GET", "POST", "PATCH"])
    def constant(path: str) -> Response:
        return jsonify(code=1, data=0, msg="")

    return app
