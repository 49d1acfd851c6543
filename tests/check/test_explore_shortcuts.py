"""The stateful search's shortcuts give exactly what the stateless search gives.

Two shortcuts of `distlab.check` save work on steps that run node code, each with a test
that it changes nothing and a test that the mistake it could hide is caught:

* a node's version whose attributes and storage are immutable all the way down is copied
  shallowly instead of unpickled (`distlab.check.snapshots.immutable`, `Cells.keep_flat`),
  and saved as bytes that equal contents share (`distlab.check.snapshots.node_content`);
* a server node's part of a state's key is computed once per version and per state, up or
  down (`distlab.check.keys.KeyParts.part`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from distlab.check import fork, keys, snapshots
from distlab.check.explore import explore
from distlab.check.linearizability import Verdict
from distlab.check.snapshots import dump_node, flat, immutable, node_content
from distlab.sim import Node, Simulation, Storage
from distlab.sim.messages import never_changes
from distlab.workloads.kv import Put


def same_in_both(setup, **options) -> tuple[int, int]:
    """Explore ``setup`` with both methods; require the same result; (states, transitions)."""
    fork = explore(setup, [], time_budget=None, **options)
    replay = explore(setup, [], time_budget=None, method="replay", **options)
    assert fork.method == "fork"
    assert (fork.status, fork.states, fork.transitions, fork.depth) == (
        replay.status, replay.states, replay.transitions, replay.depth)
    return fork.states, fork.transitions


# -- versions copied shallowly -------------------------------------------------------------------

def test_only_values_immutable_all_the_way_down_count_as_immutable():
    assert immutable(3) and immutable("a") and immutable(None) and immutable(2.5)
    assert immutable((1, ("a", frozenset({2, 3}))))
    assert not immutable([1]) and not immutable({1: 2}) and not immutable({1})
    assert not immutable((1, [2]))                 # a tuple that holds a list can change
    assert not immutable(frozenset({(1, "a")}) | {(object(),)})  # an object can change


@dataclass(frozen=True)
class Add:
    value: int


class Tally(Node):
    """Adds up what it is sent in a list kept inside a tuple: not immutable all the way down,
    so a step must change a private copy of the list, never the version's."""

    def __init__(self) -> None:
        self.sums: tuple[str, list[int]] = ("sums", [])
        self.total = 0

    def on_start(self) -> None:
        for peer in self.peers:
            self.send(peer, Add(1))

    def on_message(self, src: str, msg: Add) -> None:
        self.sums[1].append(msg.value)
        self.total += msg.value
        if len(self.sums[1]) < 3:
            self.send(src, Add(msg.value + 1))


class Counter(Node):
    """The same, with immutable attributes only: its versions are copied shallowly."""

    def __init__(self) -> None:
        self.sums: tuple[int, ...] = ()
        self.storage["total"] = 0

    def on_start(self) -> None:
        for peer in self.peers:
            self.send(peer, Add(1))

    def on_message(self, src: str, msg: Add) -> None:
        self.sums += (msg.value,)
        self.storage["total"] += msg.value
        if len(self.sums) < 3:
            self.send(src, Add(msg.value + 1))


def pair(cls: type[Node]):
    def setup(sim: Simulation) -> None:
        sim.add_nodes(cls, ["a", "b"])
    return setup


def noting_flat(monkeypatch) -> list[tuple[type[Node], bool]]:
    """A list to which each node version saved from now on adds (the node's class, whether
    the version is copied shallowly)."""
    flat = []
    resave_node = snapshots.Cells.resave_node

    def noted(self, cell, before):
        version = resave_node(self, cell, before)
        flat.append((type(version.objects[0]), version.flat))
        return version

    monkeypatch.setattr(snapshots.Cells, "resave_node", noted)
    return flat


