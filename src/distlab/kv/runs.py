"""Experiments on the replicated stores of `distlab.kv`.

* The replicated register (`distlab.kv.register`), CAP in practice: `cap_sim` builds three
  replicas, consistent (``"cp"``) or available (``"ap"``), with a client next to each;
  `cap_run` runs them through a partition; the rest read the results (replica states,
  convergence, outcomes and latencies of the clients' operations).
* Leader-follower replication (`distlab.kv.leader_follower`): `leader_follower_sim`, and
  `failover_run`, where the leader crashes; `lost_appends` counts the acknowledged writes
  that did not survive.
* Multi-leader replication (`distlab.kv.multi_leader`): `multi_leader_sim` and
  `multi_leader_run` (random clients), `cart_run` (a scripted shopping cart, with
  `ScriptedKVClient`), `merged_values`.
* Leaderless replication (`distlab.kv.leaderless`): `leaderless_sim`, `sloppy_quorum_run`
  (a partition between a key's replicas), and `stale_reads`; `leaderless_cart_run`, two
  shoppers who add to one cart at once (`Shopper`), under last-writer-wins or siblings.
* Sessions over follower reads (`distlab.kv.sessions`): `session_sim`, one or two
  leader-follower stores whose clients read from followers, routed by each session's choice;
  `session_anomalies` counts what the session checkers find in a history.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from distlab.check.sessions import GUARANTEES, check_session
from distlab.kv.leader_follower import ACKS_NEEDED, ReplicatedKV
from distlab.kv.leaderless import (SIBLING_SEPARATOR, DynamoNode, PutAfter, Siblings,
                                   preference_list)
from distlab.kv.multi_leader import MultiLeaderKV
from distlab.kv.register import MODES, RegisterClient, RegisterReplica, Version
from distlab.kv.sessions import SessionClient
from distlab.kv.versions import merge_items
from distlab.sim import Client, History, Latency, Network, Operation, Simulation, Uniform
from distlab.workloads.client import Error
from distlab.workloads.kv import OPERATIONS, REQUESTS, AppendOk, Get, GetOk, KVClient, Put, PutOk

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
    sim = cap_scenario(mode, seed, partition, minority=minority, duration=duration,
                       settle=settle, **options)
    sim.run(until=duration)
    return sim


def replica_history(mode: str, seed: int = 1, partition: tuple[float, float] | None = None,
                    *, every: float = 5.0, duration: float = 3_000.0, **options: Any
                    ) -> list[tuple[float, dict[str, tuple[Any, Version]]]]:
    """The run of `cap_run`, sampled every ``every`` ms: ``(time, replica_states(sim))``
    (for `distlab.viz.replicas.draw_replica_history`)."""
    if every <= 0:
        raise ValueError(f"every must be a positive number of ms, got {every!r}")
    sim = cap_scenario(mode, seed, partition, duration=duration, **options)
    samples = []
    for k in range(math.ceil(duration / every)):
        sim.run(until=k * every)
        samples.append((k * every, replica_states(sim)))
    return samples


def cap_scenario(mode: str, seed: int = 1, partition: tuple[float, float] | None = None, *,
                 minority: tuple[str, ...] = ("a", "c1"), duration: float = 3_000.0,
                 settle: float = 500.0, **options: Any) -> Simulation:
    """The simulation `cap_run` runs, set up but not run yet."""
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


# -- leader-follower replication (distlab.kv.leader_follower) ------------------------------------
#: The servers of the leader-follower store; the first leads at the start.
SERVERS = ("a", "b", "c")


def leader_follower_sim(mode: str, seed: int = 1, *, clients: int = 2, ops: int = 30,
                        operations: Sequence[tuple[str, str]] = OPERATIONS,
                        latency: Latency | float = Uniform(5, 10),
                        follower_latency: dict[str, Latency | float] | None = None,
                        client_latency: Latency | float | None = None,
                        think: float = 10.0, retry: float = 200.0,
                        heartbeat: float = 20.0, failover_timeout: float = 150.0,
                        ship_every: float = 0.0, **network: Any) -> Simulation:
    """Servers ``a`` (the first leader), ``b``, ``c`` of a `ReplicatedKV` in ``mode`` ("sync",
    "semi-sync" or "async"), and ``clients`` `KVClient`s ``c1``, ``c2``... that know all three.

    ``latency`` is every link's one-way delay; ``follower_latency`` sets the delay of the
    links between ``a`` and some followers (``{"c": 40}``: c is far away); ``client_latency``
    that of every client's links; ``ship_every`` the leader's shipping interval (0: each
    entry at once). ``network`` goes to `Network` (``loss``, ``duplicate``...).
    """
    if mode not in ACKS_NEEDED:
        raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(ACKS_NEEDED)}")
    sim = Simulation(seed=seed, network=Network(latency=latency, **network))
    sim.add_nodes(ReplicatedKV, SERVERS, servers=SERVERS, mode=mode, heartbeat=heartbeat,
                  failover_timeout=failover_timeout, ship_every=ship_every)
    for follower, delay in (follower_latency or {}).items():
        if follower not in SERVERS[1:]:
            raise ValueError(f"follower_latency names {follower!r}; the followers are "
                             f"{', '.join(SERVERS[1:])}")
        sim.network.set_link(SERVERS[0], follower, latency=delay)
    for i in range(1, clients + 1):
        sim.add_node(KVClient, f"c{i}", server=list(SERVERS), ops=ops, retry=retry,
                     think=think, operations=operations)
        if client_latency is not None:
            for server in SERVERS:
                sim.network.set_link(f"c{i}", server, latency=client_latency)
    return sim


def acknowledged_appends(history: History, key: str) -> list[str]:
    """The values of the ``append``s to ``key`` that completed ok, in order of completion."""
    return [op.value for op in sorted(history, key=lambda op: op.complete_time or 0)
            if op.f == "append" and op.key == key and op.status == "ok"]


def lost_appends(history: History, key: str, final: str | None) -> list[str]:
    """The acknowledged appends to ``key`` missing from its ``final`` value: writes the
    store said it had done, and then forgot."""
    return [value for value in acknowledged_appends(history, key)
            if value not in (final or "")]


def leader_of(sim: Simulation) -> str | None:
    """The server of highest epoch that is up and leads it (None: no leader up)."""
    leaders = [node for node in sim.nodes.values()
               if isinstance(node, ReplicatedKV) and sim.is_up(node.id) and node.is_leader]
    return max(leaders, key=lambda node: node.epoch).id if leaders else None


def failover_run(mode: str, seed: int = 1, *, crash_at: float = 300.0,
                 follower_latency: float = 10.0, duration: float = 2_000.0,
                 **options: Any) -> Simulation:
    """Clients append to ``y`` and read it while ``a`` leads; ``a`` crashes at ``crash_at``
    ms and ``b`` takes over. ``follower_latency`` (one-way delay from ``a`` to its followers) and
    ``ship_every`` (in ``options``: how long entries wait to be sent) make the replication
    lag. Returns the simulation, run for ``duration`` ms."""
    sim = leader_follower_sim(mode, seed, operations=(("append", "y"), ("get", "y")),
                              follower_latency={"b": follower_latency,
                                                "c": follower_latency}, **options)
    sim.at(crash_at, sim.crash, SERVERS[0])
    sim.run(until=duration)
    return sim


# -- multi-leader replication (distlab.kv.multi_leader) ------------------------------------------
#: The operations of the shopping-cart runs: add an item to ``cart``, look at it.
CART = (("append", "cart"), ("get", "cart"))


def multi_leader_sim(resolve: str, seed: int = 1, *, ops: int = 20, think: float = 20.0,
                     latency: Latency | float = Uniform(5, 10),
                     client_latency: Latency | float = 1.0, sync_every: float = 200.0,
                     operations: Sequence[tuple[str, str]] = CART,
                     **network: Any) -> Simulation:
    """Replicas ``a``, ``b``, ``c`` of a `MultiLeaderKV` resolving conflicts by ``resolve``
    ("lww" or "siblings"), with a client next to each (``c1`` at ``a``...; its links
    ``client_latency`` ms), each doing ``ops`` operations. ``network`` goes to `Network`."""
    if resolve not in MultiLeaderKV.rules:
        raise ValueError(f"unknown resolve rule {resolve!r}: use one of "
                         f"{', '.join(MultiLeaderKV.rules)}")
    sim = Simulation(seed=seed, network=Network(latency=latency, **network))
    sim.add_nodes(MultiLeaderKV, SERVERS, resolve=resolve, sync_every=sync_every)
    for i, server in enumerate(SERVERS, start=1):
        sim.add_node(KVClient, f"c{i}", server=server, ops=ops, think=think,
                     operations=operations)
        sim.network.set_link(f"c{i}", server, latency=client_latency)
    return sim


def multi_leader_run(resolve: str, seed: int = 1, partition: tuple[float, float] | None = None,
                     *, duration: float = 3_000.0, **options: Any) -> Simulation:
    """Run `multi_leader_sim` for ``duration`` ms, cutting ``a`` (and its client) off from
    the rest from ``partition[0]`` to ``partition[1]`` ms; return the simulation."""
    sim = multi_leader_sim(resolve, seed, **options)
    if partition is not None:
        sim.at(partition[0], sim.partition, {"a", "c1"}, set(sim.nodes) - {"a", "c1"})
        sim.at(partition[1], sim.heal)
    sim.run(until=duration)
    return sim


def merged_values(sim: Simulation, key: str) -> dict[str, str]:
    """``{replica: the application's merge of its versions of key}`` for the replicas up."""
    return {node.id: node.merged(key) for node in sim.nodes.values()
            if isinstance(node, MultiLeaderKV) and sim.is_up(node.id)}


class ScriptedKVClient(Client):
    """A client that sends the requests of ``script`` to ``server`` at fixed times, for a
    scenario told step by step: ``script`` is ((time, f, key, value), ...) with f "get",
    "put" or "append" (value None for a get). Each operation is recorded in the history; a
    request is sent once, and one that gets no reply stays pending. (It keeps nothing durable:
a script is for a client that does not crash.)"""

    def __init__(self, server: str, script: Sequence[tuple[float, str, str, Any]] = ()):
        for step in script:
            if len(step) != 4 or step[1] not in REQUESTS:
                raise ValueError(f"a script step is (time, f, key, value) with f among "
                                 f"{sorted(REQUESTS)}; got {step!r}")
        self.server = server
        self.script = tuple(script)
        self.operations: dict[int, Operation] = {}

    def on_start(self) -> None:
        for msg_id, (time, *_) in enumerate(self.script, start=1):
            self.set_timer(time, f"step {msg_id}")

    def on_timer(self, name: str) -> None:
        msg_id = int(name.split()[1])
        _, f, key, value = self.script[msg_id - 1]
        self.operations[msg_id] = self.invoke(f, value=value, key=key)
        request = (Get(self.id, msg_id, key) if f == "get"
                   else REQUESTS[f](self.id, msg_id, key, value))
        self.send(self.server, request)

    def on_message(self, src: str, msg: Any) -> None:
        op = self.operations.get(getattr(msg, "in_reply_to", None))
        if op is None or op.status != "pending":
            return                      # a duplicate
        match msg:
            case GetOk(value=value):
                self.ok(op, value)
            case PutOk() | AppendOk():
                self.ok(op)
            case Error(definite=definite):
                self.conclude(op, "fail" if definite else "info")


def cart_run(resolve: str, *, partition: tuple[float, float] = (50.0, 300.0),
             duration: float = 900.0) -> Simulation:
    """The shopping-cart scenario: Alice, at replica ``a``, and Bob, at ``b``, add items to
    the same cart while a partition separates them; Alice looks at the cart after it heals,
    adds one more item and looks again. Every link takes 10 ms; anti-entropy every 100."""
    sim = Simulation(seed=1, network=Network(latency=10.0))
    sim.add_nodes(MultiLeaderKV, SERVERS, resolve=resolve, sync_every=100.0)
    sim.add_node(ScriptedKVClient, "alice", server="a",
                 script=((0, "append", "cart", "milk;"), (100, "append", "cart", "eggs;"),
                         (500, "get", "cart", None), (600, "append", "cart", "tea;"),
                         (700, "get", "cart", None)))
    sim.add_node(ScriptedKVClient, "bob", server="b",
                 script=((110, "append", "cart", "flour;"),))
    sim.at(partition[0], sim.partition, {"a", "alice"}, {"b", "c", "bob"})
    sim.at(partition[1], sim.heal)
    sim.run(until=duration)
    return sim


# -- leaderless replication (distlab.kv.leaderless) ----------------------------------------------
#: The nodes of the leaderless store.
DYNAMO_NODES = ("n0", "n1", "n2", "n3", "n4")
#: The operations of its clients: a register on each of three keys.
REGISTERS = (("get", "x"), ("put", "x"), ("get", "y"), ("put", "y"), ("get", "z"),
             ("put", "z"))


def leaderless_sim(seed: int = 1, *, n: int = 3, r: int = 2, w: int = 2, clients: int = 5,
                   ops: int = 30, think: float = 10.0, retry: float = 400.0,
                   latency: Latency | float = Uniform(1, 20),
                   operations: Sequence[tuple[str, str]] = REGISTERS,
                   **options: Any) -> Simulation:
    """Five `DynamoNode`s ``n0``...``n4`` with ``n``, ``r``, ``w``, and ``clients`` clients,
    ``c1`` talking to ``n0``, ``c2`` to ``n1``... Each link's delay is ``latency``; ``options``
    go to `DynamoNode` (``sloppy``, ``read_repair``...)."""
    sim = Simulation(seed=seed, network=Network(latency=latency))
    sim.add_nodes(DynamoNode, DYNAMO_NODES, servers=DYNAMO_NODES, n=n, r=r, w=w, **options)
    for i in range(clients):
        sim.add_node(KVClient, f"c{i + 1}", server=DYNAMO_NODES[i % len(DYNAMO_NODES)],
                     ops=ops, think=think, retry=retry, attempts=1, operations=operations)
    return sim


def stale_reads(history: History) -> int:
    """The reads that returned a value older than one completed before the read began.

    Per key, a ``get`` that began after a ``put`` of value *v* completed must return *v* or
    a value whose ``put`` did not complete before *v*'s began (a newer or a concurrent one).
    Counting those that do not is a simple measure of staleness (a history with none may
    still not be linearizable)."""
    puts = [op for op in history if op.f == "put" and op.status != "fail"]
    stale = 0
    for read in history:
        if read.f != "get" or read.status != "ok":
            continue
        done = [p for p in puts if p.key == read.key and p.status == "ok"
                and p.complete_time < read.invoke_time]
        if not done:
            continue
        latest = max(done, key=lambda p: p.complete_time)
        source = [p for p in puts if p.key == read.key and p.value == read.output]
        if not source or all(p.complete_time is not None
                             and p.complete_time < latest.invoke_time for p in source):
            stale += 1
    return stale


def sloppy_quorum_run(sloppy: bool, *, n: int = 3, r: int = 2, w: int = 2,
                      partition: tuple[float, float] = (50.0, 500.0),
                      duration: float = 1_200.0) -> Simulation:
    """Key ``x``'s replicas split by a partition: a write made on one side, a read on the
    other, and a read after the heal. Every link takes 5 ms.

    The writer's coordinator is the first node *outside* ``x``'s preference list, on the side
    of the list's first replica (and of the other nodes outside the list); the reader's is
    the list's second replica, on the side of the list's last replica. The writer puts
    ``"old"`` at 0 ms (before the partition) and ``"new"`` at 100 ms; the reader gets ``x``
    at 300 ms and again at 900 ms.
    """
    sim = Simulation(seed=1, network=Network(latency=5.0))
    sim.add_nodes(DynamoNode, DYNAMO_NODES, servers=DYNAMO_NODES, n=n, r=r, w=w,
                  sloppy=sloppy)
    replicas = preference_list(sim.nodes[DYNAMO_NODES[0]].ring, "x", n)
    others = [node for node in DYNAMO_NODES if node not in replicas]
    sim.add_node(ScriptedKVClient, "writer", server=others[0],
                 script=((0, "put", "x", "old"), (100, "put", "x", "new")))
    sim.add_node(ScriptedKVClient, "reader", server=replicas[1],
                 script=((300, "get", "x", None), (900, "get", "x", None)))
    sim.at(partition[0], sim.partition, {"writer", replicas[0], *others},
           {"reader", *replicas[1:]})
    sim.at(partition[1], sim.heal)
    sim.run(until=duration)
    return sim


# -- sessions over follower reads (distlab.kv.sessions) ------------------------------------------
#: The keys of the session runs.
SESSION_KEYS = ("x", "y")


def session_sim(seed: int = 1, *, routing: str = "any", tokens: bool = False, shards: int = 1,
                clients: int = 2, sessions: dict[str, dict[str, Any]] | None = None,
                lag: dict[str, float] | None = None, leader_distance: float = 25.0,
                near: float = 2.0, ops: int = 20, writes: float = 0.3,
                think: float = 20.0) -> Simulation:
    """Leader-follower stores in async mode whose followers serve reads, and their clients.

    With ``shards`` 1 the store is ``a`` (leader), ``b``, ``c`` and holds both keys; with 2,
    ``a1``/``b1``/``c1`` hold ``x`` and ``a2``/``b2``/``c2`` hold ``y``. Clients sit next to
    the followers (``near`` ms) and far from the leaders (``leader_distance`` ms); ``lag``
    gives the one-way delay from the leader to each follower (default: ``b`` 15 ms, ``c``
    60 ms, in every shard). Either ``clients`` random sessions ``c1``, ``c2``... (the i-th
    at home with the i-th follower) with ``routing`` and ``tokens``, or ``sessions``: the
    `SessionClient` options of each named client (a ``script``, its own ``routing``...).
    """
    if shards not in (1, 2):
        raise ValueError(f"shards must be 1 (one store a, b, c) or 2 (a1, b1, c1 for x and "
                         f"a2, b2, c2 for y); got {shards!r}")
    groups = ([("a", "b", "c")] if shards == 1 else
              [(f"a{s}", f"b{s}", f"c{s}") for s in (1, 2)])
    stores = {key: (groups[i % shards][0], groups[i % shards][1:])
              for i, key in enumerate(SESSION_KEYS)}
    sim = Simulation(seed=seed, network=Network(latency=5.0))
    for group in groups:
        sim.add_nodes(ReplicatedKV, group, servers=group, mode="async", follower_reads=True)
    delays = {"b": 15.0, "c": 60.0}
    for group in groups:
        for follower in group[1:]:
            delay = (lag or {}).get(follower, delays[follower[0]])
            sim.network.set_link(group[0], follower, latency=delay)
    if sessions is None:
        sessions = {f"c{i + 1}": {"home": i, "ops": ops} for i in range(clients)}
    for client, options in sessions.items():
        options = {"routing": routing, "tokens": tokens, "writes": writes, "think": think,
                   **options}
        sim.add_node(SessionClient, client, stores=stores, **options)
        for group in groups:
            sim.network.set_link(client, group[0], latency=leader_distance)
            for follower in group[1:]:
                sim.network.set_link(client, follower, latency=near)
    return sim


def session_anomalies(history: History) -> dict[str, int]:
    """How many reads of ``history`` break each session guarantee (and causality)."""
    return {guarantee: len(check_session(history, guarantee).anomalies)
            for guarantee in GUARANTEES}


#: The scripted scenarios of `anomaly_run`: (session_sim options, the scripts of the clients
#: other than the victim, the victim's name and script). Times in ms.
ANOMALY_SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any], str, tuple]] = {
    # alice writes x, then reads it from her follower, c, 60 ms behind the leader
    "read-your-writes": ({}, {}, "alice", ((0, "put", "x", "alice.1"), (70, "get", "x", None))),
    # a writer writes x twice; bob reads x four times from followers 15 and 60 ms behind
    "monotonic-reads": ({"seed": 3},
                        {"writer": ((0, "put", "x", "w.1"), (60, "put", "x", "w.2"))},
                        "bob", tuple((105 + 10 * i, "get", "x", None) for i in range(4))),
    # x (the question) and y (the answer) live in two shards; shard 1's followers lag 300 ms
    "consistent-prefix": ({"shards": 2, "lag": {"b1": 300, "c1": 300, "b2": 5, "c2": 5}},
                          {"asker": ((0, "put", "x", "question"),),
                           "answerer": ((60, "get", "x", None), (120, "put", "y", "answer"))},
                          "observer", ((200, "get", "y", None), (210, "get", "x", None))),
}


