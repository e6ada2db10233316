"""The wheel alone is a working service: migrations and the contract ship inside it.

Built from this checkout, installed into an empty virtual environment, and run
from a directory that is not the checkout, so nothing can be found by accident.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
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


def installed_wheel(tmp_path: Path) -> Path:
    """The project's wheel, built in isolation and installed into a new environment; its bin/.

    With uv (pinned beside nox, so present in the sessions) the build and the
    install take seconds; pip, where uv is absent, took about 20 s here, most of
    it setting up the isolated build and resolving the dependencies again. Both
    build with the backend pyproject.toml names, in an environment of its own.
    """
    env_dir = tmp_path / "venv"
    dist = tmp_path / "dist"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv:
        run(uv, "venv", "--quiet", "--python", sys.executable, env_dir, cwd=tmp_path)
        run(uv, "build", "--quiet", "--wheel", "--out-dir", dist, PROJECT_ROOT, cwd=tmp_path)
        (wheel,) = dist.glob("*.whl")
        python = env_dir / "bin" / "python"
        run(uv, "pip", "install", "--quiet", "--python", python, wheel, cwd=tmp_path)
        return env_dir / "bin"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    # The new environment's own pip builds the wheel: the suite's may have none.
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
    return bin_dir


def test_the_installed_wheel_migrates_an_empty_database_and_serves(tmp_path: Path) -> None:
    bin_dir = installed_wheel(tmp_path)
    env_dir = bin_dir.parent

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
