"""What every part of lab 4 shares: the lab's timing, the integrity check, where in the
student's code a server last acted, and the base of the lab's rules with its picture.

The checks run an `instrumented` subclass of the student's class, which notes where in the
student's code the ``state`` and the ``commit_index`` last changed and where the last vote
was granted (``_lab_where``): the grader reads it from the run's record, and a report quotes
the line (`your_line`). Every rule of the lab is a `RaftRule`, which follows each server's role and
term so that a violation draws the run around it (`roles_diagram`).
"""

from __future__ import annotations

import linecache
import sys
from collections import defaultdict
from functools import cache
from operator import attrgetter, is_
from pathlib import Path
from textwrap import fill
from typing import Any, NamedTuple

from distlab.consensus.raft.messages import Entry, RequestVoteReply
from distlab.grading.lab import own_code
from distlab.grading.properties import Run, TraceProperty, Violation
from distlab.sim import Node
from distlab.sim.helpers import ipython_shell
from distlab.viz.palette import RAFT_ROLES

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
#: the exploration's bounds, which decide what it covers: every schedule of up to
#: `EXPLORE_DEPTH` steps (part A's; each part says its own), in at most `EXPLORE_STATES`
#: distinct states (the reference needs fewer than `EXPLORE_REFERENCE` in each part)
EXPLORE_DEPTH = 6
EXPLORE_STATES = 100_000
EXPLORE_REFERENCE = 10_000
#: a guard against a node that hangs or crawls, in seconds of real time: an exploration must
#: cover its bounds within it to pass. The reference's four explorations took 1.3 to 7 s each
#: on a quiet 2-core machine, and 5 to 17 s with two at once on that machine under a load
#: average of 15 (measured): the guard leaves a margin of seven, so that a busy machine
#: never fails a good node
EXPLORE_SECONDS = 120.0


#: the node attributes the rules read
WATCHED = ("term", "state", "voted_for")
#: the library's Raft: a student's class may neither subclass nor import it
LIBRARY_RAFT = ("distlab.consensus.raft.node", "distlab.consensus.raft.election",
                "distlab.consensus.raft.bugs", "distlab.consensus.raft.runs")
_DISTLAB = Path(__file__).resolve().parents[2]
#: the id of the lab's client, which submits commands from part B on (not a server)
TESTER = "tester"
#: an entry of the log as ``(term, command)``
_TERM_AND_COMMAND = attrgetter("term", "command")
#: band colours of the roles in the pictures (the palette's, as the book's Raft pages draw them)
ROLE_COLORS = {role: RAFT_ROLES[role][0] for role in ("follower", "candidate", "leader")}


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
    """A subclass of ``node`` that remembers, in ``self._lab_where`` (``(what, where)``
    pairs), the student's line that last changed ``state``, the one that last changed
    ``commit_index`` and the one that last sent a granted vote, and shows its log as
    plain data in ``self._lab_log`` (and, for part D, where it starts in ``self._lab_snapshot``).
    It changes nothing else.
    """

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if name == "state" and value != self.__dict__.get("state"):
            _note_where(self, "state", f"state = {value!r}")
        elif name == "commit_index" and value != self.__dict__.get("commit_index"):
            _note_where(self, "commit", f"commit_index = {value!r}")
        node.__setattr__(self, name, value)

    def send(self: Any, dst: str, msg: Any) -> None:
        if isinstance(msg, RequestVoteReply) and msg.vote_granted:
            _note_where(self, "vote", f"vote for {dst} in term {msg.term}")
        node.send(self, dst, msg)

    def _lab_log(self: Any) -> tuple[tuple[Any, Any], ...] | str:
        """The log as plain data, ``(term, command)`` an entry, for the record of the run; a
        sentence if it is not a list of entries.

        Cheap to record after every event: the leading entries that are the very `Entry`
        objects of the last reading (which cannot change) keep the pairs made then, and a
        log unchanged since is the very tuple of then, which the recorder passes over at
        once (`distlab.grading.records.RunRecorder`).
        """
        try:
            log = getattr(self, "log", None)
            if not isinstance(log, list):
                return f"self.log is {type(log).__name__}, not a list"
            entries, pairs, frozen = self.__dict__.get("_lab_log_read", ((), (), 0))
            if frozen == len(entries) == len(log) and all(map(is_, log, entries)):
                return pairs  # (the usual case, checked at the speed of C)
            kept = 0
            for entry, before in zip(log, entries[:frozen]):
                if entry is not before:
                    break
                kept += 1
            pairs = pairs[:kept] + tuple(map(_TERM_AND_COMMAND, log[kept:]))
            while kept < len(log) and type(log[kept]) is Entry:
                kept += 1
            self.__dict__["_lab_log_read"] = (tuple(log), pairs, kept)
            return pairs
        except Exception as exc:  # (an entry without term or command, say)
            return f"self.log holds something that is not an Entry(term, command) ({exc})"

    def _lab_snapshot(self: Any) -> tuple[int, int] | str:
        """``(snapshot_index, snapshot_term)`` (part D; ``(0, 0)`` before it), as plain data
        (the very tuple of the last reading while they are unchanged); a sentence if they are
        not whole numbers."""
        found = (getattr(self, "snapshot_index", 0), getattr(self, "snapshot_term", 0))
        if [type(x) for x in found] != [int, int]:
            return (f"snapshot_index and snapshot_term are {found[0]!r} and {found[1]!r}: they "
                    f"must be whole numbers (0 and 0 without a snapshot)")
        if self.__dict__.get("_lab_snapshot_read") == found:
            return self.__dict__["_lab_snapshot_read"]
        self.__dict__["_lab_snapshot_read"] = found
        return found

    return type(node.__name__, (node,), {"__setattr__": __setattr__, "send": send,
                                         "_lab_log": property(_lab_log),
                                         "_lab_snapshot": property(_lab_snapshot),
                                         "__qualname__": node.__qualname__,
                                         "__module__": node.__module__,
                                         "__doc__": node.__doc__})


