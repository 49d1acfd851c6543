"""Leaderless replication as in Dynamo: N replicas on the ring, R and W answers.

There is no leader (DeCandia et al. 2007, sections 4.2-4.7). A key's *preference list* is
the first ``n`` distinct nodes that follow it clockwise on the consistent-hashing ring
(`preference_list`, on the ring of `distlab.partitioning`). Any node can *coordinate* a
client's request: a ``put`` is sent to the ``n`` nodes of the list and answered once ``w``
have stored it; a ``get`` asks them and is answered once ``r`` have replied, with the newest
version among the replies. Versions are stamped (coordinator's clock, its id) and the
highest stamp wins, as in Cassandra (Dynamo keeps siblings instead, as `distlab.kv.versions`
shows); the quorum logic is the same.

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

from distlab.kv.merkle import MerkleTree
from distlab.partitioning import ConsistentHashRing
from distlab.partitioning.hashing import stable_hash
from distlab.sim import Node
from distlab.workloads.client import Error
from distlab.workloads.kv import Get, Put

#: A version's stamp: (the coordinator's clock, its id). Higher is newer.
Stamp = tuple[float, str]


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


# -- messages between nodes -----------------------------------------------------------------------
@dataclass(frozen=True)
class StoreVersion:
    """Keep ``value`` under ``stamp`` for ``key`` if newer; ``hint`` names the replica this
    copy stands in for (None: the receiver is a replica of the key)."""

    op: int
    key: str
    stamp: Stamp
    value: str
    hint: str | None = None


@dataclass(frozen=True)
class Stored:
    """The receiver holds ``key`` at ``stamp`` or newer (``op`` -1: a handoff)."""

    op: int
    key: str
    stamp: Stamp


@dataclass(frozen=True)
class Fetch:
    op: int
    key: str


@dataclass(frozen=True)
class Fetched:
    """The receiver's version of ``key`` (stamp None: it has none)."""

    op: int
    key: str
    stamp: Stamp | None
    value: str | None


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
    versions: tuple[tuple[str, tuple[Stamp, str]], ...]
    answer: bool


@dataclass
class Coordination:
    """A client's request this node coordinates (volatile: lost in a crash)."""

    client: str
    request: Get | Put
    targets: list[str]                                  # the nodes asked, in order
    acks: set[str] = field(default_factory=set)
    replies: dict[str, tuple[Stamp | None, str | None]] = field(default_factory=dict)
    stamp: Stamp | None = None                          # a put's version
    answered: bool = False


