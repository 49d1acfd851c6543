"""Lab 3c: quorum replication with read repair and hinted handoff (the notebook
``lab03c-quorum.ipynb``).

Dynamo {cite:p}`decandia2007dynamo` keeps each key on the ``N`` servers that follow it on the
ring (its *preference list*); any server coordinates a client's request, writing to the
list and answering once ``W`` of them stored it, reading from the list and answering once
``R`` replied. The student writes that coordinator, ``QuorumNode``:

* versions are `distlab.kv.versions.Version` values stamped ``(coordinator's clock, its
  id)``, the highest stamp winning (`last_writer_wins`);
* a read answers only once ``W`` replicas of the list hold the version it returns: the
  replies that already had it count, and the others are sent it (*read repair*) and count
  when they acknowledge. With ``R + W > N`` and this write-back, reads and writes are
  linearizable (Attiya, Bar-Noy and Dolev's register {cite:p}`attiya1995sharing`, with the
  simulator's clock for the writers' timestamps);
* ``R + W <= N`` is refused: a read quorum could miss the last write quorum;
* with ``sloppy=True``, a replica of the list that has not acknowledged a write after
  `FALLBACK_AFTER` ms is replaced by the next server on the ring beyond the list, sent the
  write with a *hint* naming the replica; the stand-in's acknowledgement counts towards ``W``
  (a *sloppy quorum*) -- for that replica, once, whether or not the replica acknowledges
  too --, it keeps the version apart in ``hints``, and every `HANDOFF_EVERY` ms sends it to
  its owner, dropping it once the owner acknowledges that version or a newer one (*hinted
  handoff*). A replica left with neither an acknowledgement nor a stand-in once every
  stand-in was tried gets a hint kept by the coordinator itself (not an acknowledgement).

What the student does not write is here: the ring (`ring_order`), the messages, the checks,
and `sloppy_quorum_story`, the run where a sloppy quorum's acknowledged write is missed by a
read of the preference list -- the anomaly the notebook explains.

The checks read two attributes of each server: ``data`` (key -> the `Version` it holds as a
replica) and ``hints`` ((owner, key) -> the `Version` it holds for ``owner``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from distlab.check import check_linearizability
from distlab.check.linearizability import LinearizabilityResult
from distlab.clocks.logical import VectorClock
from distlab.grading.lab import Lab, Scenario, Trial, graded, own_code
from distlab.grading.properties import (Eventually, EveryOperationCompletes, Linearizable, Run,
                                        TraceProperty, Violation)
from distlab.kv.leaderless import preference_list
from distlab.kv.versions import Version, last_writer_wins
from distlab.partitioning import ConsistentHashRing
from distlab.sim import Network, Node, Simulation, Uniform, stream
from distlab.workloads import kv

__all__ = ["FALLBACK_AFTER", "HANDOFF_EVERY", "Handoff", "HandoffAck", "NO_CLOCK",
           "QuorumLab", "Read", "ReadReply", "SERVERS", "TIMEOUT", "Version", "Write",
           "WriteAck", "last_writer_wins", "ring_order", "sloppy_quorum_story"]

#: the servers of every check
SERVERS = ("s1", "s2", "s3", "s4", "s5")
#: virtual nodes per server on the ring
VNODES = 16
#: a sloppy coordinator falls back to stand-ins for replicas silent this long, in ms
FALLBACK_AFTER = 50.0
#: a coordinator that has not answered after this long answers an error, in ms
TIMEOUT = 500.0
#: a server holding hints offers them to their owners this often, in ms
HANDOFF_EVERY = 100.0
#: once a partition heals, the replicas must agree within this long, in ms
CONVERGE_WITHIN = 1_000.0
#: the latency of the slow link from a coordinator to a replica, in ms (slower than
#: FALLBACK_AFTER: the replica acknowledges after a stand-in was sent the write for it)
SLOW_REPLICA = 80.0
#: the latency of the slow link from a stand-in to a replica, in ms (its hint may change
#: while a Handoff is on its way)
SLOW_HANDOFF = 150.0
#: when the partition of the sloppy-quorum story heals, in ms
STORY_HEAL = 1_500.0
#: the version vector of every version: this lab orders versions by stamp only
NO_CLOCK = VectorClock()
#: the library's quorum stores: a student's class may neither subclass nor import them
LIBRARY_QUORUMS = ("distlab.kv.leaderless", "distlab.kv.register", "distlab.kv.runs")


def ring_order(servers: Sequence[str], key: str) -> list[str]:
    """Every server, in the order they follow ``key`` on the ring (`VNODES` virtual nodes
    each): the first ``n`` are the key's preference list, the next its stand-ins."""
    return list(_ring_order(tuple(sorted(servers)), key))


@cache
def _ring_order(servers: tuple[str, ...], key: str) -> tuple[str, ...]:
    """`ring_order`, remembered: the checks ask it after every event."""
    return tuple(preference_list(ConsistentHashRing(servers, VNODES), key, len(servers)))


