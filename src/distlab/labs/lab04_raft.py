"""Lab 4: Raft, built part by part in one node class (the lab notebook ``lab04-raft.ipynb``).

Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm"
{cite:p}`ongaro2014raft`. The student writes one class, a `Node` with Raft's own variables:
``term`` (the paper's currentTerm), ``state`` (``"follower"``, ``"candidate"`` or
``"leader"``), ``voted_for``, ``votes`` and ``log``. Part A is leader election (section 5.2).

This module holds what the student does not write: the timing constants, the messages (the
library's, `distlab.consensus.raft.messages`, so that the log's fields are already there for
the later parts), and the checks. The checks read the nodes' ``term`` and ``state`` and the
messages in the trace, and they judge, besides "at most one leader per term" and "a leader is
elected", the rules of the paper's Figure 2 one at a time (one vote per term; a leader only
with a majority of votes of its own term; adopt any higher term seen), so that a report names
the rule that was broken rather than only its distant consequence.

`ElectionRules` checks, after every event (`RULES`): a server's term only grows, across
restarts too; a server grants at most one vote per term; a request or reply with a higher term
makes the receiver adopt it and become a follower; a server starts an election only after a
full election timeout without granting a vote or hearing from the leader; a leader of term T
got votes of term T from a majority; at most one leader per term, over the whole run (Election
Safety; the exploration check uses the library's `at_most_one_leader_per_term`, which says the
same). Over a stretch of time: `LeaderElected`, `NoNeedlessElections`, `NoLeader`. Every
violation carries a picture: the run's messages around it, with each server's role (a coloured
band) and term. To point at the student's own line, the checks run an `instrumented` subclass
of the student's class, which notes where in the student's code the ``state`` last changed and
where the last vote was granted (``_lab_where``): the grader reads it from the run's record.

Part A's checks restart crashed nodes: ``term`` and ``voted_for`` must be durable (kept in
``self.storage``), as the paper's Figure 2 says ("updated on stable storage before responding
to RPCs").
"""

from __future__ import annotations

import linecache
import sys
from collections import defaultdict
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from distlab.check import ExplorationResult, explore
from distlab.consensus.raft.invariants import at_most_one_leader_per_term
from distlab.consensus.raft.messages import (AppendEntries, AppendEntriesReply, RequestVote,
                                             RequestVoteReply)
from distlab.grading.lab import Lab, Scenario, Trial, graded, own_code
from distlab.grading.properties import Run, TraceProperty, Violation
from distlab.sim import Network, Node, Simulation, Uniform, stream
from distlab.sim.helpers import ipython_shell, node_ids

__all__ = [
    "AppendEntries", "AppendEntriesReply", "ELECTION_TIMEOUT", "ELECT_WITHIN",
    "HEARTBEAT_INTERVAL", "ElectionRules", "LeaderElected", "NoLeader", "NoNeedlessElections",
    "RaftLab", "RequestVote", "RequestVoteReply", "explore_election", "instrumented",
    "refuse_library_raft",
]

#: the range an election timeout is drawn from, in ms (a new draw each time the timer is set)
ELECTION_TIMEOUT = (150.0, 300.0)
#: how often a leader sends heartbeats (empty AppendEntries), in ms
HEARTBEAT_INTERVAL = 50.0
#: a leader must be elected (and followed) within this many ms of the start or of a failure
ELECT_WITHIN = 1_500.0
#: when the checks break something (crash or cut off the leader), in ms
FAULT_AT = 1_500.0
#: when they repair it
REPAIR_AT = 3_000.0
#: the exploration's bounds: schedule length and real time (seconds)
EXPLORE_DEPTH = 6
EXPLORE_SECONDS = 10.0


#: the node attributes the rules read
WATCHED = ("term", "state", "voted_for")
#: the library's Raft: a student's class may neither subclass nor import it
LIBRARY_RAFT = ("distlab.consensus.raft.node", "distlab.consensus.raft.election",
                "distlab.consensus.raft.bugs", "distlab.consensus.raft.runs")
_DISTLAB = Path(__file__).resolve().parent.parent
#: band colours of the roles in the pictures
ROLE_COLORS = {"follower": "#bbbbbb", "candidate": "#f0a030", "leader": "#2e9e4f"}


# -- integrity ---------------------------------------------------------------------------------

