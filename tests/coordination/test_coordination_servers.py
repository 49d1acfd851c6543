"""Starting and stopping real etcd and ZooKeeper servers, and the errors that say what to do
when one is missing or will not start."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from distlab.coordination import servers, zookeeper
from distlab.coordination.api import CoordinationError
from distlab.coordination.etcd import EtcdCoordinator
from distlab.coordination.servers import ServerError, etcd_server, zookeeper_server

pytestmark = [pytest.mark.timeout(120), pytest.mark.real_services]


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_etcd_answers_inside_the_block_and_is_gone_after_it(tmp_path):
    with etcd_server(tmp_path) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            assert json.load(response)["health"] == "true"
        port = int(url.rsplit(":", 1)[1])
    assert not answers(port)
    assert (tmp_path / "data").is_dir() and (tmp_path / "etcd.log").exists()


def test_zookeeper_answers_inside_the_block_and_is_gone_after_it(tmp_path):
    with zookeeper_server(tmp_path) as hosts:
        port = int(hosts.rsplit(":", 1)[1])
        assert servers._zookeeper_ok(port)
    assert not answers(port)
    assert "admin.enableServer=false" in (tmp_path / "zoo.cfg").read_text()


def test_the_server_stops_even_when_the_block_raises(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with etcd_server(tmp_path) as url:
            port = int(url.rsplit(":", 1)[1])
            1 / 0
    assert not answers(port)


def test_a_missing_etcd_says_which_package_to_install(monkeypatch):
    monkeypatch.setattr(servers, "ETCD", "no-such-etcd-binary")
    with pytest.raises(ServerError, match="etcd not found: install Debian's etcd-server"):
        with etcd_server():
            pass


def test_a_missing_zookeeper_says_which_package_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(servers, "ZOOKEEPER_JAR", tmp_path / "no-such.jar")
    with pytest.raises(ServerError, match="install Debian's zookeeperd"):
        with zookeeper_server():
            pass


def test_a_server_that_exits_at_once_shows_its_log(monkeypatch, tmp_path):
    fake = tmp_path / "etcd"
    fake.write_text("#!/bin/sh\necho 'etcd: cannot open the data dir' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(servers, "ETCD", str(fake))
    with pytest.raises(ServerError, match=r"exited with status 3 (.|\n)*cannot open the data"):
        with etcd_server(tmp_path / "run"):
            pass


def test_a_server_that_never_answers_is_stopped_after_the_timeout(monkeypatch, tmp_path):
    fake = tmp_path / "etcd"
    fake.write_text("#!/bin/sh\necho 'etcd: waiting forever'\nexec sleep 60\n")
    fake.chmod(0o755)
    monkeypatch.setattr(servers, "ETCD", str(fake))
    with pytest.raises(ServerError, match=r"did not answer within 1 s(.|\n)*waiting forever"):
        with etcd_server(tmp_path / "run", timeout=1):
            pass


def test_a_client_of_a_server_that_is_not_there_fails_clearly():
    port = servers.free_ports(1)[0]
    with pytest.raises(CoordinationError, match=f"etcd at http://127.0.0.1:{port} did not "
                                                f"answer kv/range"):
        EtcdCoordinator(f"http://127.0.0.1:{port}", timeout=1).get("k")


def test_without_kazoo_the_zookeeper_client_says_what_to_install(monkeypatch):
    monkeypatch.setattr(zookeeper, "KazooClient", None)
    with pytest.raises(CoordinationError, match=r"kazoo is not installed: pip install "
                                                r"'distlab\[engines\]'"):
        zookeeper.ZooKeeperCoordinator("127.0.0.1:2181")