def anomaly_run(anomaly: str, routing: str, tokens: bool = False,
                duration: float = 1_000.0) -> Simulation:
    """Run the scenario that shows ``anomaly`` (a key of `ANOMALY_SCENARIOS`) with the victim
    reading by ``routing`` (with version ``tokens`` or not); the other clients write to and
    read from the leaders. Returns the simulation, run for ``duration`` ms."""
    if anomaly not in ANOMALY_SCENARIOS:
        raise ValueError(f"no scenario for {anomaly!r}: use one of "
                         f"{', '.join(ANOMALY_SCENARIOS)}")
    options, others, victim, script = ANOMALY_SCENARIOS[anomaly]
    sessions = {name: {"routing": "leader", "script": steps} for name, steps in others.items()}
    sessions[victim] = {"routing": routing, "tokens": tokens, "home": 1, "script": script}
    sim = session_sim(sessions=sessions, **options)
    sim.run(until=duration)
    return sim


# -- siblings in the leaderless store -------------------------------------------------------------
class Shopper(Client):
    """A shopper who adds items to a cart by read-modify-write, as Dynamo's shopping cart:
    at each (time, item) of ``script`` it gets ``cart`` from ``server``, merges the siblings
    it got (`merge_items`), adds ``item`` (None: only look) and puts the result back, with
    the context of the get when the store returned one (`PutAfter`). Each get and put is an
    operation of the history; a step due while one runs starts when it ends."""

    def __init__(self, server: str, script: Sequence[tuple[float, str | None]] = (),
                 key: str = "cart") -> None:
        self.server, self.script, self.key = server, tuple(script), key
        self.adding: dict[int, str | None] = {}       # msg_id of a get -> the item to add
        self.operations: dict[int, Operation] = {}
        self.queued: list[str | None] = []            # items whose step came due meanwhile
        self.next_id = 0

    def on_start(self) -> None:
        for n, (time, _) in enumerate(self.script):
            self.set_timer(time, f"step {n}")

    def on_timer(self, name: str) -> None:
        self.queued.append(self.script[int(name.split()[1])][1])
        if not self.operations:
            self.look_then_add(self.queued.pop(0))

    def look_then_add(self, item: str | None) -> None:
        msg_id = self.request("get", None, Get(self.id, self.next_id + 1, self.key))
        self.adding[msg_id] = item

    def request(self, f: str, value: str | None, message: Any) -> int:
        self.next_id += 1
        self.operations[self.next_id] = self.invoke(f, value=value, key=self.key)
        self.send(self.server, message)
        return self.next_id

    def on_message(self, src: str, msg: Any) -> None:
        op = self.operations.pop(getattr(msg, "in_reply_to", None), None)
        if op is None:
            return
        self.ok(op, msg.value if isinstance(msg, GetOk) else None)
        item = self.adding.pop(msg.in_reply_to, None)
        if isinstance(msg, GetOk) and item is not None:
            cart = merge_items((msg.value or "").split(SIBLING_SEPARATOR)) + item
            msg_id = self.next_id + 1
            self.request("put", cart, PutAfter(self.id, msg_id, self.key, cart, msg.context)
                         if isinstance(msg, Siblings) else Put(self.id, msg_id, self.key, cart))
        elif self.queued:
            self.look_then_add(self.queued.pop(0))


