"""Raft's messages (Ongaro and Ousterhout 2014, Figure 2): the two RPCs and their replies.

This Raft has no log yet, so `AppendEntries` carries no entries: it is the leader's heartbeat.
The log's fields (``prev_log_index``, ``entries``, ``leader_commit``, and ``last_log_index``
with ``last_log_term`` in `RequestVote`) join them with log replication.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestVote:
    term: int
    candidate_id: str


@dataclass(frozen=True)
class RequestVoteReply:
    term: int
    vote_granted: bool


@dataclass(frozen=True)
class AppendEntries:
    """A heartbeat (Raft's AppendEntries with no entries: this Raft has no log)."""

    term: int
    leader_id: str


@dataclass(frozen=True)
class AppendEntriesReply:
    term: int
    success: bool
