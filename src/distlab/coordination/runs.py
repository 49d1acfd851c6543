"""The runs page 04.06 shows: the paused lock holder, with and without fencing, on the toy; the
tour of the recipes that runs unchanged on the toy, etcd and ZooKeeper; the watch that shows
how their watches differ.

Each returns what does not depend on wall-clock time (values, True/False, the order of
tokens), so the page prints the same every time, for the real services too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distlab.coordination.api import CoordinationError, Coordinator
from distlab.coordination.recipes import Config, Election, Lock, Registry
from distlab.coordination.toy import ToyService
from distlab.election.fencing import WriteValue
from distlab.sim import Simulation


@dataclass(frozen=True)
class PausedHolder:
    """The story of `paused_holder`: each client's token (``token_b`` None: b never got the
    lock); each write to the store as (who, when in ms, the store's answer), in order; the
    value the store ends with; and when (ms) a paused, a's lease expired and b got the lock
    (None: it did not happen)."""

    sim: Simulation
    token_a: int
    token_b: int | None
    writes: tuple[tuple[str, float, Any], ...]
    final: str
    paused_at: float
    expired_at: float | None
    acquired_at: float | None


def paused_holder(*, fencing: bool, seed: int = 1, pause: float = 3.0,
                  ttl: float = 1.0) -> PausedHolder:
    """Client ``a`` takes the lock and freezes for ``pause`` s (a garbage-collection pause)
    just before writing to the store: its renewals stop. Meanwhile ``b`` waits for the lock
    and, if a's lease (``ttl`` s) expires, takes it and writes. Then ``a`` wakes up and
    writes what it was about to write, with its old token."""
    service = ToyService(seed=seed, store=True, fencing=fencing)
    a, b = service.client("a"), service.client("b")
    lease_a = a.grant(ttl)
    token_a = Lock(a, "ledger", "a", lease_a).try_acquire()
    paused_at = service.sim.now
    a.pause(lease_a)                                     # a freezes: no more renewals
    lock_b = Lock(b, "ledger", "b", b.grant(ttl))
    writes = []
    try:
        token_b: int | None = lock_b.acquire(timeout=pause)
        acquired_at: float | None = service.sim.now
        writes.append(("b", service.sim.now, b.request("store", WriteValue(token_b,
                                                                           "written by b"))))
    except CoordinationError:                            # a's lease outlived the pause
        token_b = acquired_at = None
    b.sleep(max(0.0, pause - (service.sim.now - paused_at) / 1000))
    writes.append(("a", service.sim.now, a.request("store", WriteValue(token_a,
                                                                       "written by a"))))
    expired = [e.time for e in service.sim.trace.of_kind("note")
               if e.data.what == "lease expired"]
    return PausedHolder(service.sim, token_a, token_b, tuple(writes),
                        service.sim.nodes["store"].storage["value"], paused_at,
                        expired[0] if expired else None, acquired_at)


def recipe_tour(connect: Callable[[], Coordinator], ttl: float = 1.0) -> dict[str, Any]:
    """Run each recipe once on the service ``connect()`` opens clients of; what happened, as
    short printable outcomes (the same on every service that keeps the recipes' promises)."""
    a, b, c = connect(), connect(), connect()
    try:
        outcome: dict[str, Any] = {}
        lease_a = a.grant(ttl)
        lock_a, lock_b = Lock(a, "tour", "a", lease_a), Lock(b, "tour", "b", b.grant(ttl))
        token_a = lock_a.try_acquire()
        outcome["lock: a takes it"] = token_a is not None
        outcome["lock: b's try while a holds it"] = lock_b.try_acquire()
        a.pause(lease_a)
        token_b = lock_b.acquire(timeout=15 * ttl)
        outcome["lock: b gets it once a stops renewing"] = lock_b.holder().value
        outcome["lock: b's token > a's token"] = token_b > token_a
        outcome["lock: a can still release it"] = lock_a.release()
        leader = Election(c, "tour", "c", c.grant(ttl))
        leader.campaign(timeout=5 * ttl)
        outcome["election: leader as b sees it"] = Election(b, "tour", "b", 0).leader()
        lease_c = c.grant(ttl)
        Registry(b).register("web", "b", "10.0.0.2:80", lock_b.lease)
        Registry(c).register("web", "c", "10.0.0.3:80", lease_c)
        registry = Registry(a)
        outcome["registry: instances"] = sorted(registry.instances("web"))
        c.revoke(lease_c)
        outcome["registry: after c's lease ends"] = sorted(registry.instances("web"))
        config = Config(a, "/config/tour")
        for value in ["blue", "green"]:
            b.put("/config/tour", value)
        deadline = a.now() + 5.0
        while config.refresh(0.2) != "green" and a.now() < deadline:
            pass
        outcome["config: the watcher's value"] = config.value
        config.close()
        read = c.get("/config/tour")
        b.compare_and_set("/config/tour", read.version, "red")
        outcome["compare-and-set on a stale version"] = c.compare_and_set("/config/tour",
                                                                          read.version, "x")
        return outcome
    finally:
        for client in (a, b, c):
            client.close()


def every_step(connect: Callable[[], Coordinator], writes: int = 5) -> list[str | None]:
    """One client watches a key while another writes ``writes`` values to it, before the
    watcher looks; the values the watch then reports."""
    writer, reader = connect(), connect()
    try:
        key = "/config/steps"
        watcher = reader.watch(key)
        for number in range(writes):
            writer.put(key, f"v{number}")
        seen = []
        while (event := watcher.next(1.0)) is not None:
            seen.append(event.value)
        watcher.cancel()
        return seen
    finally:
        writer.close()
        reader.close()
