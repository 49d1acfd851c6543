"""Every built page, opened in headless Chromium, shows no error and needs no internet.

The built book (``conftest.py``) is served on a loopback port; Playwright for Python drives
Debian's Chromium (/usr/bin/chromium, no browser download; ``tools/book_browser.py``, which
``make pdf`` shares). Each page is visited once, a few pages at once (the pages of the book
are printed on the way, for test_pdf.py: ``book_printer`` in conftest.py), and everything of
interest is recorded in a ``PageReport``; the tests below read the reports:

- no cell output is an error (myst-nb renders a traceback as an element of class ``traceback``);
- every image decodes (a missing figure fails);
- no request leaves the machine (all requests to other hosts are blocked and recorded);
- the console shows no error and no script raised;
- every jshtml animation (matplotlib's ``<div class="animation">`` player) plays: after its
  Play button is pressed, the picture changes;
- every formula is typeset by the local MathJax 3 (an ``mjx-container`` inside each ``.math``);
- every saved widget view renders: the widget manager replaces each
  ``<script type="application/vnd.jupyter.widget-view+json">`` with a ``div.widget-subarea``
  that must be non-empty and visible;
- at 1440, 1280 and 1024 px (laptops) no code, output, table or formula block is wider than its
  box (it would scroll sideways) and no figure sticks out of the article (_assets/distlab.css);
  at 390 px (a phone) the page does not scroll sideways and every figure fits the article or
  scrolls in a frame of its own;
- at 390 px every figure stays legible: shown at MIN_FIGURE_SCALE of its drawn width or more
  (tools/figure_frames.py, _assets/distlab.css); a figure wider than its frame shows the
  frame's cue, one that fits shows none; each output figure links to its image, and no
  explorer's button, description or readout is narrower than at 1280 px, nor any slider's
  track, unless its slider fills its row (a long track shrinks to fit a phone);
- at 390 px a figure that scrolls in its frame opens at its middle, with a cue at each edge
  (_assets/figure-widths.js), so that its centred title shows whole;
- at every width each explorer's button shows its whole label, each description its whole
  text, and each slider a track of MIN_SLIDER_TRACK_PX or more, and no control goes past
  the explorer's width, which would make it scroll sideways (distlab.widgets.controls);
- at every width no cell of an explorer's table is broken across lines, and a table wider
  than its explorer scrolls in a box of its own with a cue at its edges
  (distlab.widgets.tables);
- every image of the article has an alt text that says what it shows: never a file name, nor
  only where the figure is (tools/figure_alt_text.py's last resort);
- each page, with its images, weighs less than MAX_PAGE_KB (the weights are printed).
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from PIL import Image
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from conftest import REPO_ROOT
from distlab.widgets.tables import scrolling_table

sys.path.insert(0, str(REPO_ROOT / "tools"))
from book_browser import (CHROMIUM, LOAD_TIMEOUT_MS, WIDGET_VIEWS, in_tabs, launch,  # noqa: E402
                          leaves_the_machine, next_frames, serve, wait_until_ready)
from make_pdf import PRINT_VIEWPORT, BookPrinter  # noqa: E402

pytestmark = pytest.mark.browser

ANIMATION_TIMEOUT_MS = 15_000
#: a page's requests still under way when its checks are done (a font, an image a widget
#: asked for): waited for, so that their failures are recorded
REQUESTS_TIMEOUT_MS = 10_000
#: a page that only sends the browser on to another (the book's index.html)
REDIRECT = re.compile(r'<meta http-equiv="refresh" content="\d+; url=([^"]+)"', re.IGNORECASE)
#: the widths a page is measured at, in this order: three laptops, from the width it is loaded
#: and printed at (`make pdf`'s) up, then a phone. Each width once: a resize lays a long page
#: out again, which costs the browser test about as much as loading it
LAPTOP_WIDTHS = (1024, 1280, 1440)
PHONE_WIDTH = 390
#: the laptop width an explorer's controls are compared at: none may be narrower on a phone
CONTROLS_WIDTH = 1280
#: the smallest share of its drawn width a figure may be shown at on a phone: matplotlib's
#: 10-point labels, 13-14 px tall as drawn, stay about 8 px tall (_assets/distlab.css)
MIN_FIGURE_SCALE = 0.6
#: a page's HTML (with its saved widget state) plus its images, in KB. Measured on the first
#: four chapters: 30 KB (an introduction) to 900 KB (02.04, with several widgets and 25 figures).
MAX_PAGE_KB = 1_500
#: the shortest slider track a reader can still drag along (the explorers make theirs 120 px
#: or longer: distlab.widgets.controls)
MIN_SLIDER_TRACK_PX = 100


@dataclass
class PageReport:
    """What one page showed in the browser."""

    path: str
    error_outputs: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    animations: int = 0
    animations_still: list[str] = field(default_factory=list)
    widget_views: int = 0
    widgets_blank: list[str] = field(default_factory=list)
    math: int = 0
    math_unrendered: list[str] = field(default_factory=list)
    wide_blocks: list[str] = field(default_factory=list)  # "<width> px: <block> ..."
    bad_alts: list[str] = field(default_factory=list)
    weight_kb: float = 0.0
    phone_figures: int = 0
    phone_unreadable: list[str] = field(default_factory=list)
    cut_controls: list[str] = field(default_factory=list)  # "<width> px: <control> ..."
    cramped_tables: list[str] = field(default_factory=list)  # "<width> px: <table> ..."


@pytest.fixture(scope="module")
def server(built_html: Path) -> Iterator[str]:
    """Serves the built book on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    with serve(built_html) as base:
        yield base


def pages_of(html_dir: Path) -> list[str]:
    """Every HTML page of the book, as paths relative to its root (theme files excluded)."""
    return sorted(
        str(path.relative_to(html_dir))
        for path in html_dir.rglob("*.html")
        if not path.relative_to(html_dir).parts[0].startswith("_")
    )


