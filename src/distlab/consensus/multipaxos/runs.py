"""Experiments on Multi-Paxos, for the book's page and the tests.

`multipaxos_kv` builds a replicated key-value store with its clients; `cost_per_command`
measures the messages and round trips one command costs, for Multi-Paxos with a stable leader
and for Paxos run again for every command (`PaxosPerCommand`); `leader_change` scripts a
leader that crashes with slots in flight, and the new leader's recovery; `safety_run` watches
the invariants and the clients' history under random faults; `explore_multipaxos` model-checks
two servers competing to lead, in every order of their messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distlab.check import check_linearizability
from distlab.check.explore import ExplorationResult, explore
from distlab.check.invariants import Invariant, InvariantViolation, watch
from distlab.consensus.cluster import FaultyRun, add_kv_cluster, faulty_run, kv_cluster
from distlab.consensus.multipaxos.invariants import multipaxos_invariants
from distlab.consensus.multipaxos.messages import NOOP, CatchUp, Heartbeat
from distlab.consensus.multipaxos.nodes import MultiPaxosServer
from distlab.sim import Client, Constant, Latency, Nemesis, Network, Simulation, Uniform
from distlab.workloads.kv import MODEL, Append, Get, Put


def multipaxos_kv(*, seed: int = 0, n: int = 3, clients: int = 2, ops: int = 20,
                  latency: Latency | float = Uniform(1, 10), retry: float = 100.0,
                  nemesis: Nemesis | None = None,
                  server_class: type[MultiPaxosServer] = MultiPaxosServer,
                  **options: float | tuple[float, float]) -> Simulation:
    """A key-value store on ``n`` Multi-Paxos servers ``n1``... and ``clients`` clients
    ``c1``... (`distlab.consensus.cluster.kv_cluster`), ready to run. A client that asks a
    follower is redirected to the leader. ``options`` go to every server
    (``election_timeout``...); a ``nemesis`` must spare the clients."""
    return kv_cluster(server_class, seed=seed, n=n, clients=clients, ops=ops, latency=latency,
                      retry=retry, nemesis=nemesis, **options)


def leader_of(sim: Simulation) -> str | None:
    """The server that is up and leads the highest ballot (None: no leader)."""
    leaders = [(node.ballot, node_id) for node_id, node in sim.nodes.items()
               if isinstance(node, MultiPaxosServer) and sim.is_up(node_id)
               and node.role == "leader"]
    return max(leaders)[1] if leaders else None


# -- what a command costs ------------------------------------------------------------------------

@dataclass(frozen=True)
class CommandCost:
    """What one client command cost on average, with a stable leader and no fault:
    ``messages`` between servers, by type (heartbeats and catch-ups, which tick with time,
    not with commands, are left out), and ``round_trips`` between servers before the leader
    could answer (the client's own round trip to the leader is not counted)."""

    protocol: str
    servers: int
    commands: int
    messages: dict[str, float]
    round_trips: float

    @property
    def total(self) -> float:
        return sum(self.messages.values())


def cost_per_command(server_class: type[MultiPaxosServer] = MultiPaxosServer, *, n: int = 3,
                     ops: int = 20, delay: float = 5.0, seed: int = 0) -> CommandCost:
    """One client doing ``ops`` operations, one at a time, against ``n`` servers on a network
    where every message takes ``delay`` ms: messages and round trips per command.

    The first operation is not measured (it finds the leader, through a redirect, while the
    first phase 1 runs); each later one goes straight to the leader, so its latency is the
    client's round trip plus the servers' round trips."""
    sim = Simulation(seed=seed, network=Network(latency=Constant(delay)))
    servers = add_kv_cluster(sim, server_class, n=n, clients=1, ops=ops, retry=100.0,
                             election_timeout=(50.0, 100.0), heartbeat_interval=40.0)
    sim.run(until=10_000)
    done = [op for op in sim.history.operations if op.status == "ok"]
    if len(done) != ops or ops < 2:
        raise RuntimeError(f"cost_per_command: {len(done)} of {ops} operations completed "
                           f"(ops must be at least 2; the first one is not measured)")
    measured = done[1:]
    start, end = measured[0].invoke_time, measured[-1].complete_time
    counted: Counter[str] = Counter()
    for event in sim.trace.of_kind("send"):
        if (start <= event.time <= end and event.node in servers and event.peer in servers
                and not isinstance(event.data, (Heartbeat, CatchUp))):
            counted[type(event.data).__name__] += 1
    latency = sum(op.complete_time - op.invoke_time for op in measured) / len(measured)
    round_trip = 2 * delay
    return CommandCost(server_class.__name__, n, len(measured),
                       {kind: count / len(measured) for kind, count in counted.items()},
                       (latency - round_trip) / round_trip)


# -- a leader change, scripted -------------------------------------------------------------------

@dataclass(frozen=True)
class SlotView:
    """One server's slots at one moment: its decided log (and commands decided out of
    order), its acceptor's proposals, and whether it is up and leads."""

    id: str
    up: bool
    role: str
    ballot: Any
    log: tuple[Any, ...]
    pending: dict[int, Any]
    accepted: dict[int, tuple[Any, Any]]

    @classmethod
    def of(cls, sim: Simulation, node_id: str) -> SlotView:
        node: Any = sim.nodes[node_id]
        up = sim.is_up(node_id)
        return cls(node_id, up, node.role if up else "crashed", node.ballot, tuple(node.log),
                   dict(node.pending) if up else {}, dict(node.accepted))

    def cells(self) -> dict[int, tuple[str, str, str | None]]:
        """Slot -> (what is in it, "decided" or "accepted", the ballot accepted in): what
        `distlab.viz.slots` draws."""
        cells: dict[int, tuple[str, str, str | None]] = {}
        for slot, (ballot, command) in self.accepted.items():
            cells[slot] = (short(command), "accepted", f"{ballot[0]},{ballot[1]}")
        for slot, command in [*enumerate(self.log, 1), *self.pending.items()]:
            cells[slot] = (short(command), "decided", None)
        return cells


def short(command: Any) -> str:
    """A command in a few characters: ``put x=a``, ``get y``, ``no-op``."""
    match command:
        case Get(key=key):
            return f"get {key}"
        case Put(key=key, value=value) | Append(key=key, value=value):
            return f"{type(command).__name__.lower()} {key}={value}"
    return "no-op" if command == NOOP else repr(command)


@dataclass(frozen=True)
class LeaderChangeRun:
    """The scripted leader change: the simulation, the servers after each step (caption,
    views), and the invariant violation that stopped it (None: it ran to its end)."""

    sim: Simulation
    steps: list[tuple[str, list[SlotView]]]
    violation: InvariantViolation | None


SERVERS = ["n1", "n2", "n3"]


def leader_change(server_class: type[MultiPaxosServer] = MultiPaxosServer, *,
                  invariants: list[Invariant] | None = None) -> LeaderChangeRun:
    """Three servers; every message takes 5 ms; nobody times out by itself (each phase 1 is
    started by the script), so the steps are the same whatever the class does:

    (a) ``n1`` runs phase 1 and leads; ``c1``'s ``put x=a`` is decided in slot 1 everywhere.
    (b) ``n1``'s links to the others are cut one way while it proposes ``c2``'s ``put x=b``:
        slot 2 is accepted by ``n1`` alone. The links come back and ``c1``'s ``append
        y=c`` goes to slot 3: ``n2`` and ``n3`` accept it -- it is chosen -- and ``n1``
        crashes before their ``Accepted`` replies reach it. Nobody knows slot 3 is chosen.
    (c) ``n2`` runs phase 1 with ``n3``: it must re-propose ``append y=c`` in slot 3, and fill
        the gap, slot 2, with a no-op.
    (d) ``n1`` restarts and catches up; ``c2`` resends ``put x=b``, which goes to slot 4.

    ``invariants`` (by default `multipaxos_invariants`) are watched at every event; the first
    violation stops the script.
    """
    sim = Simulation(seed=0, network=Network(latency=Constant(5.0)))
    sim.add_nodes(server_class, SERVERS, election_timeout=(100_000, 200_000),
                  heartbeat_interval=20.0)
    sim.add_nodes(Client, ["c1", "c2"])
    watch(sim, *(multipaxos_invariants() if invariants is None else invariants))
    steps: list[tuple[str, list[SlotView]]] = []
    node: Any = sim.nodes

    def record(caption: str) -> None:
        steps.append((caption, [SlotView.of(sim, i) for i in SERVERS]))

    try:
        sim.run(until=1)
        node["n1"].start_phase1()
        sim.run(until=15)
        node["c1"].send("n1", Put("c1", 1, "x", "a"))
        sim.run(until=40)
        record("(a) n1 leads; put x=a is decided in slot 1")
        sim.cut("n1", "n2", both_ways=False)
        sim.cut("n1", "n3", both_ways=False)
        node["c2"].send("n1", Put("c2", 1, "x", "b"))
        sim.run(until=52)  # (a cut drops a message when it arrives: here at 50 ms)
        sim.heal()
        node["c1"].send("n1", Append("c1", 2, "y", "c"))
        sim.run(until=64)  # (the Accepts reach n2 and n3 at 62 ms; their replies, at 67)
        sim.crash("n1")
        record("(b) slot 2 accepted by n1 only; slot 3 by n2 and n3; n1 crashes")
        node["n2"].start_phase1()
        sim.run(until=100)
        record("(c) n2 leads: a no-op fills slot 2, slot 3 is recovered")
        sim.restart("n1")
        node["c2"].send("n2", Put("c2", 1, "x", "b"))
        sim.run(until=160)
        record("(d) n1 is back and caught up; put x=b goes to slot 4")
    except InvariantViolation as exc:
        record(f"({'abcd'[len(steps)]}) stopped: {exc.invariant} is violated")
        return LeaderChangeRun(sim, steps, exc)
    return LeaderChangeRun(sim, steps, None)


# -- safety under random faults --------------------------------------------------------------

@dataclass(frozen=True)
class SafetyRun(FaultyRun):
    """One random fault schedule (`FaultyRun`): the invariant that failed first, and when;
    whether the clients' history is linearizable (None: not checked, the run stopped); how
    many leaders there were and how many slots were decided."""

    time: float | None
    linearizable: bool | None
    leaders: int
    decided: int


def safety_run(server_class: type[MultiPaxosServer] = MultiPaxosServer, *, seed: int = 0,
               n: int = 5, until: float = 3_000.0, interval: float = 100.0) -> SafetyRun:
    """Five servers and three clients under a `Nemesis` acting every ``interval`` ms on
    average (crashes of up to two servers, partitions, 10% loss, duplication and reordering)
    for the first three quarters of the run, watched by both invariants until ``until`` ms or
    the first violation (`distlab.consensus.cluster.faulty_run`); then the clients' history
    is checked for linearizability."""
    sim, violation = faulty_run(server_class, multipaxos_invariants(), seed=seed, n=n,
                                until=until, interval=interval, clients=3, retry=60.0,
                                election_timeout=(60.0, 120.0), heartbeat_interval=20.0)
    if violation is not None:
        return SafetyRun.of(seed, violation, time=violation.time, linearizable=None,
                            leaders=_leaders(sim), decided=_decided(sim))
    return SafetyRun.of(seed, None, time=None,
                        linearizable=check_linearizability(sim.history, MODEL).ok,
                        leaders=_leaders(sim), decided=_decided(sim))


def _leaders(sim: Simulation) -> int:
    return sum(1 for e in sim.trace.of_kind("note") if e.data.what == "leader")


def _decided(sim: Simulation) -> int:
    return max(len(node.log) for node in sim.nodes.values()
               if isinstance(node, MultiPaxosServer))



# -- every schedule of a small configuration -----------------------------------------------------

def competing_leaders(server_class: type[MultiPaxosServer] = MultiPaxosServer, *,
                      leaders: int = 2, commands: int = 2) -> Callable[[Simulation], None]:
    """A ``setup(sim)`` for the schedule explorer: three servers ``n1``, ``n2``, ``n3``; each
    of the first ``leaders`` runs phase 1 once, as a ``sim.at`` action (``start_phase1('n1')``)
    that the explorer may take before or after any delivery; ``commands`` client commands,
    ``put x=v1``, ``put x=v2``..., are dealt to those servers in turn, each waiting there as
    if it had arrived during phase 1 (the leader proposes it as soon as it leads).

    Explored with ``timers=False``, no election timeout starts another phase 1 and no
    heartbeat repeats, so the states are finite. The clients ``c1``... are down from the
    start: a reply changes nothing in the servers, and replies left undelivered do not
    multiply the states.
    """
    if not isinstance(leaders, int) or not 1 <= leaders <= len(SERVERS):
        raise ValueError(f"leaders is how many of the {len(SERVERS)} servers run phase 1, "
                         f"1 to {len(SERVERS)}; got {leaders!r}")
    if not isinstance(commands, int) or commands < 0:
        raise ValueError(f"commands is how many client commands the leaders propose, 0 or "
                         f"more; got {commands!r}")
    candidates = SERVERS[:leaders]

    def setup(sim: Simulation) -> None:
        sim.add_nodes(server_class, SERVERS, election_timeout=(100_000, 200_000),
                      heartbeat_interval=20.0)
        dealt: dict[str, list[Put]] = {server: [] for server in candidates}
        for i in range(1, commands + 1):
            client = f"c{i}"
            sim.add_node(Client, client)
            sim.crash(client)
            dealt[candidates[(i - 1) % leaders]].append(Put(client, 1, "x", f"v{i}"))

        def start_phase1(server: str) -> None:
            node: Any = sim.nodes[server]
            node.waiting.extend(dealt[server])
            node.start_phase1()

        for server in candidates:
            sim.at(0, start_phase1, server)

    return setup


def explore_multipaxos(server_class: type[MultiPaxosServer] = MultiPaxosServer, *,
                       leaders: int = 2, commands: int = 2, max_depth: int = 10,
                       **options: Any) -> ExplorationResult:
    """Explore, breadth first, every schedule of up to ``max_depth`` steps of
    `competing_leaders` against one value per slot and replicas that agree.

    Two leaders make the state space too large to finish (each step about triples the
    states: 17,424 within 9 steps, 169,285 within 11), so the search is bounded by depth;
    with one leader it finishes (``leaders=1, max_depth=1_000``). ``options`` go to
    `explore` (``max_states``, ``time_budget``, ``crashes``...); there is no state or time
    bound by default.
    """
    options = {"max_states": 10_000_000, "time_budget": None, "timers": False, **options}
    return explore(competing_leaders(server_class, leaders=leaders, commands=commands),
                   multipaxos_invariants(), max_depth=max_depth, **options)
