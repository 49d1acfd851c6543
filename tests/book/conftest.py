"""The book built once, shared by the pipeline tests.

The book is built once per pytest session into a fresh temporary folder (a fresh build, so
Sphinx reports the warnings of every page, not only of the pages changed since the last build).
``tests/book/test_book_build.py`` checks the build itself; ``tests/book/test_browser.py`` opens
its pages, and prints them for ``tests/book/test_pdf.py`` as it goes (``book_printer``).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BookBuild:
    """The outcome of one `jupyter-book build`: exit code, everything it printed, the HTML."""

    returncode: int
    output: str
    html_dir: Path


def build_book(output_dir: Path) -> BookBuild:
    """Fetch the local JS assets if needed, then build the HTML book as `make book` does."""
    assets = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "js_assets.py")],
        capture_output=True,
        text=True,
    )
    if assets.returncode != 0:
        pytest.fail(f"tools/js_assets.py failed:\n{assets.stdout}\n{assets.stderr}")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    build = subprocess.run(
        [str(jupyter_book), "build", str(REPO_ROOT), "--path-output", str(output_dir),
         "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    return BookBuild(
        returncode=build.returncode,
        output=build.stdout + build.stderr,
        html_dir=output_dir / "_build" / "html",
    )


@pytest.fixture(scope="session")
def book_build(tmp_path_factory: pytest.TempPathFactory) -> BookBuild:
    """The book, built once per session (it may have failed: see ``built_html``)."""
    return build_book(tmp_path_factory.mktemp("book"))


@pytest.fixture(scope="session")
def built_html(book_build: BookBuild) -> Path:
    """The folder of the built HTML pages; fails the test when the build failed."""
    if book_build.returncode != 0 or not (book_build.html_dir / "index.html").is_file():
        pytest.fail(
            "the book did not build (see tests/book/test_book_build.py); last lines:\n"
            + "\n".join(book_build.output.splitlines()[-30:])
        )
    return book_build.html_dir


@pytest.fixture(scope="session")
def book_printer(built_html: Path):
    """The book's PDF as `make pdf` makes it (tools/make_pdf.py's `BookPrinter`), printed by
    the browser test's pass over the pages: it prints each page of _toc.yml in the tab where
    it has just loaded it, before checking it, so that the session loads every page once for
    both (loading is two thirds of printing's cost). ``tests/book/test_pdf.py`` reads
    ``book_printer.output``; run without the browser test, it prints the book itself."""
    sys.path.insert(0, str(REPO_ROOT / "tools"))
    from make_pdf import BookPrinter

    return BookPrinter(built_html)
