"""distlab.kv: replicated (and, in later chapters, partitioned) key-value storage.

* `distlab.kv.register` -- one register on three replicas, with the consistent choice (majority
  quorums, `QuorumReplica`) and the available choice (local answers, last writer wins,
  `LwwReplica`) that a network partition forces (CAP), and the `RegisterClient` workload.
* `distlab.kv.runs` -- the `cap_sim` / `cap_run` scenarios and what they measure.
"""
