"""The experiments of the distributed-transactions page (05.04), and the readers of their
traces.

* `commit_cluster` -- a coordinator and participants, of any classes (the library's, or a
  student's in lab 5c);
* `blocking` -- 2PC's coordinator crashes after sending Prepare: every participant stays in
  doubt until it recovers, measured (`in_doubt_times`);
* `partition_after_precommit` -- the same partition under 2PC (blocked, atomic) and 3PC
  (not blocked, not atomic);
* `everyone_knows` -- the liveness the lab and the soak ask for;
* `over_raft_groups` -- 2PC between Raft groups, a group's leader crashing mid-way.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from distlab.check import watch
from distlab.sim import Constant, Network, Node, Simulation, Uniform
from distlab.txn.invariants import commit_invariants
from distlab.txn.raft_groups import GroupCoordinator, GroupMember
from distlab.txn.three_phase_commit import Coordinator3PC, Participant3PC
from distlab.txn.two_phase_commit import Coordinator, Participant

#: the participants of the page's runs
PARTICIPANTS = ("p1", "p2", "p3")
#: the page's network: 1 to 10 ms a message
NETWORK = Network(latency=Uniform(1, 10))


def commit_cluster(sim: Simulation, participants: Sequence[str] = PARTICIPANTS, *,
                   transactions: Sequence[str] = ("t1",),
                   refuse: dict[str, Collection[str]] | None = None,
                   coordinator: type[Node] = Coordinator,
                   participant: type[Node] = Participant) -> None:
    """Add a node ``"coordinator"`` of class ``coordinator`` for ``transactions``, and the
    ``participants``; ``refuse`` maps a participant to the transactions it votes no on."""
    refuse = refuse or {}
    unknown = set(refuse) - set(participants)
    if unknown:
        raise ValueError(f"refuse names {sorted(unknown)}, which are not participants "
                         f"({', '.join(participants)})")
    sim.add_node(coordinator, "coordinator", participants=tuple(participants),
                 transactions=tuple(transactions))
    for node_id in participants:
        sim.add_node(participant, node_id, coordinator="coordinator",
                     refuse=frozenset(refuse.get(node_id, ())))


def outcomes(sim: Simulation) -> dict[str, dict[str, str]]:
    """Each node's outcomes (the coordinator's decisions), read from its durable log."""
    found = {}
    for node_id, node in sim.nodes.items():
        key = "decisions" if node_id == "coordinator" else "outcomes"
        found[node_id] = dict(sorted(node.storage.get(key, {}).items()))
    return found


def in_doubt_times(sim: Simulation) -> dict[str, float | None]:
    """How long each participant stayed in doubt about each transaction: from its yes vote to
    learning the outcome (None: still in doubt at the end). Keys are ``"p1/t1"``."""
    voted: dict[str, float] = {}
    times: dict[str, float | None] = {}
    for event in sim.trace.of_kind("note"):
        key = f"{event.node}/{event.data.get('txn')}"
        if event.data.what == "vote" and event.data["vote"] == "yes":
            voted[key] = event.time
            times[key] = None
        elif event.data.what in ("commit", "abort") and key in voted:
            times[key] = event.time - voted[key]
    return times


@dataclass(frozen=True)
class BlockingRun:
    """The run of `blocking`: the simulation and how long each participant was in doubt."""

    sim: Simulation
    in_doubt: dict[str, float | None]


def blocking(seed: int = 1, *, crash_at: float = 7.0, recover_at: float | None = 3_000.0,
             until: float = 4_000.0) -> BlockingRun:
    """2PC with one transaction; the coordinator crashes at ``crash_at`` (after its Prepare
    reached the participants, before their votes reach it) and restarts at ``recover_at``
    (None: never). The participants, in doubt, ask each other in vain until then."""
    sim = Simulation(seed=seed, network=Network(latency=Constant(5)))
    commit_cluster(sim)
    watch(sim, *commit_invariants(PARTICIPANTS))
    sim.at(crash_at, sim.crash, "coordinator")
    if recover_at is not None:
        sim.at(recover_at, sim.restart, "coordinator")
    sim.run(until=until)
    return BlockingRun(sim, in_doubt_times(sim))


def partition_after_precommit(protocol: str, seed: int = 1, *, until: float = 2_000.0,
                              heal_at: float = 1_500.0) -> Simulation:
    """Every participant votes yes; at t=12 ms, while the coordinator's third message (3PC's
    PreCommit, 2PC's Decision) is in flight, a partition separates the coordinator and p1
    from p2 and p3; it heals at ``heal_at``. ``protocol`` is ``"2pc"`` or ``"3pc"``.

    Latency is a constant 5 ms, so the third message leaves at 10 ms and arrives at 15 ms:
    only p1, on the coordinator's side, gets it.
    """
    if protocol not in ("2pc", "3pc"):
        raise ValueError(f"protocol must be '2pc' or '3pc'; got {protocol!r}")
    sim = Simulation(seed=seed, network=Network(latency=Constant(5)))
    if protocol == "2pc":
        commit_cluster(sim)
    else:
        sim.add_node(Coordinator3PC, "coordinator", participants=PARTICIPANTS)
        sim.add_nodes(Participant3PC, PARTICIPANTS)
    sim.at(12.0, sim.partition, {"coordinator", "p1"}, {"p2", "p3"})
    sim.at(heal_at, sim.heal)
    sim.run(until=until)
    return sim


def everyone_knows(sim: Simulation, participants: Sequence[str],
                   transactions: Sequence[str]) -> bool:
    """Liveness, in one state: every node that is up, the coordinator or a participant, knows
    the outcome of every transaction (a node that is down is not expected to know). The lab
    and the soak ask that it holds once the faults are over (`Eventually`)."""
    for node_id in ("coordinator", *participants):
        if node_id in sim.crashed:
            continue
        attribute = "decisions" if node_id == "coordinator" else "outcomes"
        known = getattr(sim.nodes[node_id], attribute, None) or {}
        if any(txn not in known for txn in transactions):
            return False
    return True


# -- two-phase commit over Raft groups -------------------------------------------------------

#: two participant groups of three Raft servers each
GROUPS = {"g1": ("g1a", "g1b", "g1c"), "g2": ("g2a", "g2b", "g2c")}


@dataclass(frozen=True)
class GroupRun:
    """The run of `over_raft_groups`: the simulation, the leader crashed, and what each
    server of each group has applied."""

    sim: Simulation
    crashed_leader: str
    outcomes: dict[str, dict[str, str]]       # server -> its machine's outcomes

    @property
    def atomic(self) -> bool:
        """Every server and the coordinator know the outcome, and it is the same."""
        decided = {*(o.get("t1") for o in self.outcomes.values()),
                   self.sim.nodes["tm"].decisions.get("t1")}
        return len(decided) == 1 and None not in decided


def over_raft_groups(seed: int = 1, *, until: float = 4_000.0) -> GroupRun:
    """2PC between two Raft groups; group g1's leader crashes just after the coordinator's
    GroupPrepare reaches it, and restarts 1.5 s later."""
    sim = Simulation(seed=seed, network=NETWORK)
    for members in GROUPS.values():
        sim.add_nodes(GroupMember, members, cluster=members)
    sim.add_node(GroupCoordinator, "tm", groups=GROUPS)
    sim.run(until=400.0)         # the coordinator begins at 400 ms
    leader = next(m for m in GROUPS["g1"] if sim.nodes[m].role == "leader")
    sim.run(until=412.0)         # its GroupPrepare arrives within 10 ms
    sim.crash(leader)
    sim.at(1_900.0, sim.restart, leader)
    sim.run(until=until)
    outcomes = {m: dict(sim.nodes[m].machine.outcomes) for ms in GROUPS.values() for m in ms}
    return GroupRun(sim, leader, outcomes)
