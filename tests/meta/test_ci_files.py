"""The hosted CI, the hooks and the static checks: what teams run outside this repository's CI.

The workflow must run the nox sessions (nothing of its own), the static
checks must catch a broken line, and every hook must install from the index.
"""

from __future__ import annotations

import ast
import configparser
import functools
import importlib.util
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.live_server import PROJECT_ROOT
from tests.support.tools import untraced

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text("utf-8"))
    return data


def nox_sessions_run(data: dict[str, Any]) -> dict[str, set[str]]:
    """Job -> the nox sessions its steps run (`nox -s unit-3.11` counts as `unit`)."""
    found: dict[str, set[str]] = {}
    for job, spec in data["jobs"].items():
        runs = " ".join(step.get("run", "") for step in spec["steps"])
        matrix = spec.get("strategy", {}).get("matrix", {}).get("python", [""])
        sessions = set()
        for quoted, bare in re.findall(r'nox -s (?:"([^"]+)"|(\S+))', runs):
            name = quoted or bare
            sessions.add(re.sub(r"-(\$\{\{ matrix\.python \}\}|3\.\d+)$", "", name))
        found[job] = sessions
        if "unit" in sessions:
            assert matrix == ["3.11", "3.12"], job
    return found


def noxfile() -> tuple[set[str], list[str]]:
    """Every session the noxfile defines, and what plain `nox` runs."""
    tree = ast.parse((PROJECT_ROOT / "noxfile.py").read_text("utf-8"))
    defined = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("nox.session" in ast.unparse(d) for d in node.decorator_list)
    }
    default = re.search(r"nox\.options\.sessions = (\[.*?\])", ast.unparse(tree))
    assert default is not None
    return defined, list(ast.literal_eval(default.group(1)))


def test_the_ci_workflow_runs_every_default_session_and_the_coverage() -> None:
    defined, default = noxfile()
    jobs = nox_sessions_run(workflow("ci.yml"))
    ran = set().union(*jobs.values())
    assert ran == {*default, "coverage", "lowest"}
    assert ran <= defined
    for job, sessions in jobs.items():
        assert len(sessions) == 1, f"job {job} should run one session, runs {sessions}"
    ci = workflow("ci.yml")
    assert ci["jobs"]["integration"]["env"]["MYSQL_PROVIDER"] == "testcontainers"
    assert ci["jobs"]["container"]["env"]["RUN_DOCKER_INTEGRATION_TESTS"] == "true"
    assert ci["concurrency"]["cancel-in-progress"] is True
    for spec in ci["jobs"].values():
        setup = [s for s in spec["steps"] if s.get("uses", "").startswith("actions/setup-python")]
        assert setup[0]["with"]["cache-dependency-path"] == "requirements.lock"


def test_ci_runs_the_unit_suite_on_the_declared_floors_after_the_main_run() -> None:
    """pyproject.toml's lower bounds are tested (nox -s lowest), locally and on the hosted CI."""
    script = (PROJECT_ROOT / ".ci" / "run").read_text("utf-8")
    commands = [line.strip() for line in script.splitlines() if not line.lstrip().startswith("#")]
    main_run = commands.index("env -u MYSQL_ADDRESS MYSQL_PROVIDER=local python3 -m nox")
    assert commands.index("python3 -m nox -s lowest") > main_run
    (job,) = [spec for spec in workflow("ci.yml")["jobs"].values() if "lowest" in str(spec)]
    assert job["steps"][-1]["run"] == "nox -s lowest"
    noxfile_text = (PROJECT_ROOT / "noxfile.py").read_text("utf-8")
    assert '"--resolution", "lowest-direct"' in noxfile_text


