"""Part B's rules: log replication (Ongaro and Ousterhout 2014, sections 5.3 and 5.4).

`LogRules` judges, after every event, part A's rules (it extends `ElectionRules`, so that one
pass reads the servers and the event for both), then the rules of Figure 2 and the properties
of Figure 3 that concern the log (`LOG_RULES`, most specific first): the log's shape; a candidate's
`RequestVote` describes its log; a vote goes only to a candidate at least as up to date
(5.4.1); a leader only appends, entries of its own term (Leader Append-Only); Log Matching; a
leader commits only an entry of its own term stored on a majority (5.4.2, the paper's Figure
8); commit indices never go back nor pass the log's end; each server applies the committed
entries once each, in order; and every server applies the same command at each index (State
Machine Safety). It reads each server's log as ``_lab_log`` (`instrumented`), its
``commit_index``, and the ``apply`` notes of the trace (`distlab.labs.lab04_raft.tester`).

From part D a log starts after its snapshot (``_lab_snapshot``: ``snapshot_index`` and
``snapshot_term``). The rules then read each log at its true indices, the entries a snapshot
replaced standing as `COMPACTED` (committed, applied, and equal to whatever they were); two
more rules judge compaction (`SNAPSHOT_RULES`), and a snapshot handed to the service counts as
applying every entry it holds.

Over stretches of time: `Agreement` (the commands submitted in each `Phase` of a run are
applied by enough servers in time, or by none while no majority can store them),
`MessageBudget` (a bounded number of requests, and of bytes: `wire_bytes`) and `FastBackup`
(a follower brought up to date a term, not an entry, per round trip). A violation draws the
run around it with each server's role and term, and everyone's log below.
"""

from __future__ import annotations

import heapq
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, NamedTuple

from distlab.consensus.raft.messages import (AppendEntries, AppendEntriesReply, InstallSnapshot,
                                             RequestVote)
from distlab.grading.properties import Run, Violation
from distlab.labs.lab04_raft.common import (TESTER, RaftRule, Rule, Rulebook, as_int, fact_sets,
                                            majority, servers, step_shape, unchanged_since_read,
                                            vote_grants, your_line)
from distlab.labs.lab04_raft.election import RULES, ElectionRules, lower_term
from distlab.labs.lab04_raft.tester import COMMAND_TYPES, SNAPSHOT_TIMER, MachineState, Submit
from distlab.sim.trace import _jsonable

#: what each rule of the log demands, in words (a report names the first one broken)
LOG_RULES = {
    "shape": "log is a list of Entry(term, command) and commit_index a whole number",
    "describe": "a candidate's RequestVote gives the index and term of its last log entry",
    "describe_append": "a leader's AppendEntries carries entries of its log, after the index "
                       "prev_log_index (at least 0) and the term prev_log_term that its log has "
                       "there",
    "up_to_date": "a server votes only for a candidate whose log is at least as up to date "
                  "as its own (section 5.4.1)",
    "append_only": "a leader never overwrites or deletes entries of its log, and appends "
                   "entries of its own term (Leader Append-Only)",
    "follower_log": "a follower changes its log only as AppendEntries says: if the entry at "
                    "prev_log_index has term prev_log_term, it deletes its entries from the "
                    "first that conflicts with the leader's, and appends those it lacks",
    "matching": "two logs with an entry of the same index and term are identical up to it "
                "(Log Matching)",
    "commit_bounds": "commit_index never decreases while a server is up, and never passes the "
                     "end of its log",
    "commit": "a leader commits an entry only of its own term, once a majority of servers "
              "store it (section 5.4.2, Figure 8)",
    "apply": "a server applies committed entries only, each once, in index order",
    "machine": "every server applies the same command at the same index (State Machine "
               "Safety)",
}
#: part D's rules of the log, in words (judged with `LOG_RULES`)
SNAPSHOT_RULES = {
    "compact": "asked by the service for a snapshot up to index i, a server drops its entries "
               "up to i (snapshot_index = i, snapshot_term = their last term) and keeps those "
               "after i",
    "install": "a server installs a leader's snapshot of its term that is news (beyond what "
               "it applied): it keeps the entries after the snapshot if its log has the "
               "snapshot's last entry, else drops its whole log; an older snapshot, or one of "
               "an older term, changes nothing",
}

#: the request messages a server sends (their replies are not counted by `MessageBudget`)
REQUESTS = (AppendEntries, RequestVote, InstallSnapshot)


class Applied(NamedTuple):
    """An ``apply`` note: ``server`` applied the entry at ``index`` (its ``command``), or, if
    ``snapshot``, installed a snapshot up to ``index`` (``command`` is then its data)."""

    time: float
    server: str
    index: Any
    command: Any
    snapshot: bool


def delivered(events: list, kind: type) -> Any:
    """The message of class ``kind`` whose delivery is the step that made ``events`` (the
    rules judge one step at a time: its first event is what happened, the rest what the
    handler did), or None."""
    msg = events[0].data if events and events[0].kind == "deliver" else None
    return msg if isinstance(msg, kind) else None


def apply_notes(events: list) -> list[Applied]:
    """The `Applied` of each ``apply`` note among ``events``."""
    found = []
    for event in events:
        if event.kind == "note" and getattr(event.data, "what", None) == "apply":
            details = dict(event.data.details)
            snapshot = "snapshot" in details
            found.append(Applied(event.time, event.node, details.get("index"),
                                 details["snapshot"] if snapshot else details.get("command"),
                                 snapshot))
    return found


