"""The toy coordination service, driven from ordinary Python: a simulated Raft cluster of
`CoordinationNode` servers, and a blocking `Coordinator` per client, so the recipes run on it
unchanged, exactly as on a real etcd or ZooKeeper.

Each `ToyCoordinator` call sends a request from its client node and runs the simulation until
the answer arrives; `sleep` runs it for that long. Everything stays deterministic: the same
seed and the same calls give the same trace. Faults are the simulator's own
(``service.sim.crash("n1")``, ``service.sim.partition(...)``).

The client node, `CoordinationClient`, does what etcd's client library does in its
background: it resends an unanswered request to the next server, follows a `NotLeader`'s
hint, renews its leases every third of their TTL (until paused), and keeps the events of its
watches, dropping any it has seen (a new leader replays a watch's history).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from distlab.coordination.api import CoordinationError, Coordinator, Watcher
from distlab.coordination.messages import (CompareAndSet, CompareAndSetOk, Delete, Event, Grant,
                                           Granted, KeepAlive, KeptAlive, KeyValue, Put, Range,
                                           RangeOk, Revoke, Watch, WatchEvent)
from distlab.coordination.service import CoordinationNode
from distlab.election.fencing import FencedStore
from distlab.sim import Client, Latency, Network, Simulation, Uniform
from distlab.sim.helpers import node_ids
from distlab.workloads.client import Error, NotLeader

#: simulated milliseconds per second of the `Coordinator` interface
MS = 1000.0


class CoordinationClient(Client):
    """The client side of the toy service (see the module's docstring).

    ``waiting`` is the request in flight (one at a time) and ``reply`` its answer once it
    came; ``leases`` the leases it renews (id -> TTL in ms); ``events`` each watch's changes
    not yet read, and ``seen`` the last revision each watch delivered; ``outside`` what
    nodes other than the servers sent it.
    """

    def __init__(self, servers: Iterable[str] = ("n1", "n2", "n3"), retry: float = 100.0):
        self.servers = tuple(servers)
        self.server = self.servers[0]
        self.retry = retry
        self.last_msg_id = 0
        self.waiting: Any = None
        self.reply: Any = None
        self.leases: dict[int, float] = {}
        self.events: dict[int, list[Event]] = {}
        self.seen: dict[int, int] = {}
        self.outside: list[tuple[str, Any]] = []   # (src, msg) from nodes outside the service

    def ask(self, build: Callable[[int], Any]) -> None:
        """Send the request ``build(msg_id)`` and resend it until it is answered."""
        self.last_msg_id += 1
        self.waiting, self.reply = build(self.last_msg_id), None
        self.transmit()

    def transmit(self) -> None:
        self.send(self.server, self.waiting)
        self.set_timer(self.retry, "retry")

    def keep(self, lease: int, ttl: float) -> None:
        """Renew ``lease`` every third of its ``ttl`` (ms) from now on, while it is in
        ``leases`` (remove it to stop)."""
        self.leases[lease] = ttl
        self.set_timer(ttl / 3, f"renew {lease}")

    def on_timer(self, name: str) -> None:
        if name == "retry" and self.waiting is not None:
            self.server = self.servers[(self.servers.index(self.server) + 1) % len(self.servers)]
            self.transmit()
        elif name.startswith("renew "):
            lease = int(name.split()[1])
            if lease in self.leases:
                self.send(self.server, KeepAlive(self.id, lease))
                self.set_timer(self.leases[lease] / 3, name)

    def on_message(self, src: str, msg: Any) -> None:
        if src not in self.servers:
            self.outside.append((src, msg))
            return
        match msg:
            case WatchEvent(watch=watch, event=event):
                if event.revision > self.seen.get(watch, 0):
                    self.seen[watch] = event.revision
                    self.events.setdefault(watch, []).append(event)
            case KeptAlive(lease=lease, ttl=0):
                self.leases.pop(lease, None)          # expired already: stop renewing
                self.note("lease lost", lease=lease)
            case NotLeader(leader=leader):
                if leader in self.servers:
                    self.server = leader
                    if self.waiting is not None and msg.in_reply_to == self.waiting.msg_id:
                        self.transmit()
            case _ if (self.waiting is not None
                       and getattr(msg, "in_reply_to", None) == self.waiting.msg_id):
                self.reply, self.waiting = msg, None
                self.cancel_timer("retry")
                self.on_reply(msg)

    def on_reply(self, reply: Any) -> None:
        """The answer to the request in flight arrived (a client that runs on its own, as
        `distlab.coordination.workers.LockWorker`, goes on from here)."""


class ToyService:
    """A simulated coordination service: ``servers`` `CoordinationNode` servers ``n1``...,
    a client node per name in ``clients``, and (``store=True``) a `FencedStore` named
    ``"store"`` for the recipes to protect. ``fencing`` is the store's setting.

    ``limit`` bounds, in simulated seconds, how long one call may wait for its answer.
    """

    def __init__(self, *, seed: int = 0, servers: int = 3, clients: Iterable[str] = ("a", "b"),
                 latency: Latency | float = Uniform(1, 10), store: bool = False,
                 fencing: bool = True, limit: float = 30.0, **raft: Any):
        self.sim = Simulation(seed=seed, network=Network(latency=latency))
        self.servers = node_ids(servers, first=1)
        self.sim.add_nodes(CoordinationNode, self.servers, **raft)
        if store:
            self.sim.add_node(OutsideStore, "store", fencing=fencing)
        self.limit = limit
        self.clients = {name: ToyCoordinator(self, name) for name in clients}

    def client(self, name: str) -> ToyCoordinator:
        """The `Coordinator` of client ``name`` (one of ``clients``)."""
        if name not in self.clients:
            raise KeyError(f"no client {name!r}: this service has {sorted(self.clients)}; "
                           f"name it in ToyService(clients=...)")
        return self.clients[name]

    def connect(self) -> ToyCoordinator:
        """A new client, named ``c1``, ``c2``... (it joins the simulation now)."""
        number = len(self.clients) + 1
        while f"c{number}" in self.clients:
            number += 1
        name = f"c{number}"
        self.clients[name] = ToyCoordinator(self, name)
        return self.clients[name]

    def leader(self) -> str | None:
        """The server that leads now (None: none does)."""
        return next((s for s in self.servers if self.sim.is_up(s)
                     and self.sim.nodes[s].role == "leader"), None)

    def run_until(self, done: Callable[[], bool], what: str, seconds: float | None = None) -> bool:
        """Run the simulation until ``done()``; give up after ``seconds`` (None: raise a
        `CoordinationError` naming ``what`` after ``limit``)."""
        if self.sim.run_until(done, timeout=(self.limit if seconds is None else seconds) * MS):
            return True
        if seconds is None:
            raise CoordinationError(f"{what}: no answer within {self.limit:g} simulated s (is "
                                    f"a majority of the servers up and connected?)")
        return False


class OutsideStore(FencedStore, Client):
    """A `FencedStore` outside the Raft cluster: a `Client`, so that the servers do not count
    it among their peers (a resource the lock protects is not a voter)."""


class ToyCoordinator(Coordinator):
    """One client of a `ToyService`, behind the blocking `Coordinator` interface."""

    name = "toy"

    def __init__(self, service: ToyService, client: str):
        self.service = service
        self.sim = service.sim
        self.id = client
        self.node: CoordinationClient = service.sim.add_node(CoordinationClient, client,
                                                              servers=service.servers)

    def call(self, build: Callable[[int], Any]) -> Any:
        """Send a request, run until it is answered, and return the answer."""
        self.node.reply = None
        self.sim.at(self.sim.now, self.node.ask, build)
        self.service.run_until(lambda: self.node.reply is not None,
                               f"{self.id}: {build(0)!r}")
        reply = self.node.reply
        if isinstance(reply, Error):
            raise CoordinationError(reply.text)
        return reply

    def grant(self, ttl: float) -> int:
        reply: Granted = self.call(lambda m: Grant(self.id, m, ttl * MS))
        self.sim.at(self.sim.now, self.node.keep, reply.lease, ttl * MS)
        self.sim.run(until=self.sim.now)   # (keep runs now: a pause may follow at once)
        return reply.lease

    def pause(self, lease: int) -> None:
        self.node.leases.pop(lease, None)

    def revoke(self, lease: int) -> None:
        self.node.leases.pop(lease, None)
        self.call(lambda m: Revoke(self.id, m, lease))

    def put(self, key: str, value: str, lease: int = 0) -> None:
        self.call(lambda m: Put(self.id, m, key, value, lease))

    def create(self, key: str, value: str, lease: int = 0) -> KeyValue | None:
        reply: CompareAndSetOk = self.call(lambda m: CompareAndSet(self.id, m, key, 0, value,
                                                                   lease))
        return reply.current if reply.succeeded else None

    def compare_and_set(self, key: str, version: int, value: str) -> bool:
        current = self.get(key)
        lease = current.lease if current else 0
        reply: CompareAndSetOk = self.call(lambda m: CompareAndSet(self.id, m, key, version,
                                                                   value, lease))
        return reply.succeeded

    def get(self, key: str) -> KeyValue | None:
        reply: RangeOk = self.call(lambda m: Range(self.id, m, key))
        return reply.kvs[0] if reply.kvs else None

    def list(self, prefix: str) -> list[KeyValue]:
        reply: RangeOk = self.call(lambda m: Range(self.id, m, prefix, prefix=True))
        return [kv for kv in reply.kvs if "/" not in kv.key[len(prefix):]]

    def delete(self, key: str, version: int | None = None) -> bool:
        return self.call(lambda m: Delete(self.id, m, key, version)).deleted

    def watch(self, key: str) -> ToyWatcher:
        now = self.get(key)
        start = (now.mod_revision if now else 0) + 1
        reply = self.call(lambda m: Watch(self.id, m, key, start_revision=start))
        return ToyWatcher(self, reply.in_reply_to)

    def now(self) -> float:
        return self.sim.now / MS

    def sleep(self, seconds: float) -> None:
        self.sim.run(until=self.sim.now + seconds * MS)

    def close(self) -> None:
        for lease in sorted(self.node.leases):
            self.revoke(lease)

    def request(self, dst: str, msg: Any) -> Any:
        """Send ``msg`` to a node outside the service (the fenced store) and return the
        first message it sends back."""
        inbox = self.node.outside
        before = len(inbox)
        self.sim.at(self.sim.now, self.node.send, dst, msg)
        self.service.run_until(lambda: any(src == dst for src, _ in inbox[before:]),
                               f"{self.id}: {msg!r} to {dst}")
        return next(reply for src, reply in inbox[before:] if src == dst)


class ToyWatcher(Watcher):
    """The events of one watch of a `ToyCoordinator`."""

    def __init__(self, client: ToyCoordinator, watch: int):
        self.client = client
        self.watch = watch

    def next(self, timeout: float) -> Event | None:
        events = self.client.node.events
        if not self.client.service.run_until(lambda: bool(events.get(self.watch)),
                                             "watch", seconds=timeout):
            return None
        return events[self.watch].pop(0)

    def cancel(self) -> None:
        self.client.node.events.pop(self.watch, None)
