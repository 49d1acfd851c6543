"""The consensus protocols of chapter 4 side by side, measured on the same simulator, the same
cluster and the same workload.

Each protocol is a `Contender`: its server class, the options that make its timeouts
comparable (a failure is suspected after 150 to 300 ms of silence, and an idle leader speaks
every 50 ms), and how to tell which server leads. Adding a protocol to the comparison is one
line in `CONTENDERS`.

Two experiments, each over many seeds:

* `steady_state`: three servers, one client doing operations one after another, no
  faults. Per command: the messages the servers send each other (heartbeats included) and
  the client's delay from request to reply.
* `leader_change`: the same cluster, and the leader crashes in the middle. How long until
  a new leader is in place, how long until it answers the client, and how many
  messages the servers send in between.

Single-decree Paxos (`distlab.consensus.paxos`) decides one value, not a log of commands:
`paxos_decision` measures one decision, for the reader to compare with a command's cost.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from distlab.consensus.cluster import kv_cluster
from distlab.consensus.multipaxos.nodes import MultiPaxosServer
from distlab.consensus.paxos.runs import paxos_setup
from distlab.consensus.raft.node import RaftNode
from distlab.consensus.vr.replica import VRReplica
from distlab.consensus.zab.server import ZabServer
from distlab.sim import Client, Network, Node, Simulation, Uniform

#: the network of every experiment: 1 to 10 ms per message
NETWORK_LATENCY = Uniform(1, 10)


@dataclass(frozen=True)
class Contender:
    """One protocol: its server class, ``leads(node)``, true for a server that leads and
    takes client commands now, and the options every server gets."""

    name: str
    node_class: type[Node]
    leads: Callable[[Any], bool]
    options: dict[str, Any] = field(default_factory=dict)


#: the protocols compared, in the order of the chapter
CONTENDERS: dict[str, Contender] = {
    "Multi-Paxos": Contender("Multi-Paxos", MultiPaxosServer, lambda n: n.role == "leader",
                             dict(election_timeout=(150.0, 300.0), heartbeat_interval=50.0)),
    "Raft": Contender("Raft", RaftNode, lambda n: n.role == "leader",
                      dict(election_timeout=(150.0, 300.0), heartbeat_interval=50.0)),
    "VR": Contender("VR", VRReplica, lambda n: n.role == "primary",
                    dict(timeout=(150.0, 300.0), commit_interval=50.0)),
    "Zab": Contender("Zab", ZabServer, lambda n: n.role == "leading" and n.phase == "broadcast",
                     dict(timeout=(150.0, 300.0), heartbeat_interval=50.0)),
}


def leader_of(sim: Simulation, contender: Contender) -> str | None:
    """The server that leads now (the first, by id, if several believe they do)."""
    for node_id, node in sim.nodes.items():
        if not isinstance(node, Client) and sim.is_up(node_id) and contender.leads(node):
            return node_id
    return None


def _cluster(contender: Contender, seed: int, n: int, ops: int) -> Simulation:
    return kv_cluster(contender.node_class, seed=seed, n=n, clients=1, ops=ops,
                      latency=NETWORK_LATENCY, retry=100.0, **contender.options)


def _server_messages(sim: Simulation, start: float, end: float) -> Counter[str]:
    """Messages sent from one server to another in ``[start, end)``, by kind."""
    clients = {node_id for node_id, node in sim.nodes.items() if isinstance(node, Client)}
    return Counter(type(e.data).__name__ for e in sim.trace.of_kind("send")
                   if start <= e.time < end and e.node not in clients
                   and e.peer not in clients)


@dataclass(frozen=True)
class SteadyState:
    """One protocol's commands without faults, over several seeds."""

    protocol: str
    commands: int
    messages_per_command: float
    mean_delay: float          # ms from a client's request to its reply
    delays: tuple[float, ...]
    kinds: dict[str, float]    # messages per command, by kind


