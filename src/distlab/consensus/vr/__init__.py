"""Viewstamped Replication: Oki and Liskov (1988), as revisited by Liskov and Cowling (2012).

* `distlab.consensus.vr.messages` -- the paper's messages, normal case to recovery.
* `distlab.consensus.vr.replica` -- `VRReplica`: normal operation, view change, recovery
  without a disk, state transfer; `distlab.consensus.vr.bugs` -- three mistakes, each a
  subclass of it.
* `distlab.consensus.vr.invariants` -- one primary per view, committed ops agree, later
  primaries have every committed op, a primary only appends.
* `distlab.consensus.vr.runs` -- the key-value store the book runs, the scripted view change
  and recovery, safety under random faults.
"""
