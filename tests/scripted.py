"""A node whose variables change at given times, to put invariants in chosen states.

Importable from every test folder: the root conftest.py's folder is on ``sys.path``.
"""

from __future__ import annotations

from distlab.sim import Node


class Scripted(Node):
    """Sets attributes at given times: ``script=[(10, {"role": "leader", "term": 1}), ...]``."""

    def __init__(self, script: list[tuple[float, dict]] = (), **initial):
        self.script = list(script)
        for name, value in initial.items():
            setattr(self, name, value)

    def on_start(self) -> None:
        for i, (time, _) in enumerate(self.script):
            self.set_timer(time, f"step{i}")

    def on_timer(self, name: str) -> None:
        changes = self.script[int(name.removeprefix("step"))][1]
        for attr, value in changes.items():
            setattr(self, attr, value)
