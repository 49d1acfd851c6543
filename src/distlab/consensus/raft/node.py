"""Raft, whole: election, log replication, persistence and snapshots, replicating a key-value
store. Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm" (2014).

The method names follow the paper's Figure 2, so the code can be read beside it:

* **Election** (section 5.2, with the up-to-date check of 5.4.1): `start_election`,
  `grants_vote`, `become_leader`, `step_down`.
* **Log replication** (5.3): `send_append` to each follower, `on_append` on the follower
  (the consistency check on ``prev_log_index``/``prev_log_term``, truncating a conflicting
  suffix), `on_append_reply` on the leader (``next_index``/``match_index``, and the "fast
  backup" that skips a term per round trip), `advance_commit` (a majority, and only for an
  entry of the leader's own term: 5.4.2, the Figure 8 rule), `apply_committed`.
* **Persistence** (Figure 2's "persistent state"): ``term``, ``voted_for`` and the log live
  in ``storage``, written before any reply that depends on them (in this simulator a write
  to ``storage`` is durable at once). Everything else is rebuilt after a restart.
* **Snapshots** (section 7): past ``snapshot_every`` applied entries the node saves the state
  machine and drops the log up to there; a follower too far behind gets `InstallSnapshot`.

Clients talk to any server (`distlab.workloads.kv.KVClient` given every server's id): a
follower answers `NotLeader` with the leader it knows; the leader appends the request to its
log and, once the entry is applied, answers with the state machine's reply. A new leader
first commits an empty entry of its term (section 8), which commits its predecessors'
entries too. Reads go through the log, so every answer is linearizable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distlab.consensus.raft.messages import (AppendEntries, AppendEntriesReply, Entry,
                                             InstallSnapshot, InstallSnapshotReply, RequestVote,
                                             RequestVoteReply)
from distlab.consensus.timeouts import leader_timings
from distlab.kv.machine import KVMachine
from distlab.sim import Node
from distlab.workloads.client import NotLeader
from distlab.workloads.kv import Append, AppendOk, Get, GetOk, Put, PutOk

#: the client requests a Raft server accepts
REQUESTS = (Get, Put, Append)
#: what it answers them (named here so that, run as a real process, its codec knows them)
REPLIES = (GetOk, PutOk, AppendOk, NotLeader)


class RaftNode(Node):
    """One Raft server (see the module's docstring for the map to the paper).

    ``election_timeout`` is the range a follower's timeout is drawn from, in ms;
    ``heartbeat_interval`` how often a leader sends `AppendEntries` when it has nothing new;
    ``batch`` the most entries in one message; ``snapshot_every`` (None: never) how many
    applied entries the log may hold before a snapshot replaces them; ``cluster`` (None: every
    peer) the ids of this Raft cluster's servers, when several clusters share one simulation.

    Durable (``storage``): ``term``, ``voted_for``, ``log`` (the entries after the snapshot,
    a list of `Entry`) and ``snapshot`` (last included index and term, the machine's state).
    Indices count from 1 as in the paper; ``log[0]`` is the entry at index `log_start`.

    What it replicates is a class attribute: ``machine_class`` (`KVMachine`: ``apply``,
    ``reply_to``, ``state`` and ``from_state``) and ``requests``, the client requests it takes
    into the log. A subclass that replicates another service sets both
    (`distlab.coordination.service` does).
    """

    machine_class: Any = KVMachine
    requests: tuple[type, ...] = REQUESTS

    def __init__(self, election_timeout: tuple[float, float] = (150.0, 300.0),
                 heartbeat_interval: float = 50.0, batch: int = 64,
                 snapshot_every: int | None = None, cluster: Sequence[str] | None = None):
        if batch < 1 or (snapshot_every is not None and snapshot_every < 1):
            raise ValueError(f"batch and snapshot_every count entries and must be at least 1; "
                             f"got batch={batch!r}, snapshot_every={snapshot_every!r}")
        self.election_timeout = leader_timings(election_timeout, heartbeat_interval)
        self.heartbeat_interval = heartbeat_interval
        self.batch = batch
        self.snapshot_every = snapshot_every
        self.cluster = None if cluster is None else tuple(cluster)
        self.role = "follower"
        self.leader_id: str | None = None
        self.votes: set[str] = set()
        self.commit_index = 0
        self.last_applied = 0
        self.machine = self.machine_class()
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.storage.setdefault("log", [])  # (durable: a restarted server finds its log)

    # -- durable state ------------------------------------------------------------------------
    @property
    def term(self) -> int:
        """currentTerm: the latest term this server has seen."""
        return self.storage.get("term", 0)

    @property
    def voted_for(self) -> str | None:
        """votedFor: the candidate this server voted for in ``term`` (None: none)."""
        return self.storage.get("voted_for")

    def record_vote(self, candidate: str | None) -> None:
        """Remember durably whom this server voted for in ``term`` (None: nobody yet)."""
        self.storage["voted_for"] = candidate

    @property
    def log(self) -> list[Entry]:
        """The log's entries after the snapshot: ``log[0]`` is at index `log_start`."""
        return self.storage["log"]

    @property
    def snapshot_index(self) -> int:
        """The index of the last entry the snapshot replaces (0: no snapshot)."""
        return self.storage.get("snapshot", (0, 0, None))[0]

    @property
    def log_start(self) -> int:
        """The index of ``log[0]``."""
        return self.snapshot_index + 1

    def last_index(self) -> int:
        return self.snapshot_index + len(self.log)

    def term_at(self, index: int) -> int:
        """The term of the entry at ``index`` (0 before the first entry)."""
        if index == self.snapshot_index:
            return self.storage.get("snapshot", (0, 0, None))[1]
        return self.log[index - self.log_start].term

    def last_term(self) -> int:
        return self.term_at(self.last_index())

    def show(self) -> dict[str, Any]:
        return {"role": self.role, "term": self.term, "voted_for": self.voted_for,
                "log": [(e.term, _short(e.command)) for e in self.log],
                "log_start": self.log_start, "commit_index": self.commit_index,
                "data": self.machine.data}

    # -- start, timers ------------------------------------------------------------------------
    def on_start(self) -> None:
        """Start, or restart after a crash: only ``storage`` is left; rebuild the rest."""
        index, _, state = self.storage.get("snapshot", (0, 0, None))
        self.machine = (self.machine_class() if state is None
                        else self.machine_class.from_state(state))
        self.commit_index = self.last_applied = index
        self.reset_election_timer()

    def reset_election_timer(self) -> None:
        self.set_timer(self.rng.uniform(*self.election_timeout), "election")

    def on_timer(self, name: str) -> None:
        match name:
            case "election" if self.role != "leader":
                self.start_election()
            case "heartbeat" if self.role == "leader":
                self.broadcast_append()

    # -- election -----------------------------------------------------------------------------
    @property
    def servers(self) -> Sequence[str]:
        """The other servers of this Raft cluster: every peer, or the other members of
        ``cluster`` when several clusters share one simulation."""
        if self.cluster is None:
            return self.peers
        return tuple(server for server in self.cluster if server != self.id)

    def majority(self) -> int:
        return (len(self.servers) + 1) // 2 + 1

    def start_election(self) -> None:
        self.storage["term"] = self.term + 1
        self.record_vote(self.id)
        self.role = "candidate"
        self.leader_id = None
        self.votes = {self.id}
        self.note("candidate", term=self.term)
        for peer in self.servers:
            self.send(peer, RequestVote(self.term, self.id, self.last_index(), self.last_term()))
        self.reset_election_timer()  # a split vote: try again in a new term
        if len(self.votes) >= self.majority():
            self.become_leader()

    def grants_vote(self, msg: RequestVote) -> bool:
        """One vote per term, and only to a candidate whose log is at least as up to date as
        this server's (section 5.4.1): a later last term, or the same and at least as long."""
        up_to_date = (msg.last_log_term, msg.last_log_index) >= (self.last_term(),
                                                                 self.last_index())
        return (msg.term == self.term and self.voted_for in (None, msg.candidate_id)
                and up_to_date)

    def become_leader(self) -> None:
        self.role = "leader"
        self.leader_id = self.id
        self.cancel_timer("election")
        self.note("leader", term=self.term)
        self.next_index = {peer: self.last_index() + 1 for peer in self.servers}
        self.match_index = {peer: 0 for peer in self.servers}
        self.log.append(Entry(self.term, None))  # a no-op of this term (section 8)
        self.advance_commit()                    # (a cluster of one commits it at once)
        self.broadcast_append()

    def step_down(self, term: int) -> None:
        """A higher term exists: adopt it, with no vote cast in it yet, as a follower."""
        was_leader = self.role == "leader"
        self.storage["term"] = term
        self.record_vote(None)
        self.role = "follower"
        self.leader_id = None
        if was_leader:
            self.cancel_timer("heartbeat")
            self.reset_election_timer()

    # -- messages -----------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, self.requests):
            self.on_request(src, msg)
            return
        if msg.term > self.term:
            self.step_down(msg.term)
        match msg:
            case RequestVote():
                granted = self.grants_vote(msg)
                if granted:
                    self.record_vote(msg.candidate_id)
                    self.reset_election_timer()
                self.send(src, RequestVoteReply(self.term, granted))
            case RequestVoteReply(term=term, vote_granted=granted):
                if self.role == "candidate" and term == self.term and granted:
                    self.votes.add(src)
                    if len(self.votes) >= self.majority():
                        self.become_leader()
            case AppendEntries():
                self.on_append(src, msg)
            case AppendEntriesReply():
                if self.role == "leader" and msg.term == self.term:
                    self.on_append_reply(src, msg)
            case InstallSnapshot():
                self.on_install_snapshot(src, msg)
            case InstallSnapshotReply():
                if self.role == "leader" and msg.term == self.term:
                    self.record_match(src, msg.match_index)

    def on_request(self, src: str, request: Any) -> None:
        """A client's request: only the leader takes it into the log."""
        if self.role != "leader":
            self.send(src, NotLeader(request.msg_id, self.leader_id))
            return
        reply = self.machine.reply_to(request)
        if reply is not None:  # applied already (a resent request): answer again
            self.send(src, reply)
            return
        self.log.append(Entry(self.term, request))
        self.broadcast_append()

    # -- log replication: the leader's side ---------------------------------------------------
    def broadcast_append(self) -> None:
        for peer in self.servers:
            self.send_append(peer)
        self.set_timer(self.heartbeat_interval, "heartbeat")

    def send_append(self, peer: str) -> None:
        """Send ``peer`` the entries from its ``next_index`` on, or the snapshot if the log no
        longer has them."""
        next_index = self.next_index[peer]
        if next_index <= self.snapshot_index:
            index, term, state = self.storage["snapshot"]
            self.send(peer, InstallSnapshot(self.term, self.id, index, term, state))
            return
        prev = next_index - 1
        first = next_index - self.log_start
        entries = tuple(self.log[first:first + self.batch])
        self.send(peer, AppendEntries(self.term, self.id, prev, self.term_at(prev), entries,
                                      self.commit_index))

    def on_append_reply(self, src: str, msg: AppendEntriesReply) -> None:
        """Record what the follower has and send it what it lacks. A reply that teaches
        nothing new (a duplicate, or a late reply to an older message) sends nothing: else
        each duplicated reply would start one more stream of messages, and a network that
        duplicates would multiply them (the heartbeat retries what a lost message missed)."""
        if msg.success:
            if msg.match_index > self.match_index[src]:
                self.record_match(src, msg.match_index)
                if self.next_index[src] <= self.last_index():
                    self.send_append(src)  # more to send
            return
        backed_up = max(self.match_index[src] + 1, self.backed_up_index(msg))
        if backed_up < self.next_index[src]:
            self.next_index[src] = backed_up
            self.send_append(src)

    def backed_up_index(self, msg: AppendEntriesReply) -> int:
        """Where to try next after a refusal: past this leader's last entry of the follower's
        conflicting term if it has one, else at the start of that term in the follower's log
        (or just after the follower's last entry, if its log was too short)."""
        if msg.conflict_term is not None:
            for index in range(self.last_index(), self.snapshot_index, -1):
                if self.term_at(index) == msg.conflict_term:
                    return index + 1
        return min(msg.conflict_index, self.last_index() + 1)

    def record_match(self, peer: str, index: int) -> None:
        self.match_index[peer] = max(self.match_index[peer], index)
        self.next_index[peer] = max(self.next_index[peer], self.match_index[peer] + 1)
        self.advance_commit()

    def advance_commit(self) -> None:
        """Commit up to the highest index stored on a majority -- if its entry is of this
        term: an older term's entry is committed only by a later one of this term (5.4.2)."""
        for index in range(self.last_index(), self.commit_index, -1):
            if self.term_at(index) != self.term:
                break  # earlier entries are of earlier terms
            stored = 1 + sum(1 for m in self.match_index.values() if m >= index)
            if stored >= self.majority():
                self.commit_index = index
                self.apply_committed()
                break

    # -- log replication: the follower's side -------------------------------------------------
    def on_append(self, src: str, msg: AppendEntries) -> None:
        if msg.term < self.term:
            self.send(src, AppendEntriesReply(self.term, False))
            return
        self.role = "follower"  # a candidate that lost to the leader of this term
        self.leader_id = msg.leader_id
        self.reset_election_timer()
        prev, entries = msg.prev_log_index, msg.entries
        if prev < self.snapshot_index:  # the start is in the snapshot: committed, so it matches
            entries = entries[self.snapshot_index - prev:]
            prev = self.snapshot_index
        elif prev > self.last_index():
            self.send(src, AppendEntriesReply(self.term, False,
                                              conflict_index=self.last_index() + 1))
            return
        elif self.term_at(prev) != msg.prev_log_term:
            conflict = self.term_at(prev)
            first = prev
            while first - 1 > self.snapshot_index and self.term_at(first - 1) == conflict:
                first -= 1
            self.send(src, AppendEntriesReply(self.term, False, conflict_index=first,
                                              conflict_term=conflict))
            return
        self.store_entries(prev, entries)
        last_new = prev + len(entries)
        if msg.leader_commit > self.commit_index:
            self.commit_index = max(self.commit_index, min(msg.leader_commit, last_new))
            self.apply_committed()
        self.send(src, AppendEntriesReply(self.term, True, match_index=last_new))

    def store_entries(self, prev: int, entries: tuple[Entry, ...]) -> None:
        """Put ``entries`` after index ``prev``: an entry already there with the same term is
        kept (a late, repeated message must not cut the log short), and the first one that
        conflicts is deleted with all that follow it."""
        for offset, entry in enumerate(entries):
            index = prev + 1 + offset
            if index <= self.last_index():
                if self.term_at(index) == entry.term:
                    continue
                del self.log[index - self.log_start:]
            self.log.extend(entries[offset:])
            return

    # -- applying, snapshots ------------------------------------------------------------------
    def apply_committed(self) -> None:
        """Apply the committed entries not applied yet, in order; the leader answers the
        clients (a no-op entry, ``None``, changes nothing)."""
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            command = self.log[self.last_applied - self.log_start].command
            if command is None:
                continue
            reply = self.machine.apply(command)
            if self.role == "leader" and reply is not None:
                self.send(command.client, reply)
        if self.snapshot_every and self.last_applied - self.snapshot_index >= self.snapshot_every:
            self.take_snapshot()

    def take_snapshot(self) -> None:
        """Replace the applied entries by the machine's state (section 7)."""
        index, term = self.last_applied, self.term_at(self.last_applied)
        rest = self.log[index + 1 - self.log_start:]
        self.storage["snapshot"] = (index, term, self.machine.state())
        self.storage["log"] = rest
        self.note("snapshot", index=index)

    def on_install_snapshot(self, src: str, msg: InstallSnapshot) -> None:
        if msg.term < self.term:
            self.send(src, InstallSnapshotReply(self.term, 0))
            return
        self.role = "follower"
        self.leader_id = msg.leader_id
        self.reset_election_timer()
        index = msg.last_included_index
        if index > self.last_applied:  # news: replace the state (else nothing to learn)
            keep: list[Entry] = []
            if index < self.last_index() and self.term_at(index) == msg.last_included_term:
                keep = self.log[index + 1 - self.log_start:]  # a suffix that follows it
            self.storage["snapshot"] = (index, msg.last_included_term, msg.state)
            self.storage["log"] = keep
            self.machine = self.machine_class.from_state(msg.state)
            self.commit_index = max(self.commit_index, index)
            self.last_applied = index
            self.apply_committed()
        self.send(src, InstallSnapshotReply(self.term, index))


def _short(command: Any) -> str:
    """A log entry's command in a few characters, for `RaftNode.show`."""
    match command:
        case None:
            return "no-op"
        case Get(key=key):
            return f"get {key}"
        case Put(key=key, value=value) | Append(key=key, value=value):
            return f"{type(command).__name__.lower()} {key}={value}"
    return repr(command)
