"""Schedule exploration: model checking a small configuration on the real node code.

Random seeds try *some* orders of events. Some bugs need one precise order -- two requests
crossing in flight, a crash between a write and its acknowledgement -- that random timing
almost never produces. The explorer tries *every* order, up to a bound, and returns the
shortest one that breaks an invariant.

What it explores
----------------
A state is what the simulation holds between two events: every node's variables, the
messages in flight, the pending timers, which nodes are down. In a state, these steps are
*enabled* (each kind can be switched on or off):

* ``deliver #3 a->b RequestVote(term=1)`` -- any message in flight, in any order;
* ``drop #3 a->b ...`` -- lose a message in flight (at most ``drops`` per schedule);
* ``fire b:election`` -- any pending timer, whatever its time (the clock moves forward to
  the timer's time if it is later; it never moves back);
* ``crash a`` -- at most ``crashes`` per schedule; ``restart a`` when ``restarts`` is on.

(For an invariant over node states, a lost message is no worse than one that is delayed
forever, which the explorer already tries by never delivering it: drops are off by default,
and matter only to invariants that look at the trace or at the messages in flight.)

From the initial state the explorer walks the tree of all schedules, checking the
invariants (`distlab.check.invariants`) in every state it reaches:

* **breadth-first** (the default) visits all schedules of length 1, then of length 2...,
  so the first violation it finds is a *shortest* violating schedule -- the easiest to read;
* **depth-first** goes deep first: less memory, but its violations may be long.

**State hashing**: many schedules lead to the same state (delivering two independent
messages in either order). The explorer keeps a canonical, hashable form of each state it
has seen (`distlab.check.canonical`) and does not explore a state twice. This assumes a
node behaves according to its ``fingerprint()`` (by default every attribute that is not
the framework's) and its ``storage`` alone: randomness used only for
timer delays is fine, since timing is ignored here.

How it runs the nodes
---------------------
The explorer drives the unchanged node code through the ordinary `Simulation`; it decides
only which pending event runs next. It reaches each state in one of two ways (``method=``):

* ``"fork"`` (the default): **stateful search**. The explorer keeps a snapshot of every
  state it has still to expand -- every node's attributes and storage, the pending events,
  timers, crashed nodes, random streams, the clients' history, the invariants' memory -- and
  takes a step by loading the parent's snapshot into one working simulation and running a
  single event (`distlab.check.fork` explains how, and why it is exact). Reaching a state
  costs one event, not a whole schedule: ten to thirty-five times faster on the book's
  configurations (``bench/bench_explore.py``), more on longer schedules. Invariants that
  declare `Invariant.reads_only_nodes` are checked once per combination of node states.
  DSLabs' search tests {cite:p}`michael2019dslabs` keep states in the same way.
* ``"replay"``: **stateless search**, as in VeriSoft {cite:p}`godefroid1997verisoft`: to
  reach a state, re-execute its schedule from a fresh simulation built by ``setup``, with a
  `ChoiceScheduler` that runs exactly the event chosen. Slower, but it needs nothing from
  the nodes beyond determinism, and every state is rebuilt from scratch.

Both run the same search loop over the same keys and choices, so they explore the same
states in the same order and return the same result (the tests check it, state count and
schedule alike). "fork" falls back to "replay" by itself where snapshots cannot go -- when
``setup`` installs monitors (`distlab.check.invariants.watch`) or a ``sim.at`` action adds
nodes -- and says so in ``result.fallback``. It runs without a trace, and starts again with
one if an invariant reads ``sim.trace``. The violating schedule is always replayed at the
end, with its trace, into ``result.simulation``; and a "fork" search that ends without a
violation replays its deepest state to check that it is the state the snapshots hold, which
catches node code that is not deterministic, as "replay" does on every step.

Bounds: ``max_depth`` (schedule length), ``max_states`` and ``time_budget`` (seconds of real
time). When a bound stops the search early the result says so ("incomplete"); it never hangs.

Over several processes: with ``workers=4``, a breadth-first search that reaches a level wide
enough goes on in four worker processes, which expand one level at a time, each its share of
the level's states; the result is the serial search's -- verdict, shortest violating
schedule, states and transitions -- (`distlab.check.split` says how, and why).

Example::

    def two_nodes(sim):
        sim.add_nodes(NaiveMutex, ["a", "b"])

    result = explore(two_nodes, [mutual_exclusion])
    print(result)                  # the shortest violating schedule, step by step
    spacetime(result.simulation.trace)
"""

