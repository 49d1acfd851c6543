"""Leader-follower replication of the key-value store: synchronous, semi-synchronous, async.

One server, the *leader*, takes every request (a follower answers `NotLeader`, which sends
the client to the leader). The leader applies the request to its `KVMachine`, appends it to
its log and sends it to every follower, which applies the log in order and acknowledges how
far it has got. When the leader answers the client depends on ``mode`` (Kleppmann, DDIA ch. 5):

* ``"sync"``: once *every* follower has the request. An acknowledged write is on every
  server, so it survives any crash; but one slow or dead follower stops every write.
* ``"semi-sync"``: once *one* follower has it (MySQL's semi-synchronous replication). A write
  is on two servers when it is acknowledged; it is lost only if both fail, or if the
  follower that takes over is not the one that had it.
* ``"async"``: at once. Writes are fast and never wait for a follower, but a write the
  followers have not received yet is lost if the leader dies: its client was told "ok".

Reads (``get``) go through the same log, so a leader answers one only when, in its mode, the
writes before it are as safe as a write would be.

**Reads from followers** (``follower_reads``): a follower answers a ``get`` at once from its
own state, which lags the leader's. That is what makes read replicas scale, and what breaks
the session guarantees (Terry et al. 1994; Kleppmann, DDIA ch. 5, "Problems with
replication lag"). A client can ask for them back with a *version token*: it sends a
`SessionGet` carrying ``after``, the highest log index it has seen (of its writes and its
reads), and a follower answers only once it has applied that far. The server answers a
`SessionGet` or a `SessionPut` with `At`, the reply and the log index it reflects, from which
the client keeps its token. (Tokens are indexes of one epoch's log: they mean nothing across
a failover, which the runs that use them do not have.)

**Failover.** The leader sends a `Heartbeat` every ``heartbeat`` ms. A follower that hears
nothing from its leader for ``failover_timeout`` ms times its rank in ``servers`` (1 for the
first, 2 for the second...: so followers do not all take over at once) promotes itself: it
starts a new *epoch*, higher than any it has seen, and its state becomes the truth. Every
server that hears of a higher epoch follows its leader and takes a `Snapshot` of the leader's
state, dropping whatever it had that the new leader lacks: that is how an asynchronous leader's
last writes disappear. A message of an older epoch is refused with the newer one, so an old
leader that comes back steps down.

This is not consensus (chapter 4): a partition can make a follower promote itself while the
old leader still serves its side (*split brain*). Synchronous mode stays safe even so, since
no request completes without every server's acknowledgement in one epoch; the other modes
may answer from both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distlab.kv.machine import KVMachine
from distlab.sim import Node
from distlab.workloads.client import NotLeader
from distlab.workloads.kv import Append, Get, Put

#: An epoch orders leaders: (number, leader's id); a new leader takes a higher number.
Epoch = tuple[int, str]

#: How many followers must hold a request before the leader answers, by mode (None: all).
ACKS_NEEDED: dict[str, int | None] = {"sync": None, "semi-sync": 1, "async": 0}


# -- the requests of a client that keeps a version token ----------------------------------------
@dataclass(frozen=True)
class SessionGet(Get):
    """A ``get`` to answer from a state that has applied the log up to entry ``after`` at
    least (the client's version token; 0: any state). Answered with `At`."""

    after: int = 0


@dataclass(frozen=True)
class SessionPut(Put):
    """A ``put`` whose reply tells the log index it took (answered with `At`)."""


@dataclass(frozen=True)
class At:
    """``reply`` (a ``GetOk`` or ``PutOk``), given by a state that includes log entry
    ``index``: the client's token becomes at least ``index``."""

    reply: Any
    index: int


# -- messages between servers ---------------------------------------------------------------------
@dataclass(frozen=True)
class Replicate:
    """Entries ``index``, ``index + 1``... of the leader's log in ``epoch``: ``requests``,
    to apply after entry ``index - 1``."""

    epoch: Epoch
    index: int
    requests: tuple[Get | Put | Append, ...]


@dataclass(frozen=True)
class Heartbeat:
    """The leader of ``epoch`` is alive; its log ends at ``index``."""

    epoch: Epoch
    index: int


@dataclass(frozen=True)
class Snapshot:
    """The leader's whole state (`KVMachine.state`) after entry ``index`` of ``epoch``."""

    epoch: Epoch
    index: int
    state: Any


@dataclass(frozen=True)
class Ack:
    """The follower has applied the log of ``epoch`` up to ``index`` (-1: it needs a
    `Snapshot` first). Sent back, with the receiver's newer epoch, to a server that is out
    of date."""

    epoch: Epoch
    index: int


# -- the server -----------------------------------------------------------------------------------
class ReplicatedKV(Node):
    """One server of a leader-follower key-value store (see the module's docstring).

    Invariants: a follower's ``applied`` entries are the leader's first ``applied`` entries of
    the same epoch, applied in order, so its ``machine`` is the leader's as it was then; the
    leader answers entry ``i`` only when ``ACKS_NEEDED[mode]`` followers (all, in sync mode)
    have acknowledged an index >= ``i`` in its epoch. ``machine`` and ``epoch`` are durable.
    """

    def __init__(self, servers: Sequence[str], mode: str = "async", heartbeat: float = 20.0,
                 failover_timeout: float = 150.0, ship_every: float = 0.0,
                 follower_reads: bool = False) -> None:
        if mode not in ACKS_NEEDED:
            raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(ACKS_NEEDED)}")
        if self.id not in servers:
            raise ValueError(f"server {self.id!r} is not in servers={list(servers)!r}")
        self.servers = tuple(servers)
        self.others = tuple(s for s in self.servers if s != self.id)
        self.follower_reads = follower_reads
        self.held_reads: list[tuple[str, SessionGet]] = []  # waiting for their token
        self.mode = mode
        self.heartbeat = heartbeat
        self.failover_timeout = failover_timeout
        self.ship_every = ship_every                   # 0: send each entry at once
        self.shipped = 0                               # entries sent to the followers
        self.machine = KVMachine.from_state(self.storage.get("state", ((), ())))
        self.epoch: Epoch = self.storage.get("epoch", (0, self.servers[0]))
        self.leader: str | None = self.epoch[1]
        self.applied = self.storage.get("applied", 0)  # entries of `epoch` applied here
        self.log: list[Get | Put | Append] = []        # the leader's entries of its epoch
        self.acked: dict[str, int] = {}                # follower -> highest index acked
        self.waiting: dict[int, tuple[str, Any]] = {}  # index -> (client, reply)
        self.snapshot_sent: set[str] = set()           # followers sent one since the beat
        self.progress: dict[str, int] = {}             # follower -> its first missing index,
                                                       # at the last heartbeat

    def show(self) -> dict[str, Any]:
        return {"role": "leader" if self.is_leader else "follower", "epoch": self.epoch,
                "applied": self.applied, "data": dict(self.machine.data)}

    @property
    def is_leader(self) -> bool:
        return self.leader == self.id

    # -- life -------------------------------------------------------------------------------------
    def on_start(self) -> None:
        if self.is_leader and "restarted" not in self.storage and self.epoch[0] == 0:
            self.set_timer(0, "heartbeat")             # the first leader, at the start
            self.ship_later()
        else:
            # back from a crash, or a follower: wait for a leader; a server that restarts
            # waits longer, so that it does not take over from one that is running
            self.leader = None if self.is_leader else self.leader
            restart_wait = self.failover_timeout * len(self.servers) if (
                "restarted" in self.storage) else 0.0
            self.set_timer(self.silence_allowed() + restart_wait, "leader silent")
        self.storage["restarted"] = True

    def silence_allowed(self) -> float:
        """How long this follower waits for its leader before taking over (by rank)."""
        return self.failover_timeout * (1 + self.servers.index(self.id))

    def on_timer(self, name: str) -> None:
        match name:
            case "heartbeat" if self.is_leader:
                self.send_others(Heartbeat(self.epoch, len(self.log)))
                self.resend()
                self.set_timer(self.heartbeat, "heartbeat")
            case "ship" if self.is_leader:
                self.ship()
                self.ship_later()
            case "leader silent" if not self.is_leader:
                self.promote()

    def promote(self) -> None:
        """Become the leader of a new epoch, starting from this server's own state."""
        self.new_epoch((self.epoch[0] + 1, self.id))
        self.note("leader", epoch=self.epoch[0])
        self.set_timer(0, "heartbeat")
        self.ship_later()

    def ship_later(self) -> None:
        """With ``ship_every`` > 0, send the new entries in one batch every ``ship_every``
        ms (log shipping): a write waits in the leader until then."""
        if self.ship_every > 0:
            self.set_timer(self.ship_every, "ship")

    def ship(self) -> None:
        """Send the entries not sent yet to every follower, in one message."""
        if self.shipped < len(self.log):
            self.send_others(Replicate(self.epoch, self.shipped + 1,
                                     tuple(self.log[self.shipped:])))
            self.shipped = len(self.log)

    def send_others(self, msg: Any) -> None:
        """Send ``msg`` to the other servers of this store (a simulation may hold several)."""
        for server in self.others:
            self.send(server, msg)

    def new_epoch(self, epoch: Epoch) -> None:
        self.epoch, self.leader = epoch, epoch[1]
        self.storage["epoch"] = epoch
        self.log, self.acked, self.waiting, self.shipped = [], {}, {}, 0
        self.snapshot_sent, self.progress = set(), {}
        self.applied = 0 if self.is_leader else -1     # a follower needs a snapshot first
        self.storage["applied"] = self.applied

    # -- messages ---------------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Get() if self.follower_reads and not self.is_leader:
                self.read_here(src, msg)
            case Get() | Put() | Append():
                self.on_request(src, msg)
            case Heartbeat(epoch) | Replicate(epoch) | Snapshot(epoch) | Ack(epoch) if (
                    epoch < self.epoch):
                self.send(src, Ack(self.epoch, -1))    # you are out of date
            case Ack(epoch) if epoch > self.epoch:
                self.follow(epoch)
            case Heartbeat(epoch, _) | Replicate(epoch) | Snapshot(epoch) if epoch > self.epoch:
                self.follow(epoch)
                self.on_message(src, msg)
            case Heartbeat(epoch, _) | Replicate(epoch, _) | Snapshot(epoch) if (
                    not self.is_leader):
                self.set_timer(self.silence_allowed(), "leader silent")
                self.on_replication(src, msg)
            case Ack(_, index) if self.is_leader:
                self.on_ack(src, index)

    def follow(self, epoch: Epoch) -> None:
        """Another server leads a newer epoch: follow it (a leader steps down)."""
        self.cancel_timer("heartbeat")
        self.cancel_timer("ship")
        self.new_epoch(epoch)
        self.set_timer(self.silence_allowed(), "leader silent")

    def on_request(self, client: str, request: Get | Put | Append) -> None:
        if not self.is_leader:
            self.send(client, NotLeader(request.msg_id, self.leader))
            return
        if any(c == client and r.in_reply_to == request.msg_id
               for c, r in self.waiting.values()):
            return                                     # a copy of a request still waiting
        if self.machine.reply_to(request) is not None:
            self.send(client, self.machine.reply_to(request))   # answered already
            return
        reply = self.apply(request)
        if reply is None:
            return                                     # older than the client's latest
        self.log.append(request)
        if isinstance(request, SessionGet | SessionPut):
            reply = At(reply, len(self.log))
        self.waiting[len(self.log)] = (client, reply)
        if self.ship_every == 0:
            self.ship()
        self.answer_safe_requests()

    def read_here(self, client: str, request: Get) -> None:
        """A follower's read, from its own state: at once, or (a `SessionGet` whose token
        it has not reached) once it has applied the log up to the token."""
        if not isinstance(request, SessionGet):
            self.send(client, request.ok(self.machine.data.get(request.key)))
        elif self.applied >= request.after:
            self.send(client, At(request.ok(self.machine.data.get(request.key)), self.applied))
        else:
            self.held_reads.append((client, request))

    def apply(self, request: Get | Put | Append) -> Any:
        reply = self.machine.apply(request)
        self.storage["state"] = self.machine.state()
        self.applied += 1
        self.storage["applied"] = self.applied
        return reply

    def on_replication(self, leader: str, msg: Heartbeat | Replicate | Snapshot) -> None:
        """A follower's side: apply the leader's entries in order, then say how far it is."""
        match msg:
            case Snapshot(_, index, state) if index > self.applied:
                self.machine = KVMachine.from_state(state)
                self.storage["state"] = state
                self.applied = index
                self.storage["applied"] = index
            case Replicate(_, index, requests) if 0 <= self.applied and index <= self.applied + 1:
                for request in requests[self.applied + 1 - index:]:
                    self.apply(request)
        self.send(leader, Ack(self.epoch, self.applied))
        held, self.held_reads = self.held_reads, []
        for client, request in held:
            self.read_here(client, request)

    def on_ack(self, follower: str, index: int) -> None:
        """The leader's side: note how far a follower is, answer the requests now safe."""
        if index < 0 and follower not in self.snapshot_sent:
            self.snapshot_sent.add(follower)           # one per heartbeat, not one per ack
            self.send(follower, Snapshot(self.epoch, len(self.log), self.machine.state()))
        self.acked[follower] = max(index, self.acked.get(follower, 0))
        self.answer_safe_requests()

    def resend(self) -> None:
        """Every heartbeat, send the shipped entries it lacks to each follower that
        has acknowledged nothing new since the last beat: replication survives lost messages,
        and a follower that keeps up is not sent anything twice."""
        self.snapshot_sent.clear()
        for follower in self.others:
            first = self.acked.get(follower, 0) + 1
            stuck = self.progress.get(follower) == first
            self.progress[follower] = first
            if not stuck:
                continue
            if first <= self.shipped:
                self.send(follower, Replicate(self.epoch, first,
                                              tuple(self.log[first - 1:self.shipped])))

    def answer_safe_requests(self) -> None:
        """Answer every waiting request held by as many followers as the mode needs."""
        needed = ACKS_NEEDED[self.mode]
        followers = [s for s in self.servers if s != self.id]
        needed = len(followers) if needed is None else needed
        for index in sorted(self.waiting):
            holding = sum(self.acked.get(f, 0) >= index for f in followers)
            if holding < needed:
                break
            client, reply = self.waiting.pop(index)
            self.send(client, reply)
