"""Tests of distlab.workloads: each client retries with the same msg_id, ignores duplicate and
late replies, records a history its model accepts when the server is correct, and one its
model rejects when the server executes retried requests twice."""

from __future__ import annotations

from typing import Any

import pytest

from distlab.check import check_linearizability
from distlab.sim import Client, Constant, Network, Node, Simulation
from distlab.workloads import broadcast, counter, kv, log, register
from distlab.workloads.client import Error, NotLeader, WorkloadClient


class Server(Node):
    """A correct single server for every workload, with at-most-once execution.

    ``forgetful`` turns at-most-once off: a resent request is executed again.
    """

    def __init__(self, forgetful: bool = False):
        self.forgetful = forgetful
        self.data: dict[Any, Any] = {}
        self.total = 0
        self.entries: tuple[str, ...] = ()
        self.messages: frozenset[str] = frozenset()
        self.replies: dict[tuple[str, int], Any] = {}

    def on_message(self, src: str, msg: Any) -> None:
        done = (msg.client, msg.msg_id)
        if done not in self.replies or self.forgetful:
            self.replies[done] = self.execute(msg)
        self.send(src, self.replies[done])

    def execute(self, msg: Any) -> Any:
        """Do ``msg`` and build its reply with the request's own ``ok``."""
        match msg:
            case kv.Get(key=key):
                return msg.ok(self.data.get(key))
            case kv.Put(key=key, value=value):
                self.data[key] = value
                return msg.ok()
            case kv.Append(key=key, value=value):
                self.data[key] = self.data.get(key, "") + value
                return msg.ok()
            case register.Read():
                return msg.ok(self.data.get("r"))
            case register.Write(value=value):
                self.data["r"] = value
                return msg.ok()
            case register.Cas(expected=expected, new=new) if self.data.get("r") == expected:
                self.data["r"] = new
                return msg.ok()
            case register.Cas(msg_id=msg_id):
                return Error(msg_id, definite=True, text="the register holds another value")
            case counter.Add(delta=delta):
                self.total += delta
                return msg.ok()
            case counter.Read():
                return msg.ok(self.total)
            case log.Append(entry=entry):
                self.entries += (entry,)
                return msg.ok(len(self.entries) - 1)
            case log.Read():
                return msg.ok(list(self.entries))
            case broadcast.Broadcast(message=message):
                self.messages |= {message}
                return msg.ok()
            case broadcast.Read():
                return msg.ok(self.messages)


WORKLOADS = {"kv": (kv.KVClient, kv.MODEL), "register": (register.RegisterClient, register.MODEL),
             "counter": (counter.CounterClient, counter.MODEL), "log": (log.LogClient, log.MODEL)}


def run(client: type[WorkloadClient], seed: int, *, forgetful: bool = False, loss: float = 0.0,
        duplicate: float = 0.0, clients: int = 3, **options: Any) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=Constant(10), loss=loss,
                                                duplicate=duplicate))
    sim.add_node(Server, "server", forgetful=forgetful)
    for i in range(1, clients + 1):
        sim.add_node(client, f"c{i}", **options)
    sim.run(until=100_000)
    return sim


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_the_client_resends_the_same_request_until_a_reply_comes(name):
    client, _ = WORKLOADS[name]
    sim = run(client, seed=1, loss=0.4, clients=1, ops=20, retry=50)
    requests = [e.data for e in sim.trace.of_kind("send") if e.node == "c1"]
    ids = [r.msg_id for r in requests]
    assert ids == sorted(ids) and set(ids) == set(range(1, 21))   # in order, each one retried
    assert len(ids) > 20, "with 40% loss some requests must have been resent"
    for msg_id in set(ids):
        assert len({r for r in requests if r.msg_id == msg_id}) == 1, "a resend changed"
    assert len(sim.history) == 20
    assert {op.status for op in sim.history} <= {"ok", "fail"}   # fail: a cas that missed


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_a_correct_server_gives_a_history_the_model_accepts(name):
    client, model = WORKLOADS[name]
    for seed in range(10):
        sim = run(client, seed, loss=0.2, duplicate=0.3, ops=8, retry=50)
        assert {op.status for op in sim.history} <= {"ok", "fail"}
        assert check_linearizability(sim.history, model()).ok, f"seed {seed}"


