"""An adversarial network for Paxos: the intuition of the FLP impossibility result, as a run.

Fischer, Lynch and Paterson {cite:p}`fischer1985impossibility` proved that in an
asynchronous system, where a message may take any finite time, no deterministic consensus
protocol can guarantee to decide if one process may crash: some schedule keeps it undecided
forever. For Paxos that schedule is easy to write down. `AcceptHoldingScheduler` delivers
every message on time except ``Accept``: it holds each one until a ``Prepare`` with a higher
ballot has reached the same acceptor, which then refuses it. Every ballot is overtaken by
the next, and nothing is ever chosen, however the proposers time their retries.

A real network is not that hostile for ever. Dwork, Lynch and Stockmeyer
{cite:p}`dwork1988partial` assume that delays are bounded, at least eventually: with
``max_hold`` the adversary may hold an ``Accept`` that long at most, and then proposers whose
retry delays are random get out, while proposers with fixed delays can stay in lock-step.
"""

from __future__ import annotations

import math
from typing import Any

from distlab.consensus.paxos.messages import Accept, Ballot, Prepare
from distlab.sim.scheduler import Entry, Scheduler


class AcceptHoldingScheduler(Scheduler):
    """Runs events in time order, but holds back each ``Accept`` that a ``Prepare`` with a
    higher ballot could still overtake -- for ever, or for at most ``max_hold`` ms.

    ``prepared``: the highest ballot of a ``Prepare`` delivered to each acceptor so far.
    An ``Accept(b)`` to an acceptor that has seen a higher ``Prepare`` is released at once
    (to be refused); otherwise it waits ``max_hold`` ms past its arrival time.
    """

    def __init__(self, max_hold: float = math.inf) -> None:
        if not isinstance(max_hold, (int, float)) or max_hold < 0 or max_hold != max_hold:
            raise ValueError(f"max_hold is how long (ms) an Accept may be held: a number of 0 "
                             f"or more, or math.inf for an asynchronous network; got "
                             f"{max_hold!r}")
        super().__init__()
        self.max_hold = max_hold
        self.prepared: dict[str, Ballot] = {}

    def pop(self, until: float | None = None, _heappop: Any = None) -> Entry | None:
        best: tuple[float, int] | None = None
        chosen: Entry | None = None
        for entry in self.heap:
            key = (self._release_time(entry), entry[1])
            if best is None or key < best:
                best, chosen = key, entry
        if best is None or chosen is None or best[0] == math.inf:
            return None
        if until is not None and best[0] > until:
            return None
        self.remove(chosen)
        message = _message(chosen)
        if isinstance(message, Prepare):
            dst = chosen[3][3]
            if dst not in self.prepared or message.ballot > self.prepared[dst]:
                self.prepared[dst] = message.ballot
        return (best[0], *chosen[1:])

    def _release_time(self, entry: Entry) -> float:
        """When the adversary lets the entry run: its own time, except for a held Accept."""
        message = _message(entry)
        if not isinstance(message, Accept):
            return entry[0]
        seen = self.prepared.get(entry[3][3])
        if seen is not None and seen > message.ballot:
            return entry[0]             # overtaken already: deliver it, to be refused
        return entry[0] + self.max_hold


def _message(entry: Entry) -> Any:
    """The message an entry delivers (see `distlab.sim.simulation.Envelope`), or None."""
    arg = entry[3]
    if type(arg) is tuple and len(arg) == 6 and arg[1] == "send":
        return arg[5]
    return None
