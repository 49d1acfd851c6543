"""The one check every time (and time-like number) goes through when it enters the simulator.

A NaN compares false with everything, so a single NaN time in the event heap silently breaks
its order: later events can run before earlier ones, with no error anywhere. An infinite
time is usually a way of saying "never", which the simulator spells differently in each
place (no ``until``, a cancelled timer...). `checked_number` refuses both, with a message
that says what to write instead.
"""

from __future__ import annotations

import math

from distlab.sim.errors import ConfigurationError


def checked_number(value: object, what: str, *, if_infinite: str) -> float:
    """``value`` as a float, if it is a finite number; else a `ConfigurationError`.

    ``what`` names the value as the caller wrote it (``"sim.at(time)"``); ``if_infinite``
    says what to do instead of passing infinity (``"cancel the timer instead"``). Range
    checks (not negative, not in the past) stay with the caller, who knows the range.
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigurationError(f"{what} must be a number, got {value!r}")
    if value != value:
        raise ConfigurationError(f"{what} is NaN (not a number): a NaN time would break the "
                                 f"order of events. Check the computation that produced it")
    if math.isinf(value):
        raise ConfigurationError(f"{what} is {value!r}: {if_infinite}")
    return float(value)


def timer_delay(node_id: str, delay: object, name: str) -> float:
    """The ``delay`` of ``set_timer(delay, name)`` on node ``node_id``, checked (every
    runtime checks it the same way)."""
    what = f"node {node_id!r}: set_timer({delay!r}, {name!r})"
    delay = checked_number(delay, f"{what}: the delay", if_infinite="a timer that never "
                           f"fires is no timer: cancel it instead (self.cancel_timer({name!r}))")
    if delay < 0:
        raise ConfigurationError(f"{what} needs a delay of zero or more milliseconds")
    return delay
