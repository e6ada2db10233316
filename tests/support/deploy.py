"""Reading docker/Dockerfile the way the deploy tests and the container tests both need."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from tests.support.live_server import PROJECT_ROOT

DOCKER = PROJECT_ROOT / "docker"


class Dockerfile:
    """The few instructions the tests rely on, read from the final stage."""

    def __init__(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8").replace("\\\n", " ")
        stages = re.split(r"^FROM\s", text, flags=re.MULTILINE)
        self.final = "FROM " + stages[-1]
        self.base_images = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
        self.args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, flags=re.MULTILINE))
        self.text = text

    def instructions(self, name: str) -> list[str]:
        return re.findall(rf"^{name}\s+(.+)$", self.final, flags=re.MULTILINE)

    @property
    def env(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in self.instructions("ENV"):
            for token in shlex.split(line):
                key, _, value = token.partition("=")
                found[key] = value
        return found

    @property
    def cmd(self) -> list[str]:
        (line,) = self.instructions("CMD")
        return list(json.loads(line))


def dockerfile() -> Dockerfile:
    return Dockerfile(DOCKER / "Dockerfile")
