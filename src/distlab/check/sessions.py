"""Session guarantees and causal consistency, decided on a history of reads and writes.

Terry et al. {cite:p}`terry1994session` named four guarantees a client's *session* can ask
of a weakly consistent store -- read your writes, monotonic reads, monotonic writes, writes
follow reads -- and Terry later added *consistent prefix* {cite:p}`terry2013replicated`.
Each says which writes a read must not miss. Here they are decided on a client history, as
Viotti and Vukolić define them from histories {cite:p}`viotti2016consistency`, with the one
order a history shows by itself: causality.

**The histories.** Register operations (``write``/``read``, or ``put``/``get`` on keys) in
which no two writes of a key write the same value, so that each read names the write it
*read from* (or the initial value, ``None``). The *causal order* is the transitive closure of
each process's order of its completed operations and of reads-from (Lamport's happened-before
over operations, as in causal memory {cite:p}`ahamad1995causal`). A write ``w'`` is *older*
than ``w`` when both write one key and ``w'`` is causally before ``w``: every order that
respects causality puts ``w'`` first, so a read that returns ``w'`` when it had to see ``w``
went backwards.

**The guarantees.** Each names the writes a read ``r`` of process ``p`` must see (its
*floor*), among the writes of ``r``'s key:

* read your writes: ``p``'s own writes before ``r``;
* monotonic reads: the writes that ``p``'s earlier reads returned;
* monotonic writes: for each write ``w`` that ``p`` has read, the writes ``w``'s writer made
  before ``w``;
* writes follow reads: for each write ``w`` that ``p`` has read, the writes ``w``'s writer
  had read before it made ``w``;
* consistent prefix: for each write ``w`` that ``p`` has read, every write causally before
  ``w`` (who has seen the answer sees the question);
* causal: every write causally before ``r``.

A read breaks the guarantee when it returns the initial value though its floor holds a write,
or a write older than one of its floor. Every check also refuses a read of a value that no
write wrote (a read from thin air), and the causal check a causal order with a cycle.
Operations whose outcome is unknown (``info``, ``pending``) may have taken effect after their
process went on, so they order nothing after them; a write counts in a floor only when it
completed or was read. A process's order is the order in which it invoked its operations,
even when one begins at the very instant the previous one ended (the linearizability checker
treats two operations that touch at an instant as concurrent, so on such a history it may
accept what these checks refuse).

**What is decided, and what is not.** The checks are exact for these definitions and need no
search (a few passes over the history). They order writes by causality only: between two
concurrent writes (neither saw the other) any order is allowed, so a session that reads
``w1``, then ``w2``, then ``w1`` again, of two concurrent writes, breaks none of them, though
no single order of the writes explains it -- sequential consistency
(`distlab.check.sequential`) catches that. The causal check decides the "causal visibility"
half of causal consistency; the stronger definitions of Bouajjani et al.
{cite:p}`bouajjani2017causal` also require the concurrent writes to be seen in one order per
process, which is not checked here. Causal implies each session guarantee (each floor lies in
the read's causal past), and consistent prefix implies monotonic writes and writes follow
reads; the tests hold the checkers to these implications.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from distlab.check.consistency import Anomaly, ConsistencyResult, Outcome
from distlab.check.linearizability import Op, validated_operations
from distlab.check.models import KV, Model, Register

#: The levels `check_session` decides, weakest first (causal implies every other).
GUARANTEES = ("read-your-writes", "monotonic-reads", "monotonic-writes",
              "writes-follow-reads", "consistent-prefix", "causal")
WRITES = frozenset({"write", "put"})
READS = frozenset({"read", "get"})


class CausalHistory:
    """A register history read for causality: who read from whom, each process's order, and
    each operation's causal past.

    ``source[read.id]`` is the write the read returned (None: the initial value);
    ``thin_air`` the reads that returned a value no write wrote. ``past[i]`` is a bitset of
    the operations causally before operation ``ops[i]`` (bit ``j``: ``ops[j]``).
    """

    def __init__(self, history: Any) -> None:
        ops = list(getattr(history, "operations", history))
        keyed = any(getattr(op, "key", None) is not None for op in ops)
        self.model: Model = KV() if keyed else Register()
        self.ops: list[Op] = validated_operations(ops, self.model)
        for op in self.ops:
            if op.f not in WRITES | READS:
                raise ValueError(f"operation {op.id} is an {op.f!r}: the session and causal "
                                 f"checks need to know which write each read saw, so they "
                                 f"take only reads and writes (put/get); check a history "
                                 f"with appends with check_linearizability")
        self.index = {op.id: i for i, op in enumerate(self.ops)}
        writer: dict[tuple[Any, Any], Op] = {}
        for op in self.ops:
            if op.f in WRITES:
                if op.value is None:
                    raise ValueError(f"operation {op.id} writes None, which is the initial "
                                     f"value: a read of it could not tell them apart")
                earlier = writer.setdefault((op.key, op.value), op)
                if earlier is not op:
                    raise ValueError(f"operations {earlier.id} and {op.id} both write "
                                     f"{op.value!r} to key {op.key!r}: the checks tell which "
                                     f"write a read saw by its value, so give every write "
                                     f"of a key a value of its own")
        self.reads = [op for op in self.ops if op.f in READS and op.status == "ok"]
        self.source: dict[int, Op | None] = {}
        self.thin_air: list[Op] = []
        for read in self.reads:
            write = writer.get((read.key, read.output))
            if read.output is not None and (write is None or write.status == "fail"):
                self.thin_air.append(read)
            else:
                self.source[read.id] = write
        read_ids = {w.id for w in self.source.values() if w is not None}
        #: writes that took effect: completed, or read by someone
        self.effective = {op.id for op in self.ops if op.f in WRITES
                          and (op.status == "ok" or op.id in read_ids)}
        #: per key, its writes that took effect
        self.writes_of: dict[Any, list[Op]] = {}
        for op in self.ops:
            if op.id in self.effective:
                self.writes_of.setdefault(op.key, []).append(op)
        self.sessions: dict[Any, list[Op]] = {}
        for op in sorted(self.ops, key=lambda op: (op.invoke_time, op.id)):
            self.sessions.setdefault(op.process, []).append(op)
        self.past = self._causal_past()

    def _causal_past(self) -> list[int]:
        """The causal past of every operation, as bitsets: a fixpoint over the edges of
        process order (from the latest earlier completed operation) and reads-from."""
        predecessors: list[list[int]] = [[] for _ in self.ops]
        for session in self.sessions.values():
            last_done = None
            for op in session:
                if last_done is not None:
                    predecessors[self.index[op.id]].append(self.index[last_done.id])
                if op.status == "ok":
                    last_done = op
        for read_id, write in self.source.items():
            if write is not None:
                predecessors[self.index[read_id]].append(self.index[write.id])
        order = sorted(range(len(self.ops)), key=lambda i: (self.ops[i].invoke_time, i))
        past = [0] * len(self.ops)
        changed = True
        while changed:  # a pass in time order settles a history without cycles at once
            changed = False
            for i in order:
                new = past[i]
                for j in predecessors[i]:
                    new |= past[j] | (1 << j)
                if new != past[i]:
                    past[i], changed = new, True
        return past

    def before(self, a: Op, b: Op) -> bool:
        """Whether ``a`` is causally before ``b``."""
        return bool(self.past[self.index[b.id]] >> self.index[a.id] & 1)

    def earlier(self, op: Op) -> list[Op]:
        """The completed operations of ``op``'s process before it."""
        session = self.sessions[op.process]
        return [x for x in session[:session.index(op)] if x.status == "ok"]

    def seen(self, read: Op) -> Iterator[tuple[Op, Op]]:
        """(earlier read, the write it returned) for the process's reads before ``read``."""
        for x in self.earlier(read):
            write = self.source.get(x.id)
            if x.f in READS and write is not None:
                yield x, write

    def cycle(self) -> list[Op]:
        """Operations causally before themselves (empty when the causal order is a DAG)."""
        return [op for i, op in enumerate(self.ops) if self.past[i] >> i & 1]


