"""Ordered broadcast: each protocol keeps its order under reordering and duplication, each
weaker one is caught by the stronger order's invariant, and Lamport's algorithm blocks when a
member crashes while the sequencer's order goes on until the sequencer itself crashes."""

import pytest

from distlab.check import check_now, watch
from distlab.check.invariants import InvariantViolation
from distlab.clocks.logical import VectorClock
from distlab.ordering.causal import CausalMember, deliverable
from distlab.ordering.fifo import FifoMember
from distlab.ordering.invariants import causal_order, fifo_order, total_order
from distlab.ordering.lamport import LamportMember
from distlab.ordering.member import ArrivalMember, Member
from distlab.ordering.messages import CausalPost
from distlab.ordering.runs import ANSWER, MEMBERS, QUESTION, chat, conversation, random_script
from distlab.ordering.sequencer import SequencerMember
from distlab.sim import Node, Simulation

SEEDS = range(12)
ROUGH = {"reorder": 0.3, "duplicate": 0.3}      # a network that reorders and duplicates


def busy_chat(member, seed, **kwargs):
    script, answers = conversation(seed)
    return chat(member, script=script, answers=answers, seed=seed, **ROUGH, **kwargs)


def held(member, seed):
    """Which of the three orders held in a busy chat of ``member``s."""
    return {name: problem is None for name, problem in busy_chat(member, seed).orders().items()}


@pytest.mark.parametrize("member, keeps", [
    (FifoMember, ("FIFO",)),
    (CausalMember, ("FIFO", "causal")),
    (SequencerMember, ("FIFO", "causal", "total")),
    (LamportMember, ("FIFO", "causal", "total")),
])
def test_each_protocol_keeps_its_orders_and_delivers_everything(member, keeps):
    for seed in SEEDS:
        run = busy_chat(member, seed)
        orders = run.orders()
        assert [name for name in keeps if orders[name] is not None] == [], (seed, orders)
        assert run.missing() == {}, seed
        assert len(run.posted) == 24      # 12 scripted posts and their 12 answers


@pytest.mark.parametrize("member, breaks", [
    (ArrivalMember, "FIFO"),     # delivering on arrival: the network reorders a sender's posts
    (FifoMember, "causal"),      # FIFO per sender: an answer can overtake another's question
    (CausalMember, "total"),     # causal: concurrent posts in different orders
])
def test_each_weaker_protocol_is_caught_by_the_stronger_order(member, breaks):
    caught = [seed for seed in SEEDS if not held(member, seed)[breaks]]
    assert caught, f"{member.__name__} was never caught breaking {breaks} order"


def test_the_answer_overtakes_its_question_when_members_deliver_on_arrival():
    run = chat(ArrivalMember, script=QUESTION, answers=ANSWER, seed=5)
    assert run.delivered["c"] == ["c.1", "b.1", "a.1", "d.1"]
    assert "'b.1' before 'a.1'" in run.orders()["causal"]
    fixed = chat(CausalMember, script=QUESTION, answers=ANSWER, seed=5)
    assert fixed.delivered["c"] == ["c.1", "a.1", "b.1", "d.1"]


def test_watched_invariants_stop_the_run_at_the_first_bad_delivery():
    script, answers = conversation(3)
    sim = Simulation(seed=3)
    sim.add_nodes(ArrivalMember, MEMBERS, script=script, answers=answers)
    watch(sim, total_order())
    with pytest.raises(InvariantViolation, match="total order"):
        sim.run(until=1_000)


def test_the_same_seed_gives_the_same_deliveries():
    assert busy_chat(LamportMember, 4).delivered == busy_chat(LamportMember, 4).delivered


def test_lamport_blocks_for_ever_when_a_member_crashes():
    script = random_script(1)
    run = chat(LamportMember, script=script, seed=1, crash=("d", 150), until=5_000)
    late = [text for m in ("a", "b", "c") for t, text in script[m] if t > 150]
    assert late
    for m in ("a", "b", "c"):
        assert set(late) <= set(run.missing()[m])              # never delivered ...
        assert set(late) <= set(run.sim.nodes[m].held_back())  # ... though they arrived
    assert run.orders() == {"FIFO": None, "causal": None, "total": None}


def test_the_sequencer_goes_on_without_a_member_but_stops_without_the_sequencer():
    script = random_script(1)
    survivors = chat(SequencerMember, script=script, seed=1, crash=("d", 150), until=5_000)
    posts_of_d = {text for _, text in script["d"]}
    for lacking in survivors.missing().values():     # at most what d posted before it crashed
        assert set(lacking) <= posts_of_d
    assert survivors.orders()["total"] is None
    headless = chat(SequencerMember, script=script, seed=1, crash=("a", 150), until=5_000)
    late = {text for m in ("b", "c", "d") for t, text in script[m] if t > 150}
    for m in ("b", "c", "d"):
        assert late <= set(headless.missing()[m])


def test_a_member_that_delivers_twice_or_invents_a_post_is_caught():
    class Stutter(ArrivalMember):
        def deliver(self, text):
            super().deliver(text)
            if self.id == "b" and text == "a.1":
                super().deliver(text)

    run = chat(Stutter, script=QUESTION, seed=1)
    assert "b delivered 'a.1' twice" in run.orders()["FIFO"]

    class Liar(Member):
        def multicast(self, text):
            self.deliver(text + "!")

    sim = Simulation(seed=0)
    sim.add_nodes(Liar, MEMBERS, script=QUESTION)
    sim.run(until=100)
    with pytest.raises(InvariantViolation, match="'a.1!', which nobody posted"):
        check_now(sim, fifo_order())


def test_causal_order_follows_chains_through_other_members():
    # a posts x; b reads it and posts y; c reads both and posts z: z must come after x, y
    inv = causal_order()

    class Chain(Member):
        def multicast(self, text):
            self.deliver(text)

    sim = Simulation(seed=0)
    sim.add_nodes(Chain, ["a", "b", "c", "d"])
    nodes = sim.nodes
    nodes["a"].post("x")
    nodes["b"].deliver("x")
    nodes["b"].post("y")
    nodes["c"].deliver("x")
    nodes["c"].deliver("y")
    nodes["c"].post("z")
    assert inv.check(sim) is None
    nodes["d"].deliver("z")              # d never delivered x nor y: a causal violation
    problem = inv.check(sim)
    assert problem is not None and "d delivered 'z' before 'x'" in problem


def test_deliverable_is_the_vector_condition():
    here = VectorClock.of({"a": 2, "b": 1})
    assert deliverable(CausalPost("b", VectorClock.of({"a": 2, "b": 2}), "b.2"), here)
    assert not deliverable(CausalPost("b", VectorClock.of({"b": 3}), "b.3"), here)  # gap
    assert not deliverable(CausalPost("b", VectorClock.of({"a": 3, "b": 2}), "b.2"), here)
    assert not deliverable(CausalPost("a", VectorClock.of({"a": 2}), "a.2"), here)  # seen


def test_bad_scripts_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"a script entry is \(time in ms, text\)"):
        chat(FifoMember, script={"a": [(10, 5)]})
    with pytest.raises(ValueError, match="who are not members"):
        chat(FifoMember, script={"z": [(10, "z.1")]})
    with pytest.raises(ValueError, match="crash=.* names 'z', who is not a member"):
        chat(FifoMember, script={}, crash=("z", 10))


def test_the_invariants_say_what_they_check():
    assert fifo_order().name.startswith("FIFO order")
    assert causal_order().name.startswith("causal order")
    assert total_order().name.startswith("total order")
    assert issubclass(LamportMember, Node)
