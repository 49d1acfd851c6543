"""What a node may keep in its durable ``storage``: the same rule in the simulator and for real.

``self.storage`` survives a crash. In the simulator the simulation simply keeps the dict; in a
real process (`distlab.net`) it is written to disk as JSON after every handler and read back
when the process restarts. A value that cannot make that trip would work in the simulator and
crash the real node, or come back different. So both worlds apply one rule, `check_storable`:
storage holds only

* None, bool, int, float, complex, str, bytes;
* tuples, lists, sets, frozensets and dicts of such values -- of exactly these classes: a
  ``defaultdict``, ``OrderedDict`` or ``Counter`` would come back from disk as a plain dict,
  a ``deque`` or a ``range`` not at all;
* dataclasses, named tuples and enums whose fields are such values,

and no value that contains itself. The simulator checks each value as it is written into
`Storage` (``self.storage[key] = value``, ``setdefault``, ``update``) and the whole storage
when the node crashes (which also catches a value changed in place, such as
``self.storage["log"].append(...)``); the real host checks the whole storage before it writes
it, after every handler. Where this rule and `distlab.net.codec` differ, the codec is stricter
in one way only: a real node's codec must know the classes (they must be defined in, or
imported into, the node class's module).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from distlab.sim.errors import StorageError

_SCALARS = frozenset({type(None), bool, int, float, complex, str, bytes})
_CONTAINERS = frozenset({tuple, list, set, frozenset})
_INDEXED = (tuple, list)
_DATACLASS_FIELDS: dict[type, tuple[str, ...]] = {}     # the field names of each class seen

_ADVICE = {
    "defaultdict": "store dict(value)", "OrderedDict": "store dict(value)",
    "Counter": "store dict(value)", "deque": "store list(value)", "range": "store list(value)",
    "bytearray": "store bytes(value)",
}


def check_storable(value: Any, where: str = "storage") -> None:
    """Raise `StorageError` unless ``value`` may be kept in a node's storage (module docstring).

    ``where`` names the value in the message, which then says where inside it the problem is,
    as in ``storage['log'][3].command``.
    """
    if type(value) in _SCALARS:
        return
    try:
        _check(value, set())
    except _Refused as refused:
        for step in reversed(refused.path):        # from the outside in
            where = f"{step} of {where}" if step.startswith(("an item", "a key")) else where + step
        raise StorageError(f"{where} {refused.reason}") from None


class _Refused(Exception):
    """Raised inside `_check`; ``path`` collects, on the way out, where the value was."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []     # innermost step first: "[3]", "['key']", ".field", ...


def _check(value: Any, enclosing: set[int]) -> None:
    """Raise `_Refused` unless ``value`` (not a scalar) is storable.

    Written for speed, as nodes write storage often: scalars are passed over without a call,
    and the path to a problem is only worked out once there is one.
    """
    cls = type(value)
    if cls in _SCALARS:
        return
    if id(value) in enclosing:
        raise _Refused("contains itself, so it could not be written to disk (JSON has no "
                       "references): store the data, not a cycle")
    enclosing.add(id(value))
    # Where the loop is inside ``value``: ``step`` (an index, a key, a field name) and how it
    # reads (``kind``). Only put into words if something inside is refused.
    kind, step = "", None
    try:
        if cls in _CONTAINERS or (isinstance(value, tuple) and hasattr(cls, "_fields")):
            kind = "[]" if cls in _INDEXED else "an item"
            for step, item in enumerate(value):
                if type(item) not in _SCALARS:
                    _check(item, enclosing)
        elif cls is dict or cls is Storage:
            for step, item in value.items():
                kind = "a key"
                if type(step) not in _SCALARS:
                    _check(step, enclosing)
                kind = "[]"
                if type(item) not in _SCALARS:
                    _check(item, enclosing)
        elif cls in _DATACLASS_FIELDS or (dataclasses.is_dataclass(value)
                                          and not isinstance(value, type)):
            names = _DATACLASS_FIELDS.get(cls)
            if names is None:
                names = _DATACLASS_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(value))
            kind = "."
            for step in names:
                item = getattr(value, step)
                if type(item) not in _SCALARS:
                    _check(item, enclosing)
        elif not isinstance(value, enum.Enum):
            advice = _ADVICE.get(cls.__name__, "build storage from None, bool, int, float, "
                                                "complex, str, bytes, tuples, lists, sets, "
                                                "frozensets, dicts, dataclasses, named tuples "
                                                "and enums")
            raise _Refused(f"is of type {cls.__name__}, which a real node could not write to "
                           f"disk and read back as it was (storage must survive a crash): "
                           f"{advice}")
    except _Refused as refused:
        if kind:
            refused.path.append(f"[{step!r}]" if kind == "[]" else f".{step}" if kind == "."
                                else kind)
        raise
    enclosing.discard(id(value))


class Storage(dict):  # type: ignore[type-arg]
    """A node's durable storage: a dict that refuses, as it is written, a value that could not
    survive a real crash (`check_storable`). Reading it costs what reading a dict costs.

    What it is built with is not checked: the simulation builds it empty, a real host from
    what it read from disk.
    """

    __slots__ = ()

    def __setitem__(self, key: Any, value: Any) -> None:
        if type(key) not in _SCALARS:
            check_storable(key, "a storage key")
        if type(value) not in _SCALARS:
            check_storable(value, f"storage[{key!r}]")
        super().__setitem__(key, value)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> Storage:
        self.update(other)
        return self

    def __reduce__(self) -> tuple[type[Storage], tuple[dict[Any, Any]]]:
        # copied and pickled (schedule exploration saves states) without checking again
        return Storage, (dict(self),)
