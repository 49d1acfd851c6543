"""The whole Raft runs as real processes over TCP on loopback (`distlab.net`): a 3-server
cluster answers a client, survives ``kill -9`` of its leader, and the restarted server comes
back from its storage file."""

from __future__ import annotations

import pytest

from distlab.consensus.raft.real import SERVERS, ask, kill_the_leader
from distlab.net.cluster import start_cluster
from distlab.workloads.kv import Get, GetOk, Put, PutOk

pytestmark = pytest.mark.timeout(60)


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


def test_a_workload_across_kill_9_of_the_leader_leaves_a_linearizable_history(tmp_path):
    run = kill_the_leader(tmp_path, appends=6)
    assert run.operations == run.ok == 12
    assert run.new_leader and run.restarted_from_disk
    assert run.value == "1;2;3;4;5;6;" and run.verdict == "linearizable"