#: A floor: for a read, the writes it must see, each with the reason, as (write, reason).
Floor = Callable[[CausalHistory, Op], Iterator[tuple[Op, str]]]


def _read_your_writes(h: CausalHistory, read: Op) -> Iterator[tuple[Op, str]]:
    for x in h.earlier(read):
        if x.f in WRITES:
            yield x, f"process {read.process} wrote it earlier (operation {x.id})"


def _monotonic_reads(h: CausalHistory, read: Op) -> Iterator[tuple[Op, str]]:
    for x, write in h.seen(read):
        yield write, f"an earlier read of process {read.process} returned it (operation {x.id})"


def _monotonic_writes(h: CausalHistory, read: Op) -> Iterator[tuple[Op, str]]:
    for x, seen in h.seen(read):
        for write in h.earlier(seen):
            if write.f in WRITES:
                yield write, (f"process {seen.process} wrote it before operation {seen.id}, "
                              f"which process {read.process} read (operation {x.id})")


def _writes_follow_reads(h: CausalHistory, read: Op) -> Iterator[tuple[Op, str]]:
    for x, seen in h.seen(read):
        for y in h.earlier(seen):
            write = h.source.get(y.id)
            if y.f in READS and write is not None:
                yield write, (f"process {seen.process} read it (operation {y.id}) before "
                              f"writing operation {seen.id}, which process {read.process} "
                              f"read (operation {x.id})")