def refuse_library_raft(node: Any) -> None:
    """Raise if ``node`` is not a Node class of the student's own: a subclass of the library's
    Raft, or a class whose code reaches it, is refused with a message that says so
    (`distlab.grading.lab.own_code`)."""
    if not (isinstance(node, type) and issubclass(node, Node)):
        raise TypeError(f"RaftLab takes your node class (a subclass of distlab.sim.Node), "
                        f"such as RaftLab(RaftNode); got {node!r}")
    own_code(node, LIBRARY_RAFT, "Raft")


# -- where in the student's code ---------------------------------------------------------------

@cache
def instrumented(node: type[Node]) -> type[Node]:
    """A subclass of ``node`` that remembers, in ``self._lab_where``, the student's line that
    last changed ``state`` and the one that last sent a granted vote. It changes nothing else.
    """

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if name == "state" and value != self.__dict__.get("state"):
            _note_where(self, "state", f"state = {value!r}")
        node.__setattr__(self, name, value)

    def send(self: Any, dst: str, msg: Any) -> None:
        if isinstance(msg, RequestVoteReply) and msg.vote_granted:
            _note_where(self, "vote", f"vote for {dst} in term {msg.term}")
        node.send(self, dst, msg)

    return type(node.__name__, (node,), {"__setattr__": __setattr__, "send": send,
                                         "__qualname__": node.__qualname__,
                                         "__module__": node.__module__,
                                         "__doc__": node.__doc__})


def _note_where(me: Any, what: str, action: str) -> None:
    frame = sys._getframe(2)
    while frame is not None and Path(frame.f_code.co_filename).resolve().is_relative_to(_DISTLAB):
        frame = frame.f_back
    if frame is None:
        return
    where = dict(me.__dict__.get("_lab_where") or {})
    where[what] = (frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_qualname, action)
    object.__setattr__(me, "_lab_where", where)


def your_line(node: Any, what: str) -> str:
    """Where the student's code last did ``what`` ("state", "vote") on ``node``, in words."""
    noted = getattr(node, "_lab_where", None)
    where = noted.get(what) if type(noted) is dict else None
    if (type(where) is not tuple or len(where) != 4
            or [type(x) for x in where] != [str, int, str, str]):
        return ""  # nothing noted (or not by the instrumentation)
    filename, line, function, action = where
    code = linecache.getline(filename, line).strip()
    return (f"\nin your code ({action}): {_file_label(filename)}, line {line}, in {function}"
            + (f"\n    {code}" if code else ""))


def _file_label(filename: str) -> str:
    """``Cell In[4]`` for a notebook cell, as IPython names it; else the file's name."""
    compiler = getattr(ipython_shell(), "compile", None)
    label = getattr(compiler, "format_code_name", lambda name: None)(filename)
    return " ".join(label) if label else filename


# -- the base of the rules ---------------------------------------------------------------------

class RaftRule(TraceProperty):
    """A property that follows each server's role and term, to draw them when it fails."""

    def begin(self, run: Run) -> None:
        run.state.roles = defaultdict(list)  # node -> [(time, term, state)] at each change
        run.state.seen = {}                  # node -> (term, state) last seen

    def follow(self, run: Run) -> list[str]:
        """Note every change of a server's (term, state), a crashed server being "down";
        return the servers that changed."""
        sim, seen, roles = run.sim, run.state.seen, run.state.roles
        changed = []
        for node_id, node in sim.nodes.items():
            now = ((None, "down") if node_id in sim.crashed
                   else (getattr(node, "term", None), getattr(node, "state", None)))
            if seen.get(node_id) != now:
                seen[node_id] = now
                roles[node_id].append((sim.now, *now))
                changed.append(node_id)
        return changed

    def failure(self, run: Run, text: str, time: float | None = None,
                description: str | None = None) -> Violation:
        """A `Violation` of this rule (or of ``description``), with the picture of the run
        around it."""
        when = run.sim.now if time is None else time
        description = description or self.description
        trace = run.sim.trace
        roles = {k: list(v) for k, v in run.state.roles.items()}
        title = f"{description[:70]} -- broken at t={when:.0f} ms"
        return Violation(description, text, when,
                         picture=lambda: roles_diagram(trace, roles, when, title))