from __future__ import annotations

import gc
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from distlab.check.canonical import canonical
from distlab.check.fork import CannotFork, ForkEngine, TraceNeeded
from distlab.check.invariants import Invariant, InvariantViolation
from distlab.check.keys import fingerprint
from distlab.check.split import explore_split
from distlab.sim import (Client, ConfigurationError, Constant, Network, NodeError, Scheduler,
                         Simulation)
from distlab.sim.guards import Alarm, wall_clock_guard
from distlab.sim.record import timer_identity
from distlab.sim.scheduler import Entry
from distlab.sim.simulation import Envelope
from distlab.sim.trace import Trace

#: A choice during the search: (kind, the pending entry's sequence number or the node id,
#: what that entry must be -- sender, receiver and message id, or node and timer name -- so
#: that a replay that went differently is caught).
Choice = tuple[str, Any, Any]

#: The order in which the steps enabled in one state are tried.
STEP_KINDS = ("deliver", "drop", "fire", "run", "crash", "restart")
_ORDER = {kind: i for i, kind in enumerate(STEP_KINDS)}

#: How a state is reached: from a snapshot of its parent, or by replaying its schedule.
METHODS = ("fork", "replay")


@dataclass(frozen=True)
class Step:
    """One step of a schedule, such as ``deliver #3 a->b RequestVote(term=1)``.

    ``kind`` is one of `STEP_KINDS`; ``target`` identifies the pending event (its sequence
    number in the scheduler) or, for a crash or restart, the node.
    """

    kind: str
    target: Any
    text: str = field(compare=False)

    def __str__(self) -> str:
        return self.text


class ChoiceScheduler(Scheduler):
    """A scheduler that runs only the entry it was told to run, then nothing.

    Set ``chosen`` to a pending entry; the next `pop` takes it out of the heap and returns
    it, and later pops return None until something else is chosen. ``sim.step()`` then runs
    exactly that event, through the kernel's ordinary path.
    """

    def __init__(self) -> None:
        super().__init__()
        self.chosen: Entry | None = None

    def pop(self, until: float | None = None) -> Entry | None:
        entry, self.chosen = self.chosen, None
        if entry is not None:
            self.remove(entry)
        return entry


