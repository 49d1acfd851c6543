"""Leaderless replication as in Dynamo: N replicas on the ring, R and W answers.

There is no leader (DeCandia et al. 2007, sections 4.2-4.7). A key's *preference list* is
the first ``n`` distinct nodes that follow it clockwise on the consistent-hashing ring
(`preference_list`, on the ring of `distlab.partitioning`). Any node can *coordinate* a
client's request: a ``put`` is sent to the ``n`` nodes of the list and answered once ``w``
have stored it; a ``get`` asks them and is answered once ``r`` have replied, with the newest
version among the replies. What "newest" means is ``resolve``:

* ``"lww"`` (last writer wins, as Cassandra): versions are stamped (coordinator's clock, its
  id) and the highest stamp wins; a concurrent write is silently dropped.
* ``"siblings"`` (as Dynamo, section 4.4): versions carry dotted version vectors
  (`distlab.kv.versions`), and concurrent ones are all kept. A ``get`` answers `Siblings`:
  their values, sorted and joined by ``" | "``, with a *context*; a `PutAfter` carrying that
  context supersedes every version the get returned, so the application that merged them
  resolves the conflict by writing. A plain ``put`` supersedes nothing.

The quorum logic is the same under both rules.

With ``r + w > n`` every read quorum meets every write quorum, so a read that begins after a
write *completed* asks at least one replica that has it. That is all it gives: a read
concurrent with a write may see it while a later read does not, and a write acknowledged
by fewer than ``w`` replicas (an ``info`` to its client) may surface later. It is not
linearizability (Kleppmann, DDIA ch. 5, "Limitations of quorum consistency").

Three mechanisms keep the replicas close (all optional, to measure each):

* **sloppy quorum and hinted handoff** (``sloppy``): when a replica of the list has not
  acknowledged a write after ``fallback_after`` ms, the coordinator sends the write to the
  next node of the ring beyond the list, with a *hint* naming the replica it stands in for.
  That node keeps it apart, counts towards ``w``, and every ``handoff_every`` ms tries to
  hand it to its owner, dropping it once the owner has it. Writes stay available while
  replicas are unreachable, at the price of ``w`` copies that a read of the list may not
  meet.
* **read repair** (``read_repair``): a replica that answers a ``get`` with an older version
  (or none) is sent the newest one.
* **anti-entropy** with Merkle trees (`distlab.kv.merkle`), for keys nobody reads: every
  ``anti_entropy_every`` ms (0: never) a node compares, with one peer in turn, the keys both
  replicate. It sends the root of its tree over those keys; each side answers the hashes
  that differ from its own tree with its children's hashes, one level per message, and at
  the leaves both send their versions of the keys in the differing buckets, and keep the
  newer ones.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from distlab.clocks.logical import VectorClock
from distlab.kv.merkle import MerkleTree
from distlab.kv.versions import Version, dotted_context, keep_dotted, last_writer_wins
from distlab.partitioning import ConsistentHashRing
from distlab.partitioning.hashing import stable_hash
from distlab.sim import Node
from distlab.workloads.client import Error
from distlab.workloads.kv import Get, GetOk, Put

#: What a node holds for a key: its versions (one under last-writer-wins; none: absent).
Held = tuple[Version, ...]
#: What a ``get`` puts between siblings.
SIBLING_SEPARATOR = " | "
RULES = ("lww", "siblings")


def preference_list(ring: ConsistentHashRing, key: str, count: int) -> list[str]:
    """The first ``count`` distinct nodes at or after ``key``'s point, clockwise."""
    start = bisect.bisect_left(ring.positions, stable_hash(key, ring.seed))
    nodes: list[str] = []
    for i in range(len(ring.owners)):
        node = ring.owners[(start + i) % len(ring.owners)]
        if node not in nodes:
            nodes.append(node)
            if len(nodes) == count:
                break
    return nodes


# -- what a client of the "siblings" rule sends and receives --------------------------------------
@dataclass(frozen=True)
class PutAfter(Put):
    """A ``put`` made after reading ``context`` (from `Siblings`): it supersedes the versions
    that get returned."""

    context: VectorClock = VectorClock()


