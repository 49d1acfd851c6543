"""The book builds with no warning, contains its pages, and loads nothing from other hosts.

The build (in ``conftest.py``) is `jupyter-book build . -W -n --keep-going` into a fresh folder:
warnings are errors, broken references are reported, and every problem is listed at once.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from conftest import BookBuild

pytestmark = pytest.mark.book

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
# (tag, attribute) pairs whose URL the browser fetches while loading the page
RESOURCE_ATTRIBUTES = {
    ("script", "src"),
    ("img", "src"),
    ("iframe", "src"),
    ("source", "src"),
    ("video", "src"),
    ("audio", "src"),
    ("embed", "src"),
    ("object", "data"),
}
FETCHED_LINK_RELS = {"stylesheet", "preload", "modulepreload", "icon", "prefetch", "manifest"}
CSS_URL = re.compile(r"""(?:url\(|@import)\s*['"]?([^'")\s]+)""")


def is_external(url: str) -> bool:
    parts = urlsplit(url.strip())
    if parts.scheme in ("http", "https") or url.strip().startswith("//"):
        return parts.hostname not in LOOPBACK_HOSTS
    return False


class ResourceCollector(HTMLParser):
    """Collects the URLs that a page makes the browser fetch (scripts, styles, images...)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if (tag, name) in RESOURCE_ATTRIBUTES:
                self.urls.append(value)
        if tag == "link" and set(values.get("rel", "").lower().split()) & FETCHED_LINK_RELS:
            self.urls.append(values.get("href", ""))
        if "style" in values:
            self.urls.extend(CSS_URL.findall(values["style"]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls.extend(CSS_URL.findall(data))


def built_pages(html_dir: Path) -> list[Path]:
    return sorted(
        path for path in html_dir.rglob("*.html")
        if not path.relative_to(html_dir).parts[0].startswith("_")
    )


def toc_files(toc: dict) -> list[str]:
    """Every `file:` entry of a jb-book table of contents, in order."""
    files = [toc["root"]]
    for part in toc.get("parts", [toc]):
        for chapter in part.get("chapters", []):
            files.append(chapter["file"])
            files.extend(section["file"] for section in chapter.get("sections", []))
    return files


def test_book_builds_without_warnings(book_build: BookBuild) -> None:
    problems = [
        line for line in book_build.output.splitlines()
        if "WARNING" in line or "ERROR" in line or "Traceback" in line
    ]
    assert book_build.returncode == 0 and not problems, (
        f"jupyter-book build exited {book_build.returncode}; problems:\n"
        + "\n".join(problems or book_build.output.splitlines()[-40:])
    )


def test_every_page_of_the_toc_is_built(built_html: Path, repo_root: Path) -> None:
    toc = yaml.safe_load((repo_root / "_toc.yml").read_text())
    missing = [f for f in toc_files(toc) if not (built_html / f"{f}.html").is_file()]
    assert not missing, f"pages listed in _toc.yml but not built: {missing}"


def test_folders_outside_the_book_are_not_published(built_html: Path) -> None:
    for folder in (".venv", "solutions", "labs", "tests", "src", "bench", "tools", "_assets"):
        assert not (built_html / folder).exists(), f"{folder}/ was published in the book"
    assert not list(built_html.rglob("_template.html")), "book/_template.ipynb was published"


def test_local_copies_of_mathjax_requirejs_and_widget_manager_are_served(
    built_html: Path,
) -> None:
    vendor = built_html / "_static" / "vendor"
    for asset in ("mathjax/tex-mml-chtml.js", "requirejs/require.js",
                  "html-manager/embed-amd.js"):
        assert (vendor / asset).is_file(), f"_static/vendor/{asset} is missing from the build"
    intro = (built_html / "book" / "intro.html").read_text()
    assert "_static/vendor/mathjax/tex-mml-chtml.js" in intro, "pages do not load local MathJax"


def test_pages_fetch_nothing_from_other_hosts(built_html: Path) -> None:
    external = {}
    for page in built_pages(built_html):
        collector = ResourceCollector()
        collector.feed(page.read_text(errors="replace"))
        urls = sorted({url for url in collector.urls if is_external(url)})
        if urls:
            external[str(page.relative_to(built_html))] = urls
    assert not external, (
        f"pages that load scripts, styles or images from the internet: {external}. "
        "Serve them locally (see tools/js_assets.py); for matplotlib's jshtml player, drop "
        "its font-awesome <link> (the theme already ships the icons)."
    )


NAV_CAPTION = re.compile(r'class="caption"[^>]*>\s*<span class="caption-text">([^<]*)</span>')
NAV_LINK = re.compile(r'<a class="reference internal" href="[^"]*">([^<]*)</a>')


def test_a_chapter_title_appears_once_in_the_navigation(built_html: Path) -> None:
    """A part's caption ("Chapter 2") must not repeat the title of the page that opens it
    ("2. Communication and coordination"): the reader would see the chapter's name twice."""
    page = (built_html / "book" / "intro.html").read_text(encoding="utf-8")
    nav = page[page.index("bd-docs-nav"):]
    nav = nav[: nav.index("</nav>")]
    captions = NAV_CAPTION.findall(nav)
    titles = NAV_LINK.findall(nav)
    assert captions and titles, "no caption or page link found in the navigation"

    def words(text: str) -> str:
        return re.sub(r"^\d+\.\s*", "", text).strip().lower()

    twice = [c for c in captions if any(words(t).startswith(words(c)) for t in titles)]
    assert not twice, f"these captions repeat a page's title in the navigation: {twice}"
