"""Sphinx extension: write each inline <script> of a page once.

Sphinx 7 keeps the scripts that extensions register in two lists and, when it starts writing,
copies the second into the first; an inline script (one with a body and no file) is then
present twice, because one copy has ``None`` as its file name and the other ``""``. On a
Jupyter Book page, sphinx-thebe's ``const THEBE_JS_URL = ...`` runs twice and the browser
reports "Identifier 'THEBE_JS_URL' has already been declared". This extension drops the
second copy of every inline script from each page's context before the page is rendered.
Loaded by _config.yml (sphinx.local_extensions).
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _key(script: Any) -> tuple | None:
    """Identity of an inline script (body and attributes), or None for a script file."""
    filename = getattr(script, "filename", script)
    if filename:
        return None
    attributes = getattr(script, "attributes", {})
    return tuple(sorted((name, str(value)) for name, value in attributes.items()))


def drop_repeated_inline_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    seen: set[tuple] = set()
    kept = []
    for script in context.get("script_files", []):
        key = _key(script)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app: Sphinx) -> dict[str, Any]:
    # run after the extensions that add per-page scripts (default priority 500)
    app.connect("html-page-context", drop_repeated_inline_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
