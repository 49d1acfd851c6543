"""The search behind `distlab.check.check_linearizability`, for one object's operations.

Lowe's just-in-time linearization {cite:p}`lowe2017testing` (the algorithm is described in
`distlab.check.linearizability`). This module holds the search itself, written so that its
cost stays close to linear in a long history and so that it can be paused:

* **compact configurations.** The cache remembers each configuration explored: the set of
  operations linearized so far and the model's state. Operations are numbered in the order
  of their invocations; the set is kept as ``low``, the first operation *not* linearized, and
  a bitset of the linearized ones after it. Every operation that returned before the first
  unlinearized one did is linearized, so that bitset only spans the operations in progress
  around it: a few bits, however long the history (a bitset over the whole history would cost
  each step time and memory in proportion to the history's length). When no operation is in
  progress (a quiescent point) the bitset is empty: the search has split the history there.
* **read-only operations are never a wrong choice.** A read that can be linearized now may
  as well be: any linearization placing it later stays valid with the read moved here (it
  changes no state, and nothing that must precede it is left out). So when nothing works
  after it, the search backtracks past it at once instead of trying the other operations
  in its place: on a 10-client register history this halves the steps.
* **interned states.** Equal model states share one object in the cache.
* **a counted cache.** ``memory`` estimates the bytes the search holds, so a caller can stop
  it before the machine runs out of memory.
* **pausable.** `LinearizationSearch.steps` is a generator that yields every `YIELD_EVERY`
  steps, so a caller can interleave the searches of many keys and stop any of them.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Generator, Hashable
from typing import Any

from distlab.check.models import Model


def _hashable(value: Any) -> Hashable:
    """``value`` if hashable, else its repr (only used to group look-alike operations)."""
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


#: Estimated bytes of one new cache entry: the dict slot, the key tuple, its ints, the list of
#: optional-operation sets (measured with tracemalloc; `tests/check` keeps it honest).
ENTRY_BYTES = 260
#: Estimated bytes of one more set of optional operations at a known configuration.
USED_BYTES = 40
#: Estimated bytes of one block of optional operations held for backtracking.
BLOCK_BYTES = 200


class LinearizationSearch:
    """Lowe's just-in-time linearization over one object's operations.

    The event list lives in arrays indexed by event number, in time order (faster than
    objects): ``nxt``/``prv`` link the events still in the list (index ``head`` is the
    sentinel before the first, -1 the end), ``op_of`` gives each event's operation and
    ``ret_of`` the return event of a call.

    Operations are numbered with the completed ones first, in invocation order, then the
    *optional* ones (unknown outcome), also in invocation order. Optional operations have no
    return, so they are kept out of the list, and they are tried last: only when the walk
    reaches the first remaining return (every completed operation that could go next has been
    tried) does the search try *blocks* of optional operations invoked before it, and only
    then does it backtrack. Three rules keep them from multiplying the work:

    * the cache remembers, per (completed operations done, state), the sets of optional
      operations used; a configuration reached again with a *superset* of one of them is
      skipped, since the earlier visit could do all this one can (the unused ones were still
      available to it);
    * optional operations that look the same (same f, key, value) are interchangeable, so
      only the earliest-invoked unused one of each such *class* is ever tried;
    * a block is computed breadth-first, keeping per resulting state only the minimal sets,
      and a block is never followed directly by another.
    """

    YIELD_EVERY = 2048  # steps between two pauses

    def __init__(self, model: Model, ops: list[Any]) -> None:
        self.model = model
        # failed operations took no effect; unknown reads cannot matter
        kept = [op for op in ops if op.status != "fail"
                and not (op.unknown and op.f in model.read_only)]
        in_time = sorted(kept, key=lambda op: (op.invoke_time, op.id))
        completed = [op for op in in_time if not op.unknown]
        self.ops = completed + [op for op in in_time if op.unknown]
        self.completed = len(completed)
        self.explored = 0
        #: estimated bytes held by the search (cache, interned states, blocks)
        self.memory = 0
        self.linearization: tuple[Any, ...] = ()
        self.unplaceable: tuple[Any, ...] = ()
        self.state_after_prefix: Any = model.init()
        #: (low, bitset after low, state) -> the sets of optional operations used there
        self.seen: dict[tuple[int, int, Hashable], list[int]] = {}
        self.states: dict[Hashable, Hashable] = {}
        #: per tuple of how many of each optional class are used, `_first_unused_call`
        self.first_unused: dict[tuple[int, ...], int] = {}
        self._build_list()

    def _build_list(self) -> None:
        """The time-ordered call/return list, and the classes of optional operations."""
        events = []  # (time, calls-first tiebreak, op number, is_call)
        for n, op in enumerate(self.ops):
            events.append((op.invoke_time, 0, n, True))
            if n < self.completed:
                events.append((op.complete_time, 1, n, False))
        events.sort()
        m = len(events)
        self.head = m
        self.op_of = [e[2] for e in events]
        self.is_call = [e[3] for e in events]
        self.ret_of = [-1] * m
        call_of_op = [0] * len(self.ops)
        self.nxt = [-1] * (m + 1)
        self.prv = [-1] * (m + 1)
        class_of: dict[tuple, int] = {}
        #: per class, the (call event, op number) of its members in time order, then a sentinel
        self.classes: list[list[tuple[int, int]]] = []
        last = self.head
        for i, (_, _, n, is_call) in enumerate(events):
            if n >= self.completed:  # the call of an optional operation
                op = self.ops[n]
                key = (op.f, _hashable(op.key), _hashable(op.value))
                c = class_of.setdefault(key, len(self.classes))
                if c == len(self.classes):
                    self.classes.append([])
                self.classes[c].append((i, n))
                continue
            if is_call:
                call_of_op[n] = i
            else:
                self.ret_of[call_of_op[n]] = i
            self.nxt[last], self.prv[i], last = i, last, i
        for members in self.classes:
            members.append((m, -1))  # invoked after everything: never available
        self.first_calls = [members[0][0] for members in self.classes]

    def _visit(self, low: int, after: int, used: int, state: Hashable) -> bool:
        """Record a configuration; False if it (or one using fewer optional ops) was seen."""
        earlier = self.seen.get((low, after, state))
        if earlier is None:
            interned = self.states.get(state)
            if interned is None:
                self.states[state] = interned = state
                self.memory += ENTRY_BYTES + sys.getsizeof(state)
            self.seen[(low, after, interned)] = [used]
            self.memory += ENTRY_BYTES + (after.bit_length() >> 3)
            return True
        for u in earlier:
            if u & used == u:
                return False
        earlier.append(used)
        self.memory += USED_BYTES + (used.bit_length() >> 3)
        return True

    def _first_unused_call(self, taken: tuple[int, ...]) -> int:
        """The earliest call event of an optional operation not used yet (when ``taken`` of
        each class are): before it, no block of optional operations can be tried."""
        call = self.first_unused.get(taken)
        if call is None:
            call = min((members[t][0] for members, t in zip(self.classes, taken)),
                       default=len(self.op_of))
            self.first_unused[taken] = call
            self.memory += ENTRY_BYTES
        return call

    def _optional_blocks(self, state: Hashable, low: int, after: int, used: int,
                         taken: tuple[int, ...], before: int
                         ) -> Generator[None, None, list[tuple[Hashable, int, tuple, tuple]]]:
        """The new configurations that non-empty sequences of the optional operations invoked
        before event ``before`` lead to: (state, used, taken per class, the sequence)."""
        ops, step, visit, completed = self.ops, self.model.step, self._visit, self.completed
        # classes are numbered in the order of their first call: these have begun
        classes = self.classes[:bisect.bisect_left(self.first_calls, before)]
        blocks = []
        layer = [(state, used, taken, ())]
        tried = 0
        while layer:
            next_layer = []
            for s, u, tk, sequence in layer:
                for c, members in enumerate(classes):
                    call, n = members[tk[c]]
                    if call > before:
                        continue
                    tried += 1
                    if tried % self.YIELD_EVERY == 0:
                        yield
                    ok, new_state = step(s, ops[n])
                    bit = 1 << (n - completed)
                    if ok and visit(low, after, u | bit, new_state):
                        block = (new_state, u | bit, tk[:c] + (tk[c] + 1,) + tk[c + 1:],
                                 sequence + (n,))
                        blocks.append(block)
                        next_layer.append(block)
                        self.memory += BLOCK_BYTES + 8 * len(sequence)
            layer = next_layer
        return blocks

    def steps(self) -> Generator[None, None, bool]:
        """Search, pausing every `YIELD_EVERY` steps; returns True if linearizable.

        Sets ``linearization`` (or, when not linearizable, the longest prefix found, with
        ``unplaceable`` and ``state_after_prefix``).
        """
        ops, step = self.ops, self.model.step
        op_of, is_call, ret_of = self.op_of, self.is_call, self.ret_of
        nxt, prv, head = self.nxt, self.prv, self.head
        visit = self._visit
        read_only = [op.f in self.model.read_only for op in ops]
        state: Hashable = self.model.init()
        # the completed operations linearized: all before ``low``, and those whose bit is set
        # in ``after`` (bit i: operation low + i); ``used``: the optional ones (bit n - completed)
        low = after = used = 0
        taken = (0,) * len(self.classes)  # how many of each optional class are linearized
        visit(0, 0, 0, state)
        # A frame is (call event, (state, low, after) before, None, forced) for a completed
        # operation, or (return event it unblocked, (state, used, taken) before, blocks, which).
        stack: list[tuple[int, Any, list | None, int]] = []
        # The linearization so far as a linked list, newest first: (op number or block, rest).
        chain: Any = None
        # the deepest dead end: most completed operations linearized, then fewest optional
        best = (-1, 0)
        best_chain: Any = None
        iterations = 0
        pause_at = self.YIELD_EVERY
        entry = nxt[head]
        try:
            while True:
                iterations += 1
                if iterations >= pause_at:
                    pause_at += self.YIELD_EVERY
                    yield
                if entry == -1:  # every completed operation is linearized
                    self.linearization = self._unchain(chain)
                    return True
                if is_call[entry]:
                    n = op_of[entry]
                    ok, new_state = step(state, ops[n])
                    if ok:
                        new_low, new_after = low, after | (1 << (n - low))
                        if n == low:  # drop the run of linearized operations from the front
                            run = (~new_after & (new_after + 1)).bit_length() - 1
                            new_low, new_after = low + run, new_after >> run
                        ok = visit(new_low, new_after, used, new_state)
                    if ok:
                        # a read-only operation that can go now is never a wrong choice: if
                        # nothing works after it, the operations before it were wrong (forced)
                        stack.append((entry, (state, low, after), None, read_only[n]))
                        chain = (n, chain)
                        state, low, after = new_state, new_low, new_after
                        # lift the call and its return out of the list
                        p, q = prv[entry], nxt[entry]
                        nxt[p] = q
                        if q != -1:
                            prv[q] = p
                        r = ret_of[entry]
                        p, q = prv[r], nxt[r]
                        nxt[p] = q
                        if q != -1:
                            prv[q] = p
                        entry = nxt[head]
                    else:
                        entry = nxt[entry]
                    continue
                # The first remaining return: its operation had to be linearized by now.
                depth = (low + after.bit_count(), -used.bit_count())
                if depth > best:  # the deepest dead end so far: remember it
                    best, best_chain = depth, chain
                    self.state_after_prefix = state
                    self.unplaceable = (ops[op_of[entry]],)
                after_block = bool(stack) and stack[-1][2] is not None
                if after_block or entry < self._first_unused_call(taken):
                    blocks = []
                else:
                    blocks = yield from self._optional_blocks(state, low, after, used, taken,
                                                              entry)
                if blocks:  # try a block of optional operations before giving up here
                    stack.append((entry, (state, used, taken), blocks, 0))
                    state, used, taken, sequence = blocks[0]
                    chain = (sequence, chain)
                    entry = nxt[head]
                    continue
                while True:  # backtrack
                    if not stack:
                        self.linearization = self._unchain(best_chain)
                        return False
                    entry, saved, blocks, k = stack.pop()
                    chain = chain[1]
                    if blocks is None:  # undo a completed operation
                        state, low, after = saved
                        # put the return, then the call, back (the reverse of lifting them)
                        r = ret_of[entry]
                        nxt[prv[r]] = r
                        if nxt[r] != -1:
                            prv[nxt[r]] = r
                        nxt[prv[entry]] = entry
                        if nxt[entry] != -1:
                            prv[nxt[entry]] = entry
                        if k:  # forced: its alternatives cannot succeed either
                            continue
                        entry = nxt[entry]
                        break
                    if k + 1 < len(blocks):  # the next block of optional operations
                        stack.append((entry, saved, blocks, k + 1))
                        state, used, taken, sequence = blocks[k + 1]
                        chain = (sequence, chain)
                        entry = nxt[head]
                        break
                    state, used, taken = saved
        finally:
            self.explored += iterations

    def forget(self) -> None:
        """Free the cache of a search that is over (its counters and answer stay)."""
        self.seen, self.states, self.first_unused, self.memory = {}, {}, {}, 0

    def _unchain(self, chain: Any) -> tuple[Any, ...]:
        """The operations of a linearization chain, oldest first."""
        numbers: list[int] = []
        while chain is not None:
            item, chain = chain
            numbers.extend(reversed(item) if isinstance(item, tuple) else (item,))
        return tuple(self.ops[n] for n in reversed(numbers))