@dataclass
class ExplorationResult:
    """What an exploration found.

    ``status`` is ``"violation"``, ``"no violation"`` or ``"incomplete"`` (a budget ran out
    first: ``stopped_by`` says which). For a violation: the ``schedule`` that leads to it
    (the shortest one with breadth-first search), the ``violation`` itself, and
    ``simulation``, a run of that schedule whose trace can be drawn. ``states`` counts the
    states explored (distinct ones; depth-first search explores a state again, and counts
    it again, when it reaches it by a shorter schedule), ``transitions`` the steps taken to
    reach them, ``depth`` the length of the longest schedule explored; ``depth_limited``
    says whether ``max_depth`` kept some states from being expanded. ``elapsed`` (seconds of
    real time) is left out of the printed form so that it reads the same on every machine.
    ``method`` is how states were reached ("fork" or "replay"); ``fallback`` says why a
    "fork" search had to replay instead (None when it did not). ``workers`` is how many
    processes explored (`distlab.check.split`), and ``duplicates`` how many states more than
    one of them explored (counted once in ``states``).
    """

    status: str
    strategy: str
    states: int
    transitions: int
    depth: int
    max_depth: int
    depth_limited: bool
    hashing: bool
    schedule: list[Step] = field(default_factory=list)
    violation: InvariantViolation | None = None
    simulation: Simulation | None = None
    stopped_by: str | None = None
    elapsed: float = 0.0
    replayer: Callable[[Sequence[Step]], Simulation] | None = field(default=None, repr=False)
    method: str = "fork"
    fallback: str | None = None
    workers: int = 1
    duplicates: int = 0

    @property
    def found(self) -> bool:
        """Whether a violating schedule was found."""
        return self.status == "violation"

    @property
    def states_per_second(self) -> float:
        """Exploration speed (real time)."""
        return self.states / self.elapsed if self.elapsed > 0 else float("inf")

    def replay(self) -> Simulation:
        """A fresh simulation that has run the violating schedule (for drawing, stepping)."""
        if self.replayer is None or not self.found:
            raise ValueError(f"there is no violating schedule to replay: the exploration "
                             f"ended with {self.status!r}")
        return self.replayer(self.schedule)

    def _split_count(self) -> str:
        return (f", on {self.workers} workers, {self.duplicates:,} of them explored by more "
                f"than one")

    def __str__(self) -> str:
        how = "breadth-first" if self.strategy == "bfs" else "depth-first"
        count = (f"{self.states:,} states explored ({self.transitions:,} transitions"
                 f"{'' if self.hashing else ', no state hashing'}"
                 f"{self._split_count() if self.workers > 1 else ''})")
        if self.status == "violation":
            steps = "\n".join(f"  {i:3d}. {step}" for i, step in enumerate(self.schedule, 1))
            return (f"exploration ({how}) found a violation of "
                    f"{self.violation.invariant!r} after {len(self.schedule)} steps:\n"
                    f"{steps or '  (in the initial state)'}\n"
                    f"  => {self.violation.explanation}\n"
                    f"{count}")
        if self.status == "incomplete":
            return (f"exploration ({how}) incomplete: stopped by {self.stopped_by} after "
                    f"{count}, depth {self.depth}; no violation so far")
        scope = (f"in every schedule of up to {self.max_depth} steps (deeper ones not explored)"
                 if self.depth_limited else "in every reachable state")
        return f"exploration ({how}): no violation {scope}; {count}, depth {self.depth}"


