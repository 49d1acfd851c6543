"""Raft's safety properties as invariants (Ongaro and Ousterhout 2014, Figure 3).

* **Election Safety** -- at most one leader can be elected in a given term
  (`at_most_one_leader_per_term`);
* **State Machine Safety** -- once a node has committed (applied) an entry at some index, no
  node ever commits a different entry at that index (`logs_agree_up_to_commit`);
* **Log Matching** -- two logs with an entry of the same term at the same index are
  identical up to that index (`log_matching`);
* **Leader Append-Only** -- a leader never overwrites or deletes entries in its log; it only
  appends new entries (`leader_append_only`);
* **Leader Completeness** -- if an entry is committed in a given term, it is present in the
  logs of the leaders of all higher terms (`leader_completeness`).

All are `distlab.check.Invariant` objects: `watch` them during a run, `check_now` after it,
or hand them to the schedule explorer. Their defaults read the names Raft's nodes use
(``role``, ``term``, ``log``, ``commit_index``); other protocols pass their own names.
All but Log Matching remember the past (the leader of each term, the entries committed, the
log each leader had).
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
                 first_index: int | str = 1):
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
            start = self._start(node_id, node)
            count = commit - start + 1  # how many entries of log are committed
            if count > len(log):
                return (f"node {node_id!r} has {self.commit_attr} {commit} but only "
                        f"{len(log)} entries in its {self.log_attr} from index {start}: it "
                        f"claims to have committed entries it does not have")
            # positions in self.committed (which starts at self.base) that this log also has
            skip = start - self.base
            known = max(0, min(count, len(self.committed) - skip))
            mine = log[:known]
            if mine != self.committed[skip:skip + known]:
                offset = next(p for p in range(known) if mine[p] != self.committed[skip + p])
                where, when = self.first_seen[skip + offset]
                return (f"index {start + offset} was committed as "
                        f"{self.committed[skip + offset]!r} (seen on {where!r} at "
                        f"t={when:.3f} ms), but {node_id!r} now has {mine[offset]!r} "
                        f"committed there")
            if skip <= len(self.committed):  # (a node past a gap extends nothing)
                for offset in range(known, count):
                    self.committed.append(log[offset])
                    self.first_seen.append((node_id, sim.now))
        return None

    def _start(self, node_id: str, node: Any) -> int:
        """The index of the node's ``log[0]``: fixed, or read from the node (snapshots)."""
        return _first_index(node_id, node, self.first_index, self.log_attr)

    @property
    def base(self) -> int:
        """The index of ``committed[0]``: the first index a fixed-start log has."""
        return self.first_index if isinstance(self.first_index, int) else 1

    def reset(self) -> None:
        self.committed.clear()
        self.first_seen.clear()

    def memory(self) -> Hashable:
        return canonical(self.committed)


def logs_agree_up_to_commit(log_attr: str = "log", commit_attr: str = "commit_index",
                            first_index: int | str = 1) -> LogsAgreeUpToCommit:
    """State Machine Safety: committed log entries agree between nodes and never change.

    Each node has a list ``getattr(node, log_attr)`` and an int ``getattr(node, commit_attr)``,
    the index of its last committed entry. ``first_index`` is the index of ``log[0]``: 1 as in
    the Raft paper (then ``log[:commit_index]`` is committed), 0 for a log that starts with
    a placeholder entry, or the name of a node attribute that holds it (a log that snapshots
    cut from the front: `RaftNode.log_start`). Entries a snapshot has replaced are not
    compared. Nodes without ``log_attr`` are ignored.
    """
    return LogsAgreeUpToCommit(log_attr, commit_attr, _checked_first_index(first_index))


# -- Log Matching ---------------------------------------------------------------------------

class LogMatching(Invariant):
    """If two logs have an entry with the same index and term, they are identical up to it.

    Raft's Log Matching property. For each pair of live nodes it finds the highest index
    both logs hold with the same term there, and compares the entries both hold up to it, that
    one included (entries a snapshot replaced are not compared). Entries carry their ``term``
    attribute.
    """

    reads_only_nodes = True

    def __init__(self, log_attr: str = "log", first_index: int | str = 1):
        super().__init__("logs that match at an index match up to it", self._check)
        self.log_attr = log_attr
        self.first_index = first_index

    def _check(self, sim: Simulation) -> str | None:
        logs = []
        for node_id, node in sorted(live_nodes(sim).items()):
            if hasattr(node, self.log_attr):
                start = (self.first_index if isinstance(self.first_index, int)
                         else getattr(node, self.first_index))
                logs.append((node_id, start, getattr(node, self.log_attr)))
        for i, (a, start_a, log_a) in enumerate(logs):
            for b, start_b, log_b in logs[i + 1:]:
                problem = _first_mismatch(start_a, log_a, start_b, log_b)
                if problem is not None:
                    index, agreed = problem
                    where = "there" if index == agreed else f"at index {index} before it"
                    return (f"{a!r} and {b!r} both have an entry of term "
                            f"{log_a[agreed - start_a].term} at index {agreed}, but differ "
                            f"{where}: {log_a[index - start_a]!r} on {a!r}, "
                            f"{log_b[index - start_b]!r} on {b!r}")
        return None


