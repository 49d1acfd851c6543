"""`make pdf`: the whole book printed into one PDF, offline (tools/make_pdf.py).

The PDF is printed from the session's book build (``conftest.py``) by headless Chromium and
joined with pypdf; the test opens it and checks that it holds every page of _toc.yml in order
(each in the outline), a contents page, page numbers and the figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO_ROOT

pytestmark = [pytest.mark.book, pytest.mark.browser]

pypdf = pytest.importorskip("pypdf", reason="make pdf needs pypdf (the book extra)")
sys.path.insert(0, str(REPO_ROOT / "tools"))
from make_pdf import reading_order  # noqa: E402
from pypdf.generic import IndirectObject  # noqa: E402


@pytest.fixture(scope="module")
def book_pdf(built_html: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("pdf") / "book.pdf"
    run = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "make_pdf.py"),
                          str(built_html), str(output)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return output


def outline_titles(outline: list) -> list[str]:
    titles = []
    for item in outline:
        titles += outline_titles(item) if isinstance(item, list) else [item.title]
    return titles


def test_the_pdf_holds_every_page_in_order_with_contents_and_numbers(book_pdf: Path) -> None:
    reader = pypdf.PdfReader(book_pdf)
    entries = reading_order(REPO_ROOT / "_toc.yml")
    assert len(reader.pages) > 2 * len(entries), f"only {len(reader.pages)} pages"
    assert "Contents" in reader.pages[0].extract_text()
    titles = outline_titles(reader.outline)
    parts = {entry.part for entry in entries if entry.part}
    assert parts <= set(titles), f"parts missing from the outline: {parts - set(titles)}"
    assert len(titles) == len(entries) + len(parts), titles
    # the outline points at pages in increasing order, and every sheet carries its number
    starts = [reader.get_destination_page_number(item) for item in reader.outline
              if not isinstance(item, list)]
    assert starts == sorted(starts)
    for number in (1, len(reader.pages) // 2, len(reader.pages)):
        text = reader.pages[number - 1].extract_text().split()
        assert str(number) in text, f"page {number} does not show its number"


def image_objects(resources: Any, seen: set[int]) -> list[Any]:
    """The image objects drawn through ``resources`` (and the forms they use), each once.

    Reading the objects' dictionaries, not decoding them (pypdf's ``page.images`` decodes
    every picture: minutes for the whole book)."""
    found: list[Any] = []
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    for ref in (xobjects.get_object().values() if xobjects is not None else ()):
        key = ref.idnum if isinstance(ref, IndirectObject) else id(ref)
        if key in seen:
            continue
        seen.add(key)
        obj = ref.get_object()
        if obj.get("/Subtype") == "/Image":
            found.append(obj)
        elif obj.get("/Subtype") == "/Form":
            found += image_objects(obj.get("/Resources"), seen)
    return found


def test_the_pdf_shows_the_figures(book_pdf: Path) -> None:
    reader = pypdf.PdfReader(book_pdf)
    seen: set[int] = set()
    images = [image for page in reader.pages
              for image in image_objects(page.get("/Resources"), seen)]
    assert len(images) >= 50, f"only {len(images)} images in the PDF: were the figures printed?"
    # the figures are pictures, not blank boxes: the largest holds a real plot's pixels
    largest = max(images, key=lambda image: image["/Width"] * image["/Height"])
    assert largest["/Width"] >= 400 and len(largest.get_data()) > 10_000


def test_the_pdfs_links_lead_to_its_own_sheets_or_out_never_to_the_print_server(
        book_pdf: Path) -> None:
    reader = pypdf.PdfReader(book_pdf)
    internal, external = 0, []
    for sheet in reader.pages:
        for annotation in sheet.get("/Annots") or []:
            action = annotation.get_object().get("/A") or {}
            if action.get("/S") == "/GoTo":
                internal += 1
            elif "/URI" in action:
                external.append(str(action["/URI"]))
    printed_from = [uri for uri in external if "127.0.0.1" in uri or "localhost" in uri]
    assert not printed_from, f"{len(printed_from)} links to the print server: {printed_from[:3]}"
    assert internal >= 20, f"only {internal} links between the book's pages"
