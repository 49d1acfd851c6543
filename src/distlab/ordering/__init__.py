"""Broadcast with delivery-order guarantees: FIFO, causal and total order.

A group of members multicasts messages to each other (a chat, replicas applying updates).
The network delivers them in any order, so a member that *delivers* a message -- hands it to
its application -- as soon as it *arrives* shows its user an order of its own. Each guarantee
is a rule for holding arrived messages back until they may be delivered:

* `distlab.ordering.member` -- what every member shares (the script of posts, ``delivered``),
  and `ArrivalMember`, which delivers on arrival: the naive chat every order is judged against.
* `distlab.ordering.fifo` -- FIFO broadcast: per-sender sequence numbers.
* `distlab.ordering.causal` -- causal broadcast: vector timestamps (Birman, Schiper and
  Stephenson 1991).
* `distlab.ordering.sequencer` -- total order by a fixed sequencer.
* `distlab.ordering.lamport` -- total order by Lamport timestamps and acknowledgements
  (Lamport 1978).
* `distlab.ordering.invariants` -- FIFO order, causal order and one total order, as
  `distlab.check.Invariant` objects.
* `distlab.ordering.runs` -- the experiments the book runs (a chat of four members).
"""
