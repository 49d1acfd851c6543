"""ZooKeeper's reads on the toy (`distlab.coordination.local_reads`): a server cut off from
the leader answers a local read with an old value; after the heal, ``sync`` catches it up."""

from __future__ import annotations

import pytest

from distlab.coordination.api import CoordinationError
from distlab.coordination.local_reads import read_local, sync
from distlab.coordination.toy import ToyService


def lagging(seed: int = 2) -> tuple[ToyService, str, str]:
    service = ToyService(seed=seed, clients=["w"])
    writer = service.client("w")
    writer.put("/config/x", "1")
    writer.sleep(0.5)
    leader = service.leader()
    follower = next(s for s in service.servers if s != leader)
    service.sim.partition({follower})        # the follower alone on its side
    writer.put("/config/x", "2")            # committed by the leader and the other follower
    return service, leader, follower


def test_a_local_read_on_a_lagging_server_is_stale_and_sync_makes_it_fresh():
    service, leader, follower = lagging()
    assert read_local(service, leader, "/config/x").value == "2"
    assert read_local(service, follower, "/config/x").value == "1"   # stale
    service.sim.heal()
    sync(service, follower)
    assert read_local(service, follower, "/config/x").value == "2"


def test_sync_on_a_server_still_cut_off_gives_up_with_the_reason():
    service, leader, follower = lagging()
    with pytest.raises(CoordinationError, match=f"did not catch up.*is it cut off from {leader}"):
        sync(service, follower, timeout=2.0)


def test_a_server_that_is_not_one_is_named():
    service, _, _ = lagging()
    with pytest.raises(KeyError, match="no server 'n9'"):
        read_local(service, "n9", "/config/x")
