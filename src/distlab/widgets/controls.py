"""What every explorer widget does with its buttons and sliders: run the action, show what
went wrong, redraw; and the controls themselves, sized to fit their labels.

ipywidgets calls a button's callback and drops any exception it raises (at best it lands in
the browser's console), so a reader who clicks "restart" on a node that is not crashed would
see nothing happen. `Controls._act` catches the exception and keeps its message in ``error``,
which the widget shows in red under its picture (`Controls.error_html`) until the next action.

ipywidgets gives every control a fixed size: a button 148 px, a slider or a menu 300 px of which
its description takes 80 px, whatever their text; and a fixed width set in px fits one label
and cuts the next ("crash store-asia" in 90 px). So the explorers make their controls with
`button`, `slider` and `menu`, which size each from its own text, and set them side by side
with `row`, which wraps onto another line where the width runs out (a phone) instead of
squeezing them. A slider longer than a phone is wide shrinks its track to fit, down to a
length that is still easy to drag along (`MIN_TRACK_PX`), never its label.
tests/widgets/test_control_layout.py checks every explorer's controls, and the browser test
measures them as the built book draws them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import ipywidgets as w

from distlab.viz.palette import VERMILLION

#: ipywidgets writes a control's text at 13 px, about 7 px a character on average: a width
#: made from this count is a little generous, never short
CHAR_PX = 7.5
#: the least length (px) of a slider's track, along which a reader drags to set a value
MIN_TRACK_PX = 120
#: what a slider draws besides its description and its track: its readout (72 px or more)
#: and the margins (measured in Chromium, ipywidgets 8)
SLIDER_EXTRA_PX = 96
#: a description as wide as its text (ipywidgets' default is 80 px, cutting longer ones)
FITTED_DESCRIPTION = {"description_width": "initial"}
#: the widest a control may be: its row's width less its own margins (ipywidgets gives every
#: control a margin, 2 px, on each side), so that it never sticks out of its row
ROW_WIDTH = "calc(100% - 2 * var(--jp-widgets-margin))"

SliderT = TypeVar("SliderT", w.IntSlider, w.FloatSlider)


def button(label: str, **options: Any) -> w.Button:
    """A button as wide as its label; it grows with it when the label changes ("crash a"
    becomes "restart a")."""
    return w.Button(description=label, layout=w.Layout(width="auto"), **options)


def slider(kind: type[SliderT], description: str, *, track: int = MIN_TRACK_PX,
           **options: Any) -> SliderT:
    """A slider of ``kind`` (`ipywidgets.IntSlider`, `ipywidgets.FloatSlider`): its
    description as wide as its text, and its track ``track`` px long where there is room.

    Where there is not (a long track on a phone), the track shrinks with the width available,
    down to `MIN_TRACK_PX`, and only the track: the description and the readout keep their
    width (the browser test measures them on a phone). So the slider fits its explorer
    instead of making it scroll sideways, and its label is never cut."""
    if track < MIN_TRACK_PX:
        raise ValueError(f"a slider's track of {track} px is too short to drag along; give "
                         f"it {MIN_TRACK_PX} px or more")
    but_track = math.ceil(CHAR_PX * len(description)) + SLIDER_EXTRA_PX
    return kind(description=description, style=FITTED_DESCRIPTION,
                layout=w.Layout(width=f"{but_track + track}px", max_width=ROW_WIDTH,
                                min_width=f"{but_track + MIN_TRACK_PX}px"), **options)


def menu(options: Sequence[Any], description: str = "", *, max_width: str = ROW_WIDTH,
         **more: Any) -> w.Dropdown:
    """A drop-down menu as wide as its description and its longest choice, up to
    ``max_width`` (a CSS width; by default its row's: on a phone a long choice is cut, not the
    explorer made to scroll sideways; the list it opens shows every choice whole)."""
    return w.Dropdown(options=options, description=description, style=FITTED_DESCRIPTION,
                      layout=w.Layout(width="auto", max_width=max_width), **more)


def row(*widgets: w.Widget) -> w.HBox:
    """Widgets side by side (controls, pictures), going on to the next line where the width
    runs out."""
    return w.HBox(list(widgets), layout=w.Layout(flex_flow="row wrap"))


class Controls:
    """A base for widgets whose controls call ``self._act(action)``; subclasses define
    ``redraw()`` and may override `_acted` (run after each action, before the redraw)."""

    error: str | None = None

    def redraw(self) -> None:
        raise NotImplementedError(f"{type(self).__name__}.redraw: draw the widget's picture")

    def _act(self, action: Callable[[], Any]) -> None:
        """Run a control's action and redraw; show its error rather than lose it."""
        self.error = None
        try:
            action()
        except Exception as exc:  # a widget callback's exceptions would vanish otherwise
            self.error = f"{type(exc).__name__}: {exc}"
        self._acted()
        self.redraw()

    def _acted(self) -> None:
        """Bring the controls up to date after an action (nothing, by default)."""

    def error_html(self) -> str:
        """The last action's error, as a red line of HTML ("" when there was none)."""
        if not self.error:
            return ""
        return f"<br><span style='color:{VERMILLION}'>{html.escape(self.error)}</span>"
