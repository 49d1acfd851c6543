"""Lab 5a: a fault-tolerant key-value service on Raft (the notebook ``lab05a-kv-raft.ipynb``).

State machine replication {cite:p}`schneider1990implementing` with Raft {cite:p}`ongaro2014raft` as
the log: the student writes the *service* above the log -- a key-value store that takes
`Get`, `Put` and `Append` requests from clients, puts them in the Raft log, applies them in
log order, and answers once they are applied -- and the *clerk*, the client that finds the
leader and retries. Section 6.3 of Ongaro's thesis (client sessions) and MIT 6.5840's
key-value lab are the models: duplicate detection by client id and request id, a table that
survives leader changes and snapshots, redirects, timeouts, and snapshots that keep the log
under a bound.

**The Raft under the service.** The student's server class is a mixin: the checks combine it
with a Raft class (``class Server(KVServer, Raft)``) that gives it four methods:

* ``self.start(command)``: if this server leads, append ``command`` to the log, replicate it,
  and return its index; else return None (and do nothing);
* ``self.leader_hint()``: the server this one believes leads (None: it does not know);
* ``self.log_size()``: how many entries the Raft log holds now (those not in a snapshot);
* ``self.compact(index, state)``: the service's ``state`` includes every entry up to
  ``index``: Raft saves it as its snapshot and drops those entries from the log;

and calls two methods the service writes:

* ``self.apply_command(index, command)``: the committed entry at ``index``, on every server,
  once each, in index order (``command`` is None for a leader's no-op entry);
* ``self.restore(state)``: replace the service's state by a snapshot's (after a restart, or
  when the leader sends its snapshot to a follower that is far behind).

By default that Raft is the library's (`LibraryRaft`, on `distlab.consensus.raft.node`). A
reader's own Raft of lab 4 plugs in with ``KVRaftLab(KVServer, Clerk, raft=MyRaftNode)``:
`lab4_raft` adapts it (its ``on_submit`` starts a command, its ``apply`` notes go to
``apply_command`` and ``restore``, and ``compact`` calls its ``snapshot(index, data)`` of lab
4's part D). With part D it takes every part; without it, part A only (a compaction raises
`NoSnapshots`, which says so). Service and Raft share one object: the service keeps its state in
names of its own (``data``, ``sessions``, ``waiting``), not in Raft's (``term``, ``log``,
``role``, ``state``, ``commit_index``, ``last_applied``, ``machine``...).

**The checks.** Part A: the service (one client, many clients, an unreliable network,
duplicate requests, crashes and restarts, partitions, a leader cut off with its clients,
many partitions with crashes, and speed with a busy client). Part B: snapshots (the log and
the snapshot under bounds, restarts from the snapshot, a follower brought up to date by one,
duplicates across snapshots). Part C: the service as real processes over TCP on loopback,
its leader killed with ``kill -9``. Every history is checked with the linearizability checker.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from distlab.consensus.raft.messages import AppendEntries, Entry, InstallSnapshot
from distlab.consensus.raft.node import RaftNode
from distlab.consensus.raft.real import kill_the_leader
from distlab.grading.lab import Lab, Scenario, Trial, graded, own_code
from distlab.grading.properties import (EveryOperationCompletes, Linearizable, Run, TraceProperty,
                                        Violation)
from distlab.sim import (Client, ConfigurationError, Network, Node, NodeError, Simulation, Uniform,
                         stream)
from distlab.workloads import kv
from distlab.workloads.client import NotLeader
from distlab.workloads.kv import Append, AppendOk, Get, GetOk, KVClient, Put, PutOk

__all__ = ["Append", "AppendOk", "ClerkBase", "Get", "GetOk", "KVRaftLab", "LibraryRaft",
           "MAX_LOG", "MIN_RATE", "NoSnapshots", "NotLeader", "Put", "PutOk", "RETRY",
           "kv_run", "lab4_raft", "leader"]

#: how long a clerk waits for a reply before it sends the request to the next server, in ms
RETRY = 100.0
#: part B: the service compacts the log once it holds more than this many entries
MAX_LOG = 10
#: part C: the real processes compact their logs past this many entries
REAL_MAX_LOG = 4
#: a busy client must complete at least this many operations per simulated second
MIN_RATE = 25.0
#: an unreliable network: lost, repeated and late messages
UNRELIABLE = {"loss": 0.1, "duplicate": 0.1, "reorder": 0.2, "reorder_delay": 200}
#: the code a student's classes may not build on: the library's key-value machine (its
#: sessions are this lab's duplicate table) and the library's Raft
LIBRARY_SERVICE = ("distlab.consensus.raft.node", "distlab.kv.machine")
#: the servers of the checks
THREE = ("n1", "n2", "n3")
FIVE = ("n1", "n2", "n3", "n4", "n5")


# -- the Raft under the service ----------------------------------------------------------------

class LibraryRaft(RaftNode):
    """The library's Raft (`RaftNode`) with the interface the service uses (see the module's
    docstring): `start`, `leader_hint`, `log_size`, `compact`; it calls the service's
    ``apply_command`` and ``restore``, and leaves the clients' requests to the service.

    ``_lab_applied`` is the index of the last entry the service has seen (applied, or
    included in a snapshot it restored); `apply_committed` is the one place that brings it up
    to date.
    """

    requests: tuple[type, ...] = ()   # client requests go to the service, not to Raft

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._lab_applied = 0

    def start(self, command: Any) -> int | None:
        """Append ``command`` and replicate it, if this server leads: its index, else None."""
        if self.role != "leader":
            return None
        self.log.append(Entry(self.term, command))
        self.broadcast_append()
        return self.last_index()

    def leader_hint(self) -> str | None:
        return self.leader_id

    def log_size(self) -> int:
        return len(self.log)

    def compact(self, index: int, state: Any) -> None:
        """Make ``state`` (the service's, after the entry at ``index``) the snapshot, and
        drop the log up to ``index``."""
        if not self.snapshot_index < index <= self._lab_applied:
            raise ValueError(f"compact(index={index!r}, state): index must be an entry the "
                             f"service has applied and not yet in the snapshot (from "
                             f"{self.snapshot_index + 1} to {self._lab_applied})")
        rest = self.log[index + 1 - self.log_start:]
        self.storage["snapshot"] = (index, self.term_at(index), state)
        self.storage["log"] = rest
        self.note("snapshot", index=index)

    def on_start(self) -> None:
        super().on_start()
        self._lab_applied = 0
        self.apply_committed()       # (a snapshot found in storage: restore it)

    def apply_committed(self) -> None:
        """Give the service a snapshot it has not seen (one found at a restart, or installed
        from the leader), then every committed entry it has not applied, in order."""
        index, _, state = self.storage.get("snapshot", (0, 0, None))
        if index > self._lab_applied:
            self.restore(state)
            self._lab_applied = index
        while self._lab_applied < self.commit_index:
            index = self._lab_applied = self._lab_applied + 1
            self.apply_command(index, self.log[index - self.log_start].command)
        self.last_applied = self._lab_applied

    @property
    def _lab_sizes(self) -> tuple[int, int, int]:
        """What the checks record after every event: the log's length, and the sizes (in
        characters of their repr) of the snapshot's state and of the service's data."""
        state = self.storage.get("snapshot", (0, 0, None))[2]
        return (len(self.log), 0 if state is None else len(repr(state)), data_size(self))


def data_size(server: Any) -> int:
    """The characters of the keys and values of a server's ``data`` (-1 if not a dict)."""
    data = getattr(server, "data", None)
    if not isinstance(data, dict):
        return -1
    return sum(len(str(key)) + len(str(value)) for key, value in data.items())


