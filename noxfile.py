"""Every check this project has, one session each. `nox -l` lists them.

Plain `nox` runs what needs nothing beyond this machine: lint, typecheck, unit
and integration (which finds or starts its own MySQL). `manual` needs real
WeChat credentials and runs only when asked for.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "unit", "integration"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False
# uv where it is installed (requirements.lock pins it beside nox): the lock goes into a
# session in seconds rather than pip's minute; plain virtualenv and pip where it is not.
nox.options.default_venv_backend = "uv|virtualenv"

ROOT = Path(__file__).parent
LOCK = ROOT / "requirements.lock"
SUPPORTED = ("3.11", "3.12")  # 3.12 is the container's version
ENV_FILE_MODES = ("unit", "integration", "manual")


def _runs(python: str) -> bool:
    try:
        return (
            subprocess.run([python, "-c", "pass"], capture_output=True, timeout=30).returncode == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def _interpreters() -> list[str]:
    """The supported versions this machine can run.

    A pyenv shim such as `python3.12` exists on PATH even when that version is
    not active and fails when run, so each candidate is tried; a pyenv-managed
    version that is installed but inactive is put on PATH for nox to find.
    """
    found = []
    pyenv_root = None
    if shutil.which("pyenv"):
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
        pyenv_root = Path(out.stdout.strip()) if out.returncode == 0 else None
    for version in SUPPORTED:
        if _runs(f"python{version}"):
            found.append(version)
            continue
        for candidate in sorted((pyenv_root or ROOT / "-").glob(f"versions/{version}*/bin")):
            if _runs(str(candidate / f"python{version}")):
                os.environ["PATH"] = f"{candidate}{os.pathsep}{os.environ['PATH']}"
                found.append(version)
                break
    return found


FOUND = _interpreters()
PYTHONS: list[str] | None = FOUND or None  # None: the interpreter running nox
CONTAINER_PYTHON: str | None = "3.12" if "3.12" in FOUND else (FOUND[-1] if FOUND else None)


#: What `nox -s unit` runs: the service's unit tests, then the tests of the repository's own
#: files (the lock, CI, deploy files, docs) and of the harness, in one pytest run.
UNIT_FOLDERS = ["tests/unit", "tests/meta"]


def _suite(folders: list[str], posargs: list[str]) -> list[str]:
    """pytest's arguments: the whole suite, unless the arguments name test files of their own."""
    names_tests = any(arg.startswith("tests/") for arg in posargs)
    return [*posargs] if names_tests else [*folders, *posargs]


#: Coverage of `service/` a whole run must reach: each suite alone, and both combined.
UNIT_GATE = 80
INTEGRATION_GATE = 80
COMBINED_GATE = 95


#: pytest's long options that leave tests out (besides -k and -m): a run with one is a part.
SELECTING = {"--deselect", "--ignore", "--ignore-glob", "--lf", "--last-failed", "--sw"}
SELECTING |= {"--stepwise", "--co", "--collect-only"}
#: Long options (pytest's and its plugins') whose value is the next argument, not a test path.
VALUED = {"--numprocesses", "--dist", "--override-ini", "--tb", "--maxfail", "--durations"}
VALUED |= {"--randomly-seed", "--hypothesis-seed", "--hypothesis-profile", "--db", "--cov"}
VALUED |= {"--cov-report", "--basetemp", "--rootdir", "--confcutdir", "--log-level", "--color"}
VALUED |= {"--junit-xml", "--junitxml", "--capture", "--pythonwarnings", "--config-file"}
#: Short options that take a value, as argparse reads them, also inside a cluster (`-xk x`).
SHORT_VALUED = "kmnpcoWr"


def partial_run(args: list[str]) -> bool:
    """Whether pytest's arguments choose some tests rather than all: `-k`, `-m`, a path or a
    node id. `-x`, `-v`, `-n 0`, `--randomly-seed=N`, `-p no:randomly` change how the whole
    suite runs, not which of it; any other bare word is taken for a path.
    """
    words = iter(args)
    for arg in words:
        if arg == "--":
            return any(True for _ in words)
        if not arg.startswith("-"):
            return True  # a path or node id
        name = arg.split("=", 1)[0]
        if arg.startswith("--"):
            if name in SELECTING:
                return True
            if name in VALUED and "=" not in arg:
                next(words, None)
            continue
        for place, letter in enumerate(arg[1:], start=1):  # -x, -vv, -xk expr, -kexpr
            if letter in "km":
                return True
            if letter in SHORT_VALUED:
                if place == len(arg) - 1:
                    next(words, None)
                break
    return False


