"""Part D's checks: snapshots (log compaction), after MIT 6.5840's tests of its part 3D.

Every server now runs with the lab's service (`distlab.labs.lab04_raft.tester.with_service`),
which asks it for a snapshot every `SNAPSHOT_EVERY` applied entries: its log must stay short
(`LogBound`), a follower too far behind must get the leader's snapshot (`InstallSnapshot`,
the paper's Figure 13), and a server that restarts comes back from its snapshot and the
entries after it. The rules of parts A to C hold throughout, the log's read at its true
indices (`LogRules`), with two more: compaction as asked, and InstallSnapshot as Figure 13
says. The exploration goes on from the middle of a run in which a follower lags behind the
leader's snapshot, so that its short schedules send, lose, repeat and install InstallSnapshot.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from distlab.check import ExplorationResult, Invariant, explore
from distlab.consensus.raft.invariants import at_most_one_leader_per_term, log_matching
from distlab.grading.lab import Scenario, Trial, graded
from distlab.labs.lab04_raft.common import (EXPLORE_SECONDS, EXPLORE_STATES, refuse_library_raft,
                                            servers)
from distlab.labs.lab04_raft.faults import leaders
from distlab.labs.lab04_raft.part_b import START
from distlab.labs.lab04_raft.part_c import UNRELIABLE, PartC, _crash, _restart_all
from distlab.labs.lab04_raft.replication import Agreement, LogBound, Phase
from distlab.labs.lab04_raft.tester import add_tester, split, with_service
from distlab.sim import Network, Node, Simulation, Uniform
from distlab.sim.node import FRAMEWORK_NAMES
from distlab.sim.record import timer_identity

#: the service asks for a snapshot each time a server has applied this many entries
SNAPSHOT_EVERY = 10
#: the most entries a log may hold: a snapshot's worth, and as many not yet applied
MOST_ENTRIES = 2 * SNAPSHOT_EVERY
#: the services of `RaftLab.test_snapshot_late_D`, each compacting at its own interval (n1,
#: n2, n3), so that one server's snapshot ends where another's does not
STAGGERED = (10, 7, 13)
#: the exploration of part D: schedule length, and the snapshots of the run it starts from
EXPLORE_SNAPSHOT_DEPTH = 5
EXPLORE_SNAPSHOT_EVERY = 2


def _commands(start: float, count: int, every: float, first: int = 101
              ) -> list[tuple[float, int]]:
    """``count`` commands from ``first`` on, one every ``every`` ms from ``start``."""
    return [(start + every * i, first + i) for i in range(count)]


class PartD(PartC):
    """Part D's checks: snapshots (see the module's docstring)."""

    def compacting(self, n: int, run_for: float, plan: list[tuple[float, int]], *properties,
                   faults: list = (), network: Network | None = None) -> Scenario:
        """A scenario of part B on (`PartB.scenario`) with the service's snapshots and a
        bounded log."""
        return self.scenario(n, run_for, plan, *properties,
                             LogBound(MOST_ENTRIES, SNAPSHOT_EVERY), faults=faults,
                             network=network, snapshot_every=SNAPSHOT_EVERY)

    @graded(part="D", seeds=20, description="3 servers: 35 commands, one every 30 ms, each "
            "applied by every server within 1 s; the service asks for a snapshot every 10 "
            "applied entries, and no log ever holds more than 20 entries")
    def test_snapshot_basic_D(self, seed: int) -> Scenario:
        return self.compacting(3, START + 2_100, _commands(START, 35, 30), Agreement())

    @graded(part="D", seeds=20, description="3 servers; a follower is cut off from 1.5 s to "
            "2.5 s while the other two apply 25 commands and compact them: after the heal the "
            "leader sends it its snapshot (InstallSnapshot), and it applies a new command")
    def test_snapshot_install_D(self, seed: int) -> Scenario:
        return self.lagging_follower(Network(latency=Uniform(1, 10)))

    @graded(part="D", seeds=20, description="the same on an unreliable network (10% of "
            "messages lost, 10% twice, 20% late by up to 200 ms): snapshots lost, repeated, "
            "late")
    def test_snapshot_install_unreliable_D(self, seed: int) -> Scenario:
        return self.lagging_follower(Network(latency=Uniform(1, 10), **UNRELIABLE),
                                     within=1_500)

    @graded(part="D", seeds=20, description="3 servers whose services compact at different "
            "points (every 10, 7 and 13 applied entries), on the unreliable network: 40 "
            "commands, one every 30 ms, each applied by all within 1.5 s; a late or repeated "
            "InstallSnapshot reaches a follower that has applied beyond it (its own snapshot "
            "ending before it), which must change nothing")
    def test_snapshot_late_D(self, seed: int) -> Scenario:
        return self.scenario(3, START + 2_800, _commands(START, 40, 30),
                             Agreement(Phase(within=1_500)),
                             network=Network(latency=Uniform(1, 10), **UNRELIABLE),
                             snapshot_every=STAGGERED)

    @graded(part="D", seeds=20, description="3 servers; a follower crashes at 1.5 s while the "
            "others apply 25 commands and compact them, and the leader crashes at 2.5 s as "
            "the follower restarts: the follower restarts from its storage, gets the snapshot "
            "from the new leader, and applies a new command")
    def test_snapshot_install_crash_D(self, seed: int) -> Scenario:
        crashed: list[str] = []

        def crash_a_follower(sim: Simulation) -> None:
            crashed.extend(sorted(set(servers(sim)) - set(leaders(sim)))[:1])
            for node_id in crashed:
                sim.crash(node_id)

        def swap(sim: Simulation) -> None:
            sim.restart(crashed[0])
            for node_id in leaders(sim)[:1]:
                sim.crash(node_id)
                crashed.append(node_id)

        plan = [(START, 101), *_commands(1_600, 25, 30, 201), (2_600, 301), (3_600, 302)]
        return self.compacting(3, 4_600, plan,
                               Agreement(Phase(end=1_500), Phase(1_500, 2_500, 2),
                                         Phase(2_500, 3_500, 2), Phase(3_500)),
                               faults=[(1_500, crash_a_follower), (2_500, swap),
                                       (3_500, lambda sim: sim.restart(crashed[1]))])

    @graded(part="D", seeds=20, description="5 servers, reliable network, for 2 s: crashes, "
            "restarts and partitions every 200 ms or so, a command every 100 ms and snapshots "
            "every 10 entries; once all is repaired, one command applied by all within 1.5 s")
    def test_snapshot_churn_D(self, seed: int) -> Scenario:
        return self.churning(seed, "snapshot-churn", 2_000, 200,
                             Network(latency=Uniform(1, 10)), snapshot_every=SNAPSHOT_EVERY,
                             properties=(LogBound(MOST_ENTRIES, SNAPSHOT_EVERY),))

    @graded(part="D", seeds=20, description="3 servers: 25 commands; all crash at 2 s and "
            "restart at 2.1 s, from their storage (snapshot and the entries after it): each "
            "hands its service the snapshot, applies from there on, and a new command is "
            "applied by all three")
    def test_snapshot_all_crash_D(self, seed: int) -> Scenario:
        plan = [*_commands(START, 25, 30), (2_200, 301)]
        return self.compacting(3, 3_200, plan, Agreement(),
                               faults=[(2_000, _crash("n1", "n2", "n3")), (2_100, _restart_all)])

    @graded(part="D", seeds=20, description="3 servers: 20 commands, so that each log ends "
            "with its snapshot; all crash and restart; a command; all crash and restart again: "
            "a server that restarts with a snapshot and no entries after it votes and answers "
            "AppendEntries by the snapshot's last index and term, and all three apply both "
            "commands")
    def test_snapshot_init_D(self, seed: int) -> Scenario:
        plan = [*_commands(START, 20, 30), (2_200, 301), (3_200, 302)]
        return self.compacting(3, 4_200, plan, Agreement(),
                               faults=[(1_900, _crash("n1", "n2", "n3")), (2_000, _restart_all),
                                       (2_900, _crash("n1", "n2", "n3")), (3_000, _restart_all)])

    @graded(part="D", seeds=1, description="every schedule of up to 5 steps of 3 servers "
            "resumed in the middle of a run: a leader and a follower that took snapshots, and "
            "a follower that crashed behind them and comes back, which the leader must send "
            "its snapshot; one command, one server of which may crash and restart, explored "
            "exhaustively: at most one leader per term, and Log Matching")
    def test_explore_snapshots_D(self, seed: int) -> Trial:
        return self.exploration(explore_snapshots, "explore_snapshots")

    def lagging_follower(self, network: Network, within: float = 1_000.0) -> Scenario:
        """A follower cut off from 1.5 s to 2.5 s, while the others apply 25 commands; then
        a command that all three must apply within ``within`` ms."""
        cut: list[str] = []

        def cut_off_a_follower(sim: Simulation) -> None:
            cut.extend(sorted(set(servers(sim)) - set(leaders(sim)))[:1])
            split(sim, set(servers(sim)) - set(cut), set(cut))

        plan = [(START, 101), *_commands(1_600, 25, 30, 201), (2_600, 301)]
        return self.compacting(3, 2_600 + within + 100, plan,
                               Agreement(Phase(end=1_500, count=2, within=within),
                                         Phase(1_500, 2_500, 2, within=within),
                                         Phase(2_500, within=within)),
                               faults=[(1_500, cut_off_a_follower),
                                       (2_500, Simulation.heal)],
                               network=network)


# -- the exploration ---------------------------------------------------------------------------

class Resumed(NamedTuple):
    """A server's state in the middle of a run, for an exploration to go on from: its
    ``attributes`` (every one that is not the framework's; None for a server that is down,
    which comes back from its ``storage`` alone, as after a restart), its ``storage``, and
    its pending ``timers`` as ``(name, ms left)``."""

    attributes: dict[str, Any] | None
    storage: dict[str, Any]
    timers: tuple[tuple[str, float], ...]


def lagging_state(node: type[Node]) -> dict[str, Resumed]:
    """Each server's state (`Resumed`) after 2 s of a run of ``node`` (seed 1) with the
    service asking for a snapshot every `EXPLORE_SNAPSHOT_EVERY` entries: once the first
    command reaches the followers, one of them crashes (it holds that entry, in its log and
    storage); the leader and the other follower apply five commands and compact them. The
    leader's ``next_index`` for the crashed follower is still inside its snapshot, so the
    first thing it sends it is an InstallSnapshot."""
    sim = Simulation(seed=1, network=Network(latency=Uniform(1, 10)))
    sim.add_nodes(with_service(node, EXPLORE_SNAPSHOT_EVERY), ["n1", "n2", "n3"])
    add_tester(sim, _commands(START, 5, 20), retry_until=2_000)

    def crash_a_follower() -> None:
        holding = [node_id for node_id, server in servers(sim).items()
                   if node_id not in leaders(sim) and getattr(server, "log", None)]
        for node_id in holding[:1]:
            sim.crash(node_id)

    sim.at(START + 15, crash_a_follower)
    sim.run(until=2_000)
    timers: dict[str, list[tuple[str, float]]] = {node_id: [] for node_id in servers(sim)}
    for entry in sorted(sim.scheduler.pending()):
        if sim.entry_kind(entry) == "timer" and sim.is_live(entry):
            node_id, name = timer_identity(entry[3])
            timers[node_id].append((name, entry[0] - sim.now))
    return {node_id: Resumed(None if node_id in sim.crashed else
                             {k: v for k, v in vars(server).items() if k not in FRAMEWORK_NAMES},
                             dict(server.storage), tuple(timers[node_id]))
            for node_id, server in servers(sim).items()}


def explore_snapshots(node: type[Node], *, max_depth: int = EXPLORE_SNAPSHOT_DEPTH,
                      max_states: int = EXPLORE_STATES, time_budget: float = EXPLORE_SECONDS,
                      also: Sequence[Invariant] = ()) -> ExplorationResult:
    """Every schedule of up to ``max_depth`` steps of three servers of class ``node`` that go
    on from the middle of a run (`lagging_state`): a leader and a follower that took
    snapshots, and a follower that crashed behind them and comes back; the lab's client
    submits one more command, and one server may crash and restart. The first (shortest)
    schedule that breaks Election Safety or Log Matching (read at the logs' true indices, from
    ``snapshot_index``). A leader sends the lagging follower its snapshot within three steps,
    so the schedules explored install it, lose it, repeat it, and crash around it. ``also``:
    more invariants to check in every state (a test counts the snapshots sent with one)."""
    refuse_library_raft(node)
    return explore(lagging_setup(node), [at_most_one_leader_per_term(role_attr="state"),
                                         log_matching(first_index="_lab_log_start"), *also],
                   crashes=1, restarts=True, crashable=["n1", "n2", "n3"],
                   max_depth=max_depth, max_states=max_states, time_budget=time_budget)


def lagging_setup(node: type[Node]) -> Callable[[Simulation], None]:
    """The ``setup`` of `explore_snapshots`: three servers of class ``node`` resumed from
    `lagging_state`, and the lab's client submitting one command."""
    resumed = _resumed(with_service(node, EXPLORE_SNAPSHOT_EVERY), lagging_state(node))

    def setup(sim: Simulation) -> None:
        sim.add_nodes(resumed, ["n1", "n2", "n3"])
        add_tester(sim, [(0.0, 1_001)])

    return setup


