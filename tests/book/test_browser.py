"""Every built page, opened in headless Chromium, shows no error and needs no internet.

The built book (``conftest.py``) is served on a loopback port; Playwright for Python drives
Debian's Chromium (/usr/bin/chromium, no browser download). Each page is visited once and
everything of interest is recorded in a ``PageReport``; the tests below read the reports:

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
  at 390 px (a phone) the page does not scroll sideways and every figure fits the article;
- every image of the article has an alt text that says what it shows: never a file name, nor
  only where the figure is (tools/figure_alt_text.py's last resort);
- each page, with its images, weighs less than MAX_PAGE_KB (the weights are printed).
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
SETTLE_MS = 500  # after network idle: MathJax typesetting and widget rendering finish
ANIMATION_TIMEOUT_MS = 5_000
WIDGET_TIMEOUT_MS = 10_000
#: the widths a page is measured at: three laptops, then a phone
LAPTOP_WIDTHS = (1440, 1280, 1024)
PHONE_WIDTH = 390
RELAYOUT_MS = 150  # after a resize: the layout and the widgets' own resize handlers settle
#: a page's HTML (with its saved widget state) plus its images, in KB. Measured on the first
#: four chapters: 30 KB (an introduction) to 900 KB (02.04, with several widgets and 25 figures).
MAX_PAGE_KB = 1_500


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


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(built_html: Path) -> Iterator[str]:
    """Serves the built book on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(built_html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


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
        if (img.getBoundingClientRect().right > right + 1)
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


def measure_widths(page, report: PageReport) -> None:
    """Resize the loaded page to each laptop width, then to a phone's; record what is too wide
    (a resize lays the page out again at once: no need to load it again)."""
    for width in (*LAPTOP_WIDTHS, PHONE_WIDTH):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(RELAYOUT_MS)
        check = FIND_SIDEWAYS_SCROLL if width == PHONE_WIDTH else FIND_WIDE_BLOCKS
        report.wide_blocks += [f"{width} px: {w}" for w in page.evaluate(check)]


def check_animations(page, report: PageReport) -> None:
    """Press Play on every jshtml player and wait until its picture changes."""
    players = page.locator("div.animation")
    report.animations = players.count()
    for i in range(report.animations):
        player = players.nth(i)
        player.scroll_into_view_if_needed()
        image = player.locator("img")
        first_frame = image.get_attribute("src")
        player.locator("button[title='Play']").click()
        try:
            page.wait_for_function(
                "([image, first]) => image.getAttribute('src') !== first",
                arg=[image.element_handle(), first_frame],
                timeout=ANIMATION_TIMEOUT_MS,
            )
            moved = True
        except PlaywrightError:  # timed out: the picture never changed
            moved = False
        player.locator("button[title='Pause']").click()
        if not moved:
            report.animations_still.append(f"animation {i + 1}")


def check_widgets(page, report: PageReport) -> None:
    views = "script[type='application/vnd.jupyter.widget-view+json']"
    report.widget_views = page.locator(views).count()
    if report.widget_views == 0:
        return
    try:
        page.wait_for_function(
            f"() => document.querySelectorAll('.widget-subarea').length >= "
            f"document.querySelectorAll(\"{views}\").length",
            timeout=WIDGET_TIMEOUT_MS,
        )
    except PlaywrightError:  # timed out: reported below as blank widgets
        pass
    report.widgets_blank = page.evaluate(FIND_BLANK_WIDGETS)


def watch(page, report: PageReport) -> None:
    """Record on ``report`` what ``page`` requests, logs and fails to load."""

    def only_loopback(route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in LOOPBACK_HOSTS:
            route.continue_()
        else:
            report.external_requests.append(route.request.url)
            route.abort()

    def console(message) -> None:
        if message.type == "error":
            report.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def uncaught(error) -> None:
        report.console_errors.append(f"uncaught: {error}")

    def response(response) -> None:
        if response.status >= 400:
            report.failed_requests.append(f"{response.status} {response.url}")

    page.route("**/*", only_loopback)
    page.on("console", console)
    page.on("pageerror", uncaught)
    page.on("response", response)


@pytest.fixture(scope="module")
def reports(built_html: Path, server: str) -> list[PageReport]:
    """Visits every page once in headless Chromium; one report per page."""
    if not CHROMIUM.exists():
        pytest.fail(
            "the browser test needs Debian's Chromium at /usr/bin/chromium: "
            "`apt-get install -y chromium` (.ci/run does it), or deselect it with -m 'not browser'"
        )
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        for path in pages_of(built_html):
            report = PageReport(path)
            page = context.new_page()
            watch(page, report)
            try:
                page.goto(server + path, wait_until="load")
                page.wait_for_load_state("networkidle")
            except PlaywrightError as error:
                report.console_errors.append(f"page did not finish loading: {error.message}")
            page.wait_for_timeout(SETTLE_MS)
            report.error_outputs = page.evaluate(FIND_ERROR_OUTPUTS)
            report.broken_images = page.evaluate(FIND_BROKEN_IMAGES)
            report.math, report.math_unrendered = page.evaluate(FIND_UNRENDERED_MATH)
            check_widgets(page, report)
            report.bad_alts = page.evaluate(FIND_BAD_ALTS)  # widget pictures included
            report.weight_kb = page_weight_kb(built_html, path, page.evaluate(FIND_IMAGE_URLS))
            check_animations(page, report)
            measure_widths(page, report)
            page.close()
            results.append(report)
        browser.close()
    return results


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
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(server + "book/00-toolbox/00.01-the-simulator.html", wait_until="load")
        sizes = page.evaluate(MEASURE_CODE_WIDTH)
        browser.close()
    assert sizes["line"] <= sizes["room"], sizes