@pytest.mark.parametrize("name", ["kv", "counter", "log"])
def test_a_server_that_executes_resent_requests_again_is_caught(name):
    client, model = WORKLOADS[name]
    caught = [seed for seed in range(20)
              if not check_linearizability(run(client, seed, forgetful=True, loss=0.3,
                                               duplicate=0.3, ops=8, retry=50).history,
                                           model()).ok]
    assert caught, "executing a resent request twice went unnoticed in 20 seeds"


class Doubler(Node):
    """Answers every request twice, and once more with a reply to an older request."""

    def __init__(self) -> None:
        self.count = 0

    def on_message(self, src: str, msg: Any) -> None:
        self.count += 1
        reply = counter.ReadOk(msg.msg_id, self.count)
        self.send(src, reply)
        self.send(src, reply)
        self.send(src, counter.ReadOk(msg.msg_id - 1, -1))


def test_duplicate_and_late_replies_are_ignored():
    sim = Simulation(seed=3, network=Network(latency=Constant(5)))
    sim.add_node(Doubler, "server")
    sim.add_node(ReadingClient, "c1", ops=5)
    sim.run(until=10_000)
    assert [(op.status, op.output) for op in sim.history] == [("ok", n) for n in range(1, 6)]


class ReadingClient(counter.CounterClient):
    def choose(self, number: int) -> tuple[str, Any, Any]:
        return "read", None, None


def test_after_every_attempt_the_outcome_is_unknown_and_the_client_moves_on():
    sim = Simulation(seed=1)
    sim.add_node(Node, "server")                 # never answers
    sim.add_node(kv.KVClient, "c1", ops=3, retry=20, attempts=4)
    sim.run(until=10_000)
    assert [op.status for op in sim.history] == ["info"] * 3
    assert len(sim.trace.of_kind("send")) == 12
    with pytest.raises(ValueError, match="attempts"):
        sim.add_node(kv.KVClient, "c2", attempts=0)


def test_a_definite_error_is_a_fail():
    sim = run(register.RegisterClient, seed=2, clients=2, ops=30)
    statuses = {op.status for op in sim.history if op.f == "cas"}
    assert statuses == {"ok", "fail"}
    assert check_linearizability(sim.history, register.MODEL()).ok


def test_a_client_that_restarts_reports_its_waiting_operation_as_unknown():
    sim = Simulation(seed=1, network=Network(latency=Constant(10)))
    sim.add_node(Server, "server")
    sim.add_node(kv.KVClient, "c1", ops=5, think=100)
    sim.at(125, sim.crash, "c1")                  # between the second request and its reply
    sim.at(200, sim.restart, "c1")
    sim.run(until=10_000)
    statuses = [op.status for op in sim.history]
    assert len(statuses) == 5 and statuses.count("info") == 1
    sent = [e.data.msg_id for e in sim.trace.of_kind("send") if e.node == "c1"]
    assert sent == sorted(set(sent))              # no msg_id was used twice


def test_broadcast_reads_must_hold_every_acknowledged_message():
    sim = run(broadcast.BroadcastClient, seed=1, ops=4, reads=1, think=50)
    assert broadcast.unseen(sim.history) == {}
    reads = [op for op in sim.history if op.f == "read"]
    assert all(len(op.output) >= 3 for op in reads)


class Forgetter(Server):
    """Acknowledges broadcasts without keeping them."""

    def execute(self, msg: Any) -> Any:
        if isinstance(msg, broadcast.Broadcast):
            return broadcast.BroadcastOk(msg.msg_id)
        return super().execute(msg)


def test_broadcast_messages_lost_after_their_acknowledgement_are_reported():
    sim = Simulation(seed=1, network=Network(latency=Constant(10)))
    sim.add_node(Forgetter, "server")
    sim.add_node(broadcast.BroadcastClient, "c1", ops=3, reads=1, think=50)
    sim.run(until=10_000)
    (missed,) = broadcast.unseen(sim.history).values()
    assert missed == {"c1.1", "c1.2"}


def test_clients_are_clients():
    assert all(issubclass(c, Client) for c, _ in WORKLOADS.values())


