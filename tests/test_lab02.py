"""The labs of chapter 2: each reference solution passes, and each classic bug is caught.

The reference solutions are those of ``solutions/lab02a-ordered-chat.ipynb``,
``lab02b-vector-clocks.ipynb`` and ``lab02c-gossip.ipynb``, loaded from the notebooks
themselves (their import cells, given cells and solution cells), so these tests always run
the code the students' labs are generated from. Each broken variant subclasses a reference
class and changes one thing, a mistake students make; the check written for it must catch it
and say what went wrong in words a student can act on.
"""

from __future__ import annotations

import heapq
import math
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

from distlab.clocks.happens_before import HappensBefore
from distlab.grading import check
from distlab.grading.epidemic import ROUND, GossipLab, round_bound
from distlab.grading.ordered_chat import (MEMBERS, Ack, Chat, OrderedChatLab, Stamped, chat_script,
                                          setup_chat)
from distlab.grading.vector_clocks import KINDS, Talker, Truth, VectorClockLab, random_topology
from distlab.sim import Network, Simulation, Uniform

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"


def solution(name: str) -> ModuleType:
    """A module of what a solution notebook defines: its import, given and solution cells."""
    path = SOLUTIONS / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    module = ModuleType(f"solution_{name.replace('-', '_')}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    for number, cell in enumerate(notebook.cells, start=1):
        grading = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (grading.get("solution") or grading.get("locked")):
            exec(compile(cell.source, f"{path.name}, cell {number}", "exec"), module.__dict__)
    return module


CHAT = solution("lab02a-ordered-chat")
CLOCKS = solution("lab02b-vector-clocks")
GOSSIP = solution("lab02c-gossip")


def failures(report) -> dict[str, str]:
    """check name -> the summary of its first failure."""
    return {f.check: f.summary for f in report.failures}


# -- lab 2a: the ordered chat ---------------------------------------------------------------------

class ChatWithoutDeduplication(CHAT.ChatMember):
    """Delivers every Chat that arrives, duplicates included."""

    def on_message(self, src, msg):
        match msg:
            case Chat(text=text):
                self.delivered.append(text)
            case _:
                super().on_message(src, msg)


class DeliversOnArrival(CHAT.OrderedChatMember):
    """Stamps, acknowledges and orders its queue, but delivers each post as soon as it has it."""

    def deliver_stable(self):
        while self.queue:
            self.delivered.append(heapq.heappop(self.queue)[2])


class TakesDuplicatesAgain(CHAT.OrderedChatMember):
    """Checks that messages come in order, but takes a message it has already taken again."""

    def receive(self, msg):
        if msg.seq < self.next_seq[msg.sender]:
            self.take(msg)
            self.deliver_stable()
        else:
            super().receive(msg)


class NoFifo(CHAT.OrderedChatMember):
    """Takes each message as it arrives (duplicates dropped), not in its sender's order."""

    def receive(self, msg):
        if msg.seq in self.early[msg.sender]:
            return
        self.early[msg.sender][msg.seq] = msg
        self.take(msg)
        self.latest[msg.sender] = max(self.latest[msg.sender], msg.time)
        self.deliver_stable()


class ClockJumpsToTheMessage(CHAT.OrderedChatMember):
    """Sets its clock to the message's timestamp plus one, forgetting the max with its own:
    the clock can go back."""

    def take(self, msg):
        self.clock = msg.time + 1
        self.latest[msg.sender] = msg.time
        if isinstance(msg, Stamped):
            heapq.heappush(self.queue, (msg.time, msg.sender, msg.text))
            self.clock += 1
            self.sent += 1
            self.broadcast(Ack(self.id, self.sent, self.clock))


class NoAcks(CHAT.OrderedChatMember):
    """Never acknowledges: waits for a later post from every member instead."""

    def take(self, msg):
        self.clock = max(self.clock, msg.time) + 1
        self.latest[msg.sender] = msg.time
        if isinstance(msg, Stamped):
            heapq.heappush(self.queue, (msg.time, msg.sender, msg.text))


class PhysicalTimestamps(CHAT.OrderedChatMember):
    """Stamps posts and acks with its physical clock, self.now, instead of a Lamport clock."""

    def post(self, text):
        self.sent += 1
        heapq.heappush(self.queue, (self.now, self.id, text))
        self.broadcast(Stamped(self.id, self.sent, self.now, text))

    def take(self, msg):
        self.latest[msg.sender] = msg.time
        if isinstance(msg, Stamped):
            heapq.heappush(self.queue, (msg.time, msg.sender, msg.text))
            self.sent += 1
            self.broadcast(Ack(self.id, self.sent, self.now))


def test_the_chat_solution_passes_every_check():
    report = check(OrderedChatLab(CHAT.ChatMember, CHAT.OrderedChatMember), timing=False)
    assert report.passed, str(report)
    assert [r.seeds_run for r in report.results] == [20] * 6


def test_delivering_on_arrival_gives_members_different_orders():
    sim = Simulation(seed=19, network=Network(latency=Uniform(1, 30)))
    setup_chat(sim, CHAT.ChatMember, ((0, "a", "a.1"), (4, "c", "c.1"), (15, "b", "b.1"),
                                      (18, "d", "d.1")))
    sim.run(until=1_000)
    orders = {tuple(sim.nodes[m].delivered) for m in MEMBERS}
    assert len(orders) == 4 and all(sorted(o) == ["a.1", "b.1", "c.1", "d.1"] for o in orders)
    c = sim.nodes["c"].delivered
    assert c.index("b.1") < c.index("a.1")  # the answer before its question


def test_ordered_members_agree_and_keep_answers_after_questions():
    sim = Simulation(seed=19, network=Network(latency=Uniform(1, 30)))
    setup_chat(sim, CHAT.OrderedChatMember, ((0, "a", "a.1"), (4, "c", "c.1"),
                                             (15, "b", "b.1"), (18, "d", "d.1")))
    sim.run(until=1_000)
    assert {tuple(sim.nodes[m].delivered) for m in MEMBERS} == {("a.1", "c.1", "b.1", "d.1")}


def test_a_chat_that_keeps_duplicates_is_caught():
    report = check(OrderedChatLab(ChatWithoutDeduplication, CHAT.OrderedChatMember), part="A",
                   timing=False)
    assert report.failed == ["test_duplicated_messages_A"]
    failure = report.failures[0]
    assert failure.summary == "violated: no member delivers a message twice"
    assert "twice" in failure.explanation and "(sender, seq)" in failure.explanation


@pytest.mark.parametrize("member, name, summary", [
    (DeliversOnArrival, "test_same_order_everywhere_B",
     "violated: every member delivers the messages in the same order"),
    (TakesDuplicatesAgain, "test_duplicated_messages_B",
     "violated: no member delivers a message twice"),
    (NoFifo, "test_same_order_everywhere_B",
     "violated: every member delivers the messages in the same order"),
    (ClockJumpsToTheMessage, "test_causal_order_B",
     "violated: every member delivers a message after the messages its author had delivered "
     "before posting it"),
    (NoAcks, "test_a_lone_message_is_delivered_B",
     "violated: every member delivers every message within 500 ms after the last post"),
], ids=lambda value: getattr(value, "__name__", None))
def test_each_ordering_bug_is_caught_by_its_check(member, name, summary):
    report = check(OrderedChatLab(CHAT.ChatMember, member), name=name, timing=False)
    assert report.failed == [name]
    assert report.failures[0].summary == summary
    assert f"replay it: replay(lab.{name}, seed={report.failures[0].seed})" in str(report)


def test_the_same_order_violation_shows_both_orders():
    report = check(OrderedChatLab(CHAT.ChatMember, DeliversOnArrival),
                   name="test_same_order_everywhere_B", timing=False)
    explanation = report.failures[0].explanation
    assert "message 1 is" in explanation and explanation.count(" delivered [") == 2


def test_physical_timestamps_fail_only_where_clocks_are_skewed():
    report = check(OrderedChatLab(CHAT.ChatMember, PhysicalTimestamps), part="B", timing=False)
    assert report.failed == ["test_causal_order_B"]


def test_the_chat_script_is_the_same_for_the_same_seed():
    assert chat_script(3) == chat_script(3) != chat_script(4)
    script = chat_script(3)
    assert len(script) == 20 and [t for t, _, _ in script] == sorted(t for t, _, _ in script)
    assert {text for _, _, text in script} == {f"{m}.{k}" for m in MEMBERS for k in range(1, 6)}


# -- lab 2b: vector clocks ------------------------------------------------------------------------

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
    report = check(VectorClockLab(CLOCKS.VectorClock, CLOCKS.VectorNode), timing=False)
    assert report.passed, str(report)
    assert [r.seeds_run for r in report.results] == [20] * 6


@pytest.mark.parametrize("clock, name, summary", [
    (MergeWithoutMax, "test_merge_A",
     "violated: merge, then increment, gives the timestamp of a receipt"),
    (IncrementsEveryone, "test_increment_A",
     "violated: increment gives the timestamp of a node's next local event or send"),
    (NeverConcurrent, "test_compare_A",
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


# -- lab 2c: gossip -------------------------------------------------------------------------------

class PushOnly(GOSSIP.PushPullNode):
    """Pushes what it knows to one random peer each round; never pulls."""

    def on_timer(self, name):
        if self.rumours:
            self.send(self.rng.choice(self.peers), GOSSIP.Reply(frozenset(self.rumours)))
        self.set_timer(ROUND, "round")


class Floods(GOSSIP.PushPullNode):
    """Calls every peer every round."""

    def on_timer(self, name):
        for peer in self.peers:
            self.send(peer, GOSSIP.Gossip(frozenset(self.rumours)))
        self.set_timer(ROUND, "round")


class StopsAfterReliableRounds(GOSSIP.PushPullNode):
    """Gossips for log2 N + 2 rounds, enough on a reliable network, then stops."""

    def on_start(self):
        self.rounds_left = math.ceil(math.log2(len(self.peers) + 1)) + 2
        super().on_start()

    def on_timer(self, name):
        if self.rounds_left > 0:
            self.rounds_left -= 1
            super().on_timer(name)


class WaitsForReplies(GOSSIP.PushPullNode):
    """Calls its next partner only once the last one answered (and answers every call)."""

    def on_start(self):
        self.waiting = False
        super().on_start()

    def on_timer(self, name):
        if not self.waiting:
            self.waiting = True
            super().on_timer(name)
        else:
            self.set_timer(ROUND, "round")

    def on_message(self, src, msg):
        match msg:
            case GOSSIP.Gossip(rumours):
                self.send(src, GOSSIP.Reply(frozenset(self.rumours - rumours)))
                self.rumours |= rumours
            case GOSSIP.Reply(rumours):
                self.rumours |= rumours
                self.waiting = False


def test_the_gossip_solution_passes_every_check():
    report = check(GossipLab(GOSSIP.PushPullNode), timing=False)
    assert report.passed, str(report)
    assert [r.seeds_run for r in report.results] == [20] * 7


def test_push_only_gossip_is_too_slow():
    report = check(GossipLab(PushOnly), name="test_16_nodes_A", timing=False)
    assert report.failures[0].summary == ("violated: every live node knows every rumour "
                                          "within 8 rounds")
    assert "did not know every rumour yet" in report.failures[0].explanation


def test_calling_every_peer_breaks_the_budget():
    report = check(GossipLab(Floods), name="test_64_nodes_A", timing=False)
    assert report.failures[0].summary == ("violated: at most 3 messages per node and round "
                                          "(2,304 in all)")
    assert "66.9 per node and round: do not contact every peer" in report.failures[0].explanation


def test_stopping_early_passes_a_reliable_network_but_not_loss():
    assert check(GossipLab(StopsAfterReliableRounds), part="A", timing=False).passed
    lossy = check(GossipLab(StopsAfterReliableRounds), name="test_16_nodes_with_loss_B",
                  timing=False)
    assert lossy.failed == ["test_16_nodes_with_loss_B"]
    assert lossy.failures[0].summary.startswith("violated: every live node knows")


def test_waiting_for_a_reply_is_caught_by_crashed_nodes():
    report = check(GossipLab(WaitsForReplies), name="test_crashed_nodes_B", timing=False)
    assert report.failed == ["test_crashed_nodes_B"]
    assert report.failures[0].summary == ("violated: every live node knows every rumour "
                                          "within 15 rounds")


def test_round_bounds_grow_like_log_n():
    assert [round_bound(n, 2) for n in (16, 32, 64)] == [8, 10, 12]
    assert [round_bound(n, 3) for n in (16, 32, 64)] == [12, 15, 18]
