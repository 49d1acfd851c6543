"""ZooKeeper's lock recipe on the toy (`distlab.coordination.recipes.QueueLock`): waiters
queue in creation order, a release wakes only the next waiter (the create-and-watch `Lock`
wakes them all: the herd effect), and a waiter that dies leaves the queue by itself."""

from __future__ import annotations

import pytest

from distlab.coordination.api import CoordinationError
from distlab.coordination.recipes import Lock, QueueLock
from distlab.coordination.toy import ToyService

NAMES = ("a", "b", "c", "d")


def queue(seed: int = 1) -> tuple[ToyService, dict[str, QueueLock]]:
    service = ToyService(seed=seed, clients=NAMES)
    locks = {}
    for name in NAMES:
        client = service.client(name)
        locks[name] = QueueLock(client, "ledger", name, client.grant(5.0))
        locks[name].enqueue()
    return service, locks


def test_waiters_hold_the_lock_in_the_order_they_asked():
    _, locks = queue()
    assert [kv.value for kv in locks["a"].queue()] == list(NAMES)
    assert locks["a"].predecessor() is None
    assert [locks[n].predecessor().value for n in NAMES[1:]] == list(NAMES[:-1])
    tokens = [locks[n].token for n in NAMES]
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)


def test_a_release_wakes_the_next_waiter_only():
    service, locks = queue()
    watchers = {n: service.client(n).watch(locks[n].predecessor().key) for n in NAMES[1:]}
    assert locks["a"].release()
    woken = {n for n, watcher in watchers.items() if watcher.next(0.5) is not None}
    assert woken == {"b"} and locks["b"].predecessor() is None
    assert locks["b"].acquire(1.0) == locks["b"].token


def test_the_simple_lock_wakes_every_waiter_the_herd_effect():
    service = ToyService(seed=1, clients=NAMES)
    clients = {n: service.client(n) for n in NAMES}
    holder = Lock(clients["a"], "ledger", "a", clients["a"].grant(5.0))
    holder.try_acquire()
    watchers = {n: clients[n].watch(holder.key) for n in NAMES[1:]}
    holder.release()
    assert {n for n, w in watchers.items() if w.next(0.5) is not None} == set(NAMES[1:])


def test_a_waiter_whose_session_ends_leaves_the_queue_and_the_next_watches_further_ahead():
    service, locks = queue()
    service.client("c").pause(locks["c"].lease)     # c stops renewing: its key expires
    service.client("d").sleep(7.0)
    assert [kv.value for kv in locks["a"].queue()] == ["a", "b", "d"]
    assert locks["d"].predecessor().value == "b"


def test_acquire_waits_for_the_holder_to_release_and_names_who_blocks_it():
    service, locks = queue()
    with pytest.raises(CoordinationError, match="b still waits behind a"):
        locks["b"].acquire(1.0)
    service.client("a").pause(locks["a"].lease)     # the holder dies: its key expires
    assert locks["b"].acquire(10.0) == locks["b"].token


def test_joining_twice_under_one_lease_is_refused():
    service, locks = queue()
    again = QueueLock(service.client("a"), "ledger", "a", locks["a"].lease)
    with pytest.raises(CoordinationError, match="one QueueLock per lease"):
        again.enqueue()
    with pytest.raises(CoordinationError, match="enqueue"):
        QueueLock(service.client("a"), "other", "a", locks["a"].lease).predecessor()
