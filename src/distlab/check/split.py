"""Schedule exploration split over worker processes: ``explore(..., workers=4)``.

A full exploration of a small consensus configuration visits hundreds of thousands of
states, one after the other. Here the breadth-first search (`distlab.check.explore`) runs in
this process until one level of the search tree is wide enough
(`distlab.check.explore.STATES_PER_WORKER` states per worker); then worker processes, forked
from this one at that moment, go on with it. Each starts with the search as it stands -- the
engine, the snapshots of the level's states, the states already visited -- and is dealt
every ``workers``-th state of the level.

Level by level
--------------
Two interleavings of independent steps lead to the same state, so subtrees overlap: workers
that each explored whole subtrees of their own would explore many states twice (on
single-decree Paxos with two workers, a first version of this module explored 194,517 states
twice, more than the 175,193 there are). So the workers go one level at a time, as
a *level-synchronous* parallel breadth-first search does (Stern and Dill's parallel Murphi):

1. each worker takes every step enabled in each of its states, and reports the children
   that are new to it, each with a *fingerprint* (a hash of its key that every worker
   computes alike: `distlab.check.keys.fingerprint`), keeping their snapshots;
2. this process, the coordinator, merges the reports in the order the serial search takes
   the steps -- the parents in their order, then each parent's steps in order -- and keeps
   each child the first time its fingerprint comes, as the serial search does with its keys;
3. each worker is told which of its children were kept, in what order: they are the next
   level's states, and it expands them in turn. The others are dropped (``duplicates``
   counts them: work done twice, reported apart).

Why the result is the serial one
--------------------------------
The serial search keeps a child when its key was not seen before, in exactly that order; a
worker reports every child new to *it*, and a child it saw before (at an earlier level, or
from an earlier parent of this level) was seen before by the serial search too. So the
merge keeps the serial search's states, in its order, and the coordinator can tell what the
serial search would have done at each step: stop at the first violation in that order (its
shortest violating schedule, the same one), or when ``max_states`` states are reached; it
counts the same states, transitions and depth. A worker stops at its own first violation
(the ones after it in its order cannot come first).

The fingerprints are 64-bit hashes, as TLC's are: two distinct states would be merged only
if their fingerprints collided, about once in 10^9 explorations of 200,000 states. Workers
are forked (``multiprocessing``'s "fork" start method), as the lab sweeps'
(`distlab.grading.sweep`): Linux or macOS. ``time_budget`` is the same deadline for all.
"""

from __future__ import annotations

import heapq
import multiprocessing
import time
from collections.abc import Callable, Hashable
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from distlab.check.progress import Progress
from distlab.sim.guards import Alarm, wall_clock_guard

if TYPE_CHECKING:
    from distlab.check.explore import ExplorationResult, Search

#: the search being split, set before the workers are forked (they inherit it): the search,
#: the states of the level it stopped at (each ``(state, its steps, the level)``), the keys
#: of the states visited
_SPLIT: list[Any] = []

#: A child a worker reports: (its parent's place in the level, the step's place among the
#: parent's steps, its fingerprint or None without hashing, whether it has steps to take)
Child = tuple[int, int, int | None, bool]


class _LevelReport:
    """What a worker sends back about one level: plain values."""

    __slots__ = ("children", "steps", "violation", "stopped_by")

    def __init__(self) -> None:
        self.children: list[Child] = []
        self.steps: list[tuple[int, int]] = []  # (parent's place, how many steps it took)
        self.violation: tuple | None = None     # (parent's place, step's place, path, found)
        self.stopped_by: str | None = None


def explore_split(search: Search, frontier: list, seen: dict[Hashable, int], workers: int,
                  result: Callable[..., ExplorationResult],
                  violation: Callable[..., ExplorationResult]) -> ExplorationResult:
    """Go on with ``search`` from ``frontier`` (the states of its next level, in order) over
    ``workers`` processes, level by level (see the module); ``result`` and ``violation``
    make the result from ``search``, as the serial search does."""
    engine = search.engine
    fingerprints = {engine.portable(key) for key in seen} if search.hashing else set()
    _SPLIT[:] = [search, frontier, seen]
    context = multiprocessing.get_context("fork")
    pipes, processes = [], []
    progress = Progress(f"exploring over {workers} workers")
    try:
        for worker in range(workers):
            mine, theirs = context.Pipe()
            process = context.Process(target=_work, args=(theirs, worker, workers),
                                      daemon=True)
            process.start()
            theirs.close()
            pipes.append(mine)
            processes.append(process)
        _SPLIT.clear()
        duplicates = 0
        level = frontier[0][2] + 1  # (the children's)
        while True:
            reports = [_receive(pipe) for pipe in pipes]
            outcome = _merge(search, reports, fingerprints, level)
            duplicates += outcome[-1]
            if outcome[0] != "next":
                for pipe in pipes:
                    pipe.send(None)  # stop
                more = {"workers": workers, "duplicates": duplicates}
                if outcome[0] == "violation":
                    found = violation(outcome[1], outcome[2])
                    found.workers, found.duplicates = workers, duplicates
                    return found
                return result("incomplete", stopped_by=outcome[1], **more)
            kept = outcome[1]
            width = sum(len(chosen) for chosen in kept)
            if not width:
                break
            for pipe, chosen in zip(pipes, kept):
                pipe.send(chosen)
            progress.update(f"level {level}: {search.states:,} states, {width:,} to expand "
                            f"next, {duplicates:,} explored twice")
            level += 1
        for pipe in pipes:  # (each replays its deepest state: see ForkEngine.verify)
            pipe.send("verify")
        for pipe in pipes:
            if _receive(pipe) != "verified":
                raise RuntimeError("a worker process of the exploration answered out of turn")
        return result("no violation", workers=workers, duplicates=duplicates)
    finally:
        _SPLIT.clear()
        progress.close()
        for pipe in pipes:
            pipe.close()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


