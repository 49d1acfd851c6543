"""Small helpers that every layer above the kernel shares, written once here.

* `trace_of` -- the trace of whatever a function was given: a `Trace`, a `Simulation` (or
  anything else with a ``.trace``), or a plain list of events; so that `spacetime(sim)`,
  `spacetime(sim.trace)` and ``lamport_timestamps(sim)`` all work;
* `node_ids` -- the ids of ``n`` nodes, ``n0, n1, ...`` (or ``n00, n01, ...``, which sort in
  their numeric order);
* `ipython_shell` -- the running IPython shell, if any: in Jupyter a cell shows its result by
  itself, elsewhere a report must be printed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from distlab.sim.trace import Trace, TraceEvent


def trace_of(source: Any) -> Trace | Sequence[TraceEvent]:
    """Accept a `Trace`, a list of events, or anything with a ``.trace`` (a Simulation)."""
    if isinstance(source, (Trace, list, tuple)):
        return source
    trace = getattr(source, "trace", None)
    if isinstance(trace, Trace):
        return trace
    raise TypeError(f"expected a Trace (sim.trace), a Simulation or a list of TraceEvent; "
                    f"got {type(source).__name__}")


def node_ids(n: int, *, first: int = 0, padded: bool = False) -> list[str]:
    """``n`` node ids numbered from ``first``: ``n0, n1, ...``.

    With ``padded`` every number has the width of the largest (``n00 ... n63``), so that the
    ids sort in their numeric order (lanes of a diagram, columns of a table).

    >>> node_ids(3), node_ids(3, first=1), node_ids(11, padded=True)[-2:]
    (['n0', 'n1', 'n2'], ['n1', 'n2', 'n3'], ['n09', 'n10'])
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"the number of nodes must be a whole number >= 0, got {n!r}")
    width = len(str(first + n - 1)) if padded and n else 0
    return [f"n{i:0{width}d}" for i in range(first, first + n)]


def ipython_shell() -> Any | None:
    """The running IPython shell (in Jupyter, a kernel's), or None outside IPython.

    IPython is only looked up if something has imported it already: asking must not import
    it (it is slow to import, and a plain script never needs it).
    """
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None
