"""Checking that messages are immutable.

In a real system a message is copied onto the wire: the receiver can never see the sender's
later changes, nor change the sender's data. In one Python process, passing a list would
silently share it. So the simulator only accepts values that cannot change -- numbers,
strings, bytes, None, enums, tuples and frozensets of such values, and frozen dataclasses
(or named tuples) whose fields are such values -- and says what to use instead otherwise.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

from distlab.sim.errors import MessageError

_SCALARS: set[type] = {type(None), bool, int, float, complex, str, bytes, range}
# frozen dataclass type -> its field names, and a quick test that all of them hold scalars
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_SCALAR_FIELDS: dict[type, Callable[[Any], bool]] = {}

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


def check_message(msg: Any, where: str = "the message") -> None:
    """Raise `MessageError` unless ``msg`` is deeply immutable."""
    cls = type(msg)
    if cls in _SCALARS:
        return
    names = _FIELD_NAMES.get(cls)
    if names is not None:
        for name in names:
            check_message(getattr(msg, name), f"{where}.{name}")
        return
    if cls is tuple or cls is frozenset or (isinstance(msg, tuple) and hasattr(cls, "_fields")):
        for i, item in enumerate(msg):
            # the common items (a scalar, a known dataclass of scalars: the entries of a log)
            # pass the quick test, without a call nor the name of the place made for them
            kind = type(item)
            if kind in _SCALARS or (kind in _SCALAR_FIELDS and _SCALAR_FIELDS[kind](item)):
                continue
            check_message(item, f"{where}[{i}]")
        return
    if dataclasses.is_dataclass(msg) and not isinstance(msg, type):
        if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            raise MessageError(f"{where} is a {cls.__name__}, a dataclass that is not frozen: "
                               f"the receiver could change the sender's copy. Declare it with "
                               f"@dataclass(frozen=True).")
        _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(msg))
        _SCALAR_FIELDS[cls] = _scalar_fields_test(_FIELD_NAMES[cls])
        check_message(msg, where)
        return
    if isinstance(msg, enum.Enum):
        _SCALARS.add(cls)
        return
    advice = _ADVICE.get(cls, "messages must be built from numbers, strings, bytes, None, "
                              "tuples, frozensets and frozen dataclasses")
    raise MessageError(f"{where} is a {cls.__name__}, which can change after it is sent, so "
                       f"sender and receiver would share memory: {advice}.")


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
