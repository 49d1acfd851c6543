"""The study plan (`distlab.labs.plan`) agrees with the book, and reads a reader's progress.

A renamed page, a new lab part or a missing paper must not leave the plan stale: every page of
``_toc.yml`` is in exactly one unit of ``roadmap.toml`` and every unit's page is in the table
of contents; every lab part of ``solutions/`` is in exactly one unit; every paper is in
``book/references.bib``; the weeks make 26 and 52.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from distlab.grading.progress import PROGRESS_FILE, lab_name, record_parts
from distlab.labs import plan
from distlab.labs.lab00_example import PrimaryBackupLab

REPO = Path(__file__).resolve().parents[2]


def toc_pages() -> list[str]:
    text = (REPO / "_toc.yml").read_text()
    return re.findall(r"^\s*(?:- )?(?:root|file): (\S+)\s*$", text, re.MULTILINE)


def lab_parts() -> set[str]:
    parts = set()
    for notebook in (REPO / "solutions").glob("lab*.ipynb"):
        for part in set(re.findall(r'part=\\"([A-Z])\\"', notebook.read_text())):
            parts.add(f"{notebook.stem}:{part}")
    return parts


def test_every_page_of_the_book_is_in_one_unit_and_every_unit_page_exists() -> None:
    planned = [page for unit in plan.load() for page in unit.pages]
    in_toc = [page for page in toc_pages() if page != "book/references"]
    assert sorted(planned) == sorted(set(planned)), "a page is in two units"
    assert set(in_toc) - set(planned) == set(), "pages of _toc.yml missing from the plan"
    assert set(planned) - set(in_toc) == set(), "pages of the plan missing from _toc.yml"


def test_every_lab_part_is_in_one_unit() -> None:
    planned = [lab for unit in plan.load() for lab in unit.labs]
    assert sorted(planned) == sorted(set(planned))
    assert set(planned) == lab_parts()


def test_every_paper_is_in_the_bibliography() -> None:
    keys = set(re.findall(r"^@\w+\{([^,]+),", (REPO / "book" / "references.bib").read_text(),
                          re.MULTILINE))
    assert {p for unit in plan.load() for p in unit.papers} - keys == set()


def test_the_plans_last_6_and_12_months() -> None:
    assert plan.weeks(6)[-1].last == 26 and plan.weeks(12)[-1].last == 52
    assert [w.unit for w in plan.weeks(6)] == [w.unit for w in plan.weeks(12)] == plan.load()
    with pytest.raises(ValueError, match="a 6-month and a 12-month plan, not a 9-month one"):
        plan.weeks(9)


def test_a_unit_with_a_misspelt_field_is_refused(tmp_path: Path) -> None:
    roadmap = tmp_path / "roadmap.toml"
    roadmap.write_text('[[unit]]\ntitle = "x"\nchapter = "y"\nweeks6 = 1\nweeks12 = 2\n'
                       'paper = ["z"]\n')
    with pytest.raises(ValueError, match=r"unit 1 \(x\): .*'paper'"):
        plan.load(roadmap)


def test_the_table_names_pages_by_their_titles() -> None:
    table = plan.plan_table(12)._repr_html_()
    assert "Raft" in table and "book/04-consensus" not in table
    assert table.count("<tr>") == len(plan.load()) + 1
    assert "project: Run your Raft 500 times" in table
    assert "project:" not in plan.plan_table(6)._repr_html_()


def test_progress_reads_the_parts_a_reader_passed(tmp_path: Path) -> None:
    assert plan.progress(tmp_path).done == []
    assert plan.next_unit(plan.progress(tmp_path)).labs[0] == "lab00-example:A"
    record_parts("lab00-example", {"A": True, "B": True, "C": True}, tmp_path)
    record_parts("lab01-client-server", {"A": True, "B": False}, tmp_path)
    done = plan.progress(tmp_path)
    units = plan.load()
    assert done.state(units[0]) == "done"
    assert done.state(units[2]) == "started"
    assert done.state(units[1]) == "to do"  # pages only: nothing to check
    assert plan.next_unit(done) == units[2]
    record_parts("lab01-client-server", {"B": True, "C": True, "D": True}, tmp_path)
    assert plan.progress(tmp_path).state(units[2]) == "done"
    record_parts("lab00-example", {"A": False}, tmp_path)  # a part that fails again
    assert plan.progress(tmp_path).state(units[0]) == "started"
    figure = plan.draw_progress(plan.progress(tmp_path))
    assert "units with labs done" in figure.axes[0].get_title()


def test_a_damaged_progress_file_reads_as_no_progress(tmp_path: Path) -> None:
    (tmp_path / PROGRESS_FILE).write_text("{not json")
    assert plan.progress(tmp_path).passed == set()
    (tmp_path / PROGRESS_FILE).write_text(json.dumps({"lab00-example": ["A"]}))
    assert plan.progress(tmp_path).passed == set()


def test_a_lab_is_named_after_its_module() -> None:
    assert lab_name(PrimaryBackupLab(object, object)) == "lab00-example"
    assert lab_name(object()) is None


def test_the_command_says_what_comes_next(tmp_path: Path, capsys) -> None:
    record_parts("lab00-example", {"A": True, "B": True, "C": True}, tmp_path)
    assert plan.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 lab parts passed" in out
    assert "Next: CAP, PACELC" in out
