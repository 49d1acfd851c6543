"""What Viewstamped Replication guarantees, as `distlab.check.Invariant` objects.

Raft's properties (`distlab.consensus.raft.invariants`) are written for any replicated log;
here they read VR's names (``view_number``, ``commit_number``, a ``role`` of
``"primary"``):

* **One primary per view** (`one_primary_per_view`): never two replicas acting as primary
  of the same view. In VR this follows from the round robin, so a violation means a
  replica believes in a view it should not.
* **Committed ops agree** (`committed_ops_agree`): an op committed at an op-number is the
  same on every replica and never changes -- the state machine safety that clients rely on.
* **The primary has every committed op** (`primaries_have_committed_ops`): the primary of a
  later view holds every op committed in an earlier one. This is what the view change's
  choice of log (and recovery's choice of state) must ensure.
* **A primary only appends** (`primary_only_appends`): in its view, a primary never removes
  or replaces an op of its log.
"""

from __future__ import annotations

from distlab.check import Invariant
from distlab.consensus.raft.invariants import (at_most_one_leader_per_term, leader_append_only,
                                               leader_completeness, logs_agree_up_to_commit)

_NAMES = dict(role_attr="role", term_attr="view_number", leader_value="primary")


def one_primary_per_view() -> Invariant:
    """Never two different primaries of one view, over the whole run."""
    invariant = at_most_one_leader_per_term(**_NAMES)
    invariant.name = "at most one primary per view"
    return invariant


def committed_ops_agree() -> Invariant:
    """An op committed at an op-number is the same everywhere, forever."""
    invariant = logs_agree_up_to_commit(log_attr="log", commit_attr="commit_number")
    invariant.name = "committed ops agree"
    return invariant


def primaries_have_committed_ops() -> Invariant:
    """The primary of every later view holds each committed op at its op-number."""
    invariant = leader_completeness(log_attr="log", commit_attr="commit_number", **_NAMES)
    invariant.name = "primaries of later views have every committed op"
    return invariant


def primary_only_appends() -> Invariant:
    """In its view, a primary never removes or changes an op of its log."""
    invariant = leader_append_only(log_attr="log", **_NAMES)
    invariant.name = "a primary only appends to its log"
    return invariant


def vr_invariants() -> list[Invariant]:
    """The four, fresh, for a `VRReplica` cluster."""
    return [one_primary_per_view(), primary_only_appends(), primaries_have_committed_ops(),
            committed_ops_agree()]
