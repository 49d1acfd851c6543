"""Chandy-Lamport snapshots of a bank (`distlab.snapshots`): consistent over many seeds and
under reordering and duplication; the naive snapshot is not."""

from __future__ import annotations

from distlab.check import InvariantViolation, watch
from distlab.sim import Network, Simulation, Uniform
from distlab.snapshots.bank import Branch
from distlab.snapshots.chandy_lamport import ChandyLamportBranch
from distlab.snapshots.invariants import (money_conserved, quiet, recorded_total,
                                          snapshot_conserves_money)
from distlab.snapshots.messages import Transfer
from distlab.snapshots.runs import BRANCHES, bank, chandy_lamport, draw_cut, naive


def test_the_snapshot_conserves_money_over_many_seeds():
    for seed in range(1, 21):
        run = chandy_lamport(seed)
        assert run.consistent, (seed, run.recorded)
        assert set(run.cut) == set(BRANCHES) and run.cut["a"] == 100.0


def test_the_snapshot_records_money_in_flight_on_channels():
    in_channels = [sum(sum(c) for node in chandy_lamport(seed).sim.nodes.values()
                       for c in node.channels.values()) for seed in range(1, 6)]
    assert any(in_channels)    # without the channels, these snapshots would be short


def test_the_naive_snapshot_is_inconsistent():
    runs = [naive(seed) for seed in range(1, 6)]
    assert all(r.recorded < r.total for r in runs)        # money in flight is missed
    skewed = [naive(seed, skew=15.0) for seed in range(1, 11)]
    assert any(r.recorded > r.total for r in skewed)      # some money counted twice


def test_fifo_channels_survive_reordering_and_duplicates():
    network = Network(latency=Uniform(1, 60), duplicate=0.3, reorder=0.3)
    sim = Simulation(seed=4, network=network)
    bank(sim, ChandyLamportBranch, snapshot_at=50.0)
    watch(sim, money_conserved(400), snapshot_conserves_money(400))
    sim.run(until=2_000)
    assert quiet(sim) and recorded_total(sim) == 400


def test_a_channel_that_is_not_fifo_breaks_the_snapshot():
    class NotFifo(ChandyLamportBranch):
        def on_message(self, src, msg):        # deliver in arrival order, copies included
            self.next_in[src] = max(self.next_in[src], msg.seq + 1)
            self.receive(src, msg.body)

    broken = 0
    for seed in range(1, 21):
        sim = Simulation(seed=seed, network=Network(latency=Uniform(5, 40), reorder=0.5))
        bank(sim, NotFifo, snapshot_at=100.0)
        watch(sim, snapshot_conserves_money(400))
        try:
            sim.run(until=600)
        except InvariantViolation:
            broken += 1
    assert broken


def test_money_conserved_notices_money_created():
    sim = Simulation(seed=1)
    bank(sim, Branch)
    sim.nodes["a"].balance += 5
    assert money_conserved(400).check(sim).endswith("add up to 405, not 400")
    sim.nodes["a"].receive("b", Transfer(1))
    assert sim.nodes["a"].balance == 106


def test_the_cut_is_drawn():
    fig = draw_cut(chandy_lamport(1))
    line = [ln for ln in fig.axes[0].lines if ln.get_label().startswith("cut")]
    assert line and list(line[0].get_ydata()) == [0, 1, 2, 3]