def test_every_request_builds_its_own_reply():
    assert kv.Get("c1", 3, "x").ok("v") == kv.GetOk(3, "v")
    assert kv.Put("c1", 4, "x", "v").ok() == kv.PutOk(4)
    assert kv.Append("c1", 5, "y", "v").ok() == kv.AppendOk(5)
    assert register.Read("c1", 6).ok(2) == register.ReadOk(6, 2)
    assert register.Write("c1", 7, 2).ok() == register.WriteOk(7)
    assert register.Cas("c1", 8, 2, 3).ok() == register.CasOk(8)
    assert counter.Add("c1", 9, 4).ok() == counter.AddOk(9)
    assert counter.Read("c1", 10).ok(4) == counter.ReadOk(10, 4)
    assert log.Append("c1", 11, "c1.11").ok(0) == log.AppendOk(11, 0)
    assert log.Read("c1", 12).ok(["c1.11"]) == log.ReadOk(12, ("c1.11",))
    assert broadcast.Broadcast("c1", 13, "m").ok() == broadcast.BroadcastOk(13)
    assert broadcast.Read("c1", 14).ok({"m"}) == broadcast.ReadOk(14, frozenset({"m"}))


def test_finishing_with_the_wrong_reply_is_explained():
    sim = Simulation(seed=1)
    sim.add_node(Node, "server")
    client = sim.add_node(kv.KVClient, "c1", ops=1, attempts=1, retry=10)
    sim.run(until=100)                             # gave up: nothing waits any more
    with pytest.raises(RuntimeError, match="no request is waiting"):
        client.finish(kv.GetOk(1, None))
    sim = Simulation(seed=1)
    sim.add_node(Node, "server")
    client = sim.add_node(kv.KVClient, "c1", ops=2)
    sim.run(until=10)                              # waiting for its first request
    with pytest.raises(ValueError, match="the reply to another request"):
        client.finish(kv.GetOk(0, None))


# -- a client of a replicated service: several servers, NotLeader redirects -----------------------

class Follower(Node):
    """Answers every request with NotLeader, naming ``leader`` (which may be None)."""

    def __init__(self, leader: str | None = None):
        self.leader = leader

    def on_message(self, src: str, msg: Any) -> None:
        self.send(src, NotLeader(msg.msg_id, self.leader))


def replicated(leader_hint: str | None) -> Simulation:
    """Two followers ``a`` and ``b`` hinting at ``leader_hint``, the real server ``s``, and a
    client that knows all three and starts with ``a``."""
    sim = Simulation(seed=1, network=Network(latency=Constant(1)))
    sim.add_node(Follower, "a", leader=leader_hint)
    sim.add_node(Follower, "b", leader=leader_hint)
    sim.add_node(Server, "s")
    sim.add_node(kv.KVClient, "c", server=["a", "b", "s"], ops=3, retry=50.0)
    return sim


def test_a_not_leader_reply_sends_the_request_to_the_named_leader_at_once():
    sim = replicated("s")
    sim.run()
    ops = sim.history.operations
    assert [op.status for op in ops] == ["ok"] * 3
    assert ops[0].complete_time < 10  # a -> NotLeader -> s -> reply: no retry delay waited
    assert sim.nodes["c"].server == "s"  # later requests go straight to the leader
    assert [e.peer for e in sim.trace.of_kind("send") if e.node == "c"] == ["a", "s", "s", "s"]


def test_without_a_hint_the_client_tries_its_next_server_after_the_retry_delay():
    sim = replicated(None)
    sim.run()
    first = sim.history.operations[0]
    assert first.status == "ok"
    assert 100 <= first.complete_time < 110  # a, then b after 50 ms, then s after 50 ms
    assert [e.peer for e in sim.trace.of_kind("send") if e.node == "c"][:3] == ["a", "b", "s"]


def test_an_unanswered_request_moves_on_to_the_next_server():
    sim = replicated("s")
    sim.add_node(Server, "z")  # (not in the client's list)
    sim.crash("a")
    sim.run()
    assert [op.status for op in sim.history.operations] == ["ok"] * 3
    assert sim.nodes["c"].server == "s"


@pytest.mark.parametrize("server", [[], "", ["a", 3], None])
def test_a_bad_server_list_is_refused_with_a_message(server):
    sim = Simulation(seed=1)
    with pytest.raises(ValueError, match="server is a server's id, or a sequence of ids"):
        sim.add_node(kv.KVClient, "c", server=server)
