"""The recipes microservices build on a coordination service, written once against
`distlab.coordination.api.Coordinator`, so they run unchanged on the toy, on etcd and on
ZooKeeper.

* `Lock`: whoever *creates* the lock's key holds it; the key lives by its holder's lease, so
  a holder that crashes or stops renewing loses the lock when its lease ends. The key's
  creation revision is the **fencing token**: revisions only grow, so each new holder's
  token is higher than every earlier one's, and a resource that remembers the highest token it
  saw (`distlab.election.fencing.FencedStore`) can refuse a holder that lost the lock without
  knowing it (Kleppmann, "How to do distributed locking", 2016).
* `QueueLock`: ZooKeeper's lock without a herd effect: each waiter adds its own ephemeral key
  to a queue ordered by creation revision (ZooKeeper's sequence numbers) and watches only the
  key just before its own, so a release wakes one waiter, not all of them.
* `Election`: a lock whose value names the leader, which anyone can read (Chubby's way).
* `Registry`: each instance of a service puts its address under ``/services/<name>/`` with
  its lease: an *ephemeral* key, gone when the instance stops renewing.
* `Config`: a value read once and then kept current by a watch.

The waiting is done with watches, never by polling: a client that wants a held lock watches
its key and tries again when the key is deleted.
"""

from __future__ import annotations

from distlab.coordination.api import CoordinationError, Coordinator, Watcher
from distlab.coordination.messages import KeyValue


class Lock:
    """A lock named ``name``, taken by ``owner`` under ``lease``.

    ``token`` is the fencing token while held (None: not held).
    """

    def __init__(self, coordinator: Coordinator, name: str, owner: str, lease: int):
        self.coordinator = coordinator
        self.key = f"/locks/{name}"
        self.owner = owner
        self.lease = lease
        self.token: int | None = None

    def try_acquire(self) -> int | None:
        """Take the lock if it is free: the fencing token, or None if someone holds it."""
        created = self.coordinator.create(self.key, self.owner, self.lease)
        self.token = None if created is None else created.create_revision
        return self.token

    def acquire(self, timeout: float) -> int:
        """Take the lock, waiting up to ``timeout`` seconds for it; the fencing token."""
        deadline = self.coordinator.now() + timeout
        while True:
            watcher = self.coordinator.watch(self.key)   # set before trying: no change missed
            try:
                token = self.try_acquire()
                if token is not None:
                    return token
                if not wait_for_delete(self.coordinator, watcher, self.key, deadline):
                    holder = self.coordinator.get(self.key)
                    raise CoordinationError(f"lock {self.key} still held by "
                                            f"{holder.value if holder else '?'} after "
                                            f"{timeout:g} s")
            finally:
                watcher.cancel()

    def holder(self) -> KeyValue | None:
        """The lock's key: who holds it, since which revision (None: free)."""
        return self.coordinator.get(self.key)

    def release(self) -> bool:
        """Give the lock up, if it is still ours (its key has our token); whether it was."""
        current = self.coordinator.get(self.key)
        if current is None or current.create_revision != self.token:
            self.token = None
            return False
        self.token = None
        return self.coordinator.delete(self.key, version=current.version)


def wait_for_delete(coordinator: Coordinator, watcher: Watcher, key: str,
                    deadline: float) -> bool:
    """Wait until ``key`` is deleted, or the coordinator's clock reaches ``deadline``;
    whether it was deleted."""
    while (left := deadline - coordinator.now()) > 0:
        event = watcher.next(left)
        if event is None:
            return False
        if event.key == key and event.kind == "delete":
            return True
    return False


