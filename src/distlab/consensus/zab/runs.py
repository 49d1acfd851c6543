"""Experiments on Zab: a replicated key-value store (`zab_kv`), the leader a run settles on,
a scripted run in which the election picks a server that lacks committed transactions
(`forced_leader`), and safety under random faults (`zab_safety_run`)."""

from __future__ import annotations

from dataclasses import dataclass

from distlab.check import watch
from distlab.consensus.cluster import FaultyRun, faulty_run, kv_cluster
from distlab.consensus.zab.invariants import zab_invariants
from distlab.consensus.zab.server import ZabServer
from distlab.sim import Latency, Nemesis, Simulation, Uniform
from distlab.sim.helpers import node_ids


def zab_kv(*, seed: int = 0, n: int = 3, clients: int = 2, ops: int = 20,
           latency: Latency | float = Uniform(1, 10), retry: float = 100.0,
           nemesis: Nemesis | None = None, node_class: type[ZabServer] = ZabServer,
           **options: float | tuple[float, float]) -> Simulation:
    """A key-value store on ``n`` Zab servers ``n1``... and ``clients`` clients ``c1``...
    (`distlab.consensus.cluster.kv_cluster`), ready to run. ``options`` go to every server
    (``timeout``, ``heartbeat_interval``); a ``nemesis`` must spare the clients."""
    return kv_cluster(node_class, seed=seed, n=n, clients=clients, ops=ops, latency=latency,
                      retry=retry, nemesis=nemesis, **options)


def leader(sim: Simulation) -> str | None:
    """The established leader of the highest epoch that broadcasts (None: none does)."""
    leading = [(node.current_epoch, node_id) for node_id, node in sim.nodes.items()
               if sim.is_up(node_id) and getattr(node, "role", None) == "leading"
               and node.phase == "broadcast"]
    return max(leading)[1] if leading else None


def forced_leader(*, seed: int = 1, node_class: type[ZabServer] = ZabServer,
                  until: float = 1_500.0) -> Simulation:
    """Safety does not rest on the election: a run in which the leader lacks what was
    committed.

    Three servers; ``n3`` is cut off while the others elect a leader and commit the client's
    operations. Then that leader crashes, the network heals, and ``n3`` -- whose history is
    empty -- is made to lead, with the remaining server following it (by calling
    `ZabServer.lead` and `ZabServer.follow`, as a worse election could). Discovery must bring
    the committed transactions to it. The invariants (`zab_invariants`) are watched; the run
    stops at the first violation.
    """
    sim = zab_kv(seed=seed, clients=1, ops=5, node_class=node_class)
    watch(sim, *zab_invariants())
    sim.partition({"n3"})
    sim.run_until(lambda: sum(op.status == "ok" for op in sim.history.operations) == 5,
                  timeout=until)
    old = leader(sim)
    if old is None:
        raise RuntimeError("forced_leader: no leader committed the operations; the script "
                           "is broken")
    other = next(s for s in ("n1", "n2") if s != old)
    sim.crash(old)
    sim.heal()
    sim.nodes["n3"].lead()
    sim.nodes[other].follow("n3")
    sim.run(until=sim.now + until)
    return sim


@dataclass(frozen=True)
class SafetyRun(FaultyRun):
    """One random fault schedule (`FaultyRun`): the invariant that failed first, the highest
    epoch reached, and the transactions delivered."""

    epochs: int
    delivered: int


def zab_safety_run(node_class: type[ZabServer] = ZabServer, *, seed: int = 0, n: int = 5,
                   until: float = 2_500.0, interval: float = 150.0) -> SafetyRun:
    """``n`` servers under a `Nemesis` acting every ``interval`` ms on average (crashes of up
    to two servers, partitions, 10% loss, duplication and reordering), watched by
    `zab_invariants` until ``until`` ms or the first violation
    (`distlab.consensus.cluster.faulty_run`)."""
    sim, violation = faulty_run(node_class, zab_invariants(), seed=seed, n=n, until=until,
                                interval=interval, timeout=(60.0, 120.0),
                                heartbeat_interval=20.0)
    servers = node_ids(n, first=1)
    return SafetyRun.of(seed, violation,
                        epochs=max(sim.nodes[s].current_epoch for s in servers),
                        delivered=max(sim.nodes[s].committed for s in servers))
