"""Classic mistakes in Raft, each a small subclass of `RaftNode`, for the checks to catch.

Each is a mistake students make in the classic course lab (and the paper warns about):

* `VotesForAnyLog` grants votes without the up-to-date check (5.4.1): a candidate missing
  committed entries can win, and its log overwrites them.
* `CommitsByCounting` commits an entry of an earlier term as soon as a majority stores it:
  Figure 8's scenario, where such an entry is later overwritten.
* `TruncatesBlindly` deletes the follower's log after ``prev_log_index`` on every
  `AppendEntries`, even when the entries there match: a late, repeated message then cuts
  off entries a newer message had added, and the follower acknowledged them.
* `ForgetsVote` keeps ``voted_for`` in memory: after a restart it votes twice in a term.
"""

from __future__ import annotations

from distlab.consensus.raft.messages import Entry, RequestVote
from distlab.consensus.raft.node import RaftNode


class VotesForAnyLog(RaftNode):
    """The bug: a vote for the first candidate of the term, whatever its log."""

    def grants_vote(self, msg: RequestVote) -> bool:
        return msg.term == self.term and self.voted_for in (None, msg.candidate_id)


class CommitsByCounting(RaftNode):
    """The bug: commit the highest index stored on a majority, whatever its term."""

    def advance_commit(self) -> None:
        for index in range(self.last_index(), self.commit_index, -1):
            stored = 1 + sum(1 for m in self.match_index.values() if m >= index)
            if stored >= self.majority():
                self.commit_index = index
                self.apply_committed()
                break


class TruncatesBlindly(RaftNode):
    """The bug: everything after ``prev`` is replaced by the message's entries."""

    def store_entries(self, prev: int, entries: tuple[Entry, ...]) -> None:
        del self.log[prev + 1 - self.log_start:]
        self.log.extend(entries)


class ForgetsVote(RaftNode):
    """The bug: whom it voted for is kept in memory, and a restart forgets it."""

    forgotten: str | None = None  # (a class default: a restarted node starts with it)

    @property
    def voted_for(self) -> str | None:
        return self.forgotten

    def record_vote(self, candidate: str | None) -> None:
        self.forgotten = candidate