class DynamoNode(Node):
    """One node of a leaderless store (module docstring): it stores the keys whose lists
    name it, keeps hints for others, and coordinates its clients' requests.

    Invariant: ``data[key]`` is the version of highest stamp this node has been sent for
    ``key`` as its replica; ``hints[(owner, key)]`` the highest sent for ``owner``. Both are
    durable.
    """

    def __init__(self, servers: Sequence[str], n: int = 3, r: int = 2, w: int = 2,
                 vnodes: int = 8, sloppy: bool = True, read_repair: bool = True,
                 fallback_after: float = 50.0, timeout: float = 300.0,
                 handoff_every: float = 100.0, anti_entropy_every: float = 0.0,
                 merkle_depth: int = 4) -> None:
        if not 1 <= n <= len(servers) or not 1 <= r <= n or not 1 <= w <= n:
            raise ValueError(f"need 1 <= r, w <= n <= {len(servers)} (the servers); got "
                             f"n={n}, r={r}, w={w}")
        self.ring = ConsistentHashRing(servers, vnodes)
        self.n, self.r, self.w = n, r, w
        self.sloppy, self.read_repair = sloppy, read_repair
        self.fallback_after, self.timeout = fallback_after, timeout
        self.handoff_every = handoff_every
        self.anti_entropy_every, self.merkle_depth = anti_entropy_every, merkle_depth
        self.next_peer = 0                              # whom anti-entropy visits next
        self.data: dict[str, tuple[Stamp, str]] = dict(self.storage.get("data", ()))
        self.hints: dict[tuple[str, str], tuple[Stamp, str]] = dict(
            self.storage.get("hints", ()))
        self.coordinating: dict[int, Coordination] = {}

    def show(self) -> dict[str, Any]:
        return {"data": {k: v for k, (_, v) in sorted(self.data.items())},
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
            case StoreVersion(op, key, stamp, value, hint):
                self.keep(key, stamp, value, hint)
                self.send(src, Stored(op, key, stamp))
            case Stored(-1, key, stamp):
                if self.hints.get((src, key), (None,))[0] == stamp:
                    del self.hints[(src, key)]          # handed off: the owner has it
                    self.storage["hints"] = tuple(sorted(self.hints.items()))
            case Stored(op):
                self.on_stored(src, op)
            case Fetch(op, key):
                self.send(src, Fetched(op, key, *self.data.get(key, (None, None))))
            case Fetched(op, key, stamp, value):
                self.on_fetched(src, op, key, stamp, value)
            case TreeLevel(level, hashes):
                self.on_tree_level(src, level, hashes)
            case LeafVersions(leaves, versions, answer):
                for key, (stamp, value) in versions:
                    self.keep(key, stamp, value, None)
                if answer:
                    self.send(src, LeafVersions(leaves, self.versions_in(src, leaves), False))

    def coordinate(self, client: str, request: Get | Put, key: str) -> None:
        op = self.storage.get("next op", 0)
        self.storage["next op"] = op + 1
        targets = preference_list(self.ring, key, self.n)
        c = self.coordinating[op] = Coordination(client, request, list(targets))
        self.set_timer(self.timeout, f"timeout {op}")
        if isinstance(request, Put):
            c.stamp = (self.now, self.id)
            for target in targets:
                self.send(target, StoreVersion(op, key, c.stamp, request.value))
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

    def on_fetched(self, node: str, op: int, key: str, stamp: Stamp | None,
                   value: str | None) -> None:
        c = self.coordinating.get(op)
        if c is None or not isinstance(c.request, Get):
            return
        c.replies[node] = (stamp, value)
        if len(c.replies) < self.r:
            return
        newest = max(c.replies.values(), key=lambda reply: (reply[0] is not None, reply[0]))
        if not c.answered:
            c.answered = True
            self.send(c.client, c.request.ok(newest[1]))
        if self.read_repair and newest[0] is not None:
            for replica, (old, _) in sorted(c.replies.items()):
                if old is None or old < newest[0]:
                    self.send(replica, StoreVersion(-2, key, newest[0], newest[1]))
                    c.replies[replica] = newest        # repaired: not again

    def on_timer(self, name: str) -> None:
        what, _, op = name.partition(" ")
        match what:
            case "handoff":
                for (owner, key), (stamp, value) in sorted(self.hints.items()):
                    self.send(owner, StoreVersion(-1, key, stamp, value))
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
        if c is None or c.answered or not isinstance(c.request, Put) or c.stamp is None:
            return
        key = c.request.key
        silent = [t for t in c.targets[:self.n] if t not in c.acks]
        ring_order = preference_list(self.ring, key, len(self.ring.nodes))
        stand_ins = [node for node in ring_order if node not in c.targets]
        for owner, stand_in in zip(silent, stand_ins):
            self.send(stand_in, StoreVersion(op, key, c.stamp, c.request.value, hint=owner))
            c.targets.append(stand_in)

    # -- anti-entropy ---------------------------------------------------------------------------
    def shared_with(self, peer: str) -> dict[str, tuple[Stamp, str]]:
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

    def versions_in(self, peer: str, leaves: Sequence[int]
                    ) -> tuple[tuple[str, tuple[Stamp, str]], ...]:
        """Our versions of the shared keys in the buckets ``leaves``."""
        tree = self.tree_with(peer)
        keys = {key for leaf in leaves for key, _ in tree.buckets[leaf]}
        return tuple(sorted((key, version) for key, version
                            in self.shared_with(peer).items() if key in keys))

    # -- storing ------------------------------------------------------------------------------
    def keep(self, key: str, stamp: Stamp, value: str, hint: str | None) -> None:
        """Keep a version if it is newer than the one held (for ``hint``, apart)."""
        if hint is None or hint == self.id:
            if key not in self.data or self.data[key][0] < stamp:
                self.data[key] = (stamp, value)
                self.storage["data"] = tuple(sorted(self.data.items()))
        elif (hint, key) not in self.hints or self.hints[(hint, key)][0] < stamp:
            self.hints[(hint, key)] = (stamp, value)
            self.storage["hints"] = tuple(sorted(self.hints.items()))
