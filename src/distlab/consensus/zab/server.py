"""Zab, ZooKeeper's atomic broadcast (Junqueira, Reed and Serafini 2011): one `ZabServer`
class, replicating a key-value store.

A server goes through the paper's phases, each a group of methods:

0. **Election** (`start_looking`, `on_vote`): a server that has no leader votes, in rounds,
   for the server with the latest history it has heard of -- (current epoch, last zxid,
   id), highest first -- and settles once a quorum votes as it does. This only proposes a
   leader; nothing below depends on its choice being good.
1. **Discovery** (`lead`, `on_follower_info`, `on_new_epoch`, `on_ack_epoch`): the
   prospective leader collects from a quorum the last epoch each accepted, proposes a later
   one (`NewEpoch`), and from the quorum's answers (`AckEpoch`) takes the most recent history
   -- latest current epoch, then latest zxid -- as the new epoch's initial history.
2. **Synchronisation** (`on_new_leader`, `on_ack_new_leader`): followers adopt that history
   (`NewLeader`); once a quorum has, all of it is committed.
3. **Broadcast** (`on_request`, `on_proposal`, `on_ack`, `deliver_up_to`): the leader gives
   each client request the next ``zxid = (epoch, counter)`` and proposes it; a quorum of
   acknowledgements commits it, in zxid order.

Durable (``storage``), as the paper's: ``accepted_epoch`` (the last `NewEpoch` accepted, and
from whom), ``current_epoch`` (the last `NewLeader` accepted), and the ``history``.

Zab assumes FIFO channels that a lost message breaks; here a leader instead resends, at each
heartbeat, the proposals a follower has not acknowledged, and a follower ignores a proposal
that does not follow its history. A server that does not hear from a quorum (leader) or from
its leader (follower) for a timeout goes back to election.
"""

from __future__ import annotations

from typing import Any

from distlab.consensus.timeouts import leader_timings
from distlab.consensus.zab.messages import (NO_ZXID, Ack, AckEpoch, AckNewLeader, Commit,
                                            FollowerInfo, Heartbeat, LeaderIs, NewEpoch, NewLeader,
                                            Proposal, Txn, Vote, Zxid)
from distlab.kv.machine import KVMachine
from distlab.sim import ConfigurationError, Node
from distlab.workloads.client import NotLeader
from distlab.workloads.kv import Append, AppendOk, Get, GetOk, Put, PutOk

#: the client requests a server accepts
REQUESTS = (Get, Put, Append)
#: what it answers them
REPLIES = (GetOk, PutOk, AppendOk, NotLeader)
#: the most proposals resent to one follower at once
RESEND = 64