def _resumed(node: type[Node], state: dict[str, Resumed]) -> type[Node]:
    """``node``, each server of which is first built as it was in ``state`` (its storage and
    attributes restored together, so that an attribute that is the very object in storage
    stays so; its timers set again instead of ``on_start``), and tells where its log starts
    (``_lab_log_start``, for `log_matching`). A restart (which finds the server's storage
    filled) builds it from its storage alone, as ever."""
    def __init__(self: Any) -> None:
        first = not self.storage
        if first:
            attributes, storage, _ = copy.deepcopy(state[self.id])
            self.storage.update(storage)
        node.__init__(self)
        if first and attributes is not None:
            vars(self).update(attributes)
            vars(self)["_lab_resumed"] = True

    def on_start(self: Any) -> None:
        if not vars(self).pop("_lab_resumed", False):
            node.on_start(self)
            return
        for name, delay in state[self.id].timers:
            self.set_timer(delay, name)

    def _lab_log_start(self: Any) -> int:
        index = getattr(self, "snapshot_index", 0)
        return (index if type(index) is int else 0) + 1

    return type(node.__name__, (node,), {"__init__": __init__, "on_start": on_start,
                                         "_lab_log_start": property(_lab_log_start),
                                         "__qualname__": node.__qualname__,
                                         "__module__": node.__module__})
