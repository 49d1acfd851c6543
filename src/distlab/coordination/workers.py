"""A client that runs on its own inside the simulation: `LockWorker` takes a lock, writes to
a fenced store with its token, releases the lock, and starts again; what the soak of the
coordination service runs (`distlab.soak.library.coordination_lock`).

The page's clients are driven from Python one blocking call at a time; a worker under a
nemesis must react to its answers by itself, so it is written as a handler, like every node.
"""

from __future__ import annotations

from typing import Any

from distlab.coordination.messages import (CompareAndSet, CompareAndSetOk, Delete, DeleteOk, Grant,
                                           Granted)
from distlab.coordination.toy import CoordinationClient
from distlab.election.fencing import WriteValue
from distlab.workloads.client import Error

#: the key of the lock the workers share
LOCK = "/locks/shared"


class LockWorker(CoordinationClient):
    """Loops: get a lease of ``ttl`` ms (a new one whenever the old is lost), create the lock's
    key under it, and when that succeeds note ``acquired`` with the token, send
    ``WriteValue(token, ...)`` to ``store``, hold the lock ``hold`` ms and delete the key; when
    it fails (held by another), try again after ``backoff`` ms.
    """

    def __init__(self, servers: Any = ("n1", "n2", "n3"), ttl: float = 300.0,
                 hold: float = 50.0, backoff: float = 40.0, store: str = "store",
                 retry: float = 100.0):
        super().__init__(servers, retry)
        self.ttl, self.hold, self.backoff, self.store = ttl, hold, backoff, store
        self.lease = 0
        self.held: Any = None            # the lock's key while this worker holds it
        self.grants: list[int] = []      # the token of every grant it was told of
        self.granted_at: float | None = None   # when it was last told so

    def on_start(self) -> None:
        self.ask(lambda m: Grant(self.id, m, self.ttl))

    def on_reply(self, reply: Any) -> None:
        match reply:
            case Granted(lease=lease):
                self.lease = lease
                self.keep(lease, self.ttl)
                self.try_lock()
            case CompareAndSetOk(succeeded=True, current=current):
                self.held = current
                self.grants.append(current.create_revision)
                self.granted_at = self.now
                self.note("acquired", token=current.create_revision)
                self.send(self.store, WriteValue(current.create_revision, self.id))
                self.set_timer(self.hold, "release")
            case CompareAndSetOk(succeeded=False):
                self.set_timer(self.backoff, "try")
            case DeleteOk():
                self.held = None
                self.set_timer(self.backoff, "try")
            case Error():                 # the lease is gone: start again with a new one
                self.leases.pop(self.lease, None)
                self.on_start()

    def try_lock(self) -> None:
        if self.lease not in self.leases:  # lost (expired while cut off): get a new one
            self.on_start()
            return
        self.ask(lambda m: CompareAndSet(self.id, m, LOCK, 0, self.id, self.lease))

    def on_timer(self, name: str) -> None:
        if name == "try" and self.waiting is None:
            self.try_lock()
        elif name == "release" and self.waiting is None and self.held is not None:
            version = self.held.version
            self.ask(lambda m: Delete(self.id, m, LOCK, version))
        else:
            super().on_timer(name)
