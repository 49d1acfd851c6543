"""Invariants: properties that must hold in *every* state of a run, checked as it happens.

A linearizability check looks at what clients saw. An invariant looks inside: at the nodes'
own variables, after every single event. This module holds the machinery (`Invariant`,
`watch`, `check_now`) and one invariant about durability, seen from the clients: every write
that was acknowledged is still there (`no_acknowledged_write_lost`). A protocol's own
invariants live next to it: Raft's Election Safety and State Machine Safety
{cite:p}`ongaro2014raft` are in `distlab.consensus.raft.invariants`.

How to use them
---------------
Install invariants on a simulation before running it; the first time one fails, the run
stops with an `InvariantViolation` that says which invariant, why, when, with which seed,
and the last few events of the trace::

    sim = Simulation(seed=3)
    sim.add_nodes(RaftElectionNode, ["a", "b", "c"])
    watch(sim, at_most_one_leader_per_term())   # distlab.consensus.raft.invariants
    sim.run(until=5_000)          # raises InvariantViolation at the first bad state

Checks that only make sense at the end of a run use `check_now(sim, ...)` after it.

Writing your own
----------------
An invariant is a function of the whole simulation that returns ``None`` (or ``True``) when
all is well, and a sentence explaining the problem when it is not::

    @invariant("no account is overdrawn")
    def no_overdraft(sim):
        for node_id, node in live_nodes(sim).items():
            if node.balance < 0:
                return f"{node_id} has balance {node.balance}"

``Invariant("no account is overdrawn", fn)`` does the same without the decorator. Read only
the nodes that are up (`live_nodes`): a crashed node's variables are gone. Its durable
storage survives (`durable_storage`), for the invariants that care about it.

Invariants that must remember the past (the leader of each term, the entries already
committed) subclass `Invariant` and keep that memory in ``self``; they say so with
``remembers = True``, forget it in `Invariant.reset` and show it in `Invariant.memory` (the
schedule explorer, `distlab.check.explore`, needs both).

An invariant whose verdict depends on nothing but the nodes -- what their ``fingerprint()``
holds (by default every attribute), their storage, the clients' history, which nodes are up
-- and on what it remembers (its `Invariant.memory`) says so with ``reads_only_nodes=True``
(``@invariant("...", reads_only_nodes=True)``, or the class attribute): the schedule
explorer then checks it once for each combination of node states instead of after every
step. An invariant that reads the clock, the messages in flight, the timers or the trace
must not say so (one that only *records* the clock beside its memory, for its
explanations, may).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from distlab.sim import (ConfigurationError, Node, Operation, Simulation, SimulationError,
                         TraceEvent)

#: What an invariant's function returns: None or True (it holds), or why it is violated.
Outcome = str | bool | None


class InvariantViolation(SimulationError, AssertionError):
    """An invariant did not hold: which one, why, when, with which seed, and what led there.

    ``invariant`` (its name), ``explanation`` (in words), ``time`` (simulated ms), ``seed``
    (``Simulation(seed=...)`` replays the run) and ``events`` (the last trace events before
    the violation, oldest first).
    """

    def __init__(self, invariant: str, explanation: str, time: float, seed: object,
                 events: list[TraceEvent]):
        self.invariant = invariant
        self.explanation = explanation
        self.time = time
        self.seed = seed
        self.events = events
        lines = [f"invariant violated: {invariant}",
                 f"  {explanation}",
                 f"  at t={time:.3f} ms; Simulation(seed={seed!r}) replays it"]
        if events:
            lines.append(f"  the last {len(events)} trace events:")
            lines.extend("    " + event.describe() for event in events)
        super().__init__("\n".join(lines))


class Invariant:
    """A named property of the simulation's state that must hold after every event.

    ``fn(sim)`` returns None or True when the property holds, and a string saying what is
    wrong when it does not (False also means violated, but explains nothing).
    """

    #: whether the invariant keeps a memory of past states (then override reset and memory)
    remembers: bool = False
    #: whether its verdict, and whether it changes what it remembers, depend only on the
    #: nodes (fingerprint, storage, clients' history, which are up) and on its `memory`: the
    #: schedule explorer then checks it once per combination of node states
    reads_only_nodes: bool = False

    def __init__(self, name: str, fn: Callable[[Simulation], Outcome], *,
                 reads_only_nodes: bool | None = None):
        if not isinstance(name, str) or not name:
            raise TypeError(f"an invariant needs a name, a non-empty string saying what must "
                            f"hold (such as 'at most one leader per term'); got {name!r}")
        if not callable(fn):
            raise TypeError(f"invariant {name!r}: fn must be a function of the simulation, "
                            f"fn(sim) -> None or an explanation string; got {fn!r}")
        self.name = name
        self.fn = fn
        if reads_only_nodes is not None:
            self.reads_only_nodes = reads_only_nodes

    def check(self, sim: Simulation) -> str | None:
        """None if the invariant holds in ``sim``'s current state, else the explanation."""
        outcome = self.fn(sim)
        if outcome is None or outcome is True:
            return None
        if outcome is False:
            return "the check returned False (return a string to say what is wrong)"
        if isinstance(outcome, str):
            return outcome or "the check returned an empty explanation"
        raise TypeError(f"invariant {self.name!r} returned {outcome!r}; an invariant returns "
                        f"None (or True) when it holds, and a string explaining the problem "
                        f"when it does not")

    def reset(self) -> None:
        """Forget everything remembered from earlier states (a new run begins)."""

    def memory(self) -> Hashable:
        """What the invariant remembers, in a hashable form (for the schedule explorer)."""
        return ()

    def __repr__(self) -> str:
        return f"<Invariant {self.name!r}>"


