"""Client histories as JSON lines, following Jepsen's history conventions.

One event per line, in the order they happened::

    {"process": 0, "type": "invoke", "f": "write", "value": 3}
    {"process": 1, "type": "invoke", "f": "read", "value": null}
    {"process": 0, "type": "ok", "f": "write", "value": 3}
    {"process": 1, "type": "ok", "f": "read", "value": 3}

* ``process``: who did it (a number or a string); a process does one operation at a time.
* ``type``: ``invoke`` starts an operation; ``ok`` (it happened), ``fail`` (it certainly did
  not happen) or ``info`` (the outcome is unknown: it may or may not have happened) ends it.
  An invoke never completed is unknown too.
* ``f``: the function (``read``, ``write``, ``cas``, ``get``, ``put``, ``append``,
  ``enqueue``, ``dequeue``, ``add``), as the model names it.
* ``value``: on the invoke, the argument (``null`` for a read; ``[expected, new]`` for a cas);
  on the ``ok``, the result (the value read; ``null`` means never written).
* ``key``: only for key-value models.

The position in the file is the time: an operation whose ``ok`` line comes before another's
``invoke`` line precedes it in real time. Lines of Jepsen's fault injector (process
``"nemesis"``) are skipped, so a Jepsen history exported as JSON can be checked as it is.
Mistakes are reported as `HistoryFormatError` with the line number.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

from distlab.check.linearizability import Op, _operations
from distlab.check.models import UNKNOWN, Model, get_model

EVENT_TYPES = ("invoke", "ok", "fail", "info")
NEMESIS = ("nemesis", ":nemesis")


#: The longest line (one event) read, in characters: a longer one is refused, not loaded.
MAX_LINE = 1 << 20
#: The largest history written as one JSON array, in characters.
MAX_ARRAY = 1 << 26
#: How deeply lists may nest in a value.
MAX_DEPTH = 100
#: The most digits of an integer (Python refuses to convert more than 4,300).
MAX_DIGITS = 4000


class HistoryFormatError(ValueError):
    """A history file that cannot be read; ``line`` is the (1-based) line at fault (or, in a
    history written as one JSON array, the event's position: then ``unit`` is ``"event"``)."""

    def __init__(self, line: int, message: str, unit: str = "line") -> None:
        super().__init__(f"{unit} {line}: {message}")
        self.line = line
        self.unit = unit


def read_jsonl(source: str | Path | IO[str],
               model: Model | type[Model] | str | None = None) -> list[Op]:
    """Read a history from a JSON lines file (a path or an open text file).

    With a ``model``, every ``f`` is checked against it, and keys are required (key-value
    models) or refused (the others). Each operation's times are line numbers. A history
    written as one JSON array of events (``[{...}, {...}]``) is read too; its times are then
    the events' positions in the array. Lines longer than `MAX_LINE` characters, binary data
    and values that are not plain JSON (NaN, infinities, lists nested deeper than
    `MAX_DEPTH`) are refused with a `HistoryFormatError`.
    """
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8") as f:
            return read_jsonl(f, model)
    lines = _bounded_lines(source)
    for number, text in lines:
        if not text.strip():
            continue
        if text.lstrip().startswith("["):
            rest = source.read(MAX_ARRAY + 1)
            if len(rest) > MAX_ARRAY:
                raise HistoryFormatError(number, f"a history written as one JSON array may "
                                         f"hold at most {MAX_ARRAY:,} characters; write it "
                                         f"as JSON lines, one event per line")
            return _pair(_array_events(number, text + rest), model, "event")
        return _pair(_decoded(itertools.chain([(number, text)], lines)), model, "line")
    return []


def parse_jsonl(lines: Iterable[str], model: Model | type[Model] | str | None = None) -> list[Op]:
    """Parse JSON lines (an iterable of strings, such as an open file) into operations."""
    return _pair(_decoded(enumerate(lines, start=1)), model, "line")


def _bounded_lines(f: IO[str]) -> Iterator[tuple[int, str]]:
    """The numbered lines of ``f``, refusing a line that is too long or holds NUL bytes."""
    number = 0
    while True:
        text = f.readline(MAX_LINE + 1)
        if not text:
            return
        number += 1
        if "\0" in text:
            raise HistoryFormatError(number, "holds NUL bytes: this is not a text file of "
                                     "JSON lines")
        if len(text) > MAX_LINE:
            raise HistoryFormatError(number, f"is longer than {MAX_LINE:,} characters; an "
                                     f"event is one short JSON object")
        yield number, text


def _decoded(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, Any]]:
    """The JSON value of each non-blank numbered line."""
    for number, text in lines:
        if text.strip():
            yield number, _loads(text, number)


