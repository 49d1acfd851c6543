"""The whole book as one PDF, made offline from the built HTML (`make pdf`).

    python tools/make_pdf.py [_build/html] [_build/pdf/distlab-book.pdf] [--toc _toc.yml]

Each page of the built book is opened in Debian's Chromium (/usr/bin/chromium, driven by
Playwright, as the browser test does: tools/book_browser.py), a few tabs at once, and printed
to PDF with the theme's print styles: no navigation, figures, animations (their first frame)
and saved widget views included, formulas typeset by the local MathJax. Nothing leaves the
machine: the book is served on a loopback port and any request to another host is refused.
The pages are printed by a `BookPrinter`, which the browser test (tests/book) shares: it
prints each page in the tab where it has just loaded it to check it, so that a test run loads
each page of the book once for both.

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
from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
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


#: the window a page is opened in before it is printed (the print itself is laid out on A4)
PRINT_VIEWPORT = {"width": 1024, "height": 900}


async def load_for_print(page: Page, url: str) -> None:
    """Open ``url`` in the tab ``page`` as it is printed: at PRINT_VIEWPORT, waited for until
    it is drawn (`wait_until_ready`)."""
    await page.set_viewport_size(PRINT_VIEWPORT)
    await page.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
    await wait_until_ready(page)


async def print_loaded(page: Page) -> tuple[bytes, str]:
    """Print the page loaded in the tab ``page`` (`load_for_print`); return the PDF and the
    page's title. The print styles added apply to print only: the tab may be measured on."""
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


class BookPrinter:
    """The book's PDF, made from the pages of _toc.yml as a pass of the browser over the
    built book loads them: `add` prints a page from the tab it is loaded in, `finish` joins
    the pages in reading order with a contents page, an outline and page numbers.

    `make_pdf` loads each page for this alone; the browser test (tests/book) prints the
    pages in the tabs where it has just loaded them to check them, so that each page of the
    book is loaded once for both. A page that could not be printed is named in ``problems``.
    """

    def __init__(self, html_dir: Path, toc_file: Path = REPO_ROOT / "_toc.yml"):
        self.entries = reading_order(toc_file)
        missing = [e.path for e in self.entries if not (html_dir / e.path).is_file()]
        if missing:
            raise SystemExit(f"make_pdf: these pages of _toc.yml are not built in {html_dir}: "
                             f"{missing}; run `make book` first")
        self.title = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())["title"]
        self.printed: dict[str, tuple[str, PdfReader]] = {}  # page path -> (title, sheets)
        self.problems: list[str] = []
        self.output: Path | None = None  # the PDF, once written by `finish`

    def wants(self, path: str) -> bool:
        """Whether ``path`` (relative to the HTML folder) is a page of the book to print."""
        return any(entry.path == path for entry in self.entries)

    async def add(self, page: Page, path: str) -> None:
        """Print the page ``path``, loaded in the tab ``page`` (`load_for_print`)."""
        try:
            pdf, title = await print_loaded(page)
        except PlaywrightError as error:
            self.problems.append(f"{path} could not be printed: {error.message}")
            return
        reader = PdfReader(io.BytesIO(pdf))
        self.printed[path] = (title, reader)
        print(f"  {len(reader.pages):3d} pages  {path}", flush=True)

    async def finish(self, browser: Browser, base: str, output: Path) -> int:
        """Join the printed pages into ``output`` (``base``: the URL the pages were served
        at, whose links are made links inside the PDF); return the number of sheets."""
        unprinted = [e.path for e in self.entries if e.path not in self.printed]
        if unprinted or self.problems:
            raise RuntimeError(f"make_pdf: pages not printed: {unprinted}; {self.problems}")
        pages = [(entry, *self.printed[entry.path]) for entry in self.entries]
        # The contents page's length does not depend on the numbers written in it.
        draft = await print_html(browser, contents_html(self.title, [(e.part, t, 0)
                                                                     for e, t, _ in pages]))
        first, rows = len(draft.pages) + 1, []
        for entry, title, reader in pages:
            rows.append((entry.part, title, first))
            first += len(reader.pages)
        contents = await print_html(browser, contents_html(self.title, rows))
        numbers = await print_html(browser, numbers_html(first - 1), margins=False)
        starts = {entry.path: start - 1 for (entry, _, _), (_, _, start) in zip(pages, rows)}

        writer = PdfWriter()
        for sheet in contents.pages:
            writer.add_page(sheet)
        parts: dict[str, object] = {}
        for (entry, title, reader), (_, _, start) in zip(pages, rows, strict=True):
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
        writer.add_metadata({"/Title": self.title})
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("wb") as file:
            writer.write(file)
        self.output = output
        return len(writer.pages)


async def print_book(printer: BookPrinter, base: str, output: Path) -> int:
    """Load and print every page of the book served at ``base`` (a few at once), then join
    them into ``output``; return the number of sheets."""
    async with launch() as browser:

        async def one(page: Page, entry: Entry) -> None:
            await load_for_print(page, base + entry.path)
            await printer.add(page, entry.path)

        await in_tabs(browser, printer.entries, one)
        return await printer.finish(browser, base, output)


def make_pdf(html_dir: Path, output: Path, toc_file: Path = REPO_ROOT / "_toc.yml") -> int:
    """Print the book in ``html_dir`` to ``output``; return the number of sheets."""
    printer = BookPrinter(html_dir, toc_file)
    if not CHROMIUM.exists():
        raise SystemExit("make_pdf: needs Debian's Chromium at /usr/bin/chromium "
                         "(`apt-get install -y chromium`, or `make system-packages`)")
    with serve(html_dir) as base:
        return asyncio.run(print_book(printer, base, output))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", nargs="?", type=Path, default=REPO_ROOT / "_build" / "html")
    parser.add_argument("output", nargs="?", type=Path,
                        default=REPO_ROOT / "_build" / "pdf" / "distlab-book.pdf")
    parser.add_argument("--toc", type=Path, default=REPO_ROOT / "_toc.yml",
                        help="the table of contents that orders the pages (default: _toc.yml)")
    args = parser.parse_args(argv)
    sheets = make_pdf(args.html_dir, args.output, args.toc)
    print(f"The book is printed: {args.output} ({sheets} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