FIND_ERROR_OUTPUTS = """() => Array.from(
    document.querySelectorAll('.cell_output .traceback, .cell_output .output.error'),
    el => el.innerText.slice(0, 200))"""

FIND_BROKEN_IMAGES = """async () => {
    const broken = [];
    for (const img of Array.from(document.images)) {
        if (!img.getAttribute('src')) continue;   // e.g. an animation player not started
        img.loading = 'eager';
        try { await img.decode(); }
        catch (e) { broken.push(img.getAttribute('src').slice(0, 120)); }
    }
    return broken;
}"""

FIND_UNRENDERED_MATH = """async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
        await MathJax.startup.promise;
    }
    const math = Array.from(document.querySelectorAll('.math'));
    const raw = math.filter(el => !el.querySelector('mjx-container'))
                    .map(el => el.textContent.slice(0, 80));
    return [math.length, raw];
}"""

FIND_BLANK_WIDGETS = """() => {
    const blank = [];
    const views = document.querySelectorAll(
        'script[type="application/vnd.jupyter.widget-view+json"]');
    views.forEach((view, i) => {
        const area = view.previousElementSibling;
        const rendered = area && area.classList.contains('widget-subarea')
            && area.children.length > 0 && area.getBoundingClientRect().height > 0;
        if (!rendered) blank.push('widget view ' + (i + 1) + ': ' + view.textContent.slice(0, 80));
    });
    return blank;
}"""


FIND_WIDE_BLOCKS = """() => {
    const article = document.querySelector('.bd-article') || document.body;
    const right = article.getBoundingClientRect().right;
    const wide = [];
    const name = el => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className)
        .trim().split(/\\s+/).join('.') : '');
    const blocks = article.querySelectorAll(
        'pre, div.cell_output .output, table, div.math, mjx-container[display="true"]');
    for (const el of blocks) {
        if (el.scrollWidth > el.clientWidth + 1)
            wide.push(name(el) + ' ' + el.scrollWidth + ' px in a box of ' + el.clientWidth
                      + ': ' + el.textContent.trim().slice(0, 60));
    }
    for (const el of article.querySelectorAll('img, div.widget-subarea')) {
        if (el.getBoundingClientRect().right > right + 1)
            wide.push(name(el) + ' sticks out of the article by '
                      + Math.round(el.getBoundingClientRect().right - right) + ' px');
    }
    return wide;
}"""

FIND_SIDEWAYS_SCROLL = """() => {
    const root = document.documentElement;
    const wide = [];
    if (root.scrollWidth > window.innerWidth + 1)
        wide.push('the page scrolls sideways: ' + root.scrollWidth + ' px');
    const article = document.querySelector('.bd-article') || document.body;
    const right = article.getBoundingClientRect().right;
    for (const img of article.querySelectorAll('img')) {
        const frame = img.closest('.figure-frame, .widget-subarea');  // they scroll sideways
        const box = frame && getComputedStyle(frame).overflowX === 'auto' ? frame : img;
        if (box.getBoundingClientRect().right > right + 1)
            wide.push('a figure sticks out of the article: ' + (img.alt || '').slice(0, 60));
    }
    return wide;
}"""

#: an alt text that is a file name or a hash
FILE_NAME_ALT = r"/\.(png|jpe?g|gif|svg|webp)$|^[0-9a-f]{16,}/i"
#: tools/figure_alt_text.py's last resort, which says where a figure is but not what it shows
FALLBACK_ALT = r"/^(Figure|Animation)( drawn by \S+)?( in the section “.*”)?$/"

FIND_BAD_ALTS = f"""() => Array.from(
    document.querySelectorAll('.bd-article img'),
    img => [img.getAttribute('alt') || '', (img.getAttribute('src') || '').slice(-60)])
  .filter(([alt, src]) => alt.trim().split(/\\s+/).length < 2 || {FILE_NAME_ALT}.test(alt.trim())
                         || {FALLBACK_ALT}.test(alt.trim()))
  .map(([alt, src]) => 'alt "' + alt + '" on ' + src)"""

FIND_IMAGE_URLS = """() => Array.from(new Set(Array.from(document.images, img => img.src)))
    .filter(src => src && !src.startsWith('data:'))"""


def page_weight_kb(html_dir: Path, path: str, image_urls: list[str]) -> float:
    """The page's HTML plus the image files it shows, in KB (theme files, shared by every
    page and cached, are not counted; images inlined as data: URLs are in the HTML)."""
    files = {html_dir / path} | {
        html_dir / urlsplit(url).path.lstrip("/") for url in image_urls
    }
    return sum(f.stat().st_size for f in files if f.is_file()) / 1024


FIND_CUT_CONTROLS = """(minTrack) => {
    const cut = [];
    const labels = '.widget-subarea button, .widget-subarea .widget-label';
    for (const el of document.querySelectorAll(labels)) {
        if (el.scrollWidth > el.clientWidth + 1)
            cut.push('"' + el.textContent.trim() + '" cut: ' + el.scrollWidth
                     + ' px of text in ' + el.clientWidth);
    }
    for (const el of document.querySelectorAll('.widget-subarea .slider-container')) {
        const width = el.getBoundingClientRect().width;
        if (width < minTrack)
            cut.push('slider "' + el.closest('.widget-hslider').textContent.trim().slice(0, 30)
                     + '": a track of ' + Math.round(width) + ' px');
    }
    // a control past the right edge of its explorer's area (as laid out, not scrolled), where
    // the reader must scroll the explorer sideways to reach it; its pictures may go past
    for (const area of document.querySelectorAll('.widget-subarea')) {
        const right = area.getBoundingClientRect().left + area.clientLeft + area.clientWidth;
        for (const el of area.querySelectorAll('button, .widget-inline-hbox')) {
            const past = el.getBoundingClientRect().right - right;
            if (past > 1)
                cut.push('"' + el.textContent.trim().slice(0, 30) + '" goes ' + Math.round(past)
                         + ' px past its explorer, ' + area.clientWidth + ' px wide');
        }
    }
    return cut;
}"""

