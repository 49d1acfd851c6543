"""A replicated key-value store on any of the library's consensus protocols: ``n`` servers
and key-value clients (`distlab.workloads.kv.KVClient`) on one simulated network.

VR (`distlab.consensus.vr`) and Zab (`distlab.consensus.zab`) build their runs on it, and
`distlab.consensus.comparison` runs every protocol on the same cluster and workload.
"""

from __future__ import annotations

from typing import Any

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
