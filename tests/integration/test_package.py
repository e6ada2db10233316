"""The wheel alone is a working service: migrations and the contract ship inside it.

Built from this checkout, installed into an empty virtual environment, and run
from a directory that is not the checkout, so nothing can be found by accident.
"""

from __future__ import annotations

import sqlite3
import subprocess
import venv
from contextlib import closing
from pathlib import Path

from service.models import MODELS
from tests.support.live_server import PROJECT_ROOT


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_installed_wheel_migrates_an_empty_database_and_serves(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    # The new environment's own pip builds the wheel: the suite's may have none
    # (nox's uv backend makes virtualenvs without pip).
    dist = tmp_path / "dist"
    run(
        bin_dir / "python",
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-w",
        dist,
        PROJECT_ROOT,
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("*.whl")
    run(bin_dir / "python", "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    database = elsewhere / "fresh.sqlite3"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{database}"}
    out = run(bin_dir / "flask", "--app", "service", "db", "upgrade", cwd=elsewhere, env=env)
    assert "applied 001_initial" in out
    assert "nothing to apply" not in out

    with closing(sqlite3.connect(database)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {model._meta.table_name for model in MODELS} <= tables

    served = run(
        bin_dir / "python",
        "-c",
        "import service; c = service.create_app().test_client();"
        "print(c.get('/api/openapi.json').status_code, c.get('/api/count').json['data'],"
        " service.__file__)",
        cwd=elsewhere,
        env=env,
    )
    status, count, location = served.strip().splitlines()[-1].split()  # after the log lines
    assert (status, count) == ("200", "0")
    assert str(env_dir) in location  # the installed copy, not the checkout
