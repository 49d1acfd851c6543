"""A broken coordination service, to show that the soak's lock property can fail.

`BlindCreateNode` replicates a machine whose compare-and-set does not compare: "create the
key if absent" overwrites a held lock, and two workers hold it at once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from distlab.coordination.machine import CoordinationMachine
from distlab.coordination.messages import CompareAndSet
from distlab.coordination.service import CoordinationNode


class BlindCreateMachine(CoordinationMachine):
    """Its compare-and-set succeeds whatever the key's version (the one change)."""

    def execute(self, request: Any) -> Any:
        if isinstance(request, CompareAndSet) and request.key in self.keys:
            request = replace(request, version=self.keys[request.key].version)
        return super().execute(request)


class BlindCreateNode(CoordinationNode):
    machine_class = BlindCreateMachine
