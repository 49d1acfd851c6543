"""Failures a node cannot see, and what an acknowledgement promises (chapter 1).

* `distlab.failures.generals` -- the two generals: no protocol reaches certainty over a link
  that can lose messages (Akkoyunlu, Ekanadham and Huber 1975; Gray 1978).
* `distlab.failures.ledgers` -- crash-recovery: a ledger that acknowledges from memory, and one
  that writes to stable storage first.
* `distlab.failures.runs` -- the experiments the book runs on the generals.

Telling a slow node from a dead one (heartbeats and timeouts) is in `distlab.membership`.
"""
