"""Tests of distlab.check.invariants: each catches a broken toy and passes a correct one."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from distlab.check.examples import (Election, ForgetfulElection,
                                    RicartAgrawala, mutual_exclusion)
from distlab.check.invariants import (Invariant, InvariantViolation, at_most_one_leader_per_term,
                                      check_now, durable_storage, invariant, live_nodes,
                                      logs_agree_up_to_commit, no_acknowledged_write_lost, watch)
from distlab.sim import (Client, ConfigurationError, Nemesis, Network, Node, Operation,
                         Simulation, Uniform)

SEEDS = range(30)


def violation_or_none(sim: Simulation, until: float) -> InvariantViolation | None:
    try:
        sim.run(until=until)
    except InvariantViolation as exc:
        return exc
    return None


# -- a scripted node: its variables change at given times -------------------------------------

class Scripted(Node):
    """Sets attributes at given times: ``script=[(10, {"role": "leader", "term": 1}), ...]``."""

    def __init__(self, script: list[tuple[float, dict]] = (), **initial):
        self.script = list(script)
        for name, value in initial.items():
            setattr(self, name, value)

    def on_start(self) -> None:
        for i, (time, _) in enumerate(self.script):
            self.set_timer(time, f"step{i}")

    def on_timer(self, name: str) -> None:
        changes = self.script[int(name.removeprefix("step"))][1]
        for attr, value in changes.items():
            setattr(self, attr, value)


# -- at most one leader per term ----------------------------------------------------------------

def elections(cls: type[Node], seed: int) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 30)))
    sim.add_nodes(cls, ["a", "b", "c"])
    Nemesis(interval=300).install(sim)
    return sim


def test_leader_invariant_catches_voters_that_forget_their_votes():
    found = [v for seed in SEEDS
             if (v := violation_or_none(watched(elections(ForgetfulElection, seed)), 3_000))]
    assert found, "the forgetful election never elected two leaders in 30 seeds"
    first = found[0]
    assert first.invariant == "at most one leader per term"
    assert "were both leader in term" in first.explanation
    assert first.seed in SEEDS and first.time > 0
    assert first.events and first.events[-1].time <= first.time
    assert f"Simulation(seed={first.seed})" in str(first)


def watched(sim: Simulation) -> Simulation:
    watch(sim, at_most_one_leader_per_term())
    return sim


def test_leader_invariant_holds_for_raft_style_election_under_crashes_and_partitions():
    terms_with_leaders = 0
    for seed in SEEDS:
        sim = elections(Election, seed)
        leaders = at_most_one_leader_per_term()
        watch(sim, leaders)
        sim.run(until=3_000)
        terms_with_leaders += len(leaders.leaders)
    assert terms_with_leaders >= 2 * len(SEEDS)  # leaders were elected, and re-elected


def test_two_leaders_of_one_term_at_different_times_is_still_a_violation():
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", role="follower", term=0,
                 script=[(10, {"role": "leader", "term": 1}), (20, {"role": "follower"})])
    sim.add_node(Scripted, "b", role="follower", term=0,
                 script=[(30, {"role": "leader", "term": 1})])
    watch(sim, at_most_one_leader_per_term())
    exc = violation_or_none(sim, 100)
    assert exc is not None and exc.time == 30
    assert "'a' since t=10.000 ms" in exc.explanation


def test_leader_invariant_reads_the_attribute_names_it_is_given():
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", state="LEADER", epoch=4)
    sim.add_node(Scripted, "b", state="LEADER", epoch=5)
    check_now(sim, at_most_one_leader_per_term("state", "epoch", "LEADER"))
    sim.nodes["b"].epoch = 4
    with pytest.raises(InvariantViolation, match="term 4"):
        check_now(sim, at_most_one_leader_per_term("state", "epoch", "LEADER"))


def test_a_leader_without_a_term_attribute_is_a_clear_error():
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", role="leader")
    with pytest.raises(ConfigurationError, match="term_attr"):
        check_now(sim, at_most_one_leader_per_term())


def test_crashed_nodes_are_skipped():
    def run(crash: bool) -> InvariantViolation | None:
        sim = Simulation(seed=1)
        sim.add_node(Scripted, "a", in_cs=False, script=[(5, {"in_cs": True})])
        sim.add_node(Scripted, "b", in_cs=False, script=[(20, {"in_cs": True})])
        if crash:
            sim.at(10, sim.crash, "a")
        watch(sim, mutual_exclusion)
        return violation_or_none(sim, 50)

    assert run(crash=False) is not None
    assert run(crash=True) is None


# -- logs agree up to the commit index ------------------------------------------------------------

@dataclass(frozen=True)
class Append:
    entries: tuple
    commit: int


@dataclass(frozen=True)
class Ack:
    length: int


class Replica(Node):
    """Log replication from one proposer: followers adopt any longer log the proposer sends.

    Safe with a single proposer, whose log only grows; with two proposers (there are no
    terms to tell them apart) a longer log from the second overwrites entries the first has
    already committed.
    """

    def __init__(self, propose_from: float | None = None, entries: int = 20):
        self.propose_from = propose_from
        self.entries = entries
        self.log: list[str] = []
        self.commit_index = 0
        self.match: dict[str, int] = {}

    def on_start(self) -> None:
        if self.propose_from is not None:
            self.set_timer(self.propose_from, "propose")

    def on_timer(self, name: str) -> None:
        self.log.append(f"{self.id}{len(self.log) + 1}")
        self.match[self.id] = len(self.log)
        self.broadcast(Append(tuple(self.log), self.commit_index))
        if len(self.log) < self.entries:
            self.set_timer(10, "propose")

    def on_message(self, src: str, msg: Append | Ack) -> None:
        match msg:
            case Append(entries, commit):
                if len(entries) >= len(self.log):
                    self.log = list(entries)
                self.commit_index = max(self.commit_index, min(commit, len(self.log)))
                self.send(src, Ack(len(entries)))
            case Ack(length):
                self.match[src] = max(self.match.get(src, 0), length)
                majority = sorted(self.match.values(), reverse=True)[(len(self.peers) + 1) // 2]
                if majority > self.commit_index and majority <= len(self.log):
                    self.commit_index = majority


def replication(seed: int, second_proposer: bool) -> Simulation:
    sim = Simulation(seed=seed)
    sim.add_node(Replica, "a", propose_from=10)
    sim.add_node(Replica, "b", propose_from=55 if second_proposer else None)
    sim.add_node(Replica, "c")
    watch(sim, logs_agree_up_to_commit())
    return sim


def test_log_invariant_catches_a_second_proposer_overwriting_committed_entries():
    found = [v for seed in SEEDS if (v := violation_or_none(replication(seed, True), 1_000))]
    assert len(found) >= len(SEEDS) * 3 // 4
    assert "was committed as" in found[0].explanation


def test_log_invariant_holds_with_a_single_proposer():
    for seed in SEEDS:
        sim = replication(seed, False)
        sim.run(until=1_000)
        assert sim.nodes["a"].commit_index == 20  # the check saw real commits
        assert sim.nodes["c"].commit_index >= 15


def test_a_committed_entry_that_changes_later_is_caught():
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", log=[], commit_index=0,
                 script=[(10, {"log": ["x"], "commit_index": 1}), (20, {"log": ["y"]})])
    watch(sim, logs_agree_up_to_commit())
    exc = violation_or_none(sim, 100)
    assert exc is not None and exc.time == 20
    assert exc.explanation == ("index 1 was committed as 'x' (seen on 'a' at t=10.000 ms), "
                               "but 'a' now has 'y' committed there")


def test_log_invariant_with_a_placeholder_at_index_zero():
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", log=[None, "x", "z"], commit_index=1)
    sim.add_node(Scripted, "b", log=[None, "y"], commit_index=1)
    check_now(sim, logs_agree_up_to_commit())          # first_index=1: only None committed
    with pytest.raises(InvariantViolation, match="index 1 was committed as 'x'"):
        check_now(sim, logs_agree_up_to_commit(first_index=0))


def test_committing_beyond_the_log_is_reported():
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", log=["x"], commit_index=3)
    with pytest.raises(InvariantViolation, match="only 1 entries"):
        check_now(sim, logs_agree_up_to_commit())


# -- no acknowledged write lost ------------------------------------------------------------------

@dataclass(frozen=True)
class Put:
    key: str
    value: int


@dataclass(frozen=True)
class PutOk:
    key: str
    value: int


class Store(Node):
    """Saves every write durably, then acknowledges it."""

    def __init__(self) -> None:
        self.data = dict(self.storage.get("data", {}))

    def on_message(self, src: str, msg: Put) -> None:
        self.data[msg.key] = msg.value
        self.save()
        self.send(src, PutOk(msg.key, msg.value))

    def save(self) -> None:
        self.storage["data"] = dict(self.data)


class LazyStore(Store):
    """The bug: acknowledges at once, and saves only every 50 ms."""

    def on_start(self) -> None:
        self.set_timer(50, "flush")

    def save(self) -> None:
        pass

    def on_timer(self, name: str) -> None:
        self.storage["data"] = dict(self.data)
        self.set_timer(50, "flush")


class Writer(Client):
    """Writes 1, 2, 3... to keys x, y, z in turn; gives up on a write after 30 ms."""

    def __init__(self, writes: int = 40, gap: float = 20.0):
        self.writes = writes
        self.gap = gap
        self.count = 0
        self.op: Operation | None = None

    def on_start(self) -> None:
        self.set_timer(self.rng.uniform(0, self.gap), "next")

    def on_timer(self, name: str) -> None:
        match name:
            case "next" if self.count < self.writes:
                self.count += 1
                key = "xyz"[self.count % 3]
                self.op = self.invoke("put", value=self.count, key=key)
                self.send("s", Put(key, self.count))
                self.set_timer(30, "timeout")
            case "timeout":
                self.info(self.op)
                self.op = None
                self.set_timer(self.gap, "next")

    def on_message(self, src: str, msg: PutOk) -> None:
        if self.op is not None and msg.value == self.op.value:
            self.ok(self.op)
            self.op = None
            self.cancel_timer("timeout")
            self.set_timer(self.rng.uniform(0, self.gap), "next")


def read_store(sim: Simulation, key: str) -> int | None:
    """What the store would answer: from memory while up, from its disk when down."""
    if sim.is_up("s"):
        return sim.nodes["s"].data.get(key)
    return durable_storage(sim, "s").get("data", {}).get(key)


def stores(cls: type[Node], seed: int) -> Simulation:
    sim = Simulation(seed=seed)
    sim.add_node(cls, "s")
    sim.add_node(Writer, "w", writes=10)
    crash_at = 100 + 5 * seed
    sim.at(crash_at, sim.crash, "s")
    sim.at(crash_at + 100, sim.restart, "s")
    return sim


def test_lost_writes_are_caught_after_the_run():
    lost = 0
    for seed in SEEDS:
        sim = stores(LazyStore, seed)
        sim.run(until=2_000)
        try:
            check_now(sim, no_acknowledged_write_lost(read_store))
        except InvariantViolation as exc:
            lost += 1
            assert "was lost" in exc.explanation
    assert lost >= len(SEEDS) // 4   # the writes acknowledged in the 50 ms before a crash


def test_lost_writes_are_caught_at_the_crash_when_watched():
    sim = stores(LazyStore, 0)
    watch(sim, no_acknowledged_write_lost(read_store))
    exc = violation_or_none(sim, 2_000)
    assert exc is not None
    assert exc.events[-1].kind == "crash"


def test_a_store_that_saves_before_acknowledging_loses_nothing():
    for seed in SEEDS:
        sim = stores(Store, seed)
        watch(sim, no_acknowledged_write_lost(read_store))
        sim.run(until=2_000)
        check_now(sim, no_acknowledged_write_lost(read_store))
        assert sum(op.status == "ok" for op in sim.history) >= 5


def history_sim(ops: list[tuple[str, object, float, float | None, str]]) -> Simulation:
    """A simulation whose history holds ``(f, value, invoke, complete, status)`` operations on x."""
    sim = Simulation(seed=0)
    events = []
    for i, (f, value, start, end, status) in enumerate(ops):
        events.append((start, 0, i))
        if end is not None:
            events.append((end, 1, i))
    recorded: dict[int, Operation] = {}
    for time, kind, i in sorted(events):
        sim.run(until=time)
        f, value, _, _, status = ops[i]
        if kind == 0:
            recorded[i] = sim.history.invoke(f"p{i}", f, value=value, key="x")
        else:
            getattr(sim.history, status)(recorded[i])
    return sim


def lost(sim: Simulation, final: object) -> str | None:
    return no_acknowledged_write_lost(lambda sim, key: final).check(sim)


def test_the_value_read_may_come_from_the_last_or_a_concurrent_write():
    sequential = history_sim([("put", 1, 0, 10, "ok"), ("put", 2, 20, 30, "ok")])
    assert lost(sequential, 2) is None
    assert "before the acknowledged p1: put['x'](2) ok began" in lost(sequential, 1)
    assert "holds nothing" in lost(sequential, None)
    concurrent = history_sim([("put", 1, 0, 25, "ok"), ("put", 2, 20, 30, "ok")])
    assert lost(concurrent, 1) is None and lost(concurrent, 2) is None


def test_writes_of_unknown_outcome_may_win_and_failed_writes_may_not():
    sim = history_sim([("put", 1, 0, 10, "ok"), ("put", 2, 5, 12, "info"),
                       ("put", 3, 20, 30, "fail"), ("put", 4, 40, None, "ok")])
    assert lost(sim, 2) is None          # unknown: it may still take effect
    assert lost(sim, 4) is None          # still pending: may have taken effect
    assert "which no write wrote" in lost(sim, 3)


def test_every_acknowledged_append_must_be_in_the_value_read():
    sim = history_sim([("append", "a", 0, 10, "ok"), ("append", "b", 5, 15, "ok"),
                       ("append", "c", 20, 30, "info")])
    assert lost(sim, ["b", "a"]) is None
    assert lost(sim, "ab") is None       # string-append stores
    assert "append['x']('b')" in lost(sim, ["a", "c"])


# -- writing new invariants -----------------------------------------------------------------------

def test_a_custom_invariant_written_with_the_decorator():
    @invariant("no node counts past 3")
    def small_counts(sim: Simulation) -> str | None:
        for node_id, node in live_nodes(sim).items():
            if node.count > 3:
                return f"{node_id} counted to {node.count}"
        return None

    sim = Simulation(seed=4)
    sim.add_node(Scripted, "a", count=0, script=[(t, {"count": t // 10}) for t in (10, 20, 30, 40)])
    watch(sim, small_counts)
    exc = violation_or_none(sim, 100)
    assert (exc.invariant, exc.explanation, exc.time, exc.seed) == (
        "no node counts past 3", "a counted to 4", 40, 4)
    assert "timer 'step3'" in str(exc)


def test_a_custom_invariant_as_an_object_may_return_true_or_false():
    fine = Invariant("always fine", lambda sim: True)
    broken = Invariant("never fine", lambda sim: False)
    sim = Simulation(seed=0)
    check_now(sim, fine)
    with pytest.raises(InvariantViolation, match="returned False"):
        check_now(sim, fine, broken)


def test_mistakes_in_writing_invariants_get_clear_errors():
    sim = Simulation(seed=0)
    with pytest.raises(TypeError, match="returned 42"):
        check_now(sim, Invariant("odd", lambda sim: 42))
    with pytest.raises(TypeError, match=r"@invariant\('what must hold'\)"):
        invariant(lambda sim: None)
    with pytest.raises(TypeError, match="is not an Invariant"):
        watch(sim, lambda sim: None)
    with pytest.raises(TypeError, match="needs a name"):
        Invariant("", lambda sim: None)


def test_mutual_exclusion_example_holds_for_ricart_agrawala_over_many_seeds():
    for seed in range(100):
        sim = Simulation(seed=seed)
        sim.add_nodes(RicartAgrawala, ["a", "b", "c"])
        watch(sim, mutual_exclusion)
        sim.run(until=1_200)
        assert all(node.done for node in sim.nodes.values())


def test_watching_resets_the_memory_of_a_reused_invariant():
    leaders = at_most_one_leader_per_term()
    for node_id in ("a", "b"):   # each run has one leader of term 1: fine, run by run
        sim = Simulation(seed=0)
        sim.add_node(Scripted, node_id, role="leader", term=1)
        watch(sim, leaders)
        sim.run(until=10)
    assert leaders.leaders == {1: "b"}