def invariant(description: str, *, reads_only_nodes: bool = False
              ) -> Callable[[Callable[[Simulation], Outcome]], Invariant]:
    """Decorator: turn ``fn(sim) -> None | explanation`` into an `Invariant` named ``description``
    (``reads_only_nodes``: see `Invariant.reads_only_nodes`).

    ::

        @invariant("at most one node in the critical section")
        def mutual_exclusion(sim):
            inside = [i for i, n in live_nodes(sim).items() if n.in_cs]
            if len(inside) > 1:
                return f"{inside} are all in the critical section"
    """
    if not isinstance(description, str):
        raise TypeError("write @invariant('what must hold') with a description in words, "
                        f"not @invariant alone; got {description!r}")

    def make(fn: Callable[[Simulation], Outcome]) -> Invariant:
        return Invariant(description, fn, reads_only_nodes=reads_only_nodes)

    return make


# -- reading node state -------------------------------------------------------------------------

def live_nodes(sim: Simulation) -> dict[str, Node]:
    """The nodes that are up, by id (a crashed node's variables are gone: skip them)."""
    return {node_id: node for node_id, node in sim.nodes.items() if node_id not in sim.crashed}


def durable_storage(sim: Simulation, node_id: str) -> dict[str, Any]:
    """The durable ``storage`` of ``node_id``, which survives its crashes (read, don't write)."""
    if node_id not in sim.nodes:
        known = ", ".join(map(repr, sim.nodes)) or "none"
        raise ConfigurationError(f"unknown node {node_id!r}; the nodes are: {known}")
    return sim.nodes[node_id].storage


# -- running the checks ---------------------------------------------------------------------------

def violation(sim: Simulation, inv: Invariant, explanation: str,
              last: int = 10) -> InvariantViolation:
    """The `InvariantViolation` for ``inv`` failing now in ``sim``, with its last trace events."""
    return InvariantViolation(inv.name, explanation, sim.now, sim.seed, sim.trace[-last:])


def _check_all(invariants: Iterable[Invariant]) -> list[Invariant]:
    invariants = list(invariants)
    for inv in invariants:
        if not isinstance(inv, Invariant):
            raise TypeError(f"{inv!r} is not an Invariant: wrap a function with "
                            f"@invariant('what must hold') or Invariant(name, fn)")
    return invariants


def watch(sim: Simulation, *invariants: Invariant, last: int = 10) -> None:
    """Check ``invariants`` now and after every event of ``sim``.

    The first violation raises `InvariantViolation` (carrying the ``last`` trace events) out
    of ``sim.run``/``step``. Each invariant's memory is reset first, so an invariant object
    watches one simulation at a time.
    """
    invariants_ = _check_all(invariants)
    for inv in invariants_:
        inv.reset()

    def monitor(sim: Simulation) -> None:
        for inv in invariants_:
            explanation = inv.check(sim)
            if explanation is not None:
                raise violation(sim, inv, explanation, last)

    monitor(sim)
    sim.add_monitor(monitor)


