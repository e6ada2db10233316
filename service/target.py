"""Where the data lives: DATABASE_URL, MYSQL_ADDRESS, or an SQLite file.

Kept apart from `service.db` so that the settings check can read it without
importing peewee or PyMySQL: gunicorn's master runs that check, and must not
import them (a gevent worker patches the standard library before it does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from service.config import Config, ConfigError


@dataclass(frozen=True)
class Target:
    """Where the data lives, with nothing secret in it, so it can be logged."""

    dialect: str  # "mysql" or "sqlite"
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = ""
    name: str = ""

    def describe(self) -> str:
        if self.dialect == "sqlite":
            return f"sqlite {self.name}"
        return f"mysql {self.user}@{self.host}:{self.port}/{self.name}"


def _port(text: str, variable: str, example: str, *, show: bool = True) -> int:
    if not (text.isdigit() and 0 < int(text) < 65536):
        given = f"port {text!r}," if show else "a port that is"
        raise ConfigError(f"{variable} has {given} not a number from 1 to 65535; write {example}")
    return int(text)


def _host_port(address: str, variable: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, 3306
    return host, _port(port, variable, "host:port, such as 10.0.0.5:3306")


MYSQL_URL_EXAMPLE = (
    "mysql://user:password@host:3306/database, with any / ? # @ in the password "
    "percent-encoded (%2F %3F %23 %40)"
)


def _parse_url(url: str) -> Target:
    """The target DATABASE_URL names. Refusals never repeat the URL: it may hold a password.

    Nor any part of it: a password with an unencoded '/' ends the host part early,
    so what stands where the port or the database name should is a piece of it.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "sqlite":
        # sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory:
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise ConfigError(
                "DATABASE_URL names no SQLite file; write sqlite:///relative.db "
                "or sqlite:////absolute/path.db"
            )
        return Target("sqlite", name=path)
    if scheme == "mysql":
        name = parts.path.lstrip("/")
        if not name:
            raise ConfigError(f"DATABASE_URL names no MySQL database; write {MYSQL_URL_EXAMPLE}")
        if "@" in name:
            raise ConfigError(f"DATABASE_URL has '@' after the host; write {MYSQL_URL_EXAMPLE}")
        if parse_qs(parts.query):
            raise ConfigError("DATABASE_URL takes no query options; use the MYSQL_* settings")
        after_host = parts.netloc.rpartition("@")[2].rpartition("]")[2]  # past an IPv6 [::1]
        port = after_host.rpartition(":")[2] if ":" in after_host else ""
        return Target(
            "mysql",
            host=parts.hostname or "127.0.0.1",
            port=_port(port, "DATABASE_URL", MYSQL_URL_EXAMPLE, show=False) if port else 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            name=name,
        )
    given = f"not {scheme}://" if scheme and "://" in url else "and this value has no scheme"
    raise ConfigError(f"DATABASE_URL must start with sqlite:// or mysql:// ({given})")


def resolve_target(config: Config, instance_path: str) -> Target:
    """DATABASE_URL wins, then MYSQL_ADDRESS, then an SQLite file in the instance folder."""
    if config.database_url:
        return _parse_url(config.database_url)
    if config.mysql_address:
        host, port = _host_port(config.mysql_address, "MYSQL_ADDRESS")
        return Target(
            "mysql",
            host=host,
            port=port,
            user=config.mysql_username,
            password=config.mysql_password,
            name=config.mysql_database,
        )
    return Target("sqlite", name=str(Path(instance_path) / "service.sqlite3"))
