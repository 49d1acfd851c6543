"""Every explorer's controls fit their labels: no button narrower than its label, no slider
whose description leaves its track too short to drag, no menu narrower than its longest
choice, and rows of controls that wrap onto another line instead of squeezing their controls.
And every control fits a phone: none is wider, at its narrowest, than an explorer is there.

The widths are read from the widgets' layouts as Python builds them, with the sizes ipywidgets
8 gives its controls (`tests/book/test_browser.py` measures the controls as the built book
draws them). A label's width is estimated at `CHAR_PX` a character: the controls' 13 px
font averages about 7 px.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import ipywidgets as w
import matplotlib
import pytest
from ipywidgets.widgets.widget_description import DescriptionWidget

matplotlib.use("Agg")

from distlab.consensus.raft.runs import client_request, explorer_cluster  # noqa: E402
from distlab.kv.playground import REPLICAS, ask, held, set_quorums, store  # noqa: E402
from distlab.kv.world import replicated  # noqa: E402
from distlab.partitioning import ConsistentHashRing  # noqa: E402
from distlab.sim import Simulation  # noqa: E402
from distlab.widgets import Explorer  # noqa: E402
from distlab.widgets.controls import (CHAR_PX, MIN_TRACK_PX, ROW_WIDTH, button, menu,  # noqa: E402
                                      row, slider)
from distlab.widgets.detectors import ThresholdExplorer  # noqa: E402
from distlab.widgets.raft import RaftExplorer  # noqa: E402
from distlab.widgets.replication import ReplicationExplorer  # noqa: E402
from distlab.widgets.ring import RingExplorer  # noqa: E402
from distlab.widgets.tasks import TaskExplorer  # noqa: E402

#: ipywidgets 8's sizes (its stylesheet, @jupyter-widgets/controls): a control is 300 px wide
#: unless its layout says otherwise, a description 80 px unless its style says "initial"
DEFAULT_WIDTH_PX = 300
DESCRIPTION_PX = 80
#: a button's default width, and the padding around its label
BUTTON_WIDTH_PX = 148
BUTTON_PADDING_PX = 20
#: what a slider holds besides its description and its track (the readout, the margins),
#: and what a menu holds besides its description and its text (the arrow, the margins)
SLIDER_EXTRA_PX = 96
MENU_EXTRA_PX = 36
#: an explorer's width in the book on a phone 390 px wide (the article's column, measured in
#: Chromium)
PHONE_EXPLORER_PX = 358


def text_px(text: str) -> float:
    return CHAR_PX * len(text)


def px(width: str | None, default: float) -> float | None:
    """A layout's width in px: ``default`` when unset, None when sized by its content."""
    if width is None:
        return default
    if width == "auto":
        return None
    found = re.fullmatch(r"(\d+(?:\.\d+)?)px", width)
    assert found, f"a width this test cannot read: {width!r}"
    return float(found[1])


def description_px(control: DescriptionWidget) -> float:
    if not control.description:
        return 0.0
    if control.style.description_width == "initial":
        return text_px(control.description)
    return DESCRIPTION_PX


def widgets_in(widget: w.Widget) -> Iterator[w.Widget]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from widgets_in(child)