def check_now(sim: Simulation, *invariants: Invariant, last: int = 10) -> None:
    """Check ``invariants`` once, in ``sim``'s current state (for example after a run).

    Raises `InvariantViolation` for the first one that does not hold. Invariants that
    remember the past only know what they have seen: this call is all they see unless they
    are also being watched.
    """
    for inv in _check_all(invariants):
        explanation = inv.check(sim)
        if explanation is not None:
            raise violation(sim, inv, explanation, last)


# -- durability seen by clients -----------------------------------------------------------------

def no_acknowledged_write_lost(read: Callable[[Simulation, Any], Any], *,
                               writes: Iterable[str] = ("write", "put"),
                               appends: Iterable[str] = ("append",)) -> Invariant:
    """Every write a client saw acknowledged (status ``ok``) is still reflected by ``read``.

    ``read(sim, key)`` returns what the system holds for ``key`` now (``key`` is None for a
    single register): read it from the leader, from a node's `durable_storage` after a
    crash -- wherever the system would answer from. The operations come from
    ``sim.history``, grouped by their key.

    * For a **write** (``f`` in ``writes``: overwrite the value) the value read must come from
      a write that was not already finished before some acknowledged write began: the last
      acknowledged write itself, or a later or concurrent one (including writes whose outcome
      is unknown). A value read that comes from a write that finished before an acknowledged
      write began means that acknowledged write was lost; so does reading nothing.
    * For an **append** (``f`` in ``appends``) the appended value must be ``in`` the value
      read (a list, or a string for string-append stores).

    Failed writes are ignored (they took no effect); so are reads and compare-and-sets. This
    checks durability, not ordering: use `check_linearizability` for that. Use it at the end
    of a run with `check_now`, or after every event with `watch` when ``read`` can answer at
    every moment (it reads the whole history at each check: for long runs, check at the end).
    """
    writes, appends = tuple(writes), tuple(appends)

    def check(sim: Simulation) -> str | None:
        by_key: dict[Any, list[Operation]] = {}
        for op in sim.history.operations:
            if op.f in writes or op.f in appends:
                by_key.setdefault(op.key, []).append(op)
        for key, ops in by_key.items():
            acked = [op for op in ops if op.status == "ok"]
            if not acked:
                continue
            value = read(sim, key)
            problem = (_lost_write(key, value, [op for op in ops if op.f in writes])
                       or _lost_append(key, value, [op for op in acked if op.f in appends]))
            if problem:
                return problem
        return None

    return Invariant("no acknowledged write lost", check)


def _lost_write(key: Any, value: Any, ops: list[Operation]) -> str | None:
    acked = [op for op in ops if op.status == "ok"]
    if not acked:
        return None
    where = "" if key is None else f"key {key!r} "
    last = max(acked, key=lambda op: op.invoke_time)
    candidates = [op for op in ops if op.status != "fail" and op.value == value]
    if not candidates:
        holds = "holds nothing" if value is None else f"holds {value!r}, which no write wrote"
        return (f"{where}{holds}: the acknowledged {last} (completed at "
                f"t={last.complete_time:.3f} ms) was lost")

    def overwritten_by(op: Operation) -> Operation | None:
        """An acknowledged write that began after ``op`` had finished, if any."""
        if op.status != "ok":
            return None  # unknown outcome: it may take effect at any time
        later = [a for a in acked if a is not op and a.invoke_time > op.complete_time]
        return max(later, key=lambda a: a.invoke_time) if later else None

    lost = [overwritten_by(op) for op in candidates]
    if all(lost):
        newer = lost[0]
        return (f"{where}holds {value!r}, written by {candidates[0]}, which finished "
                f"(t={candidates[0].complete_time:.3f} ms) before the acknowledged {newer} "
                f"began (t={newer.invoke_time:.3f} ms): that acknowledged write was lost")
    return None


def _lost_append(key: Any, value: Any, acked: list[Operation]) -> str | None:
    where = "" if key is None else f"key {key!r} "
    for op in acked:
        if value is None or op.value not in value:
            return (f"the acknowledged {op} (completed at t={op.complete_time:.3f} ms) is "
                    f"missing: {where}holds {value!r}")
    return None
