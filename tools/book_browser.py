"""The built book in headless Chromium, offline: what `make_pdf.py` and the browser test share.

* `serve` serves the built HTML on a free loopback port.
* `launch` starts Debian's Chromium (/usr/bin/chromium, driven by Playwright's async API: no
  browser download) so that no request can leave the machine: every request to another host
  goes to a proxy that refuses it. Blocking by proxy, not by intercepting each request in
  Playwright (``page.route``), keeps the browser's cache on: the theme's scripts, the widget
  manager (3.6 MB) and MathJax are fetched and compiled once, not once per page.
* `wait_until_ready` waits, after the page's ``load`` event (its HTML, scripts, styles and
  images), for what the page still draws afterwards: MathJax's typesetting, the fonts it
  needs, and the saved widget views the widget manager renders. It waits for these events
  themselves, never for a fixed time or for the network to fall silent.
* `in_tabs` visits the pages in a few tabs of one browser context at once, so that one
  page's waits overlap another's work, and each tab goes on from page to page: a new tab
  would start a new renderer process and compile the theme's scripts again.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
#: pages open at once in the one browser. Measured for the browser test on 16 pages of the
#: book, on a shared and loaded 2-core machine: 77 s with 4 at once, 171 s one at a time (the
#: same CPU time, about 30 s): a page mostly waits, for its scripts, its fonts, its frames
PAGES_AT_ONCE = 4
#: bounds on the waits, generous: 4 pages at once on a loaded 2-core machine
LOAD_TIMEOUT_MS = 120_000
READY_TIMEOUT_MS = 30_000
WIDGET_VIEWS = "script[type='application/vnd.jupyter.widget-view+json']"

T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def serve(html_dir: Path) -> Iterator[str]:
    """Serve ``html_dir`` on a free loopback port in a thread; yield its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/favicon.ico" and not (html_dir / "favicon.ico").is_file():
                # the browser asks for it on its own (the book names no icon): no content,
                # rather than a 404 that it logs as an error on whichever page is open
                self.send_response(204)
                self.end_headers()
                return
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(html_dir)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def leaves_the_machine(url: str) -> bool:
    """Whether a request for ``url`` goes to another host (``data:`` and ``blob:`` URLs, which
    the page makes itself, do not)."""
    parts = urlsplit(url)
    return parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname not in LOOPBACK_HOSTS


@asynccontextmanager
async def launch() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, whose every request to another host is refused.

    Chromium sends all requests but those to loopback (which it never proxies) to a proxy at
    a loopback port that is bound but never listens, so each is refused at once."""
    if not CHROMIUM.exists():
        raise FileNotFoundError("needs Debian's Chromium at /usr/bin/chromium: "
                                "`apt-get install -y chromium` (or `make system-packages`)")
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        proxy = f"--proxy-server=http://127.0.0.1:{refusing.getsockname()[1]}"
        async with async_playwright() as playwright:
            # the flag itself, not Playwright's ``proxy`` option, which proxies loopback too
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, proxy])
            try:
                yield browser
            finally:
                await browser.close()


MATH_AND_FONTS = """async (timeout) => {
    const typeset = async () => {
        if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
            await MathJax.startup.promise;
        }
        document.body.getBoundingClientRect();  // lay the typeset math out: its fonts load now
        await document.fonts.ready;
    };
    await Promise.race([typeset(), new Promise(done => setTimeout(done, timeout))]);
}"""


async def wait_until_ready(page: Page) -> None:
    """After the ``load`` event, wait until MathJax has typeset the page with its fonts and
    every saved widget view is rendered, each wait at most READY_TIMEOUT_MS (the browser
    test then finds the math still raw, or the views still blank)."""
    await page.evaluate(MATH_AND_FONTS, READY_TIMEOUT_MS)
    if await page.locator(WIDGET_VIEWS).count() == 0:
        return
    try:
        await page.wait_for_function(
            f"() => document.querySelectorAll('.widget-subarea').length >= "
            f"document.querySelectorAll(\"{WIDGET_VIEWS}\").length",
            timeout=READY_TIMEOUT_MS)
    except PlaywrightError:  # timed out: the views that stayed blank show it
        pass


async def next_frames(page: Page) -> None:
    """Wait two animation frames: the resize and scroll handlers of the page and its widgets,
    which run before the next frame, have run and what they changed is laid out."""
    await page.evaluate("() => new Promise(done => requestAnimationFrame("
                        "() => requestAnimationFrame(done)))")


async def in_tabs(browser: Browser, items: Sequence[T],
                  visit: Callable[[Page, T], Awaitable[R]],
                  at_once: int = PAGES_AT_ONCE) -> list[R]:
    """``visit(tab, item)`` for every item, in at most ``at_once`` tabs at a time; the
    results in the order of ``items``.

    The tabs share one browser context (one cache), and each tab visits item after item:
    ``visit`` loads its page into the tab it is given, which leaves the previous page. A new
    tab (in a new context) per page cost twice the CPU: a new renderer process, the theme's
    scripts fetched and compiled again. Measured on the book's 46 pages, Chromium's CPU
    seconds: the browser test 204 -> 91, `make pdf` 234 -> 119."""
    context = await browser.new_context()
    todo = iter(enumerate(items))
    done: dict[int, R] = {}

    async def tab() -> None:
        page = await context.new_page()
        for index, item in todo:  # the tabs share one iterator: each item is visited once
            done[index] = await visit(page, item)
        await page.close()

    try:
        await asyncio.gather(*(tab() for _ in range(min(at_once, len(items)))))
    finally:
        await context.close()
    return [done[index] for index in range(len(items))]
