"""A node's peers: one sorted list of server ids per simulation, seen by each node without itself.

In a large cluster (see `distlab.sim.simulation.SHARED_PEERS_FROM`) ``self.peers`` reads
like the tuple it is in a small one (sorted ids, ``len``, indexing, ``in``, iteration,
``self.rng.choice(self.peers)``), but no node holds a copy: every node's `Peers` is a small
view of the simulation's one list, which skips the node's own id. A tuple per node would cost
N ids for each of N nodes -- at 100,000 nodes, 80 GB of pointers; the view costs the same few
bytes at any size, and sees the nodes added later without being rebuilt. (Small clusters keep
tuples because indexing a tuple is faster: a random peer is drawn for most messages.)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import chain, islice
from typing import Any, overload


class Peers(Sequence[str]):
    """The sorted ids in ``servers`` except ``me`` (all of them when ``me`` is not a server).

    ``servers`` is shared and only ever grows (new ids are inserted in order); the view
    finds ``me`` in it again, by bisection, only when its length has changed. It compares
    equal to the tuple of the same ids and prints like it; a copy (pickle, ``deepcopy``) is
    that tuple.
    """

    __slots__ = ("_servers", "_me", "_seen", "_skip", "_len")

    def __init__(self, servers: list[str], me: str):
        self._servers = servers
        self._me = me
        self._seen = -1     # len(servers) when _skip and _len were computed

    def _sync(self) -> None:
        servers = self._servers
        at = bisect_left(servers, self._me)
        mine = at < len(servers) and servers[at] == self._me
        self._skip = at if mine else len(servers)   # indexes from _skip on are shifted by one
        self._len = len(servers) - mine
        self._seen = len(servers)

    def __len__(self) -> int:
        if len(self._servers) != self._seen:
            self._sync()
        return self._len

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[str, ...]: ...

    def __getitem__(self, i: int | slice) -> str | tuple[str, ...]:
        if len(self._servers) != self._seen:
            self._sync()
        if type(i) is not int:
            if isinstance(i, slice):
                return tuple(self)[i]
            raise TypeError(f"peer indices must be integers or slices, not {type(i).__name__}")
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("peer index out of range")
        return self._servers[i] if i < self._skip else self._servers[i + 1]

    def __iter__(self) -> Iterator[str]:
        if len(self._servers) != self._seen:
            self._sync()
        servers, skip = self._servers, self._skip
        return chain(islice(servers, skip), islice(servers, skip + 1, None))

    def __contains__(self, node_id: object) -> bool:
        if node_id == self._me or not isinstance(node_id, str):
            return False
        at = bisect_left(self._servers, node_id)
        return at < len(self._servers) and self._servers[at] == node_id

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Peers, tuple)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __add__(self, other: Any) -> tuple[str, ...]:
        return tuple(self) + other

    def __radd__(self, other: Any) -> tuple[str, ...]:
        return other + tuple(self)

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[type, tuple[tuple[str, ...]]]:
        return tuple, (tuple(self),)
