"""The recipes, one suite run on three services: the toy on the chapter's Raft, a real etcd and
a real ZooKeeper (each started once for this module, on loopback, by
`distlab.coordination.servers`). What holds on all three is asserted on all three; where they
differ (ZooKeeper's one-shot watches) the test says so.

The real services run in ``make test``; select or skip them with ``-m real_services``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from distlab.coordination.api import Coordinator
from distlab.coordination.etcd import EtcdCoordinator
from distlab.coordination.recipes import Config, Election, Lock, Registry
from distlab.coordination.runs import every_step, recipe_tour
from distlab.coordination.servers import etcd_server, zookeeper_server
from distlab.coordination.toy import ToyService
from distlab.coordination.zookeeper import ZooKeeperCoordinator

pytestmark = pytest.mark.timeout(120)

BACKENDS = ["toy", pytest.param("etcd", marks=pytest.mark.real_services),
            pytest.param("zookeeper", marks=pytest.mark.real_services)]
TTL = 1.0   # seconds: etcd's smallest lease


@pytest.fixture(scope="module")
def etcd_url(tmp_path_factory) -> Iterator[str]:
    with etcd_server(tmp_path_factory.mktemp("etcd")) as url:
        yield url


@pytest.fixture(scope="module")
def zookeeper_hosts(tmp_path_factory) -> Iterator[str]:
    with zookeeper_server(tmp_path_factory.mktemp("zookeeper")) as hosts:
        yield hosts


@pytest.fixture(params=BACKENDS)
def connect(request) -> Iterator[Callable[[], Coordinator]]:
    """A function that opens one more client of the service (closed after the test)."""
    opened: list[Coordinator] = []
    if request.param == "toy":
        make: Callable[[], Coordinator] = ToyService(seed=21, clients=[]).connect
    elif request.param == "etcd":
        url = request.getfixturevalue("etcd_url")
        make = lambda: EtcdCoordinator(url)                                    # noqa: E731
    else:
        hosts = request.getfixturevalue("zookeeper_hosts")
        make = lambda: ZooKeeperCoordinator(hosts)                             # noqa: E731

    def new() -> Coordinator:
        opened.append(make())
        return opened[-1]
    yield new
    for client in opened:
        client.close()


@pytest.fixture
def name(request) -> str:
    """A name no other test uses (the real servers are shared by the module)."""
    return request.node.name.replace("[", "-").replace("]", "")


def test_only_one_client_holds_the_lock_and_tokens_grow(connect, name):
    a, b = connect(), connect()
    lock_a, lock_b = Lock(a, name, "a", a.grant(TTL)), Lock(b, name, "b", b.grant(TTL))
    token_a = lock_a.try_acquire()
    assert token_a is not None and lock_b.try_acquire() is None
    assert lock_b.holder().value == "a"
    assert lock_a.release() and lock_a.holder() is None
    token_b = lock_b.try_acquire()
    assert token_b is not None and token_b > token_a


def test_a_waiting_client_gets_the_lock_when_the_holder_releases_it(connect, name):
    a, b = connect(), connect()
    lock_a, lock_b = Lock(a, name, "a", a.grant(TTL)), Lock(b, name, "b", b.grant(TTL))
    token_a = lock_a.try_acquire()
    lock_a.release()
    assert lock_b.acquire(timeout=5.0) > token_a


def test_the_lock_of_a_holder_that_stops_renewing_passes_to_a_waiter(connect, name):
    a, b = connect(), connect()
    lease_a = a.grant(TTL)
    lock_a, lock_b = Lock(a, name, "a", lease_a), Lock(b, name, "b", b.grant(TTL))
    token_a = lock_a.try_acquire()
    a.pause(lease_a)                     # a freezes: its lease runs out
    token_b = lock_b.acquire(timeout=15.0)
    assert token_b > token_a and lock_b.holder().value == "b"
    assert not lock_a.release()          # a wakes: the lock is no longer its own


def test_a_lock_that_is_held_times_out_with_a_message_naming_the_holder(connect, name):
    a, b = connect(), connect()
    Lock(a, name, "a", a.grant(TTL)).try_acquire()
    with pytest.raises(Exception, match=f"lock /locks/{name} still held by a"):
        Lock(b, name, "b", b.grant(TTL)).acquire(timeout=1.5)


def test_an_election_has_one_leader_and_a_successor_when_it_resigns(connect, name):
    a, b = connect(), connect()
    first, second = Election(a, name, "a", a.grant(TTL)), Election(b, name, "b", b.grant(TTL))
    term = first.campaign(timeout=5.0)
    assert first.leader() == second.leader() == "a"
    assert first.resign()
    assert second.campaign(timeout=5.0) > term and first.leader() == "b"


def test_the_registry_lists_live_instances_and_forgets_one_that_stops_renewing(connect, name):
    a, b, reader = connect(), connect(), connect()
    lease_a = a.grant(TTL)
    Registry(a).register(name, "i1", "10.0.0.1:80", lease_a)
    Registry(b).register(name, "i2", "10.0.0.2:80", b.grant(TTL))
    registry = Registry(reader)
    assert registry.instances(name) == {"i1": "10.0.0.1:80", "i2": "10.0.0.2:80"}
    a.pause(lease_a)
    for _ in range(40):
        reader.sleep(0.25)
        if "i1" not in registry.instances(name):
            break
    assert registry.instances(name) == {"i2": "10.0.0.2:80"}


def test_an_ephemeral_key_goes_with_its_revoked_lease_and_a_plain_key_stays(connect, name):
    a = connect()
    lease = a.grant(TTL)
    a.put(f"/{name}/ephemeral", "x", lease)
    a.put(f"/{name}/durable", "y")
    a.revoke(lease)
    assert a.get(f"/{name}/ephemeral") is None and a.get(f"/{name}/durable").value == "y"


def test_compare_and_set_succeeds_only_on_the_version_read(connect, name):
    a, b = connect(), connect()
    key = f"/{name}"
    assert a.create(key, "1") is not None and a.create(key, "again") is None
    read = b.get(key)
    assert read.version == 1
    assert a.compare_and_set(key, read.version, "2")
    assert not b.compare_and_set(key, read.version, "3")   # lost update refused
    assert b.get(key).value == "2" and b.get(key).version == 2


def test_a_config_watch_ends_at_the_latest_value(connect, name):
    writer, reader = connect(), connect()
    key = f"/config/{name}"
    writer.put(key, "v0")
    config = Config(reader, key)
    assert config.value == "v0"
    for number in range(1, 4):
        writer.put(key, f"v{number}")
    deadline = reader.now() + 5.0
    while config.refresh(0.2) != "v3" and reader.now() < deadline:
        pass
    assert config.value == "v3"
    assert 1 <= config.changes <= 3     # etcd and the toy: 3; ZooKeeper may merge some
    config.close()


@pytest.mark.parametrize("connect", ["toy", pytest.param("etcd",
                                                         marks=pytest.mark.real_services)],
                         indirect=True)
def test_a_streaming_watch_delivers_every_revision(connect, name):
    writer, reader = connect(), connect()
    key = f"/config/{name}"
    watcher = reader.watch(key)
    for number in range(5):
        writer.put(key, f"v{number}")
    seen = [event.value for event in iter(lambda: watcher.next(2.0), None)]
    assert seen == [f"v{number}" for number in range(5)]
    watcher.cancel()


def test_the_page_s_tour_of_the_recipes_ends_alike_on_every_service(connect):
    assert recipe_tour(connect) == {
        "lock: a takes it": True, "lock: b's try while a holds it": None,
        "lock: b gets it once a stops renewing": "b", "lock: b's token > a's token": True,
        "lock: a can still release it": False, "election: leader as b sees it": "c",
        "registry: instances": ["b", "c"], "registry: after c's lease ends": ["b"],
        "config: the watcher's value": "green", "compare-and-set on a stale version": False}


@pytest.mark.real_services
def test_a_one_shot_watch_reports_the_latest_value_not_every_step(zookeeper_hosts):
    assert every_step(lambda: ZooKeeperCoordinator(zookeeper_hosts)) == ["v4"]


@pytest.mark.parametrize("connect", ["toy", pytest.param("etcd",
                                                         marks=pytest.mark.real_services)],
                         indirect=True)
def test_a_stream_reports_every_step(connect):
    assert every_step(connect) == ["v0", "v1", "v2", "v3", "v4"]
