"""The gossip page's mini-exercise: predict rumour mongering's residue from its traffic.

Demers et al. tie the two: if the nodes push the rumour ``m`` times each on average (the
*traffic*), a node is missed by every push with probability about ``e^-m`` (the *residue*).
The reader computes the residue that the measured traffic of rumour mongering with ``k = 2``
predicts; `check_residue` measures the traffic (20 runs of 100 nodes, as on the page) with
`distlab.gossip.runs.rumour_mongering` and compares.
"""

from __future__ import annotations

import math
import statistics

from distlab.exercises import Feedback, close_to, not_quite, right
from distlab.gossip.runs import rumour_mongering

K = 2
NODES = 100
SEEDS = range(20)
#: how close to e^-m an answer must be (the traffic is printed with two decimals)
TOLERANCE = 0.003


def measured(k: int = K) -> tuple[float, float]:
    """(mean traffic m, mean residue) of rumour mongering with ``k`` over `SEEDS`."""
    runs = [rumour_mongering(NODES, k=k, seed=seed) for seed in SEEDS]
    return (statistics.fmean(r.traffic for r in runs), statistics.fmean(r.residue for r in runs))


def check_residue(answer: float, k: int = K) -> Feedback:
    """Whether ``answer`` is the residue ``e^-m`` that the measured traffic ``m`` predicts."""
    traffic, residue = measured(k)
    predicted = math.exp(-traffic)
    if close_to(answer, predicted, TOLERANCE):
        return right(f"e^-{traffic:.2f} = {predicted:.3f}; the runs left {residue:.3f} of the "
                     f"nodes ignorant. The traffic alone predicts the residue, whatever k.")
    if not isinstance(answer, int | float) or isinstance(answer, bool):
        return not_quite(f"the residue is a number, a fraction of the nodes, not {answer!r}")
    if close_to(answer, predicted * NODES, 1.0):
        return not_quite(f"that is a number of nodes; the residue is the fraction of the "
                         f"{NODES} nodes")
    if close_to(answer, math.exp(-k), TOLERANCE):
        return not_quite(f"use the traffic m = {traffic:.2f} (pushes per node), not k = {k}: "
                         f"each node pushes more than k times before it loses interest")
    return not_quite(f"a node is missed by each of the m × N pushes with probability 1 - 1/N, "
                     f"so by all of them with (1 - 1/N)^(mN) ≈ e^-m, with m = {traffic:.2f}")
