"""Two mistakes in Viewstamped Replication, each a small subclass of `VRReplica`.

* `PicksLongestLog`: the new primary keeps the longest log it is sent, whatever view it
  comes from. A replica cut off in an old view can hold a long log of ops that were never
  committed, while the committed ops of a later view are elsewhere: they are lost.
* `SkipsRecovery`: a restarted replica rejoins at once as a backup of view 0 with an empty
  log, as if it had never run. It may have acknowledged ops before the crash; with amnesia
  those acknowledgements are forgotten, and a view change it joins can drop committed ops.
* `CommitsOnOneAck`: the primary commits an op once one backup has it -- right for three
  replicas (``f = 1``), written as if every cluster had three. With five, two replicas are not
  a majority: a view change among the other three never hears of the op.
"""

from __future__ import annotations

from distlab.consensus.vr.messages import DoViewChange
from distlab.consensus.vr.replica import VRReplica


class PicksLongestLog(VRReplica):
    """The bug: the log chosen in a view change is the longest, not the latest view's."""

    def choose_log(self) -> DoViewChange:
        return max(self.do_view_change.values(), key=lambda m: m.op_number)


class SkipsRecovery(VRReplica):
    """The bug: a restart is treated like a first start."""

    def start_recovery(self) -> None:
        self.note("rejoins without recovery")
        self.begin_normal()


class CommitsOnOneAck(VRReplica):
    """The bug: ``f`` taken to be 1, whatever the size of the configuration."""

    @property
    def f(self) -> int:
        return 1
