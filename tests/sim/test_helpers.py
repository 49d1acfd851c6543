"""The small helpers every layer shares (`distlab.sim.helpers`)."""

from __future__ import annotations

import sys

import pytest

from distlab.sim import Simulation
from distlab.sim.helpers import ipython_shell, node_ids, trace_of


def test_trace_of_accepts_a_trace_a_simulation_or_a_list_of_events():
    sim = Simulation(seed=1)
    sim.run(until=10)
    assert trace_of(sim) is sim.trace
    assert trace_of(sim.trace) is sim.trace
    events = list(sim.trace)
    assert trace_of(events) is events
    with pytest.raises(TypeError, match="expected a Trace .* got str"):
        trace_of("a trace")


def test_node_ids_count_from_first_and_padded_ids_sort_numerically():
    assert node_ids(3) == ["n0", "n1", "n2"]
    assert node_ids(3, first=1) == ["n1", "n2", "n3"]
    padded = node_ids(16, padded=True)
    assert padded[:2] == ["n00", "n01"] and padded[-1] == "n15" and sorted(padded) == padded
    assert node_ids(0) == []
    with pytest.raises(ValueError, match="whole number"):
        node_ids(-1)


def test_ipython_shell_is_none_outside_ipython(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert ipython_shell() is None