def cut_controls(widget: w.Widget) -> list[str]:
    """What in ``widget`` would be drawn too narrow for its text, or squeezed in its row."""
    found = []
    for part in widgets_in(widget):
        if isinstance(part, DescriptionWidget) and part.description \
                and not isinstance(part, (w.Button, w.Checkbox)) \
                and part.style.description_width != "initial" \
                and text_px(part.description) > DESCRIPTION_PX:
            found.append(f"{type(part).__name__} {part.description!r}: its description is cut "
                         f"to {DESCRIPTION_PX} px")
        if isinstance(part, w.Button):
            width = px(part.layout.width, BUTTON_WIDTH_PX)
            needed = text_px(part.description) + BUTTON_PADDING_PX
            if width is not None and width < needed:
                found.append(f"button {part.description!r}: {width:.0f} px for a label of "
                             f"about {needed:.0f} px")
        elif isinstance(part, (w.IntSlider, w.FloatSlider)):
            width = narrowest_px(part)
            track = 0.0 if width is None else width - description_px(part) - SLIDER_EXTRA_PX
            if track < MIN_TRACK_PX:
                found.append(f"slider {part.description!r}: a track of about {track:.0f} px "
                             f"(at least {MIN_TRACK_PX} px)")
        elif isinstance(part, w.Dropdown):
            width = px(part.layout.width, DEFAULT_WIDTH_PX)
            longest = max((text_px(label) for label in part._options_labels), default=0.0)
            room = None if width is None else width - description_px(part) - MENU_EXTRA_PX
            if room is not None and room < longest:
                found.append(f"menu {part.description!r}: {room:.0f} px for choices of up to "
                             f"about {longest:.0f} px")
        elif isinstance(part, w.HBox) and not re.search(r"\bwrap\b", part.layout.flex_flow or ""):
            found.append(f"a row that does not wrap: "
                         f"{', '.join(type(c).__name__ for c in part.children)}")
    return found


def shrinks_with_its_row(control: w.DOMWidget) -> bool:
    """Whether ``control``'s max_width follows its row's width (`ROW_WIDTH`, a percentage),
    rather than being a fixed length or none."""
    limit = control.layout.max_width
    return limit is not None and (limit == ROW_WIDTH or limit.endswith("%"))


def narrowest_px(control: w.DOMWidget) -> float | None:
    """The least width ``control`` may be given where its row runs out of room: its width,
    or its min_width if it may shrink to fit its row; None when sized by its content."""
    width = px(control.layout.width, DEFAULT_WIDTH_PX)
    if shrinks_with_its_row(control) and control.layout.min_width is not None:
        return min(px(control.layout.min_width, 0.0), width or 0.0)
    return width


def too_wide_for_a_phone(widget: w.Widget) -> list[str]:
    """The controls in ``widget`` wider, at their narrowest, than an explorer on a phone: they
    make it scroll sideways (its pictures may: they keep a legible scale)."""
    found = []
    for part in widgets_in(widget):
        if isinstance(part, w.Button):
            least = text_px(part.description) + BUTTON_PADDING_PX
        elif isinstance(part, w.Dropdown):   # its choice is cut first: its description stays
            least = description_px(part) + MENU_EXTRA_PX
            if not shrinks_with_its_row(part):
                least = max(least, px(part.layout.max_width, DEFAULT_WIDTH_PX) or 0.0)
        elif isinstance(part, DescriptionWidget) \
                and not isinstance(part, (w.HTML, w.HTMLMath, w.Label)):  # text: no control
            least = narrowest_px(part) or 0.0
        else:
            continue
        if least > PHONE_EXPLORER_PX:
            found.append(f"{type(part).__name__} {part.description!r}: {least:.0f} px at its "
                         f"narrowest, for {PHONE_EXPLORER_PX} px on a phone")
    return found


def tasks_run(slowdown: int, crash_at: float | None, backups: bool,
              seed: int) -> tuple[Simulation, str]:
    return Simulation(seed=seed), "nothing to run"


def detector_run(detector: str, setting: float) -> tuple[list, list, float]:
    return [], [], 1_000.0


EXPLORERS: dict[str, Callable[[], w.Widget]] = {
    # the book's 01.01: the node names that cut "crash store-asia" in a 90 px button
    "Explorer": lambda: Explorer(replicated, title="Three replicas, three regions").widget,
    # the book's 03.03: sliders R and W with 24 px tracks
    "ReplicationExplorer": lambda: ReplicationExplorer(
        store, ask, set_quorums, held, replicas=REPLICAS).widget,
    "RingExplorer": lambda: RingExplorer(ConsistentHashRing, nodes=["n0", "n1", "n2"],
                                         keys=["k1", "k2"]).widget,
    "RaftExplorer": lambda: RaftExplorer(explorer_cluster, request=client_request,
                                         servers=["n1", "n2", "n3", "n4", "n5"]).widget,
    "TaskExplorer": lambda: TaskExplorer(tasks_run, nodes=["w1", "w2"]).widget,
    "ThresholdExplorer": lambda: ThresholdExplorer(
        {"fixed timeout": [(100, 4.5, 186.0), (200, 2.5, 286.0)],
         "phi accrual (exponential)": [(2, 4.0, 220.0)]}, detector_run).widget,
}


