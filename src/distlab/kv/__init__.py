"""distlab.kv: replicated (and, in later chapters, partitioned) key-value storage.

`distlab.kv.register`: one register on three replicas, with the consistent choice (majority
quorums, `QuorumReplica`) and the available choice (local answers, last writer wins,
`LwwReplica`) that a network partition forces (CAP), the `RegisterClient` workload, and the
`cap_sim` / `cap_run` scenarios.
"""

from distlab.kv.register import (CLIENTS, INITIAL, MODES, REPLICAS, Coordination, LwwReplica,
                                 Query, QueryReply, QuorumReplica, Read, ReadOk, RegisterClient,
                                 RegisterReplica, Store, StoreAck, Unavailable, Update, Version,
                                 Write, WriteOk, cap_run, cap_sim, converged, operation_latencies,
                                 outcome_counts, replica_states)

__all__ = [
    "CLIENTS", "Coordination", "INITIAL", "LwwReplica", "MODES", "Query", "QueryReply",
    "QuorumReplica", "REPLICAS", "Read", "ReadOk", "RegisterClient", "RegisterReplica", "Store",
    "StoreAck", "Unavailable", "Update", "Version", "Write", "WriteOk", "cap_run", "cap_sim",
    "converged", "operation_latencies", "outcome_counts", "replica_states",
]