#: an explorer's table that is cramped: cells broken across lines (the book's stylesheet
#: lets a table's cells break anywhere), or a table wider than its explorer that does not
#: scroll in a box of its own with a cue at its edges (a background fixed to the box, the
#: shadows, under one fixed to its content, the covers: distlab.widgets.tables)
FIND_CRAMPED_TABLES = """() => {
    const cramped = [];
    const lines = (cell) => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        const tops = Array.from(range.getClientRects(), r => r.top).sort((a, b) => a - b);
        return tops.filter((top, i) => i === 0 || top - tops[i - 1] > 4).length;
    };
    for (const table of document.querySelectorAll('.widget-subarea table')) {
        const name = 'table "' + table.querySelector('th, td').textContent.trim().slice(0, 20)
                     + ' ..."';
        const broken = Array.from(table.querySelectorAll('th, td')).filter(c => lines(c) > 1);
        if (broken.length)
            cramped.push(name + ': ' + broken.length + ' cells broken across lines, as "'
                         + broken[0].textContent.trim().slice(0, 20) + '"');
        const area = table.closest('.widget-subarea');
        if (table.getBoundingClientRect().width <= area.clientWidth + 1) continue;
        const box = table.parentElement;
        const style = getComputedStyle(box);
        const scrolls = ['auto', 'scroll'].includes(style.overflowX)
                        && box.getBoundingClientRect().width <= area.clientWidth + 1;
        const attached = style.backgroundAttachment.split(',').map(a => a.trim());
        const cue = /gradient/.test(style.backgroundImage) && attached.includes('scroll')
                    && attached.includes('local');
        if (!scrolls)
            cramped.push(name + ': ' + Math.round(table.getBoundingClientRect().width)
                         + ' px wide in an explorer of ' + area.clientWidth
                         + " px, in no box of the explorer's width that scrolls sideways");
        else if (!cue)
            cramped.push(name + ': scrolls sideways with no cue at its edges');
    }
    return cramped;
}"""


async def measure_widths(page: Page, report: PageReport) -> None:
    """Resize the loaded page to each laptop width, then to a phone's; record what is too wide,
    and on the phone what is not legible (`check_phone_layout`). A resize lays the page out
    again at once: no need to load it again."""
    laptop_controls: list = []
    for width in (*LAPTOP_WIDTHS, PHONE_WIDTH):
        await page.set_viewport_size({"width": width, "height": 900})
        await next_frames(page)
        check = FIND_SIDEWAYS_SCROLL if width == PHONE_WIDTH else FIND_WIDE_BLOCKS
        report.wide_blocks += [f"{width} px: {w}" for w in await page.evaluate(check)]
        report.cut_controls += [f"{width} px: {c}" for c in await page.evaluate(
            FIND_CUT_CONTROLS, MIN_SLIDER_TRACK_PX)]
        report.cramped_tables += [f"{width} px: {t}" for t in await page.evaluate(
            FIND_CRAMPED_TABLES)]
        if width == CONTROLS_WIDTH:
            laptop_controls = await page.evaluate(CONTROL_WIDTHS)
    await check_phone_layout(page, report, laptop_controls)


FIND_UNREADABLE_FIGURES = """(minScale) => {
    const article = document.querySelector('.bd-article') || document.body;
    const unreadable = [];
    let figures = 0;
    for (const img of article.querySelectorAll('img')) {
        const width = img.getBoundingClientRect().width;
        if (!img.naturalWidth || !width) continue;  // broken (reported apart) or not shown
        figures += 1;
        const name = '"' + (img.alt || img.getAttribute('src')).slice(0, 60) + '"';
        const scale = width / img.naturalWidth;
        if (scale < minScale - 0.005)
            unreadable.push(name + ' shown at ' + scale.toFixed(2) + ' of its drawn width ('
                            + Math.round(width) + ' of ' + img.naturalWidth + ' px)');
        if (!img.closest('.cell_output') || img.closest('.widget-subarea, .animation')) continue;
        const link = img.closest('a.figure-full-size');
        if (!link || link.href !== img.src) unreadable.push(name + ' does not link to its image');
        const frame = img.closest('.figure-frame');
        if (!frame) continue;
        const scrolls = frame.scrollWidth > frame.clientWidth + 1;
        const after = getComputedStyle(frame, '::after');
        const cue = after.content !== 'none' && after.display !== 'none'
                    && parseFloat(after.width) > 0;
        if (scrolls && !cue) unreadable.push(name + ' scrolls in its frame with no cue');
        if (cue && !scrolls) unreadable.push(name + ' fits its frame but shows the cue');
    }
    return [figures, unreadable];
}"""

#: a figure that scrolls in its frame but does not open at its middle with both cues
FIND_UNCENTRED_FRAMES = """() => Array.from(document.querySelectorAll('.bd-article .figure-frame'))
    .filter(frame => frame.scrollWidth > frame.clientWidth + 1)
    .filter(frame => Math.abs(frame.scrollLeft - (frame.scrollWidth - frame.clientWidth) / 2) > 1
                     || !(parseFloat(getComputedStyle(frame, '::before').width) > 0))
    .map(frame => '"' + (frame.querySelector('img').alt || '').slice(0, 60) + '" opens at '
                  + Math.round(frame.scrollLeft) + ' px of ' + (frame.scrollWidth
                  - frame.clientWidth) + ', not at its middle with a cue at each edge')"""

