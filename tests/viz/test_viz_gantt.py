"""Tests of distlab.viz.gantt: task executions read from start/finish notes, cut by crashes,
and drawn one bar each, copies hatched."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from distlab.sim import Node, Simulation  # noqa: E402
from distlab.viz.gantt import TaskSpan, draw_tasks, gantt, short_names, task_spans  # noqa: E402
from distlab.viz.style import NotebookFigure  # noqa: E402


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
    assert sorted(t.get_text() for t in ax.texts) == ["m1", "m1", "r2", "r2"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["map (m…)", "reduce (r…)", "ran more than once", "crashed"]


def test_a_kind_is_named_by_its_shortest_start_no_other_kind_shares():
    assert short_names(["reduce", "map"]) == {"map": "m", "reduce": "r"}
    assert short_names(["big", "q1", "q2"]) == {"big": "b", "q1": "q1", "q2": "q2"}
    assert short_names(["q1", "q10", "map"]) == {"map": "m", "q1": "q1", "q10": "q10"}


def test_bars_of_kinds_with_one_initial_name_their_kind():
    """The jobs of 6.4's scheduling charts: two queries, q1 and q2, whose bars were both
    labelled q0, q1, q2 (the initial and the task), telling them apart by colour alone."""
    spans = [TaskSpan("m1", "big", 0, 0.0, 3.0, "finished"),
             TaskSpan("m2", "q1", 0, 1.0, 2.0, "finished"),
             TaskSpan("m3", "q1", 1, 1.0, 2.0, "finished"),
             TaskSpan("m2", "q2", 0, 4.0, 5.0, "finished"),
             TaskSpan("m3", "q2", 10, 4.0, 5.0, "finished")]
    ax = NotebookFigure().subplots()
    draw_tasks(ax, spans, ["m1", "m2", "m3"])
    assert [t.get_text() for t in ax.texts] == ["b0", "q1:0", "q1:1", "q2:0", "q2:10"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["big (b…)", "q1 (q1:…)", "q2 (q2:…)"]
