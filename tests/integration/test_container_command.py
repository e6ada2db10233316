"""The image's own command, run here: what Cloud Run starts is what the tests start.

There is no Docker engine on every machine that runs this suite, so the test
reads the Dockerfile's CMD and ENV and runs that command from the project root,
which is what the image copies to its working directory.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import requests

from service import migrations
from tests.support.deploy import dockerfile
from tests.support.live_server import PROJECT_ROOT, LiveServer
from tests.support.mysql import MySQLServer


def test_image_command_migrates_then_serves_ready(mysql_server: MySQLServer) -> None:
    image = dockerfile()
    with mysql_server.scratch_database() as name:
        env = {
            **image.env,
            "PYTHONPATH": str(PROJECT_ROOT),  # the image's /app
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "MYSQL_ADDRESS": f"{mysql_server.host}:{mysql_server.port}",
            "MYSQL_USERNAME": mysql_server.user,
            "MYSQL_PASSWORD": mysql_server.password,
            "MYSQL_DATABASE": name,
            "DATABASE_URL": "",
            "TOKEN_SECRET": secrets.token_urlsafe(48),
        }
        server = LiveServer(env, workers=int(image.env["WEB_CONCURRENCY"]), command=image.cmd)
        with server:
            ready = requests.get(f"{server.url}/readyz", timeout=5)
            assert ready.status_code == 200, ready.text
            assert ready.json()["data"] == {"status": "ready", "database": "mysql"}
            applied = [
                row[0]
                for row in mysql_server.execute(
                    f"SELECT name FROM `{name}`.migratehistory ORDER BY id"
                )
            ]
            expected = sorted(
                p.stem for p in migrations.MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.py")
            )
            assert applied == expected
            count = requests.get(f"{server.url}/api/count", timeout=5)
            assert count.json() == {"code": 1, "data": 0, "msg": "success"}
