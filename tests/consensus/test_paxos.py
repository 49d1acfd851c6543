"""Single-decree Paxos: its invariants hold over random faults and over every schedule of a
small configuration; the explorer finds the bugs of the broken variants."""

from __future__ import annotations

from distlab.check.invariants import InvariantViolation
from distlab.consensus.paxos import (Accept, Acceptor, ForgetfulAcceptor, HastyProposer,
                                     MinorityProposer, Prepare, Promise, PromiseBreakingAcceptor,
                                     Proposer)
from distlab.consensus.paxos.runs import explore_paxos, paxos_run, paxos_setup, random_runs
from distlab.sim import Node, Simulation


def test_agreement_and_validity_hold_over_random_loss_crashes_and_restarts():
    outcomes = random_runs(range(40), loss=0.2)
    violations = {seed: out for seed, out in outcomes.items()
                  if isinstance(out, InvariantViolation)}
    assert not violations, next(iter(violations.values()))
    chosen = [out for out in outcomes.values() if out != "none"]
    assert len(chosen) >= 30, outcomes           # despite the faults, most runs decide
    assert all(out in ("v1", "v2") for out in chosen)  # ...on one value each


def test_every_reachable_state_of_three_acceptors_and_two_proposers_is_safe():
    result = explore_paxos()
    assert result.status == "no violation" and not result.depth_limited
    assert result.states > 100_000
    assert str(result).startswith("exploration (breadth-first): no violation in every "
                                  "reachable state")


def test_a_proposer_that_ignores_the_promises_chooses_a_second_value_in_twelve_steps():
    result = explore_paxos(proposer_class=HastyProposer)
    assert result.found and len(result.schedule) == 12
    assert result.violation.invariant == "at most one value is chosen"
    assert "'v1'" in result.violation.explanation and "'v2'" in result.violation.explanation
    assert all(step.kind == "deliver" for step in result.schedule)  # no fault needed
    # the correct proposer, in the same schedule, proposes the value it was told about
    promise = next(s for s in result.schedule if "accepted_value='v1'" in s.text)
    assert "Promise" in promise.text


def test_an_acceptor_that_accepts_below_its_promise_lets_two_values_be_chosen():
    result = explore_paxos(acceptor_class=PromiseBreakingAcceptor)
    assert result.found and len(result.schedule) == 12
    assert result.violation.invariant == "at most one value is chosen"
    assert all(step.kind == "deliver" for step in result.schedule)
    # the broken step: an acceptor accepts p1's ballot after it promised p2's, higher one
    texts = [step.text for step in result.schedule]
    promised_p2 = texts.index("deliver #4 p2->a1 Prepare(ballot=(1, 'p2'))")
    assert texts.index("deliver #11 p1->a1 Accept(ballot=(1, 'p1'), value='v1')") > promised_p2


def test_a_proposer_content_with_half_the_acceptors_chooses_a_second_value_in_eight_steps():
    sim = Simulation(seed=0)
    paxos_setup(acceptors=3, proposers=1, proposer_class=MinorityProposer)(sim)
    assert sim.nodes["p1"].majority() == 1        # 3 // 2: the "+ 1" is missing
    result = explore_paxos(proposer_class=MinorityProposer)
    assert result.found and len(result.schedule) == 8
    assert result.violation.invariant == "at most one value is chosen"


def test_an_acceptor_that_forgets_its_promise_in_a_crash_is_caught():
    result = explore_paxos(acceptor_class=ForgetfulAcceptor, crashes=1, restarts=True,
                           crashable=["a2"], strategy="dfs", max_depth=14)
    assert result.found and result.violation.invariant == "at most one value is chosen"
    kinds = [step.kind for step in result.schedule]
    assert "crash" in kinds and "restart" in kinds


def test_an_acceptor_keeps_its_promise_across_a_crash():
    sim = Simulation(seed=0)
    sim.add_node(Acceptor, "a1")
    sim.add_nodes(Node, ["p1", "p2"])   # silent proposers: the test speaks for them
    sim.run(until=1)
    sim.nodes["a1"].on_message("p2", Prepare((1, "p2")))
    sim.crash("a1")
    acceptor = sim.restart("a1")
    assert acceptor.storage["promised"] == (1, "p2")
    acceptor.on_message("p1", Accept((1, "p1"), "v1"))   # lower than promised: ignored
    assert acceptor.storage["accepted"] is None


def test_a_proposer_proposes_the_value_of_the_highest_ballot_it_hears_of():
    sim = Simulation(seed=0)
    paxos_setup(acceptors=3, proposers=1)(sim)
    proposer: Proposer = sim.nodes["p1"]
    sim.run(until=0)
    proposer.on_message("a1", Promise(proposer.ballot, (1, "p0"), "old"))
    proposer.on_message("a2", Promise(proposer.ballot, (0, "p9"), "older"))
    assert proposer.proposal == "old"


def test_a_watched_run_of_two_proposers_chooses_one_value():
    sim = paxos_run(seed=3)
    chosen = {node.chosen for node in sim.nodes.values()
              if isinstance(node, Proposer) and node.chosen is not None}
    assert chosen == {"v2"}