def test_nodes_with_immutable_and_mutable_attributes_explore_alike_in_both_methods(
        monkeypatch):
    flat = noting_flat(monkeypatch)
    assert same_in_both(pair(Counter)) == same_in_both(pair(Tally))
    assert {kind for kind, shallow in flat if shallow} == {Counter}  # (Tally's never are)


def test_a_tuple_holding_a_list_copied_shallowly_would_be_caught(monkeypatch):
    """The mistake: a tuple taken as immutable without looking inside. A step then appends
    to the list of the version it started from, and the search goes wrong (here the check
    that replays the deepest state notices the divergence)."""
    right = immutable
    monkeypatch.setattr(snapshots, "immutable", lambda value: type(value) is tuple or right(value))
    with pytest.raises(RuntimeError, match="diverged"):
        explore(pair(Tally), [], time_budget=None)


def test_equal_flat_contents_are_equal_bytes_whichever_objects_hold_them():
    storage = Storage()
    storage["term"] = 2
    mine = {"id": "node-a", "voted_for": "node-a", "storage": storage}
    received = {"id": "node-a", "voted_for": "".join(["node", "-a"]), "storage": storage}
    assert mine["voted_for"] is mine["id"] and received["voted_for"] is not received["id"]
    assert node_content(mine, storage) == node_content(received, storage)
    assert node_content(mine, storage)[1]  # (flat)
    # (a pickle writes the string met twice as a reference: two contents for one)
    assert dump_node(dict(mine), storage) != dump_node(dict(received), storage)
    # a value's type is part of its content
    contents = {node_content({"term": value, "storage": storage}, storage)
                for value in (1, 1.0, True)}
    assert len(contents) == 3
    assert mine["storage"] is storage  # (the caller's copy is given back as it was)


def test_a_flat_node_that_holds_frozen_values_of_distlab_is_flat_and_pickled():
    storage = Storage()
    put = Put("c", 1, "k", "v")
    data, is_flat = node_content({"entry": put, "storage": storage}, storage)
    assert is_flat and data == dump_node({"entry": put, "storage": storage}, storage)


def test_a_node_that_can_change_in_place_is_not_flat():
    storage = Storage()
    assert flat({"storage": storage, "term": 1, "votes": frozenset({"a"})}, storage)
    assert not flat({"storage": storage, "log": [1]}, storage)
    assert not flat({"storage": storage, "pair": (1, {2})}, storage)
    assert not flat({"storage": storage, "durable": storage}, storage)
    storage["log"] = (1, [2])
    assert not flat({"storage": storage}, storage)


@dataclass(frozen=True)
class Tag:
    name: str


class Sharer(Node):
    """Keeps the first and the last tag it is sent. Each peer sends a string of its own
    making: after one message ``first`` and ``last`` are the same string object, after two
    they are two equal ones -- one content either way."""

    def __init__(self) -> None:
        self.first = self.last = ""

    def on_start(self) -> None:
        for peer in self.peers:
            self.send(peer, Tag("".join(["t", "ag"])))

    def on_message(self, src: str, msg: Tag) -> None:
        self.first = self.first or msg.name
        self.last = msg.name


def versions_and_contents(monkeypatch) -> tuple[int, int]:
    """The server nodes' versions that the search of three `Sharer` nodes saved, and the
    distinct contents among them (a node's canonical parts and its stream's position)."""
    engines = []
    build = fork.ForkEngine.__init__

    def kept(self, *args, **kwargs):
        build(self, *args, **kwargs)
        engines.append(self)

    monkeypatch.setattr(fork.ForkEngine, "__init__", kept)
    explore(lambda sim: sim.add_nodes(Sharer, ["a", "b", "c"]), [], time_budget=None)
    [engine] = engines
    contents = {(node_id, engine.keys.part_cache[data], base, words, gauss_next)
                for node_id, data, base, words, gauss_next in engine.cells.versions}
    return len(engine.cells.versions), len(contents)