class NoSnapshots(ConfigurationError):
    """The service asked a lab-4 Raft without snapshots (parts A to C only) to compact."""


#: the timer a lab-4 Raft is given when the service asks it to compact (`lab4_raft`)
COMPACT_TIMER = "service: compact"


def lab4_raft(raft: type[Node]) -> type[Node]:
    """The interface of the service (see the module's docstring) on a lab-4 Raft class.

    Lab 4's contract is the ``apply`` note (``self.note("apply", index=i, command=c)`` for an
    entry, ``snapshot=data`` for a snapshot installed or found at a restart) and, from its
    part D, ``snapshot(index, data)``. So: ``start`` calls its ``on_submit`` when it leads and
    returns its last index; each ``apply`` note goes to the service (``apply_command``, or
    ``restore`` for a snapshot); ``compact`` calls its ``snapshot`` in an event of its own
    (the timer `COMPACT_TIMER`), as lab 4's service does, so that compaction never runs
    inside the Raft's own apply loop; and the leader it last heard from is the hint. A Raft
    without part D raises `NoSnapshots` at its first compaction: it can take part A only.
    """
    if not (isinstance(raft, type) and issubclass(raft, Node)
            and callable(getattr(raft, "on_submit", None))):
        raise TypeError(f"raft= takes your Raft class of lab 4 (a Node with on_submit, which "
                        f"notes 'apply' for each entry it applies); got {raft!r}")
    raft_snapshot = getattr(raft, "snapshot", None)   # lab 4's part D (the service's own
    #                                                   snapshot() shadows it in the server)

    class Lab4Raft(raft):  # type: ignore[valid-type, misc]
        def start(self, command: Any) -> int | None:
            if getattr(self, "state", None) != "leader":
                return None
            self.on_submit(command)
            last_index = getattr(self, "last_index", None)
            return last_index() if callable(last_index) else len(self.log)

        def leader_hint(self) -> str | None:
            return self.__dict__.get("_lab_leader")

        def log_size(self) -> int:
            return len(self.log)

        def compact(self, index: int, state: Any) -> None:
            self.__dict__["_lab_compact"] = (index, state)   # the latest request wins
            self.set_timer(0.0, COMPACT_TIMER)

        def note(self, what: str, **details: Any) -> None:
            super().note(what, **details)
            if what != "apply":
                return
            if "snapshot" in details:
                self.__dict__["_lab_snapshot_size"] = len(repr(details["snapshot"]))
                self.restore(details["snapshot"])
            else:
                self.apply_command(details["index"], details.get("command"))

        def on_timer(self, name: str) -> None:
            if name != COMPACT_TIMER:
                super().on_timer(name)
                return
            index, state = self.__dict__.pop("_lab_compact")
            try:
                if not callable(raft_snapshot):
                    raise NotImplementedError
                raft_snapshot(self, index, state)
            except NotImplementedError:
                raise NoSnapshots(
                    f"{raft.__name__}.snapshot(index, data) is not written (lab 4's part D): "
                    f"take parts B and C with the library's Raft (KVRaftLab(KVServer, "
                    f"Clerk) without raft=), or finish part D") from None
            self.__dict__["_lab_snapshot_size"] = len(repr(state))

        def on_message(self, src: str, msg: Any) -> None:
            if (isinstance(msg, AppendEntries | InstallSnapshot)
                    and msg.term >= getattr(self, "term", 0)):
                self.__dict__["_lab_leader"] = msg.leader_id
            super().on_message(src, msg)

        @property
        def _lab_sizes(self) -> tuple[int, int, int]:
            log = getattr(self, "log", None)
            return (len(log) if isinstance(log, list) else -1,
                    self.__dict__.get("_lab_snapshot_size", 0), data_size(self))

    Lab4Raft.__name__ = Lab4Raft.__qualname__ = f"Lab4Raft({raft.__name__})"
    return Lab4Raft


