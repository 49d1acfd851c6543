"""What the stateful search saves of a node comes back as it was (`distlab.check.snapshots`)."""

from __future__ import annotations

import pickle
from collections import deque

import pytest

from distlab.check.snapshots import dump_node, load_node
from distlab.sim import Storage, StorageError


def test_a_node_storage_is_pickled_as_a_plain_dict_and_loaded_as_a_storage():
    storage = Storage(term=3, log=[1, 2])
    attrs = {"id": "a", "storage": storage, "log": storage["log"], "role": "leader"}
    data = dump_node(dict(attrs), storage)
    assert b"Storage" not in data  # one of pickle's own types: no class to look up
    loaded, again = load_node(data)
    assert type(again) is Storage and again == storage and again is not storage
    assert loaded["storage"] is again            # self.storage is the node's storage
    assert loaded["log"] is again["log"]         # and what it shares with an attribute
    assert loaded["role"] == "leader"
    with pytest.raises(StorageError, match="deque"):
        again["queue"] = deque()                 # it still checks what is written


def test_a_second_name_for_the_storage_keeps_it_one_object():
    storage = Storage(term=3)
    attrs = {"id": "a", "storage": storage, "durable": storage, "deep": [storage]}
    loaded, again = load_node(dump_node(dict(attrs), storage))
    assert type(again) is Storage and again == storage
    assert loaded["storage"] is again and loaded["durable"] is again and loaded["deep"][0] is again


def test_what_was_pickled_the_old_way_still_loads():
    storage = Storage(term=3)
    loaded, again = load_node(pickle.dumps([({"storage": storage}, storage)]))
    assert type(again) is Storage and loaded["storage"] is again and again == {"term": 3}