# -- messages between servers ---------------------------------------------------------------------

@dataclass(frozen=True)
class Write:
    """Coordinator to replica: keep ``version`` of ``key`` if it is newer than yours. With a
    ``hint``, the receiver stands in for that replica: it keeps the version in ``hints``."""

    op: int
    key: str
    version: Version
    hint: str | None = None


@dataclass(frozen=True)
class WriteAck:
    """Replica (or stand-in) to coordinator: I hold ``key`` at ``stamp`` or newer."""

    op: int
    key: str
    stamp: tuple[float, str]


@dataclass(frozen=True)
class Read:
    """Coordinator to replica: send me your version of ``key``."""

    op: int
    key: str


@dataclass(frozen=True)
class ReadReply:
    """Replica to coordinator: my version of ``key`` (None: I have none)."""

    op: int
    key: str
    version: Version | None


@dataclass(frozen=True)
class Handoff:
    """Stand-in to owner: the version of ``key`` I kept for you while you were unreachable."""

    key: str
    version: Version


@dataclass(frozen=True)
class HandoffAck:
    """Owner to stand-in: I hold ``key`` at ``stamp`` or newer; drop your hint."""

    key: str
    stamp: tuple[float, str]


# -- what must hold -------------------------------------------------------------------------------

def held(node: Any, key: str) -> Version | None:
    """The version ``node`` holds of ``key`` as a replica (None if none, or not a Version)."""
    version = getattr(node, "data", {}).get(key)
    return version if isinstance(version, Version) else None


class AcknowledgedOnW(TraceProperty):
    """When a server answers a client's put ``ok``, at least ``w`` distinct replicas of the
    key's preference list hold its version or a newer one (with ``sloppy``, a stand-in's
    hint for a replica counts for that replica); with ``reads``, the same for the version a
    get returns (read repair before answering)."""

    def __init__(self, n: int, w: int, sloppy: bool = False, reads: bool = False):
        self.n, self.w, self.sloppy, self.reads = n, w, sloppy, reads
        stand = " (or stand-ins holding a hint for them)" if sloppy else ""
        what = "a put is acknowledged, and a get answered," if reads else "a put is acknowledged"
        self.description = (f"{what} only once {w} replicas of its preference list{stand} "
                            f"hold its version")

    def begin(self, run: Run) -> None:
        run.state.requests = {}  # (client, msg_id) -> the kv.Put or kv.Get
        run.state.stamps = {}    # value -> the stamp of the version that carries it
        run.state.acked = {}     # (replica, key) -> the highest stamp it acknowledged

    def observe(self, run: Run) -> str | None:
        sim, state = run.sim, run.state
        for event in run.new_events():
            data = event.data
            if event.kind == "deliver" and isinstance(data, (kv.Put, kv.Get)):
                state.requests[(data.client, data.msg_id)] = data
            elif event.kind == "send" and isinstance(data, Write):
                state.stamps.setdefault(data.version.value, data.version.stamp)
            elif event.kind == "send" and isinstance(data, WriteAck):
                known = state.acked.get((event.node, data.key))
                if known is None or data.stamp > known:
                    state.acked[(event.node, data.key)] = data.stamp
            elif event.kind == "send" and isinstance(data, (kv.PutOk, kv.GetOk)):
                request = state.requests.get((event.peer, data.in_reply_to))
                if isinstance(data, kv.PutOk) and isinstance(request, kv.Put):
                    value, verb = request.value, f"put of {request.key} = {request.value!r} ok"
                elif (self.reads and isinstance(data, kv.GetOk) and isinstance(request, kv.Get)
                      and data.value is not None):
                    value, verb = data.value, f"get of {request.key} with {data.value!r}"
                else:
                    continue
                problem = self.too_few(sim, state, request.key, value, event.node, event.peer,
                                       verb, isinstance(request, kv.Get))
                if problem is not None:
                    return problem
        return None

    def too_few(self, sim: Simulation, state: Any, key: str, value: str, coordinator: str,
                client: str, verb: str, read: bool) -> str | None:
        stamp = state.stamps.get(value)
        replicas = ring_order(sorted(sim.nodes.keys() & set(SERVERS)), key)[:self.n]
        holding, went_back = [], []
        for replica in replicas:
            version = held(sim.nodes[replica], key)
            hinted = [node_id for node_id, node in sim.nodes.items() if self.sloppy
                      and isinstance(getattr(node, "hints", {}).get((replica, key)), Version)
                      and _covers(node.hints[(replica, key)], value, stamp)]
            if (version is not None and _covers(version, value, stamp)) or hinted:
                holding.append(replica + (f" (hint at {hinted[0]})" if hinted else ""))
            elif stamp is not None and state.acked.get((replica, key), ()) >= stamp:
                went_back.append((replica, version))
        if len(holding) >= self.w:
            return None
        holders = ", ".join(holding) or "none"
        said = (f"{coordinator} answered {client}'s {verb} when only {len(holding)} of its "
                f"replicas {replicas} held it ({holders}), fewer than W = {self.w}")
        if went_back:
            replica, version = went_back[0]
            has = "nothing" if version is None else repr(version.value)
            return (f"{said}. {replica} had acknowledged a newer version of {key} and now "
                    f"holds {has}: a replica keeps the newer of the version it holds and the "
                    f"one it is sent (last_writer_wins), so a late Write of an older version "
                    f"must not replace a newer one")
        misplaced = [node_id for node_id in sorted(sim.nodes.keys() & set(SERVERS))
                     if node_id not in replicas and (version := held(sim.nodes[node_id], key))
                     is not None and _covers(version, value, stamp)]
        if misplaced:
            return (f"{said}. {misplaced[0]}, not a replica of {key}, keeps it in data: a "
                    f"stand-in keeps a hinted write apart, in self.hints[(replica, key)], "
                    f"where it counts for that replica")
        if read:
            return (f"{said}: a get answers only once W replicas hold the version it returns: "
                    f"the replies that had it count, the others are sent it (read repair) "
                    f"and count when their WriteAck comes back")
        return (f"{said}: count one acknowledgement per replica of the preference list (a "
                f"set, not a counter: messages may be delivered twice), a stand-in's for the "
                f"replica it stands in for (not as one more: that replica may acknowledge "
                f"too), and answer once there are W")