def test_a_node_in_one_content_is_one_version(monkeypatch):
    versions, contents = versions_and_contents(monkeypatch)
    assert versions == contents == 6  # (each node: nothing yet, then the tag)


def test_versions_saved_as_pickles_would_be_caught(monkeypatch):
    """The mistake: a flat node's content saved by pickle, whose bytes depend on which
    string objects its attributes hold (one string twice, or two equal strings): one
    content, several versions, each taking again the steps the other took."""
    monkeypatch.setattr(snapshots, "node_content",
                        lambda attrs, storage: (dump_node(attrs, storage), flat(attrs, storage)))
    versions, contents = versions_and_contents(monkeypatch)
    assert versions > contents


# -- a node's part of the key, once per version and state -----------------------------------------

class Idle(Node):
    """Does nothing: two states that differ only in which node is down differ only in the
    parts of those nodes (no timers, no messages)."""


def test_which_node_is_down_is_part_of_the_key():
    setup = pair(Idle)
    assert same_in_both(setup, crashes=1) == (3, 2)  # the start, a down, b down


class ByVersionOnly(dict):
    """The mistake: a node's part cached by its version alone, whether it is up or down."""

    def get(self, key, default=None):
        return super().get(key[0], default)

    def __setitem__(self, key, value):
        super().__setitem__(key[0], value)


def test_a_part_cached_without_whether_the_node_is_down_would_be_caught(monkeypatch):
    right = keys.KeyParts.__init__

    def mistaken(self, *args, **kwargs):
        right(self, *args, **kwargs)
        self.server_parts = ByVersionOnly()

    monkeypatch.setattr(keys.KeyParts, "__init__", mistaken)
    fork = explore(pair(Idle), [], time_budget=None, crashes=1)
    assert fork.states == 2  # "a down" and "b down" merged: one state too few


# -- frozen values: distlab's are copied shallowly, a student's are not -------------------------

@dataclass(frozen=True)
class Mark:
    """A student's frozen dataclass, changed in place all the same (`object.__setattr__`)."""

    count: int


class Marker(Node):
    """Counts what it is sent in a frozen `Mark` that it changes in place."""

    def __init__(self) -> None:
        self.marks = (Mark(0),)

    def on_start(self) -> None:
        for peer in self.peers:
            self.send(peer, Add(1))

    def on_message(self, src: str, msg: Add) -> None:
        object.__setattr__(self.marks[0], "count", self.marks[0].count + msg.value)
        if self.marks[0].count < 3:
            self.send(src, Add(msg.value))


class Keeper(Node):
    """Keeps what it is sent as distlab's own frozen values: its versions are flat."""

    def __init__(self) -> None:
        self.puts: tuple[Put, ...] = ()
        self.verdict = Verdict.UNKNOWN

    def on_start(self) -> None:
        for peer in self.peers:
            self.send(peer, Add(1))

    def on_message(self, src: str, msg: Add) -> None:
        self.puts += (Put(src, msg.value, "k", "v"),)
        if len(self.puts) < 3:
            self.send(src, Add(msg.value + 1))


def test_only_distlabs_frozen_values_are_copied_shallowly(monkeypatch):
    flat = noting_flat(monkeypatch)
    assert same_in_both(pair(Keeper)) == same_in_both(pair(Counter))
    same_in_both(pair(Marker))
    assert {kind for kind, shallow in flat if shallow} == {Keeper, Counter}
    assert Marker in {kind for kind, _ in flat}  # (saved, never flat)


def test_a_students_frozen_value_copied_shallowly_would_be_caught(monkeypatch):
    """The mistake: a student's frozen dataclass believed (`never_changes` without a trust).
    A step then changes the `Mark` of the version it started from, and the search goes
    wrong."""
    monkeypatch.setattr(snapshots, "immutable", never_changes)
    with pytest.raises(RuntimeError, match="diverged"):
        explore(pair(Marker), [], time_budget=None)
