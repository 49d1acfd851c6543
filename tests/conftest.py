"""What every test folder shares: where the repository is, and the helper modules on sys.path.

The tests mirror the package (``tests/sim/`` for ``distlab/sim/``, ``tests/labs/`` for
``distlab/labs/``, ...; ``tests/book/`` holds the notebook, book-build and browser tests).
There is no ``__init__.py``: pytest puts each test file's folder on ``sys.path``, so test file
names must be unique across folders (``tests/test_layering.py`` checks it).

``tests/net/net_nodes.py`` holds node classes that real node processes import by module name
(``start_cluster("net_nodes:Echo", ...)``): its folder goes on ``sys.path`` here, for the tests
of every folder, and `distlab.net.start_cluster` hands ``sys.path`` on to the processes.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
NET_NODES = Path(__file__).resolve().parent / "net"

if str(NET_NODES) not in sys.path:
    sys.path.insert(0, str(NET_NODES))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder."""
    return REPO_ROOT


@pytest.fixture
def slow_dask_scratch(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A busy machine, as Dask sees it: the first scratch directory that a Dask server creates
    in this process (or in a process forked from it) takes 1.1 s, past the second after which
    Dask warns (`distlab.compute.dask_engine.SLOW_SCRATCH`). Returns the base folders of the
    scratch directories created in this process, to check that the slow one was."""
    from distributed.diskutils import WorkSpace

    made: list[str] = []
    create = WorkSpace.__init__

    def slowly(self: WorkSpace, base_dir: str) -> None:
        if not made:
            time.sleep(1.1)
        made.append(base_dir)
        create(self, base_dir)

    monkeypatch.setattr(WorkSpace, "__init__", slowly)
    return made


#: the port a Dask scheduler's HTTP server takes unless told otherwise
DASK_DEFAULT_HTTP_PORT = 8787


@pytest.fixture
def dask_default_port_taken() -> Iterator[int]:
    """Another Dask cluster on the machine, as a new one sees it: Dask's default HTTP port
    (`DASK_DEFAULT_HTTP_PORT`) on loopback is held by a listening socket for the test's
    duration (or is already held by another process, which is the same for the test).
    Yields that port."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", DASK_DEFAULT_HTTP_PORT))
        holder.listen()
    except OSError:  # taken already: what the test needs
        pass
    try:
        yield DASK_DEFAULT_HTTP_PORT
    finally:
        holder.close()
