"""Raft's messages (Ongaro and Ousterhout 2014, Figure 2 and Figure 13): the RPCs and replies.

One set of classes serves both Rafts of the library. The election alone
(`distlab.consensus.raft.election`) fills only the first fields -- a `RequestVote` with a term
and a candidate, an `AppendEntries` with no entries as the leader's heartbeat -- and the log's
fields keep their defaults. The whole Raft (`distlab.consensus.raft.node`) fills them all.

A message prints only the fields that differ from their defaults, so a heartbeat of the
election reads ``AppendEntries(term=3, leader_id='n1')`` and a diagram stays legible.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any


class _Compact:
    """A dataclass mixin whose repr leaves out the fields still at their default value."""

    def __repr__(self) -> str:
        shown = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)  # type: ignore
                 if f.default is MISSING or getattr(self, f.name) != f.default]
        return f"{type(self).__name__}({', '.join(shown)})"


@dataclass(frozen=True)
class Entry:
    """One entry of the log: the ``term`` in which a leader received ``command``."""

    term: int
    command: Any


@dataclass(frozen=True, repr=False)
class RequestVote(_Compact):
    """A candidate asks for a vote in ``term``. ``last_log_index`` and ``last_log_term``
    describe the end of its log, for the voter's up-to-date check (section 5.4.1)."""

    term: int
    candidate_id: str
    last_log_index: int = 0
    last_log_term: int = 0


@dataclass(frozen=True, repr=False)
class RequestVoteReply(_Compact):
    term: int
    vote_granted: bool


@dataclass(frozen=True, repr=False)
class AppendEntries(_Compact):
    """The leader of ``term`` sends ``entries``, which follow the entry at
    ``prev_log_index`` (of term ``prev_log_term``) in its log, and its commit index. With no
    entries it is a heartbeat."""

    term: int
    leader_id: str
    prev_log_index: int = 0
    prev_log_term: int = 0
    entries: tuple[Entry, ...] = ()
    leader_commit: int = 0


@dataclass(frozen=True, repr=False)
class AppendEntriesReply(_Compact):
    """``success``: the follower's log now matches the leader's up to ``match_index``.

    On a failure, ``conflict_index`` says where the leader should try next, and
    ``conflict_term`` (if not None) the term of the follower's conflicting entry: the leader
    can then skip a whole term at a time instead of one entry per round trip (the "fast
    backup" of section 5.3's last paragraphs).
    """

    term: int
    success: bool
    match_index: int = 0
    conflict_index: int = 0
    conflict_term: int | None = None


@dataclass(frozen=True, repr=False)
class InstallSnapshot(_Compact):
    """The leader sends its snapshot: the state machine's ``state`` after applying every
    entry up to ``last_included_index`` (of term ``last_included_term``). Figure 13, sent
    whole (no chunks)."""

    term: int
    leader_id: str
    last_included_index: int
    last_included_term: int
    state: Any


@dataclass(frozen=True, repr=False)
class InstallSnapshotReply(_Compact):
    """The follower has everything up to ``match_index`` (the snapshot's last index)."""

    term: int
    match_index: int
