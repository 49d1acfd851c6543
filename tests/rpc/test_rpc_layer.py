"""Tests of distlab.rpc: calls and replies, timeouts, retries, at-most-once vs at-least-once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.rpc.counter import CounterServer, Increment
from distlab.rpc.layer import Pending, Reply, Request, RpcNode, Timeout
from distlab.rpc.runs import counter_experiment
from distlab.sim import Constant, Network, NodeError, Simulation, Uniform


@dataclass(frozen=True)
class Echo:
    text: str


class EchoServer(RpcNode):
    def on_request(self, src: str, body: Any) -> Any:
        match body:
            case Echo(text):
                return f"{text} from {self.id}"


class Caller(RpcNode):
    """Makes the calls given as (dst, body) pairs, callback style, and records the results."""

    def __init__(self, calls: tuple = (), timeout: float = 50.0, retries: int = 0):
        self.calls = calls
        self.timeout = timeout
        self.retries = retries
        self.results: list[Any] = []

    def on_start(self) -> None:
        for dst, body in self.calls:
            self.call(dst, body, timeout=self.timeout, retries=self.retries,
                      on_reply=self.results.append)


class AsyncCaller(RpcNode):
    """Calls both servers concurrently from a coroutine, then sleeps, then calls again."""

    def __init__(self):
        self.results: list[Any] = []
        self.times: list[float] = []

    def on_start(self) -> None:
        self.spawn(self.run())

    async def run(self) -> None:
        first, second = self.call("s1", Echo("a")), self.call("s2", Echo("b"))
        self.results += [await first, await second]
        self.times.append(self.now)
        await self.sleep(100)
        self.times.append(self.now)
        self.results.append(await self.call("s1", Echo("c"), timeout=50))


def echo_sim(seed: int = 1, **network: Any) -> Simulation:
    sim = Simulation(seed=seed, network=Network(**network))
    sim.add_nodes(EchoServer, ["s1", "s2"])
    return sim


def requests_sent(sim: Simulation) -> list[Request]:
    return [e.data for e in sim.trace.of_kind("send") if isinstance(e.data, Request)]


# -- calls and replies ----------------------------------------------------------------------------
def test_callback_call_gets_the_reply_body():
    sim = echo_sim()
    caller = sim.add_node(Caller, "c", calls=(("s1", Echo("hi")), ("s2", Echo("ho"))))
    sim.run(until=1_000)
    assert sorted(caller.results) == ["hi from s1", "ho from s2"]
    assert caller.rpc_stats.replies == 2 and caller.rpc_stats.timeouts == 0


def test_await_call_returns_the_reply_and_concurrent_calls_overlap():
    sim = echo_sim(latency=Constant(10))
    caller = sim.add_node(AsyncCaller, "c")
    sim.run(until=1_000)
    assert caller.results == ["a from s1", "b from s2", "c from s1"]
    # both first calls were in flight together: one round trip, not two
    assert caller.times[0] == pytest.approx(20)
    assert caller.times[1] == pytest.approx(120)  # await self.sleep(100)


def test_request_and_reply_follow_maelstroms_ids():
    sim = echo_sim(latency=Constant(5))
    sim.add_node(Caller, "c", calls=(("s1", Echo("x")), ("s1", Echo("y"))))
    sim.run(until=100)
    requests = requests_sent(sim)
    replies = [e.data for e in sim.trace.of_kind("send") if isinstance(e.data, Reply)]
    assert [r.id for r in requests] == [1, 2]
    assert sorted(r.in_reply_to for r in replies) == [1, 2]


# -- timeouts and retries -------------------------------------------------------------------------
def test_timeout_fires_when_the_server_is_down():
    sim = echo_sim(latency=Constant(5))
    sim.crash("s1")
    caller = sim.add_node(Caller, "c", calls=(("s1", Echo("x")),), timeout=40, retries=2)
    sim.run(until=1_000)
    assert caller.results == [Timeout("s1", Echo("x"), attempts=3)]
    assert caller.rpc_stats.retries == 2 and caller.rpc_stats.timeouts == 1
    # the three attempts at 0, 40, 80 ms: each waits `timeout` on the caller's clock
    assert [e.time for e in sim.trace.of_kind("send")] == [0, 40, 80]


def test_retries_resend_the_same_request_id():
    sim = echo_sim(latency=Constant(5))
    sim.add_node(Caller, "c", calls=(("s1", Echo("x")),), timeout=20, retries=4)
    sim.partition({"c"}, {"s1", "s2"})
    sim.run(until=1_000)
    requests = requests_sent(sim)
    assert len(requests) == 5 and {r.id for r in requests} == {1}


def test_calls_time_out_during_a_partition_and_succeed_after_healing():
    sim = echo_sim(latency=Constant(5))
    caller = sim.add_node(Caller, "c", calls=(("s1", Echo("x")),), timeout=30, retries=0)
    sim.partition({"s1"}, {"c", "s2"})
    sim.run(until=100)
    assert isinstance(caller.results[0], Timeout)
    sim.heal()
    caller.call("s1", Echo("again"), on_reply=caller.results.append)
    sim.run(until=200)
    assert caller.results[1] == "again from s1"


def test_a_reply_after_the_timeout_is_ignored_and_counted_late():
    sim = echo_sim(latency=Constant(30))  # round trip 60 ms
    caller = sim.add_node(Caller, "c", calls=(("s1", Echo("x")),), timeout=40, retries=0)
    sim.run(until=1_000)
    assert caller.results == [Timeout("s1", Echo("x"), attempts=1)]
    assert caller.rpc_stats.late_replies == 1


def test_duplicated_replies_complete_a_call_once():
    sim = echo_sim(latency=Constant(5), duplicate=1.0)
    caller = sim.add_node(Caller, "c", calls=(("s1", Echo("x")),))
    sim.run(until=1_000)
    assert caller.results == ["x from s1"]
    assert caller.rpc_stats.late_replies >= 1


# -- at-least-once versus at-most-once ------------------------------------------------------------
@pytest.mark.parametrize("at_most_once, expected", [(False, 40), (True, 20)])
def test_duplicated_requests_apply_twice_at_least_once_and_once_at_most_once(at_most_once,
                                                                             expected):
    run = counter_experiment(at_most_once, increments=20, duplicate=1.0, latency=Constant(5))
    assert run.acknowledged == 20
    assert run.final_value == expected


@pytest.mark.parametrize("at_most_once, expected", [(False, 40), (True, 20)])
def test_retried_requests_apply_twice_at_least_once_and_once_at_most_once(at_most_once, expected):
    # round trip 20 ms, timeout 15 ms: every call is retried once before its reply arrives
    run = counter_experiment(at_most_once, increments=20, latency=Constant(10), timeout=15,
                             retries=1)
    assert run.acknowledged == 20
    assert run.final_value == expected
    assert run.duplicates == (20 if at_most_once else 0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), loss=st.floats(0, 0.4), duplicate=st.floats(0, 0.4))
def test_at_most_once_never_applies_a_call_twice_under_loss_and_duplication(seed, loss,
                                                                           duplicate):
    run = counter_experiment(True, seed=seed, increments=15, loss=loss, duplicate=duplicate)
    assert run.acknowledged + run.unknown == 15
    # every acknowledged increment happened once; an unknown one at most once
    assert run.acknowledged <= run.final_value <= 15
    assert run.executed == run.final_value
    # the replies the client saw are distinct counter values: no double application
    outputs = [op.output for op in run.sim.history if op.status == "ok"]
    assert len(set(outputs)) == len(outputs)


def test_at_least_once_overcounts_under_loss_and_duplication():
    runs = [counter_experiment(False, seed=s, increments=30, loss=0.2, duplicate=0.2)
            for s in range(10)]
    assert all(r.final_value >= r.acknowledged for r in runs)
    assert any(r.final_value > r.increments for r in runs)


def test_unknown_outcomes_are_recorded_as_info_in_the_history():
    run = counter_experiment(True, seed=3, increments=50, loss=0.3, duplicate=0.2)
    statuses = [op.status for op in run.sim.history]
    assert statuses.count("info") == run.unknown > 0
    assert statuses.count("ok") == run.acknowledged


# -- the at-most-once table -----------------------------------------------------------------------
class RawClient(RpcNode):
    """Sends hand-made requests at set times (to replay a late duplicate)."""

    def __init__(self, script: tuple = (), dst: str = "server"):
        self.script = script
        self.dst = dst
        self.replies: list[Reply] = []

    def on_start(self) -> None:
        for i, _ in enumerate(self.script):
            self.set_timer(self.script[i][0], f"send {i}")

    def on_timer(self, name: str) -> None:
        _, request = self.script[int(name.split()[1])]
        self.send(self.dst, request)

    def on_message(self, src: str, msg: Any) -> None:
        self.replies.append(msg)


def test_a_late_copy_of_a_finished_request_is_not_executed_again():
    sim = Simulation(seed=1, network=Network(latency=Constant(5)))
    server = sim.add_node(CounterServer, "server", at_most_once=True)
    sim.add_node(RawClient, "c", script=(
        (0, Request(1, Increment(1), done_below=1)),
        (20, Request(2, Increment(1), done_below=2)),   # "every call below 2 is finished"
        (40, Request(1, Increment(1), done_below=1)),   # a late duplicate of call 1
    ))
    sim.run(until=200)
    assert server.value == 2
    assert server.rpc_stats.stale == 1
    # and the table kept only the call still open
    assert set(server.storage["rpc_replies"]["c"]) == {2}


def test_the_table_holds_only_calls_in_flight():
    run = counter_experiment(True, seed=5, increments=100, loss=0.1)
    server = run.sim.nodes["server"]
    assert len(server.storage["rpc_replies"]["client"]) <= 1
    assert server.value >= run.acknowledged


@pytest.mark.parametrize("at_most_once, applied_once", [(True, True), (False, False)])
def test_the_table_survives_a_server_crash(at_most_once, applied_once):
    sim = Simulation(seed=1, network=Network(latency=Constant(5)))
    server = sim.add_node(CounterServer, "server", at_most_once=at_most_once)
    caller = sim.add_node(Caller, "c", calls=(("server", Increment(1)),), timeout=30,
                          retries=5)
    sim.cut("server", "c", both_ways=False)   # replies are lost: the client retries
    sim.at(15, sim.crash, "server")            # after executing the first attempt
    sim.at(50, sim.restart, "server")
    sim.at(50, sim.heal)
    sim.run(until=1_000)
    server = sim.nodes["server"]
    assert caller.results and not isinstance(caller.results[0], Timeout)
    assert (server.value == 1) is applied_once


# -- coordinators: async handlers -----------------------------------------------------------------
class SumCoordinator(RpcNode):
    """Answers Increment(n) after asking both backends to add n, with the sum of their values."""

    async def on_request(self, src: str, body: Any) -> int:
        first = self.call("b1", body, timeout=50, retries=3)
        second = self.call("b2", body, timeout=50, retries=3)
        return (await first) + (await second)


def test_an_async_handler_can_call_other_nodes_before_replying():
    sim = Simulation(seed=2, network=Network(latency=Uniform(1, 10)))
    sim.add_nodes(CounterServer, ["b1", "b2"], at_most_once=True)
    sim.add_node(SumCoordinator, "coord")
    caller = sim.add_node(Caller, "c", calls=(("coord", Increment(3)),), timeout=200)
    sim.run(until=1_000)
    assert caller.results == [6]


def test_a_duplicate_arriving_while_the_handler_runs_is_not_executed():
    sim = Simulation(seed=2, network=Network(latency=Uniform(1, 10), duplicate=1.0))
    sim.add_nodes(CounterServer, ["b1", "b2"], at_most_once=True)
    coord = sim.add_node(SumCoordinator, "coord")
    coord.at_most_once = True
    caller = sim.add_node(Caller, "c", calls=(("coord", Increment(1)),), timeout=200)
    sim.run(until=1_000)
    assert caller.results == [2]
    assert coord.rpc_stats.executed == 1
    assert sim.nodes["b1"].value == sim.nodes["b2"].value == 1


# -- errors and determinism -----------------------------------------------------------------------
class BadAwaiter(RpcNode):
    def on_start(self) -> None:
        self.spawn(self.run())

    async def run(self) -> None:
        import asyncio
        await asyncio.sleep(0)  # asyncio's, not the node's: there is no asyncio loop here


def test_awaiting_something_else_than_a_pending_is_a_clear_error():
    sim = Simulation(seed=1)
    sim.add_node(BadAwaiter, "a")
    with pytest.raises(NodeError, match="can only await self.call"):
        sim.run(until=10)


def test_spawn_refuses_a_function_that_was_not_called():
    sim = Simulation(seed=1)
    node = sim.add_node(AsyncCaller, "a")
    with pytest.raises(TypeError, match="takes a coroutine"):
        node.spawn(node.run)


def test_a_non_rpc_message_is_a_clear_error():
    sim = echo_sim()
    sim.add_node(RawClient, "c", script=((0, "hello"),), dst="s1")
    with pytest.raises(NodeError, match="not an RPC Request or Reply"):
        sim.run(until=100)


def test_bad_call_arguments_are_refused():
    sim = echo_sim()
    sim.run(until=1)
    node = sim.nodes["s1"]
    with pytest.raises(ValueError, match="called itself"):
        node.call("s1", Echo("x"))
    with pytest.raises(ValueError, match="timeout"):
        node.call("s2", Echo("x"), timeout=0)
    with pytest.raises(ValueError, match="retries"):
        node.call("s2", Echo("x"), retries=-1)


def test_pending_runs_callbacks_once_and_refuses_a_second_result():
    pending = Pending("test")
    seen: list[Any] = []
    pending.then(seen.append)
    pending.complete(1)
    pending.then(seen.append)
    assert seen == [1, 1]
    with pytest.raises(RuntimeError, match="already completed"):
        pending.complete(2)


def test_same_seed_same_trace():
    first = counter_experiment(True, seed=9, loss=0.2, duplicate=0.2)
    second = counter_experiment(True, seed=9, loss=0.2, duplicate=0.2)
    assert first.sim.trace.dumps() == second.sim.trace.dumps()
