"""Tests of distlab.viz.gantt: task executions read from start/finish notes, cut by crashes,
and drawn one bar each, copies hatched."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from distlab.sim import Node, Simulation  # noqa: E402
from distlab.viz.gantt import TaskSpan, gantt, task_spans  # noqa: E402


class Busy(Node):
    """Runs task 1 for 10 ms, then task 2 for 10 ms."""

    def on_start(self):
        self.task = 1
        self.note("start", kind="map", task=1)
        self.set_timer(10, "done")

    def on_timer(self, name):
        self.note("finish", kind="map", task=self.task)
        if self.task == 1:
            self.task = 2
            self.note("start", kind="reduce", task=2)
            self.set_timer(10, "done")


def run():
    sim = Simulation(seed=1)
    sim.add_nodes(Busy, ["a", "b"])
    sim.at(15, sim.crash, "b")
    sim.run(until=30)
    return sim


def test_spans_pair_starts_with_finishes_and_crashes():
    spans = task_spans(run())
    assert spans == [TaskSpan("a", "map", 1, 0.0, 10.0, "finished"),
                     TaskSpan("b", "map", 1, 0.0, 10.0, "finished"),
                     TaskSpan("a", "reduce", 2, 10.0, 20.0, "finished"),
                     TaskSpan("b", "reduce", 2, 10.0, 15.0, "crashed")]
    assert spans[2].label == "r2"


def test_a_span_still_open_at_the_end_is_running():
    sim = Simulation(seed=1)
    sim.add_node(Busy, "a")
    sim.run(until=5)
    assert [s.outcome for s in task_spans(sim)] == ["running"]


def test_the_chart_has_a_bar_per_execution_and_hatches_copies():
    fig = gantt(run(), title="two workers")
    ax = fig.axes[0]
    bars = [p for p in ax.patches if p.get_width() > 0]
    assert len(bars) == 4
    assert all(bar.get_hatch() == "///" for bar in bars)  # each task ran on both nodes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "a"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["map (m…)", "reduce (r…)", "ran more than once", "crashed"]
