"""Raft: Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm" (2014).

* `distlab.consensus.raft.messages` -- the RPCs: `RequestVote`, `AppendEntries` and replies.
* `distlab.consensus.raft.election` -- leader election (`RaftElectionNode`), without the log.
* `distlab.consensus.raft.invariants` -- Election Safety and State Machine Safety, as
  `distlab.check.Invariant` objects.
* `distlab.consensus.raft.runs` -- the experiments the book runs (split votes, time to elect).
"""
