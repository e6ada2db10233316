"""The lint check on library internals (tests/support/private_use.py) catches each kind of use.

Each snippet is a file of a small project in a temporary directory, checked
against the libraries installed here, as `nox -s lint` checks the repository.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support import private_use
from tests.support.private_use import Finding, find_private_uses, read_allow_list


@pytest.fixture(scope="module")
def library_names() -> dict[str, set[str]]:
    """The private names of the installed libraries, read once for the module (about a second)."""
    return private_use.library_private_names()


def check(
    tmp_path: Path,
    library_names: dict[str, set[str]],
    files: dict[str, str],
    allowed: set[tuple[str, str]] | None = None,
) -> list[Finding]:
    paths = []
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        paths.append(path)
    return find_private_uses(
        paths,
        tmp_path,
        allowed=read_allow_list() if allowed is None else allowed,
        library_names=library_names,
    )


CLEAN = """
    from __future__ import annotations

    import peewee as pw
    from flask import Flask, jsonify
    from playhouse.pool import PooledMySQLDatabase


    class Counter(pw.Model):
        count = pw.IntegerField(default=0)

        def __repr__(self) -> str:  # a protocol method, not an internal
            return f"Counter({self.count})"


    class Waking(PooledMySQLDatabase):
        def __init__(self, *args, **kwargs):
            self._wake_timeout = kwargs.pop("wake_timeout", 0)  # our own attribute
            super().__init__(*args, **kwargs)

        def _connect(self):  # peewee's documented extension point (docs/upstream.md)
            return super()._connect()


    def table() -> str:
        return Counter._meta.table_name  # documented (docs/upstream.md)


    def create_app() -> Flask:
        app = Flask(__name__)
        app.add_url_rule("/", "index", lambda: jsonify(code=1))
        return app
"""


def test_code_that_keeps_to_public_apis_passes(
    tmp_path: Path, library_names: dict[str, set[str]]
) -> None:
    assert check(tmp_path, library_names, {"service/app.py": CLEAN}) == []


PRIVATE_USES = {
    "a model's pending changes": (
        "from service.models import User\nuser = User()\nchanged = user._dirty\n",
        "_dirty",
    ),
    "an attribute of an imported module": (
        "from werkzeug.routing import rules\nparts = rules.Rule._trace\n",
        "_trace",
    ),
    "an import of a private module": ("import werkzeug._internal\n", "_internal"),
    "an undocumented class": (
        "from gunicorn.workers.gthread import PollableMethodQueue\n",
        "PollableMethodQueue",
    ),
    "a private method overridden": (
        "from playhouse.pool import PooledMySQLDatabase\n"
        "class Pool(PooledMySQLDatabase):\n"
        "    def _can_reuse(self, conn):\n"
        "        return True\n",
        "_can_reuse",
    ),
    "a private attribute inherited": (
        "import playhouse.pool\n"
        "class Pool(playhouse.pool.PooledMySQLDatabase):\n"
        "    def connect(self, reuse_if_open=False):\n"
        "        return self._state\n",
        "_state",
    ),
    "getattr with a private name": (
        "def unique(index):\n    return getattr(index, '_unique', False)\n",
        "_unique",
    ),
    "monkeypatch.setattr with a private name": (
        "def test_x(monkeypatch, pool):\n    monkeypatch.setattr(pool, '_max_connections', 1)\n",
        "_max_connections",
    ),
    "a patch target": (
        "from unittest import mock\n"
        "patched = mock.patch('peewee_migrate.auto._is_implicit_field_index')\n",
        "_is_implicit_field_index",
    ),
    "a private attribute assigned": ("def break_it(conn):\n    conn._rfile = None\n", "_rfile"),
    "a library's own dunder": ("import peewee\nrender = peewee.Node.__sql__\n", "__sql__"),
    "a library's own dunder on a model": (
        "def related(user):\n    return user.__rel__\n",
        "__rel__",
    ),
}


@pytest.mark.parametrize("kind", sorted(PRIVATE_USES))
def test_a_newly_added_private_use_is_caught(
    tmp_path: Path, library_names: dict[str, set[str]], kind: str
) -> None:
    snippet, name = PRIVATE_USES[kind]
    files = {"service/app.py": CLEAN, "service/added.py": snippet}
    findings = check(tmp_path, library_names, files)
    assert [(f.path, f.name) for f in findings] == [("service/added.py", name)]


def test_a_class_derived_through_our_own_class_is_checked_too(
    tmp_path: Path, library_names: dict[str, set[str]]
) -> None:
    files = {
        "service/base.py": "from playhouse.pool import PooledMySQLDatabase\n"
        "class Base(PooledMySQLDatabase):\n    pass\n",
        "tests/test_x.py": "from service.base import Base\n"
        "class Mine(Base):\n    def _close_raw(self, conn):\n        pass\n",
    }
    findings = check(tmp_path, library_names, files)
    assert [(f.path, f.line, f.name) for f in findings] == [("tests/test_x.py", 3, "_close_raw")]


def test_an_underscored_name_passes_only_while_docs_upstream_lists_it(
    tmp_path: Path, library_names: dict[str, set[str]]
) -> None:
    assert {("peewee", "_meta"), ("peewee", "_connect")} <= read_allow_list()
    findings = check(tmp_path, library_names, {"service/app.py": CLEAN}, allowed=set())
    assert sorted({f.name for f in findings}) == ["_connect", "_meta"]


def test_the_undocumented_names_come_from_docs_upstream() -> None:
    assert ("gunicorn", "PollableMethodQueue") in private_use.read_table(
        private_use.REFUSED_HEADING
    )
    assert private_use.is_private("PollableMethodQueue")
    assert not private_use.is_private("Rule")


def test_only_the_allow_list_section_of_the_document_counts(tmp_path: Path) -> None:
    document = tmp_path / "upstream.md"
    document.write_text(
        "# Upstream\n\n## Something else\n\n| `peewee` | `_state` | not this |\n\n"
        f"{private_use.ALLOW_HEADING}\n\n| library | name | why |\n|---|---|---|\n"
        "| `peewee` | `_meta` | documented |\n| `requests` | `_content` | not watched |\n",
        encoding="utf-8",
    )
    assert read_allow_list(document) == {("peewee", "_meta")}


def test_the_message_names_the_place_the_library_and_where_exceptions_go(
    tmp_path: Path, library_names: dict[str, set[str]]
) -> None:
    (finding,) = check(tmp_path, library_names, {"service/a.py": "import peewee\npeewee._x = 1\n"})
    line = str(finding)
    assert line.startswith("service/a.py:2:1: _x is private to peewee")
    assert "docs/upstream.md" in line


def test_the_lint_session_runs_the_check() -> None:
    noxfile = (private_use.ROOT / "noxfile.py").read_text("utf-8")
    lint = noxfile[noxfile.index("def lint(") :].split("\n@nox.session", 1)[0]
    assert '"-m", "tests.support.private_use"' in lint