def _receive(pipe: Connection) -> Any:
    """A worker's answer; an exception it raised is raised here (a `TraceNeeded` too: the
    search then starts again with the trace recorded)."""
    try:
        kind, value = pipe.recv()
    except EOFError:
        raise RuntimeError("a worker process of the exploration ended without an answer (it "
                           "was killed, or ran out of memory)") from None
    if kind == "error":
        raise value
    return value


def _merge(search: Search, reports: list[_LevelReport], fingerprints: set[int],
           level: int) -> tuple:
    """Take the workers' reports on one level in the serial search's order (see the module)
    and update ``search``'s counts as the serial search would have. It returns ``("next",
    kept, duplicates)`` with each worker's kept children (their places in its report, in
    order), or ``("violation", path, found, duplicates)``, or ``("incomplete", what
    stopped it, duplicates)``."""
    # the serial search's transitions before each parent of the level
    taken = dict(step for report in reports for step in report.steps)
    before, total = {}, 0
    for place in sorted(taken):
        before[place] = total
        total += taken[place]
    firsts = [report.violation for report in reports if report.violation is not None]
    first = min(firsts, key=lambda v: (v[0], v[1])) if firsts else None
    stopped = [report.stopped_by for report in reports if report.stopped_by is not None]
    kept: list[list[tuple[int, int]]] = [[] for _ in reports]  # (place in the next level,
    places = 0                                                 # place in the report)
    duplicates = 0
    tagged = [[(*child, worker, index) for index, child in enumerate(report.children)]
              for worker, report in enumerate(reports)]
    for parent, step, fingerprint, has_steps, worker, index in heapq.merge(*tagged):
        if first is not None and (parent, step) > (first[0], first[1]):
            break
        if fingerprint is not None:
            if fingerprint in fingerprints:
                duplicates += 1
                continue
            fingerprints.add(fingerprint)
        search.states += 1
        if level > search.depth:
            search.depth = level
        if has_steps and level >= search.max_depth:
            search.depth_limited = True
        elif has_steps:
            kept[worker].append((places, index))
            places += 1
        if search.states >= search.max_states:
            # the serial search stops at its next step, if there is one
            position = before[parent] + step + 1
            if position < total or first is not None or places:
                search.transitions += position
                return "incomplete", f"max_states={search.max_states:,}", duplicates
    if first is not None:
        search.transitions += before[first[0]] + first[1] + 1
        return "violation", first[2], first[3], duplicates
    search.transitions += total
    if stopped:
        return "incomplete", stopped[0], duplicates
    return "next", kept, duplicates


def _work(pipe: Connection, worker: int, workers: int) -> None:
    """A worker process: expand its states level by level, as the coordinator says."""
    search, frontier, seen = _SPLIT
    mine = [(place, state, steps) for place, (state, steps, _) in enumerate(frontier)
            if place % workers == worker]
    level = frontier[0][2] + 1
    del frontier, _SPLIT[:]
    engine = search.engine
    budget = search.time_budget
    backstop = wall_clock_guard(None if budget is None else budget + 1.0)
    try:
        with backstop:
            while True:
                report, children = _expand(search, mine, seen, level)
                pipe.send(("report", report))
                chosen = pipe.recv()
                if chosen is None:
                    return
                if chosen == "verify":
                    engine.verify()
                    pipe.send(("verified", "verified"))
                    return
                mine = [(place, *children[index]) for place, index in chosen]
                level += 1
    except Alarm as alarm:
        if alarm.guard is not backstop:
            raise
        report = _LevelReport()
        report.stopped_by = f"time_budget={budget:g} s (inside a handler)"
        pipe.send(("report", report))
    except BaseException as exc:  # (sent to the coordinator, which raises it)
        try:
            pipe.send(("error", exc))
        except Exception:  # an exception that pickle cannot send: its text at least
            pipe.send(("error", RuntimeError(f"in a worker process: {exc!r}")))
    finally:
        pipe.close()


def _expand(search: Search, parents: list, seen: dict[Hashable, int], level: int
            ) -> tuple[_LevelReport, list]:
    """Take every step enabled in each of ``parents`` (``(place, state, steps)``, in order):
    the report on the children new to this worker, and their ``(state, steps)``."""
    engine, hashing, deadline = search.engine, search.hashing, search.deadline
    max_depth = search.max_depth
    unseen = max_depth + 1
    report, kept = _LevelReport(), []
    children, counts = report.children, report.steps
    for place, parent, choices in parents:
        taken = 0
        for step, choice in enumerate(choices):
            if deadline is not None and time.monotonic() > deadline:
                counts.append((place, taken))
                report.stopped_by = f"time_budget={search.time_budget:g} s"
                return report, kept
            child, found = engine.step(parent, choice)
            taken += 1
            if found:
                counts.append((place, taken))
                report.violation = (place, step, engine.path(child), found)
                return report, kept
            fingerprint = None
            if hashing:
                key = engine.key(child)
                if seen.get(key, unseen) <= level:
                    continue  # seen already by this worker, so by the serial search too
                seen[key] = level
                fingerprint = engine.portable(key)
            steps = engine.choices(child)
            has_steps = bool(steps)
            children.append((place, step, fingerprint, has_steps))
            kept.append((engine.keep(child), steps) if has_steps and level < max_depth
                        else (None, None))
        counts.append((place, taken))
    return report, kept
