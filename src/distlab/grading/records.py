"""What a graded run sends back to the grader, and the grader's view of it.

A graded run happens in a child process (`distlab.grading.isolation`); the verdict is reached
in the grading process, from data alone. This module is both ends of that data:

* in the run's process, `RunRecorder` watches the simulation after every event and notes how
  far the trace has grown, the simulated time, which nodes are down, and the attributes that
  the lab's properties read (`distlab.grading.lab.Check.node_attributes`) of the node that
  just ran (of none after a message that could not arrive or a timer that was cancelled, of
  every node after any other event), pickling only the values that may have changed. `dumps`
  turns the record into bytes in which an object of any class outside ``distlab`` -- a
  student's message, say -- is replaced by a `Recorded` stand-in (its class name, repr and
  JSON form, computed there);
* in the grading process, `loads` reads those bytes back with an unpickler that builds
  nothing but plain Python values, ``distlab``'s own data classes and `Recorded`: the grader
  never runs a student's code, not even a ``__eq__`` or a ``__hash__``. `RecordedRun` then
  plays the record back, event after event, to the lab's properties as if it were the
  `Simulation` (``now``, ``nodes``, ``crashed``, ``trace``, ``history``).

A record that does not have the expected shape raises `MalformedRecord`: the run's own code
damaged it, and the run fails.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import io
import pickle
import sys
from collections.abc import Callable, Sequence
from typing import Any

from distlab.sim import ConfigurationError, History, Operation, Simulation, Trace
from distlab.sim.messages import IMMUTABLE_TYPES, library_class, never_changes
from distlab.sim.trace import KINDS, Recorded, TraceEvent, _jsonable, events_from_slots

#: pickle's protocol for records (5: out-of-band buffers are refused when reading)
PROTOCOL = 5
#: the types a record holds as they are (exact types: a subclass could run code)
_PLAIN = frozenset({type(None), bool, int, float, complex, str, bytes, list, tuple, dict,
                    set, frozenset})
_TRUSTED: dict[type, bool] = {}
#: the exact types of the attribute values the recorder compares before pickling them
_SCALARS = frozenset({type(None), bool, int, str})
_KINDS = frozenset(KINDS)


class MalformedRecord(Exception):
    """The data a run sent back is not a record of a run (its code damaged it)."""


def _trusted(cls: type) -> bool:
    """Whether objects of ``cls`` may cross into the grader: ``distlab``'s own value classes."""
    known = _TRUSTED.get(cls)
    if known is None:
        known = _TRUSTED[cls] = cls is Recorded or (
            isinstance(cls, type) and library_class(cls)
            and (dataclasses.is_dataclass(cls) or issubclass(cls, enum.Enum)
                 or (issubclass(cls, tuple) and hasattr(cls, "_fields"))))
    return known


class _RecordPickler(pickle.Pickler):
    """Pickles plain values and ``distlab`` value classes; anything else as a `Recorded`.

    Equal objects of one class get one `Recorded` (``seen``, reset for each snapshot): a run sends
    the same message value again and again, and its repr and JSON form cost more than the
    rest of the pickling.
    """

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, PROTOCOL)
        self.seen: dict[tuple[type, Any], tuple] = {}

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls in _PLAIN or (_trusted(obj) if isinstance(obj, type) else _trusted(cls)):
            return NotImplemented  # pickled as usual (a trusted class: by its name)
        try:
            return self.seen[cls, obj]
        except (KeyError, TypeError):  # not seen yet, or unhashable
            pass
        reduced = Recorded, (f"{cls.__module__}.{cls.__qualname__}", _safe_repr(obj),
                             _safe_json(obj))
        try:
            self.seen[cls, obj] = reduced
        except TypeError:
            pass
        return reduced


def _frozen_prefix(value: tuple, old: Any, known: int) -> int:
    """How many leading items of the tuple ``value`` can never change: first those that are
    the very objects of ``old`` (the tuple recorded before, whose ``known`` leading items
    could not change), then each further item that `never_changes` says cannot, believing
    only the classes that may cross into the grader (`_trusted`: distlab's own). A
    student's frozen dataclass can still be changed with ``object.__setattr__``: taken as
    unchanged, its change would never reach the grader."""
    count = 0
    if type(old) is tuple:
        for item, before in zip(value, old[:known]):
            if item is not before:
                break
            count += 1
    for item in value[count:]:
        if type(item) not in IMMUTABLE_TYPES and not never_changes(item, trusted=_trusted):
            break
        count += 1
    return count


