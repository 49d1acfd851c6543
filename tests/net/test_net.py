"""Tests of distlab.net: real processes over loopback TCP, the fault proxy, the netns demo.

Every wait is bounded (and each test has a pytest-timeout), every process is stopped in a
``finally``, and no test asserts an upper bound on a wall-clock time: only lower bounds
("the round trip took at least the added delay"), which a slow machine cannot break.
"""

from __future__ import annotations

import asyncio
import enum
import io
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest

from distlab.net import (AddressError, ClusterError, Codec, CodecError, EchoServer, EndpointError,
                         FaultProxy, PortInUseError, measure_rtts, parse_address, parse_peers,
                         start_cluster)
from distlab.net.addresses import free_ports, parse_tool_address
from distlab.net.demo import Pinger
from distlab.net.host import NodeHost
from distlab.net.rtt import connect, round_trip
from distlab.sim import Simulation

pytestmark = pytest.mark.timeout(30)

REPO = Path(__file__).resolve().parents[2]
PINGER = "distlab.net.demo:Pinger"


# -- helpers -----------------------------------------------------------------------------------
def run_cli(*args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "distlab.net", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


class NodeProcess:
    """One ``python -m distlab.net run`` process started by hand, with its output in a file."""

    def __init__(self, tmp_path: Path, node_id: str, port: int, peers: str) -> None:
        self.log = tmp_path / f"{node_id}.out"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "distlab.net", "run", "--node-class", PINGER,
                 "--id", node_id, "--listen", f"127.0.0.1:{port}", "--peers", peers,
                 "--data-dir", str(tmp_path), "--arg", "interval=30"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.proc.poll() is None, f"process exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"{text!r} not logged:\n{self.output()}"
            time.sleep(0.02)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator:
    """Start clusters in the test; every one is stopped afterwards, whatever happened."""
    clusters = []

    def start(ids: list[str], **kwargs):
        kwargs.setdefault("data_dir", tmp_path / "cluster")
        kwargs.setdefault("args", {"interval": 30})
        cluster = start_cluster(PINGER, ids, **kwargs)
        clusters.append(cluster)
        return cluster

    try:
        yield start
    finally:
        for cluster in clusters:
            cluster.stop()


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def round_trips_logged(output: str, peer: str) -> list[float]:
    return [float(ms) for ms in re.findall(rf"pong src={peer} seq=\d+ round_trip_ms=([\d.]+)",
                                           output)]


# -- the codec ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Vote:
    term: int
    candidate: str
    granted: bool


@dataclass(frozen=True)
class Entries:
    entries: tuple[Vote, ...]
    tags: frozenset[str]
    blob: bytes


class Point(NamedTuple):
    x: int
    y: float


class Role(enum.Enum):
    LEADER = "leader"
    FOLLOWER = "follower"


@dataclass
class Mutable:
    items: list[int]


CODEC = Codec([Vote, Entries, Point, Role, Mutable])


@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, "héllo", b"\x00\xff", (1, "a", (2.0, None)), frozenset({1, 2}),
    Vote(3, "b", True), Entries((Vote(1, "a", False),), frozenset({"x"}), b"raw"),
    Point(1, 2.5), Role.LEADER, 2 + 3j,
])
def test_codec_round_trips_every_kind_of_message(value: object) -> None:
    frame = CODEC.encode_message("a", value)
    assert CODEC.decode_message(frame[4:]) == ("a", value)
    decoded = CODEC.decode_message(frame[4:])[1]
    assert type(decoded) is type(value)


def test_codec_round_trips_mutable_storage() -> None:
    storage = {"log": [Vote(1, "a", True)], "votes": {("a", 1): Role.FOLLOWER}, "seen": {1, 2},
               "state": Mutable([1, 2])}
    assert CODEC.decode(CODEC.encode(storage)) == storage


@pytest.mark.parametrize("msg, advice", [
    ([1, 2], "use a tuple"), ({"a": 1}, "use a tuple"), ({1}, "use a tuple, frozenset"),
    (Mutable([1]), "not frozen"), (Vote(1, "a", [True]), "the message.granted"),
])
def test_codec_refuses_mutable_messages_and_says_what_to_use(msg: object, advice: str) -> None:
    with pytest.raises(CodecError, match=re.escape(advice)):
        CODEC.encode_message("a", msg)


