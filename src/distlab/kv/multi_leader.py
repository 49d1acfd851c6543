"""Multi-leader replication of the key-value store: every replica accepts writes.

Each replica (a datacenter, say) answers its clients at once from its own copy and sends
every write to the others afterwards; every ``sync_every`` ms it also sends its whole copy
(anti-entropy), so a write lost on the way, or missed during a partition or a crash, arrives
in the end. Writes made at two replicas before either heard of the other's *conflict*, and
``resolve`` says what happens (see `distlab.kv.versions`):

* ``"lww"``: last writer wins. Every replica keeps the version of highest timestamp; the
  other writes are lost, though their clients were told "ok".
* ``"siblings"``: as in Dynamo, versions carry version vectors and concurrent ones are kept
  side by side. A ``get`` returns all of them, sorted and joined by ``" | "``; an ``append``
  is done on the application's merge of the siblings (`merge_items`, the union of the items,
  as Dynamo's shopping cart), and the version it writes descends from all of them, so the
  conflict is resolved by that write.

Both kinds converge once every write has reached every replica, and neither is linearizable:
a replica answers before the others know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from distlab.kv.versions import Version, context, keep_siblings, last_writer_wins, merge_items
from distlab.sim import Node
from distlab.workloads.kv import Append, Get, Put

#: What a ``get`` puts between siblings.
SIBLING_SEPARATOR = " | "


@dataclass(frozen=True)
class Replicate:
    """A version of ``key`` that the sender holds."""

    key: str
    version: Version


@dataclass(frozen=True)
class AntiEntropy:
    """Every version the sender holds, as ((key, versions), ...)."""

    data: tuple[tuple[str, tuple[Version, ...]], ...]


class MultiLeaderKV(Node):
    """A replica that takes writes itself and replicates them afterwards (module docstring).

    Invariant: for each key, ``data[key]`` holds the versions kept by the ``resolve`` rule:
    one under LWW, and under siblings the versions no other one known here descends from.
    ``data`` is durable.
    """

    rules: ClassVar[tuple[str, ...]] = ("lww", "siblings")

    def __init__(self, resolve: str = "siblings", sync_every: float = 200.0) -> None:
        if resolve not in self.rules:
            raise ValueError(f"unknown resolve rule {resolve!r}: use 'lww' (last writer wins) "
                             f"or 'siblings' (keep concurrent versions, as Dynamo)")
        self.resolve = resolve
        self.sync_every = sync_every
        self.data: dict[str, tuple[Version, ...]] = dict(self.storage.get("data", ()))

    def show(self) -> dict[str, Any]:
        return {key: [v.value for v in versions] for key, versions in sorted(self.data.items())}

    def on_start(self) -> None:
        self.set_timer(self.sync_every, "anti-entropy")

    def on_timer(self, name: str) -> None:
        if name == "anti-entropy":
            self.broadcast(AntiEntropy(tuple(sorted(self.data.items()))))
            self.set_timer(self.sync_every, "anti-entropy")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Get(key=key):
                values = sorted(v.value for v in self.data.get(key, ()))
                self.send(src, msg.ok(SIBLING_SEPARATOR.join(values) if values else None))
            case Put(key=key, value=value):
                self.write(key, value)
                self.send(src, msg.ok())
            case Append(key=key, value=value):
                self.write(key, self.merged(key) + value)
                self.send(src, msg.ok())
            case Replicate(key, version):
                self.receive(key, version)
            case AntiEntropy(data):
                for key, versions in data:
                    for version in versions:
                        self.receive(key, version)

    def merged(self, key: str) -> str:
        """The value the application sees: the merge of the siblings (one value under LWW)."""
        return merge_items(v.value for v in self.data.get(key, ()))

    def write(self, key: str, value: str) -> None:
        """A client's write: a version that descends from every version held here."""
        siblings = self.data.get(key, ())
        version = Version(value, context(siblings).increment(self.id), (self.now, self.id))
        self.data[key] = (version,)
        self.storage["data"] = tuple(sorted(self.data.items()))
        self.broadcast(Replicate(key, version))

    def receive(self, key: str, version: Version) -> None:
        """Another replica's version: keep it, or not, by the ``resolve`` rule."""
        current = self.data.get(key, ())
        if self.resolve == "lww":
            kept = last_writer_wins(current[0] if current else None, version)
        else:
            kept = keep_siblings(current, version)
        if kept != current:
            self.data[key] = kept
            self.storage["data"] = tuple(sorted(self.data.items()))