def server_class(service: type[Node], raft: type[Node]) -> type[Node]:
    """The class of a server: the student's service on ``raft``."""
    name = f"{service.__name__}On{raft.__name__.split('(')[0]}"
    return type(name, (service, raft), {"__module__": service.__module__,
                                         "__doc__": service.__doc__})


# -- the clerk's frame -------------------------------------------------------------------------

class ClerkBase(KVClient):
    """The key-value workload's client (`distlab.workloads.kv.KVClient`) without its retry
    loop: a subclass writes `send_request`, ``on_timer`` and ``on_message``.

    It runs ``ops`` operations, one at a time, and records each in the history. For each it
    builds the request (a `Get`, `Put` or `Append` with this client's id and its ``msg_id``,
    1, 2, 3...) and calls ``send_request(request)``. ``self.servers`` lists every server,
    ``self.server`` is the one it talks to now, ``self.next_server()`` moves to the next,
    ``self.retry`` is `RETRY`; ``self.waiting`` is the request still waiting for its reply
    (None: none), and ``self.finish(reply)`` records the reply and starts the next operation.
    """

    def transmit(self) -> None:
        self.send_request(self.waiting)

    def send_request(self, request: Get | Put | Append) -> None:
        raise NotImplementedError(f"{type(self).__name__}.send_request: send the request to "
                                  f"the server you believe leads, and wait")

    def on_timer(self, name: str) -> None:
        raise NotImplementedError(f"{type(self).__name__}.on_timer: no reply in time: try the "
                                  f"next server")

    def on_message(self, src: str, msg: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__}.on_message: a reply, or NotLeader")


# -- runs --------------------------------------------------------------------------------------

def kv_run(server: type[Node], clerk: type[Node], *, seed: int = 1, servers: Sequence[str] = THREE,
           clients: int = 2, ops: int = 20, max_log: int | None = None,
           operations: Sequence[tuple[str, str]] = kv.OPERATIONS, think: float = 0.0,
           network: Network | None = None) -> Simulation:
    """A simulation of the service (``server``, a class that `KVRaftLab.server` built, or
    any server of the interface) with ``clients`` clerks, ready to run."""
    sim = Simulation(seed=seed, network=network or Network(latency=Uniform(1, 10)))
    add_service(sim, server, clerk, servers, clients, ops, max_log, operations, think)
    return sim


