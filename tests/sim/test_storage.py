"""A node's storage keeps only what a real node could write to disk: `distlab.sim.storage`."""

from __future__ import annotations

import collections
import copy
import enum
import json
import pickle
from dataclasses import dataclass
from typing import NamedTuple

import pytest

from distlab.net.codec import Codec
from distlab.sim import Node, NodeError, Simulation, Storage, StorageError, check_storable


class Colour(enum.Enum):
    RED = 1


class Pair(NamedTuple):
    left: int
    right: str


@dataclass
class Entry:
    term: int
    command: tuple[str, ...]


STORABLE = [None, True, 3, 2.5, 1j, "text", b"\x00", (1, "a"), [1, [2]], {1, 2},
            frozenset({"x"}), {"k": [1]}, {(1, 2): "tuple key"}, Colour.RED, Pair(1, "a"),
            Entry(1, ("put", "x")), [Entry(2, ()), {"nested": (Pair(0, ""), Colour.RED)}]]


@pytest.mark.parametrize("value", STORABLE)
def test_values_a_real_node_can_write_and_read_back_are_storable(value: object) -> None:
    check_storable(value)
    storage = Storage()
    storage["x"] = value
    assert storage == {"x": value}


@pytest.mark.parametrize("value", STORABLE)
def test_every_storable_value_comes_back_from_a_real_nodes_disk_as_it_was(value: object) -> None:
    codec = Codec([Colour, Pair, Entry])       # a real node's codec knows its classes
    back = codec.decode(json.loads(json.dumps(codec.encode(value))))
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("value, where, advice", [
    (collections.deque([1]), r"storage\['x'\]", "store list"),
    (collections.defaultdict(list), r"storage\['x'\]", "store dict"),
    (collections.Counter("ab"), r"storage\['x'\]", "store dict"),
    (range(3), r"storage\['x'\]", "store list"),
    (bytearray(b"ab"), r"storage\['x'\]", "store bytes"),
    (("ok", [object()]), r"storage\['x'\]\[1\]\[0\]", "build storage from None"),
    ({"k": {frozenset({range(1)})}}, r"an item of an item of storage\[.x.\]\[.k.\]",
     "store list"),
    ({range(2): 1}, r"a key of storage\['x'\]", "store list"),
    (Entry(1, (range(1),)), r"storage\['x'\]\.command\[0\]", "store list"),
])
def test_a_value_that_could_not_survive_a_real_crash_is_refused_where_it_is_written(
        value: object, where: str, advice: str) -> None:
    storage = Storage()
    with pytest.raises(StorageError, match=where + r" is of type \w+, which a real node could "
                                                   r"not write to disk.*" + advice):
        storage["x"] = value
    with pytest.raises(StorageError):
        storage.setdefault("y", value)
    with pytest.raises(StorageError):
        storage.update(z=value)
    with pytest.raises(StorageError):
        storage |= {"w": value}
    assert storage == {}


def test_a_key_must_be_storable_too() -> None:
    with pytest.raises(StorageError, match="a storage key is of type range"):
        Storage()[range(1)] = 1


def test_a_value_that_contains_itself_is_refused() -> None:
    loop: list[object] = [1]
    loop.append(loop)
    with pytest.raises(StorageError, match=r"storage\['x'\]\[1\] contains itself"):
        Storage()["x"] = loop


def test_storage_copies_and_pickles_as_storage_with_its_sharing_kept() -> None:
    log = [Entry(1, ())]
    storage = Storage(log=log)
    state = pickle.loads(pickle.dumps((log, storage)))
    assert type(state[1]) is Storage and state[1] == storage
    assert state[1]["log"] is state[0]          # still the same list, as in the node
    assert type(copy.deepcopy(storage)) is Storage


class Hoarder(Node):
    """Keeps what it is told to keep, as it is told to keep it."""

    def __init__(self, value: object, in_place: bool = False) -> None:
        self.value = value
        self.in_place = in_place

    def on_start(self) -> None:
        if self.in_place:
            self.storage.setdefault("kept", []).append(self.value)
        else:
            self.storage["kept"] = self.value


def test_a_node_that_stores_a_deque_fails_in_the_simulator_as_a_real_node_would() -> None:
    sim = Simulation(seed=1)
    sim.add_node(Hoarder, "a", value=collections.deque([1, 2]))
    with pytest.raises(NodeError, match=r"node 'a' raised StorageError in on_start.*"
                                        r"storage\['kept'\] is of type deque.*store list"):
        sim.run(until=10)


def test_a_value_changed_in_place_is_caught_when_the_node_crashes() -> None:
    sim = Simulation(seed=1)
    sim.add_node(Hoarder, "a", value=range(2), in_place=True)
    sim.run(until=10)                         # appended to a stored list: not seen yet
    with pytest.raises(StorageError, match=r"node 'a' cannot crash and keep its storage: "
                                           r"storage\['kept'\]\[0\] is of type range"):
        sim.crash("a")
    assert sim.is_up("a")


def test_storage_survives_a_crash_as_before() -> None:
    sim = Simulation(seed=1)
    sim.add_node(Hoarder, "a", value=(Entry(1, ("x",)), Colour.RED), in_place=True)
    sim.run(until=10)
    sim.crash("a")
    sim.restart("a")
    sim.run(until=20)
    assert sim.nodes["a"].storage == {"kept": [(Entry(1, ("x",)), Colour.RED)] * 2}
