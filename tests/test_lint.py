"""The lint gate: the code students read keeps to 99 columns, sorted imports and no unused names.

`ruff check` with the settings of ``[tool.ruff]`` in pyproject.toml (pycodestyle errors and
warnings, pyflakes, import order). ``ruff check --fix`` sorts the imports; long lines and
unused names are for a person to fix.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_code_passes_the_linter() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"ruff check found problems (fix them, or run `ruff check " \
                                 f"--fix .` for the import order):\n{done.stdout}{done.stderr}"


def test_the_linter_catches_a_long_line_and_an_unused_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\nx = '" + "y" * 100 + "'\n")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache",
                           "--config", str(ROOT / "pyproject.toml"), str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "E501" in done.stdout and "F401" in done.stdout