def _note_where(me: Any, what: str, action: str) -> None:
    frame = sys._getframe(2)
    while frame is not None and _in_distlab(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return
    where = (frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_qualname, action)
    noted = me.__dict__.get("_lab_where")
    noted = tuple(pair for pair in noted if pair[0] != what) if type(noted) is tuple else ()
    # a new tuple of (what, where) pairs each time: a value that never changes in place is
    # recorded only when it is replaced (`distlab.grading.records.RunRecorder`)
    object.__setattr__(me, "_lab_where", (*noted, (what, where)))


@cache
def _in_distlab(filename: str) -> bool:
    """Whether the code of ``filename`` is the library's (remembered: a run asks it for the
    same few files thousands of times, and resolving a path reads the file system)."""
    return Path(filename).resolve().is_relative_to(_DISTLAB)


def your_line(node: Any, what: str) -> str:
    """Where the student's code last did ``what`` ("state", "commit", "vote") on ``node``, in
    words."""
    noted = getattr(node, "_lab_where", None)
    where = next((pair[1] for pair in noted if type(pair) is tuple and len(pair) == 2
                  and pair[0] == what), None) if type(noted) is tuple else None
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
        run.state.revisions = {}             # reader -> the run's revision it last read
        run.state.candidates = set()         # the servers that are candidates now

    def follow(self, run: Run) -> list[str]:
        """Note every change of a server's (term, state), a crashed server being "down";
        return the servers that changed."""
        if unchanged_since_read(run, "follow"):
            return []
        sim, seen, roles = run.sim, run.state.seen, run.state.roles
        changed = []
        for node_id, node in sim.nodes.items():
            if node_id == TESTER:
                continue
            now = ((None, "down") if node_id in sim.crashed
                   else (getattr(node, "term", None), getattr(node, "state", None)))
            if seen.get(node_id) != now:
                seen[node_id] = now
                roles[node_id].append((sim.now, *now))
                changed.append(node_id)
                if now[1] == "candidate":
                    run.state.candidates.add(node_id)
                else:
                    run.state.candidates.discard(node_id)
        return changed

    def failure(self, run: Run, text: str, time: float | None = None,
                description: str | None = None) -> Violation:
        """A `Violation` of this rule (or of ``description``), with the picture of the run
        around it."""
        when = run.sim.now if time is None else time
        description = description or self.description
        trace = run.sim.trace
        roles = {k: list(v) for k, v in run.state.roles.items()}
        title = fill(f"{description}, broken at t={when:.0f} ms", 90)
        return Violation(description, text, when,
                         picture=lambda: roles_diagram(trace, roles, when, title))


class Rule(NamedTuple):
    """One rule of a `Rulebook`: its ``name`` (the key of its sentence in the lab's rules),
    the ``method`` of the property that judges it, and what it ``reads`` of a step: events,
    each ``(kind, message class)`` (a class None: any data), and facts, each a word of
    `Rulebook.judged` (``"roles"``: a server's role or term changed, say)."""

    name: str
    method: str
    reads: tuple[tuple[str, type | None] | str, ...]


class Rulebook:
    """The rules a property judges after every step, in their order, and which of them a
    step concerns.

    Most steps concern few rules: a heartbeat delivered concerns the rules of AppendEntries,
    not those of votes, and a rule with nothing of its own to read finds nothing wrong.
    `judged` asks the rules that read something the step has, in the rulebook's order, and no
    other: the first rule broken is the one that asking every rule would find. Which rules
    a step concerns depends only on the kinds and message classes of its events and on its
    facts, so it is worked out once for each such combination, then looked up (a run has
    a few dozen of them, and the grader judges hundreds of thousands of steps).
    """

    def __init__(self, *rules: Rule):
        self.rules = rules
        self._concerned: dict[tuple[frozenset, frozenset], tuple[Rule, ...]] = {}

    def judged(self, prop: Any, shape: frozenset[tuple[str, type]], facts: frozenset[str],
               *args: Any) -> tuple[str, str] | None:
        """Ask ``prop``'s method of each rule that reads something of the step (its events'
        ``shape``, `step_shape`, and ``facts``, the words of what else it changed), with
        ``args``; return the first rule broken, as (its name, what is wrong), or None."""
        concerned = self._concerned.get((shape, facts))
        if concerned is None:
            concerned = self._concerned[shape, facts] = tuple(
                rule for rule in self.rules if _reads_any(rule, shape, facts))
        for rule in concerned:
            problem = getattr(prop, rule.method)(*args)
            if problem is not None:
                return rule.name, problem
        return None


def fact_sets(first: str, second: str) -> dict[tuple[bool, bool], frozenset[str]]:
    """The facts a step has for a `Rulebook`, by whether each of two facts holds:
    ``{(True, False): frozenset({first}), ...}``, built once, so that a step only looks its
    set up."""
    return {(a, b): frozenset([word for word, holds in ((first, a), (second, b)) if holds])
            for a in (False, True) for b in (False, True)}


def step_shape(events: list) -> frozenset[tuple[str, type]]:
    """What a `Rulebook` reads of a step's ``events``: the kind of each, with the class of
    its data (the message sent or delivered)."""
    return frozenset([(event.kind, type(event.data)) for event in events])


def _reads_any(rule: Rule, shape: frozenset[tuple[str, type]], facts: frozenset[str]) -> bool:
    """Whether ``rule`` reads one of the events of a step of ``shape`` or one of its ``facts``."""
    for read in rule.reads:
        if isinstance(read, str):
            if read in facts:
                return True
            continue
        kind, cls = read
        if any(kind == k and (cls is None or issubclass(t, cls)) for k, t in shape):
            return True
    return False


def unchanged_since_read(run: Run, reader: str) -> bool:
    """Whether no node of ``run`` has changed since ``reader`` (a name: "follow") last read
    them, and so need not be read again; notes that ``reader`` reads them now otherwise.

    Only a recorded run, as the grader plays it, says so (its ``revision``, a count of the
    changes played: `distlab.grading.records.RecordedRun`): most of its steps change no
    node's attribute, and reading every server after each of them is most of the cost of
    judging a run. A live `Simulation` has no ``revision``: its nodes are read every time.
    """
    revision = getattr(run.sim, "revision", None)
    if revision is None:
        return False
    read = run.state.revisions
    if read.get(reader) == revision:
        return True
    read[reader] = revision
    return False


def roles_diagram(trace: Any, roles: dict[str, list[tuple[float, Any, Any]]], when: float,
                  title: str, span: float = 700.0) -> Any:
    """The space-time diagram of the ``span`` ms before ``when``, each server's lane banded by
    its role (grey follower, orange candidate, green leader) and labelled with its term."""
    from distlab.viz import spacetime

    start, end = max(0.0, when - span), when + span / 40
    figure = spacetime(trace, start=start, end=end, title=title + "\n(bands: light blue follower, "
                       "dotted yellow candidate, hatched red leader; tN: term N)")
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
                           facecolors=ROLE_COLORS[state], hatch=RAFT_ROLES[state][1],
                           alpha=0.35, zorder=0)
            if (t1 - t0) > span / 25:
                ax.text(t0, lanes[node_id] - 0.3, f"t{term}", fontsize=6.5, va="bottom")
    return figure


