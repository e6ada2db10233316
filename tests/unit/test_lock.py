"""requirements.lock agrees with pyproject.toml: what CI tests is what the image ships.

`nox -s lock` regenerates the lock; these tests fail when pyproject.toml has
moved on without it (a new dependency, or a bound the pinned version breaks).
They read both files and ask no package index.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.live_server import PROJECT_ROOT

LOCK = PROJECT_ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pinned() -> dict[str, str]:
    return {
        canonicalize_name(name): version for name, version in PIN.findall(LOCK.read_text("utf-8"))
    }


def declared() -> list[Requirement]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    own = canonicalize_name(project["name"])
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements += [Requirement(r) for r in extra]
    return [r for r in requirements if canonicalize_name(r.name) != own]


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_every_declared_requirement_is_pinned_within_its_bounds(requirement: Requirement) -> None:
    versions = pinned()
    name = canonicalize_name(requirement.name)
    assert name in versions, f"{requirement} is not in requirements.lock: run `nox -s lock`"
    assert requirement.specifier.contains(versions[name], prereleases=True), (
        f"requirements.lock pins {name}=={versions[name]}, outside {requirement}: run `nox -s lock`"
    )


def test_every_pin_carries_hashes() -> None:
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text("utf-8"))
    pins = [block for block in blocks if PIN.match(block)]
    assert len(pins) == len(pinned()) > 20
    for block in pins:
        assert "--hash=sha256:" in block, block.splitlines()[0]


def test_the_lock_covers_every_extra_and_both_pythons() -> None:
    header = LOCK.read_text("utf-8").splitlines()[:3]
    assert any("nox -s lock" in line for line in header), header
    noxfile = (PROJECT_ROOT / "noxfile.py").read_text("utf-8")
    for option in ("--all-extras", "--universal", "--generate-hashes"):
        assert f'"{option}"' in noxfile