class ReadsFromR(TraceProperty):
    """A coordinator answers a get only after replies from ``r`` distinct replicas to one of
    the `Read` rounds it started for it (a reply delivered twice is one replica's)."""

    def __init__(self, r: int):
        self.r = r
        self.description = f"a get is answered only after {r} distinct replicas replied"

    def begin(self, run: Run) -> None:
        run.state.asking = {}   # coordinator -> the (client, msg_id) of the get it last got
        run.state.rounds = {}   # (coordinator, op) -> (client, msg_id)
        run.state.replied = {}  # (coordinator, client, msg_id) -> {op: the replicas heard}

    def observe(self, run: Run) -> str | None:
        state = run.state
        for event in run.new_events():
            data, node = event.data, event.node
            if event.kind == "deliver" and isinstance(data, kv.Get):
                state.asking[node] = (data.client, data.msg_id)
            elif event.kind == "send" and isinstance(data, Read) and node in state.asking:
                client, msg_id = state.rounds[(node, data.op)] = state.asking[node]
                state.replied.setdefault((node, client, msg_id), {}).setdefault(data.op, set())
            elif event.kind == "deliver" and isinstance(data, ReadReply):
                request = state.rounds.get((node, data.op))
                if request is not None:
                    state.replied[(node, *request)][data.op].add(event.peer)
            elif event.kind == "send" and isinstance(data, kv.GetOk):
                rounds = state.replied.get((node, event.peer, data.in_reply_to), {})
                if rounds and max(len(heard) for heard in rounds.values()) < self.r:
                    heard = sorted(max(rounds.values(), key=len))
                    return (f"{node} answered {event.peer}'s get after replies from only "
                            f"{len(heard)} replica(s) ({', '.join(heard) or 'none'}), fewer "
                            f"than R = {self.r}: count the replicas that replied (a set of "
                            f"senders), not the replies: a reply may be delivered twice")
        return None


class OutcomeUnknown(TraceProperty):
    """``client``'s put made while ``coordinator`` is cut off from the other replicas (from
    ``cut_at`` ms) ends as an Error: the coordinator, short of W acknowledgements for
    `TIMEOUT` ms, tells the client that the outcome is unknown."""

    description = "a coordinator short of W acknowledgements answers Error after TIMEOUT"

    def __init__(self, client: str, coordinator: str, cut_at: float, why: str | None = None):
        self.client, self.coordinator, self.cut_at = client, coordinator, cut_at
        self.why = why   # what a put that ended ok did wrong, if the check knows better

    def judge(self, run: Run) -> str | None:
        cut_off = [op for op in run.sim.history.operations
                   if op.process == self.client and op.invoke_time >= self.cut_at]
        if not cut_off or cut_off[0].status == "info":
            return None
        op = cut_off[0]
        ended = ("never ended" if op.complete_time is None
                 else f"ended {op.status} at {op.complete_time:.0f} ms")
        if op.status == "ok" and self.why is not None:
            return f"{self.client}'s put of {op.key} {ended}: {self.why}"
        return (f"{self.client}'s put of {op.key} at {op.invoke_time:.0f} ms, through "
                f"{self.coordinator} whose messages to the other replicas were cut, {ended}: "
                f"a coordinator that has not answered after TIMEOUT = {TIMEOUT:g} ms answers "
                f"Error(msg_id, definite=False, text=...) (the write may or may not have "
                f"taken effect) and forgets the request")


