"""`NodeRandom.choice` draws exactly what `random.Random.choice` draws, in one call.

A node's ``self.rng`` is a `NodeRandom`; its ``choice`` is a faster copy of the standard
one, so it must pick the same element from the same stream, for every length of sequence
(those whose length is a power of two, and those that make the draw retry), for tuples,
lists, strings and the shared `Peers` views, and fail the same way on an empty sequence.
"""

from __future__ import annotations

import copy
import gc
import random

import pytest

from distlab.sim.node import NodeRandom
from distlab.sim.peers import Peers


@pytest.mark.parametrize("length", [1, 2, 3, 5, 7, 8, 9, 64, 65, 100, 1000, 2**20 + 1])
def test_choice_picks_what_random_choice_picks(length):
    seq = tuple(range(length))
    ours, theirs = NodeRandom("seed/n1/0"), random.Random("seed/n1/0")
    assert [ours.choice(seq) for _ in range(500)] == [theirs.choice(seq) for _ in range(500)]
    # and the streams are left in the same state: later draws agree too
    assert ours.random() == theirs.random()


def test_choice_over_lists_strings_and_peer_views():
    servers = [f"n{i}" for i in range(300)]
    for seq in (list(range(10)), "abcdefghij", Peers(servers, "n7"), Peers(servers, "x")):
        ours, theirs = NodeRandom(1), random.Random(1)
        assert [ours.choice(seq) for _ in range(200)] == [theirs.choice(seq) for _ in range(200)]


def test_choice_from_an_empty_sequence_fails_as_random_choice_does():
    with pytest.raises(IndexError, match="Cannot choose from an empty sequence"):
        NodeRandom(1).choice(())
    with pytest.raises(IndexError, match="Cannot choose from an empty sequence"):
        random.Random(1).choice(())


def test_a_stream_has_no_instance_dictionary_and_draws_as_random_random():
    """``gauss_next`` is a slot: no ``__dict__`` is made, even by ``gauss`` (which keeps its
    second value there), so a method call on the stream never reads one."""
    ours, theirs = NodeRandom("seed/n1/0"), random.Random("seed/n1/0")
    draws = [(ours.gauss(0, 1), ours.random(), ours.randrange(10), ours.uniform(1, 2))
             for _ in range(50)]
    assert draws == [(theirs.gauss(0, 1), theirs.random(), theirs.randrange(10),
                      theirs.uniform(1, 2)) for _ in range(50)]
    assert ours.gauss_next == theirs.gauss_next
    assert not any(type(x) is dict for x in gc.get_referents(ours))  # (no dict was made)
    copied = copy.deepcopy(ours)
    assert type(copied) is NodeRandom and copied.gauss_next == ours.gauss_next
    assert copied.getstate() == ours.getstate() and copied.random() == theirs.random()
