"""Lab 5c: two-phase commit with recovery (the lab notebook ``lab05c-two-phase-commit.ipynb``).

Gray and Lamport, "Consensus on Transaction Commit" {cite:p}`gray2006consensus`, section 3;
Bernstein, Hadzilacos and Goodman {cite:p}`bernstein1987concurrency`, chapter 7. The student
writes two node classes: a coordinator, built as ``Coordinator(participants, transactions)``,
that runs two-phase commit for every transaction of ``transactions`` when it first starts;
and a participant, built as ``Participant(coordinator, refuse)``, that votes no on the
transactions of ``refuse`` and yes on the others. Both must survive crashes: what they have
voted and decided is kept in ``self.storage``, written before the message that depends on it.

The checks read three attributes, the names `distlab.txn.invariants` reads: the
coordinator's ``decisions`` and a participant's ``votes`` and ``outcomes``, each a dict from
transaction to ``"commit"``/``"abort"`` (``"yes"``/``"no"`` for a vote). After every event
they hold the run to atomicity, validity and durability (`distlab.txn.invariants`); at the end,
to liveness: once the faults are over, every node that is up knows every outcome
(`everyone_decided`). Part A runs without faults, part B over random crash
schedules of the coordinator and the participants (and two targeted faults: a participant
that never votes, a coordinator that dies after deciding), part C explores every schedule of
a small configuration. The messages are the library's (`distlab.txn.messages`); its
two-phase commit is refused (`distlab.grading.lab.own_code`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import partial

from distlab.check import ExplorationResult, explore
from distlab.grading.exploration import exploration_trial
from distlab.grading.lab import Lab, Scenario, Trial, graded, own_code
from distlab.grading.properties import Eventually, Run, Violation
from distlab.sim import Network, Node, Simulation, Uniform, stream
from distlab.txn.invariants import ATTRIBUTES, commit_invariants
from distlab.txn.messages import (ABORT, COMMIT, NO, YES, Ack, Decision, DecisionRequest, Prepare,
                                  Vote)
from distlab.txn.runs import commit_cluster, everyone_knows

#: the library's two-phase commit, which the student's classes may not use. (The first entry,
#: with its final dot, makes `own_code` look for the dotted name ``txn.two_phase_commit``, not
#: for the bare word ``txn``, which a student's own code may well use.)
LIBRARY_COMMIT = ("distlab.txn.two_phase_commit.", "distlab.txn.two_phase_commit",
                  "distlab.txn.three_phase_commit", "distlab.txn.runs")
PARTICIPANTS = ("p1", "p2", "p3")
TRANSACTIONS = ("t1", "t2", "t3")
#: the crashes of part B begin in the first CRASH_WINDOW ms (the transactions take a few tens
#: of ms); each lasts at most 300 ms, so every node is up again by CALM_AT
CRASH_WINDOW = 100.0
CALM_AT = 400.0
#: ms allowed, after the faults are over, for every node that is up to know every outcome
DECIDE_WITHIN = 2_000.0
#: the exhaustive check covers every schedule of up to EXPLORE_DEPTH steps, in at most
#: EXPLORE_STATES distinct states (the reference needs fewer than EXPLORE_REFERENCE: 29,210)
EXPLORE_DEPTH = 8
EXPLORE_STATES = 100_000
EXPLORE_REFERENCE = 30_000
#: a guard against a node that hangs or crawls, in seconds of real time: the exploration must
#: cover its bounds within it to pass. The reference's took 17 s on the project's 2-core
#: machine under a load average of 12 (measured): the guard leaves a wide margin, so that a
#: busy machine never fails a good node
EXPLORE_SECONDS = 120.0
NETWORK = Network(latency=Uniform(1, 10))

__all__ = ["ABORT", "Ack", "COMMIT", "Decision", "DecisionRequest", "NO", "Prepare",
           "TwoPhaseCommitLab", "Vote", "YES", "explore_commit"]


def refuse_library_commit(node: type[Node], role: str) -> None:
    """Refuse a class that is not a Node, or that is the library's two-phase commit."""
    if not (isinstance(node, type) and issubclass(node, Node)):
        raise TypeError(f"TwoPhaseCommitLab takes your {role} class (a subclass of "
                        f"distlab.sim.Node), such as TwoPhaseCommitLab(Coordinator, "
                        f"Participant); got {node!r}")
    own_code(node, LIBRARY_COMMIT, "two-phase commit")


def crash_schedule(rng: random.Random, nodes: Sequence[str], crashes: int) -> list[
        tuple[float, float, str]]:
    """``crashes`` crashes of random ``nodes`` in the first `CRASH_WINDOW` ms, while the
    transactions are under way, as (down, up, node): each node is down at most once at a
    time, for 10 to 300 ms, and up again by `CALM_AT`."""
    schedule: list[tuple[float, float, str]] = []
    free_from = dict.fromkeys(nodes, 1.0)  # when each node may crash again
    for _ in range(crashes):
        node = rng.choice(list(nodes))
        if free_from[node] >= CRASH_WINDOW:
            continue
        down = rng.uniform(free_from[node], CRASH_WINDOW)
        up = down + rng.uniform(10, 300)
        schedule.append((down, up, node))
        free_from[node] = up + 1
    return sorted(schedule)