def test_codec_refuses_classes_it_was_not_told_about() -> None:
    @dataclass(frozen=True)
    class Secret:
        x: int

    with pytest.raises(CodecError, match="does not know"):
        CODEC.encode_message("a", Secret(1))
    with pytest.raises(CodecError, match="a class this node does not know"):
        CODEC.decode({"$type": "os.system", "fields": {}})


BAD_MESSAGES = [
    ('{"$type": "Vote", "fields": {"term": 1, "ballot": 2}}', "unexpected keyword"),
    ('{"$type": "Role", "member": "KING"}', "KING"),
    ('{"$bytes": "not base64!"}', "base64|padding|Invalid"),
    ('{"$complex": ["a", "b"]}', "complex"),
    ('{"$set": [[1]]}', "unhashable"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply|recursion"),
]


@pytest.mark.parametrize("msg, reason", BAD_MESSAGES)
def test_codec_turns_any_malformed_message_into_a_codec_error(msg: str, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        CODEC.decode_message(f'{{"src": "a", "msg": {msg}}}'.encode())


def test_codec_for_node_class_finds_the_message_classes_of_its_module() -> None:
    from distlab.net.demo import Ping, Pinger, Pong

    codec = Codec.for_node_class(Pinger)
    assert codec.classes["Ping"] is Ping and codec.classes["Pong"] is Pong


# -- addresses ---------------------------------------------------------------------------------
def test_peer_specs_parse() -> None:
    assert parse_peers("b=127.0.0.1:9002, c=127.0.0.1:9003") == {
        "b": ("127.0.0.1", 9002), "c": ("127.0.0.1", 9003)}
    assert parse_peers("") == {}
    assert parse_address("[::1]:9001") == ("::1", 9001)


@pytest.mark.parametrize("spec, message", [
    ("b127.0.0.1:9002", "expected ID=HOST:PORT"),
    ("b=127.0.0.1", "expected HOST:PORT"),
    ("b=127.0.0.1:http", "is not a number"),
    ("b=127.0.0.1:70000", "between 0 and 65535"),
    ("b=10.0.0.5:9002", "only uses loopback"),
    ("b=127.0.0.1:1,b=127.0.0.1:2", "given twice"),
])
def test_bad_peer_specs_get_clear_errors(spec: str, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        parse_peers(spec)


def test_cli_reports_a_bad_peer_spec_and_exits_2() -> None:
    result = run_cli("run", "--node-class", PINGER, "--id", "a", "--listen", "127.0.0.1:0",
                     "--peers", "b=localhost")
    assert result.returncode == 2
    assert "bad address of peer 'b'" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["echo-server", "--listen", "0.0.0.0:0"], "0.0.0.0 means every interface"),
    (["echo-server", "--listen", "0.0.0.0:0", "--allow-private"], "means every interface"),
    (["echo-server", "--listen", "[::]:0", "--allow-private"], ":: means every interface"),
    (["echo-server", "--listen", "10.0.0.1:0"], "add --allow-private to allow a private"),
    (["echo-server", "--listen", "[::1]:0"], "the echo server speaks IPv4 only"),
    (["echo-server", "--listen", "example.org:0"], "'example.org' is not an IP address"),
    (["rtt", "--connect", "192.168.1.1:7"], "add --allow-private"),
])
def test_the_measuring_tools_stay_on_loopback_unless_told(args: list[str], message: str) -> None:
    result = run_cli(*args, timeout=5)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_allow_private_admits_a_private_address_but_not_a_public_one() -> None:
    assert parse_tool_address("10.213.77.2:7000", what="x", allow_private=True) == (
        "10.213.77.2", 7000)
    with pytest.raises(AddressError, match="only loopback addresses"):
        parse_tool_address("8.8.8.8:53", what="x", allow_private=True)


def test_cli_reports_a_node_class_that_cannot_be_imported() -> None:
    result = run_cli("run", "--node-class", "no_such_module:Node", "--id", "a",
                     "--listen", "127.0.0.1:0")
    assert result.returncode == 2
    assert "cannot import module 'no_such_module'" in result.stderr


