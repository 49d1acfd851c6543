"""An example lab: a primary-backup key-value store (lab 0, the notebook ``lab00-example.ipynb``).

The system is primary-backup replication {cite:p}`budhiraja1993primary` in its simplest form:

* clients send every operation to the *primary* and resend it every 100 ms until the reply
  comes (messages may be lost);
* the primary answers reads (``get``) from its own data;
* the primary handles one write (``put``, ``append``) at a time: it forwards it to the
  *backup*, resends the forward until the backup acknowledges it, and only then applies it
  and replies -- so a write a client was told succeeded is on both servers;
* every request carries the client's id and its ``msg_id``, a sequence number; both servers
  remember the last ``msg_id`` applied for each client, so a resent or duplicated request is
  applied once (at-most-once semantics, as in MIT 6.5840's key-value server lab);
* both servers keep their data in durable ``storage``, so the primary can crash and restart.

The student writes the two servers, ``Primary`` and ``Backup``. The clients and their
messages are the key-value workload of every chapter (`distlab.workloads.kv`: ``Get``,
``Put``, ``Append`` and their replies, the retrying `KVClient`, the model ``MODEL``); this
module adds the two messages between the servers and the checks. The checks read one
attribute of each server: ``data``, the dict from key to value.

The workload uses key ``"x"`` as a register (``put``/``get``) and key ``"y"`` as a log
(``append``/``get``): appending a unique token (``"c1.3;"``) makes a write applied twice
visible to a later read.
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.check.invariants import Invariant, invariant, live_nodes, no_acknowledged_write_lost
from distlab.grading.lab import Lab, Scenario, graded
from distlab.grading.properties import AtEnd, EveryOperationCompletes, Linearizable
from distlab.sim import FaultPlan, Network, Node, Simulation, Uniform, stream
from distlab.workloads import kv

# -- messages between the servers --------------------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """Primary to backup: apply this write (a `Put` or an `Append` of a client)."""

    request: kv.Put | kv.Append


@dataclass(frozen=True)
class ForwardOk:
    """Backup to primary: the write ``msg_id`` of ``client`` is applied here."""

    client: str
    msg_id: int


# -- what must hold ----------------------------------------------------------------------------

def _backup_value(sim: Simulation, key: str) -> str | None:
    backup = live_nodes(sim).get("backup")
    return None if backup is None else backup.data.get(key)


#: checked after every event: a reply to a write is sent only once the backup has it
acknowledged_writes_on_backup = Invariant(
    "every acknowledged write is already on the backup",
    no_acknowledged_write_lost(_backup_value, writes=("put",), appends=("append",)).fn)


@invariant("the backup holds the same data as the primary")
def backup_agrees_with_primary(sim: Simulation) -> str | None:
    nodes = live_nodes(sim)
    if "primary" in nodes and "backup" in nodes:
        primary, backup = nodes["primary"].data, nodes["backup"].data
        if primary != backup:
            return f"the primary holds {primary!r} but the backup holds {backup!r}"
    return None


# -- the lab -----------------------------------------------------------------------------------

class PrimaryBackupLab(Lab):
    """The checks of lab 0, for the student's ``Primary`` and ``Backup`` classes."""

    title = "Lab 0: a primary-backup key-value store"
    node_attributes = ("data",)

    def __init__(self, primary: type[Node], backup: type[Node]):
        self.primary = primary
        self.backup = backup

    def cluster(self, sim: Simulation, clients: int = 3, ops: int = 10) -> None:
        """The primary, the backup, and ``clients`` clients running ``ops`` operations each."""
        sim.add_node(self.primary, "primary", backup="backup")
        sim.add_node(self.backup, "backup")
        for n in range(1, clients + 1):
            sim.add_node(kv.KVClient, f"c{n}", server="primary", ops=ops)

    # -- part A: replication on a reliable network -------------------------------------------
    @graded(part="A", seeds=20, description="one client, reliable network: every operation "
            "completes, each write reaches the backup before its reply")
    def test_one_client_A(self, seed: int) -> Scenario:
        return Scenario(lambda sim: self.cluster(sim, clients=1), run_for=2_000,
                        network=Network(latency=Uniform(1, 10)),
                        properties=[acknowledged_writes_on_backup, EveryOperationCompletes(),
                                    Linearizable(kv.MODEL.name)])

    @graded(part="A", seeds=20, description="three concurrent clients, reliable network: "
            "linearizable, and the backup ends equal to the primary")
    def test_concurrent_clients_A(self, seed: int) -> Scenario:
        return Scenario(self.cluster, run_for=5_000, network=Network(latency=Uniform(1, 10)),
                        properties=[acknowledged_writes_on_backup, EveryOperationCompletes(),
                                    Linearizable(kv.MODEL.name),
                                    AtEnd(backup_agrees_with_primary)])

    # -- part B: an unreliable network --------------------------------------------------------
    @graded(part="B", seeds=20, description="20% of messages lost: every operation still "
            "completes, exactly once")
    def test_lost_messages_B(self, seed: int) -> Scenario:
        return Scenario(self.cluster, run_for=20_000,
                        network=Network(latency=Uniform(1, 10), loss=0.2),
                        properties=[acknowledged_writes_on_backup, EveryOperationCompletes(),
                                    Linearizable(kv.MODEL.name),
                                    AtEnd(backup_agrees_with_primary)])

    @graded(part="B", seeds=20, description="30% of messages delivered twice, some late: "
            "each write is applied once")
    def test_duplicated_messages_B(self, seed: int) -> Scenario:
        return Scenario(self.cluster, run_for=10_000,
                        network=Network(latency=Uniform(1, 10), duplicate=0.3, reorder=0.2),
                        properties=[acknowledged_writes_on_backup, EveryOperationCompletes(),
                                    Linearizable(kv.MODEL.name),
                                    AtEnd(backup_agrees_with_primary)])

    # -- part C: crashes ------------------------------------------------------------------------
    @graded(part="C", seeds=20, description="the primary crashes twice and restarts: no "
            "acknowledged write is lost")
    def test_primary_restarts_C(self, seed: int) -> Scenario:
        rng = stream(seed, "lab0-faults")
        first = rng.uniform(50, 300)
        second = first + rng.uniform(300, 600)

        def setup(sim: Simulation) -> None:
            self.cluster(sim)
            plan = FaultPlan().crash(first, "primary").restart(first + 150, "primary")
            plan.crash(second, "primary").restart(second + 150, "primary").install(sim)

        return Scenario(setup, run_for=10_000, network=Network(latency=Uniform(1, 10)),
                        properties=[acknowledged_writes_on_backup, EveryOperationCompletes(),
                                    Linearizable(kv.MODEL.name),
                                    AtEnd(backup_agrees_with_primary)])
