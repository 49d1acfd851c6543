"""Sequential consistency: one order of all the operations that keeps each process's order.

Lamport's definition {cite:p}`lamport1979sequential`: the result of the run is the same as if
the operations of all the processes were executed in some single order, and the operations
of each process appear in that order in the order its program issued them. It is
linearizability {cite:p}`herlihy1990linearizability` without real time: an operation may
take effect after one that began after it ended, as long as no process can tell.

**Why a search of its own.** The linearizability search (`distlab.check.linearization_search`)
walks one list of call and return events in time order; that list can express any order in
which an operation must precede those that begin after it ends (an *interval* order), and
nothing else. Program order alone, across two processes, is not one: ``a1 < a2`` and
``b1 < b2`` with no order between the two processes cannot be drawn as intervals on one time
line. So this module searches the configurations themselves: how many operations of each
process are placed, which optional operations are used, and the state of the model (per
key), each visited once, depth first.

Operations whose outcome is unknown (``info``, ``pending``) are optional, as in the
linearizability check: a write (or any operation that changes the state) may be placed
anywhere after the operations its process issued before it, or never; an unknown read is
dropped. Failed operations took no effect and are left out. A process's order is the order
in which it invoked its operations, as in `distlab.check.sessions`.

**The bound.** The number of configurations can grow as the product of the processes'
lengths times the number of states: exponential in the number of processes. The search stops
after ``max_configurations`` of them and answers "unknown", saying so; histories of a few
processes and a few dozen operations are decided in well under a second. Unlike
linearizability, sequential consistency is not *local*: a history can be sequentially
consistent on each key alone and not as a whole, so keys are searched together.
"""

from __future__ import annotations

from typing import Any

from distlab.check.consistency import ConsistencyResult, Outcome
from distlab.check.linearizability import Op, validated_operations
from distlab.check.models import Model, get_model

#: How many configurations the search may visit before it answers "unknown".
DEFAULT_MAX_CONFIGURATIONS = 200_000


def check_sequential(history: Any, model: Model | type[Model] | str, *,
                     max_configurations: int = DEFAULT_MAX_CONFIGURATIONS
                     ) -> ConsistencyResult:
    """Decide whether ``history`` is sequentially consistent with respect to ``model``.

    ``history`` and ``model`` are as for `distlab.check.check_linearizability`. The result's
    ``order`` is an order of the operations that explains every output (when it holds) or
    the longest prefix of one found (when it does not), with ``stuck`` the next operations
    of the processes, none of which can follow that prefix.
    """
    model = get_model(model)
    if isinstance(max_configurations, bool) or not isinstance(max_configurations, int) or (
            max_configurations < 1):
        raise ValueError(f"max_configurations must be a whole number >= 1; got "
                         f"{max_configurations!r}")
    ops = validated_operations(history, model)
    kept = sorted((op for op in ops if op.status != "fail"
                   and not (op.unknown and op.f in model.read_only)),
                  key=lambda op: (op.invoke_time, op.id))
    search = _Search(model, kept, max_configurations)
    outcome = search.run()
    result = ConsistencyResult("sequential consistency", outcome, model, tuple(ops),
                               order=search.order, explored=search.explored)
    if outcome is Outcome.VIOLATED:
        result.stuck = search.stuck
    elif outcome is Outcome.UNKNOWN:
        result.reason = (f"the search visited {search.explored:,} configurations (the limit, "
                         f"max_configurations) without deciding; the longest order found "
                         f"places {len(search.order)} of {search.required} completed "
                         f"operations. Check a shorter history, or raise the limit.")
    return result


class _Search:
    """Depth-first search over (operations placed per process, optional operations used,
    model state per key), each configuration visited once."""

    def __init__(self, model: Model, ops: list[Op], limit: int) -> None:
        self.model, self.limit = model, limit
        processes = sorted({op.process for op in ops}, key=lambda p: (str(type(p)), str(p)))
        number = {p: i for i, p in enumerate(processes)}
        #: per process, its completed operations in the order it issued them
        self.chains: list[list[Op]] = [[] for _ in processes]
        #: the unknown ones: (operation, its process, how many of the chain must go first)
        self.optional: list[tuple[Op, int, int]] = []
        for op in ops:
            chain = self.chains[number[op.process]]
            if op.unknown:
                self.optional.append((op, number[op.process], len(chain)))
            else:
                chain.append(op)
        keys = sorted({op.key for op in ops}, key=repr) if model.keyed else [None]
        self.key_of = {key: i for i, key in enumerate(keys)}
        self.init = tuple(model.init() for _ in keys)
        self.required = sum(len(chain) for chain in self.chains)
        self.explored = 0
        self.order: tuple[Op, ...] = ()
        self.stuck: tuple[Op, ...] = ()

    def _step(self, states: tuple, op: Op) -> tuple | None:
        """The states after ``op``, or None if its output cannot happen in ``states``."""
        k = self.key_of[op.key] if self.model.keyed else 0
        ok, new = self.model.step(states[k], op)
        return states[:k] + (new,) + states[k + 1:] if ok else None

    def run(self) -> Outcome:
        chains, optional = self.chains, self.optional
        start = (tuple(0 for _ in chains), 0, self.init)
        seen = {start}
        stack: list[tuple[tuple[int, ...], int, tuple, Any]] = [(*start, None)]
        best = -1
        while stack:
            positions, used, states, chain = stack.pop()
            self.explored += 1
            placed = sum(positions)
            if placed > best:  # the deepest configuration yet: remember it
                best, self.order = placed, _unchain(chain)
                self.stuck = tuple(c[n] for c, n in zip(chains, positions) if n < len(c))
            if placed == self.required:
                self.stuck = ()
                return Outcome.HOLDS
            if self.explored >= self.limit:
                return Outcome.UNKNOWN
            moves = []
            for p, chain_p in enumerate(chains):
                if positions[p] < len(chain_p):
                    op = chain_p[positions[p]]
                    new = self._step(states, op)
                    if new is not None:
                        moves.append((positions[:p] + (positions[p] + 1,) + positions[p + 1:],
                                      used, new, op))
            for j, (op, p, after) in enumerate(optional):
                if not used >> j & 1 and positions[p] >= after:
                    new = self._step(states, op)
                    if new is not None:
                        moves.append((positions, used | 1 << j, new, op))
            for positions_, used_, states_, op in reversed(moves):  # the first move first
                configuration = (positions_, used_, states_)
                if configuration not in seen:
                    seen.add(configuration)
                    stack.append((*configuration, (op, chain)))
        return Outcome.VIOLATED


def _unchain(chain: Any) -> tuple[Op, ...]:
    """The operations of a chain (newest first, linked), oldest first."""
    ops = []
    while chain is not None:
        op, chain = chain
        ops.append(op)
    return tuple(reversed(ops))
