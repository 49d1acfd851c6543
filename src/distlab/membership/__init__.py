"""Membership: which nodes are alive, as far as anyone can tell.

* `distlab.membership.heartbeat` -- heartbeats and a fixed (optionally adaptive) timeout: the
  simplest failure detector, and its trade-off between false suspicions and detection time.
* `distlab.membership.runs` -- the experiments the book runs on it.
"""
