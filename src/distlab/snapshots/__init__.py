"""Global snapshots of a running system: Chandy and Lamport's algorithm, and why a naive one
fails.

* `distlab.snapshots.messages` -- transfers, markers, and the sequence numbers that make a
  channel FIFO.
* `distlab.snapshots.bank` -- the running application: branches of a bank that send each
  other money at random (`Branch`), over FIFO channels.
* `distlab.snapshots.chandy_lamport` -- the Chandy-Lamport snapshot (`ChandyLamportBranch`).
* `distlab.snapshots.naive` -- every branch records its balance at the same time t
  (`NaiveSnapshotBranch`): inconsistent when money is in flight.
* `distlab.snapshots.invariants` -- money is conserved, in the running bank and in a
  recorded global state.
* `distlab.snapshots.runs` -- the runs and the cut drawn on the space-time diagram (05.03).
"""