def _covers(version: Version, value: str, stamp: Any) -> bool:
    """Whether ``version`` is the one carrying ``value`` (stamped ``stamp``) or a newer one."""
    return version.value == value or (stamp is not None and version.stamp > stamp)


def disagreement(sim: Simulation, n: int, keys: Sequence[str]) -> str | None:
    """None if every key's ``n`` replicas hold its newest version and no server holds a hint;
    else the first difference, in words."""
    servers = sorted(sim.nodes.keys() & set(SERVERS))
    for node_id in servers:
        hints = getattr(sim.nodes[node_id], "hints", {})
        if hints:
            owner, key = sorted(hints)[0]
            return (f"{node_id} still holds a hint for {owner} ({key!r}): a stand-in hands "
                    f"its hints to their owners every HANDOFF_EVERY ms, and drops each one "
                    f"once its owner acknowledges it (HandoffAck)")
    for key in keys:
        versions = {node_id: held(sim.nodes[node_id], key) for node_id in servers}
        known = [v for v in versions.values() if v is not None]
        if not known:
            continue
        newest = max(known, key=lambda v: v.stamp)
        for replica in ring_order(servers, key)[:n]:
            if versions[replica] != newest:
                has = versions[replica].value if versions[replica] else "nothing"
                return (f"{replica}, a replica of {key!r}, holds {has!r} while the newest "
                        f"version is {newest.value!r}")
    return None


class HintsDroppedOnlyWhenHeld(TraceProperty):
    """A stand-in drops a hint only once the replica holds that version or a newer one.

    A hint may be replaced by a newer version while its `Handoff` is on its way: the
    `HandoffAck` that comes back then acknowledges the older version, and dropping the hint
    on it loses the newer one (its replica never gets it, if the coordinator could not reach
    it either)."""

    description = "a stand-in drops a hint only once its replica holds that version"

    def begin(self, run: Run) -> None:
        run.state.hints = {}  # (stand-in, replica, key) -> the version it held at last look

    def observe(self, run: Run) -> str | None:
        sim, state = run.sim, run.state
        now = {}
        for node_id in sorted(sim.nodes.keys() & set(SERVERS)):
            for (replica, key), version in getattr(sim.nodes[node_id], "hints", {}).items():
                if isinstance(version, Version):
                    now[(node_id, replica, key)] = version
        for (stand_in, replica, key), version in state.hints.items():
            if (stand_in, replica, key) in now or replica not in sim.nodes:
                continue
            holds = held(sim.nodes[replica], key)
            if holds is None or holds.stamp < version.stamp:
                has = "nothing" if holds is None else repr(holds.value)
                state.hints = now
                return (f"{stand_in} dropped its hint of {key} = {version.value!r} for "
                        f"{replica}, which holds {has}: a HandoffAck acknowledges the stamp "
                        f"it names; if the hint was replaced by a newer version since its "
                        f"Handoff left, keep it (drop a hint only if its stamp is <= the "
                        f"acknowledged one)")
        state.hints = now
        return None


class ReplicasConverge(Eventually):
    """Within ``within`` ms of the start, every key's replicas hold its newest version and no
    hint is left, and it stays so to the end."""

    def __init__(self, n: int, keys: Sequence[str], within: float):
        self.n, self.keys = n, tuple(keys)
        super().__init__("every key's N replicas hold its newest version, and no hint is left",
                         lambda sim: disagreement(sim, n, self.keys) is None, within,
                         until_end=True)

    def judge(self, run: Run) -> str | Violation | None:
        problem = super().judge(run)
        if problem is None:
            return None
        why = disagreement(run.sim, self.n, self.keys)
        if isinstance(problem, Violation):
            return problem
        return f"{problem}; at the end, {why}" if why else problem


# -- the lab --------------------------------------------------------------------------------------

def refuse_library_quorums(node: Any) -> type[Node]:
    """``node``, if it is a Node class of the student's own (`own_code`)."""
    if not (isinstance(node, type) and issubclass(node, Node)):
        raise TypeError(f"QuorumLab takes your node class (a subclass of distlab.sim.Node), "
                        f"such as QuorumLab(QuorumNode); got {node!r}")
    return own_code(node, LIBRARY_QUORUMS, "quorum store")