class ZabServer(Node):
    """One Zab server (see the module's docstring for the phases).

    ``timeout`` is the range each timeout is drawn from, in ms: an election round, a
    follower's patience with a silent leader, a leader's with a silent quorum.
    ``heartbeat_interval`` is how often a leader pings its followers. ``finalize_wait`` is
    how long a server that sees a quorum agree waits for a better vote before it settles (as
    ZooKeeper's ``finalizeWait``): without it, a server settles on a vote its quorum has
    already abandoned.

    ``role`` is ``"looking"``, ``"following"``, ``"prospective"`` (a leader in discovery) or
    ``"leading"`` (established: a quorum accepted its epoch and history); ``phase`` names
    the paper's phase. ``committed`` counts the delivered transactions, a prefix of
    ``history``.
    """

    def __init__(self, timeout: tuple[float, float] = (150.0, 300.0),
                 heartbeat_interval: float = 50.0, finalize_wait: float = 20.0):
        self.timeout = leader_timings(timeout, heartbeat_interval,
                                      names=("timeout", "heartbeat_interval"),
                                      otherwise="followers would leave a healthy leader")
        if not 0 <= finalize_wait < self.timeout[0]:
            raise ValueError(f"finalize_wait ({finalize_wait}) must be at least 0 and shorter "
                             f"than the timeout ({self.timeout[0]})")
        self.finalize_wait = finalize_wait
        self.heartbeat_interval = heartbeat_interval
        self.role = "looking"
        self.phase = "election"
        self.leader: str | None = None
        self.committed = 0
        self.machine = KVMachine()
        self.round = 0                                   # election
        self.proposal: tuple[int, Zxid, str] = (0, NO_ZXID, "")
        self.votes: dict[str, tuple[int, Zxid, str]] = {}
        self.new_epoch: int | None = None                # leader: discovery
        self.infos: dict[str, int] = {}
        self.ack_epochs: dict[str, AckEpoch] = {}
        self.synced: set[str] = set()                    # leader: followers in the epoch
        self.acked: dict[str, Zxid] = {}
        self.stalled: dict[str, Zxid] = {}               # acked at the last heartbeat
        self.counter = 0
        self.last_heard: dict[str, float] = {}
        self.since = 0.0
        self.storage.setdefault("history", [])

    # -- durable state ------------------------------------------------------------------------
    @property
    def history(self) -> list[Txn]:
        return self.storage["history"]

    @property
    def accepted_epoch(self) -> int:
        """The last epoch this server accepted in a `NewEpoch` (the paper's f.p)."""
        return self.storage.get("accepted_epoch", 0)

    @property
    def current_epoch(self) -> int:
        """The last epoch whose `NewLeader` this server accepted (the paper's f.a)."""
        return self.storage.get("current_epoch", 0)

    def last_zxid(self) -> Zxid:
        return self.history[-1].zxid if self.history else NO_ZXID

    def quorum(self) -> int:
        return (len(self.peers) + 1) // 2 + 1

    def show(self) -> dict[str, Any]:
        return {"role": self.role, "phase": self.phase, "epoch": self.current_epoch,
                "history": len(self.history), "committed": self.committed,
                "data": self.machine.data}

    # -- start, timers ------------------------------------------------------------------------
    def on_start(self) -> None:
        """Start, or restart: the history is on disk, what was delivered must be learnt
        again (from the next leader's `Commit`)."""
        if len(self.peers) < 2:
            raise ConfigurationError(
                f"Zab needs at least 3 servers to survive a failure; {self.id!r} has "
                f"{len(self.peers) + 1}: add the servers with one add_nodes call")
        self.start_looking()

    def reset_timeout(self) -> None:
        self.set_timer(self.rng.uniform(*self.timeout), "timeout")

    def on_timer(self, name: str) -> None:
        match name:
            case "timeout" if self.role == "looking" and self.agreed():
                self.settle(self.proposal[2])
            case "timeout" if self.role in ("looking", "following"):
                self.start_looking()  # a round without a result, or a silent leader
            case "follower-info" if self.role == "following" and self.phase == "discovery":
                self.send(self.leader, FollowerInfo(self.accepted_epoch))
                self.set_timer(self.heartbeat_interval, "follower-info")
            case "heartbeat" if self.role in ("prospective", "leading"):
                self.heartbeat()
            case "settle" if self.role == "looking" and self.agreed():
                self.settle(self.proposal[2])

    def heartbeat(self) -> None:
        """The leader pings, resends what was not acknowledged, and gives up if a quorum
        has not been heard from for a whole timeout."""
        heard = 1 + sum(1 for peer in self.peers
                        if self.now - self.last_heard.get(peer, -1e18) < self.timeout[1])
        if heard < self.quorum() and self.now - self.since > self.timeout[1]:
            self.start_looking()
            return
        if self.role == "leading" and self.phase == "broadcast":
            for follower in sorted(self.synced - {self.id}):
                self.send(follower, Heartbeat(self.current_epoch, self.last_zxid(),
                                              self.committed_zxid()))
                self.resend(follower)
        self.set_timer(self.heartbeat_interval, "heartbeat")

    # -- phase 0: election --------------------------------------------------------------------
    def start_looking(self) -> None:
        """Forget any leader and vote, in a new round, for this server itself."""
        self.role, self.phase, self.leader = "looking", "election", None
        self.cancel_timer("heartbeat")
        self.round += 1
        self.proposal = (self.current_epoch, self.last_zxid(), self.id)
        self.votes = {self.id: self.proposal}
        self.note("looking", round=self.round)
        self.broadcast(Vote(self.round, self.id, self.current_epoch, self.last_zxid()))
        self.reset_timeout()

    def on_vote(self, src: str, msg: Vote) -> None:
        """Adopt a better proposal (or a later round), tell everyone, and settle once a
        quorum of this round votes for the same server."""
        if self.role != "looking":
            if self.role == "leading" and self.phase == "broadcast":
                self.send(src, LeaderIs(self.id, self.current_epoch))  # (only the leader
            return                                                      # vouches for itself)
        theirs = (msg.epoch, msg.zxid, msg.leader)
        if msg.round < self.round:
            self.send(src, Vote(self.round, self.proposal[2], *self.proposal[:2]))
            return
        if msg.round > self.round:
            self.round = msg.round
            self.votes = {}
            self.proposal = max(theirs, (self.current_epoch, self.last_zxid(), self.id))
            self.broadcast(Vote(self.round, self.proposal[2], *self.proposal[:2]))
        elif theirs > self.proposal:
            self.proposal = theirs
            self.cancel_timer("settle")
            self.broadcast(Vote(self.round, self.proposal[2], *self.proposal[:2]))
        elif theirs < self.proposal:  # it may not have heard this proposal: tell it
            self.send(src, Vote(self.round, self.proposal[2], *self.proposal[:2]))
        self.votes[self.id] = self.proposal
        self.votes[src] = theirs
        if self.agreed():
            self.set_timer(self.finalize_wait, "settle")  # unless a better vote comes
        else:
            self.cancel_timer("settle")

    def agreed(self) -> bool:
        """Whether a quorum of this round's votes is for this server's proposal."""
        return sum(1 for vote in self.votes.values() if vote == self.proposal) >= self.quorum()

    def settle(self, leader: str) -> None:
        if leader == self.id:
            self.lead()
        else:
            self.follow(leader)

    # -- phase 1: discovery -------------------------------------------------------------------
    def lead(self) -> None:
        """Become the prospective leader: wait for a quorum's `FollowerInfo`."""
        self.role, self.phase, self.leader = "prospective", "discovery", self.id
        self.cancel_timer("timeout")
        self.new_epoch = None
        self.infos = {self.id: self.accepted_epoch}
        self.ack_epochs = {}
        self.synced = set()
        self.last_heard = {}
        self.since = self.now
        self.note("prospective", round=self.round)
        self.set_timer(self.heartbeat_interval, "heartbeat")

    def follow(self, leader: str) -> None:
        """Follow ``leader``: tell it the last epoch this server accepted (again every
        heartbeat interval, until it answers: it may not know yet that it leads)."""
        self.role, self.phase, self.leader = "following", "discovery", leader
        self.send(leader, FollowerInfo(self.accepted_epoch))
        self.set_timer(self.heartbeat_interval, "follower-info")
        self.reset_timeout()

    def on_follower_info(self, src: str, msg: FollowerInfo) -> None:
        """With a quorum's epochs, propose a later one. A follower that comes later (or
        again, to catch up) is sent the epoch already chosen."""
        if self.new_epoch is None:
            self.infos[src] = msg.accepted_epoch
            if len(self.infos) < self.quorum():
                return
            self.new_epoch = max(self.infos.values()) + 1
            self.storage["accepted_epoch"] = self.new_epoch
            self.storage["accepted_from"] = self.id
            self.ack_epochs = {self.id: AckEpoch(self.new_epoch, self.current_epoch,
                                                 tuple(self.history))}
            for follower in sorted(self.infos.keys() - {self.id}):
                self.send(follower, NewEpoch(self.new_epoch))
        else:
            self.send(src, NewEpoch(self.new_epoch))

    def on_new_epoch(self, src: str, msg: NewEpoch) -> None:
        """Accept a later epoch (or the same one again from the same leader) and send this
        server's history; an earlier epoch than one accepted means the leader is stale."""
        accepted = self.accepted_epoch
        if msg.epoch == self.current_epoch and self.phase == "broadcast":
            return  # a late copy: this server is in that epoch already
        if msg.epoch > accepted or (msg.epoch == accepted
                                    and self.storage.get("accepted_from") == src):
            self.storage["accepted_epoch"] = msg.epoch
            self.storage["accepted_from"] = src
            self.phase = "synchronisation"
            self.send(src, AckEpoch(msg.epoch, self.current_epoch, tuple(self.history)))
            self.reset_timeout()
        elif msg.epoch < accepted:
            self.start_looking()

    def choose_history(self) -> tuple[Txn, ...]:
        """The initial history: the most recent of the quorum's, by current epoch, then by
        last zxid. Every committed transaction is in it: a quorum acknowledged it, and this
        quorum meets that one."""
        best = max(self.ack_epochs.values(),
                   key=lambda a: (a.current_epoch, a.history[-1].zxid if a.history
                                  else NO_ZXID))
        return best.history

    def on_ack_epoch(self, src: str, msg: AckEpoch) -> None:
        """With a quorum's histories, establish the epoch: adopt the chosen history and send
        it (`NewLeader`). A latecomer gets the leader's history as it is now."""
        if msg.epoch != self.new_epoch:
            return
        if self.phase != "discovery":
            self.send(src, NewLeader(self.new_epoch, tuple(self.history)))
            return
        self.ack_epochs[src] = msg
        if len(self.ack_epochs) < self.quorum():
            return
        self.storage["history"] = list(self.choose_history())
        self.storage["current_epoch"] = self.new_epoch
        self.role, self.phase = "leading", "synchronisation"
        self.counter = 0
        self.synced = {self.id}
        self.acked = {self.id: self.last_zxid()}
        self.stalled = {}
        self.note("leading", epoch=self.new_epoch)
        for follower in sorted(self.ack_epochs.keys() - {self.id}):
            self.send(follower, NewLeader(self.new_epoch, tuple(self.history)))

    # -- phase 2: synchronisation -------------------------------------------------------------
    def on_new_leader(self, src: str, msg: NewLeader) -> None:
        """Adopt the new epoch's initial history, if this is the epoch accepted. Within the
        epoch, a history from its leader only replaces a shorter one: a late copy of an
        earlier `NewLeader` would cut off proposals accepted since."""
        if (msg.epoch != self.accepted_epoch or self.storage.get("accepted_from") != src):
            return
        if msg.epoch != self.current_epoch or len(msg.history) > len(self.history):
            self.storage["current_epoch"] = msg.epoch
            self.storage["history"] = list(msg.history)
        self.phase = "broadcast"
        self.send(src, AckNewLeader(msg.epoch, self.last_zxid()))
        self.reset_timeout()

    def on_ack_new_leader(self, src: str, msg: AckNewLeader) -> None:
        """A follower is in the epoch. With a quorum, commit the whole initial history and
        start broadcasting; a latecomer gets what was proposed since and the commit point."""
        if msg.epoch != self.current_epoch:
            return
        self.synced.add(src)
        self.acked[src] = max(msg.zxid, self.acked.get(src, NO_ZXID))
        if self.phase == "synchronisation" and len(self.synced) >= self.quorum():
            self.phase = "broadcast"
            self.note("broadcast", epoch=self.current_epoch)
            self.deliver_up_to(len(self.history))
            for follower in sorted(self.synced - {self.id}):
                self.send(follower, Commit(self.current_epoch, self.committed_zxid()))
        elif self.phase == "broadcast":
            self.resend(src)
            self.send(src, Commit(self.current_epoch, self.committed_zxid()))

    # -- phase 3: broadcast -------------------------------------------------------------------
    def on_request(self, src: str, request: Get | Put | Append) -> None:
        """Only the established leader, broadcasting, proposes requests."""
        if self.role != "leading" or self.phase != "broadcast":
            known = self.leader if self.role == "following" and self.phase == "broadcast" \
                else None
            self.send(src, NotLeader(request.msg_id, known))
            return
        reply = self.machine.reply_to(request)
        if reply is not None:
            self.send(src, reply)
            return
        if any(txn.command == request for txn in self.history[self.committed:]):
            return  # proposed already: wait for its commit
        self.counter += 1
        txn = Txn((self.current_epoch, self.counter), request)
        self.history.append(txn)
        self.acked[self.id] = txn.zxid
        for follower in sorted(self.synced - {self.id}):
            self.send(follower, Proposal(self.current_epoch, txn))

    def follows(self, zxid: Zxid) -> bool:
        """Whether ``zxid`` is the next transaction of the current epoch after the
        history's last."""
        epoch, counter = zxid
        last_epoch, last_counter = self.last_zxid()
        return epoch == self.current_epoch and counter == (
            last_counter + 1 if last_epoch == epoch else 1)

    def on_proposal(self, src: str, msg: Proposal) -> None:
        """Accept a proposal that follows the history, and acknowledge (a duplicate is
        acknowledged again; one after a gap is ignored: the leader resends)."""
        if self.follows(msg.txn.zxid):
            self.history.append(msg.txn)
        if msg.txn.zxid <= self.last_zxid():
            self.send(src, Ack(msg.epoch, self.last_zxid()))

    def on_ack(self, src: str, msg: Ack) -> None:
        """Count acknowledgements: a transaction is committed once a quorum has it."""
        if src not in self.synced or msg.epoch != self.current_epoch:
            return
        if msg.zxid > self.acked.get(src, NO_ZXID):
            self.acked[src] = msg.zxid
            before = self.committed
            index = len(self.history)
            while index > self.committed:
                zxid = self.history[index - 1].zxid
                if sum(1 for a in self.acked.values() if a >= zxid) >= self.quorum():
                    break
                index -= 1
            self.deliver_up_to(index)
            if self.committed > before:
                for follower in sorted(self.synced - {self.id}):
                    self.send(follower, Commit(self.current_epoch, self.committed_zxid()))

    def resend(self, follower: str) -> None:
        """If ``follower`` has acknowledged nothing new since the last heartbeat, send it
        the first proposals after the last it acknowledged (they, or its acks, were lost)."""
        acked = self.acked.get(follower, NO_ZXID)
        stalled = self.stalled.get(follower) == acked
        self.stalled[follower] = acked
        if not stalled:
            return
        missing = []
        for txn in reversed(self.history):
            if txn.zxid <= acked:
                break
            missing.append(txn)
        for txn in reversed(missing[-RESEND:]):
            self.send(follower, Proposal(self.current_epoch, txn))

    def committed_zxid(self) -> Zxid:
        return self.history[self.committed - 1].zxid if self.committed else NO_ZXID

    def deliver_up_to(self, index: int) -> None:
        """Deliver, in order, the transactions up to position ``index`` of the history; the
        leader answers their clients."""
        while self.committed < min(index, len(self.history)):
            self.committed += 1
            command = self.history[self.committed - 1].command
            reply = self.machine.apply(command)
            if self.role == "leading" and reply is not None:
                self.send(command.client, reply)

    def deliver_through(self, zxid: Zxid) -> None:
        """A follower delivers every transaction it has up to ``zxid``."""
        index = self.committed
        while index < len(self.history) and self.history[index].zxid <= zxid:
            index += 1
        self.deliver_up_to(index)

    # -- messages -----------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, REQUESTS):
            self.on_request(src, msg)
            return
        match msg:
            case Vote():
                self.on_vote(src, msg)
            case LeaderIs(leader=leader) if self.role == "looking" and leader != self.id:
                self.follow(leader)
            case FollowerInfo() | AckEpoch() | AckNewLeader() | Ack() if (
                    self.role in ("prospective", "leading")):
                self.last_heard[src] = self.now
                match msg:
                    case FollowerInfo():
                        self.on_follower_info(src, msg)
                    case AckEpoch():
                        self.on_ack_epoch(src, msg)
                    case AckNewLeader():
                        self.on_ack_new_leader(src, msg)
                    case Ack():
                        self.on_ack(src, msg)
            case _ if self.role == "following" and src == self.leader:
                self.on_leader_message(src, msg)

    def on_leader_message(self, src: str, msg: Any) -> None:
        """A follower hears from its leader: any message proves it alive."""
        match msg:
            case NewEpoch():
                self.on_new_epoch(src, msg)
                return
            case NewLeader():
                self.on_new_leader(src, msg)
                return
        if self.phase != "broadcast" or msg.epoch != self.current_epoch:
            return
        self.reset_timeout()
        match msg:
            case Proposal():
                self.on_proposal(src, msg)
            case Commit(zxid=zxid):
                self.deliver_through(zxid)
            case Heartbeat(zxid=zxid, committed=committed):
                self.deliver_through(committed)
                self.send(src, Ack(msg.epoch, self.last_zxid()))