class _Compacted:
    """An entry a snapshot replaced: committed and applied, it equals whatever it was (a
    rule cannot see it any more, and the State Machine rule has checked its command)."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "compacted"


#: the term and command of an entry that a snapshot replaced
COMPACTED = _Compacted()


def snapshot_of(node: Any) -> tuple[int, int] | str:
    """``(snapshot_index, snapshot_term)`` of a server (``(0, 0)``: none, as before part D),
    or a sentence saying what is wrong with them."""
    found = getattr(node, "_lab_snapshot", None)
    return (0, 0) if found is None else found


def full_log(snapshot: tuple[int, int], entries: tuple) -> tuple:
    """A log at its true indices: the entries before ``snapshot``'s last as `COMPACTED`, its
    last entry (its term known), then ``entries``."""
    index, term = snapshot
    if index == 0:
        return entries
    return ((COMPACTED, COMPACTED),) * (index - 1) + ((term, COMPACTED),) + entries


def log_rows(sim: Any) -> list[Any]:
    """Each server's log as `distlab.viz.raftlog` draws it: from ``_lab_log`` and
    ``_lab_snapshot`` in a check's run (`instrumented`), from ``log`` and ``snapshot_index``
    on the student's own nodes."""
    from distlab.viz.raftlog import LogRow

    rows = []
    for node_id, node in servers(sim).items():
        log, snapshot = getattr(node, "_lab_log", None), snapshot_of(node)
        if log is None:
            log = tuple((getattr(e, "term", 0), None) for e in getattr(node, "log", ()))
            snapshot = (getattr(node, "snapshot_index", 0),)
        log = log if type(log) is tuple else ()
        start = snapshot[0] + 1 if type(snapshot) is tuple and type(snapshot[0]) is int else 1
        state = getattr(node, "state", "?")
        rows.append(LogRow(node_id, node_id not in sim.crashed,
                           as_int(getattr(node, "term", 0)) or 0,
                           state if isinstance(state, str) else "?", start,
                           tuple(as_int(term) or 0 for term, _ in log),
                           as_int(getattr(node, "commit_index", 0)) or 0))
    return rows


def logs_figure(sim: Any, title: str = "") -> Any:
    """The servers' logs in ``sim`` as the Raft paper draws them: a box an entry, its term in
    it; solid once committed; the leader starred."""
    from distlab.viz.raftlog import draw_logs
    from distlab.viz.style import NotebookFigure

    rows = log_rows(sim)
    last = max((r.last_index for r in rows), default=1)
    first = max(1, last - 24)
    figure = NotebookFigure(figsize=(2.4 + 0.55 * max(last - first + 1, 4),
                                     0.6 + 0.42 * len(rows)), dpi=90)
    draw_logs(figure.subplots(), rows, first_index=first,
              title=title or "logs (box: an entry, its term; solid: committed; \u2605 leader)")
    return figure


class LogRule(RaftRule):
    """A rule of the log: its failures draw everyone's log below the run."""

    def failure(self, run: Run, text: str, time: float | None = None,
                description: str | None = None) -> Violation:
        violation = super().failure(run, text, time, description)
        rows = log_rows(run.sim)
        draw = violation.picture

        def picture() -> Any:
            return _with_logs(draw(), rows)

        return Violation(violation.description, violation.explanation, violation.time,
                         picture=picture)


def _with_logs(figure: Any, rows: list[Any]) -> Any:
    """``figure`` (a space-time diagram) with the servers' logs drawn below it."""
    from distlab.viz.raftlog import draw_logs

    last = max((r.last_index for r in rows), default=1)
    width, height = figure.get_size_inches()
    logs_height = 0.5 + 0.42 * len(rows)
    figure.set_size_inches(width, height + logs_height)
    top = figure.axes[0]
    share = height / (height + logs_height)
    top.set_position([0.08, 1 - share * 0.9, 0.9, share * 0.8])
    ax = figure.add_axes([0.12, 0.02, 0.86, (1 - share) * 0.8])
    draw_logs(ax, rows, first_index=max(1, last - 24),
              title="logs (box: an entry, its term; solid: committed; \u2605 leader)")
    return figure


