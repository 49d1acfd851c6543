"""Tests of distlab.consensus.raft.invariants: Election Safety, State Machine Safety, Leader
Append-Only and Leader Completeness (and the Figure 8 script that breaks them).

Each invariant, with its defaults, on the library's own Raft node (a run with crashes and
partitions: no violation; a forgetful variant: caught), on the explorer's toy elections, and on
scripted nodes that put it in chosen states.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from distlab.check import InvariantViolation, check_now, watch
from distlab.check.examples import Election, ForgetfulElection
from distlab.consensus.raft import bugs
from distlab.consensus.raft.bugs import CommitsByCounting
from distlab.consensus.raft.election import RaftElectionNode
from distlab.consensus.raft.invariants import (at_most_one_leader_per_term, figure3,
                                               leader_append_only, leader_completeness,
                                               log_matching, logs_agree_up_to_commit)
from distlab.consensus.raft.messages import Entry, RequestVote
from distlab.consensus.raft.node import RaftNode
from distlab.consensus.raft.runs import figure8, raft_kv, safety_run
from distlab.sim import ConfigurationError, Nemesis, Network, Node, Simulation, Uniform

from scripted import Scripted, violation_or_none

SEEDS = range(30)


# -- the library's Raft node, with the invariant's defaults ---------------------------------------

class ForgetfulRaftElectionNode(RaftElectionNode):
    """The bug: it grants every vote of the current term, forgetting whom it voted for."""

    def on_message(self, src: str, msg: object) -> None:
        if isinstance(msg, RequestVote):
            self.storage["voted_for"] = None
        super().on_message(src, msg)


def raft_elections(cls: type[RaftElectionNode], seed: int) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 30), loss=0.05))
    sim.add_nodes(cls, ["n1", "n2", "n3", "n4", "n5"])
    Nemesis(interval=300, max_crashed=2).install(sim)
    return sim


def test_a_forgetful_raft_election_node_is_caught():
    found = [v for seed in SEEDS
             if (v := violation_or_none(watched(raft_elections(ForgetfulRaftElectionNode, seed)),
                                        4_000))]
    assert found, "the forgetful Raft node never elected two leaders in 30 seeds"
    assert "were both leader in term" in found[0].explanation


# -- at most one leader per term: the explorer's toy elections, scripted nodes --------------

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


def test_watching_resets_the_memory_of_a_reused_invariant():
    leaders = at_most_one_leader_per_term()
    for node_id in ("a", "b"):   # each run has one leader of term 1: fine, run by run
        sim = Simulation(seed=0)
        sim.add_node(Scripted, node_id, role="leader", term=1)
        watch(sim, leaders)
        sim.run(until=10)
    assert leaders.leaders == {1: "b"}


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


# -- both election nodes keep Election Safety --------------------------------------------------

@pytest.mark.parametrize("scenario, until", [
    (lambda seed: raft_elections(RaftElectionNode, seed), 4_000),  # library node, with loss
    (lambda seed: elections(Election, seed), 3_000),               # the explorer's toy node
], ids=["RaftElectionNode", "toy Election"])
def test_election_safety_holds_under_crashes_and_partitions(scenario, until):
    terms_with_leaders = 0
    for seed in SEEDS:
        sim = scenario(seed)
        leaders = at_most_one_leader_per_term()
        watch(sim, leaders)
        sim.run(until=until)
        terms_with_leaders += len(leaders.leaders)
    assert terms_with_leaders >= 2 * len(SEEDS)  # leaders were elected, and re-elected


# -- Leader Append-Only ---------------------------------------------------------------------------

def test_a_leader_that_deletes_an_entry_of_its_log_is_caught():
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", role="leader", term=2, log=["x", "y"],
                 script=[(10, {"log": ["x", "y", "z"]}), (20, {"log": ["x"]})])
    watch(sim, leader_append_only())
    exc = violation_or_none(sim, 100)
    assert exc is not None and exc.time == 20
    assert exc.explanation == ("'a', leader of term 2, had 'y' at index 2, and now has "
                               "nothing there: a leader must only append to its log")


def test_a_leader_that_overwrites_an_entry_is_caught():
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", role="leader", term=2, log=["x", "y"],
                 script=[(10, {"log": ["x", "w", "z"]})])
    watch(sim, leader_append_only())
    exc = violation_or_none(sim, 100)
    assert exc is not None and "had 'y' at index 2, and now has 'w' there" in exc.explanation


def test_append_only_allows_a_snapshot_and_a_new_term_to_change_the_log():
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", role="leader", term=2, log=["x", "y"], log_start=1, script=[
        (10, {"log": ["y", "z"], "log_start": 2}),            # a snapshot took index 1
        (20, {"role": "follower"}), (30, {"log": ["q"]}),     # not leader: may truncate
        (40, {"role": "leader", "term": 3}),                 # a new term starts afresh
        (50, {"log": ["q", "r"]})])
    watch(sim, leader_append_only(first_index="log_start"))
    assert violation_or_none(sim, 100) is None


# -- Leader Completeness -------------------------------------------------------------------------

def test_a_leader_of_a_later_term_without_a_committed_entry_is_caught():
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", role="leader", term=1, log=["x"], commit_index=1)
    sim.add_node(Scripted, "b", role="follower", term=1, log=["y"], commit_index=0,
                 script=[(10, {"role": "leader", "term": 2})])
    watch(sim, leader_completeness())
    exc = violation_or_none(sim, 100)
    assert exc is not None and exc.time == 10
    assert exc.explanation == ("'x' was committed at index 1 by term 1 (seen on 'a'), but "
                               "'b', leader of the later term 2, has 'y' there")


def test_leader_completeness_asks_only_later_terms_and_skips_snapshotted_indices():
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", role="follower", term=2, log=["x", "y"], commit_index=2,
                 log_start=1)
    sim.add_node(Scripted, "b", role="leader", term=2, log=["x"], commit_index=0, log_start=1,
                 script=[(10, {"term": 3, "log": ["y"], "log_start": 2})])
    watch(sim, leader_completeness(first_index="log_start"))
    # b leads term 2, the term the entries were seen committed in: nothing asked of it;
    # as leader of term 3 it has index 2, and index 1 is in its snapshot
    assert violation_or_none(sim, 100) is None
    sim.nodes["b"].log = []
    with pytest.raises(InvariantViolation, match="has no entry there"):
        check_now(sim, leader_completeness(first_index="log_start"))


# -- the five properties on RaftNode, and Figure 8 -----------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_raft_keeps_leader_append_only_and_completeness_under_faults(seed):
    servers = ["n1", "n2", "n3", "n4", "n5"]
    sim = raft_kv(seed=seed, n=5, clients=2, ops=20, snapshot_every=6,
                  nemesis=Nemesis(200, nodes=servers, max_crashed=2, loss=0.1, stop=4_000),
                  election_timeout=(100, 200), heartbeat_interval=30)
    invariants = figure3()
    watch(sim, *invariants)
    sim.run(until=8_000)
    completeness = invariants[3]
    assert len(completeness.committed) >= 20  # entries were committed, and checked
    assert len({term for _, term in completeness.checked}) >= 2  # by more than one leader


def test_figure8_commits_by_counting_and_loses_a_committed_entry():
    run = figure8(CommitsByCounting)
    assert run.violation is not None
    assert run.violation.explanation.startswith("index 2 was committed as Entry(term=1")
    assert "'n5' now has Entry(term=2, command=None) committed there" in run.violation.explanation
    (_, after_c), = [(c, v) for c, v in run.steps if c.startswith("(c)")]
    assert after_c[0].commit_index == 2  # n1 committed its term-1 entry by counting


def test_figure8_with_leader_completeness_catches_the_new_leader():
    run = figure8(CommitsByCounting, invariants=[leader_completeness(first_index="log_start")])
    assert run.violation is not None
    assert "'n5', leader of the later term 4" in run.violation.explanation


def test_figure8_raft_does_not_commit_the_old_entry_and_stays_safe():
    run = figure8(invariants=figure3())
    assert run.violation is None
    captions = [c for c, _ in run.steps]
    assert [c[:3] for c in captions] == ["(a)", "(b)", "(c)", "(d)"]
    after_c, after_d = run.steps[2][1], run.steps[3][1]
    assert after_c[0].role == "leader" and after_c[0].commit_index == 0
    assert [len(v.log) for v in after_c[2:4]] == [2, 2]  # the old entry is on n1, n2, n3, n4
    n5 = after_d[4]
    assert n5.role == "leader" and n5.commit_index == 3
    assert n5.log[1] == Entry(2, None)  # index 2 replaced: it had never been committed


def test_safety_run_holds_for_raft_and_reports_the_first_violation_of_a_bug():
    held = safety_run(RaftNode, seed=0, until=1_500, interval=100)
    assert held.violated is None and held.committed >= 20 and held.terms >= 2
    broken = safety_run(bugs.VotesForAnyLog, seed=5, until=1_500, interval=100)
    assert broken.violated == "leaders of later terms have every committed entry"
    assert "leader of the later term" in broken.explanation and broken.time > 0


def test_figure3_lists_the_five_properties_in_the_papers_order():
    assert [i.name for i in figure3()] == [
        "at most one leader per term", "a leader only appends to its log",
        "logs that match at an index match up to it",
        "leaders of later terms have every committed entry",
        "logs agree up to the commit index"]


def test_the_figure8_step_that_stops_is_labelled_like_the_others():
    from distlab.consensus.raft import bugs
    from distlab.consensus.raft.runs import figure8

    run = figure8(bugs.CommitsByCounting)
    assert run.violation is not None
    assert run.steps[-1][0].startswith("(d) stopped: ")


# -- Log Matching: scripted logs ------------------------------------------------------------

def two_logs(a: list[Entry], b: list[Entry]) -> Simulation:
    sim = Simulation(seed=1)
    sim.add_node(Scripted, "a", log=a)
    sim.add_node(Scripted, "b", log=b)
    return sim


def test_log_matching_holds_for_logs_that_agree_up_to_where_their_terms_part():
    check_now(two_logs([Entry(1, "x"), Entry(2, "y"), Entry(2, "z")],
                       [Entry(1, "x"), Entry(2, "y"), Entry(3, "w"), Entry(3, "v")]),
              log_matching())


def test_log_matching_catches_an_earlier_entry_that_differs():
    with pytest.raises(InvariantViolation) as caught:
        check_now(two_logs([Entry(1, "x"), Entry(2, "y")], [Entry(1, "q"), Entry(2, "y")]),
                  log_matching())
    assert caught.value.explanation == (
        "'a' and 'b' both have an entry of term 2 at index 2, but differ at index 1 before it: "
        "Entry(term=1, command='x') on 'a', Entry(term=1, command='q') on 'b'")


def test_log_matching_catches_two_commands_at_the_same_index_and_term():
    with pytest.raises(InvariantViolation) as caught:
        check_now(two_logs([Entry(1, "x"), Entry(2, "y")], [Entry(1, "x"), Entry(2, "w")]),
                  log_matching())
    assert caught.value.explanation == (
        "'a' and 'b' both have an entry of term 2 at index 2, but differ there: "
        "Entry(term=2, command='y') on 'a', Entry(term=2, command='w') on 'b'")
