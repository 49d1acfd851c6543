"""Start a real etcd or ZooKeeper on loopback for the length of a ``with`` block.

Both are Debian's packages (``etcd-server``, ``zookeeperd``; ``make test`` installs them),
started here by hand, without systemd: one server process, listening on 127.0.0.1 on free
ports, its data in a temporary directory, waited for until it answers, and stopped (then
killed if it must be) on the way out of the block, even when the block raises::

    with etcd_server() as url:              # "http://127.0.0.1:<port>"
        client = EtcdCoordinator(url)
    with zookeeper_server() as hosts:       # "127.0.0.1:<port>"
        client = ZooKeeperCoordinator(hosts)

A server that is missing, or does not answer within ``timeout`` seconds, raises
`ServerError`, which names the binary and, for a server that started, shows the end of its
log. Measured on the project's shared 2-core machine (start to stop, 2026-12-06): etcd 0.45 to
0.66 s, ZooKeeper (a JVM) 0.67 to 1.56 s; one server per test module is plenty.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from distlab.net.addresses import free_ports

ETCD = "etcd"
JAVA = "java"
ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
ZOOKEEPER_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"


class ServerError(RuntimeError):
    """A server that is not installed, or that did not start."""


@contextmanager
def etcd_server(data_dir: str | Path | None = None, *, timeout: float = 30.0
                ) -> Iterator[str]:
    """A one-member etcd cluster on loopback; yields its client URL. Its data goes into
    ``data_dir`` (default: a temporary directory, removed afterwards)."""
    binary = shutil.which(ETCD)
    if binary is None:
        raise ServerError("etcd not found: install Debian's etcd-server (make test installs "
                          "it: tools/system_packages.sh etcd-server)")
    client_port, peer_port = free_ports(2)
    client_url = f"http://127.0.0.1:{client_port}"
    peer_url = f"http://127.0.0.1:{peer_port}"
    with _work_dir(data_dir, "etcd-") as work:
        command = [binary, "--name", "distlab", "--data-dir", str(work / "data"),
                   "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
                   "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                   "--initial-cluster", f"distlab={peer_url}",
                   "--heartbeat-interval", "50", "--election-timeout", "500"]
        with _process(command, work / "etcd.log", "etcd", lambda: _etcd_healthy(client_url),
                      timeout):
            yield client_url


@contextmanager
def zookeeper_server(data_dir: str | Path | None = None, *, timeout: float = 60.0
                     ) -> Iterator[str]:
    """A standalone ZooKeeper on loopback; yields its ``host:port``. It writes a minimal
    ``zoo.cfg`` (standalone, no admin server, sessions of 0.2 s to 60 s) into ``data_dir``
    (default: a temporary directory, removed afterwards)."""
    java = shutil.which(JAVA)
    if java is None or not ZOOKEEPER_JAR.exists():
        raise ServerError(f"ZooKeeper not found ({JAVA} or {ZOOKEEPER_JAR} is missing): install "
                          f"Debian's zookeeperd (make test installs it: "
                          f"tools/system_packages.sh zookeeperd)")
    port, = free_ports(1)
    with _work_dir(data_dir, "zookeeper-") as work:
        (work / "data").mkdir(exist_ok=True)
        config = work / "zoo.cfg"
        config.write_text(f"tickTime=100\nminSessionTimeout=200\nmaxSessionTimeout=60000\n"
                          f"dataDir={work / 'data'}\nclientPort={port}\n"
                          f"clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                          f"4lw.commands.whitelist=ruok\n")
        command = [java, "-Xmx256m", f"-Dzookeeper.log.dir={work}", "-cp", str(ZOOKEEPER_JAR),
                   ZOOKEEPER_MAIN, str(config)]
        with _process(command, work / "zookeeper.log", "ZooKeeper",
                      lambda: _zookeeper_ok(port), timeout):
            yield f"127.0.0.1:{port}"


@contextmanager
def _work_dir(data_dir: str | Path | None, prefix: str) -> Iterator[Path]:
    if data_dir is not None:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        yield Path(data_dir)
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as work:
        yield Path(work)


@contextmanager
def _process(command: list[str], log_path: Path, name: str, ready: Callable[[], bool],
             timeout: float) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` with its output in ``log_path`` until the block ends; wait (up to
    ``timeout`` s) until ``ready()``."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        give_up = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                raise ServerError(f"{name} ({command[0]}) exited with status {proc.returncode} "
                                  f"before answering; its log ({log_path}) ends:\n"
                                  f"{_tail(log_path)}")
            if time.monotonic() > give_up:
                raise ServerError(f"{name} ({command[0]}) did not answer within {timeout:g} s; "
                                  f"its log ({log_path}) ends:\n{_tail(log_path)}")
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _etcd_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return json.load(response).get("health") == "true"
    except OSError:
        return False


def _zookeeper_ok(port: int) -> bool:
    """ZooKeeper's four-letter ``ruok``: a serving server answers ``imok``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"ruok")
            return sock.recv(4) == b"imok"
    except OSError:
        return False
