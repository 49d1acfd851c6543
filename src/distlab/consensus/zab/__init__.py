"""Zab, ZooKeeper's atomic broadcast: Junqueira, Reed and Serafini (2011).

* `distlab.consensus.zab.messages` -- transactions with their zxids, and the messages of
  election, discovery, synchronisation and broadcast.
* `distlab.consensus.zab.server` -- `ZabServer`, the four phases, replicating a key-value
  store; `distlab.consensus.zab.bugs` -- two mistakes, each a subclass of it.
* `distlab.consensus.zab.invariants` -- one leader per epoch, total order, primary order,
  leaders have every committed transaction.
* `distlab.consensus.zab.runs` -- the key-value store the book runs, a scripted change of
  leader, safety under random faults.
"""
