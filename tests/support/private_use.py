"""A lint check: our code uses no private part of the libraries the service is built on.

renovate.json proposes an upgrade of each of these libraries every week, and a
name they keep private (a leading underscore, or a class their documentation
never mentions) can change in any release without a word in the changelog. So
the service, the tests, the benchmark and the build files use only what the
libraries publish. Where an underscored name *is* their documented interface
(peewee's `Model._meta`), docs/upstream.md says so in its allow-list table,
and this check reads the table from there.

What counts as a use, read from the source without running it:
- an import of an underscored module or name from a watched library;
- an underscored attribute of anything imported from one (`pw.Model._meta`,
  `auto._index_fields(...)`), also spelled as `getattr(x, "_name")` or
  `monkeypatch.setattr(x, "_name", ...)`, or as a dotted string
  (`mock.patch("peewee_migrate.router._x")`);
- in a class that derives from a watched class (through our own classes too),
  a method, or a `self.` / `super()` attribute, with a private name the
  library defines: overriding or touching its internals;
- anywhere else, an underscored attribute whose name some watched library
  defines and our own code never does (`pool._connections`, `conn._rfile`).

Python's own protocol names (`__init__`, `__enter__`) are public; names that
merely look like them (peewee's `__rel__` and `__sql__`) are not. Limits, as
the check reads names, not types: an underscored name our own code also defines
is taken to be ours wherever it appears, and an undocumented name without an
underscore is caught only once docs/upstream.md lists it (REFUSED_HEADING).

    python -m tests.support.private_use      # nox -s lint runs it
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib.util
import re
import sys
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The libraries whose internals we stay out of, by their top-level import names.
WATCHED = (
    "flask",
    "gunicorn",
    "jwt",
    "peewee",
    "peewee_migrate",
    "playhouse",
    "pymysql",
    "testcontainers",
    "werkzeug",
)

#: What the check reads: everything of ours that imports them.
CHECKED = ("service", "tests", "bench", "noxfile.py", "gunicorn.conf.py")

#: Where the exceptions are listed, with why each is public (a table under this heading),
#: and the names without an underscore that their library does not document (another).
ALLOW_LIST = ROOT / "docs" / "upstream.md"
ALLOW_HEADING = "## Underscored names the lint check allows"
REFUSED_HEADING = "## Undocumented names the lint check refuses"

#: Python's data model: the dunder names of every builtin type, of functions, modules,
#: generators and context managers, and the module-level ones. A library's own dunders
#: (peewee's `__sql__`) are not among them.
PROTOCOL = frozenset(
    name
    for source in [
        *(value for value in vars(builtins).values() if isinstance(value, type)),
        types.FunctionType,
        types.ModuleType,
        types.GeneratorType,
        types.CoroutineType,
        contextlib.AbstractContextManager,
        contextlib.AbstractAsyncContextManager,
    ]
    for name in dir(source)
    if name.startswith("__") and name.endswith("__")
) | frozenset(
    {
        *("__all__", "__file__", "__path__", "__version__", "__wrapped__", "__post_init__"),
        *("__getattr__", "__missing__", "__fspath__", "__aiter__", "__anext__", "__match_args__"),
    }
)

#: getattr(x, "_name") and friends: the attribute named by their second argument.
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "hasattr", "delattr"})

DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def read_table(heading: str, path: Path = ALLOW_LIST) -> set[tuple[str, str]]:
    """(library, name) from the table under `heading`: `| `peewee` | `_meta` | why |`."""
    if not path.is_file():
        return set()
    rows: set[tuple[str, str]] = set()
    in_section = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            in_section = line.strip() == heading
            continue
        if not (in_section and line.startswith("|")):
            continue
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] in WATCHED and cells[1].isidentifier():
            rows.add((cells[0], cells[1]))
    return rows


#: Classes and attributes without an underscore that their library does not document.
UNDOCUMENTED = frozenset(name for _, name in read_table(REFUSED_HEADING))


def is_private(name: str) -> bool:
    if name in UNDOCUMENTED:
        return True
    return name.startswith("_") and name not in PROTOCOL and name != "_"


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    column: int
    name: str
    library: str
    how: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}:{self.column}: {self.name} is private to {self.library}"
            f" ({self.how}); use its public API, or say why it is public in"
            f" docs/upstream.md ({ALLOW_HEADING.lstrip('# ')})"
        )


# --- what the libraries define ------------------------------------------------------------


def library_files(package: str) -> list[Path]:
    spec = importlib.util.find_spec(package)
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return sorted(
            f for place in spec.submodule_search_locations for f in Path(place).rglob("*.py")
        )
    return [Path(spec.origin)] if spec.origin else []


def defined_names(tree: ast.AST) -> Iterator[str]:
    """Every name a module binds or assigns as an attribute: defs, classes, targets, `x.y =`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            yield node.attr
        elif isinstance(node, ast.alias):
            yield (node.asname or node.name).split(".")[0]