@dataclass(frozen=True)
class Siblings(GetOk):
    """A ``get``'s answer under the "siblings" rule: ``value`` joins the siblings' values;
    ``context`` is what a `PutAfter` must carry to supersede them."""

    context: VectorClock = VectorClock()


# -- messages between nodes -----------------------------------------------------------------------
@dataclass(frozen=True)
class StoreVersion:
    """Keep ``versions`` of ``key`` by the resolve rule; ``hint`` names the replica this copy
    stands in for (None: the receiver is a replica of the key)."""

    op: int
    key: str
    versions: Held
    hint: str | None = None


@dataclass(frozen=True)
class Stored:
    """The receiver has kept ``versions`` of ``key`` (``op`` -1: a handoff)."""

    op: int
    key: str
    versions: Held


@dataclass(frozen=True)
class Fetch:
    op: int
    key: str


@dataclass(frozen=True)
class Fetched:
    """The receiver's versions of ``key`` (none: it has none)."""

    op: int
    key: str
    versions: Held


@dataclass(frozen=True)
class TreeLevel:
    """Anti-entropy: the sender's hashes, as (index, hash), of the nodes at ``level`` of its
    Merkle tree over the keys both replicate that differed at the level above."""

    level: int
    hashes: tuple[tuple[int, bytes], ...]


@dataclass(frozen=True)
class LeafVersions:
    """Anti-entropy: the sender's versions of the keys in ``leaves`` (buckets that differ);
    ``answer``: send yours for the same leaves back."""

    leaves: tuple[int, ...]
    versions: tuple[tuple[str, Held], ...]
    answer: bool


@dataclass
class Coordination:
    """A client's request this node coordinates (volatile: lost in a crash)."""

    client: str
    request: Get | Put
    targets: list[str]                                  # the nodes asked, in order
    acks: set[str] = field(default_factory=set)
    replies: dict[str, Held] = field(default_factory=dict)
    version: Version | None = None                      # a put's version
    answered: bool = False


