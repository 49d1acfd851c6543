"""A progress line for long runs: which check, seed or level is running.

Lab checks over many seeds (`distlab.grading`) and schedule explorations split over worker
processes (`distlab.check.split`) show one line that says how far they are. In Jupyter it is
one display line that is updated in place and, at the end, set back to exactly what it first
showed: nbval (which sees only the first version) and the saved notebook (which keeps the
last) then agree. On a terminal it is a line of standard error rewritten in place; elsewhere
(a pipe, a file) nothing is written.
"""

from __future__ import annotations

import sys
import time

from distlab.sim.helpers import ipython_shell


class Progress:
    """Which check and seed is running: an updating line in Jupyter or on a terminal."""

    #: seconds between two updates, at least
    INTERVAL = 0.1

    def __init__(self, title: str):
        self.title = title
        self.last = 0.0
        self.handle = None
        self.terminal = False
        if getattr(ipython_shell(), "kernel", None) is not None:  # a Jupyter kernel
            from IPython.display import display

            self.handle = display({"text/plain": title}, raw=True, display_id=True)
        else:
            self.terminal = sys.stderr.isatty()

    def update(self, text: str) -> None:
        now = time.monotonic()
        if now - self.last < self.INTERVAL:
            return
        self.last = now
        line = f"{self.title} -- {text}"
        if self.handle is not None:
            self.handle.update({"text/plain": line}, raw=True)
        elif self.terminal:
            sys.stderr.write("\r" + line[:120] + "\033[K")
            sys.stderr.flush()

    def close(self) -> None:
        if self.handle is not None:
            # back to the first version: see the module docstring (nbval)
            self.handle.update({"text/plain": self.title}, raw=True)
        elif self.terminal:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
