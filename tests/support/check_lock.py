"""Whether requirements.lock still agrees with pyproject.toml; a pre-commit hook and a test.

Offline: it reads both files and asks no package index. `nox -s lock`
regenerates the lock when this says it is out of date.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pinned(lock: Path = LOCK) -> dict[str, str]:
    return {
        canonicalize_name(name): version for name, version in PIN.findall(lock.read_text("utf-8"))
    }


def declared(root: Path = ROOT) -> list[Requirement]:
    """Every requirement pyproject.toml states, the project's own extras left out."""
    project = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["project"]
    own = canonicalize_name(project["name"])
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements += [Requirement(r) for r in extra]
    return [r for r in requirements if canonicalize_name(r.name) != own]


def problems(root: Path = ROOT) -> list[str]:
    versions = pinned(root / "requirements.lock")
    found = []
    for requirement in declared(root):
        name = canonicalize_name(requirement.name)
        if name not in versions:
            found.append(f"{requirement} is not in requirements.lock")
        elif not requirement.specifier.contains(versions[name], prereleases=True):
            found.append(f"requirements.lock pins {name}=={versions[name]}, outside {requirement}")
    return found


def main() -> int:
    found = problems()
    for problem in found:
        print(f"{problem}: run `nox -s lock`", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