def roles_diagram(trace: Any, roles: dict[str, list[tuple[float, Any, Any]]], when: float,
                  title: str, span: float = 700.0) -> Any:
    """The space-time diagram of the ``span`` ms before ``when``, each server's lane banded by
    its role (grey follower, orange candidate, green leader) and labelled with its term."""
    from distlab.viz import spacetime

    start, end = max(0.0, when - span), when + span / 40
    figure = spacetime(trace, start=start, end=end, title=title + "\n(bands: grey follower, "
                       "orange candidate, green leader; tN: term N)")
    ax = figure.axes[0]
    lanes = {label.get_text(): i for i, label in enumerate(ax.get_yticklabels())}
    for node_id, changes in roles.items():
        if node_id not in lanes:
            continue
        bounds = [*changes[1:], (end, None, None)]
        for (t0, term, state), (t1, _, _) in zip(changes, bounds):
            t0, t1 = max(t0, start), min(t1, end)
            if t1 <= t0 or state not in ROLE_COLORS:
                continue
            ax.broken_barh([(t0, t1 - t0)], (lanes[node_id] - 0.28, 0.56),
                           facecolors=ROLE_COLORS[state], alpha=0.3, zorder=0)
            if (t1 - t0) > span / 25:
                ax.text(t0, lanes[node_id] - 0.3, f"t{term}", fontsize=6.5, va="bottom")
    return figure


def majority(run: Run) -> int:
    """How many servers make a majority of the cluster."""
    return len(run.sim.nodes) // 2 + 1


def describe_servers(run: Run) -> str:
    """Each server's role and term, in a line: ``n1 leader t3, n2 follower t3, n3 down``."""
    parts = []
    for node_id, node in run.sim.nodes.items():
        if node_id in run.sim.crashed:
            parts.append(f"{node_id} down")
        else:
            parts.append(f"{node_id} {getattr(node, 'state', '?')} t{getattr(node, 'term', '?')}")
    return ", ".join(parts)


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


# -- safety: the rules of Figure 2 -------------------------------------------------------------

#: what each safety rule demands, in words (a report names the first one broken)
RULES = {
    "names": "state is 'follower', 'candidate' or 'leader', and term a whole number",
    "term": "a server's term never decreases, across restarts too",
    "vote": "each server grants at most one vote per term",
    "adopt": "a server that receives a higher term adopts it and becomes a follower",
    "timer": "a server starts an election only after a full election timeout without a vote "
             "granted or a word from the leader",
    "majority": "a leader of term T has the votes of a majority, cast in term T",
    "safety": "at most one leader per term",
}


