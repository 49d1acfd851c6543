"""The whole book as one PDF, made offline from the built HTML (`make pdf`).

    python tools/make_pdf.py [_build/html] [_build/pdf/distlab-book.pdf]

Each page of the built book is opened in Debian's Chromium (/usr/bin/chromium, driven by
Playwright, as the browser test does: tools/book_browser.py), a few tabs at once, and printed
to PDF with the theme's print styles: no navigation, figures, animations (their first frame)
and saved widget views included, formulas typeset by the local MathJax. Nothing leaves the
machine: the book is served on a loopback port and any request to another host is refused.

The pages are then joined with pypdf: a contents page first (each part and page with the
number of the sheet it starts on), an outline (the PDF's bookmarks: parts, then pages), and a
page number at the foot of every sheet. The numbers and the contents page are themselves
printed by Chromium (an HTML page of numbers laid over the book's sheets), so no font or PDF
drawing library is needed.

Chromium keeps a page's links, and those to the book's own pages point at the loopback server
that served it: they are made links inside the PDF (to the sheet the page starts on), and
those to other files of the built site (a figure alone, a notebook's source) are dropped, so
that no link in the PDF leads to a server that no longer runs.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import io
import posixpath
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml
from book_browser import CHROMIUM, LOAD_TIMEOUT_MS, in_tabs, launch, serve, wait_until_ready
from playwright.async_api import Browser, Page
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject

REPO_ROOT = Path(__file__).resolve().parents[1]
PAPER = {"format": "A4", "margin": {"top": "16mm", "bottom": "18mm", "left": "14mm",
                                    "right": "14mm"}}

#: printed pages: the article only, at its full width (the theme already hides the sidebars)
PRINT_CSS = """
@media print {
  .bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer,
  .bd-footer-content, .prev-next-area, .headerbtn, #pst-back-to-top { display: none !important; }
  .bd-main .bd-content .bd-article-container { max-width: 100% !important; }
  .bd-main .bd-content { margin-left: 0 !important; }
  img { break-inside: avoid; }
}
"""


@dataclass(frozen=True)
class Entry:
    """One page of the book, in reading order, with the part it belongs to."""

    path: str     # the built page, relative to the HTML folder (book/intro.html)
    part: str     # the part's caption in the navigation ("" for the front page)


def reading_order(toc_file: Path) -> list[Entry]:
    """The pages of _toc.yml (format jb-book) in the order a reader meets them."""
    toc = yaml.safe_load(toc_file.read_text())
    entries = [Entry(f"{toc['root']}.html", "")]

    def walk(items: list[dict], part: str) -> None:
        for item in items:
            if "file" in item:
                entries.append(Entry(f"{item['file']}.html", part))
            walk(item.get("sections", []), part)

    for part in toc.get("parts", []):
        walk(part.get("chapters", []), part.get("caption", ""))
    walk(toc.get("chapters", []), "")
    return entries


async def print_page(page: Page, url: str) -> tuple[bytes, str]:
    """Open ``url`` in the tab ``page``, wait until it is drawn, and print it; return the PDF
    and the page's title."""
    await page.set_viewport_size({"width": 1024, "height": 900})
    await page.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
    await wait_until_ready(page)
    await page.add_style_tag(content=PRINT_CSS)
    title = await page.evaluate("() => (document.querySelector('article h1') || {}).innerText "
                                "|| document.title")
    pdf = await page.pdf(print_background=True, **PAPER)
    return pdf, title.replace("#", "").strip()


async def print_html(browser: Browser, body: str, margins: bool = True) -> PdfReader:
    """Print a small HTML document of our own (contents page, page numbers) on the same
    paper, with the book's margins or (``margins=False``) none."""
    page = await browser.new_page()
    await page.set_content(f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
                           f"body {{ font-family: sans-serif; margin: 0; }}</style></head>"
                           f"<body>{body}</body></html>")
    pdf = await page.pdf(print_background=False, format=PAPER["format"],
                         margin=PAPER["margin"] if margins else None)
    await page.close()
    return PdfReader(io.BytesIO(pdf))


def contents_html(title: str, rows: list[tuple[str, str, int]]) -> str:
    """The contents page: the book's title, then each part's caption and its pages' titles
    with the number of the sheet each starts on."""
    lines, part = [f"<h1 style='font-size:22pt'>{html.escape(title)}</h1><h2>Contents</h2>"], None
    for caption, name, number in rows:
        if caption != part and caption:
            lines.append(f"<h3 style='margin:14px 0 4px'>{html.escape(caption)}</h3>")
        part = caption
        lines.append("<div style='display:flex;font-size:11pt;margin:3px 0'>"
                     f"<span>{html.escape(name)}</span>"
                     "<span style='flex:1;border-bottom:1px dotted #999;margin:0 6px 4px'>"
                     f"</span><span>{number}</span></div>")
    return "\n".join(lines)