def _identity(kind: str, entry: Entry) -> Any:
    """What the pending entry of a ``kind`` of step is, in terms that do not depend on the run:
    (sender, receiver, message id), (node, timer name), or the function ``sim.at`` calls."""
    match kind:
        case "deliver" | "drop":
            env = Envelope._make(entry[3])
            return env.src, env.dst, env.msg_id
        case "fire":
            return timer_identity(entry[3])
        case _:
            return getattr(entry[3][0], "__qualname__", None)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Switch Python's cyclic garbage collector off for a search (reference counting goes on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Explorer:
    """The search itself; `explore` validates the arguments and runs one."""

    def __init__(self, setup: Callable[[Simulation], Any], invariants: list[Invariant], *,
                 seed: object, deliver: bool, drops: int, timers: bool, crashes: int,
                 restarts: bool, crashable: Sequence[str] | None):
        self.setup = setup
        self.invariants = invariants
        self.remembering = [inv for inv in invariants if inv.remembers]
        self.seed = seed
        self.deliver = deliver
        self.drops = drops
        self.timers = timers
        self.crashes = crashes
        self.restarts = restarts
        self.crashable = crashable

    # -- running one schedule ----------------------------------------------------------------
    def fresh(self) -> Simulation:
        """The initial state: a new simulation built by ``setup``, every node started."""
        sim = self.build()
        self.run_starts(sim)
        return sim

    def build(self, trace: bool = True, trace_object: Trace | None = None) -> Simulation:
        """A new simulation built by ``setup``, its nodes not started yet.

        ``trace=False`` records no trace; ``trace_object`` replaces the simulation's trace
        before ``setup`` runs (the fork engine's, which notices when someone reads it).
        """
        sim = Simulation(seed=self.seed, network=Network(latency=Constant(1)),
                         scheduler=ChoiceScheduler(), trace=trace)
        if trace_object is not None:
            sim.trace = trace_object
        self.setup(sim)
        if not isinstance(sim.scheduler, ChoiceScheduler):
            raise ConfigurationError("setup(sim) must not replace sim.scheduler: the explorer "
                                     "needs its own")
        if self.crashable is None:
            self.crashable = [i for i, n in sim.nodes.items() if not isinstance(n, Client)]
        unknown = sorted(set(self.crashable) - set(sim.nodes))
        if unknown:
            raise ConfigurationError(f"crashable names {unknown}, which setup did not add; the "
                                     f"nodes are: {', '.join(sim.nodes)}")
        for inv in self.invariants:
            inv.reset()
        return sim

    @staticmethod
    def order(choice: Choice) -> tuple:
        """Where ``choice`` comes among the steps enabled in a state (see `STEP_KINDS`)."""
        return _ORDER[choice[0]], choice[1]

    @staticmethod
    def run_starts(sim: Simulation) -> None:
        """Run every pending on_start now: starting is not a choice the explorer varies."""
        starts = sorted(e for e in sim.scheduler.heap if sim.entry_kind(e) == "start")
        for entry in starts:
            sim.scheduler.chosen = entry
            sim.step()

    def apply(self, sim: Simulation, choice: Choice) -> None:
        """Take one step in ``sim``."""
        kind, target, expected = choice
        match kind:
            case "crash":
                sim.crash(target)
            case "restart":
                sim.restart(target)
                self.run_starts(sim)
            case "drop":
                entry = self.find(sim, kind, target, expected)
                sim.scheduler.remove(entry)
                env = Envelope._make(entry[3])
                sim.trace.record(sim.now, "drop", env.dst, env.src, env.msg_id, "loss")
            case _:
                sim.scheduler.chosen = self.find(sim, kind, target, expected)
                sim.step()

    @staticmethod
    def find(sim: Simulation, kind: str, seq: int, expected: Any = None) -> Entry:
        """The pending entry number ``seq``, checked against what it was in earlier runs."""
        for entry in sim.scheduler.heap:
            if entry[1] == seq and (expected is None or _identity(kind, entry) == expected):
                return entry
        raise RuntimeError(
            f"replaying a schedule, pending event #{seq} ({expected}) is missing: the run "
            f"diverged from an earlier one with the same steps. Node code must be "
            f"deterministic: use self.rng and self.now, never the random module, the wall "
            f"clock or global variables")

    def replay(self, path: Sequence[Choice]) -> tuple[Simulation, tuple[str, str] | None]:
        """Run ``path`` from the initial state; return the simulation and any violation.

        Every state before the last already passed the invariants (it was reached earlier in
        the search); invariants that remember the past are still checked in them, to rebuild
        their memory. The last state is checked against all of them.
        """
        sim = self.fresh()
        try:
            for choice in path:
                for inv in self.remembering:
                    inv.check(sim)
                self.apply(sim, choice)
        except NodeError as exc:
            return sim, ("node handlers run without raising", str(exc))
        except InvariantViolation as exc:  # from a watch() that setup installed
            return sim, (exc.invariant, exc.explanation)
        for inv in self.invariants:
            explanation = inv.check(sim)
            if explanation is not None:
                return sim, (inv.name, explanation)
        return sim, None

    # -- the state space ---------------------------------------------------------------------
    def choices(self, sim: Simulation, path: Sequence[Choice]) -> list[Choice]:
        """The steps enabled in ``sim``'s state, in a fixed order."""
        drops_left = self.drops - sum(1 for c in path if c[0] == "drop")
        crashes_left = self.crashes - sum(1 for c in path if c[0] == "crash")
        crashed = sim.crashed
        found: list[Choice] = []
        for entry in sim.scheduler.heap:
            match sim.entry_kind(entry):
                case "deliver":
                    if Envelope._make(entry[3]).dst in crashed and not self.restarts:
                        continue  # it can only be dropped: not worth a choice
                    if self.deliver:
                        found.append(("deliver", entry[1], _identity("deliver", entry)))
                    if drops_left > 0:
                        found.append(("drop", entry[1], _identity("drop", entry)))
                case "timer" if self.timers and sim.is_live(entry):
                    found.append(("fire", entry[1], _identity("fire", entry)))
                case "run":
                    found.append(("run", entry[1], _identity("run", entry)))
        if crashes_left > 0:
            found.extend(("crash", n, None) for n in self.crashable if n not in crashed)
        if self.restarts:
            found.extend(("restart", n, None) for n in sorted(crashed))
        found.sort(key=lambda c: (_ORDER[c[0]], c[1]))
        return found

    def key(self, sim: Simulation, path: Sequence[Choice]) -> Hashable:
        """The canonical form of ``sim``'s state: equal states, equal keys."""
        crashed = sim.crashed
        nodes = tuple((node_id, node_id in crashed,
                       None if node_id in crashed else canonical(node.fingerprint()),
                       canonical(node.storage))
                      for node_id, node in sim.nodes.items())
        in_flight: Counter = Counter()
        timers = set()
        runs: Counter = Counter()
        for entry in sim.scheduler.heap:
            match sim.entry_kind(entry):
                case "deliver":
                    env = Envelope._make(entry[3])
                    if env.dst not in crashed or self.restarts:
                        in_flight[(env.src, env.dst, canonical(env.msg))] += 1
                case "timer" if sim.is_live(entry):
                    timers.add(timer_identity(entry[3]))
                case "run":
                    fn, args = entry[3]
                    runs[(getattr(fn, "__qualname__", repr(fn)), canonical(args))] += 1
        drops = sum(1 for c in path if c[0] == "drop")
        crashes = sum(1 for c in path if c[0] == "crash")
        return (nodes, frozenset(in_flight.items()), frozenset(timers), frozenset(runs.items()),
                sim.cut_links, drops, crashes,
                tuple(inv.memory() for inv in self.invariants))

    # -- readable steps ----------------------------------------------------------------------
    def describe(self, sim: Simulation, choice: Choice) -> Step:
        """The step ``choice`` in words, in the state ``sim`` is in (before taking it)."""
        kind, target, expected = choice
        if kind in ("crash", "restart"):
            return Step(kind, target, f"{kind} {target}")
        entry = self.find(sim, kind, target, expected)
        match kind:
            case "deliver" | "drop":
                env = Envelope._make(entry[3])
                return Step(kind, target,
                            f"{kind} #{env.msg_id} {env.src}->{env.dst} {env.msg!r}")
            case "fire":
                node_id, name = timer_identity(entry[3])
                return Step(kind, target, f"fire {node_id}:{name}")
        fn, args = entry[3]
        name = getattr(fn, "__name__", repr(fn))
        return Step(kind, target, f"run {name}({', '.join(map(repr, args))})")

    def replay_steps(self, steps: Sequence[Step]) -> Simulation:
        """A fresh simulation that has taken ``steps``."""
        sim = self.fresh()
        for step in steps:
            self.apply(sim, (step.kind, step.target, None))
        return sim

    def violating(self, path: Sequence[Choice], found: tuple[str, str]
                  ) -> tuple[list[Step], Simulation, InvariantViolation]:
        """The readable schedule, its replay and the violation, for a violating ``path``."""
        sim = self.fresh()
        steps = []
        try:
            for choice in path:
                steps.append(self.describe(sim, choice))
                self.apply(sim, choice)
        except (NodeError, InvariantViolation):
            pass  # the very step that the search saw fail
        name, explanation = found
        return steps, sim, InvariantViolation(name, explanation, sim.now, sim.seed,
                                              sim.trace[-10:])

    # -- the search ----------------------------------------------------------------------------
    def search(self, strategy: str, max_depth: int, max_states: int,
               time_budget: float | None, hashing: bool, method: str,
               workers: int = 1) -> ExplorationResult:
        """Search with ``method``; "fork" starts again with the trace recorded when an
        invariant reads it, and falls back to "replay" where snapshots cannot go."""
        started = time.monotonic()
        fallback = None
        if method == "fork":
            for keep_trace in (False, True):
                try:
                    # Snapshots are many small objects that live long and never form cycles:
                    # the cyclic collector would scan them again and again (it doubled the
                    # search's time). Reference counting still frees everything: nothing the
                    # search keeps is in a cycle (the working simulation is, but it holds
                    # neither the snapshots nor the memo of steps), so it is all freed when
                    # the search returns, not by a collection that scans it first.
                    with _collector_paused():
                        return self.run(ForkEngine(self, keep_trace=keep_trace), strategy,
                                        max_depth, max_states, time_budget, hashing, started,
                                        workers)
                except TraceNeeded:
                    continue
                except CannotFork as exc:
                    fallback = str(exc)
                    break
        result = self.run(_ReplayEngine(self), strategy, max_depth, max_states, time_budget,
                          hashing, started, workers)
        result.fallback = fallback
        return result

    def run(self, engine: _ReplayEngine | ForkEngine, strategy: str, max_depth: int,
            max_states: int, time_budget: float | None, hashing: bool,
            started: float, workers: int = 1) -> ExplorationResult:
        """The search, the same for both engines (so their results are the same): the
        initial state, then `Search.expand` from it; with ``workers`` > 1, the search goes
        on over worker processes once its frontier is wide enough (`distlab.check.split`)."""
        search = Search(engine, strategy, max_depth, max_states, time_budget, started, hashing)
        method = "fork" if isinstance(engine, ForkEngine) else "replay"

        def result(status: str, **more: Any) -> ExplorationResult:
            return ExplorationResult(status=status, strategy=strategy, states=search.states,
                                     transitions=search.transitions, depth=search.depth,
                                     max_depth=max_depth, depth_limited=search.depth_limited,
                                     hashing=hashing, elapsed=time.monotonic() - started,
                                     method=method, replayer=self.replay_steps, **more)

        def violation(path: Sequence[Choice], found: tuple[str, str]) -> ExplorationResult:
            steps, sim, exc = self.violating(path, found)
            return result("violation", schedule=steps, violation=exc, simulation=sim)

        # wide enough to split: a few states for each worker
        split = (None if workers == 1 else
                 lambda frontier: len(frontier) >= workers * STATES_PER_WORKER)
        # A backstop: the loop checks the clock before every step, so the limit (a little
        # after the budget) only rings when a single step never ends. It is the simulator's
        # wall-clock guard, with its guarantees and holes (distlab.sim.guards).
        backstop = wall_clock_guard(None if time_budget is None else time_budget + 1.0)
        try:
            with backstop:
                root, found = engine.initial()
                search.states = 1
                if found:
                    return violation((), found)
                seen: dict[Hashable, int] = {engine.key(root): 0} if hashing else {}
                # (a state, the steps enabled in it, the length of its schedule)
                frontier = deque([(engine.keep(root), engine.choices(root), 0)])
                outcome = search.expand(frontier, seen, split)
        except Alarm as alarm:
            if alarm.guard is not backstop:
                raise
            return result("incomplete", stopped_by=f"time_budget={time_budget:g} s "
                                                   f"(inside a handler)")
        if outcome[0] == "split":
            return explore_split(search, list(frontier), seen, workers, result, violation)
        if outcome[0] == "violation":
            return violation(outcome[1], outcome[2])
        if outcome[0] == "incomplete":
            return result("incomplete", stopped_by=outcome[1])
        return result("no violation")