class ElectionRules(RaftRule):
    """The safety rules of leader election, checked after every event, in one pass.

    Each rule is one method that returns None or what is wrong; after an event they are
    asked in the order of `RULES`, from the most specific to Election Safety itself, so that
    a double vote is reported as the double vote rather than as the two leaders it leads to.
    One property rather than five, and each rule looks only at what the event changed: the
    grader reads the record of a run once per event, not five times.
    """

    description = "the rules of leader election (Figure 2)"

    def __init__(self, shortest_timeout: float):
        self.shortest_timeout = shortest_timeout

    def begin(self, run: Run) -> None:
        super().begin(run)
        state = run.state
        state.reset = {}                    # node -> (when its election timer last restarted, why)
        state.highest = {}                  # node -> the highest term it has had
        state.restarts = defaultdict(list)  # node -> when it restarted
        state.votes = {}                    # (voter, term) -> (candidate, time)
        state.granted = defaultdict(set)    # (candidate, term) -> voters whose votes arrived
        state.leaders = {}                  # term -> (its first leader, since when)

    def observe(self, run: Run) -> Violation | None:
        before = dict(run.state.seen)  # (term, state) of each server before this event
        changed = self.follow(run)
        events = run.new_events()
        for rule, check in (("names", self.uses_the_names), ("term", self.term_never_decreases),
                            ("vote", self.one_vote),
                            ("adopt", self.adopts_higher_terms),
                            ("timer", self.waits_a_full_timeout),
                            ("majority", self.leader_has_majority),
                            ("safety", self.election_safety)):
            problem = check(run, events, before, changed)
            if problem is not None:
                return self.failure(run, problem, description=RULES[rule])
        return None

    def uses_the_names(self, run: Run, events: list, before: dict,
                       changed: list[str]) -> str | None:
        for node_id in changed:
            term, state = run.state.seen[node_id]
            if state == "down":
                continue
            if state not in ROLE_COLORS:
                return (f"{node_id}'s state is {state!r}: it must be one of 'follower', "
                        f"'candidate', 'leader' (the checks read self.state)")
            if type(term) is not int:
                return (f"{node_id}'s term is {term!r}: it must be a whole number, 0 at first "
                        f"(the checks read self.term)")
        return None

    def term_never_decreases(self, run: Run, events: list, before: dict,
                             changed: list[str]) -> str | None:
        for event in events:
            if event.kind == "restart":
                run.state.restarts[event.node].append(event.time)
        highest = run.state.highest
        for node_id in changed:
            term = run.state.seen[node_id][0]
            if type(term) is not int:
                continue
            old = highest.get(node_id, term)
            if term < old:
                restarts = run.state.restarts[node_id]
                why = (f" when it restarted (t={restarts[-1]:.3f} ms): keep term and voted_for "
                       f"in self.storage, and read them back in __init__, so that a restarted "
                       f"server remembers them" if restarts else ": a term may only grow")
                return f"{node_id}'s term went back from {old} to {term}{why}"
            highest[node_id] = max(old, term)
        return None

    def one_vote(self, run: Run, events: list, before: dict, changed: list[str]) -> str | None:
        for event in events:
            msg = event.data
            if event.kind != "send" or not isinstance(msg, RequestVoteReply):
                continue
            if not msg.vote_granted:
                continue
            first = run.state.votes.setdefault((event.node, msg.term), (event.peer, event.time))
            if first[0] != event.peer:
                voter = event.node
                between = [t for t in run.state.restarts[voter] if first[1] < t <= event.time]
                hint = (f"it restarted in between (t={between[0]:.3f} ms) and forgot its vote: "
                        f"keep voted_for in self.storage" if between else
                        "grant a vote only if voted_for is None or already that candidate, "
                        "and set voted_for when you grant it")
                return (f"{voter} granted its vote in term {msg.term} to {first[0]} "
                        f"(t={first[1]:.3f} ms) and to {event.peer} (t={event.time:.3f} ms): "
                        f"{hint}" + your_line(run.sim.nodes[voter], "vote"))
        return None

    def adopts_higher_terms(self, run: Run, events: list, before: dict,
                            changed: list[str]) -> str | None:
        for event in events:
            if event.kind != "deliver":
                continue
            term = _int(getattr(event.data, "term", None))
            old_term, old_state = before.get(event.node, (None, None))
            if term is None or type(old_term) is not int or term <= old_term:
                continue
            now_term, now_state = run.state.seen.get(event.node, (None, None))
            had = f"{event.node} ({old_state}, term {old_term}) received {event.data!r}"
            if now_term != term:
                return (f"{had} from {event.peer} and then had term {now_term}: on any "
                        f"request or reply with a higher term, set term to it (and voted_for "
                        f"to None) and become a follower")
            if now_state != "follower":
                return (f"{had} from {event.peer}, adopted term {term} but stayed "
                        f"{now_state}: a higher term means another server may lead; become "
                        f"a follower" + your_line(run.sim.nodes[event.node], "state"))
        return None

    def waits_a_full_timeout(self, run: Run, events: list, before: dict,
                             changed: list[str]) -> str | None:
        reset = run.state.reset
        for event in events:
            msg = event.data
            if event.kind == "restart":
                reset[event.node] = (event.time, "it restarted")
            elif (event.kind == "send" and isinstance(msg, RequestVoteReply)
                  and msg.vote_granted):
                reset[event.node] = (event.time, f"it granted its vote to {event.peer}")
            elif event.kind == "deliver" and isinstance(msg, AppendEntries):
                term = before.get(event.node, (None, None))[0]
                if type(term) is int and msg.term >= term:
                    reset[event.node] = (event.time, f"an AppendEntries of term {msg.term} "
                                                     f"from {event.peer} arrived")
        for node_id in changed:
            term, state = run.state.seen[node_id]
            if state != "candidate" or before.get(node_id) == (term, state):
                continue
            since, why = reset.get(node_id, (0.0, "it started"))
            reset[node_id] = (run.sim.now, "it became a candidate")
            waited = run.sim.now - since
            if waited < self.shortest_timeout - 1e-6:
                return (f"{node_id} started an election (term {term}) at t={run.sim.now:.3f} "
                        f"ms, only {waited:.1f} ms after {why} (t={since:.3f} ms): set the "
                        f"election timer again, to a new random timeout of at least "
                        f"{self.shortest_timeout:g} ms, each time the server grants a vote or "
                        f"hears from the leader of its term" + your_line(
                            run.sim.nodes[node_id], "state"))
        return None

    def leader_has_majority(self, run: Run, events: list, before: dict,
                            changed: list[str]) -> str | None:
        granted = run.state.granted
        for event in events:
            msg = event.data
            if (event.kind == "deliver" and isinstance(msg, RequestVoteReply)
                    and msg.vote_granted):
                granted[event.node, msg.term].add(event.peer)
        n = len(run.sim.nodes)
        for node_id in changed:
            term, state = run.state.seen[node_id]
            if state != "leader" or type(term) is not int:
                continue
            voters = granted[node_id, term] | {node_id}
            if len(voters) >= majority(run):
                continue
            older = sorted({v for (c, t), vs in granted.items() if c == node_id and t < term
                            for v in vs})
            hint = (f"; it also had votes of earlier terms from {', '.join(older)}: count only "
                    f"the votes of the current term" if older else
                    f"; a majority of {n} is {n} // 2 + 1")
            return (f"{node_id} became leader of term {term} with the votes of "
                    f"{', '.join(sorted(voters))} only ({len(voters)} of {n}), but it needs "
                    f"{majority(run)}{hint}" + your_line(run.sim.nodes[node_id], "state"))
        return None

    def election_safety(self, run: Run, events: list, before: dict,
                        changed: list[str]) -> str | None:
        for node_id in changed:
            term, state = run.state.seen[node_id]
            if state != "leader":
                continue
            first, since = run.state.leaders.setdefault(term, (node_id, run.sim.now))
            if first != node_id:
                return (f"two leaders in term {term}: {first} (since t={since:.3f} ms) and "
                        f"{node_id} (now)" + your_line(run.sim.nodes[node_id], "state"))
        return None


