"""A canonical, hashable form of node state, so that equal states hash equal.

The schedule explorer (`distlab.check.explore`) remembers the states it has already seen.
A node's state is usually made of dicts, lists and sets, which Python cannot hash, and two
equal dicts may list their keys in different orders. `canonical` turns such a value into
nested tuples and frozensets that are equal exactly when the values are equal:

* a dict becomes a frozenset of its (key, value) pairs (so key order does not matter);
* a list, tuple or deque becomes a tuple; a set a frozenset;
* a frozen dataclass (a message) stays as it is: it already compares by its fields;
* a method bound to a node (a table of handlers, ``{"ping": self.on_ping}``) becomes its
  function and the node's id: the same in every run, where the node object is not;
* another dataclass, or any object with attributes, becomes its class and its fields;
* numbers, strings, None, enums and other hashable values stay as they are.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Hashable
from types import MethodType
from typing import Any

from distlab.sim import Node

_PLAIN = (type(None), bool, int, float, str, bytes)


def canonical(value: Any) -> Hashable:
    """A hashable value equal to ``canonical(other)`` exactly when ``value == other``."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        if all(type(k) in _PLAIN and type(v) in _PLAIN for k, v in value.items()):
            return ("dict", frozenset(value.items()))
        return ("dict", frozenset((canonical(k), canonical(v)) for k, v in value.items()))
    if kind is tuple or kind is list:
        return tuple(canonical(v) for v in value)
    if kind is frozenset or kind is set:
        return ("set", frozenset(canonical(v) for v in value))
    if kind is MethodType and isinstance(value.__self__, Node):
        return ("method", value.__func__, value.__self__.id)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        params = value.__dataclass_params__
        if params.frozen and params.eq and _hashes(value):
            return value  # a frozen dataclass (a message) compares and hashes by its fields
        return (kind, tuple(canonical(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, dict):
        return ("dict", frozenset((canonical(k), canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, deque)):
        return tuple(canonical(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(canonical(v) for v in value))
    if isinstance(value, Hashable) and kind.__hash__ is not object.__hash__:
        return value  # hashes by value (enums, classes with their own __hash__...)
    if hasattr(value, "__dict__"):
        return (kind, canonical(vars(value)))
    return repr(value)


def _hashes(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
