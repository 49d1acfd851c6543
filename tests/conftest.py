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

import sys
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