# -- liveness, and quiet -----------------------------------------------------------------------

class LeaderElected(RaftRule):
    """Within ``within`` ms of ``since``: one leader, followed by every live server.

    With ``majority_only``, a *new* leader (of a term above every term at ``since``) followed
    by a majority: the side of a partition that has one elects it, while the old leader,
    cut off, may still believe it leads in its old term.
    """

    def __init__(self, since: float, within: float, *, majority_only: bool = False):
        self.since, self.within, self.majority_only = since, within, majority_only
        who = "a new leader, followed by a majority," if majority_only else (
            "one leader, followed by every live server,")
        after = "of the start" if since == 0 else f"of t={since / 1000:g} s"
        self.description = f"{who} within {within / 1000:g} s {after}"

    def begin(self, run: Run) -> None:
        super().begin(run)
        run.state.done = False
        run.state.late = None        # what the servers were at the deadline, if not done
        run.state.first_term = None  # the highest term at ``since``

    def holds(self, run: Run) -> bool:
        live = {i: n for i, n in run.sim.nodes.items() if i not in run.sim.crashed}
        terms = [_int(getattr(n, "term", None)) for n in live.values()]
        if not live or None in terms:
            return False
        top = max(terms)
        on_top = [n for n in live.values() if n.term == top]
        leaders = [n for n in on_top if getattr(n, "state", None) == "leader"]
        if len(leaders) != 1 or any(getattr(n, "state", None) == "candidate" for n in on_top):
            return False
        if self.majority_only:
            return len(on_top) >= majority(run) and top > run.state.first_term
        return len(on_top) == len(live)

    def observe(self, run: Run) -> None:
        state = run.state
        if state.done or state.late is not None or run.sim.now < self.since:
            return None
        self.follow(run)
        if state.first_term is None:
            state.first_term = max((_int(getattr(n, "term", None)) or 0
                                    for n in run.sim.nodes.values()), default=0)
        if run.sim.now > self.since + self.within:
            state.late = (describe_servers(run), max(
                (_int(getattr(n, "term", None)) or 0 for n in run.sim.nodes.values()), default=0))
            return None
        state.done = self.holds(run)
        return None

    def judge(self, run: Run) -> Violation | None:
        if run.state.done:
            return None
        deadline = self.since + self.within
        servers, top = run.state.late or (describe_servers(run), 0)
        elections = top - (run.state.first_term or 0)
        if elections >= 4:
            hint = (f"{elections} elections in {self.within:g} ms and none won: split votes "
                    f"again and again? Draw the election timeout anew, at random, each time "
                    f"you set the timer: self.rng.uniform(*ELECTION_TIMEOUT)")
        elif elections == 0 and "leader" not in servers:
            hint = "no election was even started: does the election timer fire and start one?"
        else:
            hint = ("a leader must win a majority and then send AppendEntries at once, so that "
                    "the others follow it (and a candidate that hears from the leader of its "
                    "term becomes a follower)")
        return self.failure(run, f"at t={deadline:g} ms: {servers}. {hint}", deadline)


