"""Raft: Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm" (2014).

* `distlab.consensus.raft.messages` -- the RPCs: `RequestVote`, `AppendEntries` and replies.
* `distlab.consensus.raft.election` -- leader election (`RaftElectionNode`), without the log.
* `distlab.consensus.raft.node` -- the whole Raft (`RaftNode`): log replication, the commit
  rule, persistence, snapshots, client requests; `distlab.consensus.raft.bugs` -- four classic
  mistakes, each a subclass of it.
* `distlab.consensus.raft.invariants` -- the five properties of the paper's Figure 3 (Election
  Safety, Leader Append-Only, Log Matching, Leader Completeness, State Machine Safety), as
  `distlab.check.Invariant` objects.
* `distlab.consensus.raft.runs` -- the experiments the book runs (split votes, time to elect,
  the Figure 8 script, the five properties under random faults, the explorer's cluster).
"""
