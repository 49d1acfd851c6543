"""What the stateful search saves of a simulation, and how it loads it back.

The stateful search (`distlab.check.fork`) keeps a snapshot of every state it has still to
expand. The part of a state that node code reads and writes is cut into **cells**, each
saved and loaded as one: every server node (its attributes and its ``storage``), the clients
together (with the operations they recorded in ``sim.history``), the network (its settings,
the run's cut and busy links), and the invariants that remember the past. A cell's saved
content is a `Version`; a `Snapshot` holds one version per cell, and the rest of the state
(clock, pending events, timers, counters).

A node's attributes and storage are saved together, with `pickle` (the fastest faithful
copy in Python: equal values, and objects shared within the node stay shared --
``self.log = self.storage["log"]`` still works after a load). What pickle cannot copy (a
local class, a lambda) is copied with `copy.deepcopy` instead, which never copies the node
itself, another node or the simulation. (Pickle is safe here: the bytes never leave this
process; `distlab.net` does not use it, where bytes come from others.) Loading a version
writes the saved attributes back into the *same* node objects, so that anything that holds a
node -- a ``sim.at`` action, a closure in ``setup`` -- still holds the live one.

A step changes at most the cells of the nodes whose code it runs: the other cells' versions
are shared between a state and its children. A server node's versions are interned by
content, so that equal versions are the same object (and compare by identity). To be read
-- by the invariants, for the state's key -- a server node's version is shown as a *view*:
its attributes unpickled once, kept with the version and swapped in as the node's
``__dict__``; node code never runs on a view (a node gets a private copy before its handler
runs, `Cells.load`). When a node's attributes and storage are immutable all the way down
(numbers, strings, tuples and frozensets of them, distlab's own frozen values: `immutable`),
its version keeps them as its view from the moment it is saved, and a private copy is a
shallow copy of them (`Cells.keep_flat`): nothing in them can change in place, so nothing is
unpickled. Such a version is saved as `marshal`'s bytes instead of a pickle where it can be
(`node_content`), so that equal contents are one version whichever objects hold them.
"""

from __future__ import annotations

import copy
import marshal
import pickle
from collections.abc import Callable, Hashable, Sequence
from types import MethodType
from typing import Any

from distlab.check.invariants import Invariant
from distlab.sim import Node, Simulation, Storage
from distlab.sim.messages import IMMUTABLE_TYPES as _SCALARS
from distlab.sim.messages import library_class, never_changes

#: The attributes of a node that belong to the runtime: put back as they are, never copied.
LIVE = ("_runtime", "send", "rng")


#: What the pickle of an object of class `Storage` holds: the name of the class's module.
_STORAGE_MODULE = Storage.__module__.encode()


def dump_node(attrs: dict[str, Any], storage: Storage) -> bytes:
    """Pickle a server node's attributes ``attrs`` (a copy of them, changed here) and its
    ``storage``, the storage as a plain dict.

    A `Storage` is a dict that checks what is written into it; pickled as itself, it goes
    through a Python method (`Storage.__reduce__`) and is loaded by its class's name, which
    took two thirds of the time of a node's pickle. As a plain dict it is one of pickle's own
    types, and `load_node` makes it a `Storage` again. If anything besides ``self.storage``
    holds the storage object itself (``self.durable = self.storage``), pickle meets that
    object and writes its class's name: then the storage is pickled as itself, so that the
    two stay one object after a load.
    """
    plain = dict(storage)
    if attrs.get("storage") is storage:
        attrs["storage"] = plain
    data = pickle.dumps([(attrs, plain)], pickle.HIGHEST_PROTOCOL)
    if _STORAGE_MODULE in data:
        if attrs.get("storage") is plain:
            attrs["storage"] = storage
        data = pickle.dumps([(attrs, storage)], pickle.HIGHEST_PROTOCOL)
    return data


def load_node(data: bytes) -> tuple[dict[str, Any], Storage]:
    """The attributes and the storage that `dump_node` saved, as new objects."""
    [(attrs, storage)] = pickle.loads(data)
    if type(storage) is dict:  # (saved as a plain dict: a Storage again, with the same items)
        plain, storage = storage, Storage(storage)
        if attrs.get("storage") is plain:
            attrs["storage"] = storage
    return attrs, storage