class NoNeedlessElections(RaftRule):
    """From ``start`` to ``end`` (no fault at all), no server starts a new term."""

    def __init__(self, start: float, end: float):
        self.since, self.until = start, end
        self.description = (f"no new election while the network is quiet, from "
                            f"{start / 1000:g} s to {end / 1000:g} s")

    def begin(self, run: Run) -> None:
        super().begin(run)
        run.state.base = None
        run.state.heard = {}  # node -> when its last AppendEntries arrived

    def observe(self, run: Run) -> Violation | None:
        changed = self.follow(run)
        for event in run.new_events():
            if event.kind == "deliver" and isinstance(event.data, AppendEntries):
                run.state.heard[event.node] = event.time
        if not self.since <= run.sim.now <= self.until:
            return None
        seen = run.state.seen
        if run.state.base is None:
            run.state.base = max((t for t, _ in seen.values() if type(t) is int), default=0)
            return None
        for node_id in changed:
            term = seen[node_id][0]
            if type(term) is int and term > run.state.base:
                heard = run.state.heard.get(node_id)
                last = (f"its last AppendEntries had arrived at t={heard:.3f} ms, "
                        f"{run.sim.now - heard:.0f} ms before" if heard is not None
                        else "it had never received an AppendEntries")
                return self.failure(run, f"{node_id} started term {term} at "
                                    f"t={run.sim.now:.3f} ms although no message was lost and "
                                    f"no server failed ({last}): a leader must send "
                                    f"AppendEntries more often than the shortest election "
                                    f"timeout (every HEARTBEAT_INTERVAL ms), and a follower "
                                    f"must reset its election timer on each one from the "
                                    f"leader of its term")
        return None


class NoLeader(RaftRule):
    """From ``start`` to ``end`` (too few servers up for a majority), no server is leader."""

    def __init__(self, start: float, end: float):
        self.since, self.until = start, end
        self.description = (f"no leader while a majority is down, from {start / 1000:g} s "
                            f"to {end / 1000:g} s")

    def observe(self, run: Run) -> Violation | None:
        self.follow(run)
        if not self.since < run.sim.now < self.until:
            return None
        for node_id, node in run.sim.nodes.items():
            if node_id not in run.sim.crashed and getattr(node, "state", None) == "leader":
                up = len(run.sim.nodes) - len(run.sim.crashed)
                return self.failure(run, f"{node_id} is leader of term "
                                    f"{getattr(node, 'term', '?')} with only {up} of "
                                    f"{len(run.sim.nodes)} servers up: a leader needs the votes "
                                    f"of a majority ({majority(run)})"
                                    + your_line(node, "state"))
        return None


# -- the lab ------------------------------------------------------------------------------------

def safety() -> list:
    """The properties every check of part A judges, most specific first.

    When a run breaks several, the first rule broken in time is reported: a double vote is
    reported as the double vote, not as the two leaders it leads to a few events later.
    """
    return [ElectionRules(shortest_timeout=ELECTION_TIMEOUT[0])]


