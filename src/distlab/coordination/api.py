"""The small client interface the recipes are written against, once, for three services: the
toy on the chapter's Raft (`distlab.coordination.toy`), a real etcd
(`distlab.coordination.etcd`) and a real ZooKeeper (`distlab.coordination.zookeeper`).

It is the common core of etcd's and ZooKeeper's APIs:

===================  ==========================================  ===========================
`Coordinator`        etcd v3                                     ZooKeeper
===================  ==========================================  ===========================
``grant(ttl)``       a lease, renewed by keep-alives             a session (its own
                                                                 connection), kept by pings
``create``           a txn: ``create_revision == 0`` then put    ``create`` (it fails if the
                                                                 znode exists)
``compare_and_set``  a txn on the key's ``version``              ``set_data`` with a version
``watch(key)``       a stream of every change from a revision    a one-shot watch, set again
                                                                 after each trigger
revisions            one counter for the whole store             the zxid of each change
===================  ==========================================  ===========================

Times are in seconds (the toy counts simulated milliseconds underneath). Every backend keeps
its leases alive by itself, as the real client libraries do, until `Coordinator.pause` makes
it stop: that is how a page shows a client frozen by a garbage-collection pause.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from distlab.coordination.messages import Event, KeyValue


class CoordinationError(RuntimeError):
    """A request the service did not answer, or answered with an error."""


class Watcher(ABC):
    """The changes of one key, in order, from when the watch was set."""

    @abstractmethod
    def next(self, timeout: float) -> Event | None:
        """The next change, waiting up to ``timeout`` seconds (None: none came)."""

    @abstractmethod
    def cancel(self) -> None:
        """Stop watching."""


class Coordinator(ABC):
    """One client's connection to a coordination service (see the module's docstring)."""

    #: the service's name, for printing: "toy", "etcd", "zookeeper"
    name: str

    @abstractmethod
    def grant(self, ttl: float) -> int:
        """A new lease of ``ttl`` seconds, kept alive from now on; returns its id."""

    @abstractmethod
    def pause(self, lease: int) -> None:
        """Stop renewing ``lease``, as a client frozen by a long pause would: it expires."""

    @abstractmethod
    def revoke(self, lease: int) -> None:
        """End ``lease`` now; its keys are deleted."""

    @abstractmethod
    def put(self, key: str, value: str, lease: int = 0) -> None:
        """Set ``key`` (created if absent) to ``value``."""

    @abstractmethod
    def create(self, key: str, value: str, lease: int = 0) -> KeyValue | None:
        """Create ``key`` if it does not exist, atomically; the new key, or None if it was
        there already. With a ``lease``, the key is deleted when the lease ends."""

    @abstractmethod
    def compare_and_set(self, key: str, version: int, value: str) -> bool:
        """Set ``key`` to ``value`` if its version (writes since it was created, from 1) is
        ``version``; whether it did."""

    @abstractmethod
    def get(self, key: str) -> KeyValue | None:
        """``key`` as stored, or None."""

    @abstractmethod
    def list(self, prefix: str) -> list[KeyValue]:
        """The keys directly under the folder ``prefix`` (which ends with "/"), by name."""

    @abstractmethod
    def delete(self, key: str, version: int | None = None) -> bool:
        """Delete ``key`` (if ``version`` is given, only if it has that version); whether
        it did."""

    @abstractmethod
    def watch(self, key: str) -> Watcher:
        """Watch ``key``'s changes from now on."""

    @abstractmethod
    def now(self) -> float:
        """Seconds on this client's clock (simulated for the toy), for deadlines."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass (the toy runs its simulation; a real client just waits)."""

    @abstractmethod
    def close(self) -> None:
        """End this client: its leases are revoked."""

    def __enter__(self) -> Coordinator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
