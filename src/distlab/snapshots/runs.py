"""The runs of the snapshot page (05.03): a bank, snapshotted by Chandy-Lamport and naively,
and the cut drawn on the space-time diagram.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure

from distlab.check import watch
from distlab.sim import Network, Node, Simulation, Uniform
from distlab.snapshots.chandy_lamport import ChandyLamportBranch
from distlab.snapshots.invariants import money_conserved, recorded_total, snapshot_conserves_money
from distlab.snapshots.naive import NaiveSnapshotBranch
from distlab.viz import spacetime
from distlab.viz.palette import VERMILLION

BRANCHES = ("a", "b", "c", "d")
BALANCE = 100
#: transfers stop then, so that the run ends quiet and the total can be checked
STOP_AT = 400.0
NETWORK = Network(latency=Uniform(5, 40))


def bank(sim: Simulation, branch: type[Node], branches: tuple[str, ...] = BRANCHES,
         **kwargs: object) -> None:
    """Add one ``branch`` node per name (in one `add_nodes`, so that each knows all its
    peers), each with `BALANCE`, transferring until `STOP_AT`; ``kwargs`` go to each."""
    sim.add_nodes(branch, branches, balance=BALANCE, stop_at=STOP_AT, **kwargs)


@dataclass(frozen=True)
class SnapshotRun:
    """A run with a snapshot: the simulation, when each branch recorded, and the totals."""

    sim: Simulation
    cut: dict[str, float]          # branch -> the time it recorded its state
    recorded: int | None           # the recorded global state's money (None: unfinished)
    total: int                     # the money the bank holds

    @property
    def consistent(self) -> bool:
        return self.recorded == self.total


def record_times(sim: Simulation) -> dict[str, float]:
    """When each branch recorded its state (its "record" note)."""
    return {e.node: e.time for e in sim.trace.of_kind("note") if e.data.what == "record"}


def chandy_lamport(seed: int = 1, *, snapshot_at: float = 100.0,
                   until: float = 600.0) -> SnapshotRun:
    """The bank with a Chandy-Lamport snapshot started by branch ``a`` at ``snapshot_at``."""
    sim = Simulation(seed=seed, network=NETWORK)
    bank(sim, ChandyLamportBranch, snapshot_at=snapshot_at)
    total = BALANCE * len(BRANCHES)
    watch(sim, money_conserved(total), snapshot_conserves_money(total))
    sim.run(until=until)
    return SnapshotRun(sim, record_times(sim), recorded_total(sim), total)


def naive(seed: int = 1, *, record_at: float = 100.0, skew: float = 0.0,
          until: float = 600.0) -> SnapshotRun:
    """The bank where every branch records its balance when its clock reads ``record_at``;
    with ``skew``, branch i's clock is ``i * skew`` ms ahead."""
    sim = Simulation(seed=seed, network=NETWORK)
    bank(sim, NaiveSnapshotBranch, record_at=record_at)
    for i, node_id in enumerate(BRANCHES):
        if skew:
            sim.set_clock(node_id, skew=i * skew)
    total = BALANCE * len(BRANCHES)
    watch(sim, money_conserved(total))
    sim.run(until=until)
    recorded = sum(node.recorded for node in sim.nodes.values())
    return SnapshotRun(sim, record_times(sim), recorded, total)


def draw_cut(run: SnapshotRun, *, start: float = 0.0, end: float = 250.0,
             title: str | None = None) -> Figure:
    """The run's space-time diagram from ``start`` to ``end``, with the cut: a line through
    the moment each branch recorded its state."""
    fig = spacetime(run.sim, start=start, end=end, label=False, title=title)
    ax = fig.axes[0]
    lanes = list(run.sim.nodes)
    xs = [run.cut[node] for node in lanes]
    ax.plot(xs, range(len(lanes)), color=VERMILLION, linewidth=2.5, marker="D", zorder=5,
            label=f"cut: {run.recorded} recorded of {run.total}")
    ax.legend(loc="lower right", fontsize=8)
    return fig
