"""Lab 2b: vector clocks -- the reference solution passes, and each classic bug is caught.

The reference solution is that of ``solutions/lab02b-vector-clocks.ipynb``, loaded from the
notebook itself (`notebook_code.solution`). Each broken variant subclasses a reference class
and changes one thing, a mistake students make; the check written for it must catch it and say
what went wrong in words a student can act on.
"""

from __future__ import annotations

import pytest

from distlab.clocks.happens_before import HappensBefore
from distlab.grading import check
from distlab.labs.lab02b_vector_clocks import KINDS, Talker, Truth, VectorClockLab, random_topology
from distlab.sim import Network, Simulation, Uniform

from notebook_code import failures, solution

CLOCKS = solution("lab02b-vector-clocks")


class Variant(CLOCKS.VectorClock):
    """The reference clock, returning clocks of the variant's own class (so that == works)."""

    def increment(self, node):
        return type(self).of(super().increment(node).as_dict())

    def merge(self, other):
        return type(self).of(super().merge(other).as_dict())


class MergeWithoutMax(Variant):
    """Merges by taking the other clock's count wherever it has one, larger or not."""

    def merge(self, other):
        counts = self.as_dict()
        counts.update(other.as_dict())
        return type(self).of(counts)


class IncrementsEveryone(Variant):
    """Adds one to every count it holds, instead of the node's own."""

    def increment(self, node):
        counts = {n: c + 1 for n, c in self.as_dict().items()}
        counts.setdefault(node, 1)
        return type(self).of(counts)


class NeverConcurrent(Variant):
    """Says "before" whenever the clocks are not "after": it cannot say concurrent."""

    def compare(self, other):
        relation = super().compare(other)
        return "before" if relation == "concurrent" else relation


class NeverAfter(Variant):
    """Says "concurrent" where it should say "after": pairs in trace order never show it."""

    def compare(self, other):
        relation = super().compare(other)
        return "concurrent" if relation == "after" else relation


class ForgetsToIncrementOnReceive(CLOCKS.VectorNode):
    """Merges the carried clock into its own on a receipt, but does not count the receipt."""

    def stamp_receive(self, clock):
        self.clock = self.clock.merge(clock)
        self.stamps.append(self.clock)


class ForgetsToMerge(CLOCKS.VectorNode):
    """Counts a receipt as a local event: ignores the clock the message carries."""

    def stamp_receive(self, clock):
        self.stamp_local()


class SkipsLocalEvents(CLOCKS.VectorNode):
    """Does not stamp timers: they are not messages, after all."""

    def stamp_local(self):
        pass


def test_the_vector_clock_solution_passes_every_check():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(VectorClockLab(CLOCKS.VectorClock, CLOCKS.VectorNode), seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20] * 6


@pytest.mark.parametrize("clock, name, summary", [
    (MergeWithoutMax, "test_merge_A",
     "violated: merge, then increment, gives the timestamp of a receipt"),
    (IncrementsEveryone, "test_increment_A",
     "violated: increment gives the timestamp of a node's next local event or send"),
    (NeverConcurrent, "test_compare_A",
     "violated: compare tells before, after, concurrent and equal apart, for every pair"),
    (NeverAfter, "test_compare_A",
     "violated: compare tells before, after, concurrent and equal apart, for every pair"),
], ids=lambda value: getattr(value, "__name__", None))
def test_each_clock_bug_is_caught_by_its_check(clock, name, summary):
    report = check(VectorClockLab(clock, CLOCKS.VectorNode), part="A", timing=False)
    assert name in report.failed
    assert failures(report)[name] == summary


def test_a_merge_without_max_is_explained_with_the_clocks_involved():
    report = check(VectorClockLab(MergeWithoutMax, CLOCKS.VectorNode), name="test_merge_A",
                   timing=False)
    explanation = report.failures[0].explanation
    assert "the message carries VectorClock.of(" in explanation
    assert "merge gives" in explanation and "but the receipt's timestamp is" in explanation


@pytest.mark.parametrize("node", [ForgetsToIncrementOnReceive, ForgetsToMerge,
                                  SkipsLocalEvents], ids=lambda cls: cls.__name__)
def test_each_stamping_bug_is_caught_by_every_check_of_part_B(node):
    report = check(VectorClockLab(CLOCKS.VectorClock, node), part="B", timing=False)
    assert report.failed == ["test_line_B", "test_random_topologies_B",
                             "test_duplicates_and_reordering_B"]


def test_a_stamping_bug_is_explained_by_a_pair_of_events_and_the_chain_between_them():
    report = check(VectorClockLab(CLOCKS.VectorClock, ForgetsToIncrementOnReceive),
                   name="test_line_B", timing=False)
    failure = report.failures[0]
    assert failure.summary == ("violated: your nodes' stamps order every pair of events as "
                               "happens-before does")
    assert "compare says 'equal', but the truth is 'before'" in failure.explanation
    assert " -> " in failure.explanation  # the chain of events


