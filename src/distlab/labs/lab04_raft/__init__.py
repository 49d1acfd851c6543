"""Lab 4: Raft, built part by part in one node class (the lab notebook ``lab04-raft.ipynb``).

Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm"
{cite:p}`ongaro2014raft`. The student writes one class, a `Node` with Raft's own variables:
``term`` (the paper's currentTerm), ``state`` (``"follower"``, ``"candidate"`` or
``"leader"``), ``voted_for``, ``votes`` and ``log``. Part A is leader election (section 5.2),
B log replication (5.3, 5.4), C persistence, D snapshots (section 7, Figure 13:
``snapshot_index``, ``snapshot_term``, and ``snapshot(index, data)``, which the lab's service
calls).

This package holds what the student does not write: the timing constants, the messages (the
library's, `distlab.consensus.raft.messages`, so that the log's fields are already there for
the later parts), and the checks, one module a part. The checks read the nodes' attributes and
the messages in the trace, and judge the rules of the paper's Figure 2 one at a time, so that a
report names the rule that was broken rather than only its distant consequence; each violation
carries a picture of the run around it, and the student's line that last acted.

* `common` -- the timing, integrity, the student's line (`instrumented`), the rules' base;
* `election` -- part A's rules (`ElectionRules`, `LeaderElected`, ...);
* `faults` -- the faults the checks choose during a run;
* `part_a` -- part A's checks and the exhaustive exploration of elections;
* `tester` -- the lab's client, which submits commands (part B on), and how servers apply them;
  the service, which asks for snapshots (part D);
* `replication` -- part B's rules (`LogRules`, `Agreement`, ...);
* `part_b` -- part B's checks and the exploration of a replicated command;
* `part_c` -- part C's checks: crashes and restarts, the Figure 8 script, churn;
* `part_d` -- part D's checks: snapshots, InstallSnapshot, restarts from a snapshot;
* `lab` -- `RaftLab`, every part's checks together.
"""

from distlab.consensus.raft.messages import (AppendEntries, AppendEntriesReply, Entry,
                                             InstallSnapshot, InstallSnapshotReply, RequestVote,
                                             RequestVoteReply)
from distlab.labs.lab04_raft.common import (ELECT_WITHIN, ELECTION_TIMEOUT, HEARTBEAT_INTERVAL,
                                            instrumented, refuse_library_raft)
from distlab.labs.lab04_raft.election import (ElectionRules, LeaderElected, NoLeader,
                                              NoNeedlessElections)
from distlab.labs.lab04_raft.lab import RaftLab
from distlab.labs.lab04_raft.part_a import explore_election
from distlab.labs.lab04_raft.part_b import explore_log
from distlab.labs.lab04_raft.part_c import explore_persistence
from distlab.labs.lab04_raft.part_d import explore_snapshots
from distlab.labs.lab04_raft.replication import logs_figure
from distlab.labs.lab04_raft.tester import MachineState, Submit, Tester, with_service

__all__ = [
    "AppendEntries", "AppendEntriesReply", "ELECTION_TIMEOUT", "ELECT_WITHIN", "Entry",
    "HEARTBEAT_INTERVAL", "ElectionRules", "InstallSnapshot", "InstallSnapshotReply",
    "LeaderElected", "MachineState", "NoLeader", "NoNeedlessElections", "RaftLab",
    "RequestVote", "RequestVoteReply", "Submit", "Tester", "explore_election", "explore_log",
    "explore_persistence", "explore_snapshots", "instrumented", "logs_figure",
    "refuse_library_raft", "with_service",
]
