"""The simulator's errors. Each one says what went wrong and what to do about it."""

from __future__ import annotations


class SimulationError(Exception):
    """Base class of every error the simulator raises on purpose."""


class ConfigurationError(SimulationError, ValueError):
    """A bad argument: an unknown node id, a negative delay, a probability above 1..."""


class MessageError(SimulationError, TypeError):
    """A message that is mutable, or could share memory between sender and receiver."""


class StorageError(SimulationError, TypeError):
    """A value a node's durable storage cannot keep: it could not survive a real crash."""


class NodeError(SimulationError):
    """A node's handler raised an exception.

    The original exception is chained (``__cause__``), so its traceback still shows the
    line of node code that failed. ``node``, ``event``, ``time`` and ``seed`` say where.
    """

    def __init__(self, message: str, *, node: str, event: str, time: float, seed: object):
        super().__init__(message)
        self.node = node
        self.event = event
        self.time = time
        self.seed = seed


class EventBudgetExceeded(SimulationError):
    """More events ran than the budget allows: usually a livelock or a storm of timers."""


class WallClockLimitExceeded(SimulationError):
    """The run took longer in real time than its ``wall_limit`` allows."""