def add_service(sim: Simulation, server: type[Node], clerk: type[Node], servers: Sequence[str],
                clients: int, ops: int, max_log: int | None,
                operations: Sequence[tuple[str, str]], think: float = 0.0,
                operations_of: Mapping[str, Sequence[tuple[str, str]]] | None = None) -> None:
    """Add the servers and the clerks ``c1``... (each starts with its own server, and waits
    ``think`` ms between two operations); a clerk named in ``operations_of`` draws its
    operations from there."""
    sim.add_nodes(server, list(servers), max_log=max_log)
    servers = list(servers)
    for i in range(clients):
        first = i % len(servers)
        sim.add_node(clerk, f"c{i + 1}", server=servers[first:] + servers[:first], ops=ops,
                     retry=RETRY, think=think,
                     operations=(operations_of or {}).get(f"c{i + 1}", operations))


def leader(sim: Simulation) -> str | None:
    """The live server that leads in the highest term (None: none)."""
    found = []
    for node_id, node in sim.nodes.items():
        if node_id in sim.crashed or isinstance(node, Client):
            continue
        role = getattr(node, "role", None) or getattr(node, "state", None)
        if role == "leader":
            found.append((getattr(node, "term", 0), node_id))
    return max(found)[1] if found else None


def churn(seed: int, name: str, servers: Sequence[str], clients: Sequence[str], until: float,
          every: float, *, crashes: bool = True, partitions: bool = True
          ) -> list[tuple[float, Callable[[Simulation], None]]]:
    """Random faults until ``until`` ms, one every ``every`` ms or so: crashes and restarts
    (at most a minority down), partitions of the servers in two (each client on a random
    side) and heals; at ``until`` everything is repaired."""
    rng = stream(seed, f"lab5a-{name}")
    minority = (len(servers) - 1) // 2
    faults: list[tuple[float, Callable[[Simulation], None]]] = []
    time = 0.0
    while True:
        time += rng.expovariate(1 / every)
        if time >= until:
            break
        kinds = (["crash", "restart"] if crashes else []) + (
            ["partition", "heal"] if partitions else [])
        kind, pick = rng.choice(kinds), rng.random()
        sides = [rng.random() < 0.5 for _ in clients]
        cut = 1 + int(pick * (len(servers) - 1))

        def fault(sim: Simulation, kind: str = kind, pick: float = pick,
                  sides: list[bool] = sides, cut: int = cut) -> None:
            down = sorted(sim.crashed)
            up = [s for s in servers if s not in sim.crashed]
            if kind == "crash" and len(down) < minority:
                sim.crash(up[int(pick * len(up))])
            elif kind == "restart" and down:
                sim.restart(down[int(pick * len(down))])
            elif kind == "partition":
                side = set(servers[:cut])
                near = {c for c, s in zip(clients, sides) if s}
                sim.partition(side | near, (set(servers) - side) | (set(clients) - near))
            elif kind == "heal":
                sim.heal()

        faults.append((time, fault))
    faults.append((until, repair))
    return faults


def repair(sim: Simulation) -> None:
    """Heal the network and restart every crashed server."""
    sim.heal()
    for node_id in sorted(sim.crashed):
        sim.restart(node_id)


# -- what must hold, besides linearizability ---------------------------------------------------

class Bounded(TraceProperty):
    """No server's Raft log ever holds more than ``bound`` entries, and no snapshot is much
    larger than the service's state: ``data``, and a reply for each of ``clients`` clients
    (which may hold a value read: at most the data's size each). The data's size is the
    largest any server has held so far (a server just restarted holds none until its
    snapshot is restored)."""

    def __init__(self, bound: int, clients: int):
        self.bound, self.clients = bound, clients
        self.description = (f"the Raft log of every server stays under {bound} entries "
                            f"(max_log={MAX_LOG}, and a few not yet applied), and a snapshot "
                            f"holds the service's state, no more")

    def snapshot_limit(self, data: int) -> int:
        """The most characters a snapshot may take when the data takes ``data``."""
        return (self.clients + 2) * data + 100 * self.clients + 300

    def begin(self, run: Run) -> None:
        run.state.data = 0    # the largest data any server has held so far

    def observe(self, run: Run) -> str | None:
        for node_id, node in run.sim.nodes.items():
            sizes = getattr(node, "_lab_sizes", None)
            if type(sizes) is not tuple or len(sizes) != 3:
                continue
            log, snapshot, size = sizes
            data = run.state.data = max(run.state.data, size)
            if log > self.bound:
                return (f"{node_id}'s log held {log} entries at t={run.sim.now:.0f} ms: once "
                        f"log_size() passes max_log, save the service's state with "
                        f"self.compact(index, state), which drops the log up to index")
            if snapshot > self.snapshot_limit(data):
                unseen = ("" if size >= 0 else
                          " (the check measures the data as self.data, a dict, and this "
                          "server has none: keep the store under that name)")
                return (f"{node_id}'s snapshot took {snapshot} characters at "
                        f"t={run.sim.now:.0f} ms, for data of at most {data}{unseen}: more "
                        f"than {self.snapshot_limit(data)}. A snapshot holds the data and the "
                        f"duplicate table (one entry per client), not the requests applied")
        return None


