"""Multi-Paxos: a replicated log, one single-decree Paxos instance per slot, and a leader that
runs phase 1 once for all slots. Lamport, "Paxos Made Simple" {cite:p}`lamport2001paxos`,
section 3; the roles follow van Renesse and Altinbuken {cite:p}`vanrenesse2015paxos`.

Every `MultiPaxosServer` plays all the roles of the papers at once: it is an *acceptor*
(promises and accepts, for every slot), a *replica* (learns which command each slot holds and
applies the log, in slot order, to a key-value `KVMachine`), and, when it is the leader, the
*proposer* of every slot.

* **Phase 1, once per leader** (`start_phase1`, `on_prepare`, `become_leader`). A server that
  hears no leader for an election timeout picks a ballot higher than any it has seen and
  sends ``Prepare(ballot, first_slot)``: one prepare for *all* the slots from the first one
  it has not decided. Each promise reports what that acceptor knows of those slots: the
  decided ones, and the last proposal it accepted in each of the others. With a majority of
  promises the new leader learns the decided slots, re-proposes in every other slot the value
  of the highest-ballot proposal reported (`recover`), exactly as single-decree Paxos's
  `pick_value` does, and fills the slots nobody reported -- the *gaps* -- with `NOOP`.
* **Phase 2, once per command** (`propose`, `on_accept`, `on_accepted`). The leader gives a
  client's request the next free slot and sends ``Accept``; a majority of ``Accepted``
  replies means the command is chosen there. It tells the others with ``Decide``. With a
  stable leader that is one round trip per command instead of single-decree Paxos's two.
* **Learning and applying** (`learn`). A replica keeps the decided commands in slot order in
  ``log`` and applies each once every slot before it is decided; commands decided out of
  order wait in ``pending``. The leader answers the client when it applies the command.
* **Failure detection.** The leader sends ``Heartbeat`` every ``heartbeat_interval`` ms
  (with how far its log is decided: a server that is behind asks for the rest with
  ``CatchUp``), and resends ``Accept`` for proposals not yet chosen. An acceptor that has
  promised a higher ballot answers ``Preempted``, and the old leader steps down.

Durable (``storage``): the acceptor's ``promised`` ballot and ``accepted`` proposals (slot ->
(ballot, command), for the slots not yet decided here), the decided ``log``, and the highest
``round`` this server used. All are written before the reply that depends on them leaves (in
this simulator a write to ``storage`` is durable at once). Clients talk to any server, as to
Raft's: a follower answers `NotLeader` with the leader it knows, and the state machine's
sessions make a resent request take effect once.
"""

from __future__ import annotations

from typing import Any

from distlab.consensus.multipaxos.messages import (NOOP, Accept, Accepted, Ballot, CatchUp, Decide,
                                                   Heartbeat, Preempted, Prepare, Promise)
from distlab.consensus.timeouts import leader_timings
from distlab.kv.machine import KVMachine
from distlab.sim import Node
from distlab.workloads.client import NotLeader
from distlab.workloads.kv import Append, Get, Put