def test_missing_stamps_are_counted():
    report = check(VectorClockLab(CLOCKS.VectorClock, SkipsLocalEvents), name="test_line_B",
                   timing=False)
    assert "timers" in report.failures[0].explanation
    assert "append one to stamps for every event" in report.failures[0].explanation


# -- the verdict is the grader's, reached from the answers as data ------------------------------

class ForgesAPass(IncrementsEveryone):
    """A wrong increment that patches, inside the run, every verdict it can reach to pass."""

    def increment(self, node):
        from distlab.grading import verdicts
        from distlab.grading.properties import AsksStudentCode
        from distlab.grading.results import CheckResult
        from distlab.labs import lab02b_vector_clocks as lab

        verdicts._failure_data = lambda failure: None  # the run reports no failure
        CheckResult.passed = property(lambda s: True)
        lab.IncrementsRight.judge_clocks = lambda *args: None
        lab.ClockProperty.judge_answers = lambda *args: None
        AsksStudentCode.judge = lambda *args: None
        return super().increment(node)


def test_patching_the_verdict_inside_the_run_does_not_forge_a_pass():
    from distlab.grading import verdicts
    from distlab.grading.properties import AsksStudentCode
    from distlab.grading.results import CheckResult
    from distlab.labs import lab02b_vector_clocks as lab

    saved = (CheckResult.__dict__["passed"], lab.IncrementsRight.__dict__["judge_clocks"],
             lab.ClockProperty.__dict__["judge_answers"], AsksStudentCode.__dict__["judge"],
             verdicts._failure_data)
    try:
        report = check(VectorClockLab(ForgesAPass, CLOCKS.VectorNode), name="test_increment_A",
                       seeds=1, timing=False)
    finally:
        (CheckResult.passed, lab.IncrementsRight.judge_clocks, lab.ClockProperty.judge_answers,
         AsksStudentCode.judge, verdicts._failure_data) = saved
    assert failures(report) == {"test_increment_A": "violated: increment gives the timestamp "
                                                    "of a node's next local event or send"}


class StandsInForAClock(CLOCKS.VectorClock):
    """Returns an object that says it equals every clock: its own __eq__ must not decide."""

    def increment(self, node):
        class EqualToAll:
            def __eq__(self, other):
                return True

            def __repr__(self):
                return "EqualToAll()"

        return EqualToAll()


def test_an_answer_that_claims_to_equal_everything_is_not_a_clock():
    report = check(VectorClockLab(StandsInForAClock, CLOCKS.VectorNode), name="test_increment_A",
                   seeds=1, timing=False)
    explanation = report.failures[0].explanation
    assert "returned EqualToAll() (not a VectorClock: its entries are not (node, count) " \
           "pairs)" in explanation


class UnsortedEntries(CLOCKS.VectorClock):
    """Builds its result with the node's entry last, unsorted: not what VectorClock.of makes."""

    def increment(self, node):
        counts = self.as_dict()
        mine = counts.pop(node, 0) + 1
        return type(self)(tuple(sorted(counts.items())) + ((node, mine),))


def test_unsorted_entries_are_explained():
    report = check(VectorClockLab(UnsortedEntries, CLOCKS.VectorNode), name="test_increment_A",
                   seeds=3, timing=False)
    assert "not sorted by node without zeros: build clocks with VectorClock.of" in \
        report.failures[0].explanation


def test_the_truth_agrees_with_happens_before_and_counts_duplicates_twice():
    sim = Simulation(seed=5, network=Network(latency=Uniform(1, 20), duplicate=0.5))
    topology = random_topology(5)
    sim.add_nodes(Talker, sorted(topology.nodes), links=tuple(sorted(topology.edges)))
    sim.run(until=1_000)
    truth = Truth(sim)
    order = HappensBefore(sim.trace, kinds=KINDS)
    assert truth.events == order.events
    deliveries = [e for e in sim.trace.of_kind("deliver")]
    assert len({e.msg_id for e in deliveries}) < len(deliveries)  # some were delivered twice
    for a in truth.events[:15]:
        for b in truth.events[:15]:
            expected = order.relation(a, b)
            assert truth.clock(CLOCKS.VectorClock, a).compare(
                truth.clock(CLOCKS.VectorClock, b)) == expected


def test_random_topologies_are_connected_and_depend_on_the_seed():
    import networkx as nx

    graphs = [random_topology(seed) for seed in range(1, 30)]
    assert all(nx.is_connected(g) and 3 <= len(g) <= 7 for g in graphs)
    assert len({tuple(sorted(g.edges)) for g in graphs}) > 20
    assert sorted(random_topology(7).edges) == sorted(random_topology(7).edges)