class OperationsComplete(EveryOperationCompletes):
    """Every operation completes; a failure says where a service on Raft usually loses one."""

    def judge(self, run: Run) -> str | None:
        problem = super().judge(run)
        if problem is None:
            return None
        return (f"{problem}. A request nobody answers: does a server that does not lead answer "
                f"NotLeader, does the clerk go straight to the server a NotLeader names, and, "
                f"when its timer \"retry\" fires, send the same request to the next server? "
                f"Replay the run and read the pending client's last messages")


class Busy(TraceProperty):
    """A busy client completes at least `MIN_RATE` operations per simulated second."""

    description = f"a busy client completes at least {MIN_RATE:g} operations per second"

    def judge(self, run: Run) -> str | None:
        done = [op for op in run.sim.history.operations if op.status == "ok"]
        if not done:
            return "no operation completed"
        span = max(op.complete_time for op in done) - min(op.invoke_time for op in done)
        rate = 1_000 * len(done) / max(span, 1.0)
        if rate >= MIN_RATE:
            return None
        return (f"{len(done)} operations took {span:.0f} ms: {rate:.1f} per second. Does the "
                f"leader answer as soon as it applies the entry, and does the clerk go straight "
                f"to the leader a NotLeader names?")


class Progress(TraceProperty):
    """The clients ``clients`` complete at least ``at_least`` operations between ``start``
    and ``end`` ms (the side of a partition that holds a majority goes on)."""

    def __init__(self, clients: Sequence[str], start: float, end: float, at_least: int):
        self.clients, self.at_least = set(clients), at_least
        self.window = (start, end)
        self.description = (f"{', '.join(sorted(clients))} complete at least {at_least} "
                            f"operations from t={start:g} to {end:g} ms, on the majority's "
                            f"side of a partition")

    def judge(self, run: Run) -> Violation | None:
        start, end = self.window
        done = [op for op in run.sim.history.operations if op.process in self.clients
                and op.status == "ok" and start <= op.complete_time <= end]
        if len(done) >= self.at_least:
            return None
        return Violation(self.description, (
            f"only {len(done)} completed: the servers that can reach a majority must elect a "
            f"leader and serve their clients while the others are cut off"), end,
            window=self.window)


# -- the lab -----------------------------------------------------------------------------------