class LogRules(LogRule, ElectionRules):
    """The rules of leader election (`ElectionRules`), then those of the log (`LOG_RULES`),
    checked after every event, in one pass: the servers and the event are read once for
    both."""

    description = "the rules of leader election and of the log (Figures 2 and 3)"

    def begin(self, run: Run) -> None:
        super().begin(run)
        state = run.state
        state.logs = {}        # server -> its log, as last seen (a tuple of (term, command))
        state.raw = {}         # server -> (its snapshot's (index, term), the entries after it)
        state.commits = {}     # server -> its commit_index, as last seen since it (re)started
        state.applied = defaultdict(int)  # server -> the last index it applied since it started
        state.machine = {}     # index -> (command, server, time) first applied there
        state.ids = list(servers(run.sim))  # (read once: the cluster does not change)

    @staticmethod
    def members(run: Run) -> list[tuple[str, Any]]:
        """(id, node) of each server."""
        nodes = run.sim.nodes
        return [(node_id, nodes[node_id]) for node_id in run.state.ids]

    def observe(self, run: Run) -> Violation | None:
        before = dict(run.state.seen)
        events = run.new_events()
        shape = step_shape(events)
        violation = self.judge_election(run, events, shape, before, self.follow(run))
        if violation is not None:
            return violation
        for event in events:  # (the election's rules noted the restarts in state.restarts)
            if event.kind == "restart":
                run.state.applied[event.node] = 0
                run.state.commits.pop(event.node, None)
                run.state.revisions.pop("commits", None)  # (read its commit_index anew)
        old_logs = dict(run.state.logs)
        changed = self.read_logs(run)
        moved = run.state.moved = self.commits_moved(run, changed)
        if not (events or changed or moved):
            return None  # nothing the rules read has changed (a timer cancelled, say)
        broken = LOG_RULEBOOK.judged(self, shape, _FACTS[bool(changed), bool(moved)],
                                     run, events, before, old_logs, changed)
        if broken is not None:
            rule, problem = broken
            return self.failure(run, problem, description=LOG_RULES.get(rule)
                                or SNAPSHOT_RULES.get(rule) or RULES[rule])
        for node_id in moved:
            commit = getattr(run.sim.nodes[node_id], "commit_index", None)
            if type(commit) is int:
                run.state.commits[node_id] = commit
        return None

    def commits_moved(self, run: Run, changed: list[str]) -> list[str]:
        """The live servers whose commit_index is not the one last seen (or is not yet
        known), or whose log changed: the only ones whose commit the rules must judge again."""
        if unchanged_since_read(run, "commits"):
            return []  # (each live server's commit was noted after the last step judged, and
            # a restart since makes the servers be read again: see `observe`)
        commits, crashed, nodes = run.state.commits, run.sim.crashed, run.sim.nodes
        moved = []
        for node_id in run.state.ids:
            if node_id in crashed:
                continue
            commit = getattr(nodes[node_id], "commit_index", None)
            if node_id in changed or type(commit) is not int or commits.get(node_id) != commit:
                moved.append(node_id)
        return moved

    def read_logs(self, run: Run) -> list[str]:
        """Note each live server's log (at its true indices, `full_log`); return the servers
        whose log changed."""
        changed, logs, raw = [], run.state.logs, run.state.raw
        prior = run.state.prior = {}  # server -> its (snapshot, entries) before, if changed
        if unchanged_since_read(run, "logs"):
            return changed
        for node_id, node in self.members(run):
            if node_id in run.sim.crashed:
                continue
            now = (snapshot_of(node), getattr(node, "_lab_log", None))
            old = raw.get(node_id)
            if old is None or now != old:
                prior[node_id] = old
                raw[node_id] = now
                snapshot, log = now
                logs[node_id] = (snapshot if type(snapshot) is str else
                                 full_log(snapshot, log) if type(log) is tuple else log)
                changed.append(node_id)
        return changed

    def shape(self, run: Run, events: list, before: dict, old_logs: dict,
              changed: list[str]) -> str | None:
        for node_id in changed:
            log = run.state.logs[node_id]
            if type(run.state.raw[node_id][0]) is str:
                return f"{node_id}: {log}"
            if type(log) is str:
                return f"{node_id}: {log}: keep the log as a list of Entry(term, command)"
            if log is None:
                return f"{node_id} has no self.log: keep the log as a list of Entry(term, command)"
        for node_id in run.state.moved:
            commit = getattr(run.sim.nodes[node_id], "commit_index", None)
            if type(commit) is not int:
                return (f"{node_id}'s commit_index is {commit!r}: it must be a whole number, 0 "
                        f"at first (the index of the last entry known to be committed)")
        return None

    def stale_append_logs(self, run: Run, events: list, before: dict, old_logs: dict,
                          changed: list[str]) -> str | None:
        """Part B's share of the rule of a stale AppendEntries (`RULES`, "stale_append"): it
        changes neither the receiver's log (nor its snapshot) nor its commit index."""
        msg = delivered(events, AppendEntries)
        node_id = events[0].node if msg is not None else None
        if msg is None or not lower_term(msg, before.get(node_id)):
            return None
        had = (f"{node_id} (term {before[node_id][0]}) received {msg!r} from {events[0].peer}, "
               f"of an older term,")
        if node_id in changed:
            old, new = old_logs.get(node_id) or (), run.state.logs[node_id]
            return (f"{had} and changed its log (from {len(old)} to {len(new)} entries): an "
                    f"AppendEntries of a lower term comes from a stale leader, whose entries "
                    f"may conflict with committed ones; refuse it before you touch the log, "
                    f"and change nothing")
        commit, old_commit = run.sim.nodes[node_id].commit_index, run.state.commits.get(node_id)
        if old_commit is not None and commit != old_commit:
            return (f"{had} and moved its commit_index from {old_commit} to {commit}: a stale "
                    f"leader's leader_commit says nothing of your log; refuse the message "
                    f"before you read it, and change nothing" + your_line(
                        run.sim.nodes[node_id], "commit"))
        return None

    def describes_its_log(self, run: Run, events: list, before: dict, old_logs: dict,
                          changed: list[str]) -> str | None:
        for event in events:
            msg = event.data
            if event.kind != "send" or not isinstance(msg, RequestVote):
                continue
            log = run.state.logs.get(event.node) or ()
            last = (len(log), log[-1][0] if log else 0)
            if (msg.last_log_index, msg.last_log_term) != last:
                return (f"{event.node} asked {event.peer} for its vote with last_log_index="
                        f"{msg.last_log_index}, last_log_term={msg.last_log_term}, but its log "
                        f"ends at index {last[0]} with term {last[1]}: send "
                        f"RequestVote(term, id, len(self.log), term of the last entry or 0)")
        return None

    def appends_from_its_log(self, run: Run, events: list, before: dict, old_logs: dict,
                             changed: list[str]) -> str | None:
        for event in events:
            msg = event.data
            if event.kind != "send" or not isinstance(msg, AppendEntries):
                continue
            log, prev = run.state.logs.get(event.node), msg.prev_log_index
            if type(log) is not tuple or type(prev) is not int:
                continue  # (`shape` reports a log that is not one)
            sent = f"{event.node} sent {event.peer} AppendEntries(prev_log_index={prev}"
            if prev < 0:
                return (f"{sent}, ...): next_index[{event.peer!r}] went below 1. The first "
                        f"index is 1, so prev_log_index is at least 0: back next_index up "
                        f"only on a refusal of the current term, to conflict_index or past "
                        f"your last entry of conflict_term, never below match_index + 1")
            if prev > len(log):
                return (f"{sent}, ...) while its log ends at index {len(log)}: next_index "
                        f"is at most the index after your last entry")
            term = log[prev - 1][0] if prev > 0 else 0
            if msg.prev_log_term != term:
                return (f"{sent}, prev_log_term={msg.prev_log_term}, ...), but its entry at "
                        f"index {prev} is of term {term}: send the term of the entry just "
                        f"before the entries sent, term_at(next_index - 1)")
            entries = tuple((getattr(e, "term", None), getattr(e, "command", None))
                            for e in msg.entries)
            if entries != log[prev:prev + len(entries)]:
                return (f"{sent}, ...) with entries {entries} (term, command), but its log "
                        f"holds {log[prev:prev + len(entries)]} after index {prev}: send "
                        f"the entries of your log from next_index on")
        return None

    def votes_up_to_date(self, run: Run, events: list, before: dict, old_logs: dict,
                         changed: list[str]) -> str | None:
        request = delivered(events, RequestVote)
        if request is None:
            return None
        for event in vote_grants(events):
            log = old_logs.get(event.node) or ()
            mine = (log[-1][0] if log else 0, len(log))
            theirs = (request.last_log_term, request.last_log_index)
            if theirs < mine:
                return (f"{event.node} granted its vote to {event.peer}, whose log ends with "
                        f"term {theirs[0]} at index {theirs[1]}, while its own ends with term "
                        f"{mine[0]} at index {mine[1]}: a candidate must have a later last "
                        f"term, or the same and a log at least as long, or it may lack "
                        f"committed entries" + your_line(run.sim.nodes[event.node], "vote"))
        return None

    def leader_appends_only(self, run: Run, events: list, before: dict, old_logs: dict,
                            changed: list[str]) -> str | None:
        for node_id in changed:
            term, state = run.state.seen.get(node_id, (None, None))
            if state != "leader" or before.get(node_id) != (term, "leader"):
                continue
            old, new = old_logs.get(node_id) or (), run.state.logs[node_id]
            if new[:len(old)] != old:
                index = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), len(new))
                now = f"{new[index]}" if index < len(new) else "nothing"
                return (f"{node_id}, leader of term {term}, had {old[index]} (term, command) "
                        f"at index {index + 1} and now has {now} there: a leader never "
                        f"changes its log but to append; it is the followers' logs that "
                        f"follow the leader's")
            for index in range(len(old), len(new)):
                if new[index][0] != term:
                    return (f"{node_id}, leader of term {term}, appended an entry of term "
                            f"{new[index][0]} at index {index + 1}: a leader appends each new "
                            f"command as Entry(self.term, command)")
        return None

    def follows_append_entries(self, run: Run, events: list, before: dict, old_logs: dict,
                               changed: list[str]) -> str | None:
        msg = delivered(events, AppendEntries)
        if msg is None:
            return None
        node_id = events[0].node
        old, new = old_logs.get(node_id) or (), run.state.logs.get(node_id)
        if run.state.seen.get(node_id, (None,))[0] != msg.term or type(new) is not tuple:
            return None  # (a stale message: the node is of a later term)
        prev = msg.prev_log_index
        matches = prev <= len(old) and (old[prev - 1][0] if prev > 0 else 0) == msg.prev_log_term
        expected = _appended(old, prev, msg.entries) if matches else old
        snapshots = ((_before(run, node_id) or ((0, 0),))[0],
                     run.state.raw.get(node_id, ((0, 0),))[0])
        if new == expected and snapshots[0] == snapshots[1]:
            return None
        if snapshots[0] != snapshots[1]:
            return (f"{node_id} received an AppendEntries from {events[0].peer} and changed its "
                    f"snapshot (snapshot_index, snapshot_term) from {snapshots[0]} to "
                    f"{snapshots[1]}: only the service's snapshot() and InstallSnapshot change "
                    f"the snapshot")
        what = (f"AppendEntries(prev_log_index={prev}, prev_log_term={msg.prev_log_term}, "
                f"{len(msg.entries)} entries) from {events[0].peer}")
        if not matches:
            return (f"{node_id} received {what}, which does not match its log ({len(old)} "
                    f"entries), yet changed its log: refuse it, and change nothing")
        if len(new) < len(expected) and new == expected[:len(new)]:
            return (f"{node_id} received {what} and kept only {len(new)} entries of "
                    f"{len(expected)}: delete entries only from the first that conflicts (same "
                    f"index, another term); a late or repeated AppendEntries must not cut off "
                    f"entries that a later one brought")
        return (f"{node_id} received {what}; its log should now have {len(expected)} entries, "
                f"ending with {expected[-1] if expected else 'nothing'}, but it has {len(new)}"
                f"{', ending with ' + str(new[-1]) if new else ''} (term, command): delete "
                f"its entries from the first that conflicts with the leader's, with all that "
                f"follow it, then append the entries it lacks")

    def log_matching(self, run: Run, events: list, before: dict, old_logs: dict,
                     changed: list[str]) -> str | None:
        logs = run.state.logs
        for node_id in changed:
            mine = logs[node_id]
            for other, theirs in logs.items():
                if other == node_id or type(theirs) is not tuple:
                    continue
                problem = _mismatch(mine, theirs)
                if problem is not None:
                    index, agreed = problem
                    return (f"{node_id} and {other} both have an entry of term "
                            f"{mine[agreed - 1][0]} at index {agreed}, but differ at index "
                            f"{index}: {mine[index - 1]} on {node_id}, {theirs[index - 1]} on "
                            f"{other} (term, command). A follower accepts entries only after "
                            f"the entry at prev_log_index has term prev_log_term, and deletes "
                            f"its entries from the first that conflicts with the leader's")
        return None

    def commit_bounds(self, run: Run, events: list, before: dict, old_logs: dict,
                      changed: list[str]) -> str | None:
        for node_id in run.state.moved:
            commit, log = run.sim.nodes[node_id].commit_index, run.state.logs.get(node_id) or ()
            old = run.state.commits.get(node_id)
            if old is not None and commit < old:
                return (f"{node_id}'s commit_index went back from {old} to {commit}: "
                        f"committed entries stay committed (take the max)")
            if commit > len(log):
                return (f"{node_id}'s commit_index is {commit} but its log has only {len(log)} "
                        f"entries: a follower sets commit_index = min(leader_commit, index of "
                        f"the last new entry)")
        return None

    def commits_with_majority(self, run: Run, events: list, before: dict, old_logs: dict,
                              changed: list[str]) -> str | None:
        for node_id in run.state.moved:
            node = run.sim.nodes[node_id]
            term, state = run.state.seen.get(node_id, (None, None))
            old = run.state.commits.get(node_id)
            if state != "leader" or old is None or node.commit_index <= old:
                continue
            commit, log = node.commit_index, run.state.logs[node_id]
            if log[commit - 1][0] != term:
                return (f"{node_id}, leader of term {term}, advanced commit_index to {commit}, "
                        f"an entry of term {log[commit - 1][0]}: a leader counts replicas only "
                        f"of entries of its own term; the earlier ones are committed with them "
                        f"(section 5.4.2: see the paper's Figure 8 for what goes wrong)"
                        + your_line(node, "commit"))
            holders = sorted(n for n, other in run.state.logs.items()
                             if type(other) is tuple and other[:commit] == log[:commit])
            if len(holders) < majority(run):
                restarted = sorted(n for n in run.state.restarts if n not in holders)
                hint = (f"; {', '.join(restarted)} restarted and lost entries: keep the log in "
                        f"self.storage" if restarted else
                        "; count a follower only once it acknowledges the entries "
                        "(match_index), and count the leader itself")
                return (f"{node_id}, leader of term {term}, advanced commit_index to {commit}, "
                        f"but only {', '.join(holders)} store the log up to there "
                        f"({len(holders)} of {len(servers(run.sim))}; a majority is "
                        f"{majority(run)}){hint}" + your_line(node, "commit"))
        return None

    def applies_in_order(self, run: Run, events: list, before: dict, old_logs: dict,
                         changed: list[str]) -> str | None:
        for _, node_id, index, command, snapshot in apply_notes(events):
            if snapshot:
                problem = self.installs_in_order(run, node_id, index)
                if problem is not None:
                    return problem
                continue
            node = run.sim.nodes[node_id]
            expected = run.state.applied[node_id] + 1
            if type(index) is not int or index != expected:
                again = type(index) is int and index < expected
                restarted = (expected == 1 and type(index) is int
                             and run.state.restarts.get(node_id)
                             and _snapshot_index(run, node_id) > 0)
                return (f"{node_id} applied index {index!r} (command {command!r}) after index "
                        f"{expected - 1}: " + (
                            "it applied that index already; keep last_applied and apply only "
                            "from last_applied + 1 to commit_index" if again else
                            "after a restart, hand the service the snapshot from storage "
                            "first, self.note('apply', index=snapshot_index, snapshot=data), "
                            "and start commit_index and last_applied at snapshot_index"
                            if restarted else
                            f"it must apply {expected} next, in order, with "
                            f"self.note('apply', index=..., command=...)"))
            commit, log = node.commit_index, run.state.logs.get(node_id) or ()
            if index > commit:
                return (f"{node_id} applied index {index} while its commit_index is {commit}: "
                        f"apply only committed entries")
            if log[index - 1][1] != command:
                return (f"{node_id} applied command {command!r} at index {index}, but its log "
                        f"has {log[index - 1][1]!r} there: apply log[index - 1].command")
            run.state.applied[node_id] = index
        return None

    def installs_in_order(self, run: Run, node_id: str, index: Any) -> str | None:
        """Why the snapshot up to ``index`` that ``node_id`` handed its service breaks the
        rule of applying (None: it does not)."""
        applied = run.state.applied[node_id]
        if type(index) is not int or index <= applied:
            return (f"{node_id} handed its service a snapshot up to index {index!r} after it "
                    f"applied index {applied}: the state machine would go back and apply "
                    f"entries again; install (and hand over) only a snapshot beyond "
                    f"last_applied, and ignore an older one")
        commit = run.sim.nodes[node_id].commit_index
        if index > commit:
            return (f"{node_id} handed its service a snapshot up to index {index} while its "
                    f"commit_index is {commit}: a snapshot holds committed entries only; set "
                    f"commit_index and last_applied to (at least) last_included_index")
        run.state.applied[node_id] = index
        return None

    def same_commands(self, run: Run, events: list, before: dict, old_logs: dict,
                      changed: list[str]) -> str | None:
        machine = run.state.machine
        for time, node_id, index, command, snapshot in apply_notes(events):
            if snapshot:
                problem = self.same_state(run, time, node_id, index, command)
                if problem is not None:
                    return problem
                continue
            first = machine.setdefault(index, (command, node_id, time))
            if first[0] != command:
                restarted = sorted(n for n, times in run.state.restarts.items() if times)
                hint = (f"; {', '.join(restarted)} restarted in between: a log (or, from part "
                        f"D, a snapshot) kept in memory only is lost, so keep it in "
                        f"self.storage" if restarted else "")
                return (f"{node_id} applied {command!r} at index {index}, but {first[1]} "
                        f"applied {first[0]!r} there (t={first[2]:.3f} ms): an entry was "
                        f"applied before it was safely committed, or a committed entry was "
                        f"overwritten{hint}")
        return None

    def same_state(self, run: Run, time: float, node_id: str, index: int, data: Any
                   ) -> str | None:
        """Why the snapshot ``data`` up to ``index`` that ``node_id`` installed breaks State
        Machine Safety or is not the service's (None: it is right)."""
        if not isinstance(data, MachineState) or len(data.commands) != index:
            return (f"{node_id} handed its service {data!r} as the snapshot up to index "
                    f"{index}: hand it the data of the snapshot unchanged (the data the "
                    f"service gave snapshot(), which InstallSnapshot carries as its state)")
        machine = run.state.machine
        for at, command in enumerate(data.commands, 1):
            first = machine.setdefault(at, (command, node_id, time))
            if first[0] != command:
                return (f"{node_id} installed a snapshot with {command!r} at index {at}, but "
                        f"{first[1]} applied {first[0]!r} there (t={first[2]:.3f} ms): a "
                        f"snapshot holds the state after committed entries only")
        return None

    # -- part D: compaction ---------------------------------------------------------------------

    def compacts_as_asked(self, run: Run, events: list, before: dict, old_logs: dict,
                          changed: list[str]) -> str | None:
        if not events or events[0].kind != "timer" or events[0].data != SNAPSHOT_TIMER:
            return None
        node_id = events[0].node
        asked = next((dict(e.data.details).get("index") for e in events
                      if e.kind == "note" and e.data.what == "compact"), None)
        old, new = _before(run, node_id), run.state.raw.get(node_id)
        if (type(asked) is not int or old is None or type(old[0]) is not tuple
                or type(old[1]) is not tuple or asked > old[0][0] + len(old[1])):
            return None
        (start, _), entries = old
        if asked <= start:
            return None  # (an older snapshot than the one it has: nothing to do)
        keep = entries[asked - start:]
        expected = ((asked, entries[asked - start - 1][0]), keep)
        if new == expected:
            return None
        have = (f"snapshot_index={new[0][0]}, snapshot_term={new[0][1]} and "
                f"{len(new[1])} entries" if type(new[0]) is tuple and type(new[1]) is tuple
                else "a log that is not a list of entries")
        return (f"{node_id} was asked for a snapshot up to index {asked}; it should then have "
                f"snapshot_index={expected[0][0]}, snapshot_term={expected[0][1]} and the "
                f"{len(keep)} entries after index {asked}, but it has {have}: "
                f"drop the entries up to index {asked} from self.log (and no more)")

    def installs_snapshots(self, run: Run, events: list, before: dict, old_logs: dict,
                           changed: list[str]) -> str | None:
        msg = delivered(events, InstallSnapshot)
        if msg is None:
            return None
        node_id = events[0].node
        old, new = _before(run, node_id), run.state.raw.get(node_id)
        if old is None or type(old[0]) is not tuple or type(old[1]) is not tuple:
            return None
        what = (f"InstallSnapshot(term={msg.term}, last_included_index="
                f"{msg.last_included_index}, last_included_term={msg.last_included_term}) "
                f"from {events[0].peer}")
        term = before.get(node_id, (None,))[0]
        if type(term) is int and msg.term < term:
            if new != old:
                return (f"{node_id}, of term {term}, received {what} and changed its log: a "
                        f"message of an older term is stale; refuse it, change nothing")
            return None
        index, (start, _), entries = msg.last_included_index, old[0], old[1]
        applied = run.state.applied[node_id]  # (this event's applies are not judged yet)
        if index <= applied:
            if new == old:
                return None
            return (f"{node_id} received {what}, which is not news: it has applied up to "
                    f"index {applied} (its snapshot ends at {start}), yet it changed its "
                    f"snapshot or log, from snapshot_index={start} and {len(entries)} entries: "
                    f"installing an older snapshot takes the state machine and the log back. "
                    f"Install only a snapshot beyond last_applied (not beyond snapshot_index: "
                    f"the entries after it may be applied already); reply to an older one and "
                    f"change nothing")
        if start < index < start + len(entries) + 1 and \
                entries[index - start - 1][0] == msg.last_included_term:
            expected = ((index, msg.last_included_term), entries[index - start:])
        else:
            expected = ((index, msg.last_included_term), ())
        if new == expected:
            return None
        have = (f"snapshot_index={new[0][0]} and {len(new[1])} entries"
                if type(new[0]) is tuple and type(new[1]) is tuple else "something else")
        return (f"{node_id} received {what}; it should then have snapshot_index={index} and "
                f"{len(expected[1])} entries, but it has {have}: " + (
                    "its log has the snapshot's last entry, so keep the entries that follow "
                    "it" if expected[1] else
                    "its log lacks the snapshot's last entry (or it is of another term), so "
                    "drop the whole log"))


