"""Two-phase commit whose participants are Raft groups, as Spanner runs it (Corbett et al.
2012, section 4.2.1).

2PC blocks when its coordinator is down, and a participant that crashes holds up everyone
until it returns. Spanner makes every participant (and the coordinator) a *group* of
replicas that agree through consensus: a vote or an outcome is an entry of the group's
replicated log, so it survives the crash of any minority of the group, and the group's next
leader carries on where the last one stopped. Two-phase commit then runs between groups
that do not fail as long as a majority of each is up.

Here each participant is a group of three `RaftNode` servers (`distlab.consensus.raft`)
replicating a `CommitMachine` instead of a key-value store. The coordinator (one node, for
brevity: Spanner makes it a group too) sends `GroupPrepare` and `GroupDecide` requests to
every member of a group; the leader appends them to the group's log and, once they are
committed and applied, answers `GroupVote` and `GroupAck`. Followers answer `NotLeader`,
which the coordinator ignores: it re-sends to every member until the group answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from distlab.consensus.raft.node import RaftNode
from distlab.sim import Node
from distlab.txn.messages import ABORT, COMMIT, YES

#: ms between two sendings of a request a group has not answered
RETRY = 100.0
#: ms the coordinator waits for every group's vote before it aborts (a group needs a leader)
VOTE_TIMEOUT = 2_000.0


@dataclass(frozen=True)
class GroupPrepare:
    """Coordinator -> a group: prepare ``txn`` and vote (a request of the group's log)."""

    client: str
    msg_id: int
    txn: str


@dataclass(frozen=True)
class GroupDecide:
    """Coordinator -> a group: the outcome of ``txn`` (a request of the group's log)."""

    client: str
    msg_id: int
    txn: str
    outcome: str


@dataclass(frozen=True)
class GroupVote:
    """A group's leader -> coordinator: the group's vote, once it is in the group's log."""

    msg_id: int
    txn: str
    vote: str


@dataclass(frozen=True)
class GroupAck:
    """A group's leader -> coordinator: the outcome is in the group's log."""

    msg_id: int
    txn: str


class CommitMachine:
    """A participant's state, replicated by its group: its votes and outcomes.

    Applying a request twice (a resent request appended twice) changes nothing: the first
    vote and the first outcome stay.
    """

    def __init__(self) -> None:
        self.votes: dict[str, str] = {}
        self.outcomes: dict[str, str] = {}

    def apply(self, request: GroupPrepare | GroupDecide) -> GroupVote | GroupAck:
        match request:
            case GroupPrepare(txn=txn):
                self.votes.setdefault(txn, YES)
                return GroupVote(request.msg_id, txn, self.votes[txn])
            case GroupDecide(txn=txn, outcome=outcome):
                self.outcomes.setdefault(txn, outcome)
                return GroupAck(request.msg_id, txn)
        raise TypeError(f"a CommitMachine applies GroupPrepare and GroupDecide; got {request!r}")

    def reply_to(self, request: Any) -> GroupVote | GroupAck | None:
        """The answer to a request already applied (a resent one), else None."""
        match request:
            case GroupPrepare(txn=txn) if txn in self.votes:
                return GroupVote(request.msg_id, txn, self.votes[txn])
            case GroupDecide(txn=txn) if txn in self.outcomes:
                return GroupAck(request.msg_id, txn)
        return None

    def state(self) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
        return tuple(sorted(self.votes.items())), tuple(sorted(self.outcomes.items()))

    @classmethod
    def from_state(cls, state: tuple[Any, Any]) -> CommitMachine:
        machine = cls()
        machine.votes, machine.outcomes = dict(state[0]), dict(state[1])
        return machine


class GroupMember(RaftNode):
    """A Raft server of a participant group, replicating a `CommitMachine`.

    Several groups share one simulation, whose ``peers`` are every server: each member is
    built with ``cluster=`` its group, and Raft keeps to it (elections, majorities,
    replication).
    """

    machine_class = CommitMachine
    requests = (GroupPrepare, GroupDecide)

    def show(self) -> dict[str, Any]:
        return {"role": self.role, "term": self.term, "commit_index": self.commit_index,
                "votes": self.machine.votes, "outcomes": self.machine.outcomes}


class GroupCoordinator(Node):
    """The coordinator of transaction ``txn`` over ``groups`` (group name -> member ids),
    from ``begin_at`` ms (when the groups have had time to elect leaders).

    Durable: ``storage["decision"]``, logged before any `GroupDecide` is sent.
    """

    def __init__(self, groups: Mapping[str, tuple[str, ...]], txn: str = "t1",
                 begin_at: float = 400.0):
        self.groups = {name: tuple(members) for name, members in groups.items()}
        self.txn = txn
        self.begin_at = begin_at
        self.group_of = {m: name for name, members in self.groups.items() for m in members}
        self.decisions: dict[str, str] = dict(self.storage.get("decisions", {}))
        self.yes: set[str] = set()
        self.acked: set[str] = set()

    def on_start(self) -> None:
        if self.storage.get("started") and self.txn not in self.decisions:
            self.decide(ABORT)                     # presumed abort, as in plain 2PC
        elif not self.storage.get("started"):
            self.set_timer(self.begin_at, "begin")
        self.set_timer(RETRY, "retry")

    def decide(self, outcome: str) -> None:
        self.decisions[self.txn] = outcome
        self.storage["decisions"] = dict(self.decisions)
        self.note("decide", txn=self.txn, outcome=outcome)
        self.send_to_groups()

    def send_to_groups(self) -> None:
        """Send the request of the current phase to every member of each group that has not
        answered it (only the group's leader will act on it)."""
        outcome = self.decisions.get(self.txn)
        for name, members in self.groups.items():
            if outcome is None and name not in self.yes:
                request: Any = GroupPrepare(self.id, 1, self.txn)
            elif outcome is not None and name not in self.acked:
                request = GroupDecide(self.id, 2, self.txn, outcome)
            else:
                continue
            for member in members:
                self.send(member, request)

    def on_timer(self, name: str) -> None:
        if name == "begin":
            self.storage["started"] = True
            self.send_to_groups()
            self.set_timer(VOTE_TIMEOUT, "vote-timeout")
        elif name == "vote-timeout" and self.txn not in self.decisions:
            self.decide(ABORT)
        elif name == "retry":
            if self.storage.get("started"):
                self.send_to_groups()
            self.set_timer(RETRY, "retry")

    def on_message(self, src: str, msg: Any) -> None:
        group = self.group_of.get(src)
        match msg:
            case GroupVote(vote=vote) if self.txn not in self.decisions:
                if vote != YES:
                    self.decide(ABORT)
                    return
                self.yes.add(group)
                if self.yes == set(self.groups):
                    self.decide(COMMIT)
            case GroupAck():
                self.acked.add(group)