def _safe_repr(obj: Any) -> str:
    try:
        text = repr(obj)
    except Exception as exc:  # the student's __repr__ raised: say so, in its place
        return f"<{type(obj).__qualname__}: repr raised {type(exc).__name__}>"
    return text if type(text) is str else f"<{type(obj).__qualname__}>"


def _safe_json(obj: Any) -> Any:
    """The JSON form of ``obj`` (as `Trace.dumps` writes it) if it is plain data, else its
    repr (a subclass of str, say, stays behind)."""
    try:
        value = _jsonable(obj)
    except Exception:
        return _safe_repr(obj)
    return value if _is_json(value) else _safe_repr(obj)


def _is_json(value: Any, depth: int = 0) -> bool:
    if type(value) in (type(None), bool, int, float, str):
        return True
    if depth > 50:
        return False
    if type(value) is list:
        return all(_is_json(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _is_json(v, depth + 1) for k, v in value.items())
    return False


def dumps(value: Any) -> bytes:
    """``value`` as record bytes (in the run's process; see the module docstring)."""
    buffer = io.BytesIO()
    _RecordPickler(buffer).dump(value)
    return buffer.getvalue()


class _RecordUnpickler(pickle.Unpickler):
    """Builds plain values, `Recorded` and ``distlab``'s value classes; refuses the rest."""

    def find_class(self, module: str, name: str) -> Any:
        found = sys.modules.get(module) if module.startswith("distlab.") else None
        for part in name.split(".") if found is not None else ():
            found = getattr(found, part, None)
        if (not isinstance(found, type) or found.__module__ != module
                or found.__qualname__ != name or not _trusted(found)):
            raise MalformedRecord(f"it names {module}.{name}, which a record cannot hold")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise MalformedRecord("it holds a persistent id")


def loads(data: bytes) -> Any:
    """Record bytes back as values (in the grader; see the module docstring)."""
    try:
        return _RecordUnpickler(io.BytesIO(data)).load()
    except MalformedRecord:
        raise
    except Exception as exc:  # anything unpickle can raise on damaged data
        raise MalformedRecord(f"it cannot be read ({type(exc).__name__}: {exc})") from None


# -- in the run's process ----------------------------------------------------------------------

#: what a node lacks (its attribute is not set), in a record
ABSENT = None


class RunRecorder:
    """Records a run, event after event, for the grader to judge (see the module docstring).

    Attached to a simulation before its first event (`attach`), it is the first of its
    monitors, so each step is recorded before a property can stop the run.
    """

    def __init__(self) -> None:
        self.sim = Simulation()  # the run recorded, once attached (`attach`)
        self.attributes: tuple[str, ...] = ()
        self.lengths: list[int] = []     # the trace's length after each step
        self.times: list[float] = []     # the simulated time after each step
        self.changes: list[tuple[int, str, str, bytes | None]] = []  # step, node, attr, value
        self.downs: list[tuple[int, tuple[str, ...]]] = []  # step, the crashed nodes from then
        #: what the student's code answered, for the grader to judge: a `Trial`'s observations,
        #: or the answers of the properties that ask the student's code (in their order)
        self.answers: Any = None
        self._last: dict[tuple[str, str], bytes | None] = {}
        self._raw: dict[tuple[str, str], Any] = {}  # the scalars and tuples last recorded
        self._frozen: dict[tuple[str, str], int] = {}  # how many items of each such tuple
        # can never change (`_frozen_prefix`)
        self._stale = 0  # the simulation's count of stale timers, as last seen
        self._down: frozenset[str] = frozenset()
        self._complete = 0  # how many steps are recorded in full
        self._length = 0  # the trace's length at the last step
        self._pickler_buffer = io.BytesIO()
        self._pickler = _RecordPickler(self._pickler_buffer)

    def attach(self, sim: Simulation) -> None:
        """Record ``sim`` from now on (with the node ``attributes`` the properties read)."""
        self.sim = sim
        sim.trace.in_memory = sys.maxsize  # the record reads the trace in memory, all of it
        sim.add_monitor(self)

    def __call__(self, sim: Simulation) -> None:
        # (after every event of a graded run: the trace is read in its flat form, six slots
        # an event, to save making an event object each time)
        events = sim.trace._events
        step, before, length = len(self.lengths), self._length, len(events) // 6
        self._complete = step  # until this call returns (an alarm may stop it half-way)
        self.lengths.append(length)
        self.times.append(sim.now)
        self._length = length
        if sim.crashed != self._down:
            self._down = frozenset(sim.crashed)
            self.downs.append((step, tuple(sorted(self._down))))
        if self.attributes:
            first = events[before * 6 + 1] if length > before else None
            stale, self._stale = sim.stale_timers != self._stale, sim.stale_timers
            if first in ("deliver", "timer"):
                ran: Any = (events[before * 6 + 2],)  # only that node's handler ran
            elif first == "drop" or (first is None and stale):
                ran = ()  # a message that could not arrive, a timer cancelled: no code ran
            else:
                ran = sim.nodes  # set-up, a start, a fault: look at every node
            last, raw, frozen, changes = self._last, self._raw, self._frozen, self.changes
            for node_id in ran:
                node = sim.nodes[node_id]
                for attribute in self.attributes:
                    value = getattr(node, attribute, _Absent)
                    key = node_id, attribute
                    cls = type(value)
                    # a plain scalar equal to the one last recorded has not changed, nor has
                    # an attribute still missing, nor the very tuple last recorded if none of
                    # its items can change: none need be pickled again (most attributes, most
                    # of the time)
                    if cls in _SCALARS or value is _Absent:
                        old = raw.get(key, _Unknown)
                        if old is value or (type(old) is cls and old == value):
                            continue
                        raw[key] = value
                    elif cls is tuple:
                        old = raw.get(key, _Unknown)
                        if value is old and frozen[key] == len(value):
                            continue
                        frozen[key] = _frozen_prefix(value, old, frozen.get(key, 0))
                        raw[key] = value
                    else:
                        raw[key] = _Unknown
                    blob = self._snapshot(value)
                    if last.get(key, b"") != blob:
                        last[key] = blob
                        changes.append((step, node_id, attribute, blob))
        self._complete = step + 1

    def _snapshot(self, value: Any) -> bytes | None:
        if value is _Absent:
            return ABSENT
        buffer, pickler = self._pickler_buffer, self._pickler
        buffer.seek(0)
        buffer.truncate()
        pickler.clear_memo()  # forget what was pickled before (inlined: once an event)
        if pickler.seen:
            pickler.seen.clear()
        pickler.dump(value)
        return buffer.getvalue()

    def record(self) -> dict[str, Any]:
        """The record of the run so far, as plain data (for `dumps`): its complete steps (a
        run stopped by its time limit may have stopped the last one half-way)."""
        sim, done = self.sim, self._complete
        return {"events": list(sim.trace._events), "nodes": list(sim.trace.nodes),
                "lengths": self.lengths[:done], "times": self.times[:done],
                "changes": [c for c in self.changes if c[0] < done],
                "downs": [d for d in self.downs if d[0] < done], "end": sim.now}


class _Absent:
    """Marks an attribute a node does not have."""


class _Unknown:
    """Marks an attribute whose last recorded value the recorder did not keep (it compares
    the value's bytes instead)."""


# -- in the grader -----------------------------------------------------------------------------

class NodeView:
    """A node as a record shows it: the attributes the properties read, at the current step.

    They are plain attributes of the view (set as the record is played), so reading one costs
    no more than reading a node's.
    """

    def __init__(self, node_id: str, attributes: tuple[str, ...],
                 decoded: dict[bytes, Any] | None = None):
        self.id = node_id
        self._attributes = attributes
        self._decoded = {} if decoded is None else decoded

    def _set(self, attribute: str, blob: bytes | None) -> None:
        if blob is ABSENT:
            self.__dict__.pop(attribute, None)
            return
        # the same value is often recorded on every node (a log the followers copy): it is
        # read once, and shared (a property reads a node's attributes; it never changes them)
        value = self._decoded.get(blob, _Absent)
        if value is _Absent:
            value = self._decoded[blob] = loads(blob)
        self.__dict__[attribute] = value

    def __getattr__(self, name: str) -> Any:  # only for what the view does not hold
        if name.startswith("_") or name in self._attributes:
            raise AttributeError(f"node {self.id!r} has no attribute {name!r}")
        raise ConfigurationError(
            f"a property reads {self.id}.{name}, which the graded run did not record: a lab "
            f"lists the node attributes its properties read in its class attribute "
            f"node_attributes = (...), or a check in Scenario(node_attributes=[...])")

    def __repr__(self) -> str:
        return f"<node {self.id} as recorded>"


class PlayedTrace(Trace):
    """The trace of a `RecordedRun`, growing as the run is played: a `Trace` whose events
    are each made into a `TraceEvent` once, when their step is played.

    Every property of a check reads each step's new events (`distlab.grading.properties.Run.
    new_events` slices the trace): a slice hands out the events made then, instead of making
    them again for each property (a check of lab 4 judges three or four properties a step).
    """

    __slots__ = ("_decoded",)

    def __init__(self) -> None:
        super().__init__()
        self._decoded: list[TraceEvent] = []

    def _grow(self, slots: list[Any]) -> None:
        """Append the events stored flat in ``slots`` (six slots an event)."""
        self._events.extend(slots)
        self._decoded.extend(events_from_slots(slots))

    def __len__(self) -> int:
        return len(self._decoded)

    def __getitem__(self, index: int | slice) -> TraceEvent | list[TraceEvent]:
        if isinstance(index, slice) and index.step in (None, 1):
            return self._decoded[index]  # (a new list, as Trace's slices are)
        return super().__getitem__(index)


class RecordedRun:
    """A recorded run, played back step by step to the properties as if it were running.

    It offers what properties read of a `Simulation`: ``now``, ``seed``, ``nodes`` (views
    with the recorded attributes), ``crashed``, ``trace`` (a real `Trace`, up to the current
    step), ``history`` (rebuilt from the trace's invoke and complete events) and
    ``add_monitor``. Build it with `from_data`, which checks the record's shape.

    It also counts the changes of the nodes it has played (``revision``: an attribute
    changed, or which nodes are down), which a `Simulation` does not: a property that reads
    the nodes after every step may skip reading them again while ``revision`` has not moved
    since it last read them, for nothing it reads of them has changed.
    """

    def __init__(self, seed: int, node_ids: list[str], events: list[Any], lengths: list[int],
                 times: list[float], changes: list[tuple[int, str, str, bytes | None]],
                 downs: list[tuple[int, tuple[str, ...]]], end: float,
                 attributes: tuple[str, ...]):
        self.seed = seed
        self.now = 0.0
        self.trace = PlayedTrace()
        self.trace.nodes = list(node_ids)
        decoded: dict[bytes, Any] = {}  # blob -> its value, shared by the views
        self.nodes = {node_id: NodeView(node_id, attributes, decoded) for node_id in node_ids}
        self.crashed: set[str] = set()
        self.history = History()
        self.end = end
        self._events, self._lengths, self._times = events, lengths, times
        self._changes, self._downs = changes, downs
        self._monitors: list[Callable[[Any], None]] = []
        self._step = 0
        self._change = self._down = 0
        self._operations: dict[int, Operation] = {}
        #: how many changes of the nodes have been played (see the class docstring)
        self.revision = 0

    @classmethod
    def from_data(cls, seed: int, data: Any, attributes: Sequence[str]) -> RecordedRun:
        """The run recorded in ``data`` (a `RunRecorder.record`), its shape checked."""
        if not isinstance(data, dict):
            raise MalformedRecord("it is not a dict")
        events, nodes = _field(data, "events", list), _field(data, "nodes", list)
        lengths, times = _field(data, "lengths", list), _field(data, "times", list)
        changes, downs = _field(data, "changes", list), _field(data, "downs", list)
        end = _field(data, "end", (int, float))
        if not all(type(n) is str for n in nodes) or len(set(nodes)) != len(nodes):
            raise MalformedRecord("its node ids are not distinct strings")
        if len(events) % 6:
            raise MalformedRecord("its events are not whole")
        kinds = events[1::6]
        if (not set(map(type, events[0::6])) <= {int, float} or not set(map(type, kinds)) <= {str}
                or not set(kinds) <= _KINDS
                or not set(map(type, events[2::6] + events[3::6])) <= {str, type(None)}
                or not set(map(type, events[4::6])) <= {int, type(None)}):
            raise MalformedRecord("its events are not events")
        count = len(events) // 6
        lengths_follow = (set(map(type, lengths)) <= {int} and lengths == sorted(lengths)
                          and (not lengths or 0 <= lengths[0] and lengths[-1] <= count))
        if (len(lengths) != len(times) or not lengths_follow
                or not set(map(type, times)) <= {int, float}):
            raise MalformedRecord("its steps do not follow the trace")
        known = set(nodes)
        for change in changes:
            if (type(change) is not tuple or len(change) != 4 or type(change[0]) is not int
                    or change[1] not in known or change[2] not in attributes
                    or not (change[3] is ABSENT or type(change[3]) is bytes)):
                raise MalformedRecord("a change of a node's attributes is not one")
        for down in downs:
            if (type(down) is not tuple or len(down) != 2 or type(down[0]) is not int
                    or type(down[1]) is not tuple or not set(down[1]) <= known):
                raise MalformedRecord("a change of the crashed nodes is not one")
        if [c[0] for c in changes] != sorted(c[0] for c in changes) or \
                [d[0] for d in downs] != sorted(d[0] for d in downs):
            raise MalformedRecord("its changes are out of order")
        _cross_check(events, lengths, times, changes, downs, end)
        return cls(seed, nodes, events, lengths, times, changes, downs, float(end),
                   tuple(attributes))

    @property
    def steps(self) -> int:
        """How many steps (events run) the record holds."""
        return len(self._lengths)

    def add_monitor(self, fn: Callable[[Any], None]) -> None:
        """Call ``fn(run)`` after every step from now on (as `Simulation.add_monitor`)."""
        self._monitors.append(fn)

    def is_up(self, node_id: str) -> bool:
        return node_id not in self.crashed

    def advance(self) -> None:
        """Apply the next step: the trace grows, time moves, nodes change."""
        step = self._step
        self._step += 1
        self._extend(self._lengths[step])
        self.now = float(self._times[step])
        changes = self._changes
        while self._change < len(changes) and changes[self._change][0] == step:
            _, node_id, attribute, blob = changes[self._change]
            self.nodes[node_id]._set(attribute, blob)
            self._change += 1
            self.revision += 1
        downs = self._downs
        while self._down < len(downs) and downs[self._down][0] == step:
            self.crashed = set(downs[self._down][1])
            self._down += 1
            self.revision += 1

    def run_monitors(self) -> None:
        """Call every monitor, as the simulation does after an event."""
        for monitor in self._monitors:
            monitor(self)

    def finish(self) -> None:
        """The state at the end of the run (its time may be past the last event)."""
        self.now = self.end

    def play_to_end(self) -> None:
        """Apply every step left, and the events after the last one (those of the event that
        stopped the run), then `finish`: the run as it ended."""
        while self._step < self.steps:
            self.advance()
        self._extend(len(self._events) // 6)
        self.finish()

    def play_trace(self) -> None:
        """The trace up to the last step, as a run judged to its end sees it, without playing
        the nodes' attributes (enough to compare two runs)."""
        if self._lengths:
            self._extend(self._lengths[-1])

    def _extend(self, length: int) -> None:
        """The trace up to ``length`` events; the history follows its invoke and complete."""
        events = self.trace._events
        start = len(events) // 6
        self.trace._grow(self._events[start * 6:length * 6])
        for i in range(start, length):
            if events[i * 6 + 1] in ("invoke", "complete"):
                self._apply_operation(events[i * 6 + 1], events[i * 6 + 5])

    def _apply_operation(self, kind: str, op: Any) -> None:
        if type(op) is not Operation:
            raise MalformedRecord(f"an {kind} event holds {type(op).__name__}, not an Operation")
        if kind == "invoke":
            self._operations[op.id] = mine = dataclasses.replace(op)
            self.history.operations.append(mine)
        elif op.id in self._operations:
            mine = self._operations[op.id]
            mine.status, mine.output, mine.complete_time = op.status, op.output, op.complete_time

    def __repr__(self) -> str:
        return f"<recorded run of seed {self.seed}: {len(self.trace)} events so far>"


def _cross_check(events: list[Any], lengths: list[int], times: list[float],
                 changes: list[tuple[int, str, str, bytes | None]],
                 downs: list[tuple[int, tuple[str, ...]]], end: float) -> None:
    """Check that a record agrees with itself, as every run's record does; `MalformedRecord`
    if not.

    Cheap checks, a few passes over the trace's columns, that a record made up by hand fails
    unless its author took care: time never goes back (in the trace, from step to step, and
    no event is later than its step); every message delivered, dropped or duplicated was
    sent before, between the same two nodes; a delivery or a timer begins a step, and that
    step changed the attributes of its node only (the only one whose code ran); and the
    nodes down after each step are those the trace's crash and restart events leave down.
    They cannot tell a careful forgery from a run: only running the code again could.
    """
    at = events[0::6]
    if at != sorted(at):
        raise MalformedRecord("its events are out of time: time goes back")
    if times != sorted(times) or (times and end < times[-1]):
        raise MalformedRecord("its time goes back from one step to the next")
    for length, now, before in zip(lengths, times, [0, *lengths]):
        if length > before and at[length - 1] > now:
            raise MalformedRecord(f"its event {length - 1} is later than its step")
    kinds, nodes, peers, ids = events[1::6], events[2::6], events[3::6], events[4::6]
    sent = {msg_id: (i, src, dst) for i, (kind, src, dst, msg_id)
            in enumerate(zip(kinds, nodes, peers, ids)) if kind == "send"}
    for i, (kind, node, peer, msg_id) in enumerate(zip(kinds, nodes, peers, ids)):
        if kind in ("deliver", "drop", "duplicate"):
            send = sent.get(msg_id)
            ends = (node, peer) if kind == "duplicate" else (peer, node)
            if send is None or send[0] > i or send[1:] != ends:
                raise MalformedRecord(f"its event {i} ({kind} of message {msg_id}) is of a "
                                      f"message never sent between those nodes")
    starts = {0, *lengths}  # where each step's events begin
    for i, kind in enumerate(kinds[:lengths[-1] if lengths else 0]):
        if kind in ("deliver", "timer") and i not in starts:
            raise MalformedRecord(f"its event {i} ({kind}) does not begin a step: a delivery or "
                                  f"a timer is the first event of the step that runs it")
    for step, node, _, _ in changes:
        if not 0 <= step < len(lengths):
            raise MalformedRecord(f"it changes {node} at step {step}, which it does not hold")
        first = lengths[step - 1] if step else 0  # the step's first event
        if (lengths[step] > first and kinds[first] in ("deliver", "timer")
                and nodes[first] != node):
            raise MalformedRecord(f"its step {step} changes {node}, whose code did not run then")
    down: set[str] = set()
    implied: list[tuple[int, frozenset[str]]] = []
    for i, kind in enumerate(kinds):
        if kind in ("crash", "restart"):
            step = bisect.bisect_right(lengths, i)  # the step that recorded event i
            if step == len(lengths):
                break  # after the last step: the record shows no step of it
            (down.add if kind == "crash" else down.discard)(nodes[i])
            if implied and implied[-1][0] == step:  # the record shows a step's end only
                implied.pop()
            if down != (implied[-1][1] if implied else frozenset()):
                implied.append((step, frozenset(down)))
    if implied != [(step, frozenset(nodes)) for step, nodes in downs]:
        raise MalformedRecord("the nodes it shows down are not those its crash and restart "
                              "events leave down")


def _field(data: dict, name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedRecord(f"its {name!r} is missing or of the wrong type")
    return value