#: the facts of a step that `LogRules` reads besides its events: "logs", a server's log
#: changed; "commits", a server's commit index is to be judged (`LogRules.commits_moved`)
_FACTS = fact_sets("logs", "commits")
#: `LogRules`' rules of the log, in their order (most specific first), each with what it
#: reads (`Rulebook`)
LOG_RULEBOOK = Rulebook(
    Rule("shape", "shape", ("logs", "commits")),
    Rule("stale_append", "stale_append_logs", (("deliver", AppendEntries),)),
    Rule("compact", "compacts_as_asked", (("timer", None),)),
    Rule("install", "installs_snapshots", (("deliver", InstallSnapshot),)),
    Rule("describe", "describes_its_log", (("send", RequestVote),)),
    Rule("describe_append", "appends_from_its_log", (("send", AppendEntries),)),
    Rule("up_to_date", "votes_up_to_date", (("deliver", RequestVote),)),
    Rule("append_only", "leader_appends_only", ("logs",)),
    Rule("follower_log", "follows_append_entries", (("deliver", AppendEntries),)),
    Rule("matching", "log_matching", ("logs",)),
    Rule("commit_bounds", "commit_bounds", ("commits",)),
    Rule("commit", "commits_with_majority", ("commits",)),
    Rule("apply", "applies_in_order", (("note", None),)),
    Rule("machine", "same_commands", (("note", None),)),
)