def _gate(session: nox.Session, percent: int) -> list[str]:
    """The coverage gate, unless the run is of a part (`-- -k counter`); `-- -x` keeps it.

    `-- --no-cov` measures nothing, so there is nothing to hold to a gate: pytest-cov
    warns that the gate is disabled, and the warning is an error here (filterwarnings).
    """
    if partial_run(session.posargs) or "--no-cov" in session.posargs:
        return []
    return [f"--cov-fail-under={percent}"]


#: What a session's installed packages follow from: the lock, and the project's metadata.
INSTALLED_FROM = (LOCK, ROOT / "pyproject.toml")


def install_key(sources: tuple[Path, ...] = INSTALLED_FROM) -> str:
    """A digest of the files a session's packages are installed from."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def install(session: nox.Session) -> None:
    """Exactly the locked versions (hash-checked), then the project itself on top.

    A reused environment that was installed from the same lock and pyproject.toml
    (its stamp says so) is left as it is: checking it again cost each session
    1.5-3 s, and the editable install finds modules added to service/ by itself.

    uv, unlike pip, leaves the packages uncompiled; on a machine that sets
    PYTHONDONTWRITEBYTECODE, every process the tests start (gunicorn, `flask db`,
    the wheel's own server) would then compile Flask and peewee again, about 0.3 s each.
    """
    location = getattr(session.virtualenv, "location", None)
    stamp = Path(location) / ".installed-from" if location else None
    key = install_key()
    if stamp is not None and stamp.is_file() and stamp.read_text() == key:
        session.log("requirements.lock and pyproject.toml unchanged: nothing to install")
        return
    compiled = {"UV_COMPILE_BYTECODE": "1"}
    session.install("--require-hashes", "-r", str(LOCK), env=compiled)
    session.install("--no-deps", "-e", ".", env=compiled)
    if stamp is not None:
        stamp.write_text(key)


@nox.session(python=CONTAINER_PYTHON)
def lock(session: nox.Session) -> None:
    """Regenerate requirements.lock from pyproject.toml (`-- --upgrade` to take new releases)."""
    session.install("uv")
    session.run(
        "uv",
        "pip",
        "compile",
        "pyproject.toml",
        "--all-extras",
        "--universal",
        "--python-version",
        "3.11",
        "--generate-hashes",
        "--no-emit-package",
        "wxcloudrun-service",
        "--quiet",
        "-o",
        LOCK.name,
        *session.posargs,
    )


@nox.session(python=CONTAINER_PYTHON)
def serve(session: nox.Session) -> None:
    """Run the service locally on the embedded SQLite default (or whatever the env names)."""
    install(session)
    env = {"AUTO_MIGRATE": os.environ.get("AUTO_MIGRATE", "true")}
    port = os.environ.get("PORT", "8080")
    session.log(f"serving on http://127.0.0.1:{port}/")
    session.run(
        "gunicorn",
        "service:create_app()",
        env={**env, "HOST": os.environ.get("HOST", "127.0.0.1"), "PORT": port},
    )


#: Most pytest-xdist workers for the integration suite: each starts its own MySQL server.
MOST_MYSQL_WORKERS = 4


def _workers(posargs: list[str], most: int | None = None, dist: str = "worksteal") -> list[str]:
    """pytest-xdist on every core (up to `most`), unless the arguments choose (`-n 0`: one).

    `dist` is worksteal by default: an idle worker takes queued tests from a busy one,
    so the suite's few long tests do not leave one core idle at the end. Integration
    passes loadscope instead (see there).
    """
    chosen = any(arg.startswith(("-n", "--numprocesses")) for arg in posargs)
    if chosen or most == 1:
        return []
    count = str(min(os.cpu_count() or 1, most)) if most else "auto"
    return ["-n", count, "--dist", dist]


#: What every pytest run is given besides its own settings. PYTHONDONTWRITEBYTECODE
#: (set on some machines) is taken away: with it, pytest cannot keep the test modules it
#: rewrites for assert, so every pytest process and xdist worker rewrote all of them again
#: (collection: 1.5 s cached, 3.3 s without), and every process the tests start compiled
#: service/ again.
PYTEST_ENV: dict[str, str | None] = {"PYTHONDONTWRITEBYTECODE": None}


def _measures_coverage(session: nox.Session) -> bool:
    """Coverage is measured on one of the Pythons the unit suite runs on: the oldest here.

    Both run the same lines of service/ (nothing in it depends on the version),
    so a second measurement would only repeat the first, and on 3.12 tracing
    costs twice what it does on 3.11 (20.7 s against 15.6 s for the suite).
    """
    return PYTHONS is None or session.python == PYTHONS[0]


def _unit_folders(session: nox.Session) -> list[str]:
    """tests/unit on every Python; tests/meta on one: the newest here, the container's.

    tests/meta reads the repository's files (the lock, the workflows, the docs) and
    drives the harness, whose own runs (`nox -s integration`, `lint`) use that Python;
    a second interpreter would read the same files to the same verdict, for 8 s of CPU.
    """
    if PYTHONS is None or session.python == PYTHONS[-1]:
        return UNIT_FOLDERS
    return [folder for folder in UNIT_FOLDERS if folder != "tests/meta"]


@nox.session(python=PYTHONS)
def unit(session: nox.Session) -> None:
    """Unit tests on SQLite, and the repository's own (tests/meta), each tallied apart at the
    end (tests/support/parts.py); a whole run, where measured, must cover UNIT_GATE % of service/.
    """
    install(session)
    measured = _measures_coverage(session)
    session.run(
        "pytest",
        *_workers(session.posargs),
        *_suite(_unit_folders(session), session.posargs),
        *(_gate(session, UNIT_GATE) if measured else ["--no-cov"]),
        env={**PYTEST_ENV, "COVERAGE_FILE": ".coverage.unit"},
    )


def _docker_mode() -> bool:
    """RUN_DOCKER_INTEGRATION_TESTS=true, read as tests/support/compose.py reads it."""
    return os.environ.get("RUN_DOCKER_INTEGRATION_TESTS", "").strip().lower() == "true"


@nox.session(python=CONTAINER_PYTHON)
def integration(session: nox.Session) -> None:
    """tests/integration on a real MySQL, and the modules of UNIT_FOLDERS marked both_databases
    again on it.

    Where the MySQL comes from: tests/support/mysql.py.
    """
    install(session)
    session.run(
        "pytest",
        "--db=mysql",
        # The container tests build one image and run one compose project: one process.
        # loadscope: each module runs whole on one worker. A worker that took tests over
        # from another (worksteal) started the module's server again: in a run, the
        # hostile clients' three times and two more, each about 2.5 s of CPU under coverage.
        *_workers(
            session.posargs,
            most=1 if _docker_mode() else MOST_MYSQL_WORKERS,
            dist="loadscope",
        ),
        *_suite(["tests/integration", *UNIT_FOLDERS], session.posargs),
        *_gate(session, INTEGRATION_GATE),
        env={**PYTEST_ENV, "COVERAGE_FILE": ".coverage.integration"},
    )


@nox.session(python=CONTAINER_PYTHON)
def manual(session: nox.Session) -> None:
    """Tests against the real WeChat API; needs real credentials in .env.manual or the env."""
    install(session)
    session.run("pytest", "tests/manual", "--no-cov", *session.posargs, env=PYTEST_ENV)


@nox.session(python=PYTHONS[0] if PYTHONS else None)
def lowest(session: nox.Session) -> None:
    """The unit suite on every direct dependency at the lowest version pyproject.toml allows.

    The lock holds the newest versions, so nothing else tests the floors that
    pyproject.toml promises to anyone who installs the package beside their
    own pins. uv's lowest-direct resolution takes each direct dependency at its
    floor (and whatever those need at their newest). The oldest supported
    Python, as the floors must hold there too. No coverage gate: `unit` has it.
    """
    if shutil.which("uv") is None:
        session.error("lowest needs uv (`pip install uv`): pip cannot resolve to the floors")
    session.install("--resolution", "lowest-direct", "-e", ".[dev]")
    session.run(
        "pytest",
        *_workers(session.posargs),
        *_suite(UNIT_FOLDERS, session.posargs),
        "--no-cov",
        env=PYTEST_ENV,
    )


#: What `nox -s lint` checks besides Python: the image, the workflows, Cloud Run's settings.
STATIC_CHECKS = (
    ("hadolint", "docker/Dockerfile"),
    ("actionlint", ".github/workflows/ci.yml", ".github/workflows/manual.yml"),
    (
        "check-jsonschema",
        "--schemafile",
        "container.config.schema.json",
        "container.config.json",
    ),
)


@nox.session(python=CONTAINER_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, no private library internals (tests/support/private_use.py), then hadolint,
    actionlint and the container.config.json schema (all from the lock)."""
    install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "-m", "tests.support.private_use")
    for command in STATIC_CHECKS:
        session.run(*command)


