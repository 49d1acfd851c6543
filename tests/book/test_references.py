"""book/references.bib: it parses, and no key is there twice (branches that each add a paper
merge at the end of the file, where a duplicate or a lost closing brace slips in)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from pybtex.database import parse_file

BIB = Path(__file__).resolve().parents[2] / "book" / "references.bib"


def test_the_bibliography_parses_and_each_key_is_there_once() -> None:
    keys = re.findall(r"^@\w+\{([^,\s]+),", BIB.read_text(encoding="utf-8"), re.MULTILINE)
    assert [key for key, n in Counter(keys).items() if n > 1] == []
    assert len(parse_file(str(BIB)).entries) == len(keys)


def test_no_text_lies_outside_the_entries() -> None:
    text = BIB.read_text(encoding="utf-8")
    outside = re.sub(r"^@\w+\{.*?^\}\s*$", "", text, flags=re.MULTILINE | re.DOTALL)
    assert [line for line in outside.splitlines() if line.strip()
            and not line.startswith("%")] == []
