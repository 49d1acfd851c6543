"""Where a reader is: the lab parts whose checks passed, kept next to their notebooks.

When a lab's check cell passes a part in JupyterLab (every check of the part, each over its
own seeds), `record_parts` notes it in ``.distlab-progress.json`` in the notebook's folder (the
kernel's working folder), and a part that fails later is noted as failing again. The study
plan's progress view (`distlab.labs.plan`) reads it back (`read`). Nothing is written outside
a Jupyter kernel (scripts, tests, grading a class), nor with ``DISTLAB_PROGRESS=0``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

from distlab.sim.helpers import ipython_shell

PROGRESS_FILE = ".distlab-progress.json"
_LAB_MODULE = re.compile(r"^lab\d\d[a-z]?_\w+$")


def lab_name(lab: Any) -> str | None:
    """``lab04-raft`` for a lab whose class is in ``distlab.labs.lab04_raft`` (or below)."""
    for part in type(lab).__module__.split("."):
        if _LAB_MODULE.match(part):
            return part.replace("_", "-")
    return None


def should_record() -> bool:
    """Whether this process is a Jupyter kernel that keeps the reader's progress."""
    return (os.environ.get("DISTLAB_PROGRESS") != "0"
            and getattr(ipython_shell(), "kernel", None) is not None)


def record_parts(lab: str, parts: dict[str, bool], folder: Path | None = None) -> None:
    """Note each part's outcome (True: every check passed) for ``lab`` in ``folder``."""
    path = (folder or Path.cwd()) / PROGRESS_FILE
    known = read_file(path)
    today = date.today().isoformat()
    for part, passed in parts.items():
        known.setdefault(lab, {})[part] = {"passed": passed, "on": today}
    try:
        path.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except OSError:  # a read-only folder: the progress view will not know, nothing more
        pass


def read_file(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """The progress file's content; empty if it is missing or damaged."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def passed_parts(folder: Path) -> set[str]:
    """``{"lab00-example:A", ...}``: the lab parts whose last check passed, in ``folder``."""
    return {f"{lab}:{part}" for lab, parts in read_file(folder / PROGRESS_FILE).items()
            if isinstance(parts, dict)
            for part, outcome in parts.items()
            if isinstance(outcome, dict) and outcome.get("passed") is True}