class QueueLock:
    """A fair lock named ``name``: waiters queue under ``/queues/<name>/`` in the order the
    service created their keys, and the first one holds the lock (Hunt et al. 2010, the lock
    recipe; etcd's ``concurrency.Mutex`` is the same with revisions).

    Each waiter's key lives by its lease (an ephemeral key), so a waiter or holder that dies
    leaves the queue by itself. ``token`` is the key's creation revision, a fencing token.
    """

    def __init__(self, coordinator: Coordinator, name: str, owner: str, lease: int):
        self.coordinator = coordinator
        self.prefix = f"/queues/{name}/"
        self.key = f"{self.prefix}{owner}-{lease}"
        self.owner = owner
        self.lease = lease
        self.token: int | None = None

    def enqueue(self) -> int:
        """Join the queue (once); the creation revision of this waiter's key."""
        if self.token is None:
            created = self.coordinator.create(self.key, self.owner, self.lease)
            if created is None:
                raise CoordinationError(f"{self.key} exists already: one QueueLock per lease")
            self.token = created.create_revision
        return self.token

    def queue(self) -> list[KeyValue]:
        """The waiters' keys, first (the holder) first."""
        return sorted(self.coordinator.list(self.prefix), key=lambda kv: kv.create_revision)

    def predecessor(self) -> KeyValue | None:
        """The key just before this waiter's (None: this waiter holds the lock)."""
        if self.token is None:
            raise CoordinationError(f"{self.owner} is not in the queue: enqueue() first")
        before = [kv for kv in self.queue() if kv.create_revision < self.token]
        return before[-1] if before else None

    def acquire(self, timeout: float) -> int:
        """Join the queue and wait, watching only the predecessor, until first; the token."""
        deadline = self.coordinator.now() + timeout
        token = self.enqueue()
        while True:
            ahead = self.predecessor()
            if ahead is None:
                return token
            watcher = self.coordinator.watch(ahead.key)
            try:
                if self.coordinator.get(ahead.key) is not None and not wait_for_delete(
                        self.coordinator, watcher, ahead.key, deadline):
                    raise CoordinationError(f"{self.owner} still waits behind {ahead.value} "
                                            f"after {timeout:g} s")
            finally:
                watcher.cancel()
            # gone: the holder released, or a waiter ahead gave up; look again

    def release(self) -> bool:
        """Leave the queue (holder or not); whether this waiter's key was still there."""
        self.token = None
        return self.coordinator.delete(self.key)


class Election:
    """Leader election among candidates: the one holding the lock ``election/<name>`` leads,
    and the lock's value says who it is."""

    def __init__(self, coordinator: Coordinator, name: str, candidate: str, lease: int):
        self.lock = Lock(coordinator, f"election-{name}", candidate, lease)

    def campaign(self, timeout: float) -> int:
        """Wait until this candidate leads (up to ``timeout`` s); its term: the token."""
        return self.lock.acquire(timeout)

    def leader(self) -> str | None:
        """Who leads now, as the service knows it (None: nobody)."""
        holder = self.lock.holder()
        return holder.value if holder else None

    def resign(self) -> bool:
        return self.lock.release()


class Registry:
    """Service discovery: instances register their address; clients list the live ones."""

    def __init__(self, coordinator: Coordinator):
        self.coordinator = coordinator

    def register(self, service: str, instance: str, address: str, lease: int) -> None:
        """Announce ``instance`` of ``service`` at ``address`` while ``lease`` lives."""
        self.coordinator.put(f"/services/{service}/{instance}", address, lease)

    def instances(self, service: str) -> dict[str, str]:
        """The live instances of ``service``: name -> address."""
        prefix = f"/services/{service}/"
        return {kv.key[len(prefix):]: kv.value for kv in self.coordinator.list(prefix)}


class Config:
    """A configuration value kept current: read once, then updated by a watch."""

    def __init__(self, coordinator: Coordinator, key: str):
        self.key = key
        self.watcher = coordinator.watch(key)     # before the read: no change is missed
        current = coordinator.get(key)
        self.value = current.value if current else None
        self.revision = current.mod_revision if current else 0
        self.changes = 0

    def refresh(self, timeout: float = 0.0) -> str | None:
        """Apply the changes that arrived (waiting up to ``timeout`` s for the first one);
        the current value."""
        event = self.watcher.next(timeout)
        while event is not None:
            if event.revision > self.revision:
                self.value, self.revision = event.value, event.revision
                self.changes += 1
            event = self.watcher.next(0.0)
        return self.value

    def close(self) -> None:
        self.watcher.cancel()
