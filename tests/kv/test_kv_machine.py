"""Tests of distlab.kv.machine: the key-value state machine applies each request once, answers
a repeated request with its first reply, and its state survives a round trip as storable,
immutable values."""

from __future__ import annotations

import pytest

from distlab.kv.machine import KVMachine
from distlab.sim.messages import check_message
from distlab.sim.storage import check_storable
from distlab.workloads.kv import Append, Get, Put


def test_a_repeated_append_is_applied_once_and_answered_again():
    machine = KVMachine()
    first = machine.apply(Append("c1", 1, "k", "a;"))
    assert machine.apply(Append("c1", 1, "k", "a;")) == first
    assert machine.apply(Get("c2", 1, "k")).value == "a;"


def test_a_request_older_than_the_clients_latest_is_not_applied_nor_answered():
    machine = KVMachine()
    machine.apply(Put("c1", 1, "k", "old"))
    machine.apply(Put("c1", 2, "k", "new"))
    assert machine.apply(Put("c1", 1, "k", "old")) is None
    assert machine.data == {"k": "new"}
    assert machine.reply_to(Put("c1", 2, "k", "new")) is not None
    assert machine.reply_to(Put("c1", 3, "k", "x")) is None


def test_the_state_round_trips_and_can_travel_in_a_message_and_in_storage():
    machine = KVMachine()
    machine.apply(Put("c1", 1, "x", "1"))
    machine.apply(Append("c2", 4, "y", "a"))
    state = machine.state()
    check_message(state)
    check_storable(state)
    copy = KVMachine.from_state(state)
    assert copy.data == machine.data and copy.sessions == machine.sessions
    assert copy.apply(Append("c2", 4, "y", "a")) == machine.reply_to(Append("c2", 4, "y", "a"))


def test_something_else_than_a_request_is_refused_with_a_message():
    with pytest.raises(TypeError, match="applies Get, Put and Append"):
        KVMachine().apply(("put", "x", 1))  # type: ignore[arg-type]