def _first_mismatch(start_a: int, log_a: list[Any], start_b: int, log_b: list[Any]
                    ) -> tuple[int, int] | None:
    """(index where the two logs differ, the index at or after it where their terms agree),
    or None."""
    low = max(start_a, start_b)
    high = min(start_a + len(log_a), start_b + len(log_b)) - 1
    for agreed in range(high, low - 1, -1):
        if log_a[agreed - start_a].term == log_b[agreed - start_b].term:
            mine = log_a[low - start_a:agreed - start_a + 1]
            theirs = log_b[low - start_b:agreed - start_b + 1]
            if mine == theirs:  # (one comparison of lists: fast, entries are often shared)
                return None
            return low + next(i for i, (x, y) in enumerate(zip(mine, theirs)) if x != y), agreed
    return None


def log_matching(log_attr: str = "log", first_index: int | str = 1) -> LogMatching:
    """Log Matching: two logs with the same term at an index agree on every entry up to it.

    ``first_index`` as in `logs_agree_up_to_commit`: the index of ``log[0]``, or the name of
    the node attribute that holds it.
    """
    return LogMatching(log_attr, first_index)


def _first_index(node_id: str, node: Any, first_index: int | str, log_attr: str) -> int:
    """The index of the node's ``log[0]``: fixed, or read from the node (snapshots)."""
    if isinstance(first_index, int):
        return first_index
    start = getattr(node, first_index, None)
    if not isinstance(start, int):
        raise ConfigurationError(
            f"node {node_id!r} has no int attribute {first_index!r} (the index of its "
            f"{log_attr}[0]); got {start!r}")
    return start


def _checked_first_index(first_index: Any) -> int | str:
    if not isinstance(first_index, (int, str)) or isinstance(first_index, bool):
        raise ConfigurationError(f"first_index is the index of log[0] (1 as in Raft, or 0), "
                                 f"or the name of the node attribute that holds it; "
                                 f"got {first_index!r}")
    return first_index


# -- Leader Append-Only --------------------------------------------------------------------

class LeaderAppendOnly(Invariant):
    """While a node is leader of one term, its log only grows at the end.

    It remembers, for each node that is leader now, the term and the log it had at the last
    check. At the next check, if the node is still leader of that term, every entry it had
    must still be there, unchanged, at the same index. Entries a snapshot has replaced
    (``first_index`` moved past them) are not compared: compaction is not an overwrite.
    """

    remembers = True
    reads_only_nodes = True

    def __init__(self, log_attr: str = "log", role_attr: str = "role",
                 term_attr: str = "term", leader_value: Any = "leader",
                 first_index: int | str = 1):
        super().__init__("a leader only appends to its log", self._check)
        self.log_attr = log_attr
        self.role_attr = role_attr
        self.term_attr = term_attr
        self.leader_value = leader_value
        self.first_index = first_index
        self.seen: dict[str, tuple[Any, int, tuple[Any, ...]]] = {}

    def _check(self, sim: Simulation) -> str | None:
        now: dict[str, tuple[Any, int, tuple[Any, ...]]] = {}
        for node_id, node in live_nodes(sim).items():
            if getattr(node, self.role_attr, None) != self.leader_value:
                continue
            term = getattr(node, self.term_attr)
            start = _first_index(node_id, node, self.first_index, self.log_attr)
            log = tuple(getattr(node, self.log_attr))
            now[node_id] = (term, start, log)
            if node_id not in self.seen or self.seen[node_id][0] != term:
                continue
            _, old_start, old_log = self.seen[node_id]
            problem = _lost_entry(old_start, old_log, start, log)
            if problem is not None:
                return (f"{node_id!r}, leader of term {term!r}, had {problem[1]!r} at index "
                        f"{problem[0]}, and now has {problem[2]} there: a leader must only "
                        f"append to its log")
        self.seen = now
        return None

    def reset(self) -> None:
        self.seen.clear()

    def memory(self) -> Hashable:
        return canonical(self.seen)


def _lost_entry(old_start: int, old: tuple[Any, ...], start: int, new: tuple[Any, ...]
                ) -> tuple[int, Any, str] | None:
    """(index, entry, what is there now) for the first entry of ``old`` missing from
    ``new``; None if ``new`` keeps all of them (from ``start`` on)."""
    if start == old_start and new[:len(old)] == old:
        return None  # the common case, compared in C (a long log made the loop below slow)
    first = max(old_start, start)
    for index in range(first, old_start + len(old)):
        entry = old[index - old_start]
        if index - start >= len(new):
            return index, entry, "nothing"
        if new[index - start] != entry:
            return index, entry, repr(new[index - start])
    return None