# -- real node processes -----------------------------------------------------------------------
def test_the_demo_node_class_also_runs_in_the_simulator() -> None:
    from distlab.net.demo import Pinger

    sim = Simulation(seed=1)
    sim.add_nodes(Pinger, ["a", "b", "c"], interval=100)
    sim.run(until=500)
    notes = [event.data for event in sim.trace.of_kind("note") if event.node == "a"]
    assert notes[0].what == "boot" and notes[0]["boots"] == 1
    assert any(note.what == "pong" and note["src"] == "b" for note in notes)


def test_three_nodes_exchange_pings_and_pongs_both_ways(cluster_factory) -> None:
    cluster = cluster_factory(["a", "b", "c"])
    for node in "abc":
        for peer in "abc".replace(node, ""):
            # node pinged peer, and peer's pong came back: both directions of the link work
            cluster.wait_for_output(node, f"pong src={peer}")
    assert all(cluster.is_alive(node) for node in "abc")


def test_kill_9_and_restart_recovers_storage(cluster_factory) -> None:
    cluster = cluster_factory(["a", "b", "c"])
    cluster.wait_for_output("b", "pong src=a")
    assert cluster.storage("b") == {"boots": 1}

    assert cluster.kill("b", signal.SIGKILL) == -signal.SIGKILL
    assert not cluster.is_alive("b")
    assert cluster.is_alive("a") and cluster.is_alive("c")

    cluster.restart("b")
    assert cluster.wait_for_output("b", "boot ").endswith("boot boots=2")  # read back from disk
    assert cluster.storage("b") == {"boots": 2}   # on disk before on_start's log line shows
    # The restarted b talks with a and c again (its pings out, their pongs back).
    cluster.wait_for_output("b", "pong src=a")
    cluster.wait_for_output("b", "pong src=c")
    assert "boot boots=1" in cluster.output("b", all_runs=True)


def test_messages_and_storage_of_every_kind_cross_real_tcp_and_disk(tmp_path: Path) -> None:
    from net_nodes import Kind, Note

    with start_cluster("net_nodes:Recorder", ["a", "b"], data_dir=tmp_path) as cluster:
        for node in "ab":
            cluster.wait_for_output(node, "note from src=a")    # a message to itself, too
            cluster.wait_for_output(node, "note from src=b")
        # A handler's log lines are shown only once the storage it changed is on disk.
        storage = cluster.storage("a")
    assert storage == {
        "a": Note("hello from a", frozenset({"a", "x"}), b"\x00\xff", Kind.GREETING, ("a", "b")),
        "b": Note("hello from b", frozenset({"b", "x"}), b"\x00\xff", Kind.GREETING, ("b", "a")),
    }


def test_a_handler_that_sends_a_list_crashes_the_node_with_the_simulators_advice(
        tmp_path: Path) -> None:
    with start_cluster("net_nodes:MutableSender", ["a"], data_dir=tmp_path) as cluster:
        assert cluster.wait_for_exit("a") == 1
        output = cluster.output("a")
    assert "the node crashed" in output and "MessageError" in output
    assert "use a tuple instead of a list" in output