def _before(run: Run, node_id: str) -> tuple | None:
    """``(snapshot, entries)`` of ``node_id`` before the event just observed."""
    prior = run.state.prior
    return prior[node_id] if node_id in prior else run.state.raw.get(node_id)


def _snapshot_index(run: Run, node_id: str) -> int:
    """The snapshot index of ``node_id`` as last seen (0: none, or not a whole number)."""
    snapshot = run.state.raw.get(node_id, ((0, 0), ()))[0]
    return snapshot[0] if type(snapshot) is tuple else 0


def _appended(log: tuple, prev: int, entries: tuple) -> tuple:
    """``log`` (``(term, command)`` pairs) after a follower stores ``entries`` after index
    ``prev``, as Figure 2 says: entries already there with the same term stay (and what
    follows them), the first that conflicts is deleted with all that follow it."""
    new = tuple((getattr(e, "term", None), getattr(e, "command", None)) for e in entries)
    for offset, entry in enumerate(new):
        index = prev + offset  # (0-based position of the entry)
        if index < len(log) and log[index][0] == entry[0]:
            continue
        return log[:index] + new[offset:]
    return log


def _mismatch(a: tuple, b: tuple) -> tuple[int, int] | None:
    """(the first index where logs ``a`` and ``b`` differ, a later index where their terms
    agree), or None: Log Matching holds for them."""
    for agreed in range(min(len(a), len(b)), 0, -1):
        if a[agreed - 1][0] == b[agreed - 1][0]:
            if a[:agreed] == b[:agreed]:
                return None
            return next(i for i in range(agreed) if a[i] != b[i]) + 1, agreed
    return None


