"""distlab.viz: drawings of simulations: space-time diagrams, topologies, animations.

Every function takes a `Trace` (``sim.trace``) or a `Simulation`.

How to show them in a notebook, exactly once and the same under strict nbval:

* `spacetime` and `topology` return a matplotlib ``Figure`` that pyplot does not manage
  (so the inline backend never shows it by itself). Make the call the last line of the cell,
  with **no** ``;``: Jupyter shows the figure once, through its PNG repr. Do not add
  ``plt.show()`` (there is no pyplot figure to show) and do not end with ``;`` (nbval runs
  cells without input history, where IPython ignores the ``;``, so the notebook and nbval
  would disagree). ``fig = spacetime(...)`` shows nothing until ``fig`` is displayed.
* `animate` returns an ``IPython.display.HTML`` player: also the last line, no ``;``.
* `distlab.widgets.Explorer`: end the cell with ``Explorer(...).show(run_until=...)``.
"""
from distlab.viz.animation import animate
from distlab.viz.spacetime import SpaceTimeDrawer, draw_spacetime, spacetime
from distlab.viz.style import KindColors, figure_png, message_kind
from distlab.viz.timeline import Flight, Span, Timeline, read_timeline
from distlab.viz.topology import draw_topology, read_topology, topology

__all__ = ["Flight", "KindColors", "SpaceTimeDrawer", "Span", "Timeline", "animate",
           "draw_spacetime", "draw_topology", "figure_png", "message_kind", "read_timeline",
           "read_topology", "spacetime", "topology"]
