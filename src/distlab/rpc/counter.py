"""The RPC layer's example: a counter, which is not idempotent.

An `Increment` executed twice adds twice, so a retried or duplicated request is visible in the
counter's value under at-least-once, and not under at-most-once (`distlab.rpc.layer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.rpc.layer import RpcNode, Timeout
from distlab.sim import Client


@dataclass(frozen=True)
class Increment:
    """Add ``amount`` to the counter; the reply is the new value."""

    amount: int = 1


class CounterServer(RpcNode):
    """A counter kept in durable storage. Executing an `Increment` twice is visible."""

    def __init__(self, at_most_once: bool = False):
        self.at_most_once = at_most_once

    @property
    def value(self) -> int:
        return self.storage.get("value", 0)

    def on_request(self, src: str, body: Any) -> int:
        match body:
            case Increment(amount):
                self.storage["value"] = self.value + amount
                return self.value
            case _:
                raise ValueError(f"CounterServer understands Increment(amount), not {body!r}")


class CounterClient(RpcNode, Client):
    """Increments the counter ``increments`` times, one call after another.

    Each increment is recorded in the history: ``ok`` when a reply came, ``info`` (unknown)
    after a `Timeout`.
    """

    def __init__(self, server: str = "server", increments: int = 10, timeout: float = 50.0,
                 retries: int = 3):
        self.server = server
        self.increments = increments
        self.timeout = timeout
        self.retries = retries
        self.acknowledged = 0
        self.unknown = 0

    def on_start(self) -> None:
        self.spawn(self.run())

    async def run(self) -> None:
        for _ in range(self.increments):
            op = self.invoke("increment", 1)
            reply = await self.call(self.server, Increment(1), timeout=self.timeout,
                                    retries=self.retries)
            match reply:
                case Timeout():
                    self.unknown += 1
                    self.info(op)
                case value:
                    self.acknowledged += 1
                    self.ok(op, value)
