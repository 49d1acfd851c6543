"""The key-value workload: ``get``, ``put`` and ``append`` on a few keys, checked against `KV`.

The vocabulary of MIT 6.5840's key-value labs and of Maelstrom's ``lin-kv``: a client puts a
value under a key, appends to it, or gets it. Values are strings unique to one operation
(``"c1.3;"``: client ``c1``'s third), so an append applied twice shows in a later ``get``.
The history is linearizable exactly when `distlab.check.models.KV` accepts it.

A server answers a request with the request's own ``ok``: ``get.ok(value)``, ``put.ok()``,
``append.ok()`` build the reply that names it (``in_reply_to``), so a handler reads::

    match msg:
        case Get(key=key):
            self.send(src, msg.ok(self.data.get(key)))
        case Put(key=key, value=value):
            self.data[key] = value
            self.send(src, msg.ok())
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distlab.check.models import KV
from distlab.sim import Operation
from distlab.workloads.client import WorkloadClient

#: The checker's model of this workload.
MODEL = KV

#: The operations a client draws from, as (f, key): a register on "x", a log on "y".
OPERATIONS: tuple[tuple[str, str], ...] = (("get", "x"), ("put", "x"), ("get", "y"),
                                           ("append", "y"))


@dataclass(frozen=True)
class Get:
    """Read the value of ``key``."""

    client: str
    msg_id: int
    key: str

    def ok(self, value: str | None) -> GetOk:
        """The reply: ``key`` holds ``value`` (None: absent)."""
        return GetOk(self.msg_id, value)


@dataclass(frozen=True)
class Put:
    """Set ``key`` to ``value``."""

    client: str
    msg_id: int
    key: str
    value: str

    def ok(self) -> PutOk:
        """The reply: done."""
        return PutOk(self.msg_id)


@dataclass(frozen=True)
class Append:
    """Add ``value`` at the end of ``key``'s value (the empty string if absent)."""

    client: str
    msg_id: int
    key: str
    value: str

    def ok(self) -> AppendOk:
        """The reply: done."""
        return AppendOk(self.msg_id)


@dataclass(frozen=True)
class GetOk:
    """The value of the key (None: absent)."""

    in_reply_to: int
    value: str | None


@dataclass(frozen=True)
class PutOk:
    in_reply_to: int


@dataclass(frozen=True)
class AppendOk:
    in_reply_to: int


#: The requests, by the name of the operation (the ``f`` of the history).
REQUESTS = {"get": Get, "put": Put, "append": Append}


class KVClient(WorkloadClient):
    """A retrying client of the key-value workload (see `WorkloadClient`).

    It draws each operation from ``operations`` (pairs (f, key)); the value of a ``put`` or
    ``append`` is ``"<client>.<msg_id>;"``.
    """

    def __init__(self, server: str = "server", ops: int = 10, retry: float = 100.0,
                 attempts: int | None = None, think: float = 0.0,
                 operations: Sequence[tuple[str, str]] = OPERATIONS):
        super().__init__(server, ops, retry, attempts, think)
        unknown = sorted({f for f, _ in operations} - set(REQUESTS))
        if unknown or not operations:
            raise ValueError(f"operations are (f, key) pairs with f among {sorted(REQUESTS)}; "
                             f"got {list(operations)!r}")
        self.operations = tuple(operations)

    def choose(self, number: int) -> tuple[str, Any, Any]:
        f, key = self.rng.choice(self.operations)
        return f, key, None if f == "get" else f"{self.id}.{number};"

    def request(self, msg_id: int, f: str, key: Any, value: Any) -> Any:
        if f == "get":
            return Get(self.id, msg_id, key)
        return REQUESTS[f](self.id, msg_id, key, value)

    def outcome(self, op: Operation, reply: Any) -> tuple[str, Any]:
        match reply:
            case GetOk(value=value) if op.f == "get":
                return "ok", value
            case PutOk() if op.f == "put":
                return "ok", None
            case AppendOk() if op.f == "append":
                return "ok", None
        raise ValueError(f"{reply!r} does not answer the {op.f} request {reply.in_reply_to}")
