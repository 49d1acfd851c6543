"""The `Coordinator` interface on a real ZooKeeper, through the kazoo client library.

ZooKeeper (Hunt et al. 2010) has no leases: it has *sessions*. A client's session lives while
the client's connection pings the server; an *ephemeral* znode belongs to the session that
created it and is deleted when the session ends. So here a lease is a session of its own: a
separate kazoo client with a session timeout of the lease's TTL, connected through a
`distlab.net.proxy.FaultProxy` so that `pause` can cut it (a frozen client sends no pings;
the server expires the session after its timeout). A lease's id is its session id, which
is what ZooKeeper records as an ephemeral znode's ``ephemeralOwner``.

The other differences from etcd show in this module:

* a revision is a *zxid*, ZooKeeper's transaction id: ``czxid`` (created), ``mzxid``
  (modified); a znode's ``version`` counts from 0 where etcd's counts from 1;
* keys are paths in a tree: a parent must exist before its child (``makepath`` creates it),
  an ephemeral znode cannot have children, and "the keys under a prefix" are a node's
  children;
* a watch is **one-shot**: it fires once, telling *that* the node changed, not to what. The
  watcher here reads the node and sets the watch again only when its reader asks for the next
  event, so changes made meanwhile are seen as one: the latest state, not every step (an etcd
  watch streams every revision).

Point it at any ensemble: ``ZooKeeperCoordinator("10.0.0.5:2181,10.0.0.6:2181")``.
"""

from __future__ import annotations

import logging
import queue
import time
from typing import Any

from distlab.coordination.api import CoordinationError, Coordinator, Watcher
from distlab.coordination.messages import Event, KeyValue
from distlab.net.proxy import FaultProxy

try:
    from kazoo.client import KazooClient
    from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
except ImportError:                                   # the optional extra is not installed
    KazooClient = None

#: kazoo's reports (a paused session's dropped connection, its expiry: expected here) go to
#: this logger, silent unless the application gives it a handler
LOG = logging.getLogger(__name__)
LOG.addHandler(logging.NullHandler())


class ZooKeeperCoordinator(Coordinator):
    """A client of the ZooKeeper ensemble ``hosts`` ("host:port,host:port...")."""

    name = "zookeeper"

    def __init__(self, hosts: str, timeout: float = 10.0):
        if KazooClient is None:
            raise CoordinationError("kazoo is not installed: pip install 'distlab[engines]' "
                                    "(make test installs it)")
        self.hosts = hosts
        self.timeout = timeout
        self.client = self._connect(hosts, timeout)
        self.sessions: dict[int, tuple[Any, FaultProxy]] = {}   # lease -> (client, proxy)

    @staticmethod
    def _connect(hosts: str, session_timeout: float) -> Any:
        client = KazooClient(hosts=hosts, timeout=session_timeout, logger=LOG)
        try:
            client.start(timeout=30)        # (a loaded machine can be slow)
        except Exception as error:                    # kazoo's own timeout class
            client.close()
            raise CoordinationError(f"ZooKeeper at {hosts} did not answer: {error}")
        return client

    # -- leases: sessions --------------------------------------------------------------------
    def grant(self, ttl: float) -> int:
        """A new session of ``ttl`` seconds, connected to the ensemble's first host through a
        proxy of its own (which `pause` cuts); its id is the lease's."""
        host, port = self.hosts.split(",")[0].rsplit(":", 1)
        proxy = FaultProxy(0, host, int(port)).start()
        client = self._connect(f"127.0.0.1:{proxy.port}", ttl)
        lease = client.client_id[0]
        self.sessions[lease] = (client, proxy)
        return lease

    def pause(self, lease: int) -> None:
        self.sessions[lease][1].cut()     # its pings stall: the server expires the session

    def revoke(self, lease: int) -> None:
        client, proxy = self.sessions.pop(lease)
        proxy.heal()
        client.stop()                     # closes the session: its ephemeral znodes go
        client.close()
        proxy.stop()

    def _session(self, lease: int) -> Any:
        if not lease:
            return self.client
        if lease not in self.sessions:
            raise CoordinationError(f"lease {lease} not found (revoked, or not this client's)")
        return self.sessions[lease][0]

    # -- keys ----------------------------------------------------------------------------------
    def put(self, key: str, value: str, lease: int = 0) -> None:
        if self.create(key, value, lease) is None:
            self._session(lease).set(key, value.encode())

    def create(self, key: str, value: str, lease: int = 0) -> KeyValue | None:
        try:
            _, stat = self._session(lease).create(key, value.encode(), ephemeral=bool(lease),
                                                  makepath=True, include_data=True)
        except NodeExistsError:
            return None
        return _key_value(key, value, stat)

    def compare_and_set(self, key: str, version: int, value: str) -> bool:
        if version == 0:
            return self.create(key, value) is not None
        try:
            self.client.set(key, value.encode(), version=version - 1)
        except (BadVersionError, NoNodeError):
            return False
        return True

    def get(self, key: str) -> KeyValue | None:
        try:
            data, stat = self.client.get(key)
        except NoNodeError:
            return None
        return _key_value(key, data.decode(), stat)

    def list(self, prefix: str) -> list[KeyValue]:
        try:
            children = self.client.get_children(prefix.rstrip("/"))
        except NoNodeError:
            return []
        found = (self.get(prefix + child) for child in sorted(children))
        return [kv for kv in found if kv is not None]

    def delete(self, key: str, version: int | None = None) -> bool:
        try:
            self.client.delete(key, version=-1 if version is None else version - 1)
        except (BadVersionError, NoNodeError):
            return False
        return True

    def watch(self, key: str) -> ZooKeeperWatcher:
        return ZooKeeperWatcher(self, key)

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        for lease in sorted(self.sessions):
            self.revoke(lease)
        self.client.stop()
        self.client.close()


def _key_value(key: str, value: str, stat: Any) -> KeyValue:
    """A znode as a `KeyValue`: zxids for revisions, etcd's version (from 1), the session
    that owns it (0: not ephemeral) as its lease."""
    return KeyValue(key, value, stat.czxid, stat.mzxid, stat.version + 1, stat.ephemeralOwner)


class ZooKeeperWatcher(Watcher):
    """A key's changes through one-shot watches (see the module's docstring)."""

    def __init__(self, coordinator: ZooKeeperCoordinator, key: str):
        self.coordinator = coordinator
        self.key = key
        self.triggered: queue.Queue[Any] = queue.Queue()   # kazoo's WatchedEvents
        self.cancelled = False
        coordinator.client.exists(key, watch=self.triggered.put)

    def next(self, timeout: float) -> Event | None:
        try:
            fired = self.triggered.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None
        if self.cancelled:
            return None
        client = self.coordinator.client
        stat = client.exists(self.key, watch=self.triggered.put)    # set the watch again
        if fired.type == "DELETED" or stat is None:
            parent = client.exists(self.key.rsplit("/", 1)[0] or "/")
            return Event("delete", self.key, None, parent.pzxid if parent else 0)
        current = self.coordinator.get(self.key)
        if current is None:
            return Event("delete", self.key, None, stat.mzxid)
        return Event("put", self.key, current.value, current.mod_revision)

    def cancel(self) -> None:
        self.cancelled = True     # ZooKeeper 3.8 can remove watches, but kazoo's API is
                                  # per-path: a watch that fires later is ignored
