"""Raft's safety properties as invariants (Ongaro and Ousterhout 2014, Figure 3).

* **Election Safety** -- at most one leader can be elected in a given term
  (`at_most_one_leader_per_term`);
* **State Machine Safety** -- once a node has committed (applied) an entry at some index, no
  node ever commits a different entry at that index (`logs_agree_up_to_commit`).

Both are `distlab.check.Invariant` objects: `watch` them during a run, `check_now` after it,
or hand them to the schedule explorer. Their defaults read the names Raft's nodes use
(``role``, ``term``, ``log``, ``commit_index``); other protocols pass their own names.
Both remember the past (the leader of each term, the entries already committed).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from distlab.check.canonical import canonical
from distlab.check.invariants import Invariant, live_nodes
from distlab.sim import ConfigurationError, Simulation

# -- Election Safety ---------------------------------------------------------------------------

class AtMostOneLeaderPerTerm(Invariant):
    """Two different nodes are never leader in the same term -- not even at different times.

    It remembers, for every term, the first node seen as its leader; a node seen as leader
    of a term that already had another leader is a violation (Raft's Election Safety). The
    time it remembers (since when each leader was seen) is only for its explanations.
    """

    remembers = True
    reads_only_nodes = True

    def __init__(self, role_attr: str = "role", term_attr: str = "term",
                 leader_value: Any = "leader"):
        super().__init__("at most one leader per term", self._check)
        self.role_attr = role_attr
        self.term_attr = term_attr
        self.leader_value = leader_value
        self.leaders: dict[Hashable, str] = {}
        self.since: dict[Hashable, float] = {}

    def _check(self, sim: Simulation) -> str | None:
        for node_id, node in live_nodes(sim).items():
            if getattr(node, self.role_attr, None) != self.leader_value:
                continue
            if not hasattr(node, self.term_attr):
                raise ConfigurationError(
                    f"node {node_id!r} is {self.leader_value!r} but has no attribute "
                    f"{self.term_attr!r}; pass term_attr= the name of its term variable")
            term = getattr(node, self.term_attr)
            first = self.leaders.setdefault(term, node_id)
            self.since.setdefault(term, sim.now)
            if first != node_id:
                return (f"nodes {first!r} and {node_id!r} were both leader in term {term!r}: "
                        f"{first!r} since t={self.since[term]:.3f} ms, {node_id!r} now")
        return None

    def reset(self) -> None:
        self.leaders.clear()
        self.since.clear()

    def memory(self) -> Hashable:
        return canonical(self.leaders)


def at_most_one_leader_per_term(role_attr: str = "role", term_attr: str = "term",
                                leader_value: Any = "leader") -> AtMostOneLeaderPerTerm:
    """Election Safety: never two different leaders of the same term, over the whole run.

    A node is a leader when ``getattr(node, role_attr) == leader_value``; its term is
    ``getattr(node, term_attr)``. Nodes without ``role_attr`` (clients) are ignored.
    """
    return AtMostOneLeaderPerTerm(role_attr, term_attr, leader_value)


# -- State Machine Safety -------------------------------------------------------------------------

class LogsAgreeUpToCommit(Invariant):
    """Committed entries agree across nodes and never change.

    It remembers every committed entry (index -> entry, and where it was first seen). At each
    check, every live node's committed entries must equal the remembered ones: this catches
    two nodes that disagree at an index both have committed, and a node that overwrites an
    entry after it was committed (Raft's State Machine Safety).
    """

    remembers = True

    def __init__(self, log_attr: str = "log", commit_attr: str = "commit_index",
                 first_index: int = 1):
        super().__init__("logs agree up to the commit index", self._check)
        self.log_attr = log_attr
        self.commit_attr = commit_attr
        self.first_index = first_index
        self.committed: list[Any] = []
        self.first_seen: list[tuple[str, float]] = []

    def _check(self, sim: Simulation) -> str | None:
        for node_id, node in live_nodes(sim).items():
            if not hasattr(node, self.log_attr):
                continue
            log = getattr(node, self.log_attr)
            commit = getattr(node, self.commit_attr, None)
            if not isinstance(commit, int):
                raise ConfigurationError(
                    f"node {node_id!r} has a {self.log_attr!r} but its {self.commit_attr!r} "
                    f"is {commit!r}, not an int; pass commit_attr= the name of its commit index")
            count = commit - self.first_index + 1  # how many entries of log are committed
            if count > len(log):
                return (f"node {node_id!r} has {self.commit_attr} {commit} but only "
                        f"{len(log)} entries in its {self.log_attr}: it claims to have "
                        f"committed entries it does not have")
            known = min(count, len(self.committed))
            mine = list(log[:known])
            if mine != self.committed[:known]:
                position = next(p for p in range(known) if mine[p] != self.committed[p])
                where, when = self.first_seen[position]
                return (f"index {position + self.first_index} was committed as "
                        f"{self.committed[position]!r} (seen on {where!r} at t={when:.3f} ms), "
                        f"but {node_id!r} now has {mine[position]!r} committed there")
            for position in range(known, count):
                self.committed.append(log[position])
                self.first_seen.append((node_id, sim.now))
        return None

    def reset(self) -> None:
        self.committed.clear()
        self.first_seen.clear()

    def memory(self) -> Hashable:
        return canonical(self.committed)


def logs_agree_up_to_commit(log_attr: str = "log", commit_attr: str = "commit_index",
                            first_index: int = 1) -> LogsAgreeUpToCommit:
    """State Machine Safety: committed log entries agree between nodes and never change.

    Each node has a list ``getattr(node, log_attr)`` and an int ``getattr(node, commit_attr)``,
    the index of its last committed entry. ``first_index`` is the index of ``log[0]``: 1 as in
    the Raft paper (then ``log[:commit_index]`` is committed), or 0 for a log that starts with
    a placeholder entry. Nodes without ``log_attr`` are ignored.
    """
    if not isinstance(first_index, int):
        raise ConfigurationError(f"first_index is the index of log[0] (1 as in Raft, or 0); "
                                 f"got {first_index!r}")
    return LogsAgreeUpToCommit(log_attr, commit_attr, first_index)
