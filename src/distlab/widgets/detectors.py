"""The failure-detector explorer: slide a detector's setting along its trade-off curve.

Give it ``curves``, the trade-off of each detector (a list of ``(setting, false suspicions,
detection time)`` per detector name, as `distlab.membership.runs` measures them), and
``run(name, setting)``, which runs that detector once on a heavy-tailed link and returns
``(spikes, suspicions, end)`` -- the link's latency spikes, the detector's suspicion spans, the
run's length in ms. The slider moves along the chosen detector's settings; the picture rings
the setting on the curves and shows the run: where the detector suspected a live sender.

In a notebook::

    ThresholdExplorer(curves, run, unit={"fixed timeout": " ms", "phi": ""}).show()

shows the live controls and, below them, a static picture of the default setting, which is
what a reader of the static book (no kernel) sees.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as w
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from distlab.viz.membership import Point, draw_suspicions, draw_tradeoff
from distlab.viz.style import figure_png, static_image
from distlab.widgets.controls import Controls, menu, row, slider

#: what ``run(name, setting)`` returns: spikes (start, end, delay), suspicions, run length
DetectorRun = tuple[Sequence[tuple[float, float, float]], Sequence[Sequence[float | None]],
                    float]


class ThresholdExplorer(Controls):
    """A detector menu and a slider over its settings; ``detector`` and ``index`` say which
    point of which curve is shown."""

    def __init__(self, curves: Mapping[str, Sequence[Point]],
                 run: Callable[[str, float], DetectorRun], *,
                 unit: Mapping[str, str] | None = None, detector: str | None = None,
                 index: int = 0, title: str = "Failure detectors on a heavy-tailed link"):
        if not curves or any(not points for points in curves.values()):
            raise ValueError("ThresholdExplorer needs at least one detector with at least one "
                             "setting measured: curves = {name: [(setting, false, detection)]}")
        if not callable(run):
            raise TypeError(f"ThresholdExplorer needs run(name, setting) -> (spikes, "
                            f"suspicions, end); got {run!r}")
        self.curves = {name: list(points) for name, points in curves.items()}
        self.run = run
        self.unit = dict(unit or {})
        self.title = title
        self.detector = detector if detector is not None else next(iter(self.curves))
        self._check(self.detector, index)
        self.index = index
        self.figure = Figure(figsize=(10, 3.6), dpi=80)
        self.tradeoff_ax, self.run_ax = self.figure.subplots(
            1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.25)
        self._make_widgets()
        self.redraw()

    def _check(self, detector: str, index: int) -> None:
        if detector not in self.curves:
            raise ValueError(f"no detector {detector!r}; the detectors are: "
                             f"{', '.join(self.curves)}")
        if not 0 <= index < len(self.curves[detector]):
            raise ValueError(f"{detector} has settings 0 to {len(self.curves[detector]) - 1}; "
                             f"got {index}")

    # -- widgets ------------------------------------------------------------------------------
    def _make_widgets(self) -> None:
        self.menu = menu(list(self.curves), "detector", value=self.detector)
        self.slider = slider(w.IntSlider, "setting", value=self.index, min=0,
                             max=len(self.curves[self.detector]) - 1, continuous_update=False,
                             readout=False)
        self.image = w.Image(format="png")
        self.status = w.HTML()
        self.menu.observe(lambda change: self._act(lambda: self.choose(change["new"], 0)),
                          "value")
        self.slider.observe(lambda change: self._act(
            lambda: self.choose(self.detector, change["new"])), "value")
        self.widget = w.VBox([w.HTML(f"<b>{html.escape(self.title)}</b>"),
                              row(self.menu, self.slider), self.image, self.status])

    # -- actions ------------------------------------------------------------------------------
    def choose(self, detector: str, index: int) -> None:
        """Show ``detector`` at its setting number ``index``."""
        self._check(detector, index)
        self.detector, self.index = detector, index

    def _acted(self) -> None:
        self.slider.max = len(self.curves[self.detector]) - 1
        self.slider.value = self.index

    def setting(self) -> float:
        return self.curves[self.detector][self.index][0]

    def summary(self) -> str:
        setting, false, detection = self.curves[self.detector][self.index]
        return (f"{self.detector} {setting:g}{self.unit.get(self.detector, '')}: "
                f"{false:.1f} false suspicions per run, a crash detected after "
                f"{detection:.0f} ms on average")

    # -- drawing ------------------------------------------------------------------------------
    def redraw(self) -> None:
        draw_tradeoff(self.tradeoff_ax, self.curves, chosen=(self.detector, self.index),
                      unit=self.unit)
        spikes, suspicions, end = self.run(self.detector, self.setting())
        draw_suspicions(self.run_ax, spikes, suspicions, end=end,
                        title=f"one run, live sender: {len(suspicions)} false suspicions")
        self.image.value = figure_png(self.figure)
        self.status.value = (f"<span style='font-size:12px'>{html.escape(self.summary())}"
                             f"</span>{self.error_html()}")

    def show(self) -> None:
        """Display the live explorer, a static picture of the setting shown, and a caption."""
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = (f"ThresholdExplorer: {self.title} (live controls need a "
                                f"running kernel)")
        display(bundle, raw=True)
        display(static_image(self.figure))
        display(Markdown(f"*{self.summary()}.* With a running kernel, choose a detector and "
                         f"slide its setting along its curve."))

    def _ipython_display_(self) -> None:
        self.show()
