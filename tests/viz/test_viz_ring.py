"""Tests of the ring drawing: what it reads from a ring, and that it draws."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from distlab.partitioning import ConsistentHashRing  # noqa: E402
from distlab.viz.ring import read_ring, ring_change  # noqa: E402

KEYS = [f"key{i}" for i in range(100)]


def test_read_ring_marks_as_moved_exactly_the_keys_whose_owner_changed():
    before = ConsistentHashRing(["a", "b", "c"], vnodes=3)
    after = before.without_node("b")
    view = read_ring(after, KEYS, before=before)
    assert view.moved == {k for k in KEYS if before.owner(k) == "b"}
    assert read_ring(after, KEYS).moved == frozenset()
    assert [f for f, _ in view.points] == sorted(f for f, _ in view.points)
    assert all(owner == after.owner(k) for _, k, owner in view.keys)


def test_ring_change_draws_a_png_that_counts_the_moved_keys():
    before = ConsistentHashRing(["a", "b"], vnodes=2)
    after = before.with_node("c")
    fig = ring_change(before, after, KEYS, title="join")
    moved = len(read_ring(after, KEYS, before=before).moved)
    assert fig.axes[1].get_title() == f"after: 3 nodes, {moved} of 100 keys moved"
    assert fig._repr_png_().startswith(b"\x89PNG")