#: With ``workers`` > 1, the search goes on over the workers once a level holds this many
#: states for each worker (`distlab.check.split`).
STATES_PER_WORKER = 16


class Search:
    """One search's bounds and counts; `expand` is the search loop.

    ``states`` counts the states explored (the new ones), ``transitions`` the steps taken,
    ``depth`` the longest schedule reached, ``depth_limited`` whether ``max_depth`` kept a
    state from being expanded. ``hashes``, when a set, collects a hash of every new state's
    key that other processes compute alike (`distlab.check.split` counts the states that
    several workers explored).
    """

    def __init__(self, engine: _ReplayEngine | ForkEngine, strategy: str, max_depth: int,
                 max_states: int, time_budget: float | None, started: float, hashing: bool):
        self.engine = engine
        self.strategy = strategy
        self.max_depth = max_depth
        self.max_states = max_states
        self.time_budget = time_budget
        self.deadline = None if time_budget is None else started + time_budget
        self.hashing = hashing
        self.states = self.transitions = self.depth = 0
        self.depth_limited = False
        self.hashes: set[int] | None = None

    def expand(self, frontier: deque, seen: dict[Hashable, int],
               split: Callable[[deque], bool] | None = None) -> tuple:
        """Explore from the states in ``frontier`` (each ``(state, its enabled steps, the
        length of its schedule)``), not again those in ``seen`` (key -> shortest length).

        It returns ``("violation", path, (invariant, explanation))``, ``("incomplete", what
        stopped it)``, ``("done",)`` when the frontier is empty, or ``("split",)`` when
        breadth-first search finished a level and ``split(frontier)`` said to stop there
        (``frontier`` then holds exactly the states of the next level, in order).
        """
        engine, strategy, max_depth = self.engine, self.strategy, self.max_depth
        max_states, deadline, hashing, hashes = (self.max_states, self.deadline, self.hashing,
                                                 self.hashes)
        states, transitions, depth = self.states, self.transitions, self.depth
        unseen = max_depth + 1
        last_level = -1
        try:
            while frontier:
                if split is not None and frontier[0][2] > last_level:  # (breadth-first)
                    last_level = frontier[0][2]
                    if split(frontier):
                        return ("split",)
                parent, choices, level = (frontier.popleft() if strategy == "bfs"
                                          else frontier.pop())
                level += 1  # (its children's)
                children = []
                for choice in choices:
                    if states >= max_states:
                        engine.verify()
                        return ("incomplete", f"max_states={max_states:,}")
                    if deadline is not None and time.monotonic() > deadline:
                        return ("incomplete", f"time_budget={self.time_budget:g} s")
                    child, found = engine.step(parent, choice)
                    transitions += 1
                    if found:
                        return ("violation", engine.path(child), found)
                    if hashing:
                        key = engine.key(child)
                        if seen.get(key, unseen) <= level:
                            continue  # seen already, at this depth or shallower
                        seen[key] = level
                        if hashes is not None:
                            hashes.add(engine.portable(key))
                    states += 1
                    if level > depth:
                        depth = level
                    enabled = engine.choices(child)
                    if enabled and level >= max_depth:
                        self.depth_limited = True
                    elif enabled:
                        children.append((engine.keep(child), enabled, level))
                # depth-first takes the last pushed first: push in reverse to try the first
                # choice first
                frontier.extend(children if strategy == "bfs" else reversed(children))
        finally:
            self.states, self.transitions, self.depth = states, transitions, depth
        engine.verify()
        return ("done",)


