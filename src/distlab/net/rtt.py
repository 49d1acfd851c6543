"""Measuring real round trips: a TCP echo server and a client that times its requests.

The smallest client-server system there is. The client sends a line, the server sends it
back, and the client times the round trip with `time.perf_counter`. Over loopback this is
tens of microseconds; through a `FaultProxy` with added delay, or between two network
namespaces with ``tc netem`` (``scripts/netns_demo.sh``), it grows by what was added -- and
with packet loss, TCP's retransmission timer turns a lost packet into a round trip of 200 ms
or more: on a reliable byte stream, loss shows up as latency.

Both sides set ``TCP_NODELAY``: otherwise Nagle's algorithm may hold a small write back while
an earlier one is unacknowledged, adding delay that belongs to TCP, not to the network.
"""

from __future__ import annotations

import errno
import socket
import socketserver
import statistics
import threading
import time

from distlab.net.addresses import PortInUseError, port_taken_message


class _EchoHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for line in self.rfile:
            self.wfile.write(line)
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class EchoServer:
    """A line echo server in a background thread. Use it as a context manager::

        with EchoServer() as server:           # port 0: the OS picks a free port
            measure_rtts("127.0.0.1", server.port, count=10)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        try:
            self._server = _Server((host, port), _EchoHandler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(port_taken_message(host, port, "another port")) from None
            raise
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"echo-server:{self.port}")
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def connect(host: str, port: int, *, timeout: float = 2.0, wait: float = 0.0) -> socket.socket:
    """A TCP connection to ``host:port``; keep retrying for ``wait`` seconds if it is refused."""
    deadline = time.monotonic() + wait
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except ConnectionRefusedError:
            if time.monotonic() >= deadline:
                raise ConnectionRefusedError(f"cannot connect to {host}:{port}: connection "
                                             f"refused (is the server running?)") from None
            time.sleep(0.05)
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def round_trip(sock: socket.socket, line: bytes, *, timeout: float = 2.0) -> float:
    """Send ``line`` (ending in a newline) and wait for its echo; returns the round trip in ms.

    Raises `TimeoutError` if the echo does not come back within ``timeout`` seconds, and
    `ConnectionError` if the connection is closed or reset.
    """
    sock.settimeout(timeout)
    start = time.perf_counter()
    sock.sendall(line)
    received = b""
    while not received.endswith(b"\n"):
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise TimeoutError(f"no reply within {timeout} s") from None
        if not chunk:
            raise ConnectionError("the connection was closed before the reply arrived")
        received += chunk
    return (time.perf_counter() - start) * 1000


def measure_rtts(host: str, port: int, count: int = 10, *, timeout: float = 2.0,
                 wait: float = 0.0) -> list[float]:
    """``count`` round trips (ms) of small requests over one connection to an echo server."""
    with connect(host, port, timeout=timeout, wait=wait) as sock:
        return [round_trip(sock, f"ping {i}\n".encode(), timeout=timeout) for i in range(count)]


def summarize(rtts: list[float]) -> str:
    """``"n=20 min=0.041 median=0.052 p90=0.08 max=0.21 ms"``."""
    ordered = sorted(rtts)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (f"n={len(ordered)} min={ordered[0]:.3f} median={statistics.median(ordered):.3f} "
            f"p90={p90:.3f} max={ordered[-1]:.3f} ms")
