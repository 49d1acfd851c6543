"""What every explorer widget does with its buttons and sliders: run the action, show what
went wrong, redraw.

ipywidgets calls a button's callback and drops any exception it raises (at best it lands in
the browser's console), so a reader who clicks "restart" on a node that is not crashed would
see nothing happen. `Controls._act` catches the exception and keeps its message in ``error``,
which the widget shows in red under its picture (`Controls.error_html`) until the next action.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from distlab.viz.palette import VERMILLION


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
