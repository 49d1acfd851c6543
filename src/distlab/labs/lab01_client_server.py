"""Lab 1: a key-value server and its client over real TCP, with timeouts, retries and request ids.

The notebook ``lab01-client-server.ipynb`` is the lab; this module holds what students do not
write -- the protocol's helpers, a runner for their server, the exception their client
raises, a simulated server and client base for the last part -- and the checks.

**The protocol.** One request per line, one reply line per request, over one TCP connection
(keys and values are single words, without spaces)::

    PUT key value      ->  OK
    APPEND key value   ->  OK                     (appends to the value; absent = "")
    GET key            ->  VALUE value | NOTFOUND
    anything else      ->  ERROR why

A request may start with a *request id*, ``client:seq`` (``c1:7 APPEND log x;``): then the
reply starts with the same id (``c1:7 OK``), and the server applies each id at most once.
That is how retries are made safe, as in Birrell and Nelson's RPC {cite:p}`birrell1984rpc`
and the key-value server of MIT 6.5840 {cite:p}`mit6824`: a client that heard no reply
cannot tell a lost request from a lost reply, so it sends the request again, under the
same id, and a server that already applied it answers from its table instead of applying
it twice. APPEND makes a double application visible (``a;b;b;``), which PUT would hide.

**What the student writes.** ``KVState`` (the data, a lock, the table of replies, and
``execute(line) -> reply``), ``KVHandler`` (a `socketserver.StreamRequestHandler` whose
``handle`` serves one connection; `serve` runs it), ``KVClient`` (a client whose calls time
out, are retried over a fresh connection and end in `ServerUnavailable`), and
``SimKVClient`` (the same retry logic as a simulated `SimClientBase`, a client of the
key-value workload `distlab.workloads.kv`).

**The checks.** Parts A-C run the student's code for real, on loopback sockets, through a
`distlab.net.FaultProxy` that delays traffic and loses replies after their requests reached
the server (`FaultProxy.drop_replies`). They are `Trial` checks in two halves: the body runs
the student's code and returns what it observed as plain data (the reply lines, what each
call of the client returned or raised and how long it took); the judge decides from that data
alone, in the grader, where no student code runs. Every socket has a timeout, every call of
the student's code runs under a deadline, and servers and proxies are closed by context
managers whatever happens. Part A also makes eight threads append at once (the store's
lock), part C answers a first attempt with another request's reply (the client checks ids).
No check asserts how fast the machine is: the timing checks compare the client's behaviour
with its *own* timeout, with generous margins. Part D
runs the student's ``KVState`` and ``SimKVClient`` in the simulator under partitions, loss,
duplicates and late replies, over 20 seeds each: the clients speak the workload's messages
(``Get``, ``Put``, ``Append``), `KVServerNode` turns each into a protocol line for the
student's ``execute`` and its reply line back into the workload's reply, and the history is
checked against the workload's model.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, NamedTuple, NoReturn, TypeVar

from distlab.grading.lab import Lab, Scenario, Trial, graded
from distlab.grading.properties import (EveryOperationCompletes, Linearizable, PropertyViolated,
                                        Violation)
from distlab.net import FaultProxy
from distlab.net.addresses import free_ports
from distlab.sim import FaultPlan, Network, Node, Simulation, Uniform, stream
from distlab.workloads import kv
from distlab.workloads.client import Error

HOST = "127.0.0.1"
#: seconds the checks wait for one reply of the student's server
REPLY_WAIT = 2.0
#: seconds any one call of the student's client may take before the check gives up on it
CALL_LIMIT = 5.0

T = TypeVar("T")


# -- request ids ---------------------------------------------------------------------------------

class RequestId(NamedTuple):
    """The id of one request: the client's name and its request number (1, 2, 3...)."""

    client: str
    seq: int

    def __str__(self) -> str:
        return f"{self.client}:{self.seq}"


def with_id(request_id: RequestId, text: str) -> str:
    """``text`` with the id in front: ``with_id(RequestId("c1", 7), "OK") == "c1:7 OK"``."""
    return f"{request_id} {text}"


def split_id(line: str) -> tuple[RequestId | None, str]:
    """The id at the start of ``line`` (None if there is none) and the rest of the line.

    ``split_id("c1:7 APPEND log x;") == (RequestId("c1", 7), "APPEND log x;")`` and
    ``split_id("GET log") == (None, "GET log")``.
    """
    first, _, rest = line.partition(" ")
    client, colon, seq = first.rpartition(":")
    if colon and client and seq.isdigit() and rest:
        return RequestId(client, int(seq)), rest
    return None, line


# -- what the client raises ----------------------------------------------------------------------

class ServerUnavailable(ConnectionError):
    """The client gave up: no reply from the server after ``attempts`` attempts.

    ``cause`` is what made the last attempt fail (a `TimeoutError`, a
    `ConnectionRefusedError`...). The message says all three, so that whoever reads it knows
    which server did not answer and what was tried.
    """

    def __init__(self, address: tuple[str, int], attempts: int,
                 cause: BaseException | None = None):
        self.address = tuple(address)
        self.attempts = attempts
        self.cause = cause
        host, port = self.address
        why = "" if cause is None else f"; the last attempt failed with {_describe(cause)}"
        super().__init__(f"no reply from the server at {host}:{port} after {attempts} "
                         f"attempt{'s' * (attempts != 1)}{why}")


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# -- running a line server -----------------------------------------------------------------------

