"""A database that retrying cannot fix stops start-up at once, with MySQL's code and message.

An unknown database (1049) and a wrong password (1045) were retried 15 times,
about 29 s, before a traceback; the real server's answers are checked here.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from tests.support.live_server import PROJECT_ROOT, error_messages, gunicorn_until_it_stops
from tests.support.mysql import MySQLServer
from tests.support.net import free_port


def mysql_settings(server: MySQLServer, **changes: str) -> dict[str, str]:
    """The environment of a service pointed at `server`, with `changes` to its MYSQL_* settings."""
    given = {
        "MYSQL_ADDRESS": f"{server.host}:{server.port}",
        "MYSQL_USERNAME": server.user,
        "MYSQL_PASSWORD": server.password,
        "MYSQL_DATABASE": "flask_demo",
    }
    kept = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and k not in given}
    return kept | given | changes


def cases(server: MySQLServer) -> dict[str, tuple[dict[str, str], str]]:
    missing = f"never_created_{secrets.token_hex(4)}"
    return {
        "unknown database": (
            {"MYSQL_DATABASE": missing},
            f"OperationalError 1049: Unknown database '{missing}'; retrying cannot fix this: "
            "create the database",
        ),
        "access denied": (
            {"MYSQL_PASSWORD": "not-the-password-" + secrets.token_hex(4)},
            "OperationalError 1045: Access denied for user",
        ),
    }


@pytest.mark.parametrize("case", ["unknown database", "access denied"])
def test_gunicorn_stops_at_once_with_the_drivers_code(mysql_server: MySQLServer, case: str) -> None:
    changes, said = cases(mysql_server)[case]
    env = mysql_settings(
        mysql_server, HOST="127.0.0.1", PORT=str(free_port()), AUTO_MIGRATE="true", **changes
    )
    done = gunicorn_until_it_stops(env)
    assert done.returncode != 0
    output = done.stdout
    errors = error_messages(output)
    assert len(errors) == 1, output
    assert errors[0].startswith(f"refusing to start: cannot use the database: {said}"), errors[0]
    assert "attempt" not in output  # not one retry
    assert "Traceback" not in output
    if case == "access denied":
        assert changes["MYSQL_PASSWORD"] not in output


@pytest.mark.parametrize("case", ["unknown database", "access denied"])
def test_flask_db_upgrade_says_the_same_in_one_line(mysql_server: MySQLServer, case: str) -> None:
    changes, said = cases(mysql_server)[case]
    done = subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env=mysql_settings(mysql_server, **changes),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"Error: cannot use the database: {said}"), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