class MultiPaxosServer(Node):
    """One server of a Multi-Paxos replicated key-value store (see the module's docstring).

    ``election_timeout``: the range a follower's timeout is drawn from, in ms;
    ``heartbeat_interval``: how often a leader sends `Heartbeat` (and resends the ``Accept``
    of proposals older than that); ``batch``: the most decided slots sent for one `CatchUp`.

    ``role`` is ``"follower"``, ``"candidate"`` (running phase 1 in ``ballot``) or
    ``"leader"`` (of ``ballot``). A leader's ``proposals`` are the commands it proposed and
    has not seen chosen yet (slot -> command), ``accepted_by`` who accepted each, and
    ``next_slot`` the slot its next client request goes to.

    Invariants: a leader proposes, in a slot, only the value phase 1 imposed on it or a
    command in a slot that no acceptor of its promise majority had accepted anything for; an
    acceptor never accepts a ballot lower than it promised; ``log`` only grows, and
    ``log[i - 1]`` is the command chosen in slot ``i``.
    """

    def __init__(self, election_timeout: tuple[float, float] = (150.0, 300.0),
                 heartbeat_interval: float = 50.0, batch: int = 32):
        self.election_timeout = leader_timings(
            election_timeout, heartbeat_interval,
            otherwise="followers would start phase 1 against a healthy leader")
        if batch < 1:
            raise ValueError(f"batch is how many decided slots one CatchUp gets back and must "
                             f"be at least 1; got {batch!r}")
        self.heartbeat_interval = heartbeat_interval
        self.batch = batch
        self.role = "follower"
        self.leader_id: str | None = None
        self.ballot: Ballot | None = None
        self.promises: dict[str, Promise] = {}
        self.proposals: dict[int, Any] = {}
        self.accepted_by: dict[int, set[str]] = {}
        self.proposed_at: dict[int, float] = {}
        self.next_slot = 1
        self.waiting: list[Get | Put | Append] = []
        self.pending: dict[int, Any] = {}
        self.machine = KVMachine()
        self.storage.setdefault("log", [])
        self.storage.setdefault("accepted", {})

    # -- durable state ------------------------------------------------------------------------
    @property
    def promised(self) -> Ballot | None:
        """The highest ballot this acceptor promised (None: none yet)."""
        return self.storage.get("promised")

    @property
    def accepted(self) -> dict[int, tuple[Ballot, Any]]:
        """The last proposal this acceptor accepted in each slot it has not decided yet."""
        return self.storage["accepted"]

    @property
    def log(self) -> list[Any]:
        """The decided commands, in slot order: ``log[i - 1]`` is slot ``i``'s."""
        return self.storage["log"]

    def majority(self) -> int:
        return (len(self.peers) + 1) // 2 + 1

    # -- start, timers ------------------------------------------------------------------------
    def on_start(self) -> None:
        """Start, or restart after a crash: replay the decided log into a new machine."""
        for command in self.log:
            if command != NOOP:
                self.machine.apply(command)
        self.reset_election_timer()

    def reset_election_timer(self) -> None:
        self.set_timer(self.rng.uniform(*self.election_timeout), "election")

    def on_timer(self, name: str) -> None:
        match name:
            case "election" if self.role != "leader":
                self.start_phase1()
            case "heartbeat" if self.role == "leader":
                self.send_heartbeats()

    # -- sending ------------------------------------------------------------------------------
    def to_all(self, msg: Any) -> None:
        """Send ``msg`` to every server, this one included: its own acceptor answers at
        once, without a message on the network."""
        for peer in self.peers:
            self.send(peer, msg)
        self.on_message(self.id, msg)

    def reply(self, dst: str, msg: Any) -> None:
        """Answer ``dst``: over the network, or at once if it is this server."""
        if dst == self.id:
            self.on_message(self.id, msg)
        else:
            self.send(dst, msg)

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Get() | Put() | Append():
                self.on_request(src, msg)
            case Prepare():
                self.on_prepare(src, msg)
            case Promise(ballot=ballot) if self.role == "candidate" and ballot == self.ballot:
                self.promises[src] = msg
                if len(self.promises) >= self.majority():
                    self.become_leader()
            case Accept():
                self.on_accept(src, msg)
            case Accepted():
                self.on_accepted(src, msg)
            case Preempted(ballot) if self.role != "follower" and ballot > self.ballot:
                self.step_down(ballot)
            case Decide(slot, command):
                self.learn(slot, command)
            case Heartbeat():
                self.on_heartbeat(src, msg)
            case CatchUp(first_slot) if self.role == "leader":
                for slot in range(first_slot, min(first_slot + self.batch, len(self.log) + 1)):
                    self.send(src, Decide(slot, self.log[slot - 1]))

    # -- phase 1: the candidate's side --------------------------------------------------------
    def start_phase1(self) -> None:
        """Run for leader: a ballot higher than any seen, prepared for every slot from the
        first this server has not decided."""
        self.ballot = self.new_ballot()
        self.role = "candidate"
        self.leader_id = None
        self.promises = {}
        self.note("prepare", ballot=self.ballot)
        self.reset_election_timer()  # (no majority in time: a higher ballot then)
        self.to_all(Prepare(self.ballot, len(self.log) + 1))

    def new_ballot(self) -> Ballot:
        """A ballot higher than any this server promised or used (its round is durable, so
        a restarted server never reuses one)."""
        seen = self.promised[0] if self.promised is not None else 0
        round_ = max(self.storage.get("round", 0), seen) + 1
        self.storage["round"] = round_
        return (round_, self.id)

    def become_leader(self) -> None:
        """A majority promised: learn what they report, re-propose what may be chosen, fill
        the gaps with no-ops, then serve the clients that waited."""
        self.role = "leader"
        self.leader_id = self.id
        self.cancel_timer("election")
        self.note("leader", ballot=self.ballot)
        decided, accepted = self.merge_promises()
        for slot, command in sorted(decided.items()):
            self.learn(slot, command)
        last = max([len(self.log), *self.pending, *accepted], default=0)
        self.proposals, self.accepted_by, self.proposed_at = {}, {}, {}
        for slot in range(len(self.log) + 1, last + 1):
            if slot not in self.pending:
                self.propose(slot, self.recover(accepted.get(slot)))
        self.next_slot = last + 1
        self.send_heartbeats()
        waiting, self.waiting = self.waiting, []
        for request in waiting:
            self.propose_request(request)

    def merge_promises(self) -> tuple[dict[int, Any], dict[int, tuple[Ballot, Any]]]:
        """What the promises report: the decided slots (slot -> command), and for each other
        slot the proposal with the highest ballot (slot -> (ballot, command))."""
        decided: dict[int, Any] = {}
        accepted: dict[int, tuple[Ballot, Any]] = {}
        for promise in self.promises.values():
            decided.update(promise.decided)
            for slot, ballot, command in promise.accepted:
                if slot not in accepted or ballot > accepted[slot][0]:
                    accepted[slot] = (ballot, command)
        return decided, {s: p for s, p in accepted.items() if s not in decided}

    def recover(self, reported: tuple[Ballot, Any] | None) -> Any:
        """The value a new leader must propose in a slot: the highest-ballot proposal the
        promises report (it may have been chosen), or a no-op if none does (a gap)."""
        return NOOP if reported is None else reported[1]

    def step_down(self, seen: Ballot) -> None:
        """A higher ballot ``seen`` exists: follow, and remember its round."""
        self.storage["round"] = max(self.storage.get("round", 0), seen[0])
        self.role = "follower"
        self.leader_id = seen[1]
        self.proposals, self.accepted_by, self.proposed_at = {}, {}, {}
        self.waiting = []
        self.cancel_timer("heartbeat")
        self.reset_election_timer()

    # -- the acceptor -------------------------------------------------------------------------
    def on_prepare(self, src: str, msg: Prepare) -> None:
        promised = self.promised
        if promised is not None and msg.ballot < promised:
            self.reply(src, Preempted(promised))
            return
        self.storage["promised"] = msg.ballot
        first = msg.first_slot
        decided = [(slot, self.log[slot - 1]) for slot in range(first, len(self.log) + 1)]
        decided += [(slot, command) for slot, command in self.pending.items() if slot >= first]
        accepted = tuple((slot, ballot, command)
                         for slot, (ballot, command) in sorted(self.accepted.items())
                         if slot >= first)
        self.reply(src, Promise(msg.ballot, tuple(decided), accepted))
        if src != self.id:
            if self.role != "follower" and msg.ballot > self.ballot:
                self.step_down(msg.ballot)
            else:
                self.reset_election_timer()  # (give the candidate time to finish)

    def on_accept(self, src: str, msg: Accept) -> None:
        promised = self.promised
        if promised is not None and msg.ballot < promised:
            self.reply(src, Preempted(promised))
            return
        self.storage["promised"] = msg.ballot
        if msg.slot > len(self.log):  # (a slot decided here is settled already)
            self.accepted[msg.slot] = (msg.ballot, msg.command)
        self.reply(src, Accepted(msg.ballot, msg.slot))
        self.follow(msg.ballot)

    def follow(self, ballot: Ballot) -> None:
        """The leader of ``ballot`` is at work: follow it (stepping down from a lower one)."""
        if self.role != "follower" and ballot > self.ballot:
            self.step_down(ballot)
        if self.role == "follower":
            self.leader_id = ballot[1]
            self.reset_election_timer()

    def on_heartbeat(self, src: str, msg: Heartbeat) -> None:
        promised = self.promised
        if promised is not None and msg.ballot < promised:
            self.send(src, Preempted(promised))
            return
        self.follow(msg.ballot)
        if msg.decided > len(self.log):
            self.send(src, CatchUp(len(self.log) + 1))

    # -- phase 2: the leader's side -----------------------------------------------------------
    def on_request(self, src: str, request: Get | Put | Append) -> None:
        """A client's request: the leader proposes it; a candidate keeps it until phase 1
        ends; a follower redirects the client."""
        if self.role == "leader":
            self.propose_request(request)
        elif self.role == "candidate":
            self.waiting.append(request)
        else:
            self.send(src, NotLeader(request.msg_id, self.leader_id))

    def propose_request(self, request: Get | Put | Append) -> None:
        reply = self.machine.reply_to(request)
        if reply is not None:  # applied already (a resent request): answer again
            self.send(request.client, reply)
        elif request not in self.proposals.values():  # (else it is on its way)
            self.propose(self.next_slot, request)
            self.next_slot += 1

    def propose(self, slot: int, command: Any) -> None:
        """Phase 2a for ``slot``, in this leader's ballot."""
        self.proposals[slot] = command
        self.accepted_by[slot] = set()
        self.proposed_at[slot] = self.now
        self.to_all(Accept(self.ballot, slot, command))

    def on_accepted(self, src: str, msg: Accepted) -> None:
        """Count the acceptors of a proposal; with a majority it is chosen: tell everyone."""
        slot = msg.slot
        if self.role != "leader" or msg.ballot != self.ballot or slot not in self.proposals:
            return
        self.accepted_by[slot].add(src)
        if len(self.accepted_by[slot]) >= self.majority():
            command = self.proposals.pop(slot)
            del self.accepted_by[slot], self.proposed_at[slot]
            for peer in self.peers:
                self.send(peer, Decide(slot, command))
            self.learn(slot, command)

    def send_heartbeats(self) -> None:
        """Tell the followers this leader is alive, and resend what is overdue: the
        ``Accept`` of every proposal older than a heartbeat interval, to those that have not
        accepted it."""
        for peer in self.peers:
            self.send(peer, Heartbeat(self.ballot, len(self.log)))
        for slot, command in list(self.proposals.items()):
            if self.now - self.proposed_at[slot] >= self.heartbeat_interval:
                for peer in self.peers:
                    if peer not in self.accepted_by[slot]:
                        self.send(peer, Accept(self.ballot, slot, command))
        self.set_timer(self.heartbeat_interval, "heartbeat")

    # -- learning and applying ----------------------------------------------------------------
    def learn(self, slot: int, command: Any) -> None:
        """``command`` is chosen in ``slot``: apply it, and every slot after it already
        decided, once all slots before it are."""
        if slot <= len(self.log) or slot in self.pending:
            return
        self.pending[slot] = command
        while len(self.log) + 1 in self.pending:
            slot = len(self.log) + 1
            command = self.pending.pop(slot)
            self.log.append(command)
            self.accepted.pop(slot, None)  # (decided: no later leader needs the proposal)
            self.apply(command)

    def apply(self, command: Any) -> None:
        """Apply a decided command to the machine; the leader answers its client."""
        if command == NOOP:
            return
        reply = self.machine.apply(command)
        if self.role == "leader" and reply is not None:
            self.send(command.client, reply)


class PaxosPerCommand(MultiPaxosServer):
    """Single-decree Paxos for every command: the leader runs phase 1 again, in a new ballot,
    before it proposes each client request (what Multi-Paxos saves, for the measurements)."""

    def on_request(self, src: str, request: Get | Put | Append) -> None:
        if self.role == "leader" and self.machine.reply_to(request) is None:
            self.waiting.append(request)
            self.start_phase1()
        else:
            super().on_request(src, request)
