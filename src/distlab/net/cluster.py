"""Starting, killing and restarting real node processes from Python (a notebook or a test).

`start_cluster` launches one ``python -m distlab.net run`` process per node id, all on
127.0.0.1, and returns a `Cluster` handle::

    cluster = start_cluster("distlab.net.demo:Pinger", ["a", "b", "c"], args={"interval": 200})
    cluster.wait_for_output("a", "pong")          # the nodes are talking
    cluster.kill("b")                             # kill -9: no goodbye, no flush
    cluster.restart("b")                          # a new process reads b's storage back
    cluster.storage("b")                          # {'boots': 2}
    cluster.stop()                                # SIGTERM to all: clean shutdown

With ``clients=["me"]``, ``cluster.client("me")`` is an `Endpoint` in this process that
sends the nodes requests and receives their replies (``me.request("a", Get("x"))``).

Each process writes its log to ``<data_dir>/<id>.log`` and its storage to
``<data_dir>/<id>.json``. The processes exit by themselves if the Python that started them
dies (they watch the pipe on their standard input, even while a handler is stuck in an
endless loop: `distlab.net.lifeline`), so a crashed notebook kernel leaves no orphans behind.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from distlab.net.addresses import Address, free_ports
from distlab.net.codec import Codec
from distlab.net.endpoint import Endpoint
from distlab.net.host import import_node_class
from distlab.net.storage_file import load_storage, storage_path

READY_LINE = "net: listening on"


class ClusterError(RuntimeError):
    """A node process that would not start, or a request that does not fit its state."""


class Cluster:
    """Handles on the processes of a cluster of real nodes. Made by `start_cluster`."""

    def __init__(self, node_class: str, ids: Iterable[str], ports: Mapping[str, int], *,
                 data_dir: Path, args: Mapping[str, Any], seed: int,
                 routes: Mapping[tuple[str, str], int], ready_timeout: float,
                 clients: Mapping[str, int] | None = None) -> None:
        self.node_class = node_class
        self.ids = tuple(ids)
        self.addresses: dict[str, Address] = {i: ("127.0.0.1", ports[i]) for i in self.ids}
        self.data_dir = data_dir
        self.args = dict(args)
        self.seed = seed
        self.routes = dict(routes)
        self.ready_timeout = ready_timeout
        #: the client ids the nodes accept requests from, and the port each one listens on
        self.clients: dict[str, Address] = {client: ("127.0.0.1", port)
                                            for client, port in (clients or {}).items()}
        self._endpoints: dict[str, Endpoint] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._log_start: dict[str, int] = {}     # where the current run's output begins
        self._runs: dict[str, int] = {i: 0 for i in self.ids}
        atexit.register(self.stop)

    # -- processes ----------------------------------------------------------------------------
    def command(self, node_id: str) -> list[str]:
        """The command line that runs node ``node_id`` (as you could type it in a terminal)."""
        peers = ",".join(f"{p}=127.0.0.1:{self.routes.get((node_id, p), self.addresses[p][1])}"
                         for p in self.ids if p != node_id)
        cmd = [sys.executable, "-m", "distlab.net", "run", "--node-class", self.node_class,
               "--id", node_id, "--listen", f"127.0.0.1:{self.addresses[node_id][1]}",
               "--peers", peers, "--data-dir", str(self.data_dir), "--seed", str(self.seed),
               "--incarnation", str(max(0, self._runs[node_id] - 1)), "--exit-with-parent"]
        if self.clients:
            cmd += ["--clients", ",".join(f"{c}={h}:{p}" for c, (h, p) in self.clients.items())]
        for key, value in self.args.items():
            cmd += ["--arg", f"{key}={json.dumps(value)}"]
        return cmd

    def start(self, node_id: str) -> None:
        """Start node ``node_id``'s process and wait until it listens."""
        self._launch(node_id)
        self._wait_ready(node_id)

    def _launch(self, node_id: str) -> None:
        self._check_id(node_id)
        if self.is_alive(node_id):
            raise ClusterError(f"node {node_id!r} is already running (pid {self.pid(node_id)})")
        self._runs[node_id] += 1
        log = self._logs.get(node_id)
        if log is None:
            log = self._logs[node_id] = open(self.data_dir / f"{node_id}.log", "ab")
        log.write(f"=== distlab.net: run {self._runs[node_id]} of node {node_id} ===\n".encode())
        log.flush()
        self._log_start[node_id] = log.tell()
        env = dict(os.environ, PYTHONUNBUFFERED="1",
                   PYTHONPATH=os.pathsep.join([os.getcwd(), *filter(None, sys.path)]))
        self._procs[node_id] = subprocess.Popen(self.command(node_id), stdin=subprocess.PIPE,
                                                stdout=log, stderr=subprocess.STDOUT, env=env)

    def _wait_ready(self, node_id: str) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while READY_LINE not in self.output(node_id):
            code = self._procs[node_id].poll()
            if code is not None:
                raise ClusterError(f"node {node_id!r} exited with code {code} before it was "
                                   f"ready:\n{self._tail(node_id)}")
            if time.monotonic() > deadline:
                raise ClusterError(f"node {node_id!r} was not listening after "
                                   f"{self.ready_timeout} s:\n{self._tail(node_id)}")
            time.sleep(0.02)

    def kill(self, node_id: str, sig: int = signal.SIGKILL, timeout: float = 5.0) -> int:
        """Send ``sig`` (default SIGKILL: ``kill -9``) and wait for the process to end.

        Returns its exit code: ``-9`` after SIGKILL, ``0`` after a clean SIGTERM shutdown.
        """
        self._check_id(node_id)
        if not self.is_alive(node_id):
            raise ClusterError(f"node {node_id!r} is not running: nothing to kill")
        proc = self._procs[node_id]
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
            raise ClusterError(f"node {node_id!r} did not exit within {timeout} s of "
                               f"{signal.Signals(sig).name}; it was killed with SIGKILL") from None

    def restart(self, node_id: str) -> None:
        """Start a stopped or killed node again; it recovers its storage from disk."""
        self._check_id(node_id)
        if self.is_alive(node_id):
            raise ClusterError(f"node {node_id!r} is still running: kill it first "
                               f"(cluster.kill({node_id!r}))")
        self.start(node_id)

    def client(self, client_id: str) -> Endpoint:
        """The `Endpoint` of ``client_id`` (one of ``start_cluster``'s ``clients``), to send
        the nodes requests and read their replies from this process."""
        if client_id not in self.clients:
            raise ClusterError(f"{client_id!r} is not a client of this cluster; its clients are "
                               f"{sorted(self.clients) or 'none'} (start_cluster(..., "
                               f"clients=[{client_id!r}]) makes one)")
        if client_id not in self._endpoints:
            self._endpoints[client_id] = Endpoint(
                client_id, self.clients[client_id], self.addresses,
                Codec.for_node_class(import_node_class(self.node_class)))
        return self._endpoints[client_id]

    def stop(self, timeout: float = 5.0) -> dict[str, int]:
        """Stop every node that runs (SIGTERM, then SIGKILL after ``timeout``); exit codes."""
        for endpoint in self._endpoints.values():
            endpoint.close()
        for node_id in self.ids:
            if self.is_alive(node_id):
                self._procs[node_id].terminate()
        deadline = time.monotonic() + timeout
        codes = {}
        for node_id, proc in self._procs.items():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdin is not None:
                proc.stdin.close()
            codes[node_id] = proc.returncode
        for log in self._logs.values():
            log.close()
        self._logs.clear()
        atexit.unregister(self.stop)
        return codes

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- looking at them ----------------------------------------------------------------------
    def is_alive(self, node_id: str) -> bool:
        proc = self._procs.get(node_id)
        return proc is not None and proc.poll() is None

    def pid(self, node_id: str) -> int | None:
        proc = self._procs.get(node_id)
        return proc.pid if proc is not None else None

    def returncode(self, node_id: str) -> int | None:
        """The exit code of the node's last process (None while it runs or before it started)."""
        proc = self._procs.get(node_id)
        return proc.poll() if proc is not None else None

    def output(self, node_id: str, all_runs: bool = False) -> str:
        """What node ``node_id`` has logged in its current run (or in all its runs)."""
        self._check_id(node_id)
        path = self.data_dir / f"{node_id}.log"
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            f.seek(0 if all_runs else self._log_start.get(node_id, 0))
            return f.read().decode("utf-8", errors="replace")

    def wait_for_output(self, node_id: str, text: str, timeout: float = 5.0) -> str:
        """Wait until the current run of ``node_id`` logs a line containing ``text``; the line."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.output(node_id).splitlines():
                if text in line:
                    return line
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {node_id!r} did not log {text!r} within {timeout} s:\n"
                                   f"{self._tail(node_id)}")
            time.sleep(0.02)

    def wait_for_exit(self, node_id: str, timeout: float = 5.0) -> int:
        """Wait until the current process of ``node_id`` has ended; its exit code."""
        self._check_id(node_id)
        deadline = time.monotonic() + timeout
        while (code := self.returncode(node_id)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {node_id!r} still runs after {timeout} s:\n"
                                   f"{self._tail(node_id)}")
            time.sleep(0.02)
        return code

    def storage(self, node_id: str) -> dict[Any, Any]:
        """Node ``node_id``'s storage as it is on disk now."""
        self._check_id(node_id)
        codec = Codec.for_node_class(import_node_class(self.node_class))
        return load_storage(storage_path(self.data_dir, node_id), codec, node_id)

    def _tail(self, node_id: str, lines: int = 15) -> str:
        return "\n".join(self.output(node_id).splitlines()[-lines:]) or "(no output)"

    def _check_id(self, node_id: str) -> None:
        if node_id not in self.addresses:
            raise ClusterError(f"no node {node_id!r} in this cluster; its nodes are {self.ids}")

    def __repr__(self) -> str:
        states = ", ".join(f"{i}={'up' if self.is_alive(i) else 'down'}" for i in self.ids)
        return f"<Cluster of {self.node_class}: {states}>"


