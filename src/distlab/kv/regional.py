"""The book's first key-value store: one server for the world, or one replica per region.

The first page of the book (01.01) runs one small service twice to show what distributing it
buys and costs. `Store` serves the key-value workload's ``get`` and ``put`` one request at a
time, ``service_ms`` each, so one store has a capacity (500 requests per second at 2 ms).
`ReplicatedStore` also copies every write it takes to the other stores, without waiting for
them: the copies a crashed replica misses are never repaired, and two writes of one key that
cross in the network leave the replicas disagreeing. `User` reads and writes random keys and
fails over to the next store of its list when one does not answer in time.

`distlab.kv.world` places these nodes in three regions and measures them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distlab.sim import Client, Latency, Node, Uniform
from distlab.workloads.kv import Get, GetOk, Put, PutOk


@dataclass(frozen=True)
class Copy:
    """A write that another replica took: set ``key`` to ``value`` here too."""

    key: str
    value: str


class Store(Node):
    """A key-value store that serves requests one at a time, ``service_ms`` each.

    Requests that arrive while it is busy wait in ``queue``, in arrival order. Its data is in
    ``storage``: it survives a crash (the queue does not).
    """

    def __init__(self, service_ms: float = 2.0) -> None:
        self.service_ms = service_ms
        self.queue: list[tuple[str, Any]] = []     # requests waiting: (client, message)
        self.busy = False

    @property
    def data(self) -> dict[str, str]:
        return self.storage.setdefault("data", {})

    def show(self) -> dict[str, int]:
        return {"keys": len(self.data), "waiting": len(self.queue)}

    def on_message(self, src: str, msg: Any) -> None:
        self.queue.append((src, msg))
        if not self.busy:
            self.busy = True
            self.set_timer(self.service_ms, "done")

    def on_timer(self, name: str) -> None:
        src, msg = self.queue.pop(0)
        self.handle(src, msg)
        if self.queue:
            self.set_timer(self.service_ms, "done")
        else:
            self.busy = False

    def handle(self, src: str, msg: Any) -> None:
        match msg:
            case Get(key=key):
                self.send(src, msg.ok(self.data.get(key)))
            case Put(key=key, value=value):
                self.data[key] = value
                self.send(src, msg.ok())


class ReplicatedStore(Store):
    """A store that copies every write it takes to the other stores, without waiting."""

    def handle(self, src: str, msg: Any) -> None:
        match msg:
            case Put(key=key, value=value):
                super().handle(src, msg)
                self.broadcast(Copy(key, value))
            case Copy(key=key, value=value):
                self.data[key] = value
            case _:
                super().handle(src, msg)


class User(Client):
    """Reads (90%) and writes (10%) random keys, trying ``stores`` in order on timeouts.

    Each operation goes to the first store; with no answer after ``timeout`` ms it goes to the
    next (fail over), and when the list runs out its outcome is unknown. Between operations the
    user thinks for ``think`` ms; it starts no operation after ``stop`` ms.
    """

    def __init__(self, stores: Sequence[str], timeout: float = 300.0,
                 think: Latency = Uniform(50, 150), keys: int = 10, writes: float = 0.1,
                 stop: float = math.inf) -> None:
        if isinstance(stores, str) or not stores:
            raise ValueError(f"stores is a list of store ids, nearest first; got {stores!r}")
        self.stores = tuple(stores)
        self.timeout = timeout
        self.think = think
        self.keys = keys
        self.writes = writes
        self.stop = stop
        self.req = 0            # the number of the current operation
        self.op = None          # the current operation, as the history records it
        self.tries = 0          # the stores tried for it, minus one

    def on_start(self) -> None:
        self.set_timer(self.think.sample(self.rng), "next")

    def on_timer(self, name: str) -> None:
        match name:
            case "next" if self.now < self.stop:
                self.req += 1
                key = f"k{self.rng.randrange(self.keys)}"
                if self.rng.random() < self.writes:
                    self.op = self.invoke("put", value=f"{self.id}:{self.req}", key=key)
                else:
                    self.op = self.invoke("get", key=key)
                self.tries = 0
                self.attempt()
            case "timeout":
                self.tries += 1
                if self.tries < len(self.stores):
                    self.attempt()                  # fail over to the next store
                else:
                    self.info(self.op)              # nobody answered: outcome unknown
                    self.set_timer(self.think.sample(self.rng), "next")

    def attempt(self) -> None:
        op = self.op
        msg = (Put(self.id, self.req, op.key, op.value) if op.f == "put"
               else Get(self.id, self.req, op.key))
        self.send(self.stores[self.tries], msg)
        self.set_timer(self.timeout, "timeout")

    def on_message(self, src: str, msg: GetOk | PutOk) -> None:
        if msg.in_reply_to != self.req or self.op.status != "pending":
            return                                  # a late answer to an earlier attempt
        self.cancel_timer("timeout")
        self.ok(self.op, msg.value if isinstance(msg, GetOk) else None)
        self.set_timer(self.think.sample(self.rng), "next")