def crash_if_up(sim: Simulation, node_id: str) -> None:
    """Crash ``node_id`` unless it is down already (the soak's nemesis crashes nodes too)."""
    if sim.is_up(node_id):
        sim.crash(node_id)


def restart_if_down(sim: Simulation, node_id: str) -> None:
    """Restart ``node_id`` if it is down."""
    if not sim.is_up(node_id):
        sim.restart(node_id)


def everyone_decided(participants: Sequence[str], transactions: Sequence[str],
                     within: float | None = None) -> Eventually:
    """Liveness: every node that is up knows every outcome by ``within`` ms, and still at the
    end (`distlab.txn.runs.everyone_knows`)."""
    return Eventually("every node that is up knows every outcome",
                      lambda sim: everyone_knows(sim, participants, transactions), within,
                      until_end=True)


class CommitsWhenNothingFails(Eventually):
    """Non-triviality, as Gray and Lamport state it: in a run where every participant votes
    yes and no node crashes and no message is lost, every node commits every transaction.

    It is judged only when its premise held: once a crash or a lost message has stopped a
    vote or a decision, the coordinator rightly gives up waiting and aborts (its vote
    timeout, or presumed abort after a restart), and only atomicity, validity and liveness
    remain to judge (the other properties). The soak's nemesis adds such faults to every
    check; the lab's own run of this check has none.
    """

    def __init__(self, transactions: Sequence[str]):
        super().__init__("when no node crashes and no message is lost, every node commits "
                         "every transaction everyone voted yes on",
                         lambda sim: self.all_committed(sim, transactions), DECIDE_WITHIN,
                         until_end=True)

    @staticmethod
    def all_committed(sim: Simulation, transactions: Sequence[str]) -> bool:
        """Whether every node (the coordinator's decisions, the participants' outcomes) has
        committed every one of ``transactions``."""
        for node_id, node in sim.nodes.items():
            known = getattr(node, "decisions" if node_id == "coordinator" else "outcomes",
                            None) or {}
            if any(known.get(txn) != COMMIT for txn in transactions):
                return False
        return True

    def judge(self, run: Run) -> str | Violation | None:
        counts = run.sim.trace.counts()
        if counts.get("crash", 0) or counts.get("drop", 0):
            return None   # the premise did not hold: aborting was allowed
        return super().judge(run)


