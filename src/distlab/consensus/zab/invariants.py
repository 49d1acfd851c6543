"""What Zab guarantees, as `distlab.check.Invariant` objects (Junqueira, Reed and Serafini
2011, section III).

Raft's invariants (`distlab.consensus.raft.invariants`) are written for any replicated log;
here they read Zab's names (a ``history`` of transactions, ``committed`` of them delivered,
``current_epoch``, a ``role`` of ``"leading"`` once established):

* **One leader per epoch** (`one_leader_per_epoch`): never two established leaders of one
  epoch.
* **Total order** (`delivered_in_one_order`): the transactions delivered are a prefix of
  one sequence, the same on every server, and never change (the paper's agreement and total
  order).
* **Primary order** (`zxids_increase`): a history lists its transactions in zxid order: a
  leader's proposals in the order it made them, and an earlier epoch's before a later one's
  (local and global primary order).
* **Primary integrity** (`leaders_have_committed`): the established leader of an epoch has
  every transaction committed in an earlier one -- so it never broadcasts a state that
  contradicts them.
"""

from __future__ import annotations

from distlab.check import Invariant, live_nodes
from distlab.consensus.raft.invariants import (at_most_one_leader_per_term, leader_completeness,
                                               logs_agree_up_to_commit)
from distlab.consensus.zab.messages import Txn
from distlab.sim import Simulation

_NAMES = dict(role_attr="role", term_attr="current_epoch", leader_value="leading")


def one_leader_per_epoch() -> Invariant:
    """Never two established leaders of one epoch, over the whole run."""
    check = at_most_one_leader_per_term(**_NAMES)
    check.name = "at most one leader per epoch"
    return check


def delivered_in_one_order() -> Invariant:
    """Every server delivers a prefix of the same sequence of transactions."""
    check = logs_agree_up_to_commit(log_attr="history", commit_attr="committed")
    check.name = "transactions are delivered in one total order"
    return check


class ZxidsIncrease(Invariant):
    """Every history lists its transactions in strictly increasing zxid order.

    A history grows by appends and is replaced whole (`ZabServer` does nothing else), so a
    check reads only what is new: for each node it keeps the list it saw and how far that
    list was found in order, and starts again from the beginning for a new list, or for one
    whose last checked entry has changed or gone.
    """

    reads_only_nodes = True

    def __init__(self) -> None:
        super().__init__("a history is in zxid order", self._check)
        self.checked: dict[str, tuple[list[Txn], int, Txn]] = {}

    def _check(self, sim: Simulation) -> str | None:
        for node_id, node in live_nodes(sim).items():
            history = getattr(node, "history", None)
            if not history:
                continue
            seen = self.checked.get(node_id)
            start = 1
            if (seen is not None and seen[0] is history and seen[1] <= len(history)
                    and history[seen[1] - 1] is seen[2]):
                start = seen[1]
            for at in range(start, len(history)):
                if history[at].zxid <= history[at - 1].zxid:
                    return (f"{node_id!r} has {history[at]!r} after {history[at - 1]!r}: "
                            f"transactions must follow in zxid order")
            self.checked[node_id] = (history, len(history), history[-1])
        return None

    def reset(self) -> None:
        self.checked.clear()


def zxids_increase() -> Invariant:
    """Every history is in strictly increasing zxid order."""
    return ZxidsIncrease()


def leaders_have_committed() -> Invariant:
    """An established leader has every transaction committed in an earlier epoch."""
    check = leader_completeness(log_attr="history", commit_attr="committed", **_NAMES)
    check.name = "leaders of later epochs have every committed transaction"
    return check


def zab_invariants() -> list[Invariant]:
    """The four, fresh, for a `ZabServer` cluster."""
    return [one_leader_per_epoch(), zxids_increase(), leaders_have_committed(),
            delivered_in_one_order()]
