"""A node process dies with the process that started it: `distlab.net.lifeline`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(30)


def _process_is_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting to be reaped counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_a_node_whose_handler_is_stuck_dies_with_its_parent(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from distlab.net import start_cluster\n"
         f"cluster = start_cluster('net_nodes:Spinner', ['a'], data_dir={str(tmp_path)!r})\n"
         "print(cluster.pid('a'), flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent)
    node_pid = None
    try:
        assert parent.stdout is not None
        node_pid = int(parent.stdout.readline())
        time.sleep(0.3)                     # the node is in its busy loop by now
        assert not _process_is_gone(node_pid)
        parent.kill()                       # kill -9: the parent cannot stop the node itself
        parent.wait(5)
        deadline = time.monotonic() + 5
        while not _process_is_gone(node_pid):
            assert time.monotonic() < deadline, "the node outlived its parent by 5 s"
            time.sleep(0.05)
        assert "its handler is stuck" in (tmp_path / "a.log").read_text()
    finally:
        if parent.poll() is None:
            parent.kill()
        if node_pid is not None and not _process_is_gone(node_pid):
            os.kill(node_pid, signal.SIGKILL)