class DynamoNode(Node):
    """One node of a leaderless store (module docstring): it stores the keys whose lists
    name it, keeps hints for others, and coordinates its clients' requests.

    Invariant: ``data[key]`` holds the versions the ``resolve`` rule keeps of all this node
    has been sent for ``key`` as its replica (under "lww", the one of highest stamp);
    ``hints[(owner, key)]`` the same of those sent for ``owner``. Both are durable.
    """

    def __init__(self, servers: Sequence[str], n: int = 3, r: int = 2, w: int = 2,
                 vnodes: int = 8, sloppy: bool = True, read_repair: bool = True,
                 fallback_after: float = 50.0, timeout: float = 300.0,
                 handoff_every: float = 100.0, anti_entropy_every: float = 0.0,
                 merkle_depth: int = 4, resolve: str = "lww") -> None:
        if not 1 <= n <= len(servers) or not 1 <= r <= n or not 1 <= w <= n:
            raise ValueError(f"need 1 <= r, w <= n <= {len(servers)} (the servers); got "
                             f"n={n}, r={r}, w={w}")
        if resolve not in RULES:
            raise ValueError(f"unknown resolve rule {resolve!r}: use 'lww' (last writer wins) "
                             f"or 'siblings' (keep concurrent versions, as Dynamo)")
        self.resolve = resolve
        self.ring = ConsistentHashRing(servers, vnodes)
        self.n, self.r, self.w = n, r, w
        self.sloppy, self.read_repair = sloppy, read_repair
        self.fallback_after, self.timeout = fallback_after, timeout
        self.handoff_every = handoff_every
        self.anti_entropy_every, self.merkle_depth = anti_entropy_every, merkle_depth
        self.next_peer = 0                              # whom anti-entropy visits next
        self.data: dict[str, Held] = dict(self.storage.get("data", ()))
        self.hints: dict[tuple[str, str], Held] = dict(self.storage.get("hints", ()))
        self.coordinating: dict[int, Coordination] = {}

    def show(self) -> dict[str, Any]:
        return {"data": {k: SIBLING_SEPARATOR.join(v.value for v in held)
                         for k, held in sorted(self.data.items())},
                "hints": len(self.hints), "coordinating": len(self.coordinating)}

    def on_start(self) -> None:
        self.set_timer(self.handoff_every, "handoff")
        if self.anti_entropy_every > 0:
            self.set_timer(self.anti_entropy_every, "anti-entropy")

    # -- coordinating a client's request ----------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Get(key=key) | Put(key=key):
                self.coordinate(src, msg, key)
            case StoreVersion(op, key, versions, hint):
                self.keep(key, versions, hint)
                self.send(src, Stored(op, key, versions))
            case Stored(-1, key, versions):
                if self.hints.get((src, key)) == versions:
                    del self.hints[(src, key)]          # handed off: the owner has it
                    self.storage["hints"] = tuple(sorted(self.hints.items()))
            case Stored(op):
                self.on_stored(src, op)
            case Fetch(op, key):
                self.send(src, Fetched(op, key, self.data.get(key, ())))
            case Fetched(op, key, versions):
                self.on_fetched(src, op, key, versions)
            case TreeLevel(level, hashes):
                self.on_tree_level(src, level, hashes)
            case LeafVersions(leaves, versions, answer):
                for key, held in versions:
                    self.keep(key, held, None)
                if answer:
                    self.send(src, LeafVersions(leaves, self.versions_in(src, leaves), False))

    def coordinate(self, client: str, request: Get | Put, key: str) -> None:
        op = self.storage.get("next op", 0)
        self.storage["next op"] = op + 1
        targets = preference_list(self.ring, key, self.n)
        c = self.coordinating[op] = Coordination(client, request, list(targets))
        self.set_timer(self.timeout, f"timeout {op}")
        if isinstance(request, Put):
            c.version = self.new_version(request)
            for target in targets:
                self.send(target, StoreVersion(op, key, (c.version,)))
            if self.sloppy:
                self.set_timer(self.fallback_after, f"fallback {op}")
        else:
            for target in targets:
                self.send(target, Fetch(op, key))

    def on_stored(self, node: str, op: int) -> None:
        c = self.coordinating.get(op)
        if c is None or not isinstance(c.request, Put):
            return
        c.acks.add(node)
        if not c.answered and len(c.acks) >= self.w:
            c.answered = True
            self.send(c.client, c.request.ok())

    def new_version(self, request: Put) -> Version:
        """The version a put writes: stamped (clock, id); under "siblings" also a dot, this
        node's next counter, and the context the client read (none for a plain put)."""
        stamp = (self.now, self.id)
        if self.resolve == "lww":
            return Version(request.value, VectorClock(), stamp)
        context = request.context if isinstance(request, PutAfter) else VectorClock()
        counter = max(self.storage.get("dots", 0), context[self.id]) + 1
        self.storage["dots"] = counter
        return Version(request.value, context, stamp, dot=(self.id, counter))

    def merge(self, held: Held, incoming: Held) -> Held:
        """What the resolve rule keeps of ``held`` and ``incoming`` together."""
        for version in incoming:
            if self.resolve == "lww":
                held = last_writer_wins(held[0] if held else None, version)
            else:
                held = keep_dotted(held, version)
        return held

    def answer(self, request: Get, newest: Held) -> GetOk:
        """A get's reply: the value (None: absent); under "siblings", every sibling's value
        and the context to write after them."""
        if self.resolve == "lww":
            return request.ok(newest[0].value if newest else None)
        values = sorted(version.value for version in newest)
        return Siblings(request.msg_id, SIBLING_SEPARATOR.join(values) if values else None,
                        dotted_context(newest))

    def on_fetched(self, node: str, op: int, key: str, versions: Held) -> None:
        c = self.coordinating.get(op)
        if c is None or not isinstance(c.request, Get):
            return
        c.replies[node] = versions
        if len(c.replies) < self.r:
            return
        newest: Held = ()
        for _, held in sorted(c.replies.items()):
            newest = self.merge(newest, held)
        if not c.answered:
            c.answered = True
            self.send(c.client, self.answer(c.request, newest))
        if self.read_repair and newest:
            for replica, held in sorted(c.replies.items()):
                if held != newest:
                    self.send(replica, StoreVersion(-2, key, newest))
                    c.replies[replica] = newest        # repaired: not again

    def on_timer(self, name: str) -> None:
        what, _, op = name.partition(" ")
        match what:
            case "handoff":
                for (owner, key), versions in sorted(self.hints.items()):
                    self.send(owner, StoreVersion(-1, key, versions))
                self.set_timer(self.handoff_every, "handoff")
            case "fallback":
                self.fall_back(int(op))
            case "anti-entropy":
                peer = self.peers[self.next_peer % len(self.peers)]
                self.next_peer += 1
                self.send(peer, TreeLevel(0, ((0, self.tree_with(peer).root),)))
                self.set_timer(self.anti_entropy_every, "anti-entropy")
            case "timeout":
                c = self.coordinating.pop(int(op))
                if not c.answered:
                    # a put may be stored on fewer than w nodes: it may surface later
                    self.send(c.client, Error(c.request.msg_id,
                                              definite=isinstance(c.request, Get),
                                              text="too few replicas answered in time"))

    def fall_back(self, op: int) -> None:
        """Sloppy quorum: send the write, with a hint, to a stand-in for each replica of the
        list that has not acknowledged it, taking the next nodes of the ring."""
        c = self.coordinating.get(op)
        if c is None or c.answered or not isinstance(c.request, Put) or c.version is None:
            return
        key = c.request.key
        silent = [t for t in c.targets[:self.n] if t not in c.acks]
        ring_order = preference_list(self.ring, key, len(self.ring.nodes))
        stand_ins = [node for node in ring_order if node not in c.targets]
        for owner, stand_in in zip(silent, stand_ins):
            self.send(stand_in, StoreVersion(op, key, (c.version,), hint=owner))
            c.targets.append(stand_in)

    # -- anti-entropy ---------------------------------------------------------------------------
    def shared_with(self, peer: str) -> dict[str, Held]:
        """The versions held here of the keys whose preference list names both nodes."""
        return {key: version for key, version in self.data.items()
                if peer in preference_list(self.ring, key, self.n)}

    def tree_with(self, peer: str) -> MerkleTree:
        return MerkleTree.of({key: repr(version) for key, version
                              in self.shared_with(peer).items()}, self.merkle_depth)

    def on_tree_level(self, peer: str, level: int, hashes: tuple[tuple[int, bytes], ...]
                      ) -> None:
        """Compare the peer's hashes with ours; go one level down where they differ."""
        tree = self.tree_with(peer)
        differ = [i for i, digest in hashes if tree.levels[level][i] != digest]
        if not differ:
            return
        if level == tree.depth:
            self.send(peer, LeafVersions(tuple(differ), self.versions_in(peer, differ), True))
            return
        children = tuple((child, tree.levels[level + 1][child])
                         for i in differ for child in (2 * i, 2 * i + 1))
        self.send(peer, TreeLevel(level + 1, children))

    def versions_in(self, peer: str, leaves: Sequence[int]) -> tuple[tuple[str, Held], ...]:
        """Our versions of the shared keys in the buckets ``leaves``."""
        tree = self.tree_with(peer)
        keys = {key for leaf in leaves for key, _ in tree.buckets[leaf]}
        return tuple(sorted((key, version) for key, version
                            in self.shared_with(peer).items() if key in keys))

    # -- storing ------------------------------------------------------------------------------
    def keep(self, key: str, versions: Held, hint: str | None) -> None:
        """Keep what the resolve rule keeps of ``versions`` and those held (for ``hint``,
        apart)."""
        if hint is None or hint == self.id:
            held = self.data.get(key, ())
            kept = self.merge(held, versions)
            if kept != held:
                self.data[key] = kept
                self.storage["data"] = tuple(sorted(self.data.items()))
        else:
            held = self.hints.get((hint, key), ())
            kept = self.merge(held, versions)
            if kept != held:
                self.hints[(hint, key)] = kept
                self.storage["hints"] = tuple(sorted(self.hints.items()))
