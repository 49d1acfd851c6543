"""A register replicated on three nodes, and the choice a partition forces on it (CAP).

A *register* holds one value: clients ``write`` it and ``read`` it. Keeping copies on three
replicas lets it survive a crash, but when the network splits, a replica cut off from the
others must choose (Brewer's conjecture, proved by Gilbert and Lynch):

* **the consistent choice** (CP), `QuorumReplica`: every operation needs a *majority* of the
  replicas. Any two majorities of three share a replica, so a read always meets the latest
  completed write, and the history stays linearizable. A replica on the minority side of a
  partition cannot gather a majority: it refuses (an `Error`) after ``quorum_timeout`` ms.
  Attiya, Bar-Noy and Dolev's algorithm (ABD, 1995) emulates a *single-writer* register:
  the one writer numbers its own writes and stores each at a majority. This is the
  multi-writer extension of Lynch and Shvartsman (1997): values carry a *version*
  ``(counter, writer)``; a write first asks a majority for the highest version, then stores
  its value under a higher one at a majority; a read (as in ABD) asks a majority, and if they
  disagree it writes the newest value back to a majority before answering (otherwise a later
  read could still see the older value).
* **the available choice** (AP), `LwwReplica`: every replica answers at once from its own
  copy and sends the write to the others afterwards (and again every ``sync_every`` ms, an
  anti-entropy round). During a partition both sides accept writes and drift apart; when
  it heals, each replica keeps the value with the highest version ``(timestamp, writer)``:
  *last writer wins*, by timestamp, as Cassandra does by default (Dynamo itself keeps
  concurrent versions side by side, ordered by vector clocks, for the client to merge).
  Every request is answered, but a read may return an old value, so the history need not be
  linearizable; and a write whose timestamp is lower than one already seen (a skewed clock)
  is silently lost.

Clients and replicas speak the register workload of every chapter
(`distlab.workloads.register`: ``Read``, ``Write``, their replies, and the workload's
``Error``). `RegisterClient` sends reads and writes to one replica and records each
operation in the simulation's history as ``ok``, ``fail`` (it certainly did not happen) or
``info`` (unknown: a timeout, or a write that reached some replicas but not a majority).
`distlab.kv.runs` builds and runs the scenarios (`cap_sim`, `cap_run`), and
`distlab.check.check_linearizability` judges the history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from distlab.sim import Client, Latency, Node, Uniform
from distlab.sim.network import as_latency
from distlab.workloads.client import Error
from distlab.workloads.register import Read, ReadOk, Write, WriteOk

#: A version orders the values a register has held: (counter or timestamp, id of the writer).
#: Ties on the first part are broken by the writer's id, so any two versions compare.
Version = tuple[float, str]
#: The version of a register that was never written.
INITIAL: Version = (0, "")



# -- messages between replicas --------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    """CP, phase 1: what version and value do you hold? (``op`` numbers the coordination)"""

    op: int


@dataclass(frozen=True)
class QueryReply:
    op: int
    version: Version
    value: Any


@dataclass(frozen=True)
class Store:
    """CP, phase 2: keep ``value`` if ``version`` is newer than yours."""

    op: int
    version: Version
    value: Any


@dataclass(frozen=True)
class StoreAck:
    op: int


@dataclass(frozen=True)
class Update:
    """AP: a write (or, in an anti-entropy round, the current value) sent to the others."""

    version: Version
    value: Any


# -- replicas -------------------------------------------------------------------------------------
class RegisterReplica(Node):
    """What both kinds of replica share: a value and its version, kept in durable storage.

    Invariant: ``version`` only grows; ``value`` is the value written with ``version``.
    """

    mode: ClassVar[str] = ""

    def __init__(self) -> None:
        self.value, self.version = self.storage.get("register", (None, INITIAL))

    def adopt(self, version: Version, value: Any) -> bool:
        """Keep ``value`` if its ``version`` is newer than ours; True if it was."""
        if version <= self.version:
            return False
        self.value, self.version = value, version
        self.storage["register"] = (value, version)
        return True

    @property
    def majority(self) -> int:
        """How many replicas (this one included) make a majority."""
        return (len(self.peers) + 1) // 2 + 1

    def show(self) -> dict[str, Any]:
        return {"value": self.value, "version": self.version}


@dataclass
class Coordination:
    """One client request that a `QuorumReplica` is carrying out (volatile: lost in a crash)."""

    client: str
    msg_id: int                # the client's request
    f: str                     # "read" or "write"
    value: Any = None          # the value to write
    phase: str = "query"       # "query", then "store"
    replies: dict[str, tuple[Version, Any]] = field(default_factory=dict)
    acks: set[str] = field(default_factory=set)
    result: Any = None         # what a read will return


class QuorumReplica(RegisterReplica):
    """The consistent choice: reads and writes need a majority (multi-writer ABD), or are
    refused.

    The replica a client talks to *coordinates* its request: it asks every replica, counts
    itself, and moves on as soon as a majority has answered. A coordination that has not
    finished after ``quorum_timeout`` ms is abandoned with an `Error`: a definite one if
    nothing was stored yet, an indefinite one if a write may already be on some replicas (it
    may still become visible later, so the client cannot report it as failed).
    """

    mode = "cp"

    def __init__(self, quorum_timeout: float = 100.0) -> None:
        super().__init__()
        self.quorum_timeout = quorum_timeout
        self.coordinating: dict[int, Coordination] = {}

    def show(self) -> dict[str, Any]:
        return {**super().show(), "coordinating": len(self.coordinating)}

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Write(msg_id=msg_id, value=value) if self.first_time(src, msg_id):
                self.start(Coordination(src, msg_id, "write", value))
            case Read(msg_id=msg_id) if self.first_time(src, msg_id):
                self.start(Coordination(src, msg_id, "read"))
            case Query(op):
                self.send(src, QueryReply(op, self.version, self.value))
            case QueryReply(op, version, value):
                c = self.coordinating.get(op)
                if c is not None and c.phase == "query":
                    c.replies[src] = (version, value)
                    self.query_answered(op, c)
            case Store(op, version, value):
                self.adopt(version, value)
                self.send(src, StoreAck(op))
            case StoreAck(op):
                c = self.coordinating.get(op)
                if c is not None and c.phase == "store":
                    c.acks.add(src)
                    self.store_acknowledged(op, c)

    def first_time(self, client: str, msg_id: int) -> bool:
        """True the first time a request arrives, False for a copy of it.

        The network may deliver a message twice. Coordinating a write twice would be wrong:
        one coordination may fail (the client records the write as failed) while the other
        succeeds, or store the value again after a later write. The record is durable, so a
        copy that arrives after a crash is recognised too.
        """
        key = f"request {client} {msg_id}"
        if key in self.storage:
            return False
        self.storage[key] = True
        return True

    def start(self, c: Coordination) -> None:
        """Phase 1: ask every replica for its version (this one answers at once)."""
        # durable, so that a late reply to a coordination of an earlier life is never
        # taken for a reply to a new one
        op = self.storage.get("next op", 0)
        self.storage["next op"] = op + 1
        self.coordinating[op] = c
        c.replies[self.id] = (self.version, self.value)
        self.broadcast(Query(op))
        self.set_timer(self.quorum_timeout, f"quorum {op}")
        self.query_answered(op, c)

    def query_answered(self, op: int, c: Coordination) -> None:
        if len(c.replies) < self.majority:
            return
        newest_version, newest_value = max(c.replies.values(), key=lambda reply: reply[0])
        if c.f == "write":
            self.store(op, c, (newest_version[0] + 1, self.id), c.value)
        elif all(version == newest_version for version, _ in c.replies.values()):
            c.result = newest_value   # a majority holds it already: no write-back needed
            self.finish(op, c)
        else:
            c.result = newest_value
            self.store(op, c, newest_version, newest_value)

    def store(self, op: int, c: Coordination, version: Version, value: Any) -> None:
        """Phase 2: store ``value`` under ``version`` at a majority (this one included)."""
        c.phase = "store"
        self.adopt(version, value)
        c.acks.add(self.id)
        self.broadcast(Store(op, version, value))
        self.store_acknowledged(op, c)

    def store_acknowledged(self, op: int, c: Coordination) -> None:
        if len(c.acks) >= self.majority:
            self.finish(op, c)

    def finish(self, op: int, c: Coordination) -> None:
        del self.coordinating[op]
        self.cancel_timer(f"quorum {op}")
        if c.f == "write":
            self.send(c.client, WriteOk(c.msg_id))
        else:
            self.send(c.client, ReadOk(c.msg_id, c.result))

    def on_timer(self, name: str) -> None:
        op = int(name.split()[1])      # "quorum <op>"
        c = self.coordinating.pop(op, None)
        if c is not None:
            maybe_applied = c.f == "write" and c.phase == "store"
            self.send(c.client, Error(c.msg_id, definite=not maybe_applied,
                                      text="no majority answered in time"))


class LwwReplica(RegisterReplica):
    """The available choice: answer from the local copy, replicate afterwards.

    A write gets the version ``(local clock, replica id)`` and is sent to the other replicas
    at once; every ``sync_every`` ms each replica also sends its current value to the others
    (anti-entropy), so replicas that missed updates in a partition catch up after it heals.
    Whatever the order updates arrive in, every replica ends with the value of the highest
    version: last writer wins.
    """

    mode = "ap"

    def __init__(self, sync_every: float = 100.0) -> None:
        super().__init__()
        self.sync_every = sync_every

    def on_start(self) -> None:
        self.set_timer(self.sync_every, "sync")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Write(msg_id=msg_id, value=value):
                version = (self.now, self.id)
                self.adopt(version, value)
                self.send(src, WriteOk(msg_id))
                self.broadcast(Update(version, value))
            case Read(msg_id=msg_id):
                self.send(src, ReadOk(msg_id, self.value))
            case Update(version, value):
                self.adopt(version, value)

    def on_timer(self, name: str) -> None:
        if self.version != INITIAL:
            self.broadcast(Update(self.version, self.value))
        self.set_timer(self.sync_every, "sync")


#: The two choices, by the name `cap_sim` and `cap_run` take.
MODES: dict[str, type[RegisterReplica]] = {"cp": QuorumReplica, "ap": LwwReplica}


# -- the workload ---------------------------------------------------------------------------------
class RegisterClient(Client):
    """Reads and writes the register through one ``replica``, one operation at a time.

    After each operation it waits a ``think`` time (a latency distribution, or ms), then
    writes with probability ``writes`` (else reads). Its writes are ``first_value``,
    ``first_value + 1``... so every value written in a run is unique. It gives up on a request
    after ``timeout`` ms (outcome unknown: ``info``) and starts no operation after ``stop`` ms.

    The current operation and the request counter are kept in ``storage``: if the client
    crashes, its restarted self reports the operation as unknown and never mistakes a late
    reply to an old request for the answer to a new one.

    It speaks the register workload's messages but is not its `WorkloadClient`, because the
    CAP experiment measures something else: how many operations a partition refuses or
    leaves unknown *per unit of time*, and how long they take. So operations arrive after a
    random think time until ``stop`` ms (not a fixed count), each is sent once and given up
    after ``timeout`` ms (a resend would only reach the same cut-off replica again), writes
    are a chosen fraction, and the values written are unique (so a read shows which write it
    saw); there is no compare-and-set, which the replicas do not implement.
    """

    def __init__(self, replica: str, timeout: float = 300.0,
                 think: Latency | float = Uniform(20, 80), writes: float = 0.5,
                 first_value: int = 1, stop: float = math.inf) -> None:
        if replica not in self.peers:
            raise ValueError(f"client {self.id!r}: there is no replica {replica!r}; the "
                             f"replicas are {', '.join(self.peers) or 'none yet'} (add the "
                             f"replicas before the clients)")
        if not 0 <= writes <= 1:
            raise ValueError(f"writes is the fraction of operations that are writes, in "
                             f"[0, 1]; got {writes!r}")
        self.replica = replica
        self.timeout = timeout
        self.think = as_latency(think)
        self.writes = writes
        self.stop = stop
        self.next_value = self.storage.get("next_value", first_value)

    def show(self) -> dict[str, Any]:
        op = self.storage.get("op")
        doing = str(op) if op is not None and op.status == "pending" else "-"
        return {"replica": self.replica, "doing": doing}

    def on_start(self) -> None:
        op = self.storage.get("op")
        if op is not None and op.status == "pending":
            self.info(op)              # crashed while waiting: the outcome is unknown
        self.set_timer(self.think.sample(self.rng), "next")

    def on_timer(self, name: str) -> None:
        match name:
            case "next":
                self.begin()
            case "timeout":
                self.end("info")

    def begin(self) -> None:
        if self.now >= self.stop:
            return
        req = self.storage.get("req", 0) + 1
        self.storage["req"] = req
        if self.rng.random() < self.writes:
            value = self.next_value
            self.next_value += 1
            self.storage["next_value"] = self.next_value
            self.storage["op"] = self.invoke("write", value=value)
            self.send(self.replica, Write(self.id, req, value))
        else:
            self.storage["op"] = self.invoke("read")
            self.send(self.replica, Read(self.id, req))
        self.set_timer(self.timeout, "timeout")

    def on_message(self, src: str, msg: Any) -> None:
        op = self.storage.get("op")
        if op is None or op.status != "pending" or getattr(msg, "in_reply_to", None) != \
                self.storage.get("req"):
            return                     # a reply to a request we gave up on
        match msg:
            case WriteOk():
                self.end("ok")
            case ReadOk(value=value):
                self.end("ok", value)
            case Error(definite=definite):
                self.end("fail" if definite else "info")

    def end(self, status: str, output: Any = None) -> None:
        self.conclude(self.storage["op"], status, output)
        self.cancel_timer("timeout")
        self.set_timer(self.think.sample(self.rng), "next")