def start_cluster(node_class: str, ids: Iterable[str], base_port: int | None = None, *,
                  data_dir: str | Path | None = None, args: Mapping[str, Any] | None = None,
                  ports: Mapping[str, int] | None = None, seed: int = 0,
                  routes: Mapping[tuple[str, str], int] | None = None,
                  clients: Iterable[str] = (), ready_timeout: float = 30.0) -> Cluster:
    """Start one real process per id, running ``node_class`` (``"module:Class"``).

    ``base_port``: node ``ids[i]`` listens on ``base_port + i``; or ``ports`` gives each
    node's port (``{"a": 9001, ...}``); by default free ports are picked. ``data_dir``: where
    logs and storage go (default: a new temporary directory, kept after `Cluster.stop` so that
    you can look inside). ``args``: keyword arguments for the node class's ``__init__`` (JSON
    values). ``routes``: ``{(src, dst): port}`` sends
    ``src``'s messages for ``dst`` to that port instead -- e.g. a `FaultProxy` in front of
    ``dst``. ``clients``: ids that are not nodes but may send the nodes requests and get
    replies (not among the nodes' ``peers``): `Cluster.client` gives each an `Endpoint`.
    ``ready_timeout``: how long a node may take to start listening before the start fails
    with its log (a new Python process importing the library takes seconds on a busy machine:
    10 s was seen to run out at a load of 12 on 2 cores; a bound for failures only, a ready
    node is seen at once). The node class must live in an importable ``.py`` file, not a
    notebook cell.
    """
    ids = list(ids)
    if not ids or len(set(ids)) != len(ids):
        raise ClusterError(f"need at least one node and distinct ids, got {ids}")
    import_node_class(node_class)      # fail here, clearly, rather than in every process
    if ports is not None:
        if base_port is not None or set(ports) != set(ids):
            raise ClusterError(f"give either base_port or ports, and ports for exactly {ids}")
        ports = dict(ports)
    elif base_port is None:
        ports = dict(zip(ids, free_ports(len(ids)), strict=True))
    else:
        ports = {node_id: base_port + i for i, node_id in enumerate(ids)}
    clients = list(clients)
    if set(clients) & set(ids) or len(set(clients)) != len(clients):
        raise ClusterError(f"client ids {clients} must be distinct and differ from the node "
                           f"ids {ids}")
    # (drawn with as many spare ports as there are nodes: none may be a node's)
    client_ports = [p for p in free_ports(len(clients) + len(ids))
                    if p not in ports.values()][:len(clients)] if clients else []
    routes = dict(routes or {})
    for src, dst in routes:
        if src not in ports or dst not in ports:
            raise ClusterError(f"route {(src, dst)} names a node that is not in {ids}")
    path = Path(data_dir) if data_dir is not None else Path(
        tempfile.mkdtemp(prefix="distlab-cluster-"))
    path.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(node_class, ids, ports, data_dir=path, args=args or {}, seed=seed,
                      routes=routes, ready_timeout=ready_timeout,
                      clients=dict(zip(clients, client_ports, strict=True)))
    try:
        for node_id in ids:          # all at once: start-up times overlap
            cluster._launch(node_id)
        for node_id in ids:
            cluster._wait_ready(node_id)
    except BaseException:
        cluster.stop()
        raise
    return cluster