class KVRaftLab(Lab):
    """The checks of lab 5a: ``check(KVRaftLab(KVServer, Clerk), part="A")``, then B and C.
    ``raft=`` takes a reader's own Raft class of lab 4 instead of the library's."""

    title = "Lab 5a: a fault-tolerant key-value service on Raft"
    node_attributes = ("_lab_sizes",)

    def __init__(self, service: type[Node], clerk: type[Node], raft: type[Node] | None = None):
        for cls, what in ((service, "KVServer"), (clerk, "Clerk")):
            if not (isinstance(cls, type) and issubclass(cls, Node)):
                raise TypeError(f"KVRaftLab(KVServer, Clerk) takes your classes; {what} "
                                f"is {cls!r}")
        if not issubclass(clerk, ClerkBase):
            raise TypeError(f"your clerk must subclass ClerkBase (it gives the workload and "
                            f"the history); {clerk.__name__} does not")
        self.service = own_code(service, LIBRARY_SERVICE, "key-value service")
        self.clerk = own_code(clerk, LIBRARY_SERVICE, "key-value service")
        self.raft = LibraryRaft if raft is None else lab4_raft(raft)
        self.server = server_class(self.service, self.raft)

    def scenario(self, seed: int, *, servers: Sequence[str] = THREE, clients: int = 3,
                 ops: int = 20, run_for: float = 6_000.0, network: Network | None = None,
                 faults: Sequence[tuple[float, Callable[[Simulation], None]]] = (),
                 max_log: int | None = None,
                 operations: Sequence[tuple[str, str]] = kv.OPERATIONS, think: float = 0.0,
                 operations_of: Mapping[str, Sequence[tuple[str, str]]] | None = None,
                 properties: Sequence[TraceProperty] = ()) -> Scenario:
        """``clients`` clerks doing ``ops`` operations each on ``servers``; ``faults`` as
        (time, action) pairs. The history must be linearizable, ``properties`` hold, and every
        operation complete by ``run_for``."""

        def setup(sim: Simulation) -> None:
            add_service(sim, self.server, self.clerk, servers, clients, ops, max_log,
                        operations, think, operations_of)
            for time, action in faults:
                sim.at(time, action, sim)

        return Scenario(setup, run_for=run_for,
                        network=network or Network(latency=Uniform(1, 10)),
                        properties=[Linearizable(kv.MODEL.name), *properties,
                                    OperationsComplete()],
                        wall_limit=10.0, max_events=400_000)

    # -- part A: the service -------------------------------------------------------------------
    @graded(part="A", seeds=5, description="3 servers, one client, reliable network: 40 "
            "operations, each completed, the history linearizable")
    def test_one_client_A(self, seed: int) -> Scenario:
        return self.scenario(seed, clients=1, ops=40, run_for=4_000)

    @graded(part="A", seeds=5, description="3 servers, 5 clients at once: every operation "
            "completes, the history linearizable")
    def test_many_clients_A(self, seed: int) -> Scenario:
        return self.scenario(seed, clients=5, run_for=4_000)

    @graded(part="A", seeds=5, description="4 clients appending to one key and reading it: "
            "every append appears once, in an order the history allows")
    def test_concurrent_appends_A(self, seed: int) -> Scenario:
        return self.scenario(seed, clients=4, ops=12, run_for=4_000,
                             operations=(("append", "y"), ("get", "y")))

    @graded(part="A", seeds=5, description="unreliable network (10% of messages lost, 10% "
            "twice, 20% late by up to 200 ms), 5 clients")
    def test_unreliable_A(self, seed: int) -> Scenario:
        return self.scenario(seed, clients=5, network=Network(latency=Uniform(1, 10),
                                                               **UNRELIABLE))

    @graded(part="A", seeds=5, description="requests arrive twice and late (40% of messages "
            "repeated, 30% held back up to 300 ms), 3 clients appending: a retried or "
            "repeated append is applied once")
    def test_duplicate_requests_A(self, seed: int) -> Scenario:
        network = Network(latency=Uniform(1, 10), duplicate=0.4, reorder=0.3,
                          reorder_delay=300)
        return self.scenario(seed, network=network,
                             operations=(("append", "y"), ("get", "y")))

    @graded(part="A", seeds=5, description="3 servers; the leader crashes at 1 s and "
            "restarts at 2 s, the new leader crashes at 2.5 s: clients find the new leader "
            "and every operation completes")
    def test_leader_crashes_A(self, seed: int) -> Scenario:
        def crash_leader(sim: Simulation) -> None:
            if (chosen := leader(sim)) is not None:
                sim.crash(chosen)
        return self.scenario(seed, ops=60, think=30,
                             faults=[(1_000, crash_leader), (2_000, repair),
                                                   (2_500, crash_leader), (3_500, repair)])

    @graded(part="A", seeds=5, description="every server crashes at 1 s and restarts at "
            "1.3 s, and again at 2.2 s and 2.4 s: each rebuilds its store from the log it "
            "kept, and nothing acknowledged is lost")
    def test_all_servers_restart_A(self, seed: int) -> Scenario:
        def crash_all(sim: Simulation) -> None:
            for node_id in THREE:
                if node_id not in sim.crashed:
                    sim.crash(node_id)
        return self.scenario(seed, ops=40, think=30,
                             faults=[(1_000, crash_all), (1_300, repair), (2_200, crash_all),
                                     (2_400, repair)])

    @graded(part="A", seeds=5, description="5 servers: the leader and one follower are cut "
            "off with one client from 1 s to 3 s; the three others elect a leader and their "
            "two clients complete at least 20 operations meanwhile; all complete once healed")
    def test_majority_goes_on_A(self, seed: int) -> Scenario:
        def cut_off_leader(sim: Simulation) -> None:
            old = leader(sim)
            if old is not None:
                other = sorted(set(FIVE) - {old})[0]
                sim.partition({old, other, "c1"}, set(FIVE) - {old, other} | {"c2", "c3"})
        return self.scenario(seed, servers=FIVE, clients=3, ops=60, think=30,
                             faults=[(1_000, cut_off_leader), (3_000, repair)],
                             properties=[Progress(("c2", "c3"), 1_000, 3_000, 20)])

    @graded(part="A", seeds=5, description="5 servers crash and restart at random for 3 s "
            "(at most two down), 5 clients: every operation completes once all are back, "
            "nothing acknowledged is lost")
    def test_crashes_restarts_A(self, seed: int) -> Scenario:
        return self.churning(seed, "crashes", ops=40, run_for=7_000, partitions=False)

    @graded(part="A", seeds=5, description="the leader is cut off with two clients (one "
            "reading, one appending) from 1 s to 2.5 s while a third appends on the "
            "majority's side: the cut-off leader answers nothing (no read of its stale data, "
            "no write it cannot commit)")
    def test_partitioned_leader_A(self, seed: int) -> Scenario:
        def cut_off_leader(sim: Simulation) -> None:
            old = leader(sim)
            if old is not None:
                sim.partition({old, "c1", "c3"}, set(THREE) - {old} | {"c2"})
        return self.scenario(seed, clients=3, ops=60, think=30,
                             operations=(("append", "y"), ("get", "y")),
                             operations_of={"c1": (("get", "y"),)},
                             faults=[(1_000, cut_off_leader), (2_500, repair)])

    @graded(part="A", seeds=5, description="5 servers, random partitions for 3 s (clients "
            "on either side), 5 clients: no operation completes wrongly, all complete once "
            "healed")
    def test_partitions_A(self, seed: int) -> Scenario:
        return self.churning(seed, "partitions", ops=40, run_for=7_000, crashes=False)

    @graded(part="A", seeds=5, description="5 servers, unreliable network, partitions, "
            "crashes and restarts at random for 3 s, 5 clients")
    def test_partitions_crashes_unreliable_A(self, seed: int) -> Scenario:
        return self.churning(seed, "churn", ops=20, run_for=8_000,
                             network=Network(latency=Uniform(1, 10), **UNRELIABLE))

    def churning(self, seed: int, name: str, *, ops: int, run_for: float,
                 network: Network | None = None, crashes: bool = True,
                 partitions: bool = True) -> Scenario:
        """5 servers and 5 clients under random faults (`churn` ``name``) for 3 s."""
        clients = [f"c{i}" for i in range(1, 6)]
        faults = churn(seed, name, FIVE, clients, 3_000, 250, crashes=crashes,
                       partitions=partitions)
        return self.scenario(seed, servers=FIVE, clients=5, ops=ops, think=40,
                             run_for=run_for, network=network, faults=faults)

    @graded(part="A", seeds=5, description=f"one busy client, 150 operations, reliable "
            f"network: at least {MIN_RATE:g} operations per simulated second (answer when "
            f"applied, not when the client asks again)")
    def test_speed_A(self, seed: int) -> Scenario:
        return self.scenario(seed, clients=1, ops=150, run_for=10_000, properties=[Busy()])

    # -- part B: snapshots ---------------------------------------------------------------------
    def bound(self, clients: int) -> int:
        """The most entries a log may hold in part B: `MAX_LOG`, and some not yet applied."""
        return MAX_LOG + 2 * clients + 4

    @graded(part="B", seeds=5, description=f"3 servers, 3 clients, 60 operations each: no "
            f"log ever holds more than max_log={MAX_LOG} entries and a few unapplied ones")
    def test_snapshot_size_B(self, seed: int) -> Scenario:
        return self.scenario(seed, ops=60, max_log=MAX_LOG, run_for=8_000,
                             properties=[Bounded(self.bound(3), 3)])

    @graded(part="B", seeds=5, description="every server crashes at 1.5 s and restarts at "
            "1.7 s, the leader again at 3 s: they come back from their snapshots, with the "
            "duplicate table, and nothing is applied twice")
    def test_restart_from_snapshot_B(self, seed: int) -> Scenario:
        def crash_all(sim: Simulation) -> None:
            for node_id in THREE:
                if node_id not in sim.crashed:
                    sim.crash(node_id)

        def crash_leader(sim: Simulation) -> None:
            if (chosen := leader(sim)) is not None:
                sim.crash(chosen)

        network = Network(latency=Uniform(1, 10), duplicate=0.3, reorder=0.3,
                          reorder_delay=400)
        return self.scenario(seed, ops=40, max_log=MAX_LOG, network=network, run_for=8_000,
                             operations=(("append", "y"), ("get", "y")),
                             faults=[(1_500, crash_all), (1_700, repair),
                                     (3_000, crash_leader), (3_200, repair)],
                             properties=[Bounded(self.bound(3), 3)])

    @graded(part="B", seeds=5, description="a follower is cut off from 0.5 s to 3 s while "
            "the others go on; back, it gets the leader's snapshot; then the leader crashes "
            "and it must serve what the snapshot holds")
    def test_install_snapshot_B(self, seed: int) -> Scenario:
        away: list[str] = []

        def cut_off_follower(sim: Simulation) -> None:
            chosen = leader(sim)
            follower = sorted(set(THREE) - {chosen})[0]
            away.append(follower)
            sim.partition({follower}, set(sim.nodes) - {follower})

        def crash_leader(sim: Simulation) -> None:
            if (chosen := leader(sim)) is not None and chosen not in away:
                sim.crash(chosen)

        return self.scenario(seed, ops=50, max_log=MAX_LOG,
                             faults=[(500, cut_off_follower), (3_000, repair),
                                     (3_400, crash_leader), (4_500, repair)],
                             properties=[Bounded(self.bound(3), 3)])

    @graded(part="B", seeds=5, description="snapshots on an unreliable network with crashes, "
            "restarts and partitions for 3 s, 5 servers, 5 clients appending")
    def test_snapshot_churn_B(self, seed: int) -> Scenario:
        clients = [f"c{i}" for i in range(1, 6)]
        return self.scenario(seed, servers=FIVE, clients=5, ops=20, think=40,
                             max_log=MAX_LOG, run_for=8_000,
                             network=Network(latency=Uniform(1, 10), **UNRELIABLE),
                             operations=(("append", "y"), ("get", "y"), ("put", "x")),
                             faults=churn(seed, "snapshots", FIVE, clients, 3_000, 250))

    @graded(part="B", seeds=5, description=f"one busy client with snapshots: still at least "
            f"{MIN_RATE:g} operations per simulated second")
    def test_speed_snapshots_B(self, seed: int) -> Scenario:
        return self.scenario(seed, clients=1, ops=150, max_log=MAX_LOG, run_for=10_000,
                             properties=[Busy(), Bounded(self.bound(1), 1)])

    # -- part C: real processes ----------------------------------------------------------------
    @graded(part="C", seeds=1, description="the service as three real processes on loopback: "
            "a client appends and reads, the leader is killed with kill -9 halfway and "
            "restarted at the end (from its snapshot on disk): every operation answered, "
            "nothing lost, the history linearizable")
    def test_kill_the_leader_C(self, seed: int) -> Trial:
        server, clerk = self.server, self.clerk

        def body() -> dict[str, Any]:
            simulated_first(server, clerk)
            with tempfile.TemporaryDirectory(prefix="lab5a-") as folder:
                spec = importable(server, Path(folder))
                run = kill_the_leader(Path(folder) / "data", appends=8, node_class=spec,
                                      args={"max_log": REAL_MAX_LOG})
            return {"operations": run.operations, "ok": run.ok, "new_leader": run.new_leader,
                    "value": run.value, "from_disk": run.restarted_from_disk,
                    "verdict": run.verdict}

        return Trial(body, time_limit=90.0, judge=judge_kill)