def numbers_html(count: int) -> str:
    """``count`` empty sheets, each with its number at the foot (laid over the book's)."""
    sheet = ("<div style='height:296mm;position:relative;break-after:page;overflow:hidden'>"
             "<div style='position:absolute;bottom:7mm;width:100%;text-align:center;"
             "font-size:9pt;color:#555'>{n}</div></div>")
    return "".join(sheet.format(n=n) for n in range(1, count + 1))


#: a printed page of the book: its entry, its title, its sheets
Printed = tuple[Entry, str, PdfReader]


async def print_book(base: str, entries: list[Entry], book_title: str
                     ) -> tuple[list[Printed], list[tuple[str, str, int]], PdfReader,
                                PdfReader]:
    """Print every page of ``entries`` (a few at once), then the contents page and the sheet
    numbers; return each entry with its title and its PDF, the contents' rows (part, title,
    first sheet), the contents and the numbers."""
    async with launch() as browser:

        async def one(page: Page, entry: Entry) -> Printed:
            pdf, title = await print_page(page, base + entry.path)
            reader = PdfReader(io.BytesIO(pdf))
            print(f"  {len(reader.pages):3d} pages  {entry.path}", flush=True)
            return entry, title, reader

        printed = await in_tabs(browser, entries, one)
        # The contents page's length does not depend on the numbers written in it.
        draft = await print_html(browser, contents_html(book_title, [(e.part, t, 0)
                                                                    for e, t, _ in printed]))
        first, rows = len(draft.pages) + 1, []
        for entry, title, reader in printed:
            rows.append((entry.part, title, first))
            first += len(reader.pages)
        contents = await print_html(browser, contents_html(book_title, rows))
        numbers = await print_html(browser, numbers_html(first - 1), margins=False)
    return printed, rows, contents, numbers


def local_links(writer: PdfWriter, base: str, starts: dict[str, int]) -> None:
    """Turn each link to the loopback server at ``base`` into a link to the sheet where that
    page of the book starts (``starts``: page path -> sheet index), or drop it if it leads
    to no page of the book."""
    for sheet in writer.pages:
        if "/Annots" not in sheet:
            continue
        kept = ArrayObject()
        for reference in sheet["/Annots"]:
            action = reference.get_object().get("/A")
            uri = str(action.get("/URI", "")) if action else ""
            if uri.startswith(base):
                path = posixpath.normpath(uri[len(base):].split("#")[0])
                if path not in starts:
                    continue
                reference.get_object()[NameObject("/A")] = DictionaryObject({
                    NameObject("/S"): NameObject("/GoTo"),
                    NameObject("/D"): ArrayObject([
                        writer.pages[starts[path]].indirect_reference, NameObject("/Fit")])})
            kept.append(reference)
        sheet[NameObject("/Annots")] = kept


def make_pdf(html_dir: Path, output: Path, toc_file: Path = REPO_ROOT / "_toc.yml") -> int:
    """Print the book in ``html_dir`` to ``output``; return the number of sheets."""
    entries = reading_order(toc_file)
    missing = [e.path for e in entries if not (html_dir / e.path).is_file()]
    if missing:
        raise SystemExit(f"make_pdf: these pages of _toc.yml are not built in {html_dir}: "
                         f"{missing}; run `make book` first")
    if not CHROMIUM.exists():
        raise SystemExit("make_pdf: needs Debian's Chromium at /usr/bin/chromium "
                         "(`apt-get install -y chromium`, or `make system-packages`)")
    book_title = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())["title"]
    with serve(html_dir) as base:
        printed, rows, contents, numbers = asyncio.run(print_book(base, entries, book_title))
    starts = {entry.path: start - 1 for (entry, _, _), (_, _, start) in zip(printed, rows)}

    writer = PdfWriter()
    for sheet in contents.pages:
        writer.add_page(sheet)
    parts: dict[str, object] = {}
    for (entry, title, reader), (_, _, start) in zip(printed, rows, strict=True):
        for sheet in reader.pages:
            writer.add_page(sheet)
        parent = None
        if entry.part:
            if entry.part not in parts:
                parts[entry.part] = writer.add_outline_item(title=entry.part,
                                                            page_number=start - 1)
            parent = parts[entry.part]
        writer.add_outline_item(title=title, page_number=start - 1, parent=parent)
    for sheet, number in zip(writer.pages, numbers.pages, strict=True):
        sheet.merge_page(number)
    local_links(writer, base, starts)
    writer.add_metadata({"/Title": book_title})
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as file:
        writer.write(file)
    return len(writer.pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", nargs="?", type=Path, default=REPO_ROOT / "_build" / "html")
    parser.add_argument("output", nargs="?", type=Path,
                        default=REPO_ROOT / "_build" / "pdf" / "distlab-book.pdf")
    args = parser.parse_args(argv)
    sheets = make_pdf(args.html_dir, args.output)
    print(f"The book is printed: {args.output} ({sheets} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
