"""The key of a state of the stateful search, computed part by part and shared.

The schedule explorer does not explore a state twice: it keeps the key of every state it has
seen (`distlab.check.explore`). The replay engine computes a state's key from scratch --
every node's canonical fingerprint and storage (`distlab.check.canonical`), the messages in
flight, the pending timers. The stateful search (`distlab.check.fork`) builds the very same
key from parts it computes once and shares: a node's part is computed once per saved version
of the node (most steps change one node, and leave every other part as it was), and each
part -- a node, a message in flight -- is *interned* as a small int, cheap to hash and to
compare.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Hashable, Sequence
from typing import Any

from distlab.check.canonical import canonical
from distlab.check.snapshots import Cells, Snapshot, Version
from distlab.sim import Simulation
from distlab.sim.scheduler import Entry


def fingerprint(value: Hashable) -> int:
    """A 64-bit hash of a key, or of a part of one, that equal values share and that tells
    apart what Python's own hash confuses: messages of different classes with equal fields
    (a dataclass hashes its fields only: ``Vote(term=1)`` and ``Candidacy(term=1)`` hash
    alike), and sets whose elements' hashes combine alike (a frozenset's hash mixes them
    with XOR). Every process forked from this one computes the same fingerprint for the same
    value; `distlab.check.split` compares states across worker processes with it."""
    kind = type(value)
    if kind is tuple:
        return hash(("tuple", *[fingerprint(item) for item in value]))
    if kind is frozenset:
        return hash(("set", *sorted([fingerprint(item) for item in value])))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # (equal only to an instance of the same class: its name is part of the hash)
        return hash((kind.__module__, kind.__qualname__,
                     *[fingerprint(getattr(value, field.name))
                       for field in dataclasses.fields(value)]))
    if isinstance(value, enum.Enum) and not isinstance(value, int):
        return hash((kind.__module__, kind.__qualname__, value.name))
    return hash(value)  # numbers, strings, None, classes, functions (the same in a fork)


class KeyParts:
    """The parts of the states' keys: interned node states and messages in flight."""

    def __init__(self, sim: Simulation, cells: Cells, clients: list[str], restarts: bool):
        self.sim = sim
        self.cells = cells
        self.clients = clients
        self.restarts = restarts  # (a message to a crashed node counts only if it restarts)
        self.deliver_fn = sim._deliver_fn
        self.intern: dict[Hashable, int] = {}
        self.values: list[Hashable] = []  # what each interned number stands for
        self.fingerprints: list[int] = []  # their fingerprints, computed when first asked
        self.as_is: dict[type, bool] = {}  # whether a message's type is its canonical form
        self.part_cache: dict[Any, Any] = {}  # node parts by saved content
        # a server node's interned part by (version, whether it is down) (see `part`)
        self.server_parts: dict[tuple[Version, bool], int] = {}

    def node_parts(self, cell: int, version: Version) -> tuple:
        """``(canonical fingerprint, canonical storage)`` of each node of a cell's version,
        computed once per saved content (the objects must hold that version now)."""
        if version.parts is None:
            cached = self.part_cache.get(version.data) if type(version.data) is bytes else None
            if cached is None:
                cached = tuple((canonical(node.fingerprint()), canonical(node.storage))
                               for node in version.objects)
                if type(version.data) is bytes:
                    self.part_cache[version.data] = cached
            version.parts = cached
        return version.parts

    def part(self, node_id: str, versions: Sequence[Version]) -> int:
        """The interned part of the key that describes node ``node_id``: for a server node,
        computed once per version and state (up or down)."""
        cell = self.cells.cell_of[node_id]
        version = versions[cell]
        crashed = node_id in self.sim.crashed
        # (the versions of server nodes saved by pickle are interned, and live long anyway)
        server = cell < self.cells.server_cells and type(version.data) is bytes
        if server:
            number = self.server_parts.get((version, crashed))
            if number is not None:
                return number
        position = 0 if cell < self.cells.server_cells else self.clients.index(node_id)
        fingerprint, storage = self.node_parts(cell, version)[position]
        number = self.interned((node_id, crashed, None if crashed else fingerprint, storage))
        if server:
            self.server_parts[(version, crashed)] = number
        return number

    def interned(self, value: Hashable) -> int:
        """A small int standing for ``value`` (equal values, equal ints): cheap to hash."""
        number = self.intern.get(value)
        if number is None:
            number = self.intern[value] = len(self.values)
            self.values.append(value)
        return number

    def fingerprints_of(self, numbers: Sequence[int]) -> list[int]:
        """The `fingerprint` of what each interned number in ``numbers`` stands for."""
        known, values = self.fingerprints, self.values
        for number in range(len(known), len(values)):
            known.append(fingerprint(values[number]))
        return [known[number] for number in numbers]

    def in_flight(self, entry: Entry) -> int:
        """The interned ``(sender, receiver, canonical message)`` of a pending delivery."""
        _, _, src, dst, _, msg = entry[3]
        kind = type(msg)
        as_is = self.as_is.get(kind)
        if as_is is None:
            params = getattr(kind, "__dataclass_params__", None)
            as_is = self.as_is[kind] = (kind in (int, float, str, bytes, bool, type(None))
                                        or (params is not None and params.frozen
                                            and params.eq))
        if as_is:  # its own canonical form (see canonical()), when it hashes
            try:
                return self.interned((src, dst, msg))
            except TypeError:
                pass
        return self.interned((src, dst, canonical(msg)))

    def count_in_flight(self, snap: Snapshot) -> None:
        """The messages in flight, from scratch (after a crash or a ``sim.at`` action)."""
        crashed, restarts = self.sim.crashed, self.restarts
        snap.by_seq, snap.inflight = {}, {}
        for entry in self.sim.scheduler.heap:
            if entry[2] is self.deliver_fn and (entry[3][3] not in crashed or restarts):
                number = snap.by_seq[entry[1]] = self.in_flight(entry)
                snap.inflight[number] = snap.inflight.get(number, 0) + 1

    def count_others(self, snap: Snapshot) -> None:
        """The pending ``sim.at`` actions and the cut links (only ``sim.at`` changes them)."""
        sim = self.sim
        runs: dict[Hashable, int] = {}
        for entry in sim.scheduler.heap:
            if sim.entry_kind(entry) == "run":
                fn, args = entry[3]
                run = (getattr(fn, "__qualname__", repr(fn)), canonical(args))
                runs[run] = runs.get(run, 0) + 1
        snap.runs = frozenset(runs.items())
        snap.cuts = sim.cut_links

    def timer_key(self) -> frozenset:
        """The pending timers, as the replay engine's key holds them."""
        return frozenset([(node_id, name) for node_id, record in self.sim._records.items()
                          for name in record.timers])
