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

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from distlab.check.linearizability import Op, _operations
from distlab.check.models import UNKNOWN, Model, get_model

EVENT_TYPES = ("invoke", "ok", "fail", "info")
NEMESIS = ("nemesis", ":nemesis")


class HistoryFormatError(ValueError):
    """A history file that cannot be read; ``line`` is the (1-based) line at fault."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def read_jsonl(source: str | Path | IO[str],
               model: Model | type[Model] | str | None = None) -> list[Op]:
    """Read a history from a JSON lines file (a path or an open text file).

    With a ``model``, every ``f`` is checked against it, and keys are required (key-value
    models) or refused (the others). Each operation's times are line numbers.
    """
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8") as f:
            return parse_jsonl(f, model)
    return parse_jsonl(source, model)


def parse_jsonl(lines: Iterable[str], model: Model | type[Model] | str | None = None) -> list[Op]:
    """Parse JSON lines (an iterable of strings, such as an open file) into operations."""
    checked_model = None if model is None else get_model(model)
    # process -> (operation id, f, key, value, line of the invoke)
    in_progress: dict[Any, tuple[int, str, Any, Any, int]] = {}
    ops: list[Op] = []
    next_id = 0
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        event = _parse_event(number, text, checked_model)
        if event is None:
            continue
        process, kind, f, key, value = event
        if kind == "invoke":
            if process in in_progress:
                _, other_f, _, _, other_line = in_progress[process]
                raise HistoryFormatError(
                    number, f"process {process!r} invokes {f!r} while its {other_f!r} from line "
                    f"{other_line} has not completed; a process does one operation at a time "
                    f"(after an 'info', give the process a new id, as Jepsen does)")
            if f == "cas" and not (isinstance(value, tuple) and len(value) == 2):
                raise HistoryFormatError(
                    number, f"a cas takes [expected, new] as its value; got {_json(value)}")
            in_progress[process] = (next_id, f, key, value, number)
            next_id += 1
            continue
        if process not in in_progress:
            raise HistoryFormatError(
                number, f"{kind!r} for process {process!r}, which has no operation in progress "
                f"(each completion must follow its process's invoke)")
        op_id, invoked_f, invoked_key, argument, invoked_line = in_progress.pop(process)
        if f != invoked_f:
            raise HistoryFormatError(
                number, f"{kind!r} of {f!r} completes process {process!r}'s {invoked_f!r} "
                f"invoked on line {invoked_line}")
        if key is not None and key != invoked_key:
            raise HistoryFormatError(
                number, f"key {_json(key)} differs from the invoke's key {_json(invoked_key)} "
                f"(line {invoked_line})")
        output = value if kind == "ok" else UNKNOWN
        ops.append(Op(op_id, process, f, invoked_key, argument, output, kind, invoked_line,
                      number))
    for process, (op_id, f, key, argument, line) in in_progress.items():
        ops.append(Op(op_id, process, f, key, argument, UNKNOWN, "pending", line, None))
    return sorted(ops, key=lambda op: op.id)


def _parse_event(number: int, text: str,
                 model: Model | None) -> tuple[Any, str, str, Any, Any] | None:
    """(process, type, f, key, value) of one line, or None for a line to skip."""
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HistoryFormatError(number, f"not valid JSON ({exc.msg}, column {exc.colno})") \
            from None
    if not isinstance(event, dict):
        example = '{"process": 0, "type": "invoke", "f": "read"}'
        raise HistoryFormatError(number, f"expected a JSON object such as {example}; got "
                                 f"{text.strip()[:60]}")
    if "process" not in event:
        raise HistoryFormatError(number, "missing \"process\" (who performed the operation)")
    process = event["process"]
    if process in NEMESIS:
        return None
    if not isinstance(process, (int, str)) or isinstance(process, bool):
        raise HistoryFormatError(number, f"\"process\" must be a number or a string; got "
                                 f"{_json(process)}")
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        raise HistoryFormatError(number, f"\"type\" must be one of {', '.join(EVENT_TYPES)}; "
                                 f"got {_json(kind)}")
    f = event.get("f")
    if not isinstance(f, str):
        raise HistoryFormatError(number, f"\"f\" must name the operation (a string such as "
                                 f"\"read\"); got {_json(f)}")
    try:
        value, key = _freeze(event.get("value")), _freeze(event.get("key"))
    except TypeError as exc:
        raise HistoryFormatError(number, str(exc)) from None
    if model is not None:
        if f not in model.functions:
            raise HistoryFormatError(
                number, f"{f!r} is not an operation of model {model.name} (it has "
                f"{', '.join(sorted(model.functions))})")
        if model.keyed and key is None and kind == "invoke":
            raise HistoryFormatError(number, f"model {model.name} needs a \"key\" on every "
                                     f"invoke")
        if not model.keyed and key is not None:
            raise HistoryFormatError(
                number, f"this event has a \"key\" but model {model.name} is a single object; "
                f"use the kv model for key-value histories")
    return process, kind, f, key, value


def _freeze(value: Any) -> Any:
    """JSON data as hashable values: lists become tuples."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        raise TypeError(f"values must be null, numbers, strings, booleans or lists; got the "
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
