"""distlab.widgets: interactive explorers built on the simulator (ipywidgets)."""
from distlab.widgets.explorer import Explorer, measure_redraws, scaled_latency

__all__ = ["Explorer", "measure_redraws", "scaled_latency"]