#: an explorer's controls, in the order of the page: its labels (buttons, descriptions, a
#: slider's readout) and its sliders' tracks, each as [name, width, whether it is a track
#: whose slider fills its row (less its margins): one that had to shrink to fit]
CONTROL_WIDTHS = """() => Array.from(document.querySelectorAll(
        '.widget-subarea button, .widget-subarea .widget-label, '
        + '.widget-subarea .widget-readout, .widget-subarea .slider-container'),
    el => {
        const slider = el.classList.contains('slider-container')
                       && el.closest('.widget-hslider');
        const name = (slider || el).textContent.trim().slice(0, 30);
        if (!slider) return [name, el.getBoundingClientRect().width, false];
        const row = getComputedStyle(slider.parentElement);
        const room = slider.parentElement.clientWidth - parseFloat(row.paddingLeft)
                     - parseFloat(row.paddingRight);
        const own = getComputedStyle(slider);
        const outer = slider.getBoundingClientRect().width + parseFloat(own.marginLeft)
                      + parseFloat(own.marginRight);
        return ['track of ' + name, el.getBoundingClientRect().width, outer >= room - 1];
    })"""


def narrowed_controls(laptop: list, phone: list) -> list[str]:
    """The controls narrower on a phone than at CONTROLS_WIDTH (both by CONTROL_WIDTHS): a
    label so is squeezed; a track may be, only where its slider fills its row (it shrank to
    fit, down to MIN_SLIDER_TRACK_PX, which FIND_CUT_CONTROLS checks)."""
    return [f"control {name!r} {narrow:.0f} px wide, {wide:.0f} px at {CONTROLS_WIDTH} px"
            for (name, wide, _), (_, narrow, fills) in zip(laptop, phone, strict=True)
            if narrow < wide - 1 and not fills]


async def check_phone_layout(page: Page, report: PageReport, laptop: list) -> None:
    """On the page laid out at PHONE_WIDTH, record each figure shown below MIN_FIGURE_SCALE
    of its drawn width, each output figure that does not link to its image or whose frame's
    cue belies whether it scrolls, and each explorer's control squeezed narrower than at
    CONTROLS_WIDTH (`narrowed_controls`; ``laptop``: the controls there, by CONTROL_WIDTHS)."""
    phone = await page.evaluate(CONTROL_WIDTHS)
    report.phone_figures, report.phone_unreadable = await page.evaluate(
        FIND_UNREADABLE_FIGURES, MIN_FIGURE_SCALE)
    report.phone_unreadable += await page.evaluate(FIND_UNCENTRED_FRAMES)
    report.phone_unreadable += narrowed_controls(laptop, phone)


async def check_animations(page: Page, report: PageReport) -> None:
    """Press Play on every jshtml player and wait until its picture changes."""
    players = page.locator("div.animation")
    report.animations = await players.count()
    for i in range(report.animations):
        player = players.nth(i)
        await player.scroll_into_view_if_needed()
        image = player.locator("img")
        first_frame = await image.get_attribute("src")
        await player.locator("button[title='Play']").click()
        try:
            await page.wait_for_function(
                "([image, first]) => image.getAttribute('src') !== first",
                arg=[await image.element_handle(), first_frame],
                timeout=ANIMATION_TIMEOUT_MS,
            )
            moved = True
        except PlaywrightError:  # timed out: the picture never changed
            moved = False
        await player.locator("button[title='Pause']").click()
        if not moved:
            report.animations_still.append(f"animation {i + 1}")


async def check_widgets(page: Page, report: PageReport) -> None:
    """Count the saved widget views (`wait_until_ready` waited for them) and the blank ones."""
    report.widget_views = await page.locator(WIDGET_VIEWS).count()
    if report.widget_views:
        report.widgets_blank = await page.evaluate(FIND_BLANK_WIDGETS)


class Requests:
    """The requests of a page still under way (``pending``), and when there are none."""

    def __init__(self) -> None:
        self.pending: set[object] = set()
        self.none_pending = asyncio.Event()
        self.none_pending.set()

    def started(self, request: object) -> None:
        self.pending.add(request)
        self.none_pending.clear()

    def ended(self, request: object) -> None:
        self.pending.discard(request)
        if not self.pending:
            self.none_pending.set()


@contextmanager
def watching(page: Page, report: PageReport) -> Iterator[Requests]:
    """Record on ``report`` what ``page`` requests of other hosts (the browser refuses those
    requests: `book_browser.launch`), logs and fails to load while the block runs; yield its
    requests under way. The tab goes on to other pages (`in_tabs`): theirs are not recorded
    here."""
    requests = Requests()

    def request(request) -> None:
        requests.started(request)
        if leaves_the_machine(request.url):
            report.external_requests.append(request.url)

    def console(message) -> None:
        if message.type == "error":
            report.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def uncaught(error) -> None:
        report.console_errors.append(f"uncaught: {error}")

    def response(response) -> None:
        if response.status >= 400:
            report.failed_requests.append(f"{response.status} {response.url}")

    listeners = {"request": request, "requestfinished": requests.ended,
                 "requestfailed": requests.ended, "console": console, "pageerror": uncaught,
                 "response": response}
    for event, listener in listeners.items():
        page.on(event, listener)
    try:
        yield requests
    finally:
        for event, listener in listeners.items():
            page.remove_listener(event, listener)