@nox.session(python=CONTAINER_PYTHON)
def hooks(session: nox.Session) -> None:
    """Every pre-commit hook over every file, as `pre-commit run --all-files` on a clean clone."""
    install(session)
    session.run("pre-commit", "run", "--all-files", "--show-diff-on-failure")


@nox.session(python=CONTAINER_PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy, strict: the service, the harness's shared code, the benchmark and this file."""
    install(session)
    session.run(
        "mypy",
        "service",
        "tests/support",
        "tests/plugins",
        "tests/conftest.py",
        "bench",
        "noxfile.py",
    )


@nox.session(python=CONTAINER_PYTHON)
def coverage(session: nox.Session) -> None:
    """Combine the unit and integration runs (and the servers they started) into one report."""
    install(session)
    parts = [p.name for p in ROOT.glob(".coverage.*") if p.suffix in (".unit", ".integration")]
    if not parts:
        session.error("no coverage data: run `nox -s unit integration` first")
    session.run("coverage", "combine", "--keep", "--data-file=.coverage", *sorted(parts))
    # Since coverage 7.14 a report combines the data files beside its own first and,
    # unless told to keep them, deletes them: a second `nox -s coverage` found none.
    session.run(
        "coverage",
        "report",
        "--data-file=.coverage",
        "--keep-combined",
        f"--fail-under={COMBINED_GATE}",
        *session.posargs,
    )


#: Share of mutants `nox -s mutate` must kill (the rest: tests/mutation-survivors.txt).
MUTATION_GATE = 90


@nox.session(python=CONTAINER_PYTHON)
def mutate(session: nox.Session) -> None:
    """mutmut over the core modules ([tool.mutmut] in pyproject.toml), then the verdict.

    The unit suite kills on SQLite and its both_databases modules on MySQL, in
    one run; the MySQL is found or started once, as for `nox -s integration`
    (tests/support/with_mysql.py), not once per mutant. `-- <mutant names or
    globs>` checks those again (after a new test); mutmut keeps every other
    result in mutants/. Not part of plain `nox`: a full run takes tens of minutes.
    """
    install(session)
    session.run(
        "python",
        "-m",
        "tests.support.with_mysql",
        "--",
        "mutmut",
        "run",
        "--max-children",
        str(os.cpu_count() or 1),
        *session.posargs,
    )
    session.run("python", "tests/support/mutation.py", f"--gate={MUTATION_GATE}")


@nox.session(python=CONTAINER_PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmark (bench/run.py) against its driver floor; ends non-zero on a missed target.

    It prints how long it will take before it starts (about 3 minutes); `-- --quick`
    takes under one. Needs wrk, installed from Debian's packages when root.
    """
    if shutil.which("wrk") is None:
        if os.geteuid() != 0:
            session.error("bench needs wrk: apt-get install wrk")
        session.run("apt-get", "install", "-y", "-qq", "wrk", external=True)
    install(session)
    session.run("python", "bench/run.py", *session.posargs)
