"""A `distlab.sim.Client` node runs as a real process too, and its history is kept.

In the simulator a client records its operations in ``sim.history``; in real mode the host
keeps a `History` of its own, prints each event and appends it to
``<data_dir>/<id>.history.jsonl``, which the linearizability checker reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from client_nodes import RegisterServer, WriteThenRead

from distlab.check.history_io import read_jsonl
from distlab.net.addresses import free_ports
from distlab.net.host import history_path
from distlab.sim import Simulation

pytestmark = pytest.mark.timeout(30)

HERE = Path(__file__).resolve().parent
EXPECTED = [
    {"process": "c", "f": "write", "type": "invoke", "value": 7},
    {"process": "c", "f": "write", "type": "ok", "value": 7},
    {"process": "c", "f": "read", "type": "invoke", "value": None},
    {"process": "c", "f": "read", "type": "ok", "value": 7},
]


def start(node_class: str, node_id: str, port: int, data_dir: Path,
          *more: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(HERE), *filter(None, sys.path)]))
    with open(data_dir / f"{node_id}.out", "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "distlab.net", "run", "--node-class",
             f"client_nodes:{node_class}", "--id", node_id, "--listen", f"127.0.0.1:{port}",
             "--data-dir", str(data_dir), *more],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)


def wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        output = path.read_text() if path.exists() else ""
        if text in output:
            return output
        assert proc.poll() is None, f"the process exited early:\n{output}"
        assert time.monotonic() < deadline, f"{text!r} not logged in {timeout} s:\n{output}"
        time.sleep(0.02)


def test_the_same_client_in_the_simulator_records_the_same_operations() -> None:
    sim = Simulation(seed=1)
    sim.add_node(RegisterServer, "s")
    sim.add_node(WriteThenRead, "c")
    sim.run(until=1_000)
    assert sim.history.to_jepsen() == EXPECTED


def test_a_client_node_completes_operations_against_a_real_server(tmp_path: Path) -> None:
    port_s, port_c = free_ports(2)
    server = start("RegisterServer", "s", port_s, tmp_path,
                   "--clients", f"c=127.0.0.1:{port_c}")   # s answers c; c is not its peer
    client = None
    try:
        wait_for(tmp_path / "s.out", "net: listening on", server)
        client = start("WriteThenRead", "c", port_c, tmp_path,
                       "--peers", f"s=127.0.0.1:{port_s}")
        output = wait_for(tmp_path / "c.out", "done read=7", client)
    finally:
        for proc in (server, client):
            if proc is not None:
                proc.terminate()
                proc.wait(10)
    assert "invoke c: write(7) pending" in output and "complete c: read() -> 7 ok" in output
    path = history_path(tmp_path, "c")
    assert [json.loads(line) for line in path.read_text().splitlines()] == EXPECTED
    assert len(read_jsonl(path, "register")) == 2          # the checker reads it as it is
    assert (server.returncode, client.returncode) == (0, 0)
