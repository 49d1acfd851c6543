"""Lab 1's checks (`distlab.labs.lab01_client_server`): the reference passes, each bug is caught.

The reference solution below is the one of ``solutions/lab01-client-server.ipynb``. Each
broken variant has one classic bug of network code, and the check written for it must catch
it, with an explanation a student can act on. The real-socket checks run on loopback through
a `FaultProxy`; every wait is bounded, and no test asserts how fast the machine is.
"""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from distlab.grading import check
from distlab.labs.lab01_client_server import (ClientServerLab, NoReply, RequestId,
                                              ServerUnavailable, SimClientBase, as_line, as_reply,
                                              serve, split_id, with_id)
from distlab.workloads import kv
from distlab.workloads.client import Error

pytestmark = pytest.mark.timeout(120)


# -- the reference solution ---------------------------------------------------------------------

class KVState:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.lock = threading.Lock()
        self.replies: dict[str, tuple[int, str]] = {}

    def execute(self, line: str) -> str:
        request_id, command = split_id(line)
        with self.lock:
            if request_id is None:
                return self.apply(command)
            last_seq, last_reply = self.replies.get(request_id.client, (0, ""))
            if request_id.seq == last_seq:
                return with_id(request_id, last_reply)
            if request_id.seq < last_seq:
                return with_id(request_id, "ERROR stale request")
            reply = self.apply(command)
            self.replies[request_id.client] = (request_id.seq, reply)
            return with_id(request_id, reply)

    def apply(self, command: str) -> str:
        match command.split(" "):
            case ["GET", key]:
                return f"VALUE {self.data[key]}" if key in self.data else "NOTFOUND"
            case ["PUT", key, value]:
                self.data[key] = value
                return "OK"
            case ["APPEND", key, value]:
                self.data[key] = self.data.get(key, "") + value
                return "OK"
        return f"ERROR cannot understand {command!r}"


class KVHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for raw in self.rfile:
            reply = self.server.state.execute(raw.decode().rstrip("\r\n"))
            self.wfile.write(reply.encode() + b"\n")


class KVClient:
    def __init__(self, host: str, port: int, *, timeout: float = 1.0, retries: int = 2,
                 client_id: str = "c1"):
        self.address = (host, port)
        self.timeout = timeout
        self.retries = retries
        self.client_id = client_id
        self.seq = 0
        self.sock = None
        self.reader = None

    def get(self, key: str) -> str | None:
        match self.call(f"GET {key}").split(" ", 1):
            case ["VALUE", value]:
                return value
            case ["NOTFOUND"]:
                return None
            case reply:
                raise ValueError(f"unexpected reply {reply!r}")

    def put(self, key: str, value: str) -> None:
        assert self.call(f"PUT {key} {value}") == "OK"

    def append(self, key: str, value: str) -> None:
        assert self.call(f"APPEND {key} {value}") == "OK"

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.sock is not None:
            self.sock.close()
        self.sock = self.reader = None

    def call(self, command: str) -> str:
        self.seq += 1
        request_id = RequestId(self.client_id, self.seq)
        line = with_id(request_id, command)
        error = None
        for _ in range(1 + self.retries):
            try:
                reply_id, reply = split_id(self.attempt(line))
            except OSError as exc:
                error = exc
                self.close()
                continue
            if reply_id == request_id:
                return reply
            error = ConnectionError(f"the reply {reply!r} is not for {request_id}")
            self.close()
        raise ServerUnavailable(self.address, 1 + self.retries, error)

    def attempt(self, line: str) -> str:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.reader = self.sock.makefile("rb")
        self.sock.sendall(line.encode() + b"\n")
        reply = self.reader.readline()
        if not reply.endswith(b"\n"):
            raise ConnectionError("the server closed the connection before replying")
        return reply.decode().rstrip("\n")


class SimKVClient(SimClientBase):
    def send_request(self, request) -> None:
        self.send(self.server, request)
        self.set_timer(self.retry, "retry")

    def on_timer(self, name: str) -> None:
        if self.waiting is not None:
            self.send(self.server, self.waiting)
            self.set_timer(self.retry, "retry")

    def on_message(self, src: str, msg) -> None:
        if self.waiting is not None and msg.in_reply_to == self.waiting.msg_id:
            self.cancel_timer("retry")
            self.finish(msg)


def lab(state=KVState, handler=KVHandler, client=KVClient, sim_client=SimKVClient):
    return ClientServerLab(state, handler, client, sim_client)


