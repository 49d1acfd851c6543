"""Tests of the simulator kernel: determinism, each fault as specified, and clear errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from distlab.sim import (Client, ConfigurationError, Constant, EventBudgetExceeded, FaultPlan,
                         MessageError, Nemesis, Network, Node, NodeError, Simulation, Uniform,
                         WallClockLimitExceeded)


@dataclass(frozen=True)
class Ping:
    n: int


class Pinger(Node):
    """Pings every peer every 100 ms and counts what it receives."""

    def __init__(self, period: float = 100.0):
        self.period = period
        self.received = 0

    def on_start(self) -> None:
        self.sent = 0
        self.set_timer(self.period, "tick")

    def on_timer(self, name: str) -> None:
        self.sent += 1
        self.broadcast(Ping(self.sent))
        self.set_timer(self.period, "tick")

    def on_message(self, src: str, msg: Ping) -> None:
        self.received += 1
        self.storage["last"] = (src, msg.n)


def pingers(seed: int = 1, **network) -> Simulation:
    sim = Simulation(seed=seed, network=Network(**network))
    sim.add_nodes(Pinger, ["a", "b", "c"])
    return sim


# -- determinism -------------------------------------------------------------------------------

def test_same_seed_gives_byte_identical_traces():
    traces = []
    for _ in range(2):
        sim = pingers(seed=7, latency=Uniform(1, 50), loss=0.1, duplicate=0.1, reorder=0.2)
        Nemesis(interval=200).install(sim)
        sim.run(until=3_000)
        traces.append(sim.trace.dumps())
    assert traces[0] == traces[1]
    assert len(traces[0].splitlines()) > 100


def test_another_seed_gives_another_trace():
    a, b = pingers(seed=1, latency=Uniform(1, 50)), pingers(seed=2, latency=Uniform(1, 50))
    a.run(until=1_000)
    b.run(until=1_000)
    assert a.trace.dumps() != b.trace.dumps()


def test_turning_loss_on_does_not_change_what_nodes_draw():
    draws = []
    for loss in (0.0, 0.5):
        sim = Simulation(seed=3, network=Network(loss=loss))
        node = sim.add_node(Pinger, "a")
        draws.append([node.rng.random() for _ in range(5)])
    assert draws[0] == draws[1]


# -- the network and faults --------------------------------------------------------------------

def test_partition_drops_exactly_the_cut_links():
    sim = pingers(latency=Constant(5))
    sim.partition({"a"}, {"b", "c"})
    sim.run(until=1_000)
    delivered = {(e.peer, e.node) for e in sim.trace.of_kind("deliver")}
    dropped = {(e.peer, e.node) for e in sim.trace.of_kind("drop")}
    assert delivered == {("b", "c"), ("c", "b")}
    assert dropped == {("a", "b"), ("a", "c"), ("b", "a"), ("c", "a")}
    assert all(e.data == "partition" for e in sim.trace.of_kind("drop"))
    sim.heal()
    sim.run(until=1_200)
    assert ("a", "b") in {(e.peer, e.node) for e in sim.trace.of_kind("deliver")}


def test_partition_of_one_group_isolates_it_from_the_rest():
    sim = pingers()
    sim.partition({"a"})
    assert sim.is_cut("a", "b") and sim.is_cut("c", "a")
    assert not sim.is_cut("b", "c")
    assert sim.trace[-1].data == (("a",), ("b", "c"))


def test_one_way_cut():
    sim = pingers(latency=Constant(5))
    sim.cut("a", "b", both_ways=False)
    sim.run(until=500)
    pairs = {(e.peer, e.node) for e in sim.trace.of_kind("deliver")}
    assert ("b", "a") in pairs and ("a", "b") not in pairs


def test_crash_loses_volatile_state_and_keeps_storage():
    sim = pingers(latency=Constant(5))
    sim.run(until=1_000)
    before = sim.nodes["b"]
    assert before.received > 0 and "last" in before.storage
    sim.crash("b")
    sim.run(until=1_500)
    drops = [e for e in sim.trace.of_kind("drop") if e.time > 1_000]
    assert drops and all(e.node == "b" and e.data == "crashed" for e in drops)
    assert not [e for e in sim.trace.of_kind("timer") if e.node == "b" and e.time > 1_000]
    after = sim.restart("b")
    assert after is not before and after.received == 0
    assert after.storage == before.storage and after.storage["last"][0] in ("a", "c")
    sim.run(until=2_000)
    assert after.received > 0 and after.sent > 0  # on_start ran again


def test_a_duplicated_message_is_delivered_twice():
    sim = pingers(latency=Uniform(1, 5), duplicate=1.0)
    sim.run(until=150)
    sends = sim.trace.of_kind("send")
    dups = sim.trace.of_kind("duplicate")
    assert len(dups) == len(sends) == 6
    for send in sends:
        assert sum(e.msg_id == send.msg_id for e in sim.trace.of_kind("deliver")) == 2


def test_loss_drops_messages_at_send_time():
    sim = pingers(loss=1.0)
    sim.run(until=250)
    assert not sim.trace.of_kind("deliver")
    drops = sim.trace.of_kind("drop")
    assert drops and all(e.data == "loss" for e in drops)


def test_per_link_settings_override_the_default():
    sim = pingers(latency=Constant(1))
    sim.network.set_link("a", "b", latency=Constant(40))
    sim.run(until=150)
    sends = {e.msg_id: e.time for e in sim.trace.of_kind("send")}
    for e in sim.trace.of_kind("deliver"):
        expected = 40 if {e.node, e.peer} == {"a", "b"} else 1
        assert e.time - sends[e.msg_id] == pytest.approx(expected)


def test_bandwidth_queues_messages_behind_each_other():
    @dataclass(frozen=True)
    class Blob:
        size: int

    class Sender(Node):
        def on_start(self):
            if self.id == "a":
                for _ in range(3):
                    self.send("b", Blob(size=1_000))

    sim = Simulation(network=Network(latency=Constant(10), bandwidth=100))  # 100 bytes/ms
    sim.add_nodes(Sender, ["a", "b"])
    sim.run(until=100)
    assert [e.time for e in sim.trace.of_kind("deliver")] == [20, 30, 40]


def test_reordering_lets_later_messages_overtake():
    sim = pingers(latency=Constant(5), reorder=0.5, reorder_delay=200)
    sim.run(until=3_000)
    order = [e.msg_id for e in sim.trace.of_kind("deliver") if e.peer == "a" and e.node == "b"]
    assert order != sorted(order)


def test_clock_skew_shifts_only_that_node_and_drift_changes_its_speed():
    sim = pingers()
    sim.set_clock("a", skew=250)
    sim.set_clock("b", drift=1.0)  # b's clock runs twice as fast
    sim.run(until=400)
    a, b, c = (sim.nodes[n] for n in "abc")
    assert (a.now, b.now, c.now) == (650, 800, 400)
    ticks_b = [e.time for e in sim.trace.of_kind("timer") if e.node == "b"]
    assert ticks_b[:3] == [50, 100, 150]


def test_fault_plan_runs_at_the_given_times():
    sim = pingers()
    plan = FaultPlan().crash(100, "a").partition(200, {"b"}, {"c"}).restart(300, "a").heal(400)
    plan.install(sim)
    sim.run(until=500)
    kinds = ("crash", "restart", "partition", "heal")
    faults = [(e.time, e.kind) for e in sim.trace if e.kind in kinds]
    assert faults == [(100, "crash"), (200, "partition"), (300, "restart"), (400, "heal")]


def test_nemesis_is_seeded_and_respects_max_crashed():
    kinds = []
    for _ in range(2):
        sim = pingers(seed=5)
        Nemesis(interval=100, max_crashed=1).install(sim)
        crashed_at_once = 0

        def watch(s):
            nonlocal crashed_at_once
            crashed_at_once = max(crashed_at_once, len(s.crashed))

        sim.add_monitor(watch)
        sim.run(until=5_000)
        assert crashed_at_once == 1
        kinds.append([(e.time, e.kind, e.node) for e in sim.trace
                      if e.kind in ("crash", "restart", "partition", "heal")])
    assert kinds[0] == kinds[1] and len(kinds[0]) > 10


# -- running -----------------------------------------------------------------------------------

def test_step_runs_one_event_at_a_time():
    sim = pingers(latency=Constant(5))
    assert [sim.step() for _ in range(3)] == [[], [], []]   # each on_start only sets a timer
    events = sim.step()
    assert [e.kind for e in events] == ["timer", "send", "send"] and sim.now == 100
    while sim.now < 105:
        sim.step()
    assert sim.trace[-1].kind == "deliver"


def test_run_until_predicate_and_timeout():
    sim = pingers(latency=Constant(5))
    assert sim.run_until(lambda: sim.nodes["a"].received >= 4)
    assert sim.nodes["a"].received == 4
    start = sim.now
    assert not sim.run_until(lambda: False, timeout=300)
    assert sim.now == start + 300


def test_run_stops_at_until_even_when_nothing_happens():
    sim = Simulation()
    sim.run(until=1_234)
    assert sim.now == 1_234


def test_client_operations_are_recorded_in_history_and_trace():
    class Register(Node):
        value = None

        def on_message(self, src, msg):
            match msg:
                case ("write", v):
                    self.value = v
                    self.send(src, ("ok", None))
                case ("read",):
                    self.send(src, ("ok", self.value))

    class Writer(Client):
        def on_start(self):
            self.op = self.invoke("write", 3)
            self.send("r", ("write", 3))

        def on_message(self, src, msg):
            if self.op.f == "write":
                self.ok(self.op)
                self.op = self.invoke("read")
                self.send("r", ("read",))
            else:
                self.ok(self.op, msg[1])

    sim = Simulation(network=Network(latency=Constant(2)))
    sim.add_node(Register, "r")
    sim.add_node(Writer, "w")
    sim.run(until=100)
    assert sim.nodes["r"].peers == () and sim.nodes["w"].peers == ("r",)
    ops = sim.history.operations
    assert [(o.f, o.status, o.output, o.invoke_time, o.complete_time) for o in ops] == [
        ("write", "ok", None, 0, 4), ("read", "ok", 3, 4, 8)]
    assert [e.kind for e in sim.trace if e.kind in ("invoke", "complete")] == [
        "invoke", "complete", "invoke", "complete"]
    assert sim.history.to_jepsen()[-1] == {"process": "w", "f": "read", "type": "ok", "value": 3}


# -- clear errors ------------------------------------------------------------------------------

def test_unknown_destination_is_named():
    class Lost(Node):
        def on_start(self):
            self.send("zz", Ping(1))

    sim = Simulation(seed=9)
    sim.add_node(Lost, "a")
    with pytest.raises(NodeError, match=r"unknown node 'zz'; the nodes are: 'a'") as info:
        sim.run(until=10)
    assert info.value.node == "a" and "seed=9" in str(info.value)


@pytest.mark.parametrize("msg, advice", [
    ([1, 2], "use a tuple instead of a list"),
    ({"k": 1}, "instead of a dict"),
    (("ok", {1}), "use a frozenset"),
])
def test_mutable_messages_are_refused_with_advice(msg, advice):
    class Sender(Node):
        def on_start(self):
            self.send("a", msg)

    sim = Simulation()
    sim.add_node(Sender, "a")
    with pytest.raises(NodeError, match=advice) as info:
        sim.run(until=1)
    assert isinstance(info.value.__cause__, MessageError)


def test_unfrozen_dataclass_and_nested_list_are_refused():
    @dataclass
    class Loose:
        n: int

    @dataclass(frozen=True)
    class Append:
        entries: list

    from distlab.sim import check_message
    with pytest.raises(MessageError, match="not frozen"):
        check_message(Loose(1))
    with pytest.raises(MessageError, match=r"the message.entries is a list"):
        check_message(Append([1]))
    check_message(Append((1, 2)))  # a tuple is fine


def test_a_handler_that_raises_names_node_event_time_and_seed():
    class Faulty(Node):
        def on_start(self):
            self.set_timer(30, "boom")

        def on_timer(self, name):
            return 1 / 0

    sim = Simulation(seed=42)
    sim.add_node(Faulty, "x")
    with pytest.raises(NodeError) as info:
        sim.run(until=100)
    text = str(info.value)
    assert "node 'x' raised ZeroDivisionError in on_timer('boom') at t=30.000 ms" in text
    assert "Simulation(seed=42)" in text
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_negative_delays_and_bad_settings_are_refused():
    class Eager(Node):
        def on_start(self):
            self.set_timer(-5, "t")

    sim = Simulation()
    sim.add_node(Eager, "a")
    with pytest.raises(NodeError, match="needs a delay of zero or more"):
        sim.run(until=1)
    with pytest.raises(ConfigurationError, match="must not be negative"):
        Constant(-1)
    with pytest.raises(ConfigurationError, match="probability"):
        Network(loss=1.5)
    with pytest.raises(ConfigurationError, match="unknown node 'q'"):
        pingers().crash("q")
    with pytest.raises(ConfigurationError, match="already a node"):
        pingers().add_node(Pinger, "a")
    with pytest.raises(ConfigurationError, match="in the past"):
        s = pingers()
        s.run(until=10)
        s.run(until=5)


def test_a_run_that_would_never_end_is_stopped_and_explained():
    sim = pingers()
    with pytest.raises(EventBudgetExceeded,
                       match=r"no until=.*never end.*Most frequent recent events: send at a"):
        sim.run(max_events=5_000)


def test_a_timer_storm_hits_the_event_budget():
    class Storm(Node):
        def on_start(self):
            self.set_timer(0, "again")

        def on_timer(self, name):
            self.set_timer(0, "again")

    sim = Simulation(max_events=1_000)
    sim.add_node(Storm, "s")
    with pytest.raises(EventBudgetExceeded, match="livelock"):
        sim.run(until=10)
    assert sim.now == 0


def test_an_infinite_loop_in_a_handler_is_stopped_by_the_wall_clock_limit():
    class Spinner(Node):
        def on_start(self):
            while True:
                pass

    sim = Simulation(seed=3)
    sim.add_node(Spinner, "s")
    with pytest.raises(WallClockLimitExceeded, match=r"node 's' ran on_start\(\).*infinite loop"):
        sim.run(until=10, wall_limit=0.2)


def test_peers_are_known_in_init_and_exclude_clients():
    seen = {}

    class Curious(Node):
        def __init__(self):
            seen[self.id] = self.peers

    sim = Simulation()
    sim.add_nodes(Curious, ["b", "a", "c"])
    sim.add_node(Client, "client")
    assert seen == {"a": ("b", "c"), "b": ("a", "c"), "c": ("a", "b")}
    assert sim.nodes["client"].peers == ("a", "b", "c")
    assert sim.nodes["a"].peers == ("b", "c")
    sim.set_clock("a", skew=5, drift=0.01)
    assert sim.clock_of("a") == (5, 0.01) and sim.clock_of("b") == (0, 0)


def test_a_handler_cannot_swallow_the_wall_clock_limit():
    class Stubborn(Node):
        def on_start(self):
            while True:
                try:
                    while True:
                        pass
                except Exception:
                    pass

    sim = Simulation()
    sim.add_node(Stubborn, "s")
    with pytest.raises(WallClockLimitExceeded):
        sim.run(until=10, wall_limit=0.2)


def test_the_trace_keeps_an_operation_as_it_was_at_invoke_time():
    class C(Client):
        def on_start(self):
            self.op = self.invoke("read")
            self.set_timer(5, "done")

        def on_timer(self, name):
            self.ok(self.op, 7)

    sim = Simulation()
    sim.add_node(C, "c")
    sim.run(until=10)
    invoke, complete = sim.trace.of_kind("invoke")[0], sim.trace.of_kind("complete")[0]
    assert invoke.data.status == "pending" and invoke.data.output is None
    assert complete.data.status == "ok" and complete.data.output == 7


def test_jepsen_export_puts_a_completion_before_the_same_clients_next_invoke():
    from distlab.sim import History

    now = [0.0]
    history = History(clock=lambda: now[0])
    write = history.invoke("c1", "write", 1)
    now[0] = 5.0
    history.ok(write)
    dequeue = history.invoke("c1", "dequeue")
    now[0] = 9.0
    history.ok(dequeue, output="x")
    assert [(e["type"], e["f"], e["value"]) for e in history.to_jepsen()] == [
        ("invoke", "write", 1), ("ok", "write", 1), ("invoke", "dequeue", None),
        ("ok", "dequeue", "x")]


# -- the fast paths keep the semantics -----------------------------------------------------------

def test_a_message_class_seen_clean_is_still_checked_every_time():
    @dataclass(frozen=True)
    class Batch:
        n: int
        items: object

    class Sender(Node):
        def on_start(self):
            self.send("a", Batch(1, (1, 2)))   # clean: the class becomes known
            self.send("a", Batch(2, "text"))
            self.send("a", Batch(3, [1, 2]))   # the same class, now with a list inside

    sim = Simulation()
    sim.add_node(Sender, "a")
    with pytest.raises(NodeError, match=r"the message.items is a list"):
        sim.run(until=1)
    assert [e.data.n for e in sim.trace.of_kind("send")] == [1, 2]


def test_splitting_a_run_gives_the_same_trace_as_one_run():
    whole = pingers(seed=3)
    whole.run(until=1_000)
    split = pingers(seed=3)
    for until in (0, 99.5, 100, 250, 1_000):
        split.run(until=until)
    assert split.trace.dumps() == whole.trace.dumps()


def test_a_monitor_added_by_an_event_watches_from_that_event_on():
    seen = []
    sim = pingers()
    sim.at(250, sim.add_monitor, lambda s: seen.append(s.now))
    sim.run(until=400)
    assert seen[0] == 250 and min(seen) == 250
    assert len(seen) == 1 + sum(1 for e in sim.trace if 250 < e.time and e.kind != "send")


@pytest.mark.parametrize("index", [0, 1, -1, -7, slice(None), slice(3, 9), slice(-5, None),
                                   slice(None, None, 3), slice(8, 2, -2), slice(40, 50),
                                   slice(-200, 4)])
def test_trace_indexing_is_that_of_a_list_of_events(index):
    sim = pingers()
    sim.run(until=300)
    events = list(sim.trace)
    assert len(events) == len(sim.trace) > 30
    assert sim.trace[index] == events[index]
    assert sim.trace.counts() == {k: sum(e.kind == k for e in events)
                                  for k in {e.kind for e in events}}
    with pytest.raises(IndexError):
        sim.trace[len(events)]


def test_cuts_are_traced_with_their_direction():
    sim = pingers()
    sim.at(50, sim.cut, "a", "b", False)
    sim.at(60, sim.cut, "b", "c")
    sim.run(until=300)
    cuts = sim.trace.of_kind("cut")
    assert [(e.node, e.peer, e.data) for e in cuts] == [("a", "b", "one way"),
                                                         ("b", "c", "both ways")]
    assert "cut a -> b" in cuts[0].describe() and "cut b <-> c" in cuts[1].describe()
    dropped = {(e.peer, e.node) for e in sim.trace.of_kind("drop")}
    assert dropped == {("a", "b"), ("b", "c"), ("c", "b")}


def test_a_node_class_with_its_own_send_keeps_it_and_state_hides_send():
    class Counting(Pinger):
        def send(self, dst, msg):
            self.sends = getattr(self, "sends", 0) + 1
            super().send(dst, msg)

        def on_timer(self, name):
            self.send(self.peers[0], Ping(0))    # through the override
            self.set_timer(self.period, "tick")

    sim = Simulation(seed=1)
    sim.add_nodes(Counting, ["a", "b"])
    sim.add_node(Pinger, "c")
    sim.run(until=350)
    sent = [e for e in sim.trace.of_kind("send") if e.node == "a"]
    assert sim.nodes["a"].sends == 3 == len(sent)
    assert "send" not in sim.nodes["c"].show() and "send" not in sim.nodes["a"].show()