def leader_append_only(log_attr: str = "log", role_attr: str = "role",
                       term_attr: str = "term", leader_value: Any = "leader",
                       first_index: int | str = 1) -> LeaderAppendOnly:
    """Leader Append-Only: a leader never deletes or changes an entry of its log while it is
    leader of the same term. Names as in `at_most_one_leader_per_term` and
    `logs_agree_up_to_commit`."""
    return LeaderAppendOnly(log_attr, role_attr, term_attr, leader_value,
                            _checked_first_index(first_index))


# -- Leader Completeness ------------------------------------------------------------------

class LeaderCompleteness(Invariant):
    """Every entry committed in some term is in the log of every leader of a later term.

    It remembers each committed entry it has seen: its index, the entry, and the term of the
    node where it was first seen committed. That node learned of the commit from a leader of
    that term or an earlier one, so the entry was committed in that term at the latest: a
    leader of any higher term must have the same entry at the same index (or have replaced
    it by a snapshot, which holds only committed entries).

    Each leader is compared once with each committed entry (`leader_append_only` watches
    that it keeps what it had), so a long run costs little per event; an index that a
    snapshot replaced on every node before any check saw it committed is not compared.
    """

    remembers = True
    reads_only_nodes = True

    def __init__(self, log_attr: str = "log", commit_attr: str = "commit_index",
                 role_attr: str = "role", term_attr: str = "term",
                 leader_value: Any = "leader", first_index: int | str = 1):
        super().__init__("leaders of later terms have every committed entry", self._check)
        self.log_attr = log_attr
        self.commit_attr = commit_attr
        self.role_attr = role_attr
        self.term_attr = term_attr
        self.leader_value = leader_value
        self.first_index = first_index
        self.committed: dict[int, tuple[Any, Any, str]] = {}  # index -> (entry, term, where)
        self.order: list[int] = []      # the indices of committed, in the order first seen
        self.high = 0                   # the highest index in committed
        self.checked: dict[tuple[str, Any], int] = {}  # (leader, term) -> entries of order

    def _check(self, sim: Simulation) -> str | None:
        nodes = live_nodes(sim)
        for node_id, node in nodes.items():
            if not hasattr(node, self.log_attr):
                continue
            log = getattr(node, self.log_attr)
            start = _first_index(node_id, node, self.first_index, self.log_attr)
            commit = getattr(node, self.commit_attr)
            term = getattr(node, self.term_attr)
            for index in range(max(start, 1, self.high + 1),
                               min(commit, start + len(log) - 1) + 1):
                self.committed[index] = (log[index - start], term, node_id)
                self.order.append(index)
                self.high = index
        for node_id, node in nodes.items():
            if getattr(node, self.role_attr, None) != self.leader_value:
                continue
            term = getattr(node, self.term_attr)
            done = self.checked.get((node_id, term), 0)
            problem = self._missing(node_id, node, term, self.order[done:])
            if problem is not None:
                return problem
            self.checked[(node_id, term)] = len(self.order)
        return None

    def _missing(self, node_id: str, node: Any, term: Any, indices: list[int]) -> str | None:
        """Why the leader ``node`` of ``term`` lacks one of the committed ``indices``, if it
        does."""
        log = getattr(node, self.log_attr)
        start = _first_index(node_id, node, self.first_index, self.log_attr)
        for index in indices:
            entry, when, where = self.committed[index]
            if when >= term or index < start:
                continue
            if index - start >= len(log):
                return (f"{entry!r} was committed at index {index} by term {when!r} (seen on "
                        f"{where!r}), but {node_id!r}, leader of the later term {term!r}, "
                        f"has no entry there")
            if log[index - start] != entry:
                return (f"{entry!r} was committed at index {index} by term {when!r} (seen on "
                        f"{where!r}), but {node_id!r}, leader of the later term {term!r}, "
                        f"has {log[index - start]!r} there")
        return None

    def reset(self) -> None:
        self.committed.clear()
        self.order.clear()
        self.checked.clear()
        self.high = 0

    def memory(self) -> Hashable:
        return canonical((self.committed, self.checked))


def leader_completeness(log_attr: str = "log", commit_attr: str = "commit_index",
                        role_attr: str = "role", term_attr: str = "term",
                        leader_value: Any = "leader",
                        first_index: int | str = 1) -> LeaderCompleteness:
    """Leader Completeness: an entry committed in a term is in the log of the leader of every
    later term, at the same index. Names as in `logs_agree_up_to_commit`."""
    return LeaderCompleteness(log_attr, commit_attr, role_attr, term_attr, leader_value,
                              _checked_first_index(first_index))


def figure3(first_index: int | str = "log_start") -> list[Invariant]:
    """The five properties of the Raft paper's Figure 3, fresh, for a `RaftNode` cluster:
    Election Safety, Leader Append-Only, Log Matching, Leader Completeness and State Machine
    Safety, in that order. ``first_index`` as in `logs_agree_up_to_commit`."""
    return [at_most_one_leader_per_term(), leader_append_only(first_index=first_index),
            log_matching(first_index=first_index),
            leader_completeness(first_index=first_index),
            logs_agree_up_to_commit(first_index=first_index)]
