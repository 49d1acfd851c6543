"""A leaderless store to drive by hand, one request at a time: what the replication explorer of
page 03.03 (`distlab.widgets.replication.ReplicationExplorer`) runs.

Three `DynamoNode` replicas ``a``, ``b``, ``c`` hold every key (``n = 3``), under last writer
wins, with neither sloppy quorums nor read repair, so that what a read sees depends only on
``r``, ``w`` and which replicas the write reached. Every link takes 5 ms.
"""

from __future__ import annotations

from distlab.kv.leaderless import SIBLING_SEPARATOR, DynamoNode
from distlab.kv.runs import ScriptedKVClient
from distlab.sim import Network, Node, Simulation

#: the replicas
REPLICAS = ("a", "b", "c")


def store(r: int = 2, w: int = 2) -> Simulation:
    """The three replicas, with read and write quorums ``r`` and ``w``."""
    sim = Simulation(seed=1, network=Network(latency=5.0))
    sim.add_nodes(DynamoNode, REPLICAS, servers=REPLICAS, n=3, r=r, w=w, sloppy=False,
                  read_repair=False)
    return sim


def ask(sim: Simulation, coordinator: str, f: str, key: str, value: str | None) -> str:
    """Send one ``get`` or ``put`` to ``coordinator`` now, from a new client; its id (the
    operation is that client's in ``sim.history``)."""
    client = f"client{sum(node.startswith('client') for node in sim.nodes) + 1}"
    sim.add_node(ScriptedKVClient, client, server=coordinator, script=((0.0, f, key, value),))
    return client


def set_quorums(sim: Simulation, r: int, w: int) -> None:
    """Give every replica read quorum ``r`` and write quorum ``w`` (1 to 3)."""
    if not (1 <= r <= len(REPLICAS) and 1 <= w <= len(REPLICAS)):
        raise ValueError(f"r and w are between 1 and {len(REPLICAS)} (the replicas); got "
                         f"r={r}, w={w}")
    for replica in REPLICAS:
        node = sim.nodes[replica]
        node.r, node.w = r, w


def held(node: Node, key: str) -> str:
    """What a replica holds for ``key``: its value and version stamp (writer's clock in ms,
    coordinator), or "nothing"."""
    versions = getattr(node, "data", {}).get(key, ())
    if not versions:
        return "nothing"
    value = SIBLING_SEPARATOR.join(v.value for v in versions)
    stamp = max(v.stamp for v in versions)
    return f"{value} @ {stamp[0]:.0f} ms by {stamp[1]}"