def simulated_first(server: type[Node], clerk: type[Node]) -> None:
    """Run the service for a simulated second with one client, compacting as the real run
    does, so that code not written yet fails here, as "not implemented" (or, on a lab-4 Raft
    without part D, as `NoSnapshots`), rather than in three processes."""
    try:
        kv_run(server, clerk, clients=1, ops=3 * REAL_MAX_LOG,
               max_log=REAL_MAX_LOG).run(until=1_000)
    except NodeError as error:
        if isinstance(error.__cause__, NotImplementedError | NoSnapshots):
            raise error.__cause__ from None
        raise


def judge_kill(seen: Any) -> Violation | None:
    """The verdict on what `KVRaftLab.test_kill_the_leader_C` observed."""
    description = ("every operation answered across kill -9 of the leader, nothing lost, the "
                   "history linearizable")
    expected = "".join(f"{n};" for n in range(1, 9))
    problems = []
    if not isinstance(seen, dict):
        return Violation(description, f"the run observed {seen!r}", 0.0)
    if seen.get("ok") != seen.get("operations"):
        problems.append(f"{seen.get('ok')} of {seen.get('operations')} operations answered")
    if not seen.get("new_leader"):
        problems.append("no other server answered after the leader was killed")
    if seen.get("value") != expected:
        problems.append(f"the key holds {seen.get('value')!r} at the end, not {expected!r}")
    if not seen.get("from_disk"):
        problems.append("the restarted server found no snapshot in its storage file")
    if seen.get("verdict") != "linearizable":
        problems.append(f"the checker says: {seen.get('verdict')}")
    if not problems:
        return None
    return Violation(description, "; ".join(problems), 0.0)


