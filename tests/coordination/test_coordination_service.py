"""The toy coordination service on Raft, under faults: a leader crash in the middle of a lock's
life, leases that expire by the leader's clock, a partition, a lagging server that catches up
from a snapshot, watches across a change of leader; and the fenced store of a paused client."""

from __future__ import annotations

import pytest

from distlab.check import watch
from distlab.consensus.raft.invariants import figure3
from distlab.coordination.api import CoordinationError
from distlab.coordination.messages import KeepAlive
from distlab.coordination.recipes import Config, Lock
from distlab.coordination.runs import paused_holder
from distlab.coordination.toy import ToyService
from distlab.election.fencing import Refused, WriteValue, Written
from distlab.workloads.client import NotLeader

SERVERS = ["n1", "n2", "n3"]


def test_the_lock_survives_the_crash_of_the_leader_and_the_next_token_is_higher():
    service = ToyService(seed=3)
    watch(service.sim, *figure3())             # Raft's five properties, after every event
    a, b = service.client("a"), service.client("b")
    lock_a = Lock(a, "db", "a", a.grant(2.0))
    lock_b = Lock(b, "db", "b", b.grant(2.0))
    token_a = lock_a.try_acquire()
    old_leader = service.leader()
    service.sim.crash(old_leader)
    assert lock_b.try_acquire() is None         # the new leader knows who holds the lock
    assert lock_a.holder().value == "a"
    assert service.leader() not in (None, old_leader)
    assert lock_a.release()
    token_b = lock_b.try_acquire()
    assert token_a is not None and token_b > token_a


def test_a_lease_expires_when_its_holder_stops_renewing_and_not_before():
    service = ToyService(seed=4)
    a, b = service.client("a"), service.client("b")
    lease = a.grant(1.0)
    a.put("/services/web/a", "10.0.0.1", lease)
    a.sleep(5.0)                                # renewed all along: still there
    assert b.get("/services/web/a") is not None
    a.pause(lease)
    paused_at = service.sim.now
    b.sleep(0.9)
    assert b.get("/services/web/a") is not None  # within its TTL it lives on
    b.sleep(1.5)
    assert b.get("/services/web/a") is None
    expired = [e for e in service.sim.trace.of_kind("note") if e.data.what == "lease expired"]
    assert len(expired) == 1 and expired[0].time >= paused_at + 1000 - 1000 / 3


def test_a_new_leader_gives_every_lease_a_full_ttl_from_its_election():
    service = ToyService(seed=5)
    a, b = service.client("a"), service.client("b")
    lease = a.grant(1.0)
    a.put("k", "x", lease)
    a.pause(lease)
    service.sim.crash(service.leader())
    crashed_at = service.sim.now
    assert b.get("k") is not None
    b.sleep(3.0)
    assert b.get("k") is None
    expired = next(e for e in service.sim.trace.of_kind("note") if e.data.what == "lease expired")
    assert expired.time >= crashed_at + 1000    # not before a full TTL after the crash


def test_a_client_cut_off_with_a_minority_loses_its_lock_to_the_majority_side():
    service = ToyService(seed=6)
    a, b = service.client("a"), service.client("b")
    lock_a = Lock(a, "db", "a", a.grant(1.0))
    token_a = lock_a.try_acquire()
    leader = service.leader()
    followers = [s for s in SERVERS if s != leader]
    service.sim.partition({"a", leader}, {"b", *followers})   # a keeps renewing: in vain
    token_b = Lock(b, "db", "b", b.grant(1.0)).acquire(timeout=10.0)
    assert token_b > token_a
    service.sim.heal()
    assert a.get("/locks/db").value == "b"      # once healed, a reads who holds it now
    assert lock_a.release() is False            # and cannot release b's lock


def test_a_server_that_was_down_catches_up_from_a_snapshot():
    service = ToyService(seed=7, snapshot_every=5)
    a = service.client("a")
    a.put("warm", "up")
    down = next(s for s in SERVERS if s != service.leader())
    service.sim.crash(down)
    lease = a.grant(5.0)
    for number in range(12):
        a.put(f"k{number}", str(number), lease)
    service.sim.restart(down)
    a.sleep(1.0)
    machines = [service.sim.nodes[s].machine for s in SERVERS]
    assert all(m.state() == machines[0].state() for m in machines)
    assert service.sim.nodes[down].snapshot_index > 0


def test_a_watch_delivers_every_change_once_across_a_change_of_leader():
    service = ToyService(seed=8)
    a, b = service.client("a"), service.client("b")
    config = Config(b, "/config/mode")
    values = []
    for number in range(6):
        a.put("/config/mode", f"v{number}")
        if number == 2:
            service.sim.crash(service.leader())
    while (event := config.watcher.next(2.0)) is not None:
        values.append(event.value)
    assert values == [f"v{number}" for number in range(6)]