def test_a_node_started_by_a_cluster_exits_when_its_parent_goes(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "distlab.net", "run", "--node-class", PINGER, "--id", "a",
         "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path), "--exit-with-parent"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert "listening on" in proc.stdout.readline().decode()
        proc.stdin.close()                   # what the OS does when the parent dies
        assert proc.wait(5) == 0
        assert "standard input closed" in proc.stdout.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_sigterm_shuts_a_node_down_cleanly(cluster_factory) -> None:
    cluster = cluster_factory(["a", "b"])
    cluster.wait_for_output("a", "pong src=b")
    assert cluster.kill("a", signal.SIGTERM) == 0
    assert "received SIGTERM" in cluster.output("a")
    assert "stopped (exit code 0)" in cluster.output("a")
    cluster.wait_for_output("b", "peer a at 127.0.0.1")   # b notices, logs it, carries on
    assert cluster.is_alive("b")
    assert cluster.stop() == {"a": 0, "b": 0}


def test_unreachable_peer_does_not_crash_the_sender_and_is_retried(tmp_path: Path) -> None:
    port_a, port_b = free_ports(2)
    a = NodeProcess(tmp_path, "a", port_a, f"b=127.0.0.1:{port_b}")
    b = None
    try:
        a.wait_for(f"peer b at 127.0.0.1:{port_b} is unreachable")
        a.wait_for("boot boots=1")
        time.sleep(0.3)                     # several more ticks, each sending to nobody
        assert a.proc.poll() is None
        b = NodeProcess(tmp_path, "b", port_b, f"a=127.0.0.1:{port_a}")
        a.wait_for("peer b is reachable again")
        a.wait_for("pong src=b")
    finally:
        codes = [a.stop(), b.stop() if b else 0]
    assert codes == [0, 0]


def test_a_peer_back_after_a_long_outage_hears_again_within_a_heartbeat(tmp_path: Path) -> None:
    """A node whose peer was down for seconds reaches it again soon after it comes back: a
    pause before the next try that grew to a second left a restarted Raft follower deaf to
    its leader past its election timeout (page 05.06's stalls after a restart)."""
    port_a, port_b = free_ports(2)
    pinger = NodeHost(Pinger, "a", ("127.0.0.1", port_a), {"b": ("127.0.0.1", port_b)},
                      data_dir=tmp_path, node_args={"interval": 30}, out=io.StringIO())
    connected = asyncio.Event()

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        writer.close()

    async def outage_then_return() -> float:
        serving = asyncio.ensure_future(pinger.serve(install_signal_handlers=False))
        await asyncio.sleep(2.0)       # b is down: two seconds of pings every 30 ms fail
        back = await asyncio.start_server(accept, "127.0.0.1", port_b)   # b listens again
        returned = time.monotonic()
        try:
            await asyncio.wait_for(connected.wait(), 2.0)
            return time.monotonic() - returned
        finally:
            back.close()
            pinger.stop()
            await serving

    deaf_for = asyncio.run(outage_then_return())
    assert deaf_for < 0.25, f"a reached b {deaf_for:.2f} s after b was back"


def test_port_taken_gives_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run_cli("run", "--node-class", PINGER, "--id", "a",
                         "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path))
        assert result.returncode == 2
        assert (f"port {port} on 127.0.0.1 is taken: choose another with --listen "
                f"or stop the process using it") in result.stderr

        with pytest.raises(ClusterError, match=f"port {port} on 127.0.0.1 is taken"):
            start_cluster(PINGER, ["a"], base_port=port, data_dir=tmp_path / "c")


def test_a_route_through_the_proxy_delays_the_messages_of_that_link(cluster_factory) -> None:
    port_a, port_b = free_ports(2)
    with FaultProxy(0, "127.0.0.1", port_b, delay_ms=40) as proxy:
        cluster = cluster_factory(["a", "b"], ports={"a": port_a, "b": port_b},
                                  routes={("a", "b"): proxy.port})
        # a's messages to b go through the proxy, so every a->b->a round trip is >= 40 ms.
        deadline = time.monotonic() + 10
        while len(rtts := round_trips_logged(cluster.output("a"), "b")) < 3:
            assert time.monotonic() < deadline, cluster.output("a")
            time.sleep(0.05)
        assert min(rtts) >= 40
        assert proxy.stats()["bytes_to_target"] > 0


# -- the fault proxy ---------------------------------------------------------------------------
def test_proxy_adds_at_least_twice_the_delay_to_each_round_trip(echo_server) -> None:
    with FaultProxy(0, "127.0.0.1", echo_server.port, delay_ms=30) as proxy:
        rtts = measure_rtts("127.0.0.1", proxy.port, count=4)
        assert min(rtts) >= 2 * 30 - 0.5       # 30 ms each way (0.5 ms for clock rounding)
        proxy.delay_ms = 60                     # settings change while it runs
        rtts = measure_rtts("127.0.0.1", proxy.port, count=2)
        assert min(rtts) >= 2 * 60 - 0.5


def test_proxy_cut_makes_requests_time_out_and_heal_restores_them(echo_server) -> None:
    with FaultProxy(0, "127.0.0.1", echo_server.port) as proxy:
        with connect("127.0.0.1", proxy.port) as sock:
            round_trip(sock, b"before\n")
            proxy.cut()
            assert proxy.is_cut
            with pytest.raises(TimeoutError):
                round_trip(sock, b"during\n", timeout=0.3)
            with pytest.raises(TimeoutError):   # a new connection hangs as well
                measure_rtts("127.0.0.1", proxy.port, count=1, timeout=0.3)
            proxy.heal()
            assert sock.recv(100) == b"during\n"   # the stalled request arrives after all
            round_trip(sock, b"after\n")
        assert measure_rtts("127.0.0.1", proxy.port, count=2)


def test_proxy_reset_cut_resets_connections_until_healed(echo_server) -> None:
    with FaultProxy(0, "127.0.0.1", echo_server.port) as proxy:
        with connect("127.0.0.1", proxy.port) as sock:
            round_trip(sock, b"before\n")
            proxy.cut(mode="reset")
            with pytest.raises(ConnectionError):
                round_trip(sock, b"during\n", timeout=2)
        with pytest.raises(ConnectionError):
            measure_rtts("127.0.0.1", proxy.port, count=1, timeout=2)
        proxy.heal()
        assert len(measure_rtts("127.0.0.1", proxy.port, count=2)) == 2


def test_proxy_drop_decisions_repeat_with_the_same_seed(echo_server) -> None:
    def outcomes(seed: int) -> list[bool]:
        with FaultProxy(0, "127.0.0.1", echo_server.port, drop_probability=0.5,
                        seed=seed) as proxy:
            result = []
            for _ in range(12):
                try:
                    measure_rtts("127.0.0.1", proxy.port, count=1, timeout=2)
                    result.append(True)
                except ConnectionError:
                    result.append(False)
            assert proxy.stats()["dropped_connections"] == result.count(False)
            return result

    first = outcomes(seed=7)
    assert outcomes(seed=7) == first
    assert True in first and False in first


def test_proxy_counts_bytes_in_each_direction(echo_server) -> None:
    with FaultProxy(0, "127.0.0.1", echo_server.port) as proxy:
        with connect("127.0.0.1", proxy.port) as sock:
            round_trip(sock, b"x" * 99 + b"\n")
        stats = proxy.stats()
        assert stats["bytes_to_target"] == 100 and stats["bytes_to_client"] == 100
        assert stats["connections"] == 1


def test_proxy_port_taken_gives_a_clear_error(echo_server) -> None:
    proxy = FaultProxy(echo_server.port, "127.0.0.1", 1)
    with pytest.raises(PortInUseError,
                       match=f"port {echo_server.port} on 127.0.0.1 is taken: choose another"):
        proxy.start()


@pytest.mark.parametrize("setting, value", [
    ("delay_ms", -1), ("jitter_ms", -5), ("drop_probability", 1.5)])
def test_proxy_refuses_impossible_settings(setting: str, value: float) -> None:
    proxy = FaultProxy(0, "127.0.0.1", 1)
    with pytest.raises(ValueError, match=setting):
        setattr(proxy, setting, value)



class _CountingServer:
    """A line server that answers each line with how many lines it has handled so far."""

    def __init__(self) -> None:
        import socketserver
        import threading

        handled = self.handled = [0]

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for _ in self.rfile:
                    handled[0] += 1
                    self.wfile.write(f"{handled[0]}\n".encode())

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def __enter__(self) -> _CountingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def ask(sock: socket.socket, line: bytes, timeout: float = 2.0) -> bytes:
    """Send one line, return the reply line (raises TimeoutError / ConnectionError)."""
    sock.settimeout(timeout)
    sock.sendall(line)
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = sock.recv(100)
        if not chunk:
            raise ConnectionError("closed")
        reply += chunk
    return reply


def test_proxy_drop_replies_loses_replies_of_requests_the_server_handled() -> None:
    with _CountingServer() as server, FaultProxy(0, "127.0.0.1", server.port) as proxy:
        # reset mode: the first reply passes, the second is lost and its connection reset
        proxy.drop_replies(1, after=1)
        with connect("127.0.0.1", proxy.port) as sock:
            assert ask(sock, b"a\n") == b"1\n"
            with pytest.raises(ConnectionError):
                ask(sock, b"b\n")
        with connect("127.0.0.1", proxy.port) as sock:
            assert ask(sock, b"c\n") == b"3\n"   # the lost reply's request was handled
        assert proxy.stats()["dropped_replies"] == 1

        # stall mode: the reply vanishes and that connection stays silent for good
        proxy.drop_replies(1, mode="stall")
        with connect("127.0.0.1", proxy.port) as sock:
            with pytest.raises(TimeoutError):
                ask(sock, b"d\n", timeout=0.3)
            with pytest.raises(TimeoutError):
                ask(sock, b"e\n", timeout=0.3)
        with connect("127.0.0.1", proxy.port) as sock:   # a new connection is fine
            assert ask(sock, b"f\n") == b"6\n"
            assert ask(sock, b"g\n") == b"7\n"   # and the plan is used up
        assert proxy.stats()["dropped_replies"] == 2
        assert server.handled[0] == 7


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "sometimes"}, "unknown mode"), ({"count": -1}, "count"), ({"after": 1.5}, "after")])
def test_proxy_drop_replies_refuses_impossible_plans(kwargs: dict, message: str) -> None:
    proxy = FaultProxy(0, "127.0.0.1", 1)
    with pytest.raises(ValueError, match=message):
        proxy.drop_replies(**kwargs)

