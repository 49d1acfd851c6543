"""distlab.kv: replicated (and, in later chapters, partitioned) key-value storage.

* `distlab.kv.regional` and `distlab.kv.world` -- the book's first store: one server for
  users in three regions, or one replica per region copying writes in the background
  (`Store`, `ReplicatedStore`, `User`), and the runs that compare them.
* `distlab.kv.register` -- one register on three replicas, with the consistent choice (majority
  quorums, `QuorumReplica`) and the available choice (local answers, last writer wins,
  `LwwReplica`) that a network partition forces (CAP), and the `RegisterClient` workload.
* `distlab.kv.machine` -- `KVMachine`, the key-value store as a state machine.
* `distlab.kv.leader_follower` -- leader-follower replication, synchronous, semi-synchronous
  or asynchronous, with failover by epochs (`ReplicatedKV`).
* `distlab.kv.versions` and `distlab.kv.multi_leader` -- multi-leader replication; concurrent
  writes resolved by last-writer-wins or kept as siblings under version vectors
  (`MultiLeaderKV`).
* `distlab.kv.leaderless` -- Dynamo-style quorums on the ring, sloppy quorums, hinted
  handoff and read repair, last-writer-wins or siblings (`DynamoNode`); `distlab.kv.merkle`
  -- Merkle-tree anti-entropy.
* `distlab.kv.partitioned` -- a store partitioned on a consistent-hash ring whose servers join
  and leave, handing their keys over while clients write (`PartitionedKV`); `distlab.kv.real`
  runs it as real processes, a node joining and one leaving (`join_and_leave`).
* `distlab.kv.sessions` -- client sessions over follower reads: where reads go (the leader, a
  sticky follower, any follower) and version tokens (`SessionClient`).
* `distlab.kv.runs` -- the scenarios of each (`cap_run`, `failover_run`, `cart_run`,
  `sloppy_quorum_run`...) and what they measure.
"""
