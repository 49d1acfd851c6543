"""Lab 2a: the ordered chat -- the reference solution passes, and each classic bug is caught.

The reference solution is that of ``solutions/lab02a-ordered-chat.ipynb``, loaded from the
notebook itself (`notebook_code.solution`). Each broken variant subclasses a reference class
and changes one thing, a mistake students make; the check written for it must catch it and say
what went wrong in words a student can act on.
"""

from __future__ import annotations

import heapq
import re

import pytest

from distlab.grading import check
from distlab.labs.lab02a_ordered_chat import (ANSWER_AT, MEMBERS, Ack, Chat, OrderedChatLab,
                                              Stamped, chat_script, question_and_answer_script,
                                              setup_chat)
from distlab.sim import ConfigurationError, Network, Simulation, Uniform

from notebook_code import solution

CHAT = solution("lab02a-ordered-chat")


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
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(OrderedChatLab(CHAT.ChatMember, CHAT.OrderedChatMember), seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.check.seeds for r in report.results] == [20] * 6


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
    (PhysicalTimestamps, "test_causal_order_B",
     "violated: every member delivers a message after the messages its author had delivered "
     "before posting it"),
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


def test_physical_timestamps_fail_only_where_clocks_are_skewed_with_the_causal_order():
    report = check(OrderedChatLab(CHAT.ChatMember, PhysicalTimestamps), part="B", timing=False)
    assert report.failed == ["test_causal_order_B"]
    failure = report.failures[0]
    assert failure.summary == ("violated: every member delivers a message after the messages "
                               "its author had delivered before posting it")
    # the report shows the two stamps: the answer's is the smaller
    assert "was stamped" in failure.explanation
    assert "must get a larger timestamp" in failure.explanation


def test_a_stuck_delivery_shows_each_members_queue_head_and_who_holds_it_back():
    report = check(OrderedChatLab(CHAT.ChatMember, NoAcks),
                   name="test_a_lone_message_is_delivered_B", timing=False)
    explanation = report.failures[0].explanation
    heads = re.findall(r"(\w) had not delivered \['(\w)\.1'\]\n    its queue's head, "
                       r"'\2\.1' \(stamped 1 by \2\), waits for a later timestamp from (.*)",
                       explanation)
    assert sorted(member for member, _, _ in heads) == list(MEMBERS)
    for member, author, waits_for in heads:  # nobody acknowledged: every other member holds it
        assert waits_for == ", ".join(f"{peer} (nothing received)" for peer in MEMBERS
                                      if peer not in (member, author))
    assert "does every post get an acknowledgement" in explanation


def test_a_stuck_delivery_of_physical_stamps_names_the_peer_whose_clock_is_behind():
    from distlab.labs.lab02a_ordered_chat import why_stuck

    # d's clock 100 ms ahead: its post is stamped ~150, the others' acks ~50-80
    sim = Simulation(seed=2, network=Network(latency=Uniform(1, 30)))
    setup_chat(sim, PhysicalTimestamps, ((50, "d", "d.1"),), skews=(0, 0, 0, 100))
    sim.run(until=1_000)
    assert sim.nodes["a"].delivered == []
    (line,) = why_stuck(sim.trace, "a", ["d.1"])
    assert line.startswith("its queue's head, 'd.1' (stamped 150 by d), waits for a later "
                           "timestamp from b (latest ")


def test_a_post_never_received_is_named():
    from distlab.labs.lab02a_ordered_chat import why_stuck

    sim = Simulation(seed=2, network=Network(latency=Uniform(1, 30)))
    setup_chat(sim, CHAT.OrderedChatMember, ((50, "d", "d.1"),))
    sim.cut("d", "a", both_ways=False)
    sim.run(until=1_000)
    assert why_stuck(sim.trace, "a", ["d.1"]) == ["it never received ['d.1']"]


def test_the_failure_diagram_ends_at_the_failure_time_of_its_title():
    report = check(OrderedChatLab(CHAT.ChatMember, NoAcks),
                   name="test_a_lone_message_is_delivered_B", timing=False)
    failure = report.failures[0]
    assert failure.time - failure.sim.trace[-1].time > 500  # the run went quiet long before
    axes = failure.spacetime().axes[0]
    assert f"(the failure: t={failure.time:.0f} ms)" in axes.get_title()
    assert axes.get_xlim()[1] >= failure.time


def test_the_chat_script_is_the_same_for_the_same_seed():
    assert chat_script(3) == chat_script(3) != chat_script(4)
    script = chat_script(3)
    assert len(script) == 20 and [t for t, _, _ in script] == sorted(t for t, _, _ in script)
    assert {text for _, _, text in script} == {f"{m}.{k}" for m in MEMBERS for k in range(1, 6)}


def test_the_librarys_lamport_member_is_refused_with_a_message():
    from distlab.ordering.lamport import LamportMember

    class Borrowed(LamportMember):
        pass

    for member in (LamportMember, Borrowed):
        with pytest.raises(ConfigurationError, match="built on the library's own ordered "
                                                     "members .*LamportMember"):
            OrderedChatLab(member, member)


def test_a_member_that_uses_the_librarys_member_inside_is_refused():
    from distlab.ordering.lamport import LamportMember
    from distlab.sim import Node

    # a notebook that did `from distlab.ordering.lamport import LamportMember`
    source = ("class Delegates(Node):\n"
              "    def on_start(self):\n"
              "        self.inner = LamportMember\n")
    namespace = {"Node": Node, "__name__": "student_notebook", "LamportMember": LamportMember}
    exec(source, namespace)
    with pytest.raises(ConfigurationError, match="uses the library's own ordered members "
                                                 r"\(LamportMember, from distlab.ordering"):
        OrderedChatLab(namespace["Delegates"], namespace["Delegates"])


def test_the_causal_check_opens_with_a_question_and_its_late_answer():
    script = question_and_answer_script(3, "b", "d")
    assert script[:2] == ((0.0, "b", "b.1"), (ANSWER_AT, "d", "d.1"))
    assert question_and_answer_script(3, "b", "d") == script
    texts = [text for _, _, text in script]
    assert len(texts) == 2 + 8 * len(MEMBERS) == len(set(texts))
    assert [t for t, _, _ in script] == sorted(t for t, _, _ in script)
