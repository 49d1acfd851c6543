"""Tests of ``python -m distlab.check`` and of the JSON lines history format it reads."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from distlab.check import HistoryFormatError, Op, check_linearizability, read_jsonl, write_jsonl
from distlab.check.cli import main
from distlab.check.history_io import dumps_jsonl, parse_jsonl
from distlab.check.models import UNKNOWN

STALE_READ = [
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "value": 1},
    {"process": 1, "type": "invoke", "f": "write", "value": 2},
    {"process": 1, "type": "ok", "f": "write", "value": 2},
    {"process": 2, "type": "invoke", "f": "read", "value": None},
    {"process": 2, "type": "ok", "f": "read", "value": 1},
]


def write_events(path: Path, events: list[dict | str]) -> Path:
    lines = [e if isinstance(e, str) else json.dumps(e) for e in events]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fixed_read(value) -> list[dict]:
    return STALE_READ[:-1] + [{**STALE_READ[-1], "value": value}]


# -- reading the format ------------------------------------------------------------------------

def test_events_pair_into_operations_with_line_numbers_as_times():
    ops = parse_jsonl([json.dumps(e) for e in STALE_READ], "register")
    assert [(o.f, o.value, o.output, o.status) for o in ops] == [
        ("write", 1, 1, "ok"), ("write", 2, 2, "ok"), ("read", None, 1, "ok")]
    assert [(o.invoke_time, o.complete_time) for o in ops] == [(1, 2), (3, 4), (5, 6)]


def test_info_and_missing_completions_are_unknown_and_fail_is_kept_as_fail():
    events = [
        {"process": 0, "type": "invoke", "f": "write", "value": 1},
        {"process": 1, "type": "invoke", "f": "write", "value": 2},
        {"process": 2, "type": "invoke", "f": "write", "value": 3},
        {"process": 0, "type": "info", "f": "write", "value": 1},
        {"process": 1, "type": "fail", "f": "write", "value": 2},
        {"process": 0, "type": "invoke", "f": "read", "value": None},  # a process may go on
    ]
    ops = parse_jsonl([json.dumps(e) for e in events], "register")
    assert [(o.process, o.status, o.output) for o in ops] == [
        (0, "info", UNKNOWN), (1, "fail", UNKNOWN), (2, "pending", UNKNOWN),
        (0, "pending", UNKNOWN)]


def test_cas_values_become_pairs_and_keys_are_kept():
    ops = parse_jsonl([
        '{"process": "a", "type": "invoke", "f": "cas", "value": [null, 1]}',
        '{"process": "a", "type": "ok", "f": "cas", "value": [null, 1]}'], "cas-register")
    assert ops[0].value == (None, 1)
    ops = parse_jsonl([
        '{"process": 0, "type": "invoke", "f": "put", "key": "x", "value": "v"}',
        '{"process": 0, "type": "ok", "f": "put", "key": "x", "value": "v"}'], "kv")
    assert ops[0].key == "x"


def test_jepsen_nemesis_events_and_blank_lines_are_skipped():
    events = ['{"process": "nemesis", "type": "info", "f": "start", "value": null}', ""]
    ops = parse_jsonl(events + [json.dumps(e) for e in STALE_READ], "register")
    assert len(ops) == 3


READ_INVOKE = '{"process": 0, "type": "invoke", "f": "read"}'


@pytest.mark.parametrize("lines, message", [
    (['{"process": 0, "type": "invoke", "f": "read"', ],
     r"line 1: not valid JSON"),
    (['[1, 2]'], r"line 1: expected a JSON object"),
    (['{"type": "invoke", "f": "read"}'], r'line 1: missing "process"'),
    (['{"process": 0, "type": "done", "f": "read"}'], r'line 1: "type" must be one of'),
    (['{"process": 0, "type": "invoke"}'], r'line 1: "f" must name the operation'),
    ([READ_INVOKE, '{"process": 1, "type": "ok", "f": "read"}'],
     r"line 2: 'ok' for process 1, which has no operation in progress"),
    ([READ_INVOKE, READ_INVOKE],
     r"line 2: process 0 invokes 'read' while its 'read' from line 1 has not completed"),
    (['{"process": 0, "type": "invoke", "f": "incr"}'],
     r"line 1: 'incr' is not an operation of model register \(it has read, write\)"),
    ([READ_INVOKE, '{"process": 0, "type": "ok", "f": "write"}'],
     r"line 2: 'ok' of 'write' completes process 0's 'read' invoked on line 1"),
    (['{"process": 0, "type": "invoke", "f": "read", "key": "x"}'],
     r'line 1: this event has a "key" but model register is a single object'),
    (['{"process": 0, "type": "invoke", "f": "write", "value": {"a": 1}}'],
     r"line 1: values must be null, numbers, strings, booleans or lists"),
])
def test_bad_lines_are_reported_with_their_number(lines, message):
    with pytest.raises(HistoryFormatError, match=message):
        parse_jsonl(lines, "register")


def test_kv_events_need_a_key_and_a_cas_needs_a_pair():
    with pytest.raises(HistoryFormatError, match=r'line 1: model kv needs a "key"'):
        parse_jsonl(['{"process": 0, "type": "invoke", "f": "get"}'], "kv")
    with pytest.raises(HistoryFormatError, match=r"line 1: a cas takes \[expected, new\]"):
        parse_jsonl(['{"process": 0, "type": "invoke", "f": "cas", "value": 3}'], "cas-register")


# -- writing the format --------------------------------------------------------------------------

def test_written_histories_read_back_to_the_same_verdict(tmp_path):
    ops = [Op(0, 0, "write", None, 1, None, "ok", 0.0, 5.0),
           Op(1, 1, "read", None, None, 1, "ok", 1.0, 2.0),
           Op(2, 2, "write", None, 2, None, "info", 1.5, 3.0),
           Op(3, 0, "read", None, None, 2, "ok", 5.0, 6.0),   # invoked when its write returned
           Op(4, 1, "write", None, 3, None, "fail", 2.5, 4.0),
           Op(5, 1, "read", None, None, None, "pending", 4.5, None)]
    path = tmp_path / "h.jsonl"
    write_jsonl(ops, path)
    back = read_jsonl(path, "register")
    in_invoke_order = sorted(ops, key=lambda o: o.invoke_time)
    assert [(o.f, o.status) for o in back] == [(o.f, o.status) for o in in_invoke_order]
    assert check_linearizability(back, "register").ok == check_linearizability(ops, "register").ok
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {"process": 0, "type": "invoke", "f": "write", "value": 1}


def test_a_process_completion_is_written_before_its_next_invoke_at_the_same_instant():
    ops = [Op(0, 0, "write", None, 1, None, "ok", 0.0, 5.0),
           Op(1, 0, "read", None, None, 1, "ok", 5.0, 6.0),
           Op(2, 1, "read", None, None, None, "ok", 5.0, 7.0)]
    events = [json.loads(line) for line in dumps_jsonl(ops).splitlines()]
    assert [(e["process"], e["type"]) for e in events] == [
        (0, "invoke"), (1, "invoke"), (0, "ok"), (0, "invoke"), (0, "ok"), (1, "ok")]
    parse_jsonl(dumps_jsonl(ops).splitlines(), "register")  # and it reads back


# -- the command line --------------------------------------------------------------------------

def test_cli_exit_codes_follow_the_verdict(tmp_path, capsys):
    good = write_events(tmp_path / "good.jsonl", fixed_read(2))
    assert main([str(good), "--model", "register"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "linearizable"
    bad = write_events(tmp_path / "bad.jsonl", STALE_READ)
    assert main([str(bad), "--model", "register"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "not linearizable"
    assert "cannot be placed" in out and "r→1" in out


def test_cli_answers_unknown_past_its_time_budget(tmp_path, capsys):
    events = []
    for p in range(22):
        events.append({"process": p, "type": "invoke", "f": "write", "value": p})
    events.append({"process": 99, "type": "invoke", "f": "read", "value": None})
    for p in range(22):
        events.append({"process": p, "type": "ok", "f": "write", "value": p})
    events.append({"process": 99, "type": "ok", "f": "read", "value": -1})
    path = write_events(tmp_path / "hard.jsonl", events)
    assert main([str(path), "--model", "register", "--timeout", "0.2"]) == 2
    assert capsys.readouterr().out.splitlines()[0] == "unknown"


def test_cli_writes_png_and_svg_pictures(tmp_path, capsys):
    bad = write_events(tmp_path / "bad.jsonl", STALE_READ)
    png, svg = tmp_path / "h.png", tmp_path / "h.svg"
    assert main([str(bad), "--model", "register", "--png", str(png)]) == 1
    assert png.read_bytes().startswith(b"\x89PNG")
    assert main([str(bad), "--model", "register", "--svg", str(svg)]) == 1
    assert "<svg" in svg.read_text()
    assert f"picture written to {svg}" in capsys.readouterr().out


@pytest.mark.parametrize("argv_tail, message", [
    (["--model", "register"], "line 2: not valid JSON"),
    (["--model", "btree"], "invalid choice: 'btree'"),
    ([], "the following arguments are required: --model"),
    (["--model", "kv"], "line 1: 'write' is not an operation of model kv"),
])
def test_cli_bad_input_exits_3_with_a_clear_message(tmp_path, capsys, argv_tail, message):
    path = write_events(tmp_path / "h.jsonl", [STALE_READ[0], "{oops"])
    assert main_exit_code([str(path), *argv_tail]) == 3
    assert message in capsys.readouterr().err


def test_cli_missing_file_exits_3(tmp_path, capsys):
    assert main([str(tmp_path / "nope.jsonl"), "--model", "register"]) == 3
    assert "cannot read" in capsys.readouterr().err


def test_cli_help_explains_exit_codes_and_the_format(capsys):
    assert main_exit_code(["--help"]) == 0
    text = capsys.readouterr().out
    assert "3  bad input" in text and '"type": "invoke"' in text


def main_exit_code(argv: list[str]) -> int:
    """``main``'s status, also when argparse exits (usage errors, --help)."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


def test_python_dash_m_runs_end_to_end_from_stdin(tmp_path):
    text = "".join(json.dumps(e) + "\n" for e in STALE_READ)
    done = subprocess.run([sys.executable, "-m", "distlab.check", "-", "--model", "register"],
                          input=text, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("not linearizable\n")


def test_a_simulated_history_written_as_json_lines_checks_from_the_command_line(tmp_path,
                                                                                 capsys):
    from test_linearizability import LazyPrimary, RegisterServer, run_store

    for server, servers, expected in ((RegisterServer, ("s",), 0),
                                      (LazyPrimary, ("p", "b1", "b2"), 1)):
        sim = run_store(1, server, servers)
        path = tmp_path / f"{server.__name__}.jsonl"
        buffer = io.StringIO()
        write_jsonl(sim.history, buffer)
        path.write_text(buffer.getvalue())
        assert main([str(path), "--model", "register"]) == expected
    capsys.readouterr()
