"""`CoordinationMachine`, applied by hand: revisions, compare-and-set, leases and ephemeral
keys, watches, sessions and snapshots."""

from __future__ import annotations

import pytest

from distlab.coordination.machine import CoordinationMachine
from distlab.coordination.messages import (CompareAndSet, Delete, Event, Expire, Grant, Put, Range,
                                           Revoke, Watch, WatchEvent)
from distlab.workloads.client import Error


class Client:
    """Requests of one client, numbered 1, 2, 3..."""

    def __init__(self, name: str = "c"):
        self.name, self.count = name, 0

    def __call__(self, cls, *args, **kwargs):
        self.count += 1
        return cls(self.name, self.count, *args, **kwargs)


def test_every_change_takes_the_next_revision_and_keys_remember_theirs():
    m, c = CoordinationMachine(), Client()
    assert m.apply(c(Put, "a", "1")).revision == 1
    assert m.apply(c(Put, "b", "1")).revision == 2
    assert m.apply(c(Put, "a", "2")).revision == 3
    a = m.apply(c(Range, "a")).kvs[0]
    assert (a.value, a.create_revision, a.mod_revision, a.version) == ("2", 1, 3, 2)
    assert m.apply(c(Delete, "b")).revision == 4
    assert m.apply(c(Range, "b")).kvs == ()


def test_compare_and_set_on_version_zero_creates_only_once():
    m, c = CoordinationMachine(), Client()
    first = m.apply(c(CompareAndSet, "lock", 0, "x"))
    second = m.apply(c(CompareAndSet, "lock", 0, "y"))
    assert first.succeeded and not second.succeeded
    assert second.current.value == "x"          # the failure says who holds it
    assert m.apply(c(CompareAndSet, "lock", 1, "z")).succeeded
    assert m.apply(c(Range, "lock")).kvs[0].value == "z"


def test_delete_with_a_version_deletes_only_that_version():
    m, c = CoordinationMachine(), Client()
    m.apply(c(Put, "k", "1"))
    m.apply(c(Put, "k", "2"))
    assert not m.apply(c(Delete, "k", 1)).deleted
    assert m.apply(c(Delete, "k", 2)).deleted


def test_range_with_prefix_reads_the_keys_under_it_in_order():
    m, c = CoordinationMachine(), Client()
    for key in ["/s/web/b", "/s/web/a", "/s/db/a"]:
        m.apply(c(Put, key, key))
    assert [kv.key for kv in m.apply(c(Range, "/s/web/", prefix=True)).kvs] == ["/s/web/a",
                                                                                 "/s/web/b"]


def test_a_key_put_with_a_lease_is_deleted_when_the_lease_expires():
    m, c = CoordinationMachine(), Client()
    lease = m.apply(c(Grant, 1000.0)).lease
    m.apply(c(Put, "ephemeral", "x", lease))
    m.apply(c(Put, "durable", "y"))
    assert m.apply(Expire(lease)) is None
    assert [kv.key for kv in m.apply(c(Range, "", prefix=True)).kvs] == ["durable"]
    assert m.leases == {}
    assert m.apply(Expire(lease)) is None       # expiring twice changes nothing
    assert m.revision == 3


def test_revoke_deletes_the_keys_too_and_says_whether_the_lease_existed():
    m, c = CoordinationMachine(), Client()
    lease = m.apply(c(Grant, 1000.0)).lease
    m.apply(c(Put, "k", "x", lease))
    assert m.apply(c(Revoke, lease)).existed
    assert not m.apply(c(Revoke, lease)).existed
    assert m.keys == {}


def test_a_put_under_a_lease_that_is_gone_is_refused_with_a_clear_error():
    m, c = CoordinationMachine(), Client()
    reply = m.apply(c(Put, "k", "x", 7))
    assert isinstance(reply, Error) and reply.definite and "lease 7 not found" in reply.text
    assert m.keys == {} and m.revision == 0


def test_a_watch_gets_every_later_change_of_its_key_and_replays_from_its_start():
    m, c = CoordinationMachine(), Client("w")
    other = Client("o")
    m.apply(other(Put, "k", "1"))
    m.apply(c(Watch, "k", start_revision=1))     # msg_id 1: starts in the past
    m.apply(other(Put, "k", "2"))
    m.apply(other(Put, "j", "ignored"))
    m.apply(other(Delete, "k"))
    assert m.notifications == [("w", WatchEvent(1, Event("put", "k", "1", 1))),
                               ("w", WatchEvent(1, Event("put", "k", "2", 2))),
                               ("w", WatchEvent(1, Event("delete", "k", None, 4)))]


def test_a_resent_request_is_answered_again_and_done_once():
    m, c = CoordinationMachine(), Client()
    put = c(Put, "k", "x")
    first = m.apply(put)
    assert m.apply(put) == first and m.revision == 1
    assert m.reply_to(put) == first


def test_the_state_survives_a_snapshot():
    m, c = CoordinationMachine(), Client()
    lease = m.apply(c(Grant, 500.0)).lease
    m.apply(c(Put, "k", "x", lease))
    m.apply(c(Watch, "k"))
    copy = CoordinationMachine.from_state(m.state())
    assert copy.state() == m.state()
    assert copy.apply(Expire(lease)) is None and copy.keys == {}


def test_a_command_of_another_service_is_refused_by_name():
    with pytest.raises(TypeError, match="applies the requests of distlab.coordination"):
        CoordinationMachine().apply("put k x")