def _array_events(number: int, text: str) -> Iterator[tuple[int, Any]]:
    """The events of a history written as one JSON array (starting on line ``number``)."""
    events = _loads(text, number, note=" (the file starts with '[': it was read as one "
                                       "JSON array of events)")
    if not isinstance(events, list):
        raise HistoryFormatError(number, "the file starts with '[' but is not one JSON array "
                                 "of events")
    return enumerate(events, start=1)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a value a history can hold (use a number or null)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _refuse_constant(text)
    return value


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise ValueError(f"a number of {digits:,} digits is too long (at most {MAX_DIGITS:,})")
    return int(text)


def _loads(text: str, number: int, note: str = "") -> Any:
    """``json.loads`` of ``text`` (from line ``number`` on), refusing NaN, infinities and
    endless numbers; errors are `HistoryFormatError`, with ``note`` added."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite,
                          parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise HistoryFormatError(number + exc.lineno - 1, f"not valid JSON ({exc.msg}, "
                                 f"column {exc.colno}){note}") from None
    except RecursionError:
        raise HistoryFormatError(number, f"values nest too deeply (at most {MAX_DEPTH} "
                                 f"levels of lists){note}") from None
    except ValueError as exc:  # NaN, an infinity, or an integer too long
        raise HistoryFormatError(number, f"{exc}{note}") from None


def _pair(events: Iterable[tuple[int, Any]], model: Model | type[Model] | str | None,
          unit: str) -> list[Op]:
    """Operations from numbered events: each completion is paired with its invoke."""
    checked_model = None if model is None else get_model(model)
    # process -> (operation id, f, key, value, number of the invoke)
    in_progress: dict[Any, tuple[int, str, Any, Any, int]] = {}
    ops: list[Op] = []
    next_id = 0
    for number, data in events:
        try:
            event = _parse_event(data, checked_model)
            if event is None:
                continue
            process, kind, f, key, value = event
            if kind == "invoke":
                _check_invoke(in_progress, process, f, value, unit)
                in_progress[process] = (next_id, f, key, value, number)
                next_id += 1
                continue
            if process not in in_progress:
                raise _EventError(f"{kind!r} for process {process!r}, which has no operation "
                                  f"in progress (each completion must follow its process's "
                                  f"invoke)")
            op_id, invoked_f, invoked_key, argument, invoked = in_progress.pop(process)
            if f != invoked_f:
                raise _EventError(f"{kind!r} of {f!r} completes process {process!r}'s "
                                  f"{invoked_f!r} invoked on {unit} {invoked}")
            if key is not None and key != invoked_key:
                raise _EventError(f"key {_json(key)} differs from the invoke's key "
                                  f"{_json(invoked_key)} ({unit} {invoked})")
        except _EventError as exc:
            raise HistoryFormatError(number, str(exc), unit) from None
        output = value if kind == "ok" else UNKNOWN
        ops.append(Op(op_id, process, f, invoked_key, argument, output, kind, invoked, number))
    for process, (op_id, f, key, argument, invoked) in in_progress.items():
        ops.append(Op(op_id, process, f, key, argument, UNKNOWN, "pending", invoked, None))
    return sorted(ops, key=lambda op: op.id)


def _check_invoke(in_progress: dict[Any, tuple[int, str, Any, Any, int]], process: Any,
                  f: str, value: Any, unit: str) -> None:
    """Refuse an invoke by a busy process, or a cas without its pair of values."""
    if process in in_progress:
        _, other_f, _, _, other = in_progress[process]
        raise _EventError(f"process {process!r} invokes {f!r} while its {other_f!r} from "
                          f"{unit} {other} has not completed; a process does one operation "
                          f"at a time (after an 'info', give the process a new id, as "
                          f"Jepsen does)")
    if f == "cas" and not (isinstance(value, tuple) and len(value) == 2):
        raise _EventError(f"a cas takes [expected, new] as its value; got {_json(value)}")


class _EventError(ValueError):
    """What is wrong with one event (the caller adds where it is)."""


def _parse_event(event: Any, model: Model | None) -> tuple[Any, str, str, Any, Any] | None:
    """(process, type, f, key, value) of one decoded event, or None for an event to skip."""
    if not isinstance(event, dict):
        example = '{"process": 0, "type": "invoke", "f": "read"}'
        raise _EventError(f"expected a JSON object such as {example}; got "
                          f"{json.dumps(event)[:60]}")
    if "process" not in event:
        raise _EventError("missing \"process\" (who performed the operation)")
    process = event["process"]
    if process in NEMESIS:
        return None
    if not isinstance(process, (int, str)) or isinstance(process, bool):
        raise _EventError(f"\"process\" must be a number or a string; got {_json(process)}")
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        raise _EventError(f"\"type\" must be one of {', '.join(EVENT_TYPES)}; got "
                          f"{_json(kind)}")
    f = event.get("f")
    if not isinstance(f, str):
        raise _EventError(f"\"f\" must name the operation (a string such as \"read\"); got "
                          f"{_json(f)}")
    value, key = _freeze(event.get("value")), _freeze(event.get("key"))
    if model is not None:
        if f not in model.functions:
            raise _EventError(f"{f!r} is not an operation of model {model.name} (it has "
                              f"{', '.join(sorted(model.functions))})")
        if model.keyed and key is None and kind == "invoke":
            raise _EventError(f"model {model.name} needs a \"key\" on every invoke")
        if not model.keyed and key is not None:
            raise _EventError(f"this event has a \"key\" but model {model.name} is a single "
                              f"object; use the kv model for key-value histories")
    return process, kind, f, key, value


def _freeze(value: Any, depth: int = 0) -> Any:
    """JSON data as hashable values: lists become tuples."""
    if isinstance(value, list):
        if depth == MAX_DEPTH:
            raise _EventError(f"values nest too deeply (at most {MAX_DEPTH} levels of lists)")
        return tuple(_freeze(v, depth + 1) for v in value)
    if isinstance(value, dict):
        raise _EventError(f"values must be null, numbers, strings, booleans or lists; got the "
                          f"object {json.dumps(value)[:60]}")
    return value


def _json(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, tuple) else json.dumps(list(value))


def history_events(history: Any) -> list[dict[str, Any]]:
    """The history's operations as Jepsen-style events, in time order.

    At equal times, invocations come before completions (the operations stay concurrent),
    except that a process's completion always precedes its own next invocation.
    """
    timed: list[tuple[float, int, int, dict[str, Any]]] = []
    completing = {(op.process, op.complete_time) for op in _operations(history)
                  if op.complete_time is not None and op.status != "pending"}
    for op in _operations(history):
        invoke: dict[str, Any] = {"process": op.process, "type": "invoke", "f": op.f,
                                  "value": op.value}
        if op.key is not None:
            invoke["key"] = op.key
        phase = 2 if (op.process, op.invoke_time) in completing else 0
        timed.append((op.invoke_time, phase, op.id, invoke))
        if op.status == "pending" or op.complete_time is None:
            continue
        result = op.output if op.status == "ok" and op.output is not None else op.value
        complete = {**invoke, "type": op.status, "value": result}
        timed.append((op.complete_time, 1, op.id, complete))
    timed.sort(key=lambda t: t[:3])
    return [event for *_, event in timed]


def dumps_jsonl(history: Any) -> str:
    """The history as JSON lines (one event per line)."""
    return "".join(json.dumps(event) + "\n" for event in history_events(history))


def write_jsonl(history: Any, target: str | Path | IO[str]) -> None:
    """Write the history (a `distlab.sim.History` or a list of operations) as JSON lines."""
    text = dumps_jsonl(history)
    if isinstance(target, (str, Path)):
        Path(target).write_text(text, encoding="utf-8")
    else:
        target.write(text)