def own_names(tree: ast.AST) -> Iterator[str]:
    """The names our code defines for itself: attributes only as `self.x =` (or `cls.x =`);
    `conn._x = ...` on someone else's object is a use of their name, not a definition."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            yield node.attr


def library_private_names(packages: Iterable[str] = WATCHED) -> dict[str, set[str]]:
    """Each private name the watched libraries define, and which of them define it."""
    found: dict[str, set[str]] = {}
    for package in packages:
        for path in library_files(package):
            try:
                tree = ast.parse(path.read_bytes(), str(path))
            except (SyntaxError, ValueError):
                continue
            for name in defined_names(tree):
                if is_private(name):
                    found.setdefault(name, set()).add(SHIPPED_WITH.get(package, package))
    return found


# --- our side -----------------------------------------------------------------------------


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    #: local name -> dotted origin ("peewee", "playhouse.pool.PooledMySQLDatabase", "service.db")
    imports: dict[str, str] = field(default_factory=dict)


def module_name(path: Path, root: Path) -> str:
    relative = path.relative_to(root).with_suffix("")
    name = ".".join(relative.parts).replace("gunicorn.conf", "gunicorn_conf")
    return name.removesuffix(".__init__")


def checked_files(root: Path, places: Iterable[str] = CHECKED) -> list[Path]:
    files: list[Path] = []
    for place in places:
        target = root / place
        if target.is_file():
            files.append(target)
        elif target.is_dir():
            files.extend(p for p in sorted(target.rglob("*.py")) if ".nox" not in p.parts)
    return files


#: Import names shipped by one distribution, reported and allowed under its name.
SHIPPED_WITH = {"playhouse": "peewee"}


def watched_root(dotted: str) -> str | None:
    """The library a dotted name belongs to ("playhouse.pool.X" -> "peewee"), if watched."""
    top = dotted.split(".")[0]
    return SHIPPED_WITH.get(top, top) if top in WATCHED else None


def read_imports(module: Module) -> None:
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    module.imports[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    module.imports[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                module.imports[alias.asname or alias.name] = f"{base}.{alias.name}"


def dotted_of(expr: ast.expr, module: Module) -> str | None:
    """`pw.Model` -> "peewee.Model", `Local` -> "this.module.Local", through the imports."""
    if isinstance(expr, ast.Name):
        return module.imports.get(expr.id, f"{module.name}.{expr.id}")
    if isinstance(expr, ast.Attribute):
        base = dotted_of(expr.value, module)
        return f"{base}.{expr.attr}" if base else None
    if isinstance(expr, ast.Subscript):  # Generic[T] and the like
        return dotted_of(expr.value, module)
    return None


def watched_bases(modules: list[Module]) -> dict[str, str]:
    """Our classes that derive from a watched library's class ("service.db.Pool" -> "peewee")."""
    classes: dict[str, list[str]] = {}
    for module in modules:
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ClassDef):
                named = (dotted_of(base, module) for base in node.bases)
                classes[f"{module.name}.{node.name}"] = [b for b in named if b]
    derived: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for name, bases in classes.items():
            if name in derived:
                continue
            for base in bases:
                library = watched_root(base) or derived.get(base)
                if library:
                    derived[name] = library
                    changed = True
                    break
    return derived


