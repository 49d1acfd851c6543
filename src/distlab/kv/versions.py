"""Versions of a value that several replicas write: last writer wins, or siblings.

When two replicas accept writes to the same key without asking each other, the writes may be
*concurrent*: neither was made knowing the other. A store must then do one of two things
(Kleppmann, DDIA ch. 5, "Handling write conflicts"):

* **last writer wins** (LWW): give every version a timestamp ``(clock, replica)`` and keep
  the highest. The replicas agree, but every other concurrent write is silently dropped,
  though its client was told "ok".
* **keep siblings**, as Dynamo does (DeCandia et al. 2007, section 4.4): give every version
  a *version vector* -- a vector clock (Fidge 1988; Mattern 1989) with one counter per
  replica that coordinates writes -- and drop a version only when another *descends* from it
  (its vector is greater). Concurrent versions are kept side by side, and the application
  merges them: Dynamo's shopping cart takes the union of the carts.

A `Version` is one value with both stamps, so that one store can use either rule.

A leaderless store needs one more thing. Its writes are coordinated by any node, for clients
that may not have read the key first: with plain version vectors, two writes coordinated by
one node without a read in between get ordered vectors, and the second silently replaces the
first. *Dotted* version vectors (Preguiça et al. 2010, as Riak uses them) separate the two
roles: a version's ``clock`` is its *context*, what its writer had read, and its ``dot``
(coordinator, counter) names the write itself. A version supersedes another only if its
context covers the other's dot: only if its writer had seen it (`keep_dotted`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from distlab.clocks.logical import VectorClock

#: The separator between the items of a value (``"c1.3;c2.1;"``: two appended items).
ITEM_END = ";"


@dataclass(frozen=True)
class Version:
    """A value written at replica ``stamp[1]``: ``clock`` says which writes it knew of (its
    version vector), ``stamp`` is (that replica's clock, its id), for last-writer-wins.
    ``dot``, for dotted versions only, is (coordinator, counter): the write itself, which
    ``clock`` (then its context) does not include."""

    value: str
    clock: VectorClock
    stamp: tuple[float, str]
    dot: tuple[str, int] | None = None


def last_writer_wins(current: Version | None, incoming: Version) -> tuple[Version, ...]:
    """The one version LWW keeps: the one of highest stamp."""
    if current is None or incoming.stamp > current.stamp:
        return (incoming,)
    return (current,)


def keep_siblings(siblings: Iterable[Version], incoming: Version) -> tuple[Version, ...]:
    """The versions to keep when ``incoming`` meets ``siblings``: every version that no other
    descends from (a version already known is not added twice). Sorted by stamp."""
    siblings = tuple(siblings)
    if any(incoming.clock == s.clock or incoming.clock.happens_before(s.clock)
           for s in siblings):
        return siblings                               # known already, or superseded
    kept = [s for s in siblings if not s.clock.happens_before(incoming.clock)]
    return tuple(sorted([*kept, incoming], key=lambda version: version.stamp))


def context(siblings: Iterable[Version]) -> VectorClock:
    """The version vector of a write made after reading ``siblings``: it descends from all."""
    clock = VectorClock()
    for sibling in siblings:
        clock = clock.merge(sibling.clock)
    return clock


def merge_items(values: Iterable[str]) -> str:
    """The application's merge, for values that are lists of items (a shopping cart): every
    item of every value, once, in the order first seen."""
    items: list[str] = []
    for value in values:
        for item in value.split(ITEM_END)[:-1]:
            if item not in items:
                items.append(item)
    return "".join(item + ITEM_END for item in items)


def covers(clock: VectorClock, dot: tuple[str, int] | None) -> bool:
    """Whether a context ``clock`` includes the write ``dot``."""
    return dot is not None and clock[dot[0]] >= dot[1]


def keep_dotted(siblings: Iterable[Version], incoming: Version) -> tuple[Version, ...]:
    """`keep_siblings` for dotted versions: ``incoming`` is dropped if it is known (same dot)
    or a sibling's context covers it, and it drops the siblings its context covers. Sorted
    by stamp."""
    siblings = tuple(siblings)
    if any(s.dot == incoming.dot or covers(s.clock, incoming.dot) for s in siblings):
        return siblings
    kept = [s for s in siblings if not covers(incoming.clock, s.dot)]
    return tuple(sorted([*kept, incoming], key=lambda version: version.stamp))


def dotted_context(siblings: Iterable[Version]) -> VectorClock:
    """The context a client gets with ``siblings``: every write they are or had seen. A write
    made with it supersedes all of them."""
    clock = VectorClock()
    for sibling in siblings:
        clock = clock.merge(sibling.clock)
        if sibling.dot is not None:
            clock = clock.merge(VectorClock.of({sibling.dot[0]: sibling.dot[1]}))
    return clock