# -- liveness and cost -------------------------------------------------------------------------

#: a command must be applied within this many ms of its first submission (unless a check says)
AGREE_WITHIN = 1_000.0


@dataclass(frozen=True)
class Phase:
    """What must become of the commands first submitted from ``start`` to ``end`` (ms): each
    applied by ``count`` servers (None: every server) within ``within`` ms of its first
    submission; or, with ``count=0``, by no server before ``end`` (while no majority can
    store them)."""

    start: float = 0.0
    end: float = float("inf")
    count: int | None = None
    within: float = AGREE_WITHIN

    def describe(self) -> str:
        when = "" if (self.start, self.end) == (0.0, float("inf")) else (
            f" from {self.start / 1000:g} s" if self.end == float("inf") else
            f" from {self.start / 1000:g} s to {self.end / 1000:g} s")
        if self.count == 0:
            return (f"no command submitted{when} is applied while no majority is "
                    f"reachable")
        who = "every server" if self.count is None else f"{self.count} servers"
        return f"every command submitted{when} is applied by {who} within {self.within / 1000:g} s"


class Agreement(LogRule):
    """The commands the client submits become what the ``phases`` say (one `Phase` for the
    whole run by default)."""

    def __init__(self, *phases: Phase):
        self.phases = phases or (Phase(),)
        self.description = "; ".join(phase.describe() for phase in self.phases)

    def begin(self, run: Run) -> None:
        super().begin(run)
        run.state.submitted = {}                 # command -> (when first submitted, its phase)
        run.state.applied = defaultdict(set)     # command -> the servers that applied it
        run.state.deadlines = []                 # heap of (deadline, command)

    def observe(self, run: Run) -> Violation | None:
        state = run.state
        events = run.new_events()
        for event in events:
            if (event.kind == "send" and event.node == TESTER
                    and isinstance(event.data, Submit)
                    and event.data.command not in state.submitted):
                phase = next((p for p in self.phases if p.start <= event.time < p.end), None)
                state.submitted[event.data.command] = (event.time, phase)  # (a phase or None)
                if phase is not None and phase.count != 0:
                    heapq.heappush(state.deadlines, (event.time + phase.within,
                                                     event.data.command))
        for _, node_id, index, command, snapshot in apply_notes(events):
            if snapshot and isinstance(command, MachineState):  # it applied all it holds
                for held in command.commands:
                    state.applied[held].add(node_id)
                continue
            if type(command) not in COMMAND_TYPES:
                continue
            state.applied[command].add(node_id)
            submitted, phase = state.submitted.get(command, (None, None))
            if phase is not None and phase.count == 0 and run.sim.now < phase.end:
                return self.failure(run, (
                    f"{node_id} applied command {command} (index {index}), submitted at "
                    f"t={submitted:.0f} ms, although a majority could not store it: a leader "
                    f"commits an entry only once a majority of the servers (itself "
                    f"included) store it"), description=phase.describe())
        return self.judge(run)

    def judge(self, run: Run) -> Violation | None:
        """The deadlines that fell at the end of the run, after its last event."""
        state = run.state
        while state.deadlines and state.deadlines[0][0] <= run.sim.now:
            deadline, command = heapq.heappop(state.deadlines)
            problem = self.missing(run, command)
            if problem is not None:
                return self.failure(run, problem, time=deadline,
                                    description=state.submitted[command][1].describe())
        return None

    def missing(self, run: Run, command: int) -> str | None:
        """Why ``command`` is not applied by enough servers, or None if it is."""
        cluster = servers(run.sim)
        submitted, phase = run.state.submitted[command]
        need = len(cluster) if phase.count is None else phase.count
        done = run.state.applied[command]
        if len(done) >= need:
            return None
        where = []
        for node_id, node in cluster.items():
            log = getattr(node, "_lab_log", ())
            log = log if type(log) is tuple else ()
            at = [i + 1 for i, (_, c) in enumerate(log) if c == command]
            status = ("down" if node_id in run.sim.crashed else
                      f"{getattr(node, 'state', '?')} t{getattr(node, 'term', '?')}")
            where.append(f"{node_id} ({status}): " + (
                f"has it at index {at[0]}" if at else "has not got it")
                + f", commit_index {getattr(node, 'commit_index', '?')}"
                + (", applied it" if node_id in done else ""))
        holders = sum(1 for line in where if "has it" in line)
        if holders == 0:
            hint = ("no server has it in its log: the leader appends the command of a "
                    "Submit to its log")
        elif holders < majority(run):
            hint = ("the leader sends each follower the entries from its next_index on, and a "
                    "follower appends them once prev_log_index and prev_log_term match; after "
                    "a refusal the leader backs up next_index (by a whole term at a time, "
                    "with conflict_index and conflict_term) and tries again at once")
        else:
            hint = ("a majority has it: the leader commits it (match_index of a majority), "
                    "followers learn commit_index from leader_commit, and each server applies "
                    "its committed entries with self.note('apply', index=..., command=...)")
        return (f"command {command}, submitted at t={submitted:.0f} ms, was applied by "
                f"{len(done)} server(s) by t={submitted + phase.within:.0f} ms, not {need}: "
                + "; ".join(where) + f". Hint: {hint}")