class NoReply(ConnectionError):
    """A request line got no reply line: none in time, or the connection was closed."""


class _Connection:
    """A raw connection to a line server: send lines, read reply lines (each within 2 s)."""

    def __init__(self, port: int, description: str = "the server answers"):
        self.description = description
        self.sock = socket.create_connection((HOST, port), timeout=REPLY_WAIT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def read(self, request: str) -> str:
        try:
            line = self.file.readline()
        except TimeoutError:
            raise NoReply(f"no reply to {request!r} within {REPLY_WAIT:g} s") from None
        except ConnectionError:
            line = b""
        if not line.endswith(b"\n"):
            raise NoReply(f"the server closed the connection instead of answering {request!r}")
        return line.decode("utf-8", errors="replace").rstrip("\r\n")

    def ask(self, request: str) -> str:
        self.send(request + "\n")
        return self.read(request)

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> _Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Server(socketserver.ThreadingTCPServer):
    """A thread per connection; keeps the handlers' errors and the open connections."""

    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False      # never wait for a handler that does not end

    def __init__(self, handler: type[socketserver.BaseRequestHandler], state: Any):
        self.state = state
        self.errors: list[BaseException] = []
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__((HOST, 0), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError):  # not the peer's doing
            self.errors.append(error)


class LineServer:
    """A running line server: ``port``, the shared ``state``, and the handlers' ``errors``.

    Made by `serve`; `stop` (or the end of the ``with`` block) closes the listening socket and
    every open connection, so that the handlers' loops end.
    """

    def __init__(self, handler: type[socketserver.BaseRequestHandler], state: Any):
        if not (isinstance(handler, type)
                and issubclass(handler, socketserver.BaseRequestHandler)):
            raise TypeError(f"serve(handler, state): handler must be a class such as a "
                            f"socketserver.StreamRequestHandler subclass; got {handler!r}")
        self._server = _Server(handler, state)
        self.state = state
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"line-server:{self.port}")
        self._thread.start()

    @property
    def errors(self) -> list[BaseException]:
        """The exceptions raised by handlers so far (a peer's reset is not one)."""
        return list(self._server.errors)

    def talk(self, *requests: str) -> list[str]:
        """Send the request lines over one new connection; return the reply lines, in order.

        Raises `NoReply` if one gets no reply within 2 s -- or, if a handler raised, that
        handler's exception (the reason there was no reply).
        """
        with _Connection(self.port) as connection:
            try:
                return [connection.ask(request) for request in requests]
            except NoReply:
                if self.errors:
                    raise self.errors[0] from None
                raise

    def stop(self) -> None:
        """Stop accepting, close every connection, and close the listening socket."""
        self._server.shutdown()
        with self._server.connections_lock:
            open_connections = list(self._server.connections)
        for connection in open_connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)   # the handler reads the end of stream
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> LineServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(handler: type[socketserver.BaseRequestHandler], state: Any) -> LineServer:
    """Run a server on 127.0.0.1 (a free port) that gives each connection to ``handler``.

    ``handler`` is a `socketserver.StreamRequestHandler` subclass; each connection gets a new
    one, in its own thread, and finds ``state`` (shared by all) as ``self.server.state``.
    Use it in a ``with`` block::

        with serve(KVHandler, KVState()) as server:
            ...connect to 127.0.0.1:server.port...
    """
    return LineServer(handler, state)


# -- the simulated server and client (part D) ----------------------------------------------------

def as_line(request: kv.Get | kv.Put | kv.Append) -> str:
    """A request of the key-value workload as a protocol line, with its request id.

    ``as_line(kv.Append("c1", 7, "y", "c1.7;")) == "c1:7 APPEND y c1.7;"``.
    """
    match request:
        case kv.Get(key=key):
            command = f"GET {key}"
        case kv.Put(key=key, value=value):
            command = f"PUT {key} {value}"
        case kv.Append(key=key, value=value):
            command = f"APPEND {key} {value}"
    return with_id(RequestId(request.client, request.msg_id), command)


def as_reply(request: kv.Get | kv.Put | kv.Append, line: str) -> Any:
    """The workload's reply to ``request`` that the server's reply ``line`` means.

    An ``ERROR`` is a definite `Error` (the server did not apply the request). A line that
    does not answer the request as the protocol says raises `ValueError`, naming both lines.
    """
    request_id, reply = split_id(line)
    if request_id != RequestId(request.client, request.msg_id):
        raise ValueError(f"the server answered {as_line(request)!r} with {line!r}, which does "
                         f"not start with the request's id: in part D every request carries "
                         f"one (part C)")
    match request, reply.split(" ", 1):
        case kv.Get(), ["VALUE", value]:
            return request.ok(value)
        case kv.Get(), ["NOTFOUND"]:
            return request.ok(None)
        case (kv.Put() | kv.Append()), ["OK"]:
            return request.ok()
        case _, ["ERROR", *why]:
            return Error(request.msg_id, definite=True, text=" ".join(why))
    raise ValueError(f"the server answered {as_line(request)!r} with {line!r}, which is not "
                     f"a reply the protocol allows to that request")


