"""Membership: which nodes are alive, as far as anyone can tell.

* `distlab.membership.heartbeat` -- heartbeats and a fixed (optionally adaptive) timeout: the
  simplest failure detector, and its trade-off between false suspicions and detection time.
* `distlab.membership.phi_accrual` -- the phi accrual detector (Hayashibara et al. 2004): a
  suspicion level from the distribution of the heartbeats' inter-arrival times.
* `distlab.membership.messages` and `distlab.membership.swim` -- SWIM (Das, Gupta and
  Motivala 2002): probing, ping-req, suspicion with incarnations, piggybacked dissemination.
* `distlab.membership.invariants` -- what SWIM promises, for the tests and the soak.
* `distlab.membership.runs` -- the experiments the book runs on them.
"""
