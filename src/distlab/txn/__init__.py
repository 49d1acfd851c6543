"""Atomic commitment: every participant of a transaction commits it, or every one aborts it.

* `distlab.txn.messages` -- the messages of two- and three-phase commit.
* `distlab.txn.two_phase_commit` -- two-phase commit with durable logs and recovery
  (`Coordinator`, `Participant`), and the cooperative termination protocol.
* `distlab.txn.three_phase_commit` -- three-phase commit (`Coordinator3PC`,
  `Participant3PC`): non-blocking when only crashes happen, inconsistent under partitions.
* `distlab.txn.raft_groups` -- 2PC whose participants are Raft groups (`GroupMember`,
  `GroupCoordinator`), as Spanner runs it over Paxos groups.
* `distlab.txn.invariants` -- atomicity, validity and durability of the votes and decisions,
  as `distlab.check.Invariant` objects shared by the pages, tests, explorer and lab 5c.
* `distlab.txn.runs` -- the experiments of the page (blocking measured, 3PC under a
  partition, 2PC over Raft groups).
"""