def test_only_the_leader_renews_leases():
    service = ToyService(seed=9)
    a = service.client("a")
    lease = a.grant(1.0)
    follower = next(s for s in SERVERS if s != service.leader())
    before = len(a.node.outside)
    service.sim.at(service.sim.now, a.node.send, follower, KeepAlive("a", lease))
    a.sleep(0.1)
    replies = [e.data for e in service.sim.trace.of_kind("deliver")
               if e.node == "a" and e.peer == follower]
    assert isinstance(replies[-1], NotLeader) and len(a.node.outside) == before


def test_a_call_without_a_majority_fails_with_a_clear_error():
    service = ToyService(seed=10, limit=2.0)
    a = service.client("a")
    a.put("k", "x")
    for server in ["n1", "n2"]:
        service.sim.crash(server)
    with pytest.raises(CoordinationError, match="no answer within 2 simulated s .* majority"):
        a.put("k", "y")


def test_a_put_under_an_expired_lease_raises_the_service_s_error():
    service = ToyService(seed=11)
    a = service.client("a")
    lease = a.grant(1.0)
    a.pause(lease)
    a.sleep(3.0)
    with pytest.raises(CoordinationError, match=f"lease {lease} not found"):
        a.put("k", "x", lease)


@pytest.mark.parametrize("fencing, survives", [(False, "a: stale"), (True, "b: fresh")])
def test_a_paused_holder_corrupts_the_store_unless_the_store_checks_tokens(fencing, survives):
    service = ToyService(seed=12, store=True, fencing=fencing)
    a, b = service.client("a"), service.client("b")
    lease_a = a.grant(1.0)
    token_a = Lock(a, "db", "a", lease_a).try_acquire()
    a.pause(lease_a)                            # a garbage-collection pause begins
    token_b = Lock(b, "db", "b", b.grant(1.0)).acquire(timeout=10.0)
    assert b.request("store", WriteValue(token_b, "b: fresh")) == Written("b: fresh")
    late = a.request("store", WriteValue(token_a, "a: stale"))   # a wakes up, still "holding"
    assert late == (Refused(token_a, token_b) if fencing else Written("a: stale"))
    assert service.sim.nodes["store"].storage["value"] == survives


def test_the_same_seed_gives_the_same_trace():
    def run() -> list:
        service = ToyService(seed=13)
        a, b = service.client("a"), service.client("b")
        Lock(a, "db", "a", a.grant(1.0)).try_acquire()
        b.sleep(1.0)
        return [e.describe() for e in service.sim.trace]
    assert run() == run()


def test_asking_for_a_client_the_service_does_not_have_says_how_to_add_it():
    with pytest.raises(KeyError, match=r"name it in ToyService\(clients=...\)"):
        ToyService(seed=0).client("z")


@pytest.mark.parametrize("fencing", [False, True])
def test_the_page_s_paused_holder_writes_late_and_is_refused_only_with_fencing(fencing):
    run = paused_holder(fencing=fencing)
    assert run.paused_at < run.expired_at < run.acquired_at and run.token_b > run.token_a
    assert run.expired_at - run.paused_at <= 1000       # one TTL after a's last renewal
    (b, b_time, b_answer), (a, a_time, a_answer) = run.writes
    assert (b, a) == ("b", "a") and run.acquired_at <= b_time < a_time
    assert b_answer == Written("written by b")
    assert a_answer == (Refused(run.token_a, run.token_b) if fencing else Written("written by a"))
    assert run.final == ("written by b" if fencing else "written by a")


def test_a_leader_cut_off_from_the_majority_steps_down_and_stops_renewing_leases():
    service = ToyService(seed=14)
    a = service.client("a")
    a.grant(1.0)
    leader = service.leader()
    others = [s for s in SERVERS if s != leader]
    service.sim.partition({"a", leader}, {"b", *others})
    cut_at = service.sim.now
    a.sleep(1.0)
    assert service.sim.nodes[leader].role != "leader"
    stepped = next(e for e in service.sim.trace.of_kind("note")
                   if e.node == leader and e.data.what == "steps down")
    assert stepped.time <= cut_at + 300 + 50 + 10     # the longest timeout, a check, a reply
    renewed = [e.time for e in service.sim.trace.of_kind("deliver")
               if e.node == "a" and type(e.data).__name__ == "KeptAlive" and e.data.ttl > 0]
    assert max(renewed) <= stepped.time + 10          # no renewal from a deposed leader


def test_a_pause_shorter_than_the_lease_keeps_the_lock_and_the_late_write_is_harmless():
    run = paused_holder(fencing=False, pause=0.5)
    assert run.token_b is None and run.acquired_at is None and run.expired_at is None
    assert [(who, answer) for who, _, answer in run.writes] == [("a", Written("written by a"))]