class RaftLab(Lab):
    """The checks of lab 4, for the student's Raft node class.

    Refuses a class that reuses the library's Raft (`refuse_library_raft`): the point of the
    lab is to write it.
    """

    title = "Lab 4: Raft"
    node_attributes = (*WATCHED, "_lab_where")

    def __init__(self, node: type[Node]):
        refuse_library_raft(node)
        self.node = node

    def cluster(self, n: int) -> Callable[[Simulation], None]:
        """A setup that adds ``n`` servers n1..n``n`` of the student's class, instrumented
        so that a report can point at the student's line (`instrumented`)."""
        ids = node_ids(n, first=1)
        node = instrumented(self.node)

        def setup(sim: Simulation) -> None:
            sim.add_nodes(node, ids)

        return setup

    # -- part A: leader election ---------------------------------------------------------
    @graded(part="A", seeds=20, description="3 servers, reliable network: one leader, "
            "followed by the others, within 1.5 s")
    def test_initial_election_A(self, seed: int) -> Scenario:
        return Scenario(self.cluster(3), run_for=2_500, network=Network(latency=Uniform(1, 10)),
                        properties=[*safety(), LeaderElected(0, ELECT_WITHIN)])

    @graded(part="A", seeds=20, description="3 servers, quiet network: once a leader is "
            "elected, no new election (no term change) from 1.5 s to 5 s")
    def test_quiet_leader_stays_A(self, seed: int) -> Scenario:
        return Scenario(self.cluster(3), run_for=5_000, network=Network(latency=Uniform(1, 10)),
                        properties=[*safety(), LeaderElected(0, ELECT_WITHIN),
                                    NoNeedlessElections(ELECT_WITHIN, 5_000)])

    @graded(part="A", seeds=20, description="5 servers; the leader crashes at 1.5 s: a new "
            "one within 1.5 s; it restarts at 3 s and follows the leader by 4.5 s")
    def test_reelection_after_crash_A(self, seed: int) -> Scenario:
        def setup(sim: Simulation) -> None:
            self.cluster(5)(sim)
            crashed: list[str] = []

            def crash_leader() -> None:
                crashed.extend(_leaders(sim))
                for node_id in crashed:
                    sim.crash(node_id)

            sim.at(FAULT_AT, crash_leader)
            sim.at(REPAIR_AT, lambda: [sim.restart(node_id) for node_id in crashed])

        return Scenario(setup, run_for=REPAIR_AT + ELECT_WITHIN,
                        network=Network(latency=Uniform(1, 10)),
                        properties=[*safety(), LeaderElected(FAULT_AT, ELECT_WITHIN),
                                    LeaderElected(REPAIR_AT, ELECT_WITHIN)])

    @graded(part="A", seeds=20, description="5 servers; the leader is cut off at 1.5 s: the "
            "other four elect a new one within 1.5 s; after the heal at 3 s the old leader "
            "steps down and everyone follows one leader by 4.5 s")
    def test_reelection_after_partition_A(self, seed: int) -> Scenario:
        def setup(sim: Simulation) -> None:
            self.cluster(5)(sim)

            def cut_off_leader() -> None:
                alone = set(_leaders(sim)[:1])
                if alone:
                    sim.partition(alone, set(sim.nodes) - alone)

            sim.at(FAULT_AT, cut_off_leader)
            sim.at(REPAIR_AT, sim.heal)

        return Scenario(setup, run_for=REPAIR_AT + ELECT_WITHIN,
                        network=Network(latency=Uniform(1, 10)),
                        properties=[*safety(),
                                    LeaderElected(FAULT_AT, ELECT_WITHIN, majority_only=True),
                                    LeaderElected(REPAIR_AT, ELECT_WITHIN)])

    @graded(part="A", seeds=20, description="5 servers; at 1.5 s the leader and two others "
            "crash: no leader while only 2 of 5 are up; one restarts at 3 s: a leader "
            "within 1.5 s")
    def test_no_majority_no_leader_A(self, seed: int) -> Scenario:
        rng = stream(seed, "lab4-no-majority")

        def setup(sim: Simulation) -> None:
            self.cluster(5)(sim)
            crashed: list[str] = []

            def crash_three() -> None:
                leaders = _leaders(sim)[:1]
                others = sorted(set(sim.nodes) - set(leaders))
                crashed.extend(leaders + rng.sample(others, 3 - len(leaders)))
                for node_id in crashed:
                    sim.crash(node_id)

            sim.at(FAULT_AT, crash_three)
            sim.at(REPAIR_AT, lambda: sim.restart(crashed[-1]))

        return Scenario(setup, run_for=REPAIR_AT + ELECT_WITHIN,
                        network=Network(latency=Uniform(1, 10)),
                        properties=[*safety(), NoLeader(FAULT_AT, REPAIR_AT),
                                    LeaderElected(REPAIR_AT, ELECT_WITHIN)])

    @graded(part="A", seeds=20, description="5 servers, unreliable network: 10% of messages "
            "lost, 20% delivered twice, 20% held back up to 400 ms (old replies arrive in "
            "later terms): every rule of Figure 2 holds; a leader within 3 s")
    def test_unreliable_network_A(self, seed: int) -> Scenario:
        network = Network(latency=Uniform(1, 10), loss=0.1, duplicate=0.2, reorder=0.2,
                          reorder_delay=400)
        return Scenario(self.cluster(5), run_for=4_000, network=network,
                        properties=[*safety(), LeaderElected(0, 2 * ELECT_WITHIN)])

    @graded(part="A", seeds=20, description="5 servers under churn for 4 s: crashes, "
            "restarts and partitions every 300 ms or so, messages taking 1 to 30 ms, 5% lost; "
            "every rule of Figure 2 holds throughout; once all is repaired, one leader "
            "within 1.5 s")
    def test_churn_A(self, seed: int) -> Scenario:
        rng = stream(seed, "lab4-churn")
        calm_at = 4_000.0

        def setup(sim: Simulation) -> None:
            self.cluster(5)(sim)
            time = 0.0
            while True:
                time += rng.expovariate(1 / 300)
                if time >= calm_at:
                    break
                sim.at(time, _churn_step, sim, rng.random(), rng.random())
            sim.at(calm_at, _repair_all, sim)

        return Scenario(setup, run_for=calm_at + ELECT_WITHIN,
                        network=Network(latency=Uniform(1, 30), loss=0.05),
                        properties=[*safety(), LeaderElected(calm_at, ELECT_WITHIN)])

    @graded(part="A", seeds=1, description="every schedule of up to 6 steps of 3 servers, "
            "one of which may crash, explored exhaustively: at most one leader per term")
    def test_explore_election_safety_A(self, seed: int) -> Trial:
        node = self.node

        def body() -> tuple[str, ...] | None:
            """What the exploration found, as data: None, or the schedule and what broke."""
            result = explore_election(node)
            if not result.found:
                return None
            return (*map(str, result.schedule), result.violation.explanation)

        def judge(found: tuple[str, ...] | None) -> Violation | None:
            if found is None:
                return None
            *schedule, broken = found
            steps = "\n".join(f"  {i:2d}. {step}" for i, step in enumerate(schedule, 1))
            return Violation(
                "at most one leader per term, in every schedule explored",
                f"the shortest schedule that breaks it ({len(schedule)} steps):\n{steps}"
                f"\n  => {broken}\n"
                f"See it: result = explore_election(YourClass); "
                f"spacetime(result.simulation, show_timers=True)", 0.0)

        return Trial(body, time_limit=EXPLORE_SECONDS + 10, judge=judge)