async def visit(page: Page, html_dir: Path, base: str, path: str,
                printer: BookPrinter | None = None) -> PageReport:
    """Open one page in the tab ``page`` as `make pdf` opens it (at 1024 px), wait until it is
    drawn (`wait_until_ready`), print it for the PDF if it is a page of ``printer``'s, then
    record everything the tests read (at 1024 px, then at each width: `measure_widths`)."""
    report = PageReport(path)
    await page.set_viewport_size(PRINT_VIEWPORT)
    with watching(page, report) as requests:
        try:
            await page.goto(base + path, wait_until="load", timeout=LOAD_TIMEOUT_MS)
            redirect = REDIRECT.search((html_dir / path).read_text(errors="replace")[:1_000])
            if redirect:  # index.html: the checks are of the page it leads to
                await page.wait_for_url(urljoin(base + path, redirect[1]), wait_until="load",
                                        timeout=LOAD_TIMEOUT_MS)
            await wait_until_ready(page)
        except PlaywrightError as error:
            report.console_errors.append(f"page did not finish loading: {error.message}")
        if printer is not None and printer.wants(path):
            await printer.add(page, path)  # (before any check moves or resizes the page)
        report.error_outputs = await page.evaluate(FIND_ERROR_OUTPUTS)
        report.broken_images = await page.evaluate(FIND_BROKEN_IMAGES)
        report.math, report.math_unrendered = await page.evaluate(FIND_UNRENDERED_MATH)
        await check_widgets(page, report)
        report.bad_alts = await page.evaluate(FIND_BAD_ALTS)  # widget pictures included
        report.weight_kb = page_weight_kb(html_dir, path, await page.evaluate(FIND_IMAGE_URLS))
        await check_animations(page, report)
        await measure_widths(page, report)
        try:
            await asyncio.wait_for(requests.none_pending.wait(), REQUESTS_TIMEOUT_MS / 1000)
        except TimeoutError:
            report.failed_requests += [f"still loading after the checks: {r.url}"  # type: ignore[attr-defined]
                                       for r in requests.pending]
    return report


async def visit_all(html_dir: Path, base: str, printer: BookPrinter | None = None,
                    pdf: Path | None = None) -> list[PageReport]:
    """Every page of the book visited in one browser, in a few tabs at once (`in_tabs`);
    with a ``printer``, its pages printed as they are visited and joined into ``pdf``. A
    PDF that cannot be made is ``printer``'s problem (tests/book/test_pdf.py reports it),
    not the pages'."""
    async with launch() as browser:
        reports = await in_tabs(browser, pages_of(html_dir),
                                lambda page, path: visit(page, html_dir, base, path, printer))
        if printer is not None and pdf is not None:
            try:
                await printer.finish(browser, base, pdf)
            except Exception as error:  # noqa: BLE001 - reported by the PDF's tests
                printer.problems.append(f"the PDF could not be made: {error!r}")
    return reports


@pytest.fixture(scope="module")
def reports(built_html: Path, server: str, book_printer: BookPrinter,
            tmp_path_factory: pytest.TempPathFactory) -> list[PageReport]:
    """Visits every page once in headless Chromium; one report per page. The pages of the
    book are printed on the way, for tests/book/test_pdf.py (``book_printer``)."""
    if not CHROMIUM.exists():
        pytest.fail(
            "the browser test needs Debian's Chromium at /usr/bin/chromium: "
            "`apt-get install -y chromium` (.ci/run does it), or deselect it with -m 'not browser'"
        )
    return asyncio.run(visit_all(built_html, server, book_printer,
                                 tmp_path_factory.mktemp("pdf") / "book.pdf"))


def offenders(reports: list[PageReport], attribute: str) -> dict[str, list]:
    return {r.path: getattr(r, attribute) for r in reports if getattr(r, attribute)}


def test_browser_found_the_pages(reports: list[PageReport]) -> None:
    paths = {report.path for report in reports}
    assert "book/intro.html" in paths and len(paths) >= 3, f"pages visited: {sorted(paths)}"


def test_no_page_shows_an_error_output(reports: list[PageReport]) -> None:
    assert not offenders(reports, "error_outputs")


def test_every_image_loads(reports: list[PageReport]) -> None:
    assert not offenders(reports, "broken_images")


def test_no_page_reaches_another_host(reports: list[PageReport]) -> None:
    assert not offenders(reports, "external_requests"), (
        "the book must work offline: serve these locally (see tools/js_assets.py)"
    )


def test_no_console_errors_and_no_failed_requests(reports: list[PageReport]) -> None:
    assert not offenders(reports, "console_errors")
    assert not offenders(reports, "failed_requests")


def test_math_is_typeset_by_the_local_mathjax(reports: list[PageReport]) -> None:
    assert any(report.math for report in reports), "no page has math (book/intro.md has some)"
    assert not offenders(reports, "math_unrendered"), "MathJax left this math as raw TeX"


def test_animations_play(reports: list[PageReport]) -> None:
    if not any(report.animations for report in reports):
        pytest.skip("no built page has a jshtml animation (div.animation) yet")
    assert not offenders(reports, "animations_still"), "these animations did not play"


def test_widgets_render(reports: list[PageReport]) -> None:
    if not any(report.widget_views for report in reports):
        pytest.skip("no built page has a saved widget view yet")
    assert not offenders(reports, "widgets_blank"), "these widget areas stayed blank"


def test_no_block_scrolls_sideways_at_laptop_widths_and_phones_read_well(
        reports: list[PageReport]) -> None:
    assert not offenders(reports, "wide_blocks"), (
        "too wide for the article (see _assets/distlab.css; code is written to 99 columns)")


def test_figures_stay_legible_on_a_phone(reports: list[PageReport]) -> None:
    assert sum(report.phone_figures for report in reports) > 0, "no figure was measured"
    assert not offenders(reports, "phone_unreadable"), (
        f"unreadable at {PHONE_WIDTH} px (tools/figure_frames.py, _assets/distlab.css)")


def test_explorer_controls_show_their_whole_labels(reports: list[PageReport]) -> None:
    assert not offenders(reports, "cut_controls"), (
        "size these controls with distlab.widgets.controls (button, slider, menu, row)")


def test_explorer_tables_read_at_every_width(reports: list[PageReport]) -> None:
    assert not offenders(reports, "cramped_tables"), (
        "write an explorer's table with distlab.widgets.tables.scrolling_table")