def steady_state(contender: Contender, *, seeds: Iterable[int] = range(10), n: int = 3,
                 ops: int = 40, warm_up: int = 5, limit: float = 20_000.0) -> SteadyState:
    """Run ``ops`` operations of one client per seed; measure the operations after the first
    ``warm_up`` (the first leader is in place by then)."""
    delays: list[float] = []
    messages: Counter[str] = Counter()
    for seed in seeds:
        sim = _cluster(contender, seed, n, ops)
        sim.run_until(lambda: sum(op.status != "pending"
                                  for op in sim.history.operations) >= ops, timeout=limit)
        done = [op for op in sim.history.operations if op.status == "ok"][warm_up:]
        if not done:
            raise RuntimeError(f"{contender.name}, seed {seed}: no operation completed after "
                               f"the warm-up within {limit} ms")
        messages += _server_messages(sim, done[0].invoke_time, done[-1].complete_time)
        delays.extend(op.complete_time - op.invoke_time for op in done)
    count = len(delays)
    return SteadyState(contender.name, count, messages.total() / count,
                       statistics.mean(delays), tuple(delays),
                       {kind: m / count for kind, m in sorted(messages.items())})


@dataclass(frozen=True)
class LeaderChange:
    """One protocol's recovery from a crashed leader, over several seeds (means, in ms)."""

    protocol: str
    runs: int
    time_to_leader: float      # from the crash to a new leader taking commands
    client_wait: float         # from the crash to the new leader's first answer
    messages: float            # server messages from the crash to the new leader
    times: tuple[float, ...]


def leader_change(contender: Contender, *, seeds: Iterable[int] = range(10), n: int = 3,
                  crash_at: float = 1_000.0, limit: float = 10_000.0) -> LeaderChange:
    """Crash the leader at ``crash_at`` ms while a client works; measure the change."""
    times, waits, messages = [], [], []
    for seed in seeds:
        sim = _cluster(contender, seed, n, ops=10_000)
        sim.run(until=crash_at)
        old = leader_of(sim, contender)
        if old is None:
            raise RuntimeError(f"{contender.name}, seed {seed}: no leader at {crash_at} ms")
        sim.crash(old)
        if not sim.run_until(lambda: leader_of(sim, contender) is not None, timeout=limit):
            raise RuntimeError(f"{contender.name}, seed {seed}: no new leader within "
                               f"{limit} ms of the crash")
        elected = sim.now
        sim.run_until(lambda: any(op.status == "ok" and op.complete_time > elected
                                  for op in sim.history.operations[-3:]), timeout=limit)
        answered = min(op.complete_time for op in sim.history.operations
                       if op.status == "ok" and op.complete_time > elected)
        times.append(elected - crash_at)
        waits.append(answered - crash_at)
        messages.append(_server_messages(sim, crash_at, elected).total())
    return LeaderChange(contender.name, len(times), statistics.mean(times),
                        statistics.mean(waits), statistics.mean(messages), tuple(times))


@dataclass(frozen=True)
class PaxosDecision:
    """Single-decree Paxos: one value chosen by one proposer and ``acceptors`` acceptors."""

    runs: int
    messages: float
    delay: float


def paxos_decision(*, seeds: Iterable[int] = range(10), acceptors: int = 3) -> PaxosDecision:
    """Messages sent and time until the proposer learns its value is chosen."""
    counts, delays = [], []
    for seed in seeds:
        sim = Simulation(seed=seed, network=Network(latency=NETWORK_LATENCY))
        paxos_setup(acceptors, 1)(sim)
        sim.run()
        chosen = next(e for e in sim.trace.of_kind("note") if e.data.what == "chosen")
        counts.append(sum(1 for e in sim.trace.of_kind("send") if e.time <= chosen.time))
        delays.append(chosen.time)
    return PaxosDecision(len(counts), statistics.mean(counts), statistics.mean(delays))
