"""The suite's own MySQL server: a throwaway one keeps its data in memory.

Every test drops and recreates its tables; on disk that cost a test 31 ms,
in memory 8.5 ms. A server somebody else runs (MYSQL_ADDRESS) is left as it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.mysql import (
    CONTAINER_DATA_DIRECTORY,
    ContainerServer,
    LocalBinaryServer,
    MySQLServer,
    Provider,
    memory_directory,
)


def test_a_throwaway_server_keeps_its_data_in_memory(mysql_provider: Provider) -> None:
    if isinstance(mysql_provider, ContainerServer):
        container = mysql_provider._container.get_wrapped_container()
        container.reload()
        assert CONTAINER_DATA_DIRECTORY in (container.attrs["HostConfig"]["Tmpfs"] or {})
    elif isinstance(mysql_provider, LocalBinaryServer):
        memory = memory_directory()
        if memory is None:
            pytest.skip("no writable tmpfs with 1 GiB free here: the server's data is on disk")
        assert mysql_provider.directory is not None
        assert mysql_provider.directory.parent == Path(memory)
    else:
        pytest.skip(f"{mysql_provider.name}: a server this suite does not run is left as it is")


def test_a_throwaway_server_has_a_temporary_directory_of_its_own(
    mysql_provider: Provider, mysql_server: MySQLServer
) -> None:
    """A starting server deletes the temporary tables it finds in its tmpdir: a shared
    /tmp lost those of the servers pytest-xdist's other workers were starting."""
    if not isinstance(mysql_provider, LocalBinaryServer):
        pytest.skip(f"{mysql_provider.name}: only a local server shares the machine's /tmp")
    assert mysql_provider.directory is not None
    assert mysql_provider.tmpdir.parent == mysql_provider.directory
    assert mysql_server.execute("SELECT @@tmpdir")[0][0] == str(mysql_provider.tmpdir)