def test_every_figure_has_an_alt_text_that_says_what_it_shows(
        reports: list[PageReport]) -> None:
    assert not offenders(reports, "bad_alts"), (
        "give these figures a title, or write their alt text in the cell's metadata "
        "(tools/figure_alt_text.py)")


def test_every_page_with_its_images_stays_under_its_weight(
        reports: list[PageReport], capsys: pytest.CaptureFixture) -> None:
    with capsys.disabled():
        print(f"\npage weights (HTML + images, bound {MAX_PAGE_KB} KB):")
        for report in sorted(reports, key=lambda r: -r.weight_kb):
            print(f"  {report.weight_kb:7.0f} KB  {report.path}")
    assert all(report.weight_kb > 0 for report in reports)
    heavy = {r.path: round(r.weight_kb) for r in reports if r.weight_kb > MAX_PAGE_KB}
    assert not heavy, f"pages heavier than {MAX_PAGE_KB} KB: {heavy}"


MEASURE_CODE_WIDTH = """() => {
  const pre = document.querySelector('div.cell div.cell_input pre');
  const style = getComputedStyle(pre);
  const probe = document.createElement('span');
  probe.textContent = 'x'.repeat(99);
  probe.style.font = style.font;
  probe.style.position = 'absolute';
  document.body.appendChild(probe);
  const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  return {line: probe.getBoundingClientRect().width, room: pre.clientWidth - padding};
}"""


def test_code_cells_fit_99_columns_on_a_wide_screen(built_html: Path, server: str) -> None:
    """The library and the notebooks are written to 99 columns: on a 1440 px wide window a
    99-character line of a code cell must fit without scrolling sideways (_assets/distlab.css)."""
    async def measure() -> dict[str, float]:
        async with launch() as browser:
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            await page.goto(server + "book/00-toolbox/00.01-the-simulator.html",
                            wait_until="load")
            return await page.evaluate(MEASURE_CODE_WIDTH)

    sizes = asyncio.run(measure())
    assert sizes["line"] <= sizes["room"], sizes


def test_a_request_to_another_host_is_recorded_and_refused(tmp_path: Path) -> None:
    """What ``test_no_page_reaches_another_host`` relies on: `watching` records a request to
    another host (by name or by address), and the browser refuses it (`launch`)."""
    (tmp_path / "page.html").write_text("<!DOCTYPE html><title>t</title><p>offline</p>")
    outside = ["https://cdn.jsdelivr.net/npm/x.js", "http://192.0.2.1/x.png"]
    fetch_all = """async urls => Promise.all(urls.map(url => fetch(url, {mode: 'no-cors'})
        .then(() => 'fetched', error => 'refused')))"""

    async def visit_one() -> tuple[PageReport, list[str]]:
        report = PageReport("page.html")
        with serve(tmp_path) as base:
            async with launch() as browser:
                page = await browser.new_page()
                with watching(page, report):
                    await page.goto(base + "page.html", wait_until="load")
                    return report, await page.evaluate(fetch_all, outside)

    report, outcomes = asyncio.run(visit_one())
    assert report.external_requests == outside
    assert outcomes == ["refused", "refused"]


def test_the_phone_check_catches_a_shrunk_figure_and_a_missing_cue(tmp_path: Path) -> None:
    """What ``test_figures_stay_legible_on_a_phone`` relies on, on a page of our own with the
    book's stylesheet: a figure shrunk to the column is reported, and so is a framed figure
    that scrolls without its cue; a framed figure as tools/figure_frames.py writes it is not."""
    Image.new("RGB", (1000, 400), "white").save(tmp_path / "wide.png")
    (tmp_path / "distlab.css").write_text((REPO_ROOT / "_assets" / "distlab.css").read_text())

    def framed(alt: str, extra_class: str = "") -> str:
        return (f'<div class="cell_output"><div class="figure-frame {extra_class}" '
                f'style="--natural-width: 1000px"><a class="figure-full-size" href="wide.png">'
                f'<img src="wide.png" alt="{alt}"></a></div></div>')

    (tmp_path / "page.html").write_text(
        "<!DOCTYPE html><title>t</title><link rel='stylesheet' href='distlab.css'>"
        "<style>img { max-width: 100%; } .bd-article .no-cue::after { display: none; }</style>"
        "<article class='bd-article' style='width: 358px'>"
        "<div class='cell_output'><img src='wide.png' alt='shrunk'></div>"
        + framed("framed") + framed("cueless", "no-cue") + "</article>")

    async def measure() -> list:
        with serve(tmp_path) as base:
            async with launch() as browser:
                page = await browser.new_page(viewport={"width": PHONE_WIDTH, "height": 900})
                await page.goto(base + "page.html", wait_until="load")
                return await page.evaluate(FIND_UNREADABLE_FIGURES, MIN_FIGURE_SCALE)

    figures, unreadable = asyncio.run(measure())
    assert figures == 3
    assert unreadable == ['"shrunk" shown at 0.36 of its drawn width (358 of 1000 px)',
                          '"shrunk" does not link to its image',
                          '"cueless" scrolls in its frame with no cue']


def test_a_tab_reused_from_page_to_page_records_each_page_on_its_own_report(
        tmp_path: Path) -> None:
    """What every check relies on since the tabs go on from page to page (`in_tabs`): each
    report holds what its own page did, and nothing the tab's previous or next page did."""
    (tmp_path / "broken.html").write_text(
        "<!DOCTYPE html><title>b</title><img src='missing.png'>"
        "<script>console.error('broken page'); setTimeout(() => console.error('late'), 50)"
        "</script>")
    (tmp_path / "clean.html").write_text("<!DOCTYPE html><title>c</title><p>clean</p>")
    pages = ["clean.html", "broken.html", "clean.html"]

    async def visit_in_one_tab() -> list[PageReport]:
        with serve(tmp_path) as base:
            async with launch() as browser:
                return await in_tabs(browser, pages,
                                     lambda page, path: visit(page, tmp_path, base, path),
                                     at_once=1)

    first, broken, last = asyncio.run(visit_in_one_tab())
    assert [r.path for r in (first, broken, last)] == pages
    assert any("broken page" in error for error in broken.console_errors), broken
    assert any("404" in failure for failure in broken.failed_requests), broken
    assert broken.broken_images, broken
    for clean in (first, last):
        assert not (clean.console_errors or clean.failed_requests or clean.broken_images), clean


