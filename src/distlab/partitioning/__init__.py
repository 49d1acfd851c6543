"""Partitioning (sharding): which node holds which key, and what moves when nodes change.

Every scheme answers ``owner(key)`` the same way in every process (`distlab.partitioning.hashing`
never uses Python's salted ``hash()``), and is immutable: ``with_node(node)`` and
``without_node(node)`` return a new partitioning, so that the keys that moved are simply those
whose owner differs between the two (`distlab.partitioning.scheme.moved_keys`).

* `distlab.partitioning.scheme` -- the common interface (`Partitioner`) and its checks.
* `distlab.partitioning.modn` -- hash mod N: simple, balanced, and moves almost every key.
* `distlab.partitioning.fixed` -- many more partitions than nodes; whole partitions move.
* `distlab.partitioning.ranges` -- key ranges: scans stay on few nodes; sequential keys pile up.
* `distlab.partitioning.ring` -- consistent hashing with virtual nodes (Karger et al. 1997).
* `distlab.partitioning.rendezvous` -- highest random weight (Thaler and Ravishankar 1998).
* `distlab.partitioning.jump` -- jump consistent hash (Lamping and Veach 2014).
* `distlab.partitioning.indexes` -- secondary indexes partitioned by document or by term.
* `distlab.partitioning.skew` -- Zipf-like request streams: a few keys get most requests.
* `distlab.partitioning.runs` -- the experiments the book runs (load, movement, fan-out).
"""

from distlab.partitioning.fixed import FixedPartitions
from distlab.partitioning.hashing import stable_hash
from distlab.partitioning.jump import JumpHash, jump_hash
from distlab.partitioning.modn import ModN
from distlab.partitioning.ranges import RangePartitioning
from distlab.partitioning.rendezvous import Rendezvous
from distlab.partitioning.ring import ConsistentHashRing
from distlab.partitioning.scheme import Partitioner, assignment, moved_keys

__all__ = ["ConsistentHashRing", "FixedPartitions", "JumpHash", "ModN", "Partitioner",
           "RangePartitioning", "Rendezvous", "assignment", "jump_hash", "moved_keys",
           "stable_hash"]
