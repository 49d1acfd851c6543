"""Gossip (epidemic) protocols: Demers et al., "Epidemic Algorithms for Replicated Database
Maintenance" (1987).

* `distlab.gossip.epidemic` -- anti-entropy (push, pull, push-pull) and rumour mongering.
* `distlab.gossip.runs` -- the experiments the book runs (rounds against log N, residue).
"""
