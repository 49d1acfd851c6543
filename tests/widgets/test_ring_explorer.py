"""Tests of the ring explorer: each control changes the ring as its label says."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from distlab.partitioning import ConsistentHashRing  # noqa: E402
from distlab.widgets.ring import RingExplorer  # noqa: E402

KEYS = [f"key{i}" for i in range(200)]


@pytest.fixture
def explorer() -> RingExplorer:
    return RingExplorer(ConsistentHashRing, nodes=["n0", "n1", "n2"], keys=KEYS, vnodes=2)


def test_it_builds_with_a_png_view_and_a_table_of_keys_per_node(explorer):
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert "<b>n2</b>" in explorer.table.value
    assert "3 nodes, 200 keys" in explorer.status.value


def test_add_button_adds_a_node_and_every_moved_key_goes_to_it(explorer):
    explorer.add_button.click()
    assert explorer.ring.nodes == ("n0", "n1", "n2", "n3")
    assert explorer.moved and all(explorer.ring.owner(k) == "n3" for k in explorer.moved)
    assert f"n3 joined: {len(explorer.moved)} of 200 keys moved" in explorer.status.value
    assert "1/4 = 25%" in explorer.status.value
    assert list(explorer.leaving.options) == ["n0", "n1", "n2", "n3"]


def test_remove_button_moves_exactly_the_keys_of_the_leaving_node(explorer):
    held = {k for k in KEYS if explorer.ring.owner(k) == "n1"}
    explorer.leaving.value = "n1"
    explorer.remove_button.click()
    assert explorer.ring.nodes == ("n0", "n2")
    assert explorer.moved == held


def test_removing_the_last_node_shows_an_error_instead_of_raising():
    explorer = RingExplorer(ConsistentHashRing, nodes=["n0"], keys=KEYS)
    explorer.remove_button.click()
    assert explorer.ring.nodes == ("n0",)
    assert "last node" in explorer.status.value


def test_vnodes_slider_rebuilds_the_ring_with_that_many_points(explorer):
    explorer.vnodes.value = 16
    assert len(explorer.ring.points()) == 3 * 16
    assert "16 virtual nodes per node" in explorer.status.value


def test_reset_brings_back_the_starting_ring(explorer):
    explorer.add_button.click()
    explorer.reset_button.click()
    assert explorer.ring.nodes == ("n0", "n1", "n2") and not explorer.moved


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="needs some keys"):
        RingExplorer(ConsistentHashRing, nodes=["n0"], keys=[])
    with pytest.raises(TypeError, match="make"):
        RingExplorer("ring", nodes=["n0"], keys=KEYS)


def test_show_pictures_a_change_made_by_calling_an_action_directly(explorer):
    explorer.add_node()
    explorer.show()
    assert explorer.ax.get_title() == "Consistent hashing: n3 joined"
    assert "n3 joined" in explorer.status.value
