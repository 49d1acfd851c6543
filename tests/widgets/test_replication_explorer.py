"""Tests of the replication explorer: each control acts on the replicated store as its label
says, and what the replicas hold and the requests return is shown."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from distlab.kv.playground import REPLICAS, ask, held, set_quorums, store  # noqa: E402
from distlab.widgets.replication import ReplicationExplorer  # noqa: E402


def explorer(r: int = 2, w: int = 2) -> ReplicationExplorer:
    return ReplicationExplorer(store, ask, set_quorums, held, replicas=REPLICAS, r=r, w=w)


def values(x: ReplicationExplorer) -> dict[str, str]:
    return {replica: text.split(" @ ")[0] for replica, text in x.holdings().items()}


def test_it_builds_with_a_png_view_and_empty_replicas():
    x = explorer()
    assert bytes(x.image.value).startswith(b"\x89PNG")
    assert values(x) == {"a": "nothing", "b": "nothing", "c": "nothing"}
    assert "R + W &gt; N" in x.status.value


def test_write_button_puts_a_new_value_on_every_reachable_replica():
    x = explorer()
    x.target.value = "b"
    x.buttons["write"].click()
    assert x.log[-1] == "put v1 via b (R=2, W=2): ok"
    assert values(x) == {"a": "v1", "b": "v1", "c": "v1"}
    x.buttons["read"].click()
    assert x.log[-1] == "get via b (R=2, W=2): returned 'v1'"


def test_a_write_to_a_cut_off_replica_with_w_1_is_missed_by_a_read_with_r_1():
    x = explorer(r=1, w=1)
    x.write("a")
    x.target.value = "a"
    x.buttons["cut off"].click()
    assert x.state("a") == "cut off"
    assert x.write("a").endswith("ok")
    assert values(x)["a"] == "v2" and values(x)["b"] == "v1"
    assert x.read("b").endswith("returned 'v1'")          # stale: R + W = 2 <= N
    assert "a read quorum can miss" in x.summary()


def test_w_2_refuses_to_acknowledge_a_write_only_one_replica_can_take():
    x = explorer(r=2, w=2)
    x.write("a")
    x.crash("b")
    x.crash("c")
    assert x.state("b") == "crashed"
    assert "timed out" in x.write("a")
    x.restart("b")
    assert x.state("b") == "up"


def test_sliders_change_r_and_w_on_every_replica():
    x = explorer()
    x.r_slider.value = 1
    x.w_slider.value = 3
    assert (x.r, x.w) == (1, 3)
    assert all((x.sim.nodes[r].r, x.sim.nodes[r].w) == (1, 3) for r in REPLICAS)
    assert "R = 1, W = 3" in x.status.value


def test_heal_and_reset():
    x = explorer()
    x.cut_off("c")
    x.buttons["heal"].click()
    assert x.state("c") == "up" and x.sim.cut_links == frozenset()
    x.write("a")
    x.buttons["reset"].click()
    assert x.log == [] and values(x)["a"] == "nothing"


def test_bad_actions_show_an_error_instead_of_raising():
    x = explorer()
    x._act(lambda: x.write("z"))
    assert "no replica 'z'" in x.error and "no replica" in x.status.value
    x.crash("a")
    x._act(lambda: x.read("a"))
    assert "a is crashed" in x.error
    with pytest.raises(ValueError, match="between 1 and 3"):
        set_quorums(x.sim, 0, 2)
    with pytest.raises(ValueError, match="ids of the replicas"):
        ReplicationExplorer(store, ask, set_quorums, held, replicas=[])


def test_show_displays_the_widget_a_static_figure_and_a_caption(monkeypatch):
    shown = []
    monkeypatch.setattr("distlab.widgets.replication.display",
                        lambda obj, **kw: shown.append(obj))
    x = explorer()
    x.write("a")
    x.show()
    assert "ReplicationExplorer" in shown[0]["text/plain"]
    assert shown[1].data.startswith(b"\x89PNG")
    assert "put v1 via a (R=2, W=2): ok" in shown[2].data