class QuorumLab(Lab):
    """The checks of lab 3c, for the student's ``QuorumNode``."""

    title = "Lab 3c: quorum replication"
    node_attributes = ("data", "hints")

    def __init__(self, node: type[Node]):
        self.node = refuse_library_quorums(node)

    def cluster(self, sim: Simulation, *, sloppy: bool, clients: int, ops: int,
                operations: Sequence[tuple[str, str]], servers: Sequence[str] = SERVERS,
                starts: Sequence[int] = ()) -> None:
        """The five servers (N=3, R=2, W=2) and ``clients`` clients, client ``i`` starting at
        server ``starts[i]`` of ``servers`` and moving to the next on a timeout."""
        sim.add_nodes(self.node, SERVERS, servers=list(SERVERS), n=3, r=2, w=2, sloppy=sloppy)
        for c in range(clients):
            start = starts[c] if c < len(starts) else c % len(servers)
            order = [*servers[start:], *servers[:start]]
            sim.add_node(kv.KVClient, f"c{c + 1}", server=order, ops=ops, retry=2 * TIMEOUT,
                         operations=tuple(operations))

    def strict(self, seed: int, network: Network, crashed: int = 0,
               run_for: float = 3_000) -> Scenario:
        """Four clients, gets and puts on two keys, strict quorums; ``crashed`` servers
        (drawn by the seed) down from the start."""
        rng = stream(seed, "lab3c-strict")
        down = rng.sample(SERVERS, crashed)
        up = [s for s in SERVERS if s not in down]
        starts = [rng.randrange(len(up)) for _ in range(4)]
        operations = [("get", "x"), ("put", "x"), ("get", "y"), ("put", "y")]

        def setup(sim: Simulation) -> None:
            self.cluster(sim, sloppy=False, clients=4, ops=12, operations=operations,
                         servers=up, starts=starts)
            for node_id in down:
                sim.crash(node_id)

        return Scenario(setup, run_for=run_for, network=network,
                        properties=[AcknowledgedOnW(3, 2, reads=True), ReadsFromR(2),
                                    EveryOperationCompletes(), Linearizable(kv.MODEL.name)])

    # -- part A: strict quorums ------------------------------------------------------------------
    @graded(part="A", seeds=20, description="N=3, R=2, W=2 on 5 servers, no failure, messages "
            "taking 1 to 30 ms: every put acknowledged on W replicas; every operation "
            "completes; the history is linearizable (every read sees the latest write)")
    def test_reads_see_the_latest_write_A(self, seed: int) -> Scenario:
        return self.strict(seed, Network(latency=Uniform(1, 30)))

    @graded(part="A", seeds=20, description="the same with one server down from the start: "
            "W and R replicas of every key are still up, so every operation completes")
    def test_one_server_down_A(self, seed: int) -> Scenario:
        return self.strict(seed, Network(latency=Uniform(1, 30)), crashed=1)

    @graded(part="A", seeds=20, description="the same with 30% of messages delivered twice "
            "and 20% held back: an acknowledgement delivered twice counts once")
    def test_duplicated_messages_A(self, seed: int) -> Scenario:
        return self.strict(seed, Network(latency=Uniform(1, 30), duplicate=0.3, reorder=0.2,
                                         reorder_delay=100))

    @graded(part="A", seeds=20, description="a write reaches only one replica (its "
            "coordinator's messages to the other servers are cut from 100 to 800 ms): its "
            "client is told the outcome is unknown; three readers then read the key through "
            "other servers, and no read may go back to the old value after one saw the new")
    def test_partial_write_is_repaired_A(self, seed: int) -> Scenario:
        replicas = ring_order(SERVERS, "x")[:3]
        others = [s for s in SERVERS if s != replicas[0]]
        rng = stream(seed, "lab3c-partial")
        starts = [rng.randrange(len(others)) for _ in range(3)]

        def setup(sim: Simulation) -> None:
            sim.add_nodes(self.node, SERVERS, servers=list(SERVERS), n=3, r=2, w=2,
                          sloppy=False)
            sim.add_node(kv.KVClient, "c0", server=replicas[0], ops=2, think=100.0,
                         retry=2 * TIMEOUT, operations=(("put", "x"),))
            for c, start in enumerate(starts, 1):
                sim.add_node(kv.KVClient, f"c{c}", server=[*others[start:], *others[:start]],
                             ops=15, think=60.0, retry=2 * TIMEOUT, operations=(("get", "x"),))

            def cut_off() -> None:
                for other in others:
                    sim.cut(replicas[0], other, both_ways=False)

            sim.at(100.0, cut_off)
            sim.at(800.0, sim.heal)

        return Scenario(setup, run_for=2_500, network=Network(latency=Uniform(1, 30)),
                        properties=[AcknowledgedOnW(3, 2, reads=True),
                                    OutcomeUnknown("c0", replicas[0], cut_at=100.0),
                                    Linearizable(kv.MODEL.name)])

    @graded(part="A", seeds=1, description="R + W <= N is refused with a ValueError (a read "
            "could miss the last write), as are R or W outside 1..N; R + W > N is accepted")
    def test_weak_quorums_are_refused_A(self, seed: int) -> Trial:
        node = self.node
        cases = [(3, 1, 1), (3, 1, 2), (5, 2, 3), (3, 0, 3), (3, 2, 4), (3, 2, 2), (3, 1, 3),
                 (5, 3, 3)]

        def body() -> list[tuple[str, str]]:
            seen = []
            for n, r, w in cases:
                sim = Simulation(seed=seed)
                try:
                    sim.add_node(node, "s1", servers=list(SERVERS), n=n, r=r, w=w,
                                 sloppy=False)
                except Exception as error:  # what it raised is what is judged
                    cause = error.__cause__ or error
                    if isinstance(cause, NotImplementedError):
                        raise cause  # reported as "not implemented yet"
                    seen.append((type(cause).__name__, str(cause)))
                else:
                    seen.append(("", ""))
            return seen

        def judge(seen: Any) -> Violation | None:
            description = "R + W <= N (and R or W outside 1..N) is refused; R + W > N is not"
            if type(seen) is not list or len(seen) != len(cases):
                return Violation(description, f"unexpected answers {seen!r:.200}", 0.0)
            for (n, r, w), (kind, message) in zip(cases, seen):
                strong = 1 <= r <= n and 1 <= w <= n and r + w > n
                if strong and kind:
                    return Violation(description, f"QuorumNode(n={n}, r={r}, w={w}) raised "
                                     f"{kind}: {message}; R + W > N must be accepted", 0.0)
                if not strong and kind != "ValueError":
                    got = f"it raised {kind}: {message}" if kind else "it was accepted"
                    why = ("a read quorum of R could miss every replica of the last write "
                           "quorum of W" if r + w <= n else "R and W count replicas, 1 to N")
                    return Violation(description, f"QuorumNode(n={n}, r={r}, w={w}): "
                                     f"expected a ValueError ({why}); {got}", 0.0)
            return None

        return Trial(body, time_limit=10.0, judge=judge)

    # -- part B: sloppy quorums, hinted handoff ---------------------------------------------------
    def partitioned(self, seed: int, cuts: int) -> Scenario:
        """Sloppy quorums; ``cuts`` partitions in a row, each cutting two random servers
        off for 700 ms (from 50 ms, then every 950 ms), while three clients put to four keys
        through the servers the first partition leaves reachable."""
        rng = stream(seed, "lab3c-partition", cuts)
        cut = [rng.sample(SERVERS, 2) for _ in range(cuts)]
        reachable = [s for s in SERVERS if s not in cut[0]]
        starts = [rng.randrange(len(reachable)) for _ in range(3)]
        heal_at = 50.0 + 950.0 * (cuts - 1) + (1_450.0 if cuts == 1 else 700.0)
        keys = ("x", "y", "z", "w")

        def setup(sim: Simulation) -> None:
            self.cluster(sim, sloppy=True, clients=3, ops=8, starts=starts,
                         operations=[("put", key) for key in keys], servers=reachable)
            for i, side in enumerate(cut):
                sim.at(50.0 + 950.0 * i, sim.partition, set(side))
            sim.at(heal_at, sim.heal)

        return Scenario(setup, run_for=heal_at + CONVERGE_WITHIN + 500,
                        network=Network(latency=Uniform(1, 10)),
                        properties=[AcknowledgedOnW(3, 2, sloppy=True), EveryOperationCompletes(),
                                    HintsDroppedOnlyWhenHeld(),
                                    ReplicasConverge(3, keys, heal_at + CONVERGE_WITHIN)])

    @graded(part="B", seeds=20, description="sloppy quorums; two servers cut off from 50 ms "
            "to 1.5 s while three clients write: every put completes (stand-ins hold hints); "
            "within 1 s of the heal every key's 3 replicas hold its newest version and no "
            "hint is left")
    def test_replicas_converge_after_a_partition_B(self, seed: int) -> Scenario:
        return self.partitioned(seed, 1)

    @graded(part="B", seeds=20, description="two partitions in a row (50 to 750 ms, 1 to "
            "1.7 s), of two random servers each: a stand-in may be cut off from the replica "
            "it holds a hint for; within 1 s of the last heal the replicas agree, no hint left")
    def test_replicas_converge_after_two_partitions_B(self, seed: int) -> Scenario:
        return self.partitioned(seed, 2)

    @graded(part="B", seeds=4, description="a coordinator that is a stand-in of the key "
            "reaches, until 800 ms, only the key's first replica, over a slow link (80 ms), "
            "and neither other replica nor the other stand-in: its own hint for the first "
            "replica and that replica's late acknowledgement count once (the put, short of W, "
            "ends in Error); every stand-in tried, it keeps hints for the two other replicas "
            "itself, and within 1 s of the heal all three hold the write")
    def test_slow_replica_and_unreachable_stand_in_B(self, seed: int) -> Scenario:
        key = ("x", "y", "z", "w")[seed % 4]
        replicas, (coordinator, other) = ring_order(SERVERS, key)[:3], ring_order(SERVERS,
                                                                                 key)[3:]
        network = Network(latency=Uniform(1, 10))
        network.set_link(coordinator, replicas[0], latency=SLOW_REPLICA)
        heal_at = 800.0

        def setup(sim: Simulation) -> None:
            sim.add_nodes(self.node, SERVERS, servers=list(SERVERS), n=3, r=2, w=2, sloppy=True)
            sim.add_node(kv.KVClient, "c1", server=coordinator, ops=1, retry=4 * TIMEOUT,
                         operations=(("put", key),))
            for unreachable in (*replicas[1:], other):
                sim.cut(coordinator, unreachable, both_ways=False)
            sim.at(heal_at, sim.heal)

        return Scenario(setup, run_for=heal_at + CONVERGE_WITHIN + 500, network=network,
                        properties=[AcknowledgedOnW(3, 2, sloppy=True),
                                    OutcomeUnknown("c1", coordinator, cut_at=0.0, why=(
                                        f"only {replicas[0]} acknowledged it, itself and "
                                        f"through a stand-in's hint, which count once; "
                                        f"hints a coordinator keeps itself are no "
                                        f"acknowledgements. Short of W, it must end in "
                                        f"Error after TIMEOUT")),
                                    HintsDroppedOnlyWhenHeld(),
                                    ReplicasConverge(3, (key,), heal_at + CONVERGE_WITHIN)])

    @graded(part="B", seeds=4, description="a hint replaced while its handoff is on its way: "
            "a key's coordinator cannot reach its first replica (until 400 ms), so each of two "
            "puts leaves a hint for it at a stand-in, whose messages to the replica take "
            "150 ms (and are lost from 300 to 400 ms); the HandoffAck of the first version "
            "comes back after the second replaced it, and the stand-in must keep the second "
            "and hand it off too")
    def test_hint_replaced_during_its_handoff_B(self, seed: int) -> Scenario:
        key = ("x", "y", "z", "w")[seed % 4]
        order = ring_order(SERVERS, key)
        first, coordinator, stand_in = order[0], order[1], order[3]
        network = Network(latency=Uniform(1, 10))
        network.set_link(stand_in, first, latency=SLOW_HANDOFF, both_ways=False)

        def setup(sim: Simulation) -> None:
            sim.add_nodes(self.node, SERVERS, servers=list(SERVERS), n=3, r=2, w=2, sloppy=True)
            sim.add_node(kv.KVClient, "c1", server=coordinator, ops=2, think=100.0,
                         retry=2 * TIMEOUT, operations=(("put", key),))
            sim.cut(coordinator, first, both_ways=False)
            # the first version's Handoff (sent at 100 ms) arrives at 250 ms, and its
            # HandoffAck after the second version replaced the hint; the Handoffs sent at
            # 150 to 250 ms are lost: only a Handoff sent after that brings the second version
            sim.at(300.0, sim.cut, stand_in, first, False)
            sim.at(400.0, sim.heal)

        return Scenario(setup, run_for=1_500, network=network,
                        properties=[AcknowledgedOnW(3, 2, sloppy=True), EveryOperationCompletes(),
                                    HintsDroppedOnlyWhenHeld(),
                                    ReplicasConverge(3, (key,), CONVERGE_WITHIN)])

    @graded(part="B", seeds=5, description="the anomaly of sloppy quorums (the notebook's "
            "story): key x's first replica and both stand-ins cut off from its two other "
            "replicas for 1.5 s; c1's put during the partition must complete (stand-ins' "
            "acknowledgements count towards W), c2's reads on the other side must complete, "
            "and after the heal the handoff must bring the put to them. In between, c2 reads "
            "the old value after the put was acknowledged: the history is not linearizable, "
            "because a sloppy write quorum is not made of the key's replicas")
    def test_the_sloppy_quorum_anomaly_B(self, seed: int) -> Scenario:
        return Scenario(story_setup(self.node), run_for=STORY_HEAL + 1_000,
                        network=Network(latency=Uniform(1, 10)),
                        properties=[SloppyQuorumAnomaly()])


