"""A replicated key-value store on any of the library's consensus protocols: ``n`` servers
and key-value clients (`distlab.workloads.kv.KVClient`) on one simulated network, and the
same store under random faults with the protocol's invariants watched (`faulty_run`).

Multi-Paxos (`distlab.consensus.multipaxos`), VR (`distlab.consensus.vr`) and Zab
(`distlab.consensus.zab`) build their runs on it, and `distlab.consensus.comparison` runs
every protocol on the same cluster and workload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from distlab.check import Invariant, InvariantViolation, watch
from distlab.sim import ConfigurationError, Latency, Nemesis, Network, Node, Simulation, Uniform
from distlab.sim.helpers import node_ids
from distlab.workloads.kv import KVClient


def add_kv_cluster(sim: Simulation, node_class: type[Node], *, n: int = 3, clients: int = 2,
                   ops: int = 20, retry: float = 100.0, **options: Any) -> list[str]:
    """Add ``n`` servers ``n1``... of ``node_class`` and ``clients`` clients ``c1``... doing
    ``ops`` operations each to ``sim``; return the servers' ids.

    Each client knows every server and starts with its own (``c1`` with ``n1``...); a
    server that does not lead redirects it (`distlab.workloads.client.NotLeader`).
    ``options`` go to every server.
    """
    if not isinstance(n, int) or n < 3:
        raise ConfigurationError(f"a replicated store needs at least 3 servers to survive a "
                                 f"failure (2f + 1 with f >= 1); got n={n!r}")
    servers = node_ids(n, first=1)
    sim.add_nodes(node_class, servers, **options)
    for i in range(1, clients + 1):
        first = (i - 1) % n
        sim.add_node(KVClient, f"c{i}", server=servers[first:] + servers[:first], ops=ops,
                     retry=retry)
    return servers


def kv_cluster(node_class: type[Node], *, seed: int = 0, n: int = 3, clients: int = 2,
               ops: int = 20, latency: Latency | float = Uniform(1, 10),
               retry: float = 100.0, nemesis: Nemesis | None = None,
               **options: Any) -> Simulation:
    """A simulation of `add_kv_cluster` on a network of ``latency``, ready to run.

    A ``nemesis`` must be limited to the servers (``Nemesis(..., nodes=["n1", "n2",
    "n3"])``): the clients' history is what is judged.
    """
    sim = Simulation(seed=seed, network=Network(latency=latency))
    servers = add_kv_cluster(sim, node_class, n=n, clients=clients, ops=ops, retry=retry,
                             **options)
    if nemesis is not None:
        if nemesis.nodes is None or not set(nemesis.nodes) <= set(servers):
            raise ValueError(f"the nemesis must spare the clients (their history is judged): "
                             f"build it with nodes={servers!r} or some of them")
        nemesis.install(sim)
    return sim


def faulty_run(node_class: type[Node], invariants: Sequence[Invariant], *, seed: int, n: int,
               until: float, interval: float, clients: int = 2, ops: int = 30,
               **options: Any) -> tuple[Simulation, InvariantViolation | None]:
    """A `kv_cluster` of ``n`` servers and ``clients`` clients doing ``ops`` operations each,
    under a `Nemesis` acting on the servers every ``interval`` ms on average (crashes of up to
    ``f = (n - 1) // 2`` of them at once, partitions, 10% loss, duplication and reordering)
    for the first three quarters of the run, with ``invariants`` watched after every event.

    Returns the simulation, run to ``until`` ms or to the first violation, and that violation
    (None: every invariant held). ``options`` go to `kv_cluster` (``retry``) and to every
    server (``timeout``...).
    """
    servers = node_ids(n, first=1)
    nemesis = Nemesis(interval, nodes=servers, max_crashed=(n - 1) // 2, loss=0.1,
                      duplicate=0.1, reorder=0.1, stop=until * 3 / 4)
    sim = kv_cluster(node_class, seed=seed, n=n, clients=clients, ops=ops, nemesis=nemesis,
                     **options)
    watch(sim, *invariants)
    try:
        sim.run(until=until)
    except InvariantViolation as violation:
        return sim, violation
    return sim, None


@dataclass(frozen=True)
class FaultyRun:
    """What a `faulty_run` found: its seed, and the invariant that failed first (None: none
    did) with its explanation. A protocol's own result adds how far the run got."""

    seed: int
    violated: str | None
    explanation: str | None

    @classmethod
    def of(cls, seed: int, violation: InvariantViolation | None, **progress: Any) -> Self:
        """The result of the run with ``seed`` that ended in ``violation`` (or None), and the
        subclass's own fields, ``progress``."""
        if violation is None:
            return cls(seed, None, None, **progress)
        return cls(seed, violation.invariant, violation.explanation, **progress)