@pytest.mark.parametrize("name", EXPLORERS)
def test_every_control_of_an_explorer_fits_its_label(name: str) -> None:
    assert cut_controls(EXPLORERS[name]()) == []


@pytest.mark.parametrize("name", EXPLORERS)
def test_every_control_of_an_explorer_fits_a_phone(name: str) -> None:
    assert too_wide_for_a_phone(EXPLORERS[name]()) == []


def test_the_phone_check_catches_the_raft_explorers_old_time_slider() -> None:
    """What the test above relies on: the Raft explorer's time slider as it was, 514 px wide
    whatever the width of the page, is caught; the same slider from `slider` is not, and
    neither are a long button and a menu that may shrink to their row's width."""
    old = w.FloatSlider(description="time (ms)", style={"description_width": "initial"},
                        layout=w.Layout(width="514px"))
    assert too_wide_for_a_phone(old) == [
        f"FloatSlider 'time (ms)': 514 px at its narrowest, for {PHONE_EXPLORER_PX} px on a "
        f"phone"]
    new = slider(w.FloatSlider, "time (ms)", track=350)
    assert new.layout.width == "514px"
    assert too_wide_for_a_phone(row(new, button("client request"), menu(["n1" * 100]))) == []


def test_a_long_slider_shrinks_only_its_track_and_not_below_the_least() -> None:
    """A slider may shrink to its row's width (`ROW_WIDTH`) down to a track of MIN_TRACK_PX:
    its description and readout keep their room."""
    long = slider(w.FloatSlider, "time (ms)", track=350)
    assert long.layout.max_width == ROW_WIDTH
    least = px(long.layout.min_width, 0.0)
    assert least == pytest.approx(text_px("time (ms)") + SLIDER_EXTRA_PX + MIN_TRACK_PX, abs=1)
    assert narrowest_px(long) == least
    short = slider(w.IntSlider, "R")
    assert short.layout.min_width == short.layout.width   # it has nothing to give up
    with pytest.raises(ValueError, match="too short to drag"):
        slider(w.IntSlider, "R", track=MIN_TRACK_PX - 1)


def test_the_check_catches_a_cut_button_a_short_track_a_narrow_menu_and_a_stiff_row() -> None:
    """What the test above relies on: the layouts the explorers had before are caught."""
    old = w.HBox([
        w.Button(description="crash store-asia", layout=w.Layout(width="90px")),
        w.IntSlider(description="R", layout=w.Layout(width="200px")),
        w.Dropdown(options=["store-asia"], description="replica", layout=w.Layout(width="150px")),
    ])
    assert cut_controls(old) == [
        "a row that does not wrap: Button, IntSlider, Dropdown",
        "button 'crash store-asia': 90 px for a label of about 140 px",
        f"slider 'R': a track of about 24 px (at least {MIN_TRACK_PX} px)",
        "menu 'replica': 34 px for choices of up to about 75 px",
    ]
    assert cut_controls(w.IntSlider(description="straggler slowdown")) == [
        "IntSlider 'straggler slowdown': its description is cut to 80 px"]


def test_the_helpers_make_controls_that_fit() -> None:
    controls = row(button("crash store-asia"), slider(w.IntSlider, "straggler slowdown"),
                   slider(w.FloatSlider, "R", track=200))
    assert cut_controls(controls) == []
    assert controls.children[0].layout.width == "auto"
    assert px(controls.children[2].layout.width, 0) >= text_px("R") + SLIDER_EXTRA_PX + 200
