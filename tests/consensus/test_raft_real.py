"""The whole Raft runs as real processes over TCP on loopback (`distlab.net`): a 3-server
cluster answers a client, survives ``kill -9`` of its leader, and the restarted server comes
back from its storage file."""

from __future__ import annotations

import time
from typing import Any

import pytest

from distlab.net.cluster import start_cluster
from distlab.net.endpoint import Endpoint, EndpointError
from distlab.workloads.client import NotLeader
from distlab.workloads.kv import Get, GetOk, Put, PutOk

pytestmark = pytest.mark.timeout(60)

SERVERS = ["n1", "n2", "n3"]


def ask(me: Endpoint, request: Any, first: str, deadline: float = 20.0) -> tuple[str, Any]:
    """Send ``request`` until a server answers it: follow `NotLeader` hints, skip servers
    that are down or silent. Returns (who answered, the reply)."""
    target, give_up = first, time.monotonic() + deadline
    while time.monotonic() < give_up:
        try:
            me.send(target, request)
            src, reply = me.receive(0.5, src=target)
            while getattr(reply, "in_reply_to", None) != request.msg_id:  # a late reply
                src, reply = me.receive(0.5, src=target)
        except (EndpointError, TimeoutError):  # down, or silent (a follower cut off...)
            target = SERVERS[(SERVERS.index(target) + 1) % len(SERVERS)]
            continue
        if isinstance(reply, NotLeader):
            target = reply.leader or SERVERS[(SERVERS.index(target) + 1) % len(SERVERS)]
            time.sleep(0.05)
            continue
        return src, reply
    raise AssertionError(f"no server answered {request!r} within {deadline} s")


def test_a_real_cluster_survives_kill_9_of_its_leader(tmp_path):
    with start_cluster("distlab.consensus.raft.node:RaftNode", SERVERS, clients=["me"],
                       data_dir=tmp_path, args={"snapshot_every": 5}) as cluster:
        me = cluster.client("me")
        for number in range(1, 9):
            leader, reply = ask(me, Put("me", number, "x", f"v{number}"), "n1")
            assert reply == PutOk(number)
        cluster.kill(leader)  # SIGKILL: no goodbye, nothing flushed on the way out
        survivor, reply = ask(me, Get("me", 9, "x"), leader)
        assert survivor != leader and reply == GetOk(9, "v8")
        _, reply = ask(me, Put("me", 10, "x", "v10"), survivor)
        assert reply == PutOk(10)
        cluster.restart(leader)
        stored = cluster.storage(leader)
        assert stored["term"] >= 1 and stored["snapshot"][0] >= 5  # what it had on disk
        _, reply = ask(me, Get("me", 11, "x"), survivor)
        assert reply == GetOk(11, "v10")