def test_the_manual_workflow_is_manual_and_refuses_without_credentials() -> None:
    manual = workflow("manual.yml")
    on = manual.get("on", manual.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(on) == {"workflow_dispatch"}
    assert nox_sessions_run(manual) == {"manual": {"manual"}}
    (job,) = manual["jobs"].values()
    assert job["env"]["WX_SECRET"] == "${{ secrets.WX_SECRET }}"
    first = job["steps"][0]["run"]
    assert "exit 1" in first
    assert "WX_APPID" in first and "WX_SECRET" in first  # noqa: PT018


def tool(name: str) -> str:
    """The tool from this interpreter's environment (where the lock installed it), else PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed here (nox installs it from requirements.lock)")
    return found


def check(*command: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        cwd=cwd,
        env=untraced(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_real_files_pass_the_static_checks() -> None:
    assert check(tool("hadolint"), "docker/Dockerfile").returncode == 0
    assert check(tool("actionlint"), *map(str, WORKFLOWS.glob("*.yml"))).returncode == 0
    done = check(
        tool("check-jsonschema"),
        "--schemafile",
        "container.config.schema.json",
        "container.config.json",
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_dockerfile_line_fails_hadolint(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    text = (PROJECT_ROOT / "docker" / "Dockerfile").read_text("utf-8")
    broken.write_text(text.replace("USER 10001", "RUN cd /app && pip install flask\nUSER 10001"))
    done = check(tool("hadolint"), str(broken))
    assert done.returncode != 0
    assert "DL3003" in done.stdout or "DL3013" in done.stdout, done.stdout


def test_a_broken_workflow_line_fails_actionlint(tmp_path: Path) -> None:
    text = (WORKFLOWS / "ci.yml").read_text("utf-8")
    broken = tmp_path / "ci.yml"
    broken.write_text(
        text.replace(
            'run: nox -s "unit-${{ matrix.python }}"', 'run: nox -s "unit-${{ matrix.pyton }}"'
        )
    )
    assert broken.read_text("utf-8") != text
    done = check(tool("actionlint"), str(broken))
    assert done.returncode != 0
    assert "pyton" in done.stdout


def test_a_misspelt_cloud_run_setting_fails_the_schema(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "container.config.json").read_text("utf-8")
    broken = tmp_path / "container.config.json"
    broken.write_text(text.replace('"maxNum"', '"maxNumber"'))
    done = check(
        tool("check-jsonschema"),
        "--schemafile",
        str(PROJECT_ROOT / "container.config.schema.json"),
        str(broken),
    )
    assert done.returncode != 0


def test_renovate_watches_the_lock_the_image_and_the_actions() -> None:
    import json

    config = json.loads((PROJECT_ROOT / "renovate.json").read_text("utf-8"))
    managers = set(config["enabledManagers"])
    assert {"pip-compile", "dockerfile", "github-actions"} <= managers
    assert config["pip-compile"]["managerFilePatterns"] == ["/(^|/)requirements\\.lock$/"]


def test_tox_runs_the_nox_session_of_each_name() -> None:
    """tox.ini has no pytest invocation of its own to drift: every env is `nox -s <its name>`."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(PROJECT_ROOT / "tox.ini", encoding="utf-8")
    assert tox["testenv"]["commands"].strip() == "nox -s {env_name} -- {posargs}"
    assert tox["testenv"]["pass_env"].strip() == "*"
    (named,) = [s for s in tox.sections() if s.startswith("testenv:")]
    envs = set(named.removeprefix("testenv:{").removesuffix("}").split(","))
    defined, default = noxfile()
    assert envs == defined
    assert [e.strip() for e in tox["tox"]["env_list"].split(",")] == default
    assert all("commands" not in tox[s] for s in tox.sections() if s != "testenv")


def test_a_tool_is_started_without_coverage_and_with_everything_else() -> None:
    """Tools (schemathesis, pip, check-jsonschema) run none of service/: measuring them
    would only slow them down; the rest of their environment is the caller's."""
    given = {"PATH": "/bin", "COVERAGE_PROCESS_CONFIG": "{}", "COVERAGE_PROCESS_START": "x"}
    assert untraced(given) == {"PATH": "/bin"}
    assert given["COVERAGE_PROCESS_START"] == "x"  # the caller's mapping is left as it was


@functools.cache
def noxfile_module() -> Any:
    """noxfile.py, loaded as a module (it is not on the import path), once: nox registers
    each session as the file is run."""
    spec = importlib.util.spec_from_file_location("noxfile", PROJECT_ROOT / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_sessions_install_is_skipped_only_while_lock_and_metadata_are_unchanged(
    tmp_path: Path,
) -> None:
    """The stamp's key is what makes a reused session skip its install: it must change with
    either file it is taken from, and with nothing else."""
    module = noxfile_module()
    assert {path.name for path in module.INSTALLED_FROM} == {"requirements.lock", "pyproject.toml"}
    lock, project = tmp_path / "requirements.lock", tmp_path / "pyproject.toml"
    lock.write_text("flask==3.1.0\n")
    project.write_text("[project]\nname = 'x'\n")
    key = module.install_key((lock, project))
    assert module.install_key((lock, project)) == key
    lock.write_text("flask==3.1.1\n")
    assert module.install_key((lock, project)) != key
    lock.write_text("flask==3.1.0\n")
    project.write_text("[project]\nname = 'y'\n")
    assert module.install_key((lock, project)) != key


class CoverageSession:
    """Stands in for nox's session: runs each `coverage` command for real, in `where`."""

    def __init__(self, where: Path) -> None:
        self.where = where
        self.posargs: list[str] = []
        self.virtualenv = types.SimpleNamespace(location=None)  # no install stamp
        self.output: list[str] = []

    def install(self, *args: str, **kwargs: Any) -> None:
        """The test's own environment already has coverage."""

    def log(self, message: str) -> None:
        self.output.append(message)

    def error(self, message: str) -> None:
        pytest.fail(message, pytrace=False)

    def run(self, *args: str, **kwargs: Any) -> None:
        done = subprocess.run(
            [sys.executable, "-m", *args],
            cwd=self.where,
            env=untraced(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        self.output.append(done.stdout)


def test_the_coverage_session_reports_the_same_figure_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nox -s coverage` twice in a row: the second found no data before (coverage's reports
    combine, and delete, the data files beside theirs), though a whole run takes minutes."""
    import coverage

    module = noxfile_module()
    (tmp_path / "pyproject.toml").write_text("[tool.coverage.run]\nparallel = true\n")
    source = tmp_path / "counted.py"
    source.write_text("a = 1\nb = 2\nc = 3\nd = 4\n")
    for part, lines in ((".coverage.unit", [1, 2]), (".coverage.integration", [2, 3, 4])):
        data = coverage.CoverageData(basename=str(tmp_path / part))
        data.add_lines({str(source): lines})
        data.write()
    monkeypatch.setattr(module, "ROOT", tmp_path)
    figures = []
    for _ in range(2):
        session = CoverageSession(tmp_path)
        module.coverage.func(session)
        (total,) = [line for line in "".join(session.output).splitlines() if "TOTAL" in line]
        figures.append(total.split()[-1])
    assert figures == ["100%", "100%"]
    assert (tmp_path / ".coverage.unit").is_file()
    assert (tmp_path / ".coverage.integration").is_file()


def test_plain_pytest_and_the_unit_session_run_the_same_folders() -> None:
    """tests/meta (the repository's files and the harness) runs beside tests/unit wherever the
    unit suite runs: `nox -s unit`, `nox -s lowest`, and plain `pytest`."""
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))
    module = noxfile_module()
    assert module.UNIT_FOLDERS == ["tests/unit", "tests/meta"]
    assert project["tool"]["pytest"]["ini_options"]["testpaths"] == module.UNIT_FOLDERS
    folders = {p.parent.name for p in (PROJECT_ROOT / "tests").glob("*/test_*.py")}
    assert folders == {"unit", "meta", "integration", "manual"}


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["-x"],
        ["-v"],
        ["-vv", "-x", "-s"],
        ["--randomly-seed=12345"],
        ["--randomly-seed", "12345"],
        ["-p", "no:randomly"],
        ["-pno:randomly", "-x"],
        ["-n", "0"],
        ["-n0", "--dist", "load"],
        ["--maxfail", "2", "--tb", "short", "-rA"],
        ["-W", "error::DeprecationWarning", "-o", "xfail_strict=false"],
        ["--hypothesis-seed", "7", "--durations", "10"],
    ],
    ids=" ".join,
)
def test_arguments_that_change_how_the_whole_suite_runs_keep_the_gate(args: list[str]) -> None:
    assert noxfile_module().partial_run(args) is False


@pytest.mark.parametrize(
    "args",
    [
        ["-k", "counter"],
        ["-kcounter"],
        ["-xk", "counter"],
        ["-m", "not both_databases"],
        ["tests/unit/test_counter_api.py"],
        ["tests/unit/test_counter_api.py::test_inc_then_count"],
        ["-x", "tests/unit"],
        ["-n", "0", "tests/unit/test_users.py", "-v"],
        ["-p", "no:randomly", "test_users.py"],
        ["--deselect", "tests/unit/test_users.py::test_x"],
        ["--ignore=tests/unit/test_users.py"],
        ["--lf"],
        ["--co"],
        ["--", "-x"],
    ],
    ids=" ".join,
)
def test_arguments_that_choose_tests_drop_the_gate(args: list[str]) -> None:
    assert noxfile_module().partial_run(args) is True


class RecordingSession:
    """Stands in for nox's session: records the commands a session function would run."""

    def __init__(self, python: str | None, posargs: list[str]) -> None:
        self.python = python
        self.posargs = posargs
        self.virtualenv = types.SimpleNamespace(location=None)  # no install stamp
        self.commands: list[list[str]] = []

    def install(self, *args: str, **kwargs: Any) -> None:
        """Nothing to install: only the commands are looked at."""

    def log(self, message: str) -> None:
        """Nothing to say."""

    def run(self, *args: str, **kwargs: Any) -> None:
        self.commands.append(list(args))


def test_the_unit_session_runs_tests_meta_on_the_newest_python_only() -> None:
    """tests/unit on each Python found; the repository's own files are read once per run."""
    module = noxfile_module()
    pythons = module.PYTHONS or [None]
    folders = {}
    for python in pythons:
        session = RecordingSession(python, [])
        module.unit.func(session)
        (command,) = [c for c in session.commands if c[0] == "pytest"]
        folders[python] = [arg for arg in command if arg.startswith("tests/")]
    assert folders[pythons[-1]] == ["tests/unit", "tests/meta"]
    assert all(folders[python] == ["tests/unit"] for python in pythons[:-1])


@pytest.mark.parametrize(
    ("posargs", "gated"),
    [
        ([], True),
        (["-x"], True),
        (["-x", "-p", "no:randomly"], True),
        (["-k", "counter"], False),
        (["--no-cov"], False),
        (["-x", "--no-cov"], False),
    ],
    ids=str,
)
@pytest.mark.parametrize(
    ("name", "gate"), [("unit", "UNIT_GATE"), ("integration", "INTEGRATION_GATE")]
)
def test_the_sessions_hold_a_whole_run_to_the_coverage_gate(
    name: str, gate: str, posargs: list[str], gated: bool
) -> None:
    """`nox -s unit -- -x` is still a whole run and must reach the gate; `-- -k counter` is not,
    and `-- --no-cov` measures nothing to hold to it."""
    module = noxfile_module()
    measured = module.PYTHONS[0] if module.PYTHONS else None  # where unit measures coverage
    session = RecordingSession(measured, posargs)
    getattr(module, name).func(session)
    (command,) = [c for c in session.commands if c[0] == "pytest"]
    assert (f"--cov-fail-under={getattr(module, gate)}" in command) is gated
    assert all(arg in command for arg in posargs)