class _ReplayEngine:
    """Stateless steps: a state is reached by re-executing its schedule from the start.

    A state is ``(path, sim)`` just after its step, and only its path once kept for later.
    """

    def __init__(self, explorer: _Explorer):
        self.explorer = explorer

    def initial(self) -> tuple[tuple[tuple, Simulation], tuple[str, str] | None]:
        sim, found = self.explorer.replay(())
        return ((), sim), found

    def step(self, parent: tuple, choice: Choice
             ) -> tuple[tuple[tuple, Simulation], tuple[str, str] | None]:
        path = (*parent, choice)
        sim, found = self.explorer.replay(path)
        return (path, sim), found

    def key(self, state: tuple[tuple, Simulation]) -> Hashable:
        return self.explorer.key(state[1], state[0])

    def choices(self, state: tuple[tuple, Simulation]) -> list[Choice]:
        return self.explorer.choices(state[1], state[0])

    def keep(self, state: tuple[tuple, Simulation]) -> tuple:
        return state[0]

    @staticmethod
    def portable(key: Hashable) -> int:
        """The `distlab.check.keys.fingerprint` of ``key``: the same in every process forked
        from this one."""
        return fingerprint(key)

    @staticmethod
    def path(state: tuple[tuple, Simulation]) -> tuple:
        return state[0]

    def verify(self) -> None:
        """Nothing to do: every step was a replay, and replays check themselves."""


