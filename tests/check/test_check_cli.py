"""Tests of ``python -m distlab.check`` and of the JSON lines history format it reads."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distlab.check import HistoryFormatError, Op, check_linearizability, read_jsonl, write_jsonl
from distlab.check.cli import DEFAULT_TIMEOUT, main
from distlab.check.history_io import dumps_jsonl, parse_jsonl
from distlab.check.models import UNKNOWN
from distlab.check.synthetic import with_hard_keys

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


# -- no input makes the command line crash, and no error exits 1 ("not linearizable") ---------

def one_write(value_json: str) -> str:
    return (f'{{"process": 0, "type": "invoke", "f": "write", "value": {value_json}}}\n'
            f'{{"process": 0, "type": "ok", "f": "write", "value": {value_json}}}\n')


@pytest.mark.parametrize("text, model, message", [
    (one_write("[" * 5_000 + "]" * 5_000), "register", "line 1: values nest too deeply"),
    (one_write("[" * 150 + "]" * 150), "register", "line 1: values nest too deeply"),
    (one_write("9" * 5_000), "register", "line 1: a number of 5,000 digits is too long"),
    (one_write("NaN"), "register", "line 1: NaN is not a value a history can hold"),
    (one_write("-Infinity"), "register", "line 1: -Infinity is not a value a history can"),
    (one_write("1e999"), "register", "line 1: 1e999 is not a value a history can hold"),
    ('{"process": 0, "type": "invoke", "f": "add", "value": "x"}\n', "counter",
     "operation 0: a counter adds numbers; got add('x')"),
    ("x" * 2_000_000, "register", "line 1: is longer than 1,048,576 characters"),
    ('[{"process": 0, "type": "invoke", "f": "read"},\n {"process": 0, "type": "ok"]\n',
     "register", "line 2: not valid JSON (Expecting ',' delimiter, column 29) (the file "
                 "starts with '[': it was read as one JSON array of events)"),
    ('[{"process": 0, "type": "invoke", "f": "read"}, 3]', "register",
     "event 2: expected a JSON object"),
])
def test_cli_refuses_what_it_cannot_read_with_exit_3_and_no_traceback(tmp_path, capsys, text,
                                                                      model, message):
    path = tmp_path / "h.jsonl"
    path.write_text(text)
    assert main([str(path), "--model", model]) == 3
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_cli_refuses_binary_data_without_reading_it_all(capsys):
    assert main(["/dev/zero", "--model", "register"]) == 3  # an endless line of NUL bytes
    assert "/dev/zero, line 1: holds NUL bytes: this is not a text file" in capsys.readouterr().err


def run_cli(*shell_tail: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    command = f"exec {sys.executable} -m distlab.check {' '.join(shell_tail)}"
    return subprocess.run(["sh", "-c", command], input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_cli_with_standard_input_closed_exits_3():
    done = run_cli("-", "--model", "register", "<&-")
    assert done.returncode == 3
    assert done.stderr == "error: standard input is closed; give a history file, or pipe one in\n"


def test_cli_reports_an_internal_error_with_its_own_exit_code(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("distlab.check.cli.check_linearizability", broken)
    path = write_events(tmp_path / "h.jsonl", STALE_READ)
    assert main([str(path), "--model", "register"]) == 4
    assert capsys.readouterr().err == ("error: internal error of the checker (RuntimeError: a "
                                       "bug); please report it, with the history\n")


def test_cli_interrupted_exits_130_without_a_traceback(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("distlab.check.cli.check_linearizability", interrupted)
    path = write_events(tmp_path / "h.jsonl", STALE_READ)
    assert main([str(path), "--model", "register"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_cli_keeps_the_verdicts_exit_code_when_its_reader_went_away(tmp_path):
    path = write_events(tmp_path / "bad.jsonl", STALE_READ)
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read what the checker prints
    try:
        done = subprocess.run([sys.executable, "-m", "distlab.check", str(path), "--model",
                               "register"], stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (1, "")


def test_an_empty_history_is_linearizable_with_a_warning(tmp_path, capsys):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    assert main([str(path), "--model", "kv"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("linearizable\n")
    assert err == f"warning: {path} holds no operations; an empty history is linearizable\n"


def test_a_history_written_as_one_json_array_is_read(tmp_path, capsys):
    path = tmp_path / "h.json"
    path.write_text(json.dumps(STALE_READ, indent=2))
    assert main([str(path), "--model", "register"]) == 1
    assert "process 2: r→1            invoked 5, returned 6" in capsys.readouterr().out
    assert [op.invoke_time for op in read_jsonl(path)] == [1, 3, 5]  # positions in the array


@pytest.mark.parametrize("option, name, written", [
    ("--png", "pic", "pic.png"), ("--png", "pic.xyz", "pic.xyz.png"),
    ("--png", "pic.PNG", "pic.PNG"), ("--svg", "pic", "pic.svg"),
])
def test_cli_says_which_picture_file_it_wrote(tmp_path, capsys, option, name, written):
    bad = write_events(tmp_path / "bad.jsonl", STALE_READ)
    assert main([str(bad), "--model", "register", option, str(tmp_path / name)]) == 1
    assert capsys.readouterr().out.endswith(f"picture written to {tmp_path / written}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", written]


@pytest.mark.parametrize("option, value", [("--timeout", "nan"), ("--timeout", "-1"),
                                           ("--max-memory", "inf"), ("--max-memory", "0")])
def test_cli_refuses_limits_that_are_not_positive_numbers(tmp_path, capsys, option, value):
    path = write_events(tmp_path / "h.jsonl", STALE_READ)
    assert main([str(path), "--model", "register", option, value]) == 3
    assert f"error: {option} must be a positive number" in capsys.readouterr().err


def test_cli_gives_up_past_its_memory_limit_with_exit_2(tmp_path, capsys):
    path = tmp_path / "hard.jsonl"
    write_jsonl(with_hard_keys([], [None], writers=24), path)
    assert main([str(path), "--model", "register", "--max-memory", "5"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("unknown\n")
    assert "memory limit of 5 MB reached: explored " in out


def test_cli_has_a_default_time_budget_and_memory_limit(tmp_path, capsys, monkeypatch):
    limits = {}

    def spy(ops, model, **kwargs):
        limits.update(kwargs)
        return check_linearizability(ops, model, **kwargs)

    monkeypatch.setattr("distlab.check.cli.check_linearizability", spy)
    path = write_events(tmp_path / "h.jsonl", STALE_READ)
    main([str(path), "--model", "register"])
    assert limits == {"timeout": DEFAULT_TIMEOUT, "memory_limit": 1 << 30}
    assert main_exit_code(["--help"]) == 0
    assert "(default: 600)" in capsys.readouterr().out