# -- the anomaly of sloppy quorums ----------------------------------------------------------------

@dataclass(frozen=True)
class SloppyStory:
    """What `sloppy_quorum_story` saw: the run, the key's replicas and stand-ins, the two
    sides of the partition, and the linearizability checker's verdict on the history."""

    sim: Simulation
    replicas: tuple[str, ...]
    stand_ins: tuple[str, ...]
    sides: tuple[tuple[str, ...], tuple[str, ...]]
    verdict: LinearizabilityResult

    def lines(self) -> list[str]:
        """The story in words, from the run's history."""
        out = [f"key 'x': replicas {', '.join(self.replicas)}; next on the ring "
               f"{', '.join(self.stand_ins)}",
               f"partition from 50 to {STORY_HEAL:g} ms: {' '.join(self.sides[0])} | "
               f"{' '.join(self.sides[1])}"]
        for op in self.sim.history.operations:
            done = "-" if op.complete_time is None else f"{op.complete_time:.0f}"
            shown = f"= {op.value!r}" if op.f == "put" else f"-> {op.output!r}"
            out.append(f"  {op.process}: {op.f} x {shown:11} {op.status}, from "
                       f"{op.invoke_time:.0f} to {done} ms")
        out.append(f"linearizable: {self.verdict.ok}")
        return out


