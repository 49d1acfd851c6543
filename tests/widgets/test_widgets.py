"""Tests of the Explorer: each control does to the simulation what its label says."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib
import pytest

matplotlib.use("Agg")

from distlab.sim import Constant, Exponential, Network, Node, Simulation, Uniform  # noqa: E402
from distlab.widgets import Explorer, measure_redraws, scaled_latency  # noqa: E402


@dataclass(frozen=True)
class Ping:
    n: int


class Counter(Node):
    """Pings a random peer every 20 ms and counts the pings it receives."""

    def __init__(self) -> None:
        self.received = 0

    def on_start(self) -> None:
        self.set_timer(20, "tick")

    def on_timer(self, name: str) -> None:
        self.send(self.rng.choice(self.peers), Ping(self.received))
        self.set_timer(20, "tick")

    def on_message(self, src: str, msg: Ping) -> None:
        self.received += 1


class Faulty(Node):
    def on_start(self) -> None:
        self.set_timer(10, "boom")

    def on_timer(self, name: str) -> None:
        raise RuntimeError("the node's own bug")


def counters(seed: int) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=Uniform(2, 10), loss=0.05))
    sim.add_nodes(Counter, ["a", "b", "c", "d", "e"])
    return sim


@pytest.fixture
def explorer() -> Explorer:
    return Explorer(counters, title="counters", seed=4, run_ms=100)


def test_run_button_advances_simulated_time_by_the_slider(explorer):
    explorer.run_ms.value = 250
    explorer.run_button.click()
    assert explorer.sim.now == 250
    assert len(explorer.sim.trace.of_kind("deliver")) > 20
    explorer.run_button.click()
    assert explorer.sim.now == 500


def test_step_button_runs_one_more_event(explorer):
    explorer.step_button.click()
    first = len(explorer.sim.trace)
    explorer.step_button.click()
    assert len(explorer.sim.trace) > first >= 1


def test_crash_button_crashes_the_node_and_a_second_click_restarts_it(explorer):
    explorer.run_button.click()
    button = explorer.crash_buttons["c"]
    button.click()
    assert explorer.sim.crashed == {"c"}
    assert button.description == "restart c"
    assert "crashed" in explorer.state_table()
    button.click()
    assert explorer.sim.crashed == set()
    assert explorer.sim.trace.of_kind("restart")[0].node == "c"


def test_partition_chooser_cuts_the_links_between_the_groups_and_none_heals(explorer):
    explorer.partition.value = "a,b | c,d,e"
    sim = explorer.sim
    assert sim.is_cut("a", "c") and sim.is_cut("e", "b")
    assert not sim.is_cut("a", "b") and not sim.is_cut("c", "d")
    explorer.partition.value = "isolate d"
    assert sim.is_cut("d", "a") and not sim.is_cut("a", "b")
    explorer.partition.value = "none"
    assert not sim.cut_links


def test_partition_chooser_follows_cuts_the_scenario_makes_itself(explorer):
    explorer.sim.at(50, explorer.sim.partition, {"a"})
    explorer.run_button.click()
    assert explorer.partition.value == "isolate a"
    explorer.sim.cut("b", "c")
    explorer.run_button.click()
    assert explorer.partition.value == "(set by the scenario)"


def test_loss_and_latency_sliders_set_the_network(explorer):
    explorer.loss.value = 0.3
    assert explorer.sim.network.loss == 0.3
    explorer.latency.value = 12.0
    latency = explorer.sim.network.latency
    assert isinstance(latency, Uniform) and latency.mean == pytest.approx(12.0)


def test_reset_with_the_same_seed_reproduces_the_same_trace(explorer):
    explorer.run_button.click()
    explorer.crash_buttons["a"].click()
    explorer.run_button.click()
    first = explorer.sim.trace.dumps()
    explorer.reset_button.click()
    assert explorer.sim.now == 0 and not explorer.sim.crashed
    explorer.run_button.click()
    explorer.crash_buttons["a"].click()
    explorer.run_button.click()
    assert explorer.sim.trace.dumps() == first


def test_reset_with_another_seed_builds_another_run(explorer):
    explorer.run_button.click()
    first = explorer.sim.trace.dumps()
    explorer.seed_box.value = 5
    explorer.reset_button.click()
    explorer.run_button.click()
    assert explorer.sim.seed == 5
    assert explorer.sim.trace.dumps() != first


def test_state_table_has_a_row_per_node_with_its_state(explorer):
    explorer.run_button.click()
    table = explorer.table.value
    for node in "abcde":
        assert f"<b>{node}</b></td>" in table
    assert ">received</th>" in table


def test_views_are_png_images_and_the_legend_names_message_kinds(explorer):
    explorer.run_button.click()
    assert bytes(explorer.spacetime_image.value).startswith(b"\x89PNG")
    assert bytes(explorer.topology_image.value).startswith(b"\x89PNG")
    assert "Ping" in explorer.legend.value


def test_a_failing_node_shows_its_error_instead_of_breaking_the_explorer():
    def broken(seed: int) -> Simulation:
        sim = Simulation(seed=seed)
        sim.add_nodes(Faulty, ["a", "b"])
        return sim

    explorer = Explorer(broken)
    explorer.run_button.click()
    assert "the node's own bug" in explorer.error
    assert "the node&#x27;s own bug" in explorer.status.value


def test_factory_must_return_a_simulation():
    with pytest.raises(TypeError, match="must return a Simulation"):
        Explorer(lambda seed: "not a simulation")


def test_static_figure_and_caption_describe_the_run(explorer):
    explorer.run_button.click()
    explorer.crash_buttons["b"].click()
    assert explorer.static_png().startswith(b"\x89PNG")
    caption = explorer.caption()
    assert caption.startswith("*counters*, seed 4, after 100 ms")
    assert "crashed now: b" in caption


def test_scaled_latency_keeps_the_shape_of_the_distribution():
    assert scaled_latency(Uniform(2, 10), 12).mean == pytest.approx(12)
    assert scaled_latency(Uniform(2, 10), 12).low == pytest.approx(4)
    assert scaled_latency(Exponential(mean=10, base=2), 20).base == pytest.approx(4)
    assert isinstance(scaled_latency(Constant(5), 7), Constant)


def test_measure_redraws_times_full_redraws(explorer):
    explorer.run_button.click()
    assert measure_redraws(explorer, times=3) > 0
    assert len(explorer.redraw_seconds) >= 3


def test_show_runs_the_scenario_then_displays_the_widget_a_static_figure_and_a_caption():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    explorer = Explorer(counters, title="counters")
    with capture_output() as shown:
        explorer.show(run_until=300)
    assert explorer.sim.now == 300
    kinds = [sorted(output.data) for output in shown.outputs]
    assert kinds == [["application/vnd.jupyter.widget-view+json", "text/plain"],
                     ["image/png", "text/plain"], ["text/markdown", "text/plain"]]
    # nbval compares text/plain: it must not vary from run to run
    assert shown.outputs[0].data["text/plain"] == \
        "Explorer: counters (live controls need a running kernel)"