def importable(server: type[Node], folder: Path) -> str:
    """Make ``server`` (defined in a notebook, most likely) importable by a fresh Python:
    pickle it by value into ``folder`` with a module that loads it; return its
    ``"module:Class"`` name for `distlab.net.start_cluster`. The module imports the
    messages, so that the processes' codec knows them."""
    import cloudpickle

    for cls in server.__mro__:   # a module made at run time (a notebook's): copy by value
        module = sys.modules.get(cls.__module__)
        if module is not None and getattr(module, "__spec__", 1) is None and not hasattr(
                module, "__file__") and cls.__module__ != "__main__":
            cloudpickle.register_pickle_by_value(module)
    name = f"lab5a_server_{abs(hash((server, folder))):x}"
    (folder / f"{name}.pickle").write_bytes(cloudpickle.dumps(server))
    (folder / f"{name}.py").write_text(
        "import pickle\n"
        "from pathlib import Path\n\n"
        "from distlab.consensus.raft.messages import *  # noqa: F401,F403 (for the codec)\n"
        "from distlab.workloads.client import NotLeader  # noqa: F401\n"
        "from distlab.workloads.kv import *  # noqa: F401,F403\n\n"
        f"Server = pickle.loads((Path(__file__).parent / '{name}.pickle').read_bytes())\n"
        "Server.__module__ = __name__\n")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return f"{name}:Server"