def _consistent_prefix(h: CausalHistory, read: Op) -> Iterator[tuple[Op, str]]:
    done: set[int] = set()
    for x, seen in h.seen(read):
        if seen.id in done:
            continue
        done.add(seen.id)
        for write in h.writes_of.get(read.key, ()):
            if h.before(write, seen):
                yield write, (f"it is causally before operation {seen.id}, which process "
                              f"{read.process} read (operation {x.id})")


def _causal(h: CausalHistory, read: Op) -> Iterator[tuple[Op, str]]:
    for write in h.writes_of.get(read.key, ()):
        if h.before(write, read):
            yield write, "it is causally before this read"


FLOORS: dict[str, Floor] = dict(zip(GUARANTEES, (
    _read_your_writes, _monotonic_reads, _monotonic_writes, _writes_follow_reads,
    _consistent_prefix, _causal)))


def check_session(history: Any, guarantee: str) -> ConsistencyResult:
    """Decide whether ``history`` satisfies ``guarantee`` (one of `GUARANTEES`; the module
    docstring defines each). ``history`` is a `distlab.sim.History` or an iterable of
    operation-like objects of a register or key-value store (reads and writes only, each
    write of a key with a value of its own); a history that is not raises a ValueError that
    says what to change."""
    if guarantee not in FLOORS:
        raise ValueError(f"unknown guarantee {guarantee!r}: use one of {', '.join(GUARANTEES)}")
    h = CausalHistory(history)
    floor = FLOORS[guarantee]
    anomalies = [Anomaly(read, None, None, f"it returned {read.output!r}, which no write "
                                           f"wrote (or only a failed one)")
                 for read in h.thin_air]
    if guarantee == "causal":
        cycle = h.cycle()
        if cycle:
            anomalies.append(Anomaly(cycle[0], None, None, "the causal order has a cycle "
                                     "through operations " + ", ".join(str(op.id)
                                                                       for op in cycle)))
    for read in h.reads:
        if read.id in h.source:
            anomaly = _went_backwards(h, read, floor(h, read))
            if anomaly is not None:
                anomalies.append(anomaly)
    anomalies.sort(key=lambda a: (a.read.invoke_time, a.read.id))
    return ConsistencyResult(guarantee, Outcome.VIOLATED if anomalies else Outcome.HOLDS,
                             h.model, tuple(h.ops), tuple(anomalies))


def _went_backwards(h: CausalHistory, read: Op,
                    floor: Iterator[tuple[Op, str]]) -> Anomaly | None:
    """The anomaly if ``read`` returned something older than a write of its floor."""
    returned = h.source[read.id]
    describe = h.model.describe
    for write, reason in floor:
        if write.key != read.key or write.id not in h.effective or write is returned:
            continue
        if returned is None:
            return Anomaly(read, None, write, f"it returned the initial value, but it had to "
                                              f"see {describe(write)}: {reason}")
        if h.before(returned, write):
            return Anomaly(read, returned, write,
                           f"it returned {describe(returned)}, older than {describe(write)}, "
                           f"which it had to see: {reason}")
    return None


def check_sessions(history: Any) -> dict[str, ConsistencyResult]:
    """Every level of `GUARANTEES` checked on ``history``, by name."""
    return {guarantee: check_session(history, guarantee) for guarantee in GUARANTEES}
