"""The lint gate: the code students read keeps to 99 columns, sorted imports and no unused names.

`ruff check` with the settings of ``[tool.ruff]`` in pyproject.toml (pycodestyle errors and
warnings, pyflakes), and `isort --check-only` with ``[tool.isort]`` (the import order, in the
grid style the code is written in). ``isort .`` sorts the imports; long lines and unused names
are for a person to fix.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: a long line, an unused import and imports out of order
BAD_CODE = "import sys\nimport os\n\nx = '" + "y" * 100 + "'\n"


def lint(linter: str, path: str = ".", root: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``ruff`` or ``isort`` over ``path`` in ``root`` with the settings of its
    pyproject.toml (the project's own by default)."""
    settings = str(root / "pyproject.toml")
    command = {"ruff": ["ruff", "check", "--no-cache", "--config", settings],
               "isort": ["isort", "--check-only", "--diff", "--settings-path", settings]}[linter]
    return subprocess.run([sys.executable, "-m", *command, path], cwd=root,
                          capture_output=True, text=True, timeout=300)


def test_the_code_passes_ruff() -> None:
    done = lint("ruff")
    assert done.returncode == 0, f"ruff check found problems:\n{done.stdout}{done.stderr}"


def test_the_imports_are_in_order() -> None:
    done = lint("isort")
    assert done.returncode == 0, (f"imports out of order (run `.venv/bin/isort .` to sort "
                                  f"them):\n{done.stdout}{done.stderr}")


def test_the_linters_catch_a_long_line_an_unused_import_and_a_misplaced_one(
        tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(BAD_CODE)
    ruff = lint("ruff", str(bad))
    assert ruff.returncode == 1 and "E501" in ruff.stdout and "F401" in ruff.stdout
    assert lint("isort", str(bad)).returncode == 1


@pytest.mark.parametrize("folder", ["src/distlab/labs", "tests/labs", "tests/book"])
def test_folders_named_like_the_excluded_ones_are_linted(folder: str, tmp_path: Path) -> None:
    # the excluded folders are the root's labs/, solutions/ and book/ (notebooks); a bare
    # name in the settings once skipped every folder so named, the lab modules among them.
    # The probe sits in a tree of its own with a copy of the settings, never in the
    # repository, where the whole-tree tests above would find it when run at the same time.
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "_lint_probe.py").write_text(BAD_CODE)
    assert lint("ruff", ".", tmp_path).returncode == 0     # the root's labs/ is skipped
    assert lint("isort", ".", tmp_path).returncode == 0
    bad = tmp_path / folder / "_lint_probe.py"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_CODE)
    assert lint("ruff", ".", tmp_path).returncode == 1
    assert lint("isort", ".", tmp_path).returncode == 1