@dataclass
class Checker:
    library_names: dict[str, set[str]]
    allowed: set[tuple[str, str]]
    ours: set[str]
    derived: dict[str, str]
    root: Path
    findings: list[Finding] = field(default_factory=list)

    def allows(self, name: str, libraries: Iterable[str]) -> bool:
        return any((library, name) in self.allowed for library in libraries)

    def flag(self, module: Module, node: ast.AST, name: str, libraries: set[str], how: str) -> None:
        if self.allows(name, libraries):
            return
        self.findings.append(
            Finding(
                str(module.path.relative_to(self.root)),
                getattr(node, "lineno", 0),
                getattr(node, "col_offset", 0) + 1,
                name,
                "/".join(sorted(libraries)),
                how,
            )
        )

    def origin(self, expr: ast.expr, module: Module) -> str | None:
        """The watched library an expression's leftmost name was imported from, if any."""
        while isinstance(expr, ast.Attribute | ast.Call | ast.Subscript):
            expr = expr.func if isinstance(expr, ast.Call) else expr.value
        if isinstance(expr, ast.Name) and expr.id in module.imports:
            return watched_root(module.imports[expr.id])
        return None

    def attribute(
        self, module: Module, node: ast.AST, owner: ast.expr, name: str, library: str | None
    ) -> None:
        """`owner.name`, where `library` is the watched library of the class we are in."""
        if not is_private(name):
            return
        direct = self.origin(owner, module)
        if direct:
            self.flag(module, node, name, {direct}, "attribute of an import")
            return
        defined_by = self.library_names.get(name, set())
        if not defined_by:
            return
        inside = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
        inside |= (
            isinstance(owner, ast.Call)
            and isinstance(owner.func, ast.Name)
            and owner.func.id == "super"
        )
        if library and inside and library in defined_by:
            self.flag(module, node, name, {library}, "inherited internal")
        elif name not in self.ours:
            self.flag(module, node, name, defined_by, "attribute")

    def check(self, module: Module) -> None:
        self.visit(module, module.tree, None)

    def visit(self, module: Module, node: ast.AST, library: str | None) -> None:
        if isinstance(node, ast.ClassDef):
            library = self.derived.get(f"{module.name}.{node.name}")
            for item in node.body:
                if not (library and isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)):
                    continue
                if is_private(item.name) and library in self.library_names.get(item.name, ()):
                    self.flag(module, item, item.name, {library}, "override of an internal")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            self.check_import(module, node)
        elif isinstance(node, ast.Attribute):
            self.attribute(module, node, node.value, node.attr, library)
        elif isinstance(node, ast.Call):
            self.check_call(module, node, library)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.check_dotted(module, node, node.value)
        for child in ast.iter_child_nodes(node):
            self.visit(module, child, library)

    def check_import(self, module: Module, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.check_dotted(module, node, alias.name)
            return
        if node.level or not node.module or not watched_root(node.module):
            return
        for alias in node.names:
            self.check_dotted(module, node, f"{node.module}.{alias.name}")

    def check_dotted(self, module: Module, node: ast.AST, text: str) -> None:
        library = watched_root(text)
        if not library or not DOTTED.match(text):
            return
        for part in text.split(".")[1:]:
            if is_private(part):
                self.flag(module, node, part, {library}, f"named in {text!r}")

    def check_call(self, module: Module, node: ast.Call, library: str | None) -> None:
        func = node.func
        named = func.id if isinstance(func, ast.Name) else None
        named = func.attr if isinstance(func, ast.Attribute) else named
        if named not in ATTRIBUTE_FUNCTIONS or len(node.args) < 2:
            return
        owner, name = node.args[0], node.args[1]
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            self.attribute(module, node, owner, name.value, library)


def read_allow_list(path: Path = ALLOW_LIST) -> set[tuple[str, str]]:
    """The underscored names docs/upstream.md says its library documents."""
    return {(lib, name) for lib, name in read_table(ALLOW_HEADING, path) if name.startswith("_")}


def find_private_uses(
    files: list[Path],
    root: Path = ROOT,
    *,
    allowed: set[tuple[str, str]] | None = None,
    library_names: dict[str, set[str]] | None = None,
) -> list[Finding]:
    modules = []
    for path in files:
        module = Module(module_name(path, root), path, ast.parse(path.read_bytes(), str(path)))
        read_imports(module)
        modules.append(module)
    derived = watched_bases(modules)
    ours = {name for module in modules for name in own_names(module.tree) if is_private(name)}
    checker = Checker(
        library_names if library_names is not None else library_private_names(),
        read_allow_list() if allowed is None else allowed,
        ours,
        derived,
        root,
    )
    for module in modules:
        checker.check(module)
    return sorted(set(checker.findings))


def main(argv: list[str] | None = None) -> int:
    places = (argv if argv is not None else sys.argv[1:]) or list(CHECKED)
    findings = find_private_uses(checked_files(ROOT, places))
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} uses of private library internals", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