def story_sides() -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Key ``x``'s replicas, its stand-ins, and the two sides of the story's partition."""
    order = ring_order(SERVERS, "x")
    replicas, stand_ins = tuple(order[:3]), tuple(order[3:])
    return replicas, stand_ins, (("c1", replicas[0], *stand_ins), ("c2", *replicas[1:]))


def story_setup(node: type[Node]) -> Callable[[Simulation], None]:
    """The story's cluster, clients and partition (see `sloppy_quorum_story`)."""
    replicas, _, sides = story_sides()

    def setup(sim: Simulation) -> None:
        sim.add_nodes(node, SERVERS, servers=list(SERVERS), n=3, r=2, w=2, sloppy=True)
        sim.add_node(kv.KVClient, "c1", server=replicas[0], ops=2, think=100.0,
                     retry=2 * TIMEOUT, operations=(("put", "x"),))
        sim.add_node(kv.KVClient, "c2", server=replicas[1], ops=4, think=600.0,
                     retry=2 * TIMEOUT, operations=(("get", "x"),))
        sim.at(50.0, sim.partition, set(sides[0]), set(sides[1]))
        sim.at(STORY_HEAL, sim.heal)

    return setup


class SloppyQuorumAnomaly(TraceProperty):
    """The story's run goes as a sloppy quorum with hinted handoff makes it go: c1's put
    during the partition completes, c2's reads complete, and c2's last read, after the heal,
    returns the put. Each step that does not happen is explained, with the anomaly."""

    description = "the sloppy-quorum story runs as sloppy quorums and hinted handoff make it"

    def judge(self, run: Run) -> str | None:
        replicas, stand_ins, _ = story_sides()
        ops = run.sim.history.operations
        puts = [op for op in ops if op.process == "c1"]
        gets = [op for op in ops if op.process == "c2"]
        if len(puts) < 2 or puts[1].status != "ok" or puts[1].complete_time >= STORY_HEAL:
            return (f"c1's put of x during the partition (sent to {replicas[0]}) was not "
                    f"acknowledged before the heal at {STORY_HEAL:g} ms: with sloppy=True, "
                    f"replicas {' and '.join(replicas[1:])} silent for {FALLBACK_AFTER:g} ms "
                    f"are replaced by the stand-ins {' and '.join(stand_ins)}, whose "
                    f"acknowledgements count towards W")
        unfinished = [op for op in gets if op.status != "ok"]
        if unfinished:
            return (f"c2's read {unfinished[0]} did not complete: {' and '.join(replicas[1:])} "
                    f"are on c2's side of the partition, R = 2 of the key's replicas, so a "
                    f"read through them must answer")
        written = puts[1].value
        if gets[-1].output != written:
            return (f"c2's last read, at {gets[-1].invoke_time:.0f} ms (the partition healed "
                    f"at {STORY_HEAL:g} ms), returned {gets[-1].output!r}, not c1's "
                    f"acknowledged {written!r}: the stand-ins must hand the hinted write off "
                    f"to {' and '.join(replicas[1:])} (every {HANDOFF_EVERY:g} ms) once they "
                    f"can reach them")
        return None