class TwoPhaseCommitLab(Lab):
    """The checks of lab 5c, for the student's coordinator and participant classes."""

    title = "Lab 5c: two-phase commit with recovery"
    node_attributes = ATTRIBUTES
    #: part C's exploration: its cap of distinct states, and its guard against a node that
    #: hangs or crawls, in seconds of real time (`distlab.grading.exploration`)
    explore_states = EXPLORE_STATES
    explore_seconds = EXPLORE_SECONDS

    def __init__(self, coordinator: type[Node], participant: type[Node]):
        refuse_library_commit(coordinator, "coordinator")
        refuse_library_commit(participant, "participant")
        self.coordinator, self.participant = coordinator, participant

    def scenario(self, seed: int, *, refusals: int = 0, crashes: int = 0,
                 crashable: Sequence[str] = ()) -> Scenario:
        """Three participants, three transactions; ``refusals`` random (participant,
        transaction) votes are no; ``crashes`` random crashes of the ``crashable`` nodes in
        the first `CRASH_WINDOW` ms, each restarted within 300 ms."""
        rng = stream(seed, "lab5c-scenario")
        refuse: dict[str, set[str]] = {}
        for _ in range(refusals):
            refuse.setdefault(rng.choice(PARTICIPANTS), set()).add(rng.choice(TRANSACTIONS))
        schedule = crash_schedule(rng, crashable, crashes) if crashable else []

        def setup(sim: Simulation) -> None:
            commit_cluster(sim, PARTICIPANTS, transactions=TRANSACTIONS, refuse=refuse,
                           coordinator=self.coordinator, participant=self.participant)
            for down, up, node_id in schedule:
                sim.at(down, crash_if_up, sim, node_id)
                sim.at(up, restart_if_down, sim, node_id)

        calm = CALM_AT if schedule else 0.0
        properties = [*commit_invariants(PARTICIPANTS),
                      everyone_decided(PARTICIPANTS, TRANSACTIONS, calm + DECIDE_WITHIN)]
        if not refuse and not schedule:
            properties.append(CommitsWhenNothingFails(TRANSACTIONS))
        return Scenario(setup, run_for=calm + DECIDE_WITHIN + 500, network=NETWORK,
                        properties=properties)

    # -- part A: no faults -----------------------------------------------------------------
    @graded(part="A", seeds=20, description="every participant votes yes, nothing fails: "
            "every node commits all three transactions")
    def test_everyone_votes_yes_A(self, seed: int) -> Scenario:
        return self.scenario(seed)

    @graded(part="A", seeds=20, description="some participants vote no: those transactions "
            "abort everywhere, the others commit; validity and atomicity")
    def test_some_vote_no_A(self, seed: int) -> Scenario:
        return self.scenario(seed, refusals=2)

    # -- part B: crashes and recovery ------------------------------------------------------
    @graded(part="B", seeds=20, description="participants crash and restart at random "
            "moments: atomic, nothing forgotten, everyone decides once they are back")
    def test_participants_crash_B(self, seed: int) -> Scenario:
        return self.scenario(seed, refusals=1, crashes=4, crashable=PARTICIPANTS)

    @graded(part="B", seeds=20, description="the coordinator crashes and restarts at random "
            "moments: it recovers its decisions from its log")
    def test_coordinator_crashes_B(self, seed: int) -> Scenario:
        return self.scenario(seed, refusals=1, crashes=3, crashable=("coordinator",))

    @graded(part="B", seeds=20, description="the coordinator and the participants crash and "
            "restart at random moments")
    def test_everyone_crashes_B(self, seed: int) -> Scenario:
        return self.scenario(seed, refusals=1, crashes=6,
                             crashable=("coordinator", *PARTICIPANTS))

    @graded(part="B", seeds=20, description="a participant crashes before it votes and never "
            "comes back: the coordinator stops waiting, and the others learn the outcome")
    def test_participant_never_votes_B(self, seed: int) -> Scenario:
        silent = stream(seed, "lab5c-silent").choice(PARTICIPANTS)

        def setup(sim: Simulation) -> None:
            commit_cluster(sim, PARTICIPANTS, transactions=TRANSACTIONS,
                           coordinator=self.coordinator, participant=self.participant)
            sim.at(0.5, crash_if_up, sim, silent)   # before any Prepare arrives (>= 1 ms)

        return Scenario(setup, run_for=DECIDE_WITHIN + 500, network=NETWORK, properties=[
            *commit_invariants(PARTICIPANTS),
            everyone_decided(PARTICIPANTS, TRANSACTIONS, DECIDE_WITHIN)])

    @graded(part="B", seeds=20, description="the coordinator's decision never reaches one "
            "participant, and the coordinator dies: that participant learns the outcome from "
            "the others (cooperative termination)")
    def test_learns_from_peers_B(self, seed: int) -> Scenario:
        deaf = stream(seed, "lab5c-deaf").choice(PARTICIPANTS)

        def setup(sim: Simulation) -> None:
            commit_cluster(sim, PARTICIPANTS, transactions=TRANSACTIONS,
                           coordinator=self.coordinator, participant=self.participant)
            # every Prepare has arrived by 10 ms: from then on, nothing reaches `deaf` from
            # the coordinator; the coordinator dies once it has decided, and stays down
            sim.at(10.5, sim.cut, "coordinator", deaf, False)
            sim.at(400.0, crash_if_up, sim, "coordinator")

        return Scenario(setup, run_for=DECIDE_WITHIN + 500, network=NETWORK, properties=[
            *commit_invariants(PARTICIPANTS),
            everyone_decided(PARTICIPANTS, TRANSACTIONS, DECIDE_WITHIN)])

    # -- part C: every schedule of a small configuration ----------------------------------
    @graded(part="C", seeds=1, description=f"every schedule of up to {EXPLORE_DEPTH} steps of "
            f"a coordinator and two participants, one crash and its restart, explored "
            f"exhaustively: atomicity, validity, nothing forgotten")
    def test_explore_atomicity_C(self, seed: int) -> Trial:
        return exploration_trial(
            partial(explore_commit, self.coordinator, self.participant), "explore_commit",
            "explore_commit(Coordinator, Participant)", states=self.explore_states,
            seconds=self.explore_seconds, reference_states=EXPLORE_REFERENCE)


def explore_commit(coordinator: type[Node], participant: type[Node], *,
                   max_depth: int = EXPLORE_DEPTH, max_states: int = EXPLORE_STATES,
                   time_budget: float = EXPLORE_SECONDS) -> ExplorationResult:
    """Every schedule of up to ``max_depth`` steps of a coordinator and participants p1 and p2
    running one transaction, where one node may crash and restart: the first (shortest) that
    breaks atomicity, validity or durability, if any (timing is ignored: any pending timer may
    fire at any moment, as after a long delay)."""
    refuse_library_commit(coordinator, "coordinator")
    refuse_library_commit(participant, "participant")

    def setup(sim: Simulation) -> None:
        commit_cluster(sim, ("p1", "p2"), coordinator=coordinator, participant=participant)

    return explore(setup, commit_invariants(("p1", "p2")), crashes=1, restarts=True,
                   max_depth=max_depth, max_states=max_states, time_budget=time_budget)
