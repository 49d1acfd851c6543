"""Leader election by rank: the Bully algorithm and ring election.

* `distlab.election.bully` -- Garcia-Molina's Bully algorithm (1982): the highest-ranked live
  node wins, in a synchronous system.
* `distlab.election.ring` -- Chang and Roberts' ring election (1979): candidates travel round a
  ring and only the largest id completes the lap.
* `distlab.election.rank` -- how node ids compare (natural order).
* `distlab.election.fencing` -- a store that refuses requests from a deposed leader (fencing
  tokens): what keeps an old leader that still believes it leads from doing harm.
* `distlab.election.runs` -- the experiments the book runs on them (message counts, times).

Raft's randomized election, which needs no ranks, is with the rest of Raft in
`distlab.consensus.raft`.
"""
