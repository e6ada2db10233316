"""Run one command with a MySQL server for every pytest run it starts.

`python -m tests.support.with_mysql -- <command>` starts the server that
tests/support/mysql.py chooses (MYSQL_ADDRESS, Docker, a local mariadbd) once,
runs the command with MYSQL_PROVIDER=address pointing at it, and stops it.

`nox -s mutate` runs mutmut this way: mutmut starts a pytest run for each
mutant, and every one of them would otherwise start a server of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.mysql import MySQLServer, NoMySQLAvailable, choose_provider


def environment_for(server: MySQLServer) -> dict[str, str]:
    """What makes the suite's provider choose this server, and only this one."""
    return {
        "MYSQL_PROVIDER": "address",
        "MYSQL_ADDRESS": f"{server.host}:{server.port}",
        "MYSQL_USERNAME": server.user,
        "MYSQL_PASSWORD": server.password,
    }


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print("usage: python -m tests.support.with_mysql -- <command> [args...]", file=sys.stderr)
        return 2
    try:
        provider = choose_provider(os.environ)
        server = provider.start()
    except NoMySQLAvailable as error:
        print(f"with_mysql: {error}", file=sys.stderr)
        return 1
    print(f"with_mysql: {provider.name} ({server.description}) at {server.host}:{server.port}")
    try:
        return subprocess.run(command, env={**os.environ, **environment_for(server)}).returncode
    finally:
        provider.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