def test_cli_tools_measure_round_trips_through_a_delaying_proxy() -> None:
    echo_port, proxy_port = free_ports(2)
    tools = [
        subprocess.Popen([sys.executable, "-m", "distlab.net", "echo-server",
                          "--listen", f"127.0.0.1:{echo_port}"], stdout=subprocess.PIPE),
        subprocess.Popen([sys.executable, "-m", "distlab.net", "proxy", "--listen",
                          str(proxy_port), "--target", f"127.0.0.1:{echo_port}", "--delay", "20"],
                         stdout=subprocess.PIPE),
    ]
    try:
        for tool in tools:                       # each prints one line once it listens
            assert tool.stdout is not None and tool.stdout.readline()
        result = run_cli("rtt", "--connect", f"127.0.0.1:{proxy_port}", "--count", "3",
                         "--wait", "5")
        assert result.returncode == 0, result.stderr
        assert float(re.search(r"min=([\d.]+)", result.stdout).group(1)) >= 2 * 20 - 0.5
        refused = run_cli("rtt", "--connect", f"127.0.0.1:{free_ports(1)[0]}")
        assert refused.returncode == 1 and "connection refused" in refused.stderr
    finally:
        for tool in tools:
            tool.terminate()
        codes = [tool.wait(5) for tool in tools]
    assert codes == [0, 0]                       # SIGTERM is a clean shutdown for both


