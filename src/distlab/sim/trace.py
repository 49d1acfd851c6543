"""The trace: everything that happened in a simulation, in order.

Every send, delivery, drop, duplicate, timer, crash, restart, partition, cut, heal, node note
and client operation is one `TraceEvent`. The drawings (`distlab.viz`), the checkers
(`distlab.check`) and the lab harness (`distlab.grading`) read only the trace, so anything a
reader wants to see or check must be recorded here.

Events are stored flat, six slots of one list per event, and handed out as `TraceEvent`
named tuples when read. A list of tuples would cost one more object per event, which
Python's garbage collector must visit again and again; flat, a run of a million events
takes a third less memory and its collection costs a fraction.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple

#: The kinds of event, in the words used everywhere else (viz, checks, JSON export).
KINDS = (
    "send", "deliver", "drop", "duplicate", "timer", "crash", "restart",
    "partition", "cut", "heal", "note", "invoke", "complete",
)


@dataclass(frozen=True)
class Note:
    """What a node wrote down with ``self.note(what, **details)``: a word and its data.

    ``note.what`` is the word (``"leader"``), ``note["term"]`` or ``note.get("term")`` a
    detail, ``note.details`` all of them as ``(name, value)`` pairs in the order given.
    ``str(note)`` is how the drawings print it: ``leader term=3``.

    >>> note = Note("leader", (("term", 3), ("votes", 2)))
    >>> note.what, note["term"], note.get("log", [])
    ('leader', 3, [])
    >>> str(note)
    'leader term=3 votes=2'
    """

    what: str
    details: tuple[tuple[str, Any], ...] = ()

    def __getitem__(self, name: str) -> Any:
        for key, value in self.details:
            if key == name:
                return value
        raise KeyError(f"note {self.what!r} has no detail {name!r}; it has: "
                       f"{', '.join(k for k, _ in self.details) or 'none'}")

    def get(self, name: str, default: Any = None) -> Any:
        """The detail ``name``, or ``default`` when the note has none of that name."""
        return next((value for key, value in self.details if key == name), default)

    def __str__(self) -> str:
        return " ".join([self.what, *(f"{key}={value}" for key, value in self.details)])


@dataclass(frozen=True)
class Recorded:
    """A value recorded in another process, standing in for an object this one must not run.

    A graded run happens in a child process (`distlab.grading.isolation`), and what it sends
    back must not make the grader run a student's code: an object of a student's class (a
    message, say) comes back as a `Recorded` -- its class's name, its ``repr`` and its JSON
    form, all computed where the run happened. It prints and exports (`Trace.dumps`) as the
    object did, and compares equal only to the same record.

    >>> r = Recorded("__main__.Ping", "Ping(seq=1)", {"type": "Ping", "seq": 1})
    >>> r, r.name
    (Ping(seq=1), 'Ping')
    """

    cls: str
    text: str
    json: Any = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """The short name of the object's class (``Ping``)."""
        return self.cls.rsplit(".", 1)[-1]

    def __repr__(self) -> str:
        return self.text


class TraceEvent(NamedTuple):
    """One thing that happened, at one simulated time (milliseconds).

    ==========  ===============  ==============  =======================================
    kind        node             peer            data
    ==========  ===============  ==============  =======================================
    send        sender           destination     the message
    deliver     receiver         sender          the message
    drop        receiver         sender          why: "loss", "partition" or "crashed"
    duplicate   sender           destination     the message (it will arrive twice)
    timer       node             --              the timer's name
    crash       node             --              --
    restart     node             --              --
    partition   --               --              the groups, a tuple of tuples of ids
    cut         one end          the other end   "both ways", or "one way" (node to peer)
    heal        --               --              --
    note        node             --              the `Note` (what, and its details)
    invoke      client           --              the `Operation`
    complete    client           --              the `Operation`, with its outcome
    ==========  ===============  ==============  =======================================

    ``msg_id`` ties a message's send, duplicate, deliveries and drop together.
    """

    time: float
    kind: str
    node: str | None
    peer: str | None
    msg_id: int | None
    data: Any

    def describe(self) -> str:
        """A one-line, human-readable account of the event."""
        t = f"{self.time:10.3f} ms"
        match self.kind:
            case "send":
                return f"{t}  {self.node} -> {self.peer}  send #{self.msg_id} {self.data!r}"
            case "deliver":
                return f"{t}  {self.peer} -> {self.node}  deliver #{self.msg_id} {self.data!r}"
            case "drop":
                return f"{t}  {self.peer} -> {self.node}  drop #{self.msg_id} ({self.data})"
            case "duplicate":
                return f"{t}  {self.node} -> {self.peer}  duplicate #{self.msg_id}"
            case "timer":
                return f"{t}  {self.node}  timer {self.data!r}"
            case "partition":
                groups = " | ".join(",".join(g) for g in self.data)
                return f"{t}  partition {groups}"
            case "cut":
                arrow = "->" if self.data == "one way" else "<->"
                return f"{t}  cut {self.node} {arrow} {self.peer}"
            case "heal":
                return f"{t}  heal"
            case "note":
                return f"{t}  {self.node}  note: {self.data}"
            case "invoke" | "complete":
                return f"{t}  {self.node}  {self.kind} {self.data}"
            case _:
                return f"{t}  {self.node}  {self.kind}"


