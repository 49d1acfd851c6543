"""distlab.sim: the deterministic discrete-event simulator every chapter builds on.

Nodes (`Node` subclasses) exchange immutable messages over a simulated `Network` in
simulated milliseconds; faults (crashes, restarts, partitions, clock skew) are injected by
hand, by a `FaultPlan` or by a random `Nemesis`; everything is recorded in a `Trace`; client
operations are recorded in a `History`. Same seed, same trace.
"""

from distlab.sim.errors import (ConfigurationError, EventBudgetExceeded, MessageError, NodeError,
                                SimulationError, StorageError, WallClockLimitExceeded)
from distlab.sim.faults import Fault, FaultPlan, Nemesis
from distlab.sim.history import Client, History, Operation
from distlab.sim.messages import check_message, register_immutable
from distlab.sim.network import (Constant, Exponential, Latency, Link, LogNormal, Network, Normal,
                                 Uniform)
from distlab.sim.node import Node, build_node
from distlab.sim.runtime import Runtime
from distlab.sim.scheduler import Scheduler
from distlab.sim.simulation import Envelope, Simulation, stream
from distlab.sim.storage import Storage, check_storable
from distlab.sim.trace import KINDS, Note, Trace, TraceEvent

__all__ = [
    "Client", "ConfigurationError", "Constant", "Envelope", "EventBudgetExceeded", "Exponential",
    "Fault", "FaultPlan", "History", "KINDS", "Latency", "Link", "LogNormal", "MessageError",
    "Nemesis", "Network", "Node", "NodeError", "Normal", "Note", "Operation", "Runtime",
    "Scheduler", "Simulation", "SimulationError", "Storage", "StorageError", "Trace",
    "TraceEvent", "Uniform", "WallClockLimitExceeded", "build_node", "check_message",
    "check_storable", "register_immutable", "stream",
]