# -- the network-namespace demo ----------------------------------------------------------------
@pytest.fixture(scope="module")
def netns_demo() -> str:
    script = REPO / "scripts" / "netns_demo.sh"
    if shutil.which("bash") is None:
        pytest.skip("bash is not available")
    proc = subprocess.Popen(["bash", str(script), "30", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "COUNT": "5",
                                 "PYTHON": sys.executable})
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.terminate()              # SIGTERM: the script's trap removes its namespaces
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"the netns demo hung:\n{out}{err}")
    assert proc.returncode == 0, out + err
    return out


def test_netns_demo_measures_round_trips_or_says_why_not(netns_demo: str) -> None:
    skipped = re.search(r"netns demo skipped: (.*)", netns_demo)
    if skipped:
        pytest.skip(skipped.group(1))
    baseline = re.search(r"baseline: rtt n=5 min=([\d.]+) ", netns_demo)
    assert baseline and float(baseline.group(1)) > 0
    names = re.search(r"namespaces (\S+) .* <-> (\S+) ", netns_demo)
    assert names
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            timeout=10).stdout
    assert names.group(1) not in listed and names.group(2) not in listed   # cleaned up


def test_netns_demo_without_the_ip_tool_says_why_and_exits_0(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"                  # a PATH with the basics but no `ip` or `tc`
    bin_dir.mkdir()
    for tool in ("uname", "id", "dirname"):
        found = shutil.which(tool)
        assert found, f"{tool} is needed by this test"
        (bin_dir / tool).symlink_to(found)
    bash = shutil.which("bash") or "/bin/bash"
    result = subprocess.run([bash, str(REPO / "scripts" / "netns_demo.sh")], capture_output=True,
                            text=True, timeout=20, env={"PATH": str(bin_dir)},
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0
    assert result.stdout.startswith("netns demo skipped: ")
    assert "'ip' command is missing" in result.stdout or "needs root" in result.stdout


def test_netns_demo_netem_delay_lengthens_round_trips(netns_demo: str) -> None:
    skipped = re.search(r"(?:netns demo|netem) skipped: (.*)", netns_demo)
    if skipped:
        pytest.skip(skipped.group(1))
    shaped = re.search(r"netem delay=30ms loss=0%: rtt n=5 min=([\d.]+) ", netns_demo)
    assert shaped and float(shaped.group(1)) >= 30


def test_a_restarted_process_draws_a_fresh_stream_the_same_as_the_simulators(
        tmp_path: Path) -> None:
    from net_nodes import Dice

    def roll(output: str) -> str:
        return output.split("roll value=")[1].split()[0]

    with start_cluster("net_nodes:Dice", ["a"], data_dir=tmp_path, seed=7) as cluster:
        real = [roll(cluster.wait_for_output("a", "roll "))]
        cluster.kill("a", signal.SIGKILL)
        cluster.restart("a")
        real.append(roll(cluster.wait_for_output("a", "roll ")))

    sim = Simulation(seed=7)
    sim.add_node(Dice, "a")
    sim.run(until=1)
    sim.crash("a")
    sim.restart("a")
    sim.run(until=2)
    simulated = [repr(e.data["value"]) for e in sim.trace.of_kind("note")]
    assert real[0] != real[1]
    assert real == simulated


# -- a client in this process ---------------------------------------------------------------------
def test_a_notebook_client_sends_requests_and_reads_replies(tmp_path: Path) -> None:
    from net_nodes import Shout

    with start_cluster("net_nodes:Echo", ["a", "b"], data_dir=tmp_path,
                       clients=["me"]) as cluster:
        # "me", a client, is not one of a's peers
        assert cluster.wait_for_output("a", "my peers").endswith("my peers peers=b")
        me = cluster.client("me")
        assert cluster.client("me") is me
        assert me.request("a", "hello") == ("a", "hello")
        me.send("b", Shout("hi"))
        # asked for by class, the second reply comes first; the first waits in the inbox
        assert me.receive(kind=Shout) == ("b", Shout("HI"))
        assert me.receive() == ("b", ("b", Shout("hi")))

        cluster.kill("a")
        with pytest.raises(EndpointError, match=r"cannot reach node 'a' .* is it running"):
            me.send("a", "anyone?")
        cluster.restart("a")
        assert me.request("a", "back?", timeout=5) == ("a", "back?")
        with pytest.raises(TimeoutError, match=r"no message from 'b' arrived within 0.2 s"):
            me.receive(0.2, src="b")
        with pytest.raises(EndpointError,
                           match=r"there is no node 'z'; the nodes are \['a', 'b'\]"):
            me.send("z", "hello")
        with pytest.raises(EndpointError, match="cannot send"):
            me.send("a", object())
        with pytest.raises(ClusterError, match="not a client of this cluster"):
            cluster.client("you")

        me.send("a", "one")
        got, deadline = [], time.monotonic() + 5
        while not got and time.monotonic() < deadline:    # pending() does not wait
            got = me.pending()
            time.sleep(0.01)
        assert got == [("a", ("a", "one"))] and me.pending() == []


def test_client_ids_must_differ_from_node_ids(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="must be distinct and differ from the node ids"):
        start_cluster("net_nodes:Echo", ["a", "b"], data_dir=tmp_path, clients=["a"])


def test_an_endpoint_drops_what_it_cannot_read_and_says_so() -> None:
    from distlab.net import Endpoint

    (port,) = free_ports(1)
    with Endpoint("me", ("127.0.0.1", port), {}, Codec()) as me:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")          # not distlab.net's protocol
        with pytest.raises(TimeoutError, match="dropped as unreadable: .*frame of"):
            me.receive(1.0)
        assert me.pending() == []


def frame(body: str) -> bytes:
    return len(body.encode()).to_bytes(4, "big") + body.encode()


def test_an_endpoint_drops_a_malformed_message_and_reads_on() -> None:
    from distlab.net import Endpoint

    (port,) = free_ports(1)
    with Endpoint("me", ("127.0.0.1", port), {}, CODEC) as me:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            for msg, _ in BAD_MESSAGES:
                conn.sendall(frame(f'{{"src": "a", "msg": {msg}}}'))
            conn.sendall(frame('{"src": "a", "msg": {"$type": "Vote", "fields": {"term": 1, '
                               '"candidate": "a", "granted": true}}}'))
            # the reader survived every bad message, and the framing is intact: it reads on
            assert me.receive(5.0) == ("a", Vote(1, "a", True))
        assert len(me.dropped) == len(BAD_MESSAGES)
        for (_, reason), dropped in zip(BAD_MESSAGES, me.dropped, strict=True):
            assert re.search(reason, dropped), dropped


def test_an_endpoint_closes_idle_connections_and_lists_a_frame_cut_short() -> None:
    from distlab.net import Endpoint

    (port,) = free_ports(1)
    with Endpoint("me", ("127.0.0.1", port), {}, CODEC, idle_timeout=0.3) as me:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as idle, \
                socket.create_connection(("127.0.0.1", port), timeout=5) as stalled:
            stalled.sendall(frame('{"src": "a", "msg": 1}')[:7])    # and then nothing
            stalled_port = stalled.getsockname()[1]
            assert idle.recv(1) == b"" and stalled.recv(1) == b""    # closed by the endpoint
        assert me.dropped == [f"from 127.0.0.1:{stalled_port}: a frame of 22 bytes cut short "
                              f"after 3 bytes (the connection closed, or stayed idle for 0.3 s)"]


def test_a_node_closes_idle_connections_and_answers_despite_hundreds(tmp_path: Path) -> None:
    import resource

    from distlab.net import Endpoint

    def few_descriptors() -> None:      # so that 300 piled-up connections would exhaust them
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    port, client_port = free_ports(2)
    log = tmp_path / "a.out"
    with open(log, "wb") as out:
        node = subprocess.Popen(
            [sys.executable, "-m", "distlab.net", "run", "--node-class", "net_nodes:Echo",
             "--id", "a", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path),
             "--clients", f"me=127.0.0.1:{client_port}", "--idle-timeout", "0.5"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=few_descriptors, cwd=Path(__file__).parent)
    forgotten: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 10
        while "listening on" not in log.read_text():
            assert node.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as idle:
            assert idle.recv(1) == b""                  # closed after 0.5 s of silence
        assert "no message came for 0.5 s" in log.read_text()
        for i in range(300):              # opened and forgotten (a few at a time, not a flood)
            forgotten.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            if i % 16 == 15:
                time.sleep(0.02)
        with Endpoint("me", ("127.0.0.1", client_port), {"a": ("127.0.0.1", port)},
                      Codec()) as me:
            assert me.request("a", "still there?", timeout=5) == ("a", "still there?")
        assert "connections are open, the most this node keeps" in log.read_text()
    finally:
        for conn in forgotten:
            conn.close()
        node.terminate()
        node.wait(5)


def test_a_hundred_requests_take_about_a_hundred_times_one(tmp_path: Path) -> None:
    # An endpoint once waited 2 s before every send after the first, asking whether its
    # connection was still open; so 100 requests took 200 s where one takes a millisecond.
    with start_cluster("net_nodes:Echo", ["a"], data_dir=tmp_path, clients=["me"]) as cluster:
        me = cluster.client("me")
        started = time.monotonic()
        me.request("a", "one")                      # (it opens the connection, too)
        one = time.monotonic() - started
        budget = 100 * one * 5 + 1.0                # generous: the machine is shared
        started = time.monotonic()
        for i in range(100):
            assert me.request("a", i) == ("a", i)
            elapsed = time.monotonic() - started
            assert elapsed < budget, (f"{i + 1} requests took {elapsed:.2f} s, one took "
                                      f"{one * 1000:.1f} ms")