def test_the_control_check_catches_a_cut_label_and_a_short_track(tmp_path: Path) -> None:
    """What ``test_explorer_controls_show_their_whole_labels`` relies on, on a page of our own
    drawn as the widget manager draws controls: a label cut in a fixed-width button (the old
    "crash store-asia" in 90 px) and a slider track of 24 px are reported; a button as wide as
    its label and a long track are not."""
    clipped = (
        "overflow: hidden; white-space: nowrap; border: 0; padding: 0 10px; font: 13px sans-serif")
    (tmp_path / "page.html").write_text(
        "<!DOCTYPE html><title>t</title><div class='widget-subarea'>"
        f"<button style='width: 90px; {clipped}'>crash store-asia</button>"
        f"<button style='width: auto; {clipped}'>crash store-eu</button>"
        "<div class='widget-hslider' style='display: flex'><div class='widget-label'>R</div>"
        "<div class='slider-container' style='width: 24px'></div></div>"
        "<div class='widget-hslider' style='display: flex'><div class='widget-label'>W</div>"
        "<div class='slider-container' style='width: 150px'></div></div></div>")

    async def measure() -> list[str]:
        with serve(tmp_path) as base:
            async with launch() as browser:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                await page.goto(base + "page.html", wait_until="load")
                return await page.evaluate(FIND_CUT_CONTROLS, MIN_SLIDER_TRACK_PX)

    cut = asyncio.run(measure())
    assert len(cut) == 2, cut
    assert cut[0].startswith('"crash store-asia" cut: ') and cut[0].endswith(" px of text in 90")
    assert cut[1] == 'slider "R": a track of 24 px'


def test_the_frame_check_catches_a_wide_figure_that_opens_at_its_left_edge(
        tmp_path: Path) -> None:
    """What the centring part of ``test_figures_stay_legible_on_a_phone`` relies on: with the
    book's stylesheet and _assets/figure-widths.js, a figure wider than its frame opens at its
    middle with a cue at each edge, and scrolled to its right end shows the left cue alone;
    without the script it opens at its left edge, which the check reports."""
    Image.new("RGB", (1000, 400), "white").save(tmp_path / "wide.png")
    for name in ("distlab.css", "figure-widths.js"):
        (tmp_path / name).write_text((REPO_ROOT / "_assets" / name).read_text())
    frame = ('<article class="bd-article" style="width: 358px"><div class="cell_output">'
             '<div class="figure-frame" style="--natural-width: 1000px">'
             '<a class="figure-full-size" href="wide.png"><img src="wide.png" alt="wide">'
             '</a></div></div></article>')
    head = "<!DOCTYPE html><title>t</title><link rel='stylesheet' href='distlab.css'>"
    (tmp_path / "centred.html").write_text(head + "<script src='figure-widths.js'></script>"
                                           + frame)
    (tmp_path / "plain.html").write_text(head + frame)
    cues = """frame => [frame.scrollLeft, frame.scrollWidth - frame.clientWidth,
                        getComputedStyle(frame, '::before').width,
                        getComputedStyle(frame, '::after').width]"""

    async def measure() -> tuple[list[str], list, list, list[str]]:
        with serve(tmp_path) as base:
            async with launch() as browser:
                page = await browser.new_page(viewport={"width": PHONE_WIDTH, "height": 900})
                await page.goto(base + "centred.html", wait_until="load")
                await next_frames(page)
                centred = await page.evaluate(FIND_UNCENTRED_FRAMES)
                frame = page.locator(".figure-frame")
                opened = await frame.evaluate(cues)
                await frame.evaluate("frame => { frame.scrollLeft = frame.scrollWidth; }")
                await next_frames(page)
                at_end = await frame.evaluate(cues)
                await page.goto(base + "plain.html", wait_until="load")
                await next_frames(page)
                return centred, opened, at_end, await page.evaluate(FIND_UNCENTRED_FRAMES)

    centred, opened, at_end, plain = asyncio.run(measure())
    assert centred == []
    assert opened == [121, 242, "28px", "28px"]   # 600 px (0.6 of 1000) in a 358 px frame
    assert at_end == [242, 242, "28px", "0px"]
    assert plain == ['"wide" opens at 0 px of 242, not at its middle with a cue at each edge']


#: a slider as the widget manager draws it: its description, its track, its readout
SLIDER = ("<div class='widget-inline-hbox widget-hslider' style='display: flex; margin: 2px; "
          "{style}'><div class='widget-label' style='flex-shrink: 0'>time (ms)</div>"
          "<div class='slider-container' style='flex: 1 1 148px'></div>"
          "<div class='widget-readout' style='min-width: 72px'>1000.00</div></div>")