class KVServerNode(Node):
    """The server in the simulator: a ``KVState`` behind the key-value workload's messages.

    Each request (`Get`, `Put`, `Append` of `distlab.workloads.kv`) becomes its protocol line
    (`as_line`), the same ``execute`` that serves TCP connections answers it, and the reply
    line goes back as the workload's reply (`as_reply`).
    """

    def __init__(self, state: Callable[[], Any]):
        self.state = state()

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case kv.Get() | kv.Put() | kv.Append():
                self.send(src, as_reply(msg, self.state.execute(as_line(msg))))


class SimClientBase(kv.KVClient):
    """The key-value workload's client (`distlab.workloads.kv.KVClient`) without its retry
    loop: a subclass writes `send_request`, ``on_timer`` and ``on_message``.

    It runs ``ops`` random operations on the keys ``"x"`` and ``"y"``, one at a time, and
    records each in the history. For each it builds the request (a `Get`, `Put` or `Append`
    carrying this client's id and its ``msg_id``, 1, 2, 3...) and calls
    ``send_request(request)``. The subclass sends it to ``self.server`` and resends
    ``self.waiting`` (the request still waiting for its reply; None when none is) every
    ``self.retry`` ms; when the reply to it arrives, it calls ``finish(reply)``, which records
    the outcome and starts the next operation.
    """

    def transmit(self) -> None:
        self.send_request(self.waiting)

    def send_request(self, request: kv.Get | kv.Put | kv.Append) -> None:
        raise NotImplementedError(f"{type(self).__name__}.send_request: a subclass sends the "
                                  f"request")

    def on_timer(self, name: str) -> None:
        raise NotImplementedError(f"{type(self).__name__}.on_timer: a subclass resends the "
                                  f"waiting request")

    def on_message(self, src: str, msg: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__}.on_message: a subclass takes the "
                                  f"reply to the waiting request")


# -- what the checks observe, in the run's process ----------------------------------------------
#
# A real-socket check is a `Trial` in two halves. Its body runs the student's code and returns
# what it observed, as plain data; its judge reaches the verdict from that data alone, in the
# grader. An observed reply is the reply line (a str), or (NO_REPLY, why) for a request that
# got none; an observed call of the client is ("returned", value, seconds),
# ("ServerUnavailable", attempts, message, seconds) or ("OSError", name, message, seconds).

#: how an observed reply that never came is written
NO_REPLY = "no reply"
#: how many threads append at once in the check of the lock, each how many times, and at most
#: how many rounds: without a lock, a round lost appends 51 times in 60 (measured on a busy
#: 2-core machine), so five rounds miss the bug about once in 10,000 checks
WRITERS, APPENDS, ROUNDS = 8, 2_000, 5


def _fail(description: str, explanation: str) -> NoReturn:
    raise PropertyViolated(Violation(description, explanation, 0.0))


