"""Part C's checks: persistence, after MIT 6.5840's tests of its part 3C.

The log joins ``term`` and ``voted_for`` in ``self.storage``: servers now crash and restart in
the middle of replication, everything not in storage is lost, and the rules of parts A and B
must hold through it all. `test_figure8_C` scripts the paper's Figure 8, where a leader that
commits an entry of an earlier term by counting its replicas loses a committed entry; the
others crash, restart and cut servers off at random, on reliable and unreliable networks, and
demand that once all is repaired every server applies a last command.
"""

from __future__ import annotations

from collections.abc import Callable

from distlab.check import ExplorationResult
from distlab.grading.lab import Scenario, Trial, graded
from distlab.labs.lab04_raft.common import EXPLORE_SECONDS, EXPLORE_STATES, servers
from distlab.labs.lab04_raft.faults import churn_step, elect, leaders, repair_all
from distlab.labs.lab04_raft.part_b import RECOVER_WITHIN, START, PartB, explore_log
from distlab.labs.lab04_raft.replication import Agreement, Phase
from distlab.labs.lab04_raft.tester import split
from distlab.sim import Network, Node, Simulation, Uniform, stream

#: an unreliable network: lost, repeated and late messages
UNRELIABLE = {"loss": 0.1, "duplicate": 0.1, "reorder": 0.2, "reorder_delay": 200}


def _crash(*node_ids: str) -> Callable[[Simulation], None]:
    def fault(sim: Simulation) -> None:
        for node_id in node_ids:
            if node_id not in sim.crashed:
                sim.crash(node_id)
    return fault


def _crash_leader(sim: Simulation) -> None:
    for node_id in leaders(sim)[:1]:
        sim.crash(node_id)


def _restart_all(sim: Simulation) -> None:
    for node_id in sorted(sim.crashed):
        sim.restart(node_id)


