"""Checking that values are immutable: messages, and the values the explorer and the grader
may keep without copying.

In a real system a message is copied onto the wire: the receiver can never see the sender's
later changes, nor change the sender's data. In one Python process, passing a list would
silently share it. So the simulator only accepts values that cannot change -- numbers,
strings, bytes, None, enums, tuples and frozensets of such values, and frozen dataclasses
(or named tuples) whose fields are such values -- and says what to use instead otherwise
(`check_message`).

The same question -- can this value ever change in place? -- is asked higher up, where a
wrong yes would be a silent bug: the explorer copies a node's state shallowly when nothing in
it can change (`distlab.check.snapshots.immutable`), and the grader's recorder skips
pickling again a value that cannot have changed (`distlab.grading.records`). They ask
`never_changes`, believing only the library's own classes (`library_class`), because a
frozen dataclass is frozen by convention only: ``object.__setattr__`` still changes it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

from distlab.sim.errors import MessageError

#: The built-in types whose values never change and hold nothing that could: every caller
#: takes them as they are (exact types: a subclass may add attributes that change).
IMMUTABLE_TYPES: frozenset[type] = frozenset(
    {type(None), bool, int, float, complex, str, bytes, range})
#: How deep `never_changes` looks by default: a value nested deeper is taken as one that may
#: change (safe for a caller that then copies it), and a cycle (which only
#: ``object.__setattr__`` can make in a frozen value) ends there.
DEPTH = 20
#: No limit (a negative depth never reaches 0): a message is checked all the way down, or
#: refused. (Not ``sys.maxsize``: counting down from it made a new int object at every
#: level, while -2 to -5 are Python's cached small ints.)
_NO_LIMIT = -1

#: the classes whose values never change and hold nothing to look into: the built-in ones,
#: the enums met so far and the classes declared with `register_immutable`
_SCALARS: set[type] = set(IMMUTABLE_TYPES)
# frozen dataclass type -> its field names, and a quick test that all of them hold scalars
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_SCALAR_FIELDS: dict[type, Callable[[Any], bool]] = {}

#: Which classes to believe when they promise that their values never change (enums, named
#: tuples, frozen dataclasses, registered classes): a function of the class.
Trust = Callable[[type], bool]

_ADVICE = {
    list: "use a tuple instead of a list",
    dict: "use a tuple of (key, value) pairs or a frozen dataclass instead of a dict",
    set: "use a frozenset instead of a set",
    bytearray: "use bytes instead of a bytearray",
}


def register_immutable(cls: type) -> type:
    """Declare that instances of ``cls`` never change, so they may travel in messages.

    Usable as a class decorator.
    """
    _SCALARS.add(cls)
    return cls


def library_class(cls: type) -> bool:
    """Whether ``cls`` is one of distlab's own classes (defined in a ``distlab.`` module).

    Their promise never to change is reviewed code's: no library class changes a frozen
    value after building it. A `Trust` for `never_changes`.
    """
    module = getattr(cls, "__module__", None)
    return type(module) is str and module.startswith("distlab.")


def never_changes(value: Any, *, trusted: Trust | None = None, depth: int = DEPTH) -> bool:
    """Whether ``value`` can never change in place, nor anything it holds.

    Yes for
    * a value of a built-in immutable type (`IMMUTABLE_TYPES`: None, bools, numbers -- NaN
      too --, strings, bytes, ranges): nothing in it can change;
    * a tuple or a frozenset (exactly those types) whose items never change: the container
      cannot change, so only its items could;
    * a named tuple whose items never change, and a frozen dataclass whose fields never
      change: Python refuses to set their attributes;
    * an enum's member: a constant, one object for the whole program, never copied;
    * a value of a class declared with `register_immutable`: its author says so.

    The last three rest on a class's word, and ``object.__setattr__`` still changes a frozen
    dataclass. A caller for whom a wrong yes would be a silent bug passes ``trusted``: only
    the classes it accepts are believed (the explorer and the grader pass `library_class`,
    or a test built on it). Without ``trusted`` every class is believed: the simulator's
    messages are checked against mistakes, not against code that breaks a freeze on purpose.

    A value nested more than ``depth`` containers deep is taken as one that may change (a
    negative ``depth``: no limit).
    """
    return _changing_part(value, trusted, depth) is None


def check_message(msg: Any, where: str = "the message") -> None:
    """Raise `MessageError` unless ``msg`` is deeply immutable (`never_changes`, every class
    believed, however deep), naming the part that can change and what to use instead."""
    found = _changing_part(msg, None, _NO_LIMIT)
    if found is None:
        return
    path, part = found
    where, cls = where + path, type(part)
    if dataclasses.is_dataclass(part) and not isinstance(part, type):  # (frozen ones pass)
        raise MessageError(f"{where} is a {cls.__name__}, a dataclass that is not frozen: "
                           f"the receiver could change the sender's copy. Declare it with "
                           f"@dataclass(frozen=True).")
    advice = _ADVICE.get(cls, "messages must be built from numbers, strings, bytes, None, "
                              "tuples, frozensets and frozen dataclasses")
    raise MessageError(f"{where} is a {cls.__name__}, which can change after it is sent, so "
                       f"sender and receiver would share memory: {advice}.")


def _changing_part(value: Any, trusted: Trust | None, depth: int) -> tuple[str, Any] | None:
    """None if ``value`` never changes (`never_changes`); else a part of it that may, and
    the path to that part from ``value`` (``".entries[2]"``; ``""`` for ``value`` itself).

    The path is made only on the way back from a part that may change: the usual answer,
    None, costs no string.
    """
    cls = type(value)
    if cls in _SCALARS:
        if trusted is None or cls in IMMUTABLE_TYPES or trusted(cls):
            return None
        return "", value
    if trusted is not None and cls is not tuple and cls is not frozenset and not trusted(cls):
        return "", value
    names = _FIELD_NAMES.get(cls)
    if names is None and not (cls is tuple or cls is frozenset
                              or (isinstance(value, tuple) and hasattr(cls, "_fields"))):
        return _first_of_its_class(value, trusted, depth)
    if depth == 0:
        return "", value  # too deep to look into: taken as a value that may change
    depth -= 1
    quick = trusted is None  # a class in _SCALARS (or _SCALAR_FIELDS) is believed
    if names is not None:  # a frozen dataclass
        for name in names:
            field = getattr(value, name)
            kind = type(field)
            if kind in IMMUTABLE_TYPES or (quick and kind in _SCALARS):
                continue
            found = _changing_part(field, trusted, depth)
            if found is not None:
                return f".{name}{found[0]}", found[1]
        return None
    for i, item in enumerate(value):  # a tuple, a frozenset, a named tuple
        # the common items (a scalar, a known dataclass of scalars: the entries of a log)
        # pass the quick test, without a call
        kind = type(item)
        if kind in IMMUTABLE_TYPES or (quick and (kind in _SCALARS or (
                kind in _SCALAR_FIELDS and _SCALAR_FIELDS[kind](item)))):
            continue
        found = _changing_part(item, trusted, depth)
        if found is not None:
            return f"[{i}]{found[0]}", found[1]
    return None


def _first_of_its_class(value: Any, trusted: Trust | None,
                        depth: int) -> tuple[str, Any] | None:
    """`_changing_part` for a value of a class it has not learnt yet (neither a scalar nor a
    frozen dataclass met before): learn the class, if its values never change."""
    cls = type(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            return "", value
        _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(value))
        _SCALAR_FIELDS[cls] = _scalar_fields_test(_FIELD_NAMES[cls])
        return _changing_part(value, trusted, depth)
    if isinstance(value, enum.Enum):
        _SCALARS.add(cls)
        return None
    return "", value


def _scalar_fields_test(names: tuple[str, ...]) -> Callable[[Any], bool]:
    """A function telling whether the fields ``names`` of a message all hold scalars.

    The simulator asks it for every message it sends: when it says yes (the common case) the
    message is immutable and nothing else is checked; otherwise `check_message` looks deeper.
    It is generated once per message class, as `dataclasses` generates ``__init__``, because
    ``msg.name`` is several times faster than ``getattr(msg, "name")``.
    """
    test = " and ".join(f"type(msg.{name}) in scalars" for name in names) or "True"
    namespace: dict[str, Any] = {}
    exec(f"def fields_are_scalars(msg, scalars=scalars):\n    return {test}\n",
         {"scalars": _SCALARS}, namespace)
    return namespace["fields_are_scalars"]