#: What the saved content of a flat node starts with when marshal writes it (`node_content`);
#: a pickle never does.
_FLAT = b"flat:"


def flat(attrs: dict[str, Any], storage: Storage) -> bool:
    """Whether a server node whose attributes are ``attrs`` (a copy of the node's, but the
    runtime's) and whose storage is ``storage`` is *flat*: both `immutable` all the way down,
    and the storage under no other name than ``storage`` (`dump_node` keeps such a second name
    the same object as the storage; a shallow copy would not)."""
    saved = attrs.get("storage")  # (the storage itself, or a plain copy of it)
    if saved is not storage and not (type(saved) is dict and saved == storage):
        return False
    # (`immutable`, with its first test inline: most values are numbers and strings)
    scalars = _SCALARS
    for name, value in attrs.items():
        if type(value) not in scalars and name != "storage" and not immutable(value):
            return False
    for key, value in storage.items():
        if ((type(key) not in scalars or type(value) not in scalars)
                and not (immutable(key) and immutable(value))):
            return False
    return True


def node_content(attrs: dict[str, Any], storage: Storage) -> tuple[bytes, bool]:
    """The saved content of a server node whose attributes are ``attrs`` (a copy of the
    node's, but the runtime's, which this may change) and whose storage is ``storage``, and
    whether the node is `flat` (its version then keeps them as they are, `Cells.keep_flat`).

    A flat node's content is written by `marshal` (format 2) when it can be: equal contents
    give equal bytes, whichever objects hold the values. A pickle writes a string met twice as
    a reference to the first, so that a node whose ``voted_for`` is the very string of its
    ``id`` and one whose equal string came in a message were saved as two versions; the search
    knows a node's steps by its version (`distlab.check.transitions.StepMemo`), and each copy
    ran again the steps the other had taken. Marshal also writes each value's type (``1``,
    ``1.0`` and ``True`` stay three contents). The bytes are only compared, never loaded. Marshal
    writes built-in types only: a flat node that holds distlab's frozen values (an enum, a
    frozen dataclass) is pickled, as every other node is (`dump_node`, which raises what
    pickle raises)."""
    if not flat(attrs, storage):
        return dump_node(attrs, storage), False
    saved, plain = attrs.get("storage"), dict(storage)
    attrs["storage"] = plain  # (marshal writes plain dicts only: in the caller's copy, and back)
    try:
        data = _FLAT + marshal.dumps((attrs, plain), 2)
    except ValueError:  # a value of a class, which marshal does not write
        data = None
    attrs["storage"] = saved
    return (dump_node(attrs, storage) if data is None else data), True


def immutable(value: Any) -> bool:
    """Whether ``value`` can never change (`distlab.sim.messages.never_changes`): a number, a
    string, None, a tuple or a frozenset of such values, or an enum, a named tuple or a frozen
    dataclass of distlab's own. A shallow copy of a dictionary of such values is as good as a
    deep one.

    A class of the student's is not believed: a frozen dataclass can still be changed with
    ``object.__setattr__``, and a change made in a shallow copy would reach the saved state
    too, silently. Such values are copied by pickle, as every other value that may change.
    """
    return never_changes(value, trusted=library_class)