def leaderless_cart_run(resolve: str, *, duration: float = 800.0) -> Simulation:
    """Alice (through ``n0``) adds eggs and Bob (through ``n1``) adds flour to one cart at
    the same moment, 0 ms; Alice looks at 200 ms, adds tea at 300 and looks again at 500.
    Five `DynamoNode`s with ``resolve``, N = 3, R = W = 2, every link 5 ms."""
    sim = Simulation(seed=1, network=Network(latency=5.0))
    sim.add_nodes(DynamoNode, DYNAMO_NODES, servers=DYNAMO_NODES, resolve=resolve)
    sim.add_node(Shopper, "alice", server="n0",
                 script=((0, "eggs;"), (200, None), (300, "tea;"), (500, None)))
    sim.add_node(Shopper, "bob", server="n1", script=((0, "flour;"),))
    sim.run(until=duration)
    return sim


def shoppers_run(resolve: str, seed: int = 1, *, shoppers: int = 4, adds: int = 10,
                 gap: float = 100.0, latency: Latency | float = Uniform(1, 20)) -> Simulation:
    """``shoppers`` `Shopper`s ``s1``, ``s2``..., each through its own coordinator, add
    ``adds`` items each (``"s1.1;"``...) to one cart, at random times ``gap`` ms apart on
    average; the first shopper looks at the cart once more after everyone is done. Five
    `DynamoNode`s with ``resolve``, N = 3, R = W = 2."""
    rng = random.Random(seed)
    sim = Simulation(seed=seed, network=Network(latency=latency))
    sim.add_nodes(DynamoNode, DYNAMO_NODES, servers=DYNAMO_NODES, resolve=resolve)
    scripts = []
    for _ in range(shoppers):
        time, script = 0.0, []
        for n in range(1, adds + 1):
            time += rng.expovariate(1 / gap)
            script.append((time, n))
        scripts.append(script)
    end = max(script[-1][0] for script in scripts) + 1_000
    for i, script in enumerate(scripts):
        steps: list[tuple[float, str | None]] = [(t, f"s{i + 1}.{n};") for t, n in script]
        if i == 0:
            steps.append((end, None))                   # the last look
        sim.add_node(Shopper, f"s{i + 1}", server=DYNAMO_NODES[i % len(DYNAMO_NODES)],
                     script=steps)
    sim.run(until=end + 1_000)
    return sim


def lost_items(sim: Simulation) -> list[str]:
    """The items whose put was acknowledged and that the cart's last look misses."""
    ops = list(sim.history)
    last = max((op for op in ops if op.f == "get" and op.status == "ok"),
               key=lambda op: op.complete_time)
    final = set(merge_items((last.output or "").split(SIBLING_SEPARATOR)).split(";"))
    added = {item for op in ops if op.f == "put" and op.status == "ok"
             for item in op.value.split(";")[:-1] if item.startswith(f"{op.process}.")}
    return sorted(added - final)