def servers(sim: Any) -> dict[str, Any]:
    """The servers of a run (``sim.nodes`` but the lab's client, `TESTER`)."""
    return {node_id: node for node_id, node in sim.nodes.items() if node_id != TESTER}


def majority(run: Run) -> int:
    """How many servers make a majority of the cluster."""
    return len(servers(run.sim)) // 2 + 1


def describe_servers(run: Run) -> str:
    """Each server's role and term, in a line: ``n1 leader t3, n2 follower t3, n3 down``."""
    parts = []
    for node_id, node in servers(run.sim).items():
        if node_id in run.sim.crashed:
            parts.append(f"{node_id} down")
        else:
            parts.append(f"{node_id} {getattr(node, 'state', '?')} t{getattr(node, 'term', '?')}")
    return ", ".join(parts)


def as_int(value: Any) -> int | None:
    return value if type(value) is int else None


def leaders_among(run: Run, changed: list[str]) -> list[tuple[str, Any]]:
    """``(server, term)`` of each server of ``changed`` (those whose role or term this step
    changed) that is now a leader."""
    return [(node_id, term) for node_id in changed
            for term, state in [run.state.seen[node_id]] if state == "leader"]


def vote_grants(events: list) -> list:
    """The sends among ``events`` that grant a vote (a RequestVoteReply with vote_granted)."""
    return [event for event in events if event.kind == "send"
            and isinstance(event.data, RequestVoteReply) and event.data.vote_granted]