class Copied:
    """A cell's content copied with `copy.deepcopy`, for what pickle cannot save."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


class Cell:
    """A part of the simulation saved and restored as one: a node, or all clients with the
    operations they recorded, or the network, or the invariants that remember the past."""

    def __init__(self, name: str, objects: Callable[[], list[Any]]):
        self.name = name
        self.objects = objects  # the live objects of the cell, in the working simulation


class Version:
    """One saved content of a cell: the objects, their saved attributes, stream positions.

    ``flat`` says that a server node's attributes and storage are immutable all the way down
    (`immutable`): ``live`` then holds them from the start, and a private copy is a shallow
    copy of them (`Cells.load`), no unpickling.
    """

    __slots__ = ("objects", "data", "positions", "parts", "live", "flat")

    def __init__(self, objects: tuple, data: Any, positions: tuple):
        self.objects = objects
        self.data = data          # pickled bytes, or a deep copy when pickle cannot
        self.positions = positions
        self.parts: Any = None    # cached key parts of the nodes in it (see `KeyParts`)
        self.live: Any = None     # its attributes and storage, to read only (see `view`)
        self.flat = False


class Snapshot:
    """A state of the search, to expand later (or a child just reached)."""

    __slots__ = ("path", "now", "heap", "timers", "crashed", "incarnation", "clocks",
                 "versions", "net_position", "msg_next", "seq_next", "events", "parts",
                 "inflight", "by_seq", "timer_key", "runs", "cuts", "drops", "crashes",
                 "memory", "enabled", "derive")


class Cells:
    """The cells of the working simulation: which version each holds, saving and loading.

    Cells are numbered: the server nodes first (``server_cells`` of them, in the order of
    ``servers``), then the clients (one cell, if any), the network (``net_cell``) and the
    invariants that remember (``inv_cell``, None if none does). ``loaded[cell]`` is the
    version the live objects hold now, ``private[cell]`` whether as their own copy (or as a
    view, to read only).
    """

    def __init__(self, sim: Simulation, servers: list[str], clients: list[str],
                 remembering: list[Invariant]):
        self.sim = sim
        self.servers = servers
        self.remembering = remembering
        # (the cells' functions hold the simulation, not these cells: no reference cycle
        # keeps the versions alive after the search, see `ForkEngine`)
        self.all = [Cell(i, lambda i=i: [sim.nodes[i]]) for i in servers]
        self.cell_of = {i: n for n, i in enumerate(servers)}
        self.server_cells = len(servers)
        if clients:
            self.cell_of.update({i: len(self.all) for i in clients})
            self.all.append(Cell("clients", lambda: [sim.nodes[i] for i in clients]))
        self.net_cell = len(self.all)
        self.all.append(Cell("network", lambda: [sim.network]))
        self.inv_cell = len(self.all) if remembering else None
        if remembering:
            self.all.append(Cell("invariants", lambda: list(remembering)))
        self.loaded: list[Version | None] = [None] * len(self.all)
        self.private = [True] * len(self.all)
        # each remembering invariant, with the names of its own bound methods (its ``fn``),
        # which stay as they are instead of being saved
        self.own_methods = [(inv, {name for name, value in vars(inv).items()
                                   if isinstance(value, MethodType) and value.__self__ is inv})
                            for inv in remembering]
        # the server nodes' versions and the invariants' interned by content, so that equal
        # versions are the same object
        self.versions: dict[Hashable, Version] = {}
        self.invariant_versions: dict[bytes, Version] = {}

    def forget(self) -> None:
        """Note that the live objects hold no known version any more (a replay ran)."""
        self.loaded[:] = [None] * len(self.all)
        self.private[:] = [True] * len(self.all)

    def save_all(self) -> list[Version]:
        """A version of every cell, as the live objects hold it now (now loaded)."""
        versions = [self.save(cell) for cell in range(len(self.all))]
        for cell in range(self.server_cells):  # interned, as `resave_node` does
            version = versions[cell]
            if type(version.data) is bytes:
                base, words, gauss_next = version.positions[0]
                content = (id(version.objects[0]), version.data, id(base), words, gauss_next)
                versions[cell] = self.versions.setdefault(content, version)
        self.loaded[:] = versions
        return versions

    def payload(self, cell: int) -> Any:
        """What is saved of a cell: its objects' attributes (and storage, and history)."""
        sim = self.sim
        if cell == self.net_cell:  # its settings, and the run's state of its links
            return vars(sim.network), sim._cut_links, sim._busy_until
        if cell == self.inv_cell:
            saved = []
            for inv in self.remembering:
                attrs = vars(inv).copy()
                for name, value in vars(inv).items():
                    if isinstance(value, MethodType) and value.__self__ is inv:
                        del attrs[name]  # its own method (Invariant.fn): kept as it is
                saved.append(attrs)
            return saved
        saved = []
        for node in self.all[cell].objects():
            attrs = vars(node).copy()
            for name in LIVE:
                attrs.pop(name, None)
            saved.append((attrs, sim._storage[node.id]))
        if self.all[cell].name == "clients":
            return saved, sim.history.operations
        return saved

    def memo(self, objects: Sequence[Any] = ()) -> dict[int, Any]:
        """What `copy.deepcopy` must keep by identity: the simulation, its nodes (and the
        cell's ``objects``, which may be an earlier incarnation), their streams."""
        sim = self.sim
        keep: list[Any] = [sim, sim.network, sim.history, sim._net_rng, *self.remembering]
        for node in [*sim.nodes.values(), *objects]:
            keep += [node, getattr(node, "rng", None)]
        return {id(obj): obj for obj in keep}

    def save(self, cell: int) -> Version:
        """A new version of ``cell`` holding what its objects hold now."""
        objects = tuple(self.all[cell].objects())
        payload = self.payload(cell)
        try:
            if cell < self.server_cells:
                [(attrs, storage)] = payload
                data, is_flat = node_content(attrs, storage)
                if is_flat:
                    version = Version(objects, data, (objects[0].rng.position(),))
                    self.keep_flat(version, objects[0], attrs)
                    return version
            else:
                data = pickle.dumps(payload, pickle.HIGHEST_PROTOCOL)
        except Exception:  # pickle's errors vary: PicklingError, TypeError, AttributeError
            data = Copied(copy.deepcopy(payload, self.memo(objects)))
        positions = tuple([obj.rng.position() if isinstance(obj, Node) else None
                           for obj in objects])
        return Version(objects, data, positions)

    def load(self, cell: int, version: Version) -> None:
        """Write ``version`` back into the live objects of ``cell``."""
        sim = self.sim
        data = version.data
        if cell < self.server_cells and type(data) is bytes:  # the quick, frequent case
            node = version.objects[0]
            own = node.__dict__
            runtime, rng, send = own["_runtime"], own["rng"], own.get("send")
            if version.flat:  # (nothing in it can change in place: a shallow copy will do)
                attrs, storage = version.live[0].copy(), Storage(version.live[1])
                attrs["storage"] = storage
            else:
                attrs, storage = load_node(data)
            attrs["_runtime"], attrs["rng"] = runtime, rng
            if send is not None:
                attrs["send"] = send
            node.__dict__ = attrs  # a new dict: the one it had may be a version's view
            self.private[cell] = True
            sim._storage[node.id] = storage
            sim.nodes[node.id] = sim._records[node.id].node = node
            position = version.positions[0]
            if position[1] != rng.words or position[0] is not rng.base:
                rng.restore(position)
            else:
                rng.gauss_next = position[2]
            self.loaded[cell] = version
            return
        payload = (copy.deepcopy(data.value, self.memo(version.objects))
                   if type(data) is Copied else pickle.loads(data))
        if cell == self.net_cell:
            settings, sim._cut_links, sim._busy_until = payload
            vars(sim.network).clear()
            vars(sim.network).update(settings)
        elif cell == self.inv_cell:
            for inv, saved in zip(self.remembering, payload):
                vars(inv).update(saved)
        else:
            if self.all[cell].name == "clients":
                payload, operations = payload
                sim.history.operations[:] = operations
            for node, (attrs, storage), position in zip(version.objects, payload,
                                                        version.positions):
                own = vars(node)
                live = [(name, own[name]) for name in LIVE if name in own]
                attrs = dict(attrs)
                attrs.update(live)
                node.__dict__ = attrs  # (a new dict, as above)
                sim._storage[node.id] = storage
                sim.nodes[node.id] = sim._records[node.id].node = node
                node.rng.restore(position)
        self.loaded[cell] = version
        self.private[cell] = True

    def view(self, cell: int, version: Version) -> None:
        """Show ``version`` of a server node's cell in its live node, to be read only (by the
        invariants, and for the key): the node's ``__dict__`` becomes the version's own
        unpickled attributes, kept with the version and shared by every state that holds it,
        instead of a private copy. `load` makes a private copy before node code runs."""
        data = version.data
        if type(data) is not bytes:
            self.load(cell, version)
            return
        node = version.objects[0]
        live = version.live
        if live is None:
            own = node.__dict__
            attrs, storage = load_node(data)
            attrs["_runtime"], attrs["rng"] = own["_runtime"], own["rng"]
            if "send" in own:
                attrs["send"] = own["send"]
            live = version.live = (attrs, storage)
        node.__dict__ = live[0]
        sim = self.sim
        sim._storage[node.id] = live[1]
        sim.nodes[node.id] = sim._records[node.id].node = node
        self.loaded[cell] = version
        self.private[cell] = False

    def show(self, versions: Sequence[Version], skip: int = -1) -> None:
        """Load ``versions`` in the cells (but ``skip``) that hold another one: server nodes
        as views, to read (a step's actor gets a private copy before its code runs)."""
        loaded, servers = self.loaded, self.server_cells
        for cell, version in enumerate(versions):
            if loaded[cell] is not version and cell != skip:
                if cell < servers:
                    self.view(cell, version)
                else:
                    self.load(cell, version)

    def own_all(self) -> None:
        """Make every server node's loaded version a private copy (before a step that may
        change any of them: a crash, a restart, a ``sim.at`` action)."""
        for cell in range(self.server_cells):
            if not self.private[cell] and self.loaded[cell] is not None:
                self.load(cell, self.loaded[cell])

    def resave_node(self, cell: int, before: Version) -> Version:
        """`resave` for the cell of one server node: the most frequent case, made quick."""
        node = self.sim.nodes[self.servers[cell]]
        attrs = vars(node).copy()
        for name in LIVE:
            attrs.pop(name, None)
        try:
            data, is_flat = node_content(attrs, self.sim._storage[node.id])
        except Exception:
            return self.resave(cell, before)
        rng = node.rng
        if data == before.data and node is before.objects[0]:
            base, words, gauss_next = before.positions[0]
            if words == rng.words and base is rng.base and gauss_next == rng.gauss_next:
                self.loaded[cell] = before
                return before
        position = rng.position()
        content = (id(node), data, id(position[0]), position[1], position[2])
        after = self.versions.get(content)
        if after is None:
            after = self.versions[content] = Version((node,), data, (position,))
            if is_flat:
                self.keep_flat(after, node, attrs)
        self.loaded[cell] = after
        return after

    def keep_flat(self, version: Version, node: Node, attrs: dict[str, Any]) -> None:
        """Keep the attributes ``attrs`` of a flat node just saved in ``version`` (a copy of
        the node's, but the runtime's, which never change: `flat`) as its `view`:
        the view needs no unpickling, and a private copy is a shallow one (`load`)."""
        storage = self.sim._storage[node.id]
        own = node.__dict__
        live = dict(attrs)
        copied = live["storage"] = Storage(storage)
        live["_runtime"], live["rng"] = own["_runtime"], own["rng"]
        if "send" in own:
            live["send"] = own["send"]
        version.live, version.flat = (live, copied), True

    def resave_invariants(self, before: Version) -> Version:
        """`resave` for the invariants that remember: checked after every step."""
        saved = []
        for inv, own in self.own_methods:  # (a copy less its own methods: as `payload`)
            attrs = vars(inv).copy()
            for name in own:
                attrs.pop(name, None)
            saved.append(attrs)
        try:
            data = pickle.dumps(saved, pickle.HIGHEST_PROTOCOL)
        except Exception:
            return self.resave(self.inv_cell, before)
        if data == before.data:
            self.loaded[self.inv_cell] = before
            return before
        after = self.invariant_versions.get(data)
        if after is None:
            after = self.invariant_versions[data] = Version(before.objects, data,
                                                             before.positions)
        self.loaded[self.inv_cell] = after
        return after

    def resave(self, cell: int, before: Version) -> Version:
        """The version of ``cell`` after a step: ``before`` itself if nothing changed."""
        after = self.save(cell)
        if (type(after.data) is bytes and after.data == before.data
                and after.objects == before.objects and after.positions == before.positions):
            after = before
        self.loaded[cell] = after
        return after
