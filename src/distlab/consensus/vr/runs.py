"""Experiments on Viewstamped Replication: a replicated key-value store (`vr_kv`), a
scripted view change and a scripted recovery for the book's diagrams, and safety under
random faults (`vr_safety_run`)."""

from __future__ import annotations

from dataclasses import dataclass

from distlab.check import watch
from distlab.consensus.cluster import FaultyRun, faulty_run, kv_cluster
from distlab.consensus.vr.invariants import vr_invariants
from distlab.consensus.vr.replica import VRReplica
from distlab.sim import Latency, Nemesis, Network, Simulation, Uniform
from distlab.sim.helpers import node_ids
from distlab.workloads.kv import KVClient


def vr_kv(*, seed: int = 0, n: int = 3, clients: int = 2, ops: int = 20,
          latency: Latency | float = Uniform(1, 10), retry: float = 100.0,
          nemesis: Nemesis | None = None, node_class: type[VRReplica] = VRReplica,
          **options: float | tuple[float, float]) -> Simulation:
    """A key-value store on ``n`` VR replicas ``n1``... and ``clients`` clients ``c1``...
    (`distlab.consensus.cluster.kv_cluster`), ready to run. ``n1`` is the primary of view 0;
    a client that asks a backup is redirected. ``options`` go to every replica
    (``timeout``...); a ``nemesis`` must spare the clients."""
    return kv_cluster(node_class, seed=seed, n=n, clients=clients, ops=ops, latency=latency,
                      retry=retry, nemesis=nemesis, **options)


def primary(sim: Simulation) -> str | None:
    """The replica acting as primary of the highest view (None: none is)."""
    acting = [(node.view_number, node_id) for node_id, node in sim.nodes.items()
              if sim.is_up(node_id) and getattr(node, "role", None) == "primary"]
    return max(acting)[1] if acting else None


def view_change(*, seed: int = 1, node_class: type[VRReplica] = VRReplica,
                crash_at: float = 300.0, until: float = 1_500.0) -> Simulation:
    """Three replicas, one client: the primary ``n1`` crashes at ``crash_at`` ms and the two
    backups change view; run to ``until``."""
    sim = vr_kv(seed=seed, clients=1, ops=12, node_class=node_class)
    sim.at(crash_at, sim.crash, "n1")
    sim.run(until=until)
    return sim


def amnesia(*, seed: int = 1, node_class: type[VRReplica] = VRReplica,
            primary_crash_at: float = 1_200.0, until: float = 3_000.0,
            invariants: bool = True) -> Simulation:
    """The scenario of VR's recovery, scripted on three replicas (``f = 1``).

    ``n3`` is cut off from the start, so the client's first ops are committed by the primary
    ``n1`` with ``n2`` alone. At 400 ms ``n2`` crashes, losing its memory; at 450 ms it
    restarts and the network heals. At ``primary_crash_at`` ``n1`` crashes: only ``n2`` and
    ``n3`` remain, and if ``n2`` has not got its state back, no replica left holds the
    committed ops. `VRReplica` recovers first (it asks ``n1``); `bugs.SkipsRecovery` rejoins
    empty. The invariants (`vr_invariants`) are watched unless ``invariants`` is False; the
    run goes to ``until`` or to the first violation (`InvariantViolation`).
    """
    sim = vr_kv(seed=seed, clients=1, ops=8, node_class=node_class, retry=60.0)
    if invariants:
        watch(sim, *vr_invariants())
    sim.at(1, sim.partition, {"n3"})
    sim.at(400, sim.crash, "n2")
    sim.at(450, sim.restart, "n2")
    sim.at(450, sim.heal)
    sim.at(primary_crash_at, sim.crash, "n1")
    sim.run(until=until)
    return sim


def stale_log(*, seed: int = 1, node_class: type[VRReplica] = VRReplica,
              until: float = 2_000.0) -> Simulation:
    """A view change that must prefer a later view's short log to an old view's long one.

    From the start ``n1`` (primary of view 0) is cut off with three clients ``c1``..``c3``,
    whose requests it appends but can never commit. ``n2`` and ``n3`` move to view 1 and
    commit client ``c4``'s op. Then ``n2`` crashes and the network heals: ``n3`` and ``n1``
    change to view 2, whose primary is ``n3``; ``n1`` sends a longer log, of view 0. The
    invariants (`vr_invariants`) are watched; the run stops at the first violation.
    """
    sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 10)))
    replicas = node_ids(3, first=1)
    sim.add_nodes(node_class, replicas)
    for client in ("c1", "c2", "c3"):
        sim.add_node(KVClient, client, server=["n1", "n2", "n3"], ops=1)
    sim.add_node(KVClient, "c4", server=["n2", "n3", "n1"], ops=1)
    watch(sim, *vr_invariants())
    sim.partition({"n1", "c1", "c2", "c3"})
    sim.run_until(lambda: any(op.status == "ok" for op in sim.history.operations),
                  timeout=until)
    sim.crash("n2")
    sim.heal()
    sim.run(until=until)
    return sim


@dataclass(frozen=True)
class SafetyRun(FaultyRun):
    """One random fault schedule (`FaultyRun`): the invariant that failed first, the highest
    view reached, and the ops committed."""

    views: int
    committed: int


def vr_safety_run(node_class: type[VRReplica] = VRReplica, *, seed: int = 0, n: int = 5,
                  until: float = 2_500.0, interval: float = 150.0) -> SafetyRun:
    """``n`` replicas under a `Nemesis` acting every ``interval`` ms on average (crashes
    that lose the memory, at most ``f`` down at once; partitions; 10% loss, duplication and
    reordering), watched by `vr_invariants` until ``until`` ms or the first violation
    (`distlab.consensus.cluster.faulty_run`)."""
    sim, violation = faulty_run(node_class, vr_invariants(), seed=seed, n=n, until=until,
                                interval=interval, timeout=(60.0, 120.0),
                                commit_interval=20.0)
    replicas = node_ids(n, first=1)
    return SafetyRun.of(seed, violation,
                        views=max(sim.nodes[r].view_number for r in replicas),
                        committed=max(sim.nodes[r].commit_number for r in replicas))