# -- broken variants: one bug each ---------------------------------------------------------------

class ChunkHandler(socketserver.BaseRequestHandler):
    """Takes whatever one recv returns for one request."""

    def handle(self) -> None:
        while data := self.request.recv(4096):
            reply = self.server.state.execute(data.decode().rstrip("\n"))
            self.request.sendall(reply.encode() + b"\n")


class PerConnectionState(KVHandler):
    """Gives each connection its own store."""

    def setup(self) -> None:
        super().setup()
        self.state = KVState()

    def handle(self) -> None:
        for raw in self.rfile:
            self.wfile.write(self.state.execute(raw.decode().rstrip("\n")).encode() + b"\n")


class NoRetries(KVClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.retries = 0


class NoTimeout(KVClient):
    def attempt(self, line: str) -> str:
        if self.sock is None:
            self.sock = socket.create_connection(self.address)
            self.reader = self.sock.makefile("rb")
        self.sock.sendall(line.encode() + b"\n")
        return self.reader.readline().decode().rstrip("\n")


class LeakyClient(KVClient):
    """Lets the socket's error out instead of retrying and raising ServerUnavailable."""

    def call(self, command: str) -> str:
        return self.attempt(command)


class NewIdPerAttempt(KVClient):
    """Numbers every attempt anew, so that the server takes a retry for a new request."""

    def call(self, command: str) -> str:
        error = None
        for _ in range(1 + self.retries):
            self.seq += 1
            request_id = RequestId(self.client_id, self.seq)
            try:
                reply_id, reply = split_id(self.attempt(with_id(request_id, command)))
                if reply_id == request_id:
                    return reply
            except OSError as exc:
                error = exc
            self.close()
        raise ServerUnavailable(self.address, 1 + self.retries, error)


class NoDeduplication(KVState):
    def execute(self, line: str) -> str:
        request_id, command = split_id(line)
        with self.lock:
            reply = self.apply(command)
        return reply if request_id is None else with_id(request_id, reply)


class NoLock(KVState):
    """Applies commands without taking the lock: two appends at once can lose one."""

    def execute(self, line: str) -> str:
        request_id, command = split_id(line)
        reply = self.apply(command)
        return reply if request_id is None else with_id(request_id, reply)


class ErrorWithoutReason(KVState):
    """Answers a bad request with a bare ERROR, not saying what is wrong."""

    def apply(self, command: str) -> str:
        reply = super().apply(command)
        return "ERROR" if reply.startswith("ERROR") else reply


class TakesAnyReplyLine(KVClient):
    """Sends request ids but never checks the reply's: it takes whatever line comes back."""

    def call(self, command: str) -> str:
        self.seq += 1
        line = with_id(RequestId(self.client_id, self.seq), command)
        error = None
        for _ in range(1 + self.retries):
            try:
                return split_id(self.attempt(line))[1]
            except OSError as exc:
                error = exc
                self.close()
        raise ServerUnavailable(self.address, 1 + self.retries, error)


class RetryAnsweredWithoutId(KVState):
    """Answers a retry from its table, but forgets to put the request's id in front."""

    def execute(self, line: str) -> str:
        request_id, command = split_id(line)
        with self.lock:
            if request_id is not None:
                last_seq, last_reply = self.replies.get(request_id.client, (0, ""))
                if request_id.seq == last_seq:
                    return last_reply
        return super().execute(line)


class NeverResends(SimKVClient):
    def on_timer(self, name: str) -> None:
        pass  # the request, once lost, is never sent again


class TakesAnyReply(SimKVClient):
    def on_message(self, src: str, msg) -> None:
        if self.waiting is not None:
            self.cancel_timer("retry")
            self.finish(msg)


# -- tests ---------------------------------------------------------------------------------------

def test_workload_requests_become_protocol_lines_and_replies_come_back():
    get, append = kv.Get("c1", 7, "x"), kv.Append("c1", 8, "y", "c1.8;")
    assert as_line(get) == "c1:7 GET x"
    assert as_line(append) == "c1:8 APPEND y c1.8;"
    assert as_line(kv.Put("c2", 1, "x", "v")) == "c2:1 PUT x v"
    assert as_reply(get, "c1:7 VALUE 3") == kv.GetOk(7, "3")
    assert as_reply(get, "c1:7 NOTFOUND") == kv.GetOk(7, None)
    assert as_reply(append, "c1:8 OK") == kv.AppendOk(8)
    assert as_reply(append, "c1:8 ERROR stale request") == Error(8, True, "stale request")
    with pytest.raises(ValueError, match="does not start with the request's id"):
        as_reply(get, "VALUE 3")
    with pytest.raises(ValueError, match="not a reply the protocol allows"):
        as_reply(get, "c1:7 OK")


def test_request_ids_are_written_in_front_and_split_off_again():
    assert str(RequestId("c1", 7)) == "c1:7"
    assert with_id(RequestId("c1", 7), "APPEND log x;") == "c1:7 APPEND log x;"
    assert split_id("c1:7 APPEND log x;") == (RequestId("c1", 7), "APPEND log x;")
    assert split_id("GET x") == (None, "GET x")
    assert split_id("c1:x GET a") == (None, "c1:x GET a")
    assert split_id("c1:7") == (None, "c1:7")


def test_server_unavailable_says_where_how_often_and_why():
    error = ServerUnavailable(("127.0.0.1", 5000), 3, TimeoutError("timed out"))
    assert isinstance(error, ConnectionError) and error.attempts == 3
    assert str(error) == ("no reply from the server at 127.0.0.1:5000 after 3 attempts; the "
                          "last attempt failed with TimeoutError: timed out")


def test_serve_keeps_handler_errors_and_closes_its_connections():
    class Broken(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()
            raise ZeroDivisionError("oops")

    with serve(Broken, None) as server:
        with pytest.raises(ZeroDivisionError):       # the reason there was no reply
            server.talk("GET x")
        assert [type(e) for e in server.errors] == [ZeroDivisionError]

    with serve(KVHandler, KVState()) as server:
        assert server.talk("PUT a 1", "GET a") == ["OK", "VALUE 1"]
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=2)
        idle.sendall(b"GET a\n")
        assert idle.recv(100) == b"VALUE 1\n"         # its handler waits for the next line
    with idle:                                       # stop() ended that connection too
        assert idle.recv(10) == b""
    with pytest.raises(NoReply, match="closed the connection"):
        with serve(socketserver.StreamRequestHandler, None) as server:
            server.talk("GET x")


def test_the_reference_solution_passes_every_check():
    # two seeds of each check, here in a plain process; every seed of every check runs in the
    # solution notebook, under strict nbval (tests/labs/test_lab_notebooks.py)
    report = check(lab(), seeds=2, timing=False)
    assert report.passed, str(report)
    assert [r.real for r in report.results] == [True] * 12 + [False] * 2


@pytest.mark.parametrize("variant, failing", [
    ({"handler": ChunkHandler}, ["test_pipelined_requests_A"]),
    ({"handler": PerConnectionState}, ["test_many_connections_A"]),
], ids=["reads-chunks", "state-per-connection"])
def test_each_server_bug_is_caught_by_its_check(variant, failing):
    assert check(lab(**variant), part="A", timing=False).failed == failing


def test_a_client_without_retries_is_caught():
    report = check(lab(client=NoRetries), part="B", timing=False)
    assert report.failed == ["test_timeout_is_respected_B", "test_lost_reply_is_retried_B",
                             "test_server_down_B"]
    timeout, lost, down = (f.explanation for f in report.failures)
    assert timeout == "ServerUnavailable says 1 attempt; with retries=2 the client makes 3"
    assert "raised ServerUnavailable although the server was up" in lost


def test_a_client_without_a_timeout_is_caught_and_the_check_still_ends():
    failure = check(lab(client=NoTimeout), name="test_lost_reply_is_retried_B").failures[0]
    assert failure.summary == "violated: every call of the client returns in bounded time"
    assert "had not returned after 5 s" in failure.explanation
    late = check(lab(client=NoTimeout), name="test_timeout_is_respected_B").failures[0]
    assert "must raise ServerUnavailable" in late.explanation


def test_a_socket_error_that_escapes_the_client_is_caught():
    failure = check(lab(client=LeakyClient), name="test_server_down_B").failures[0]
    assert "raised ConnectionRefusedError" in failure.explanation
    assert "then raise ServerUnavailable" in failure.explanation


def test_retries_that_apply_twice_are_caught():
    server = check(lab(state=NoDeduplication), part="C", timing=False)
    assert server.failed == ["test_repeated_request_is_applied_once_C",
                             "test_retried_append_is_applied_once_C"]
    assert "'a;b;b;c;c;'" in server.failures[1].explanation
    client = check(lab(client=NewIdPerAttempt), part="C", timing=False)
    assert client.failed == ["test_retried_append_is_applied_once_C",
                             "test_reply_to_another_request_is_not_taken_C"]
    assert "applied twice" in client.failures[0].explanation
    assert ("the attempts of one call of get('x') sent ['c1:1 GET x', 'c1:2 GET x', "
            "'c1:3 GET x']: every retry of a call must send the very same line") in \
        client.failures[1].explanation
    simulated = check(lab(state=NoDeduplication), part="D", timing=False)
    assert simulated.failures[0].kind == "violated"
    assert "linearizable" in simulated.failures[0].summary


def test_a_simulated_client_that_takes_any_reply_is_caught_by_late_replies():
    report = check(lab(sim_client=TakesAnyReply), part="D", timing=False)
    assert report.failed == ["test_late_replies_D"]
    assert "is it the reply to another request?" in report.failures[0].summary


def test_a_simulated_client_that_never_resends_is_caught_by_the_partition():
    report = check(lab(sim_client=NeverResends), part="D", timing=False)
    assert "test_partitioned_clients_D" in report.failed
    assert "operations did not complete" in "\n".join(report.failures[0].lines())


def test_a_server_without_its_lock_loses_appends_made_at_once():
    report = check(lab(state=NoLock), name="test_concurrent_appends_A", timing=False)
    failure = report.failures[0]
    assert failure.summary == "violated: appends from many connections at once are all applied"
    assert "appends were lost" in failure.explanation and "with self.lock" in failure.explanation


def test_an_error_reply_must_say_why():
    report = check(lab(state=ErrorWithoutReason), part="A", timing=False)
    assert report.failed == ["test_bad_requests_A"]
    assert report.failures[0].explanation == (
        "'HELLO' was answered 'ERROR'; expected a line 'ERROR why', saying what is wrong with "
        "the request (the reply had no reason)")


def test_a_client_that_takes_a_reply_with_another_id_is_caught():
    report = check(lab(client=TakesAnyReplyLine), part="C", timing=False)
    assert report.failed == ["test_reply_to_another_request_is_not_taken_C"]
    explanation = report.failures[0].explanation
    assert "with 'c1:0 VALUE stale', the reply to an earlier request" in explanation
    assert "get('x') returned 'stale'" in explanation


def test_a_retry_answered_without_its_id_points_at_the_server():
    report = check(lab(state=RetryAnsweredWithoutId), name="test_retried_append_is_applied_once_C",
                   timing=False)
    explanation = report.failures[0].explanation
    assert "raised ServerUnavailable although the server was up" in explanation
    assert "Then check the server: every reply to a request with an id, a retry's too" in \
        explanation


def test_a_failed_real_run_says_how_to_run_it_again_not_to_replay_a_seed():
    text = str(check(lab(state=ErrorWithoutReason), name="test_bad_requests_A", timing=False))
    assert "replay it:" not in text
    assert "run it again: replay(lab.test_bad_requests_A, seed=1) runs your code for real " \
           "once more, outside the simulator" in text


class ForgesAPass(ErrorWithoutReason):
    """A wrong server that patches, inside the run, every verdict of a Trial it can reach."""

    def apply(self, command: str) -> str:
        from distlab.grading import runs, verdicts
        from distlab.grading.results import CheckResult
        from distlab.labs import lab01_client_server

        CheckResult.passed = property(lambda s: True)
        lab01_client_server._judge_replies = lambda *args: None
        runs.trial_verdict = lambda *args: None
        verdicts._failure_data = lambda failure: None
        return super().apply(command)


def test_patching_a_trials_verdict_inside_the_run_does_not_forge_a_pass():
    from distlab.grading import runs, verdicts
    from distlab.grading.results import CheckResult
    from distlab.labs import lab01_client_server

    saved = (CheckResult.__dict__["passed"], lab01_client_server._judge_replies,
             runs.trial_verdict, verdicts._failure_data)
    try:
        report = check(lab(state=ForgesAPass), name="test_bad_requests_A", timing=False)
    finally:
        (CheckResult.passed, lab01_client_server._judge_replies, runs.trial_verdict,
         verdicts._failure_data) = saved
    assert report.failed == ["test_bad_requests_A"]
    assert report.failures[0].summary == ("violated: a bad request is answered with ERROR and a "
                                          "reason, and the connection stays usable")
