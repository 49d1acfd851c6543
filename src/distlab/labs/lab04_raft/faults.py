"""The faults the checks choose while a run goes on: whom to crash, cut off or restart; and
the elections that scripted checks start themselves."""

from __future__ import annotations

from collections.abc import Callable

from distlab.labs.lab04_raft.common import TESTER, as_int, servers
from distlab.sim import Simulation


def leaders(sim: Simulation) -> list[str]:
    """The live nodes that say they are leader, highest term first."""
    found = [(as_int(getattr(node, "term", 0)) or 0, node_id)
             for node_id, node in servers(sim).items()
             if node_id not in sim.crashed and getattr(node, "state", None) == "leader"]
    return [node_id for _, node_id in sorted(found, key=lambda tn: (-tn[0], tn[1]))]


def churn_step(sim: Simulation, which: float, whom: float) -> None:
    """One fault of the churn: crash (at most 2 down), restart, partition or heal."""
    up = [n for n in servers(sim) if n not in sim.crashed]
    down = sorted(sim.crashed)
    nodes = list(servers(sim))
    if which < 0.35 and len(down) < 2:
        sim.crash(up[int(whom * len(up))])
    elif which < 0.6 and down:
        sim.restart(down[int(whom * len(down))])
    elif which < 0.85:
        cut = 1 + int(whom * (len(nodes) - 1))
        start = int(which * 1000) % len(nodes)
        side = {nodes[(start + i) % len(nodes)] for i in range(cut)}
        client = {TESTER} if TESTER in sim.nodes else set()  # (the lab's client, from part B)
        sim.partition(side | client, set(nodes) - side)
    else:
        sim.heal()


def repair_all(sim: Simulation) -> None:
    sim.heal()
    for node_id in sorted(sim.crashed):
        sim.restart(node_id)


def elect(node_id: str) -> Callable[[Simulation], None]:
    """A fault that makes ``node_id`` start an election now, by calling the student's
    ``start_election`` (unless it is down or leads already): a script's way of choosing who
    runs, while the other servers' election timers (at least 150 ms) still run. The lab's
    client notes it first (``elect``), so that the rule of the election timer knows that the
    script, not the server's timer, started it (`ElectionRules`)."""
    def start(sim: Simulation) -> None:
        node = sim.nodes[node_id]
        if node_id not in sim.crashed and getattr(node, "state", None) != "leader":
            sim.nodes[TESTER].note("elect", server=node_id)
            node.start_election()
    return start
