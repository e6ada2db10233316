"""requirements.lock agrees with pyproject.toml: what CI tests is what the image ships.

`nox -s lock` regenerates the lock; these tests fail when pyproject.toml has
moved on without it (a new dependency, or a bound the pinned version breaks).
They read both files and ask no package index.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.check_lock import PIN, declared, pinned, problems
from tests.support.live_server import PROJECT_ROOT

LOCK = PROJECT_ROOT / "requirements.lock"


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
    """The header is the command that wrote it, which Renovate re-runs for its updates."""
    header = " ".join(LOCK.read_text("utf-8").splitlines()[:3])
    assert "uv pip compile pyproject.toml" in header
    for option in ("--all-extras", "--universal", "--generate-hashes", "--python-version 3.11"):
        assert option in header


def test_the_check_names_a_requirement_the_lock_lacks(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "pyproject.toml").read_text("utf-8")
    (tmp_path / "pyproject.toml").write_text(
        text.replace('"Flask>=3.1,<4",', '"Flask>=3.1,<4", "left-pad>=1",')
    )
    (tmp_path / "requirements.lock").write_text(LOCK.read_text("utf-8"))
    assert problems(PROJECT_ROOT) == []
    assert problems(tmp_path) == ["left-pad>=1 is not in requirements.lock"]


def test_pre_commit_installs_the_versions_the_lock_pins() -> None:
    config = yaml.safe_load((PROJECT_ROOT / ".pre-commit-config.yaml").read_text("utf-8"))
    versions = pinned()
    for repo in config["repos"]:
        assert repo["repo"] == "local"  # nothing fetched from a git host
        for hook in repo["hooks"]:
            for dependency in hook.get("additional_dependencies", []):
                name, _, version = dependency.partition("==")
                assert versions[canonicalize_name(name)] == version, dependency
