"""distlab.sim: the deterministic discrete-event simulator (kernel being written)."""
from distlab.sim.node import Node, build_node
from distlab.sim.trace import KINDS, Trace, TraceEvent

__all__ = ["KINDS", "Node", "Trace", "TraceEvent", "build_node"]
