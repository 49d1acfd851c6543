"""Turning messages and storage into bytes and back: an explicit JSON codec.

In the simulator a message is a Python object handed from one node to another. Between real
processes it must be *serialized*. We do not use `pickle`: unpickling runs code chosen by
whoever wrote the bytes, so a pickle port open to anyone is a remote-code-execution hole.
Instead every value is written as plain JSON, and the only classes that can come back out are
the ones a `Codec` was told about (its *registry*), found by name:

==========================  ==================================================
Python value                JSON
==========================  ==================================================
None, bool, int, float, str the same JSON value
list                        a JSON array
tuple                       ``{"$tuple": [...]}``
frozenset / set             ``{"$frozenset": [...]}`` / ``{"$set": [...]}``
dict with str keys          ``{"$dict": {"key": value, ...}}``
other dict                  ``{"$dict": [[key, value], ...]}``
bytes                       ``{"$bytes": "<base64>"}``
complex                     ``{"$complex": [real, imag]}``
dataclass ``Ping(3)``       ``{"$type": "Ping", "fields": {"sent_at": 3}}``
named tuple ``P(1, 2)``     ``{"$type": "P", "items": [1, 2]}``
enum member ``Color.RED``   ``{"$type": "Color", "member": "RED"}``
==========================  ==================================================

Messages must be immutable, exactly as in the simulator: `encode_message` refuses lists,
dicts, sets and dataclasses that are not frozen. Storage may hold what the simulator's rule
allows (`distlab.sim.storage.check_storable`, which the host applies before it encodes).

A frame on the wire is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON:
TCP is a byte stream with no message boundaries, so the receiver needs the length to know
where one message ends and the next begins.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import struct
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

#: Largest frame accepted from the network (bytes); a bigger one means a confused peer.
MAX_FRAME = 16 * 1024 * 1024
#: Seconds an incoming connection may carry no frame before the receiver closes it. Every
#: open connection costs the receiver a file descriptor (and an endpoint a thread): without
#: a limit, connections that are opened and forgotten pile up until none can be accepted.
#: The sender notices the close and connects again when it next has something to send.
IDLE_TIMEOUT = 60.0

_LENGTH = struct.Struct(">I")
_JSON_SCALARS = (type(None), bool, int, float, str)


class CodecError(ValueError):
    """A value that cannot be encoded, or bytes that cannot be decoded."""


def _is_named_tuple_class(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


def _is_codable_class(obj: Any) -> bool:
    return isinstance(obj, type) and (
        dataclasses.is_dataclass(obj) or _is_named_tuple_class(obj) or issubclass(obj, enum.Enum))


def classes_in(module: ModuleType) -> list[type]:
    """The dataclasses, named tuples and enums defined in or imported into ``module``."""
    return [obj for obj in vars(module).values() if _is_codable_class(obj)]


class Codec:
    """Encodes values to JSON and decodes them, knowing a fixed set of classes by name.

    Invariant: ``decode(encode(v)) == v`` for every value built from the table in the module
    docstring whose classes are in the registry.
    """

    def __init__(self, classes: Iterable[type] = ()) -> None:
        self.classes: dict[str, type] = {}
        for cls in classes:
            self.register(cls)

    @classmethod
    def for_node_class(cls, node_class: type) -> Codec:
        """A codec that knows every message class visible in the node class's module(s).

        The module that defines ``node_class`` (and those of its base classes) are searched
        for dataclasses, named tuples and enums, defined there or imported there.
        """
        codec = cls()
        for klass in node_class.__mro__:
            module = sys.modules.get(klass.__module__)
            if module is None or klass.__module__ in ("builtins", "distlab.sim.node"):
                continue
            for found in classes_in(module):
                codec.register(found)
        return codec

    def register(self, cls: type) -> type:
        """Let values of class ``cls`` be encoded and decoded. Usable as a class decorator."""
        if not _is_codable_class(cls):
            raise CodecError(f"{cls!r} is not a dataclass, named tuple or enum, so the codec "
                             f"cannot write it as JSON")
        name = cls.__name__
        known = self.classes.get(name)
        if known is not None and known is not cls:
            raise CodecError(f"two message classes are both named {name!r} "
                             f"({known.__module__}.{name} and {cls.__module__}.{name}): "
                             f"the receiver could not tell them apart; rename one")
        self.classes[name] = cls
        return cls

    # -- encoding -----------------------------------------------------------------------------
    def encode(self, value: Any, *, immutable: bool = False, where: str = "the value") -> Any:
        """``value`` as a JSON-ready structure. With ``immutable``, refuse mutable parts."""
        if type(value) in _JSON_SCALARS:  # exactly these types: an IntEnum is not an int here
            return value
        match value:
            case bytes():
                return {"$bytes": base64.b64encode(value).decode("ascii")}
            case complex():
                return {"$complex": [value.real, value.imag]}
            case enum.Enum():
                self._check_registered(type(value), where)
                return {"$type": type(value).__name__, "member": value.name}
            case tuple() if _is_named_tuple_class(type(value)):
                self._check_registered(type(value), where)
                return {"$type": type(value).__name__,
                        "items": [self.encode(v, immutable=immutable, where=f"{where}[{i}]")
                                  for i, v in enumerate(value)]}
            case tuple():
                return {"$tuple": [self.encode(v, immutable=immutable, where=f"{where}[{i}]")
                                   for i, v in enumerate(value)]}
            case frozenset():
                return {"$frozenset": [self.encode(v, immutable=immutable, where=where)
                                       for v in value]}
            case list() | dict() | set() if immutable:
                raise CodecError(f"{where} is a {type(value).__name__}, which can change after it "
                                 f"is sent: use a tuple, frozenset or frozen dataclass instead")
            case list():
                return [self.encode(v, where=f"{where}[{i}]") for i, v in enumerate(value)]
            case set():
                return {"$set": [self.encode(v, where=where) for v in value]}
            case dict() if all(type(k) is str for k in value):
                return {"$dict": {k: self.encode(v, where=f"{where}[{k!r}]")
                                  for k, v in value.items()}}
            case dict():
                return {"$dict": [[self.encode(k, where=f"{where} key"),
                                   self.encode(v, where=f"{where}[{k!r}]")]
                                  for k, v in value.items()]}
            case _ if dataclasses.is_dataclass(value) and not isinstance(value, type):
                return self._encode_dataclass(value, immutable, where)
            case _:
                raise CodecError(
                    f"{where} is a {type(value).__name__}, which distlab.net cannot send: build "
                    f"messages and storage from None, bool, int, float, str, bytes, tuples, "
                    f"frozensets, lists, dicts, dataclasses, named tuples and enums")

    def _encode_dataclass(self, value: Any, immutable: bool, where: str) -> dict[str, Any]:
        cls = type(value)
        if immutable and not cls.__dataclass_params__.frozen:
            raise CodecError(f"{where} is a {cls.__name__}, a dataclass that is not frozen: "
                             f"declare it with @dataclass(frozen=True)")
        self._check_registered(cls, where)
        fields = {f.name: self.encode(getattr(value, f.name), immutable=immutable,
                                      where=f"{where}.{f.name}")
                  for f in dataclasses.fields(value) if f.init}
        return {"$type": cls.__name__, "fields": fields}

    def _check_registered(self, cls: type, where: str) -> None:
        if self.classes.get(cls.__name__) is not cls:
            raise CodecError(f"{where} is a {cls.__name__}, a class the codec does not know: "
                             f"define or import it in the node class's module, or register it "
                             f"with Codec.register")

    # -- decoding -----------------------------------------------------------------------------
    def decode(self, data: Any) -> Any:
        """The value that `encode` turned into ``data``.

        ``data`` comes from the network or from a file, so anything may be wrong with it: a
        class given fields it does not have, an enum member it lacks, bad base64, a list
        where a set needs hashable items. Each of these is a `CodecError`, so that whoever
        reads (a node, an endpoint) can drop the value and carry on.
        """
        try:
            return self._decode(data)
        except CodecError:
            raise
        except (TypeError, ValueError, KeyError, RecursionError) as exc:
            raise CodecError(f"cannot decode {str(data)[:80]!r}: {type(exc).__name__}: "
                             f"{exc}") from exc

    def _decode(self, data: Any) -> Any:
        match data:
            case None | bool() | int() | float() | str():
                return data
            case list():
                return [self._decode(v) for v in data]
            case {"$tuple": list(items)}:
                return tuple(self._decode(v) for v in items)
            case {"$frozenset": list(items)}:
                return frozenset(self._decode(v) for v in items)
            case {"$set": list(items)}:
                return {self._decode(v) for v in items}
            case {"$dict": dict(items)}:
                return {k: self._decode(v) for k, v in items.items()}
            case {"$dict": list(pairs)}:
                return {self._decode(k): self._decode(v) for k, v in pairs}
            case {"$bytes": str(text)}:
                return base64.b64decode(text)
            case {"$complex": [real, imag]}:
                return complex(real, imag)
            case {"$type": str(name), **rest}:
                return self._decode_object(name, rest)
            case _:
                raise CodecError(f"cannot decode {str(data)[:80]!r}: not written by this codec")

    def _decode_object(self, name: str, rest: dict[Any, Any]) -> Any:
        cls = self.classes.get(name)
        if cls is None:
            raise CodecError(f"received a {name!r}, a class this node does not know: both ends "
                             f"must run the same node class (known: {sorted(self.classes)})")
        match rest:
            case {"fields": dict(fields)} if dataclasses.is_dataclass(cls):
                return cls(**{k: self._decode(v) for k, v in fields.items()})
            case {"items": list(items)} if _is_named_tuple_class(cls):
                return cls(*(self._decode(v) for v in items))
            case {"member": str(member)} if issubclass(cls, enum.Enum):
                return cls[member]
            case _:
                raise CodecError(f"malformed {name!r} value: {str(rest)[:80]!r}")

    # -- messages and frames ------------------------------------------------------------------
    def encode_message(self, src: str, msg: Any) -> bytes:
        """One frame carrying ``msg`` from node ``src``: length prefix + JSON."""
        data = {"src": src, "msg": self.encode(msg, immutable=True, where="the message")}
        body = json.dumps(data, separators=(",", ":")).encode("utf-8")
        return _LENGTH.pack(len(body)) + body

    def decode_message(self, body: bytes) -> tuple[str, Any]:
        """The ``(src, msg)`` in a frame's body (the bytes after the length prefix)."""
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CodecError(f"a frame that is not JSON: {exc}") from exc
        except RecursionError:
            raise CodecError("a frame whose JSON is nested too deeply to read") from None
        match data:
            case {"src": str(src), "msg": msg}:
                return src, self.decode(msg)
            case _:
                raise CodecError(f"a frame without 'src' and 'msg': {str(data)[:80]!r}")


def frame_length(header: bytes) -> int:
    """The body length announced by a 4-byte frame header; refuses absurd sizes."""
    (length,) = _LENGTH.unpack(header)
    if length > MAX_FRAME:
        raise CodecError(f"a frame of {length} bytes announced, more than the {MAX_FRAME} "
                         f"allowed: the peer is not speaking distlab.net")
    return length


HEADER_SIZE = _LENGTH.size
