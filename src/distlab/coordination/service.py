"""A coordination service in the style of etcd and ZooKeeper: `CoordinationMachine` replicated
by the chapter's Raft (`distlab.consensus.raft.node.RaftNode`).

`CoordinationNode` is a `RaftNode` that applies the coordination requests, with the two things
a key-value store on Raft does not have:

* **lease expiry, decided by the leader's clock.** The leader keeps a deadline per lease
  (``now + ttl``, pushed back by each `KeepAlive`, which it answers itself without the log).
  When a deadline passes it appends `Expire(lease)` to the log; the servers delete the lease's
  keys when they apply that entry, all at the same point of the log. The deadlines are not
  replicated: a new leader gives every lease a full TTL from its election, so a lease may
  outlive its holder by up to one TTL more, never less (etcd does the same).
* **a leader that has lost its majority steps down** (Raft's *CheckQuorum*, which etcd turns
  on): if it has not heard from a majority within the longest election timeout, another leader
  may exist, and it stops renewing leases. Without this, a leader cut off with a client
  would go on answering its `KeepAlive` requests while the majority's new leader expires
  the lease. Its answers can still be stale for up to that timeout: a client must not trust
  a renewal to the last millisecond (and a resource must check fencing tokens).
* **watches**: the leader sends each change a watch covers to the watching client as a
  `WatchEvent`. A new leader first replays the history each watch covers (a client may have
  missed events the old leader applied but never sent); clients drop events they have seen,
  by revision.
"""

from __future__ import annotations

from typing import Any

from distlab.consensus.raft.messages import AppendEntriesReply, Entry, InstallSnapshotReply
from distlab.consensus.raft.node import RaftNode
from distlab.coordination.machine import REQUESTS, CoordinationMachine, matches
from distlab.coordination.messages import (CompareAndSetOk, DeleteOk, Expire, Granted, KeepAlive,
                                           KeptAlive, PutOk, RangeOk, Revoked, WatchEvent,
                                           Watching)
from distlab.workloads.client import Error, NotLeader

#: what a server answers (named here so that, run as a real process, its codec knows them)
REPLIES = (PutOk, CompareAndSetOk, RangeOk, DeleteOk, Granted, Revoked, Watching, WatchEvent,
           KeptAlive, Error, NotLeader)


class CoordinationNode(RaftNode):
    """One server of the coordination service (see the module's docstring).

    ``lease_check`` is how often, in ms, the leader looks for leases past their deadline.
    Volatile, leader only: ``deadlines`` (lease -> time it expires), ``expiring`` (leases
    whose `Expire` is in the log but not applied yet), ``replayed`` (whether the watches'
    history was sent again since this server became leader), ``heard`` (peer -> when its
    last reply of this term arrived).
    """

    machine_class = CoordinationMachine
    requests = REQUESTS

    def __init__(self, lease_check: float = 50.0, **raft: Any) -> None:
        super().__init__(**raft)
        if lease_check <= 0:
            raise ValueError(f"lease_check is a period in ms and must be positive; "
                             f"got {lease_check!r}")
        self.lease_check = lease_check
        self.deadlines: dict[int, float] = {}
        self.expiring: set[int] = set()
        self.replayed = False
        self.heard: dict[str, float] = {}

    def become_leader(self) -> None:
        self.deadlines, self.expiring, self.replayed = {}, set(), False
        self.heard = {peer: self.now for peer in self.peers}
        super().become_leader()
        self.set_timer(self.lease_check, "leases")

    def on_timer(self, name: str) -> None:
        if name == "leases" and self.role == "leader":
            if not self.check_quorum():
                return
            self.expire_leases()
            self.set_timer(self.lease_check, "leases")
            return
        super().on_timer(name)

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, KeepAlive):
            self.keep_alive(src, msg)
            return
        if (isinstance(msg, AppendEntriesReply | InstallSnapshotReply) and self.role == "leader"
                and msg.term == self.term):
            self.heard[src] = self.now
        super().on_message(src, msg)

    def check_quorum(self) -> bool:
        """Whether this leader heard from a majority within the longest election timeout;
        if not, it steps down (keeping its term and vote) and stops renewing leases."""
        recent = self.now - self.election_timeout[1]
        if 1 + sum(1 for t in self.heard.values() if t >= recent) >= self.majority():
            return True
        self.note("steps down", why="no majority heard")
        self.role, self.leader_id = "follower", None
        self.cancel_timer("heartbeat")
        self.reset_election_timer()
        return False

    # -- leases --------------------------------------------------------------------------------
    def keep_alive(self, src: str, msg: KeepAlive) -> None:
        """Renew a lease: only the leader keeps the countdowns."""
        if self.role != "leader":
            self.send(src, NotLeader(0, self.leader_id))
            return
        ttl = self.machine.leases.get(msg.lease)
        if ttl is None or msg.lease in self.expiring:
            self.send(src, KeptAlive(msg.lease, 0))
            return
        self.deadlines[msg.lease] = self.now + ttl
        self.send(src, KeptAlive(msg.lease, ttl))

    def expire_leases(self) -> None:
        """Give each lease the leader has not timed yet a full TTL from now; write `Expire`
        into the log for each one past its deadline."""
        expired = []
        for lease, ttl in sorted(self.machine.leases.items()):
            deadline = self.deadlines.setdefault(lease, self.now + ttl)
            if deadline <= self.now and lease not in self.expiring:
                expired.append(lease)
        for lease in expired:
            self.expiring.add(lease)
            self.note("lease expired", lease=lease)
            self.log.append(Entry(self.term, Expire(lease)))
        if expired:
            self.broadcast_append()

    # -- applying: watches -----------------------------------------------------------------------
    def apply_committed(self) -> None:
        """Apply as Raft does, then send the changes to the clients that watch them (the
        leader only: the other servers drop them). A new leader, once it has applied an entry
        of its own term (its state is then complete), first replays each watch's history."""
        super().apply_committed()
        notifications, self.machine.notifications = self.machine.notifications, []
        if self.role != "leader" or self.term_at(self.last_applied) != self.term:
            return
        if not self.replayed:
            self.replayed = True
            notifications = [(client, WatchEvent(watch_id, event))
                             for (client, watch_id), watch in sorted(self.machine.watches.items())
                             for event in self.machine.events_since(watch.start_revision)
                             if matches(watch, event.key)]
        for client, event in notifications:
            self.send(client, event)
        for lease in [lease for lease in self.deadlines if lease not in self.machine.leases]:
            del self.deadlines[lease]
            self.expiring.discard(lease)
