"""Tests of the task explorer: each control runs the job again with its setting, and the
chart and the summary show the new run."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from distlab.sim import Node, Simulation  # noqa: E402
from distlab.widgets.tasks import TaskExplorer  # noqa: E402


class OneTask(Node):
    """Runs one task, ``length`` ms long."""

    def __init__(self, length: float):
        self.length = length

    def on_start(self):
        self.note("start", kind="map", task=0)
        self.set_timer(self.length, "done")

    def on_timer(self, name):
        self.note("finish", kind="map", task=0)


def run(slowdown, crash_at, backups, seed):
    """w1 runs a task 10 * slowdown ms long; w2 a copy of it if backups are on."""
    sim = Simulation(seed=seed)
    sim.add_node(OneTask, "w1", length=10 * slowdown)
    if backups:
        sim.add_node(OneTask, "w2", length=10)
    if crash_at is not None:
        sim.at(crash_at, sim.crash, "w1")
    sim.run(until=500)
    return sim, f"slowdown {slowdown}, crash {crash_at}, backups {backups}, seed {seed}"


@pytest.fixture
def explorer() -> TaskExplorer:
    return TaskExplorer(run, nodes=["w1", "w2"], title="one task", until=300)


def test_it_starts_with_the_first_run_drawn(explorer):
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert explorer.settings() == {"slowdown": 1, "crash_at": None, "backups": True, "seed": 1}
    assert "slowdown 1, crash None, backups True, seed 1" in explorer.status.value
    assert len([p for p in explorer.ax.patches if p.get_width() > 0]) == 2


def test_each_control_runs_the_job_again_with_its_setting(explorer):
    explorer.slowdown.value = 20
    explorer.crash.value = "crash at 100 ms"
    explorer.backups.value = False
    explorer.seed.value = 3
    assert explorer.summary == "slowdown 20, crash 100, backups False, seed 3"
    bars = [p for p in explorer.ax.patches if p.get_width() > 0]
    assert [(bar.get_x(), bar.get_width()) for bar in bars] == [(0.0, 100.0)]  # cut at 100


def test_the_crash_menu_shows_no_crash_when_there_is_none(explorer):
    assert explorer.crash.label == "no crash"
    explorer.crash.value = "crash at 50 ms"
    explorer.crash.index = 0   # the reader chooses "no crash" again
    assert (explorer.crash.label, explorer.settings()["crash_at"]) == ("no crash", None)


def test_an_error_in_the_run_is_shown_not_raised():
    def fails_when_slow(slowdown, **settings):
        if slowdown > 1:
            raise ValueError("too slow")
        return run(slowdown, **settings)

    explorer = TaskExplorer(fails_when_slow, nodes=["w1", "w2"])
    explorer.slowdown.value = 5
    assert "ValueError: too slow" in explorer.status.value


def test_a_run_that_is_not_a_function_is_refused():
    with pytest.raises(TypeError, match="TaskExplorer needs run"):
        TaskExplorer("run", nodes=["w1"])
