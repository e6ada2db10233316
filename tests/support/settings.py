"""Which environment variables the service reads, asked of `Config.from_env` itself.

Tests that hold a list of settings (the README's table, the refusal lines, the
deploy files) compare it with this, so a new setting cannot be left out of one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from service.config import Config


class Recording(Mapping[str, str]):
    """An empty environment that remembers every variable asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def variables_the_config_reads() -> set[str]:
    env = Recording()
    Config.from_env(env)
    return env.asked