def sloppy_quorum_story(node: type[Node], seed: int = 1) -> SloppyStory:
    """The anomaly of sloppy quorums, in one run of ``node`` (N=3, R=2, W=2, sloppy).

    Key ``x``'s first replica and its two stand-ins are cut off from its other two replicas
    from 50 ms to 1.5 s. Client c1 writes x through the first replica, once before the
    partition and once during it: then the two silent replicas are replaced by the stand-ins,
    whose acknowledgements make W = 2, and c1 is told ok. Client c2 reads x through the
    second replica every 600 ms: during the partition R = 2 replies come from the two
    replicas on its side, which never saw the second write, and it reads the first value --
    after the second write completed. After the heal the stand-ins hand the write off, and
    c2's last read sees it. R + W > N promised that a read quorum meets every write quorum;
    a sloppy write quorum is not made of the key's replicas, so the promise does not hold.
    The graded check ``test_the_sloppy_quorum_anomaly_B`` runs the same story.
    """
    refuse_library_quorums(node)
    replicas, stand_ins, sides = story_sides()
    sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 10)))
    story_setup(node)(sim)
    sim.run(until=STORY_HEAL + 1_000)
    return SloppyStory(sim, replicas, stand_ins, sides,
                       check_linearizability(sim.history, kv.MODEL.name))