def wire_bytes(msg: Any) -> int:
    """How many bytes ``msg`` weighs on the wire, by the lab's size model: the length of its
    JSON form, as the trace writes it (`distlab.sim.Trace.dumps`), without spaces. A
    heartbeat weighs about 110 bytes, ``{"type":"AppendEntries","term":2,"leader_id":"n1",
    ...,"entries":[]}``, and each entry about 35 more than its command."""
    return len(json.dumps(_jsonable(msg), separators=(",", ":")))


#: the most a request's fields weigh without its entries (`wire_bytes` of an AppendEntries
#: with numbers of four digits): the overhead of each request `MessageBudget` allows
REQUEST_BYTES = wire_bytes(AppendEntries(9_999, "n1", 9_999, 9_999, (), 9_999))


class MessageBudget(LogRule):
    """From ``start`` to ``end``, the servers send at most ``most`` requests
    (`AppendEntries`, `RequestVote`, `InstallSnapshot`) and, if ``size`` is given, at most
    that many bytes in them (`wire_bytes`)."""

    def __init__(self, start: float, end: float, most: int, size: int | None = None,
                 why: str = ""):
        self.since, self.until = start, end
        self.most, self.size, self.why = most, size, why
        self.description = (f"at most {most} requests" + (
            f" weighing at most {size:,} bytes" if size is not None else "")
            + f" from {start / 1000:g} s to {end / 1000:g} s" + (f" ({why})" if why else ""))

    def begin(self, run: Run) -> None:
        super().begin(run)
        run.state.sent = 0
        run.state.bytes = 0

    def observe(self, run: Run) -> Violation | None:
        state = run.state
        for event in run.new_events():
            if not (event.kind == "send" and isinstance(event.data, REQUESTS)
                    and self.since <= event.time < self.until):
                continue
            state.sent += 1
            if self.size is not None:
                state.bytes += wire_bytes(event.data)
            if state.sent > self.most:
                return self.failure(run, (
                    f"the servers sent {state.sent} requests from t={self.since:g} ms to "
                    f"t={run.sim.now:.0f} ms: a leader sends each follower one AppendEntries "
                    f"every HEARTBEAT_INTERVAL ms, and one more when it has news (a command, "
                    f"an acknowledgement that calls for the next entries); never one per "
                    f"reply that teaches nothing new (a duplicate, a late reply)"))
            if self.size is not None and state.bytes > self.size:
                return self.failure(run, (
                    f"the servers sent {state.bytes:,} bytes of requests from "
                    f"t={self.since:g} ms to t={run.sim.now:.0f} ms (each measured as its "
                    f"JSON form, entries and all): send each follower only the entries from "
                    f"its next_index on, advance next_index (and match_index) when it "
                    f"acknowledges them, and let a heartbeat carry only what is not yet "
                    f"acknowledged"))
        return None