def explore(setup: Callable[[Simulation], Any], invariants: Sequence[Invariant], *,
            strategy: str = "bfs", deliver: bool = True, drops: int = 0, timers: bool = True,
            crashes: int = 0, restarts: bool = False, crashable: Sequence[str] | None = None,
            max_depth: int = 20, max_states: int = 100_000, time_budget: float | None = 30.0,
            hashing: bool = True, seed: object = 0, method: str = "fork",
            workers: int = 1) -> ExplorationResult:
    """Explore every schedule of a small configuration, looking for an invariant violation.

    ``setup(sim)`` adds the nodes (and any partition or ``sim.at`` action) to a fresh
    simulation; it may be called more than once (for every schedule replayed), so it must
    build the same system each time. ``invariants`` are checked in every state reached.

    Enabled steps: message deliveries (``deliver``), up to ``drops`` message losses and
    ``crashes`` crashes per schedule (of the nodes in ``crashable``, by default every node
    that is not a `Client`), restarts of crashed nodes (``restarts``), timer firings
    (``timers``) and ``sim.at`` actions. ``strategy`` is ``"bfs"`` (finds a shortest
    violating schedule) or ``"dfs"``. ``hashing=False`` turns off the memory of visited
    states (to see how much it saves). Bounds: ``max_depth`` steps per schedule,
    ``max_states`` states, ``time_budget`` seconds of real time (None: no limit).
    ``method`` is how a state is reached: ``"fork"`` (from a snapshot of its parent, fast)
    or ``"replay"`` (re-executing its schedule); both give the same result, and
    ``result.method`` says which one ran. ``workers`` > 1 splits a breadth-first search over
    that many processes once its frontier is wide enough (`distlab.check.split`): the same
    verdict and shortest violating schedule, each state counted once.
    """
    if method not in METHODS:
        raise ConfigurationError(f"method must be 'fork' (snapshots of each state, fast) or "
                                 f"'replay' (re-execute each schedule from the start); "
                                 f"got {method!r}")
    if strategy not in ("bfs", "dfs"):
        raise ConfigurationError(f"strategy must be 'bfs' (breadth-first: shortest schedule) "
                                 f"or 'dfs' (depth-first); got {strategy!r}")
    if not callable(setup):
        raise ConfigurationError(f"setup must be a function that adds the nodes to a "
                                 f"simulation, setup(sim); got {setup!r}")
    if isinstance(invariants, Invariant):
        invariants = [invariants]
    invariants = list(invariants)
    for inv in invariants:
        if not isinstance(inv, Invariant):
            raise ConfigurationError(f"{inv!r} is not an Invariant: wrap a function with "
                                     f"@invariant('what must hold') or Invariant(name, fn)")
    for name, value in (("max_depth", max_depth), ("max_states", max_states)):
        if not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive int, got {value!r}")
    for name, value in (("drops", drops), ("crashes", crashes)):
        if not isinstance(value, int) or value < 0:
            raise ConfigurationError(f"{name} is how many per schedule, an int of 0 or more; "
                                     f"got {value!r}")
    if time_budget is not None and (not isinstance(time_budget, (int, float))
                                    or time_budget <= 0):
        raise ConfigurationError(f"time_budget is in seconds of real time and must be "
                                 f"positive (or None for no limit); got {time_budget!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigurationError(f"workers is a number of processes, at least 1; got "
                                 f"{workers!r}")
    if workers > 1 and strategy != "bfs":
        raise ConfigurationError("workers > 1 splits a breadth-first search: use "
                                 "strategy='bfs' (the default), or workers=1 for 'dfs'")
    explorer = _Explorer(setup, invariants, seed=seed, deliver=deliver, drops=drops,
                         timers=timers, crashes=crashes, restarts=restarts,
                         crashable=None if crashable is None else list(crashable))
    return explorer.search(strategy, max_depth, max_states, time_budget, hashing, method,
                           workers)