def test_the_control_checks_catch_a_slider_past_its_explorer_and_a_squeezed_control(
        tmp_path: Path) -> None:
    """What ``test_explorer_controls_show_their_whole_labels`` and the control part of
    ``test_figures_stay_legible_on_a_phone`` rely on, on a page of our own: on a phone the
    Raft explorer's old time slider (514 px whatever the width) goes past its explorer and is
    reported; the same slider as `distlab.widgets.controls.slider` makes it, shrinking its
    track to fit, is not, though its track is narrower than on a laptop. A slider squeezed
    beside another control, and a button narrower than on a laptop, are reported."""
    area = "<div class='widget-subarea' style='max-width: 800px'>{}</div>"
    (tmp_path / "page.html").write_text(
        "<!DOCTYPE html><title>t</title><style>body { margin: 16px }</style>"
        + area.format(SLIDER.format(style="width: 514px"))
        + area.format(SLIDER.format(style="width: 514px; max-width: calc(100% - 4px); "
                                          "min-width: 284px"))
        + area.format("<div style='display: flex'><button style='flex: none; width: 200px'>"
                      "heal</button>" + SLIDER.format(style="width: 300px") + "</div>")
        + area.format("<button style='width: 50%'>client request</button>"))

    async def measure() -> tuple[list[str], list[str], list, list]:
        with serve(tmp_path) as base:
            async with launch() as browser:
                page = await browser.new_page(viewport={"width": CONTROLS_WIDTH, "height": 900})
                await page.goto(base + "page.html", wait_until="load")
                laptop = await page.evaluate(CONTROL_WIDTHS)
                at_laptop = await page.evaluate(FIND_CUT_CONTROLS, MIN_SLIDER_TRACK_PX)
                await page.set_viewport_size({"width": PHONE_WIDTH, "height": 900})
                await next_frames(page)
                return (at_laptop, await page.evaluate(FIND_CUT_CONTROLS, MIN_SLIDER_TRACK_PX),
                        laptop, await page.evaluate(CONTROL_WIDTHS))

    at_laptop, at_phone, laptop, phone = asyncio.run(measure())
    assert at_laptop == []
    assert at_phone == ['slider "time (ms)1000.00": a track of 20 px',  # the squeezed one
                        '"time (ms)1000.00" goes 158 px past its explorer, 358 px wide']
    # the two sliders as wide as their rows on a phone: the old one, and the fitted one,
    # whose track shrank (it is not reported)
    filling = [(wide, narrow) for (_, wide, _), (_, narrow, fills)
               in zip(laptop, phone, strict=True) if fills]
    assert len(filling) == 2 and filling[1][0] > filling[1][1] + 100, filling
    narrowed = narrowed_controls(laptop, phone)
    assert len(narrowed) == 2, narrowed
    assert narrowed[0].startswith("control 'track of time (ms)1000.00' ")
    assert narrowed[1].startswith("control 'client request' ")


def test_the_table_check_catches_cells_broken_across_lines_and_a_box_with_no_cue(
        tmp_path: Path) -> None:
    """What ``test_explorer_tables_read_at_every_width`` relies on, on a page of our own with
    the book's stylesheet, at a phone's width, each table in an HTML widget as the widget
    manager draws it (its content a flex item): the Explorer's old state table, whose cells
    the stylesheet broke anywhere, a wide table in a box that scrolls with no cue, and one in
    a box that grows with it (``max-width: 100%`` of a flex item as wide as the table) are
    reported; the table `distlab.widgets.tables.scrolling_table` writes is not. Printed, where
    nothing can scroll, each box holds its whole table (the stylesheet's print rule)."""
    head = ["node", "acceptors", "promises", "accepted_by"]
    values = ["('a1', 'a2', 'a3')", "{'a1': ((1, 'p2'), 'v2'), 'a2…", "frozenset({'a2', 'a1'})"]
    cell = "style='padding:1px 10px;text-align:left'"
    old = ("<table style='font-size:12px;font-family:monospace;border-collapse:collapse'><tr>"
           + "".join(f"<th {cell}>{h}</th>" for h in head) + f"</tr><tr><td {cell}><b>p1</b>"
           + "".join(f"<td {cell}>{v}</td>" for v in values) + "</tr></table>")
    new = scrolling_table(head, [("p1", values, None)])
    no_cue = new.replace("background:", "--no-cue:")
    growing = new.replace("width:0;min-width:100%", "max-width:100%")
    widget = ("<div class='widget-subarea'><div class='widget-html' style='display: flex'>"
              "<div class='widget-html-content' style='flex: 1 1 auto'>{}</div></div></div>")
    (tmp_path / "distlab.css").write_text((REPO_ROOT / "_assets" / "distlab.css").read_text())
    (tmp_path / "page.html").write_text(
        "<!DOCTYPE html><meta charset='utf-8'><title>t</title>"
        "<link rel='stylesheet' href='distlab.css'>"
        "<article class='bd-article' style='width: 358px'><div class='cell'>"
        + "".join(f"<div class='cell_output'>{widget.format(table)}</div>"
                  for table in (old, new, no_cue, growing)) + "</div></article>")

    whole = """() => Array.from(document.querySelectorAll('.scrolling-table'),
                                box => box.scrollWidth <= box.clientWidth + 1)"""

    async def measure() -> tuple[list[str], list[bool], list[bool]]:
        with serve(tmp_path) as base:
            async with launch() as browser:
                page = await browser.new_page(viewport={"width": PHONE_WIDTH, "height": 900})
                await page.goto(base + "page.html", wait_until="load")
                cramped, on_screen = (await page.evaluate(FIND_CRAMPED_TABLES),
                                      await page.evaluate(whole))
                await page.emulate_media(media="print")
                return cramped, on_screen, await page.evaluate(whole)

    cramped, on_screen, printed = asyncio.run(measure())
    assert on_screen == [False, False, True]   # the two that scroll; the one as wide as it
    assert printed == [True, True, True]
    assert len(cramped) == 3, cramped
    assert cramped[0].startswith('table "node ...": ') and "broken across lines" in cramped[0]
    assert cramped[1] == 'table "node ...": scrolls sideways with no cue at its edges'
    assert re.fullmatch(r'table "node \.\.\.": \d+ px wide in an explorer of 358 px, in no box '
                        r"of the explorer's width that scrolls sideways", cramped[2]), cramped
