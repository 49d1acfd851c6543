"""Property-based tests of the kernel's invariants, on random systems and random faults."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.sim import Nemesis, Network, Node, Simulation, Uniform


class Chatter(Node):
    """Sends to a random peer on every timer and every delivery (bounded by a hop count)."""

    def on_start(self) -> None:
        self.set_timer(self.rng.uniform(1, 20), "tick")

    def on_timer(self, name: str) -> None:
        self.send(self.rng.choice(self.peers), 0)
        self.set_timer(self.rng.uniform(5, 40), "tick")

    def on_message(self, src: str, hops: int) -> None:
        if hops < 3:
            self.send(self.rng.choice(self.peers), hops + 1)


systems = st.fixed_dictionaries({
    "seed": st.integers(0, 10_000),
    "nodes": st.integers(2, 5),
    "loss": st.sampled_from([0.0, 0.1, 0.5]),
    "duplicate": st.sampled_from([0.0, 0.2]),
    "reorder": st.sampled_from([0.0, 0.3]),
    "nemesis": st.sampled_from([None, 50.0, 200.0]),
    # single links cut with sim.cut: (time, one end, other end, both ways?)
    "cuts": st.lists(st.tuples(st.floats(0, 1_000), st.integers(0, 4), st.integers(0, 4),
                               st.booleans()), max_size=4),
})


def run_system(p: dict) -> Simulation:
    sim = Simulation(seed=p["seed"], network=Network(
        latency=Uniform(1, 30), loss=p["loss"], duplicate=p["duplicate"], reorder=p["reorder"]))
    sim.add_nodes(Chatter, [f"n{i}" for i in range(p["nodes"])])
    if p["nemesis"]:
        Nemesis(interval=p["nemesis"]).install(sim)
    for time, a, b, both_ways in p["cuts"]:
        if a != b and max(a, b) < p["nodes"]:
            sim.at(time, sim.cut, f"n{a}", f"n{b}", both_ways)
    sim.run(until=1_000)
    return sim


@settings(max_examples=60, deadline=None)
@given(systems)
def test_time_never_goes_backwards(p):
    times = [e.time for e in run_system(p).trace]
    assert times == sorted(times)


@settings(max_examples=60, deadline=None)
@given(systems)
def test_every_delivery_has_an_earlier_send_and_at_most_its_copies(p):
    sim = run_system(p)
    sent, copies, delivered = {}, {}, {}
    for e in sim.trace:
        if e.kind == "send":
            sent[e.msg_id] = e
        elif e.kind == "duplicate":
            copies[e.msg_id] = 2
        elif e.kind == "deliver":
            send = sent[e.msg_id]  # KeyError here would be a delivery without a send
            assert (send.node, send.peer, send.data) == (e.peer, e.node, e.data)
            assert send.time <= e.time
            delivered[e.msg_id] = delivered.get(e.msg_id, 0) + 1
            assert delivered[e.msg_id] <= copies.get(e.msg_id, 1)


@settings(max_examples=60, deadline=None)
@given(systems)
def test_nothing_is_delivered_across_a_partition_or_to_a_crashed_node(p):
    sim = run_system(p)
    cut: set[tuple[str, str]] = set()
    down: set[str] = set()
    for e in sim.trace:
        match e.kind:
            case "partition":
                cut = {(a, b) for g in e.data for h in e.data if g != h for a in g for b in h}
            case "cut":
                cut.add((e.node, e.peer))
                if e.data == "both ways":
                    cut.add((e.peer, e.node))
            case "heal":
                cut = set()
            case "crash":
                down.add(e.node)
            case "restart":
                down.discard(e.node)
            case "deliver":
                assert (e.peer, e.node) not in cut
                assert e.node not in down
            case "timer" | "send":
                assert e.node not in down