def _within(limit: float, what: str, call: Callable[[], T]) -> tuple[T, float]:
    """Run ``call()`` (the student's code) in a thread; its result and its duration in s.

    Its exception is raised here; if it has not returned after ``limit`` seconds, the check
    fails at once (nothing more can be observed; the caller's context managers close the
    sockets it may be stuck on).
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        began = time.monotonic()
        try:
            outcome["value"] = call()
        except BaseException as exc:  # re-raised in the check's thread
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - began

    worker = threading.Thread(target=run, daemon=True, name="lab1-client-call")
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        _fail("every call of the client returns in bounded time",
              f"{what} had not returned after {limit:g} s: does every socket operation have "
              f"a timeout (sock.settimeout), and does the retry loop end?")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"], outcome["seconds"]


def _call(what: str, call: Callable[[], Any]) -> tuple:
    """Call the student's client (at most `CALL_LIMIT` s): what the call did, as data.

    A `ServerUnavailable` or another socket error is an observation; any other exception is
    the student's code failing, and is raised (the report shows its line).
    """
    def observed() -> tuple:
        try:
            return "returned", call()
        except ServerUnavailable as given_up:
            return "ServerUnavailable", given_up.attempts, str(given_up)
        except OSError as other:
            return "OSError", type(other).__name__, str(other)

    result, seconds = _within(CALL_LIMIT, what, observed)
    return (*result, seconds)


def _calls(*calls: tuple[str, Callable[[], Any]]) -> list[tuple]:
    """Each call observed in turn, up to the first that does not return (the others would
    only fail the same way, each after its retries)."""
    observed = []
    for what, call in calls:
        observed.append(_call(what, call))
        if observed[-1][0] != "returned":
            break
    return observed


def _replies(reply_to: Callable[[str], Any], requests: Sequence[str]) -> list[Any]:
    """``reply_to(request)`` for each request in turn (``connection.ask`` sends it and reads the
    reply; ``connection.read`` reads the reply to one sent already): the replies, up to the
    first missing one, which is recorded as ``(NO_REPLY, why)``."""
    replies: list[Any] = []
    for request in requests:
        try:
            replies.append(reply_to(request))
        except NoReply as missing:
            replies.append((NO_REPLY, str(missing)))
            break
    return replies


def _conversation(port: int, script: Sequence[tuple[int, str, str]]) -> list[Any]:
    """The replies to a script of ``(connection, request, expected)`` steps: connection 0, 1...
    is opened when first used, and all stay open to the end."""
    replies: list[Any] = []
    with ExitStack() as stack:
        connections: dict[int, _Connection] = {}
        for number, request, _ in script:
            if number not in connections:
                connections[number] = stack.enter_context(_Connection(port))
            replies += _replies(connections[number].ask, [request])
            if type(replies[-1]) is tuple:
                break
    return replies


def _appends_at_once(state: Any) -> str:
    """`WRITERS` threads call ``state.execute("APPEND k x")`` `APPENDS` times each, all at
    once, with the interpreter switching threads as often as it can; then GET k's reply."""
    start = threading.Barrier(WRITERS)

    def write() -> None:
        start.wait()
        for _ in range(APPENDS):
            state.execute("APPEND k x")

    writers = [threading.Thread(target=write, daemon=True, name=f"lab1-writer-{n}")
               for n in range(WRITERS)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(CALL_LIMIT)
    finally:
        sys.setswitchinterval(interval)
    if any(writer.is_alive() for writer in writers):
        _fail("appends from many connections at once are all applied",
              f"{WRITERS} threads calling execute('APPEND k x') at once had not finished "
              f"after {CALL_LIMIT:g} s: does a thread wait for a lock it already holds, or "
              f"never release one?")
    return state.execute("GET k")


# -- how the checks judge what was observed, in the grader ---------------------------------------

def _violation(description: str, explanation: str) -> Violation:
    return Violation(description, explanation, 0.0)


def _reply(observed: Any) -> str | None:
    """An observed reply line; None for a reply that never came; ValueError for anything
    that is not an observation (the judge of a damaged record)."""
    if type(observed) is str:
        return observed
    if type(observed) is tuple and len(observed) == 2 and observed[0] == NO_REPLY:
        return None
    raise ValueError(f"{observed!r} is not an observed reply")


def _answers(reply: str, expected: str) -> bool:
    """Whether ``reply`` is ``expected``; an expected "ERROR" asks for "ERROR why"."""
    if expected == "ERROR":
        return reply.startswith("ERROR ") and bool(reply[len("ERROR "):].strip())
    return reply == expected


def _judge_replies(description: str, expected: Sequence[tuple[str, str]],
                   replies: Any) -> Violation | None:
    """The first of the ``(request, expected reply)`` steps that was answered wrongly."""
    if type(replies) is not list:
        raise ValueError("the replies are not a list")
    for (request, wanted), observed in zip(expected, replies):
        reply = _reply(observed)
        if reply is None:
            return _violation(description, observed[1])
        if not _answers(reply, wanted):
            shown = repr(wanted)
            if wanted == "ERROR":
                shown = "a line 'ERROR why', saying what is wrong with the request"
                if reply.strip() == "ERROR":
                    shown += " (the reply had no reason)"
            return _violation(description, f"{request!r} was answered {reply!r}; expected "
                                           f"{shown}")
    if len(replies) < len(expected):
        raise ValueError("fewer replies than requests, and none missing")
    return None


#: why a client gives up although the server is up, in parts A and B
CLIENT_GAVE_UP = ("After a timeout or a broken connection, the client must try again on a "
                  "new connection")
#: the same, from part C on: the server's replies may lack the ids the client checks
GAVE_UP_WITH_IDS = ("Did every attempt end in a timeout or a broken connection? Then the "
                    "client must try again on a new connection. Did the attempts get replies "
                    "(the message says what the last one got)? Then check the server: every "
                    "reply to a request with an id, a retry's too, starts with that id, or "
                    "the client cannot take it")


def _judge_returned(description: str, what: str, outcome: Any, expected: Any,
                    context: str = "", gave_up: str = CLIENT_GAVE_UP) -> Violation | None:
    """A call that must return ``expected`` (the server is up): None if it did. ``gave_up``
    says what to look at if the client raised ServerUnavailable."""
    match outcome:
        case ("returned", value, _):
            if value == expected:
                return None
            return _violation(description, f"{what} returned {value!r}; expected "
                                           f"{expected!r}{context}")
        case ("ServerUnavailable", _, message, _):
            return _violation(description, f"{what} raised ServerUnavailable although the "
                                           f"server was up: {message}. {gave_up}")
        case ("OSError", name, message, _):
            return _violation(description, f"{what} raised {name}: {message}; a socket error "
                                           f"must not escape the client: it retries on a new "
                                           f"connection, then raises ServerUnavailable")
    raise ValueError(f"{outcome!r} is not an observed call")


def _judge_calls(description: str, expected: Sequence[tuple[str, Any]], outcomes: Any,
                 context: str = "", gave_up: str = CLIENT_GAVE_UP) -> Violation | None:
    """The first of the calls ``(what, expected value)`` that did not return its value."""
    if type(outcomes) is not list or not 0 < len(outcomes) <= len(expected):
        raise ValueError("the calls observed are not a list of them")
    for (what, value), outcome in zip(expected, outcomes):
        wrong = _judge_returned(description, what, outcome, value, context, gave_up)
        if wrong is not None:
            return wrong
    if len(outcomes) < len(expected):
        raise ValueError("fewer calls observed than made, and none failed")
    return None


def _judge_gives_up(description: str, what: str, outcome: Any) -> Violation | None:
    """A call that must end in ServerUnavailable: None if it did."""
    match outcome:
        case ("ServerUnavailable", _, _, _):
            return None
        case ("returned", value, _):
            return _violation(description, f"{what} returned {value!r}, but no reply could "
                                           f"arrive in time: it must raise ServerUnavailable")
        case ("OSError", name, message, _):
            return _violation(description, f"{what} raised {name}: {message}; the client must "
                                           f"retry, then raise ServerUnavailable")
    raise ValueError(f"{outcome!r} is not an observed call")


def _attempts(n: int) -> str:
    return f"{n} attempt{'s' * (n != 1)}"


class _StaleFirst(socketserver.StreamRequestHandler):
    """The check's own server (not the student's): it answers the first attempt of each
    request with the reply to the request before it -- as a late reply would arrive -- and
    a retry with the request's own reply. ``self.server.state`` is the list of lines heard."""

    def handle(self) -> None:
        heard: list[str] = self.server.state  # type: ignore[attr-defined]
        for raw in self.rfile:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            request_id, _ = split_id(line)
            if request_id is None:
                reply = "ERROR this check needs request ids (part C)"
            elif line in heard:
                reply = with_id(request_id, "VALUE fresh")
            else:
                reply = with_id(RequestId(request_id.client, request_id.seq - 1), "VALUE stale")
            heard.append(line)
            self.wfile.write(reply.encode() + b"\n")


# -- the lab -------------------------------------------------------------------------------------

class ClientServerLab(Lab):
    """The checks of lab 1, for the student's ``KVState``, ``KVHandler``, ``KVClient`` and
    ``SimKVClient`` classes."""

    title = "Lab 1: a key-value server and client over TCP"

    def __init__(self, state: Callable[[], Any], handler: type[socketserver.BaseRequestHandler],
                 client: Callable[..., Any], sim_client: type[Node]):
        self.state = state
        self.handler = handler
        self.client = client
        self.sim_client = sim_client

    @contextmanager
    def server(self) -> Iterator[LineServer]:
        """The student's server, running; a handler's exception is raised at the end.

        A handler that raised explains everything the check saw afterwards (no reply, a
        closed connection), so its exception is what the report shows.
        """
        with serve(self.handler, self.state()) as server:
            try:
                yield server
            except BaseException:
                if server.errors:
                    raise server.errors[0] from None
                raise
            if server.errors:
                raise server.errors[0]

    @contextmanager
    def connected_client(self, port: int, *, timeout: float, retries: int) -> Iterator[Any]:
        """The student's client of ``127.0.0.1:port``, closed at the end if all went well.

        After a failure it is left alone: one of its calls may still be stuck on a socket
        (closing it from here would wait for that call); the check's proxy and server close
        those sockets, and the stuck call then ends by itself.
        """
        client = self.client(HOST, port, timeout=timeout, retries=retries, client_id="c1")
        yield client
        _within(CALL_LIMIT, "client.close()", client.close)

    def conversation(self, description: str, script: Sequence[tuple[int, str, str]],
                     time_limit: float = 10.0) -> Trial:
        """A check that sends the ``(connection, request, expected reply)`` steps of
        ``script`` to the student's server, and judges the replies."""
        def body() -> list[Any]:
            with self.server() as server:
                return _conversation(server.port, script)

        expected = [(request, reply) for _, request, reply in script]
        return Trial(body, time_limit,
                     judge=lambda replies: _judge_replies(description, expected, replies))

    # -- part A: the server ----------------------------------------------------------------
    @graded(part="A", seeds=1, description="GET, PUT and APPEND over one connection are "
            "answered as the protocol says")
    def test_commands_A(self, seed: int) -> Trial:
        return self.conversation("the server answers each command as the protocol says", [
            (0, request, reply) for request, reply in [
                ("GET x", "NOTFOUND"), ("PUT x 1", "OK"), ("GET x", "VALUE 1"),
                ("PUT x 2", "OK"), ("GET x", "VALUE 2"), ("APPEND log a;", "OK"),
                ("APPEND log b;", "OK"), ("GET log", "VALUE a;b;"),
                ("APPEND x 3", "OK"), ("GET x", "VALUE 23")]])

    @graded(part="A", seeds=1, description="a malformed request gets an ERROR reply that "
            "says why, and the connection goes on")
    def test_bad_requests_A(self, seed: int) -> Trial:
        return self.conversation(
            "a bad request is answered with ERROR and a reason, and the connection stays "
            "usable",
            [(0, request, "ERROR") for request in ["HELLO", "GET", "PUT x", "APPEND log",
                                                  "PUT x 1 2", ""]]
            + [(0, "PUT x 1", "OK"), (0, "GET x", "VALUE 1")])

    @graded(part="A", seeds=1, description="several requests sent at once are answered in "
            "order")
    def test_pipelined_requests_A(self, seed: int) -> Trial:
        requests = ["PUT a 1", "PUT b 2", "GET a", "APPEND a 0", "GET a", "GET b"]
        expected = ["OK", "OK", "VALUE 1", "OK", "VALUE 10", "VALUE 2"]
        description = "requests sent together get their replies in order"
        advice = ("A read from a socket may hold several lines, or part of one: read lines "
                  "(self.rfile), not chunks")

        def body() -> list[Any]:
            with self.server() as server, _Connection(server.port) as c:
                c.send("".join(line + "\n" for line in requests))   # one write: one chunk
                return _replies(c.read, requests)

        def judge(replies: Any) -> Violation | None:
            if type(replies) is not list:
                raise ValueError("the replies are not a list")
            got = [_reply(observed) for observed in replies]
            if None in got:
                return _violation(description, f"{replies[got.index(None)][1]}, after the six "
                                               f"requests {requests} were sent in one write. "
                                               f"{advice}")
            if got != expected:
                return _violation(description, f"the six requests {requests} sent in one write "
                                               f"got {got}; expected {expected}. {advice}")
            return None

        return Trial(body, judge=judge)

    @graded(part="A", seeds=1, description="three connections at once share one store")
    def test_many_connections_A(self, seed: int) -> Trial:
        return self.conversation("every connection sees the same data", [
            (0, "PUT k one", "OK"), (1, "GET k", "VALUE one"), (2, "APPEND k two", "OK"),
            (0, "GET k", "VALUE onetwo"), (1, "PUT k three", "OK"), (2, "GET k", "VALUE three")])

    @graded(part="A", seeds=1, description=f"{WRITERS} connections appending to one key at "
            f"once lose no append (the store's lock)")
    def test_concurrent_appends_A(self, seed: int) -> Trial:
        description = "appends from many connections at once are all applied"
        total = WRITERS * APPENDS

        def body() -> list[Any]:
            replies = []
            for _ in range(ROUNDS):
                replies.append(_appends_at_once(self.state()))
                if replies[-1] != "VALUE " + "x" * total:
                    break
            return replies

        def judge(replies: Any) -> Violation | None:
            if type(replies) is not list or not 0 < len(replies) <= ROUNDS:
                raise ValueError("the replies are not a list of rounds")
            for reply in replies:
                if reply == "VALUE " + "x" * total:
                    continue
                got = (f"a value of {len(reply) - len('VALUE ')} characters"
                       if type(reply) is str and reply.startswith("VALUE ") else repr(reply))
                return _violation(description, (
                    f"{WRITERS} threads called execute('APPEND k x') {APPENDS:,} times each, "
                    f"all at once, as {WRITERS} connections would; then GET k was answered "
                    f"{got}, not the {total:,} x's appended: appends were lost. Two threads "
                    f"that read the old value at the same moment each write back their own "
                    f"append, and one of them is lost: apply every command while holding the "
                    f"store's lock (with self.lock: ...)"))
            if len(replies) < ROUNDS:
                raise ValueError("fewer rounds than made, and none lost an append")
            return None

        return Trial(body, judge=judge)

    # -- part B: the client ----------------------------------------------------------------
    @graded(part="B", seeds=1, description="through a slow network (40 ms each way), every "
            "call returns the right answer")
    def test_answers_through_a_slow_network_B(self, seed: int) -> Trial:
        description = "the client's calls return what the server answered"
        expected = [("get('x')", None), ("put('x', '1')", None), ("get('x')", "1"),
                    ("append('x', '2')", None), ("get('x')", "12")]

        def body() -> list[tuple]:
            with self.server() as server, \
                    FaultProxy(0, HOST, server.port, delay_ms=40, jitter_ms=10,
                               seed=seed) as proxy:
                with self.connected_client(proxy.port, timeout=2.0, retries=1) as client:
                    return _calls(("get('x')", lambda: client.get("x")),
                                  ("put('x', '1')", lambda: client.put("x", "1")),
                                  ("get('x')", lambda: client.get("x")),
                                  ("append('x', '2')", lambda: client.append("x", "2")),
                                  ("get('x')", lambda: client.get("x")))

        return Trial(body, time_limit=30, judge=lambda outcomes: _judge_calls(
            description, expected, outcomes,
            " (the calls: get x, put x 1, get x, append x 2, get x)"))

    @graded(part="B", seeds=1, description="when replies take longer than the timeout, the "
            "client gives up after its retries, in about (retries + 1) x timeout")
    def test_timeout_is_respected_B(self, seed: int) -> Trial:
        timeout, retries, delay_ms = 0.2, 2, 1_000
        description = "the client waits its timeout on each attempt, then gives up"
        what = "get('x') with replies 2 s late"

        def body() -> tuple:
            with self.server() as server, \
                    FaultProxy(0, HOST, server.port, delay_ms=delay_ms, seed=seed) as proxy:
                with self.connected_client(proxy.port, timeout=timeout,
                                           retries=retries) as client:
                    return _call(what, lambda: client.get("x"))

        def judge(outcome: Any) -> Violation | None:
            wrong = _judge_gives_up(description, "get('x')", outcome)
            if wrong is not None:
                return wrong
            _, made, _, seconds = outcome
            attempts = retries + 1
            if made != attempts:
                return _violation(description, f"ServerUnavailable says {_attempts(made)}; "
                                               f"with retries={retries} the client makes "
                                               f"{attempts}")
            lowest, highest = 0.8 * attempts * timeout, attempts * timeout + 3.0
            if seconds < lowest:
                return _violation(description, (
                    f"the client gave up after {seconds:.2f} s, before {attempts} attempts x "
                    f"timeout {timeout:g} s = {attempts * timeout:.1f} s: does each attempt "
                    f"wait for its reply for the whole timeout, on a new connection (a socket "
                    f"that timed out is in an unknown state: close it)?"))
            if seconds > highest:
                return _violation(description, (
                    f"the client gave up only after {seconds:.1f} s, although {attempts} "
                    f"attempts x timeout {timeout:g} s take {attempts * timeout:.1f} s: is the "
                    f"timeout set on the socket before each read?"))
            return None

        return Trial(body, time_limit=30, judge=judge)

    @graded(part="B", seeds=1, description="a lost reply (connection reset, or silence) is "
            "retried over a new connection")
    def test_lost_reply_is_retried_B(self, seed: int) -> Trial:
        description = "a read whose reply was lost is retried, and returns the value"
        lost = {"reset": "the connection breaks", "stall": "the connection goes silent"}
        expected = [("put('x', '1')", None)] + [
            (f"get('x') whose reply is lost ({why})", "1") for why in lost.values()]

        def body() -> dict[str, Any]:
            with self.server() as server, FaultProxy(0, HOST, server.port, seed=seed) as proxy:
                with self.connected_client(proxy.port, timeout=0.5, retries=2) as client:
                    calls = [_call(expected[0][0], lambda: client.put("x", "1"))]
                    for (what, _), mode in zip(expected[1:], lost):
                        if calls[-1][0] != "returned":
                            break
                        proxy.drop_replies(1, mode=mode)
                        calls.append(_call(what, lambda: client.get("x")))
                return {"calls": calls, "lost": proxy.stats()["dropped_replies"]}

        def judge(observed: Any) -> Violation | None:
            wrong = _judge_calls(description, expected, observed["calls"])
            if wrong is not None:
                return wrong
            if observed["lost"] != 2:
                return _violation(description, f"the proxy lost {observed['lost']} replies "
                                               f"instead of 2: does get ask the server every "
                                               f"time?")
            return None

        return Trial(body, time_limit=30, judge=judge)

    @graded(part="B", seeds=1, description="with no server at all, the client raises "
            "ServerUnavailable naming the address")
    def test_server_down_B(self, seed: int) -> Trial:
        description = "with the server down, the client raises ServerUnavailable"

        def body() -> tuple[int, tuple]:
            port = free_ports(1)[0]          # nothing listens there
            with self.connected_client(port, timeout=0.5, retries=2) as client:
                return port, _call("get('x') with the server down", lambda: client.get("x"))

        def judge(observed: Any) -> Violation | None:
            port, outcome = observed
            wrong = _judge_gives_up(description, "get('x')", outcome)
            if wrong is not None:
                return wrong
            _, made, message, _ = outcome
            if made != 3:
                return _violation(description, f"ServerUnavailable says {_attempts(made)}; "
                                               f"with retries=2 the client makes 3")
            if f"{HOST}:{port}" not in message:
                return _violation(description, f"the message {message!r} does not name the "
                                               f"server's address {HOST}:{port}")
            return None

        return Trial(body, time_limit=30, judge=judge)

    # -- part C: at most once --------------------------------------------------------------
    @graded(part="C", seeds=1, description="the server applies each request id once, and "
            "answers a repeat from its table")
    def test_repeated_request_is_applied_once_C(self, seed: int) -> Trial:
        return self.conversation("a request id is applied at most once", [
            (0, "c7:1 APPEND k x;", "c7:1 OK"),
            (0, "c7:1 APPEND k x;", "c7:1 OK"),        # a retry
            (0, "c7:2 GET k", "c7:2 VALUE x;"),
            (0, "c8:1 APPEND k y;", "c8:1 OK"),        # another client's #1
            (0, "c7:3 APPEND k z;", "c7:3 OK"),
            (1, "c7:3 APPEND k z;", "c7:3 OK"),        # retries come on a new connection
            (1, "GET k", "VALUE x;y;z;"),
            (1, "PUT k w", "OK"),                      # no id: as in part A
            (1, "c7:4 GET k", "c7:4 VALUE w")])

    @graded(part="C", seeds=1, description="end to end: appends whose replies are lost "
            "(reset, then silence) are applied exactly once")
    def test_retried_append_is_applied_once_C(self, seed: int) -> Trial:
        description = "each append is applied once, although replies were lost"
        calls = [("put('log', 'a;')", None), ("append('log', 'b;') whose reply is lost", None),
                 ("append('log', 'c;') whose reply is lost", None)]

        def body() -> list[tuple]:
            with self.server() as server, FaultProxy(0, HOST, server.port, seed=seed) as proxy:
                with self.connected_client(proxy.port, timeout=0.5, retries=3) as client:
                    def lose_reply_of(mode: str, token: str) -> Callable[[], None]:
                        def append() -> None:
                            proxy.drop_replies(1, mode=mode)
                            client.append("log", token)
                        return append

                    return _calls((calls[0][0], lambda: client.put("log", "a;")),
                                  (calls[1][0], lose_reply_of("reset", "b;")),
                                  (calls[2][0], lose_reply_of("stall", "c;")),
                                  ("get('log')", lambda: client.get("log")))

        def judge(outcomes: Any) -> Violation | None:
            wrong = _judge_calls(description, calls, outcomes[:3], gave_up=GAVE_UP_WITH_IDS)
            if wrong is not None:
                return wrong
            if len(outcomes) != 4:
                raise ValueError("the calls observed are not the four made")
            if outcomes[3][0] != "returned":
                return _judge_returned(description, "get('log')", outcomes[3], "a;b;c;",
                                       gave_up=GAVE_UP_WITH_IDS)
            got = outcomes[3][1]
            if got == "a;b;c;":
                return None
            hint = ("a retried APPEND was applied twice: the retry must carry the same "
                    "request id as the first attempt, and the server must answer it "
                    "from its table" if type(got) is str and len(got) > len("a;b;c;") else
                    "an append is missing: does each new call get a new request number?")
            return _violation(description, f"after put a;, append b; (reply lost, reset) and "
                                           f"append c; (reply lost, silence), the log reads "
                                           f"{got!r}; expected 'a;b;c;': {hint}")

        return Trial(body, time_limit=30, judge=judge)

    @graded(part="C", seeds=1, description="a reply that carries another request's id is not "
            "taken for the call's own")
    def test_reply_to_another_request_is_not_taken_C(self, seed: int) -> Trial:
        description = "the client takes only the reply that carries its call's request id"

        def body() -> dict[str, Any]:
            heard: list[str] = []
            with serve(_StaleFirst, heard) as server:
                with self.connected_client(server.port, timeout=0.5, retries=2) as client:
                    outcome = _call("get('x')", lambda: client.get("x"))
            return {"call": outcome, "heard": list(heard)}

        def judge(observed: Any) -> Violation | None:
            heard = observed["heard"]
            if len(heard) > 1 and len(set(heard)) == len(heard):
                return _violation(description, (
                    f"the attempts of one call of get('x') sent {heard}: every retry of a "
                    f"call must send the very same line, with the same request id, so that "
                    f"the server can tell a retry from a new request"))
            first = f"; the request lines the server got: {heard}" if heard else ""
            wrong = _judge_returned(description, "get('x')", observed["call"], "fresh", first)
            if wrong is None or observed["call"][0] != "returned" or not heard:
                return wrong
            request_id, _ = split_id(heard[0])
            stale = with_id(RequestId(request_id.client, request_id.seq - 1), "VALUE stale") \
                if request_id is not None else "(none: the request had no id)"
            return _violation(description, (
                f"the server answered the first attempt of get('x') ({heard[0]!r}) with "
                f"{stale!r}, the reply to an earlier request, and get('x') returned "
                f"{observed['call'][1]!r}. A reply is for this call only if split_id(reply) "
                f"gives back the call's own id: count any other as a failed attempt, and "
                f"try again on a new connection (the server here then answers 'fresh')"))

        return Trial(body, time_limit=30, judge=judge)

    # -- part D: the same logic in the simulator --------------------------------------------
    def cluster(self, sim: Simulation, clients: int = 3, ops: int = 15) -> None:
        """The server and ``clients`` simulated clients (the student's ``SimKVClient``)."""
        sim.add_node(KVServerNode, "server", state=self.state)
        for n in range(1, clients + 1):
            sim.add_node(self.sim_client, f"c{n}", ops=ops)

    @graded(part="D", seeds=20, description="the server, then one client, cut off by "
            "partitions, 10% loss: every operation completes after the heal, each applied once")
    def test_partitioned_clients_D(self, seed: int) -> Scenario:
        rng = stream(seed, "lab1-partitions")
        first = rng.uniform(30, 120)
        second = first + 300 + rng.uniform(50, 150)

        def setup(sim: Simulation) -> None:
            self.cluster(sim)
            plan = FaultPlan().partition(first, {"server"}, {"c1", "c2", "c3"}).heal(first + 300)
            plan.partition(second, {"c1"}, {"server", "c2", "c3"}).heal(second + 300)
            plan.install(sim)

        return Scenario(setup, run_for=15_000,
                        network=Network(latency=Uniform(1, 10), loss=0.1),
                        properties=[EveryOperationCompletes(), Linearizable(kv.MODEL.name)])

    @graded(part="D", seeds=20, description="slow, duplicated and reordered messages: late "
            "replies are not taken for the replies of later requests")
    def test_late_replies_D(self, seed: int) -> Scenario:
        return Scenario(self.cluster, run_for=15_000,
                        network=Network(latency=Uniform(1, 90), loss=0.1, duplicate=0.2,
                                        reorder=0.2),
                        properties=[EveryOperationCompletes(), Linearizable(kv.MODEL.name)])