class PartC(PartB):
    """Part C's checks: persistence (see the module's docstring)."""

    @graded(part="C", seeds=20, description="3 servers; all crash at 1.5 s and restart at "
            "1.6 s; later the leader crashes and restarts: after each restart the servers "
            "keep their logs, and every command is applied by all three")
    def test_persist_restart_C(self, seed: int) -> Scenario:
        plan = [(START, 101), (2_300, 102), (3_300, 103)]
        return self.scenario(3, 4_300, plan, Agreement(),
                             faults=[(1_500, _crash("n1", "n2", "n3")), (1_600, _restart_all),
                                     (2_800, _crash_leader), (3_000, _restart_all)])

    @graded(part="C", seeds=20, description="3 servers; a follower is cut off while the other "
            "two commit a command; then those two crash, the cut-off one comes back and the "
            "old leader restarts: the two agree on a new command (the old leader kept the "
            "entry the third lacks); after the last restart all three apply another")
    def test_persist_leader_and_follower_crash_C(self, seed: int) -> Scenario:
        cut: list[str] = []

        def cut_off_a_follower(sim: Simulation) -> None:
            cut.extend(sorted(set(servers(sim)) - set(leaders(sim)))[:1])
            split(sim, set(servers(sim)) - set(cut), set(cut))

        order: list[str] = []

        def crash_the_two(sim: Simulation) -> None:
            order.extend(leaders(sim)[:1])
            order.extend(sorted(set(servers(sim)) - set(cut) - set(order)))
            for node_id in order:
                sim.crash(node_id)
            sim.heal()

        plan = [(START, 101), (1_600, 102), (2_600, 103), (3_600, 104)]
        return self.scenario(
            3, 4_600, plan,
            Agreement(Phase(end=1_500), Phase(1_500, 2_500, 2), Phase(2_500, 3_500, 2),
                      Phase(3_500)),
            faults=[(1_500, cut_off_a_follower), (2_500, crash_the_two),
                    (2_510, lambda sim: sim.restart(order[0])),
                    (3_500, lambda sim: sim.restart(order[1]))])

    @graded(part="C", seeds=20, description="5 servers, reliable network, for 2 s: a crash or "
            "a restart every 150 ms or so, at any point of replication (at most two down), "
            "and a command every 100 ms; once all restart, one command applied by all five "
            "within 1.5 s")
    def test_crashes_at_any_point_C(self, seed: int) -> Scenario:
        return self.churning(seed, "crashes", 2_000, 150, Network(latency=Uniform(1, 10)),
                             partitions=False)

    @graded(part="C", seeds=20, description="5 servers: the paper's Figure 8, scripted -- an "
            "entry of term 1 reaches a majority under the leader of term 3, and then the "
            "server with an entry of term 2 at that index is elected: a leader must not have "
            "committed the entry of term 1 by counting its replicas; then all five agree")
    def test_figure8_C(self, seed: int) -> Scenario:
        return self.scenario(5, 2_600, figure8_plan(), Agreement(Phase(1_500)),
                             faults=figure8_faults(), network=Network(latency=Uniform(2, 4)))

    @graded(part="C", seeds=20, description="5 servers, unreliable network (10% of messages "
            "lost, 10% twice, 20% late by up to 200 ms): twelve commands, three at a time, "
            "each applied by every server within 1.5 s")
    def test_unreliable_agreement_C(self, seed: int) -> Scenario:
        plan = [(START + 250 * (i // 3), 101 + i) for i in range(12)]
        return self.scenario(5, START + 750 + 1_500, plan, Agreement(Phase(within=1_500)),
                             network=Network(latency=Uniform(1, 10), **UNRELIABLE))

    @graded(part="C", seeds=20, description="5 servers, unreliable network, for 2 s: servers "
            "cut off and back every 200 ms or so, commands every 100 ms (the Figure 8 "
            "situation, at random); once all is healed, one command applied by all within "
            "1.5 s")
    def test_figure8_unreliable_C(self, seed: int) -> Scenario:
        return self.churning(seed, "partitions", 2_000, 200,
                             Network(latency=Uniform(1, 10), **UNRELIABLE), crashes=False)

    @graded(part="C", seeds=20, description="5 servers, reliable network, for 2 s: crashes, "
            "restarts and partitions every 200 ms or so, commands every 100 ms; once all is "
            "repaired, one command applied by all within 1.5 s")
    def test_churn_C(self, seed: int) -> Scenario:
        return self.churning(seed, "churn", 2_000, 200, Network(latency=Uniform(1, 10)))

    @graded(part="C", seeds=20, description="the same churn on an unreliable network (10% "
            "lost, 10% twice, 20% late by up to 200 ms)")
    def test_churn_unreliable_C(self, seed: int) -> Scenario:
        return self.churning(seed, "churn-unreliable", 2_000, 200,
                             Network(latency=Uniform(1, 10), **UNRELIABLE))

    @graded(part="C", seeds=1, description="every schedule of up to 5 steps of 3 servers and "
            "one command, one server of which may crash and restart, explored exhaustively: "
            "at most one leader per term, and Log Matching")
    def test_explore_persistence_C(self, seed: int) -> Trial:
        return self.exploration(explore_persistence, "explore_persistence")

    def churning(self, seed: int, name: str, calm_at: float, every: float, network: Network,
                 *, crashes: bool = True, partitions: bool = True,
                 snapshot_every: int | None = None, properties: tuple = ()) -> Scenario:
        """``calm_at`` ms of faults (one every ``every`` ms or so, at random: crashes and
        restarts, cuts and heals), a command every 100 ms from `START`; then all repaired,
        and a last command that every server must apply within `RECOVER_WITHIN` (from part D,
        with snapshots every ``snapshot_every`` entries, and ``properties`` judged too)."""
        rng = stream(seed, f"lab4-{name}")
        times = []
        time = 0.0
        while True:
            time += rng.expovariate(1 / every)
            if time >= calm_at:
                break
            which = rng.random()
            if not crashes:
                which = 0.6 + 0.4 * which    # cuts and heals only
            elif not partitions:
                which = 0.6 * which          # crashes and restarts only
            times.append((time, which, rng.random()))
        faults = [(t, lambda sim, w=w, v=v: churn_step(sim, w, v)) for t, w, v in times]
        faults.append((calm_at, repair_all))
        plan = [(START + 100 * i, 101 + i) for i in range(int((calm_at - START) // 100))]
        plan.append((calm_at + 200, 1_001))
        return self.scenario(5, calm_at + 200 + RECOVER_WITHIN, plan,
                             Agreement(Phase(calm_at, within=RECOVER_WITHIN)), *properties,
                             faults=faults, network=network, snapshot_every=snapshot_every)


# -- the Figure 8 script -----------------------------------------------------------------------

def figure8_plan() -> list[tuple[float, int]]:
    """The commands of the Figure 8 script (its faults decide which leader receives each)."""
    return [(100, 101), (205, 102), (291, 103), (1_500, 105)]


def figure8_faults() -> list[tuple[float, Callable[[Simulation], None]]]:
    """The Figure 8 situation (Ongaro and Ousterhout 2014, section 5.4.2), on n1..n5 with
    messages of 2 to 4 ms. Elections are started by calling the student's
    ``start_election`` while the other servers' timers (at least 150 ms) are still running,
    and partitions leave the candidate only the voters the figure gives it:

    (a) n1 leads term 1; command 102 reaches index 2 of n1 and n2 only; n1 crashes.
    (b) n5 is elected by n3, n4 and itself; cut off, it appends 103 at index 2; it crashes.
    (c) n1 restarts and is elected by n2 and n3 (n3 gets index 2 from it: a majority stores
        that entry of term 1); then n1 crashes.
    (d) n5 restarts and is elected by n2, n3 and n4 (its entry of term 2 is more up to date):
        it replaces their index 2 with its own.

    A leader that commits by counting replicas commits 102 in (c), and (d) overwrites it.
    """
    return [
        (1, elect("n1")),                                          # (a)
        (200, lambda sim: split(sim, {"n1", "n2"}, {"n3", "n4", "n5"})),
        (260, _crash("n1")),
        (262, lambda sim: split(sim, {"n3", "n4", "n5"}, {"n2"})),  # (b)
        (263, elect("n5")),
        (285, lambda sim: split(sim, {"n5"}, {"n3", "n4"}, {"n2"})),
        (300, _crash("n5")),
        (310, lambda sim: sim.restart("n1")),                      # (c)
        (311, lambda sim: split(sim, {"n1", "n2", "n3"}, {"n4"})),
        (312, elect("n1")), (330, elect("n1")), (350, elect("n1")),
        (420, _crash("n1")),
        (430, lambda sim: sim.restart("n5")),                      # (d)
        (431, lambda sim: split(sim, {"n2", "n3", "n4", "n5"})),
        (432, elect("n5")), (460, elect("n5")), (490, elect("n5")),
        (1_400, lambda sim: [sim.heal(), sim.restart("n1")]),      # all five again
    ]


def explore_persistence(node: type[Node], *, max_states: int = EXPLORE_STATES,
                        time_budget: float = EXPLORE_SECONDS) -> ExplorationResult:
    """`explore_log` with restarts: a crashed server comes back from its storage."""
    return explore_log(node, restarts=True, max_states=max_states, time_budget=time_budget)

