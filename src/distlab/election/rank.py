"""How elections compare node ids: in natural order, so that ``"n2"`` ranks below ``"n10"``.

Both the Bully algorithm and ring election elect the highest-ranked live node.
"""

from __future__ import annotations

import re


def rank(node_id: str) -> tuple:
    """The id's rank for elections: natural order, so ``"n2" < "n10"`` and ``"9" < "10"``."""
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r"(\d+)", node_id) if part)