def _jsonable(value: Any) -> Any:
    """Turn a message (usually a frozen dataclass) into plain JSON data, deterministically."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if type(value) is Recorded:
        return value.json
    if type(value) is Note:
        return {"what": value.what, **{k: _jsonable(v) for k, v in value.details}}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"type": type(value).__name__, **fields}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple
        fields = {k: _jsonable(v) for k, v in zip(value._fields, value)}
        return {"type": type(value).__name__, **fields}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (frozenset, set)):
        return sorted((_jsonable(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return repr(value)


class Trace:
    """The ordered record of a simulation's events.

    Iterate over it, index it, or take ``len()``; ``of_kind("deliver")`` filters, and
    ``dumps()`` / ``to_jsonl()`` export it as JSON lines (one event a line), the form two runs
    are compared in to prove they were identical.

    A long trace does not have to fit in memory. Past ``in_memory`` events, the oldest are
    written to a temporary file (pickled, a chunk at a time) and read back, a chunk at a
    time, by whatever iterates the trace; the drawings and checkers see no difference. With
    ``summary=True`` nothing old is kept at all: only `counts`, every note (`notes`) and the
    ``last`` events (`last_events`), for runs of millions of events that nobody will draw.
    """

    __slots__ = ("_events", "nodes", "enabled", "in_memory", "summary", "last", "_spill",
                 "_chunks", "_older_counts", "_notes", "_dropped", "_cached")

    def __init__(self, enabled: bool = True, *, in_memory: int = 1_000_000,
                 summary: bool = False, last: int = 1_000) -> None:
        if not (isinstance(in_memory, int) and in_memory > 0 and isinstance(last, int)
                and last >= 0):
            raise ValueError(f"in_memory is a positive number of events and last a number "
                             f"of events (0 or more); got in_memory={in_memory!r}, "
                             f"last={last!r}")
        #: the events in memory, flat: slots 6*i to 6*i+5 hold event i's six fields
        self._events: list[Any] = []
        #: node ids, in the order they were added to the simulation
        self.nodes: list[str] = []
        #: when False nothing is recorded (for very long runs that only need a result)
        self.enabled = enabled
        #: how many events stay in memory before the oldest go to a file (or, in a summary,
        #: are folded into the counts)
        self.in_memory = in_memory
        #: keep only counts, notes and the last events
        self.summary = summary
        #: how many of the latest events a summary keeps
        self.last = last
        self._spill: IO[bytes] | None = None  # the temporary file of the older events
        self._chunks: list[tuple[int, int]] = []  # (offset in the file, events) per chunk
        self._older_counts: dict[str, int] = {}  # the counts of the events not in memory
        self._notes: list[TraceEvent] = []  # a summary's notes, older than those in memory
        self._dropped = 0  # events a summary has forgotten
        self._cached: tuple[int, list[Any]] | None = None  # the chunk read last

    def record(self, time: float, kind: str, node: str | None = None, peer: str | None = None,
               msg_id: int | None = None, data: Any = None) -> None:
        """Append one event (the kernel calls this; so may extensions)."""
        if self.enabled:
            self._events.extend((time, kind, node, peer, msg_id, data))

    def compact(self) -> None:
        """Move the oldest events out of memory once more than ``in_memory`` are there.

        The simulator calls it between batches of events (it appends to ``_events``
        directly, to stay fast); anything that records by hand may call it too.
        """
        keep = self.last if self.summary else 0
        excess = len(self._events) // _WIDTH - (keep if self.summary else self.in_memory)
        if excess <= 0 or (self.summary and excess < self.in_memory // 10):
            return
        cut = (len(self._events) // _WIDTH - keep) * _WIDTH
        older = self._events[:cut]
        del self._events[:cut]
        for kind in older[1::_WIDTH]:
            self._older_counts[kind] = self._older_counts.get(kind, 0) + 1
        if self.summary:
            self._notes.extend(TraceEvent._make(e) for e in zip(*[iter(older)] * _WIDTH)
                               if e[1] == "note")
            self._dropped += cut // _WIDTH
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="distlab-trace-")
        self._spill.seek(0, 2)
        self._chunks.append((self._spill.tell(), cut // _WIDTH))
        pickle.dump(older, self._spill, protocol=pickle.HIGHEST_PROTOCOL)

    def _chunk(self, i: int) -> list[Any]:
        """The slots of chunk ``i`` of the file (the last one read is kept)."""
        if self._cached is None or self._cached[0] != i:
            assert self._spill is not None
            self._spill.seek(self._chunks[i][0])
            self._cached = (i, pickle.load(self._spill))
        return self._cached[1]

    def _refuse_if_summary(self) -> None:
        if self.summary and self._dropped:
            raise ValueError(f"this trace keeps a summary only (summary=True): "
                             f"{self._dropped:,} older events were counted and forgotten. "
                             f"Read counts(), notes() and last_events(); for the whole trace, "
                             f"run with summary=False")

    def _tuples(self, start: int = 0, stop: int | None = None) -> Iterator[tuple]:
        """The events from ``start`` to ``stop`` (positions, as in a slice) as plain tuples."""
        self._refuse_if_summary()
        stop = len(self) if stop is None else stop
        first = 0  # the position of the current chunk's first event
        for i, (_, size) in enumerate(self._chunks):
            if start < first + size and stop > first:
                slots = iter(self._chunk(i)[(max(start, first) - first) * _WIDTH:
                                            (min(stop, first + size) - first) * _WIDTH])
                yield from zip(*[slots] * _WIDTH)
            first += size
        if stop > first:
            slots = iter(self._events[max(start - first, 0) * _WIDTH:(stop - first) * _WIDTH])
            yield from zip(*[slots] * _WIDTH)

    def __len__(self) -> int:
        if not self._chunks:  # (all in memory: properties ask after every event)
            return self._dropped + len(self._events) // _WIDTH
        return self._dropped + sum(n for _, n in self._chunks) + len(self._events) // _WIDTH

    def __iter__(self) -> Iterator[TraceEvent]:
        return map(TraceEvent._make, self._tuples())

    def __getitem__(self, index: int | slice) -> TraceEvent | list[TraceEvent]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1 and not self._chunks and not self._dropped:  # all in memory
                return events_from_slots(self._events[start * _WIDTH:stop * _WIDTH])
            if step == 1:
                return list(map(TraceEvent._make, self._tuples(start, max(start, stop))))
            return [self[i] for i in range(start, stop, step)]
        i = index + len(self) if index < 0 else index
        if not 0 <= i < len(self):
            raise IndexError(f"trace index {index} out of range ({len(self)} events)")
        return TraceEvent._make(next(self._tuples(i, i + 1)))

    def of_kind(self, *kinds: str) -> list[TraceEvent]:
        """The events of the given kinds, in order."""
        return [TraceEvent._make(e) for e in self._tuples() if e[1] in kinds]

    def counts(self) -> dict[str, int]:
        """How many events of each kind (of the whole run, in a summary too)."""
        counts = dict(self._older_counts)
        for kind in self._events[1::_WIDTH]:
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def notes(self) -> list[TraceEvent]:
        """Every "note" event, in order (a summary keeps them all)."""
        if not self.summary:
            return self.of_kind("note")
        return self._notes + [TraceEvent._make(e) for e in zip(*[iter(self._events)] * _WIDTH)
                              if e[1] == "note"]

    def last_events(self, n: int | None = None) -> list[TraceEvent]:
        """The ``n`` latest events (a summary's ``last`` by default; it has no more)."""
        n = self.last if n is None else n
        if n <= 0:
            return []
        if self.summary:
            return events_from_slots(self._events[-n * _WIDTH:])
        return self[max(len(self) - n, 0):]  # type: ignore[return-value]

    def to_dicts(self) -> Iterator[dict]:
        """The events as plain JSON-ready dictionaries."""
        for time, kind, node, peer, msg_id, data in self._tuples():
            yield {"time": round(time, 6), "kind": kind, "node": node, "peer": peer,
                   "msg_id": msg_id, "data": _jsonable(data)}

    def dumps(self) -> str:
        """The whole trace as JSON lines: identical runs give identical strings."""
        return "".join(json.dumps(d, sort_keys=True) + "\n" for d in self.to_dicts())

    def to_jsonl(self, target: str | IO[str]) -> None:
        """Write the trace as JSON lines to a path or an open text file."""
        if isinstance(target, str):
            with open(target, "w", encoding="utf-8") as f:
                self.to_jsonl(f)
            return
        for d in self.to_dicts():
            target.write(json.dumps(d, sort_keys=True) + "\n")

    def format(self, last: int | None = None) -> str:
        """The events (or the ``last`` few) as readable lines."""
        events = self if last is None else self.last_events(last)
        return "\n".join(e.describe() for e in events)

    def __repr__(self) -> str:
        return f"<Trace: {len(self)} events over nodes {', '.join(self.nodes)}>"


_WIDTH = len(TraceEvent._fields)  # slots per event in Trace._events


def events_from_slots(slots: list[Any]) -> list[TraceEvent]:
    """Events stored flat, as in `Trace` (six slots each), as a list of `TraceEvent`."""
    it = iter(slots)
    return list(map(TraceEvent._make, zip(*[it] * _WIDTH)))