class LogBound(LogRule):
    """No live server's log holds more than ``most`` entries (part D: the snapshots keep it
    short)."""

    def __init__(self, most: int, every: int):
        self.most, self.every = most, every
        self.description = (f"no server's log holds more than {most} entries (the service asks "
                            f"for a snapshot every {every} applied entries)")

    def observe(self, run: Run) -> Violation | None:
        self.follow(run)
        if unchanged_since_read(run, "bound"):
            return None  # (no log has changed since they were all read)
        for node_id, node in servers(run.sim).items():
            log = getattr(node, "_lab_log", None)
            if node_id not in run.sim.crashed and type(log) is tuple and len(log) > self.most:
                return self.failure(run, (
                    f"{node_id}'s log holds {len(log)} entries: when the service calls "
                    f"snapshot(index, data), keep data as the snapshot and delete the entries "
                    f"up to index from self.log (the log then starts at snapshot_index + 1)"))
        return None


class FastBackup(LogRule):
    """A leader brings a follower whose log diverges up to date in a few round trips, one per
    term the two logs hold, not one per entry: each refusal of an AppendEntries tells it where
    the follower's log differs (``conflict_index``, ``conflict_term``), and it backs up a
    whole term at once (section 5.3; MIT 6.5840's "fast backup").

    For each leader, term and follower it counts the refusals, each at another
    ``prev_log_index`` (a heartbeat that repeats a probe in flight is not counted twice), and
    fails when they outnumber the distinct terms of the two logs, plus one.
    """

    description = ("a leader brings a follower up to date in at most one refused AppendEntries "
                   "per term of their two logs (plus one), however many entries differ (fast "
                   "backup, section 5.3)")

    def begin(self, run: Run) -> None:
        super().begin(run)
        run.state.probes = defaultdict(list)  # (leader, term, follower) -> refused prev indices

    def observe(self, run: Run) -> Violation | None:
        events = run.new_events()
        request = delivered(events, AppendEntries)
        if request is None:
            return None
        follower, leader = events[0].node, events[0].peer
        refused = any(event.kind == "send" and event.peer == leader
                      and isinstance(event.data, AppendEntriesReply)
                      and not event.data.success and event.data.term == request.term
                      for event in events)
        probes = run.state.probes[leader, request.term, follower]
        if not refused or request.prev_log_index in probes:
            return None
        probes.append(request.prev_log_index)
        logs = [getattr(run.sim.nodes[node_id], "_lab_log", None)
                for node_id in (follower, leader)]
        if not all(type(log) is tuple for log in logs):
            return None  # (`LogRules` reports a log that is not one)
        terms = [len({term for term, _ in log}) for log in logs]
        if len(probes) <= terms[0] + terms[1] + 1:
            return None
        shown = ", ".join(map(str, probes[:8])) + (", ..." if len(probes) > 8 else "")
        return self.failure(run, (
            f"{leader}, leader of term {request.term}, had {len(probes)} AppendEntries refused "
            f"by {follower}, each at another prev_log_index ({shown}), while {follower}'s log "
            f"holds {terms[0]} term(s) and {leader}'s {terms[1]}: backing up one entry per "
            f"refusal costs a round trip per entry. The follower says where its log differs "
            f"(conflict_term, and conflict_index, the first index of that term in its log, or "
            f"len(self.log) + 1 if its log is too short); the leader sets next_index past its "
            f"own last entry of conflict_term if it has one, else to conflict_index: a whole "
            f"term per round trip"))
