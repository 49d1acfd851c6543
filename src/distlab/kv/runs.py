"""Experiments on the replicated register (`distlab.kv.register`): CAP in practice.

`cap_sim` builds three replicas, consistent (``"cp"``) or available (``"ap"``), with a client
next to each; `cap_run` runs them through a partition; the rest read the results (replica
states, convergence, outcomes and latencies of the clients' operations).
"""

from __future__ import annotations

import math
from typing import Any

from distlab.kv.register import MODES, RegisterClient, RegisterReplica, Version
from distlab.sim import History, Latency, Network, Simulation, Uniform

#: The three replicas.
REPLICAS = ("a", "b", "c")
#: The default clients, each talking to the replica next to it.
CLIENTS = {"c1": "a", "c2": "b", "c3": "c"}


# -- scenarios ------------------------------------------------------------------------------------
def cap_sim(mode: str, seed: int = 1, *, latency: Latency | float = Uniform(5, 10),
            client_latency: Latency | float | None = None,
            clients: dict[str, str] | None = None, think: Latency | float = Uniform(20, 80),
            writes: float = 0.5, timeout: float = 300.0, quorum_timeout: float = 100.0,
            sync_every: float = 100.0, stop: float = math.inf,
            replica_class: type[RegisterReplica] | None = None) -> Simulation:
    """Three replicas ``a``, ``b``, ``c`` of the ``mode`` ("cp" or "ap") register and their
    clients, ready to run (a factory for `distlab.widgets.Explorer`).

    ``clients`` maps each client id to its replica (default: ``c1``-``a``, ``c2``-``b``,
    ``c3``-``c``); client *i* writes the values ``100 i + 1``, ``100 i + 2``...
    ``latency`` is every link's one-way delay; ``client_latency``, if given, that of each
    client's link to its own replica (a client next to its replica: small).
    ``replica_class`` replaces the mode's replica class by a variant of it (a subclass, for
    an experiment).

    With the default network (every link 5-10 ms) the AP register is linearizable when nothing
    fails: a write reaches the other replicas (at most 10 ms) before any client can have heard
    of it and asked another replica (at least 5 + 5 ms). With clients close to their replicas
    and replicas far apart it is not, partition or not.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use 'cp' (consistent: majority quorums) or "
                         f"'ap' (available: local answers, last writer wins)")
    clients = dict(CLIENTS if clients is None else clients)
    for client, replica in clients.items():
        if replica not in REPLICAS:
            raise ValueError(f"client {client!r} talks to {replica!r}, which is not a replica; "
                             f"the replicas are {', '.join(REPLICAS)}")
    sim = Simulation(seed=seed, network=Network(latency=latency))
    options = ({"quorum_timeout": quorum_timeout} if mode == "cp"
               else {"sync_every": sync_every})
    sim.add_nodes(replica_class or MODES[mode], REPLICAS, **options)
    for i, (client, replica) in enumerate(clients.items(), start=1):
        sim.add_node(RegisterClient, client, replica=replica, timeout=timeout, think=think,
                     writes=writes, first_value=100 * i + 1, stop=stop)
        if client_latency is not None:
            sim.network.set_link(client, replica, latency=client_latency)
    return sim


def cap_run(mode: str, seed: int = 1, partition: tuple[float, float] | None = None, *,
            minority: tuple[str, ...] = ("a", "c1"), duration: float = 3_000.0,
            settle: float = 500.0, **options: Any) -> Simulation:
    """Run `cap_sim` for ``duration`` ms, cutting ``minority`` off from the rest from
    ``partition[0]`` to ``partition[1]`` ms; return the simulation.

    Clients start no operation in the last ``settle`` ms, so every request is answered or
    timed out and (AP) the replicas have time to converge. ``options`` go to `cap_sim`.
    """
    if partition is not None:
        start, end = partition
        if not 0 <= start < end:
            raise ValueError(f"partition=(start, end) needs 0 <= start < end (ms); got "
                             f"{partition!r}")
    if settle >= duration:
        raise ValueError(f"settle ({settle} ms) must be shorter than the run ({duration} ms)")
    sim = cap_sim(mode, seed, stop=duration - settle, **options)
    if partition is not None:
        rest = set(sim.nodes) - set(minority)
        sim.at(partition[0], sim.partition, set(minority), rest)
        sim.at(partition[1], sim.heal)
    sim.run(until=duration)
    return sim


# -- reading the results --------------------------------------------------------------------------
def replica_states(sim: Simulation) -> dict[str, tuple[Any, Version]]:
    """``{replica: (value, version)}`` for every replica that is up."""
    return {node_id: (node.value, node.version) for node_id, node in sim.nodes.items()
            if isinstance(node, RegisterReplica) and sim.is_up(node_id)}


def converged(sim: Simulation) -> bool:
    """Whether every replica that is up holds the same version (and so the same value)."""
    return len({version for _, version in replica_states(sim).values()}) <= 1


def outcome_counts(history: History, process: str | None = None) -> dict[str, int]:
    """How many operations ended ok, fail, info (or are still pending), of one process or all."""
    counts = {"ok": 0, "fail": 0, "info": 0, "pending": 0}
    for op in history:
        if process is None or op.process == process:
            counts[op.status] += 1
    return counts


def operation_latencies(history: History, f: str | None = None) -> list[float]:
    """The durations (ms) of the operations that completed ok (only ``f`` ones, if given)."""
    return [op.complete_time - op.invoke_time for op in history
            if op.status == "ok" and (f is None or op.f == f)]