def explore_election(node: type[Node], *, max_depth: int = EXPLORE_DEPTH,
                     time_budget: float = EXPLORE_SECONDS) -> ExplorationResult:
    """Every schedule of up to ``max_depth`` steps of three servers of class ``node``, one of
    which may crash: the first (shortest) that leads to two leaders in one term, if any.

    Deliveries and timers in every order (timing is ignored: any pending timer may fire), one
    crash; the check `RaftLab.test_explore_election_safety_A` runs this.
    """
    refuse_library_raft(node)

    def setup(sim: Simulation) -> None:
        sim.add_nodes(node, ["n1", "n2", "n3"])

    return explore(setup, [at_most_one_leader_per_term(role_attr="state")], crashes=1,
                   max_depth=max_depth, time_budget=time_budget)


# -- the faults, chosen in the run -------------------------------------------------------------

def _leaders(sim: Simulation) -> list[str]:
    """The live nodes that say they are leader, highest term first."""
    found = [(getattr(node, "term", 0), node_id) for node_id, node in sim.nodes.items()
             if node_id not in sim.crashed and getattr(node, "state", None) == "leader"]
    return [node_id for _, node_id in sorted(found, key=lambda tn: (-tn[0], tn[1]))]


def _churn_step(sim: Simulation, which: float, whom: float) -> None:
    """One fault of the churn: crash (at most 2 down), restart, partition or heal."""
    up = [n for n in sim.nodes if n not in sim.crashed]
    down = sorted(sim.crashed)
    nodes = list(sim.nodes)
    if which < 0.35 and len(down) < 2:
        sim.crash(up[int(whom * len(up))])
    elif which < 0.6 and down:
        sim.restart(down[int(whom * len(down))])
    elif which < 0.85:
        cut = 1 + int(whom * (len(nodes) - 1))
        start = int(which * 1000) % len(nodes)
        side = {nodes[(start + i) % len(nodes)] for i in range(cut)}
        sim.partition(side, set(nodes) - side)
    else:
        sim.heal()


def _repair_all(sim: Simulation) -> None:
    sim.heal()
    for node_id in sorted(sim.crashed):
        sim.restart(node_id)
