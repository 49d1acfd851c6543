"""Talking to a running real cluster from a notebook: a client `Endpoint`.

The nodes of a `Cluster` only talk to ids they know. An endpoint is a client id that the
cluster was started with (``start_cluster(..., clients=["me"])``): the nodes accept its
messages and can reply to it, but it is not among their ``peers`` (as a `distlab.sim.Client`
is not in the simulator). It speaks the nodes' own protocol -- length-prefixed JSON frames of
the node class's `Codec`, one connection per direction -- so a request is exactly what a
node would have sent::

    cluster = start_cluster("mykv:Server", ["a", "b", "c"], clients=["me"])
    me = cluster.client("me")
    me.request("a", Put("x", 1))            # send, and wait for a's reply
    cluster.kill("a")
    me.request("b", Get("x"), timeout=2)    # ask another replica

Calls block (with a timeout) so that a notebook cell reads top to bottom; replies arrive on a
background thread and wait in an inbox until asked for. A connection from a node that stays
silent for ``idle_timeout`` seconds (`IDLE_TIMEOUT` by default) is closed, so connections do
not pile up; the node opens a new one when it next replies.
"""

from __future__ import annotations

import queue
import select
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from distlab.net.addresses import Address
from distlab.net.codec import HEADER_SIZE, IDLE_TIMEOUT, Codec, CodecError, frame_length


class EndpointError(RuntimeError):
    """A node the endpoint cannot reach, or a message it does not know how to send."""


class Endpoint:
    """A client of a real cluster, in this process: `send`, `receive`, `request`.

    Made by `Cluster.client`. ``nodes`` maps each node id to the address it listens on.
    """

    def __init__(self, client_id: str, listen: Address, nodes: Mapping[str, Address],
                 codec: Codec, *, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.id = client_id
        #: seconds a connection from a node may stay silent before it is closed (the node
        #: opens a new one when it next has something to say)
        self.idle_timeout = idle_timeout
        self.nodes = dict(nodes)
        self.codec = codec
        self._inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._held: list[tuple[str, Any]] = []    # received, but not what a receive asked for
        #: what arrived but could not be read (a frame of another protocol, an unknown class,
        #: a frame cut short)
        self.dropped: list[str] = []
        self._out: dict[str, socket.socket] = {}
        self._server = socket.create_server(listen)
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True,
                         name=f"distlab endpoint {client_id}").start()

    # -- sending --------------------------------------------------------------------------------
    def send(self, dst: str, msg: Any) -> None:
        """Send ``msg`` to node ``dst`` (a message the node class's codec knows)."""
        if self._closed:
            raise EndpointError(f"endpoint {self.id!r} is closed")
        if dst not in self.nodes:
            raise EndpointError(f"there is no node {dst!r}; the nodes are {sorted(self.nodes)}")
        try:
            frame = self.codec.encode_message(self.id, msg)
        except CodecError as exc:
            raise EndpointError(f"cannot send {msg!r}: {exc}") from None
        conn = self._out.get(dst)
        if conn is not None and not _still_open(conn):
            conn.close()           # the node went away (killed, restarted): connect anew
            conn = None
        try:
            if conn is None:
                conn = self._out[dst] = socket.create_connection(self.nodes[dst], timeout=2)
            conn.sendall(frame)
        except OSError as exc:
            self._out.pop(dst, None)
            host, port = self.nodes[dst]
            raise EndpointError(f"cannot reach node {dst!r} at {host}:{port} ({exc}): is it "
                                f"running? (cluster.is_alive({dst!r}))") from None

    # -- receiving ------------------------------------------------------------------------------
    def receive(self, timeout: float = 5.0, *, src: str | None = None,
                kind: type | None = None) -> tuple[str, Any]:
        """The next message that arrived, as ``(sender, message)``, waiting up to ``timeout`` s.

        With ``src`` or ``kind`` (a message class), the next one from that node or of that
        class; the others stay in the inbox for later calls, in the order they arrived.
        """
        def wanted(item: tuple[str, Any]) -> bool:
            return (src is None or item[0] == src) and (kind is None or isinstance(item[1], kind))

        for i, item in enumerate(self._held):
            if wanted(item):
                return self._held.pop(i)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = self._inbox.get(timeout=left)
            except queue.Empty:
                break
            if wanted(item):
                return item
            self._held.append(item)
        what = ("message" + (f" of class {kind.__name__}" if kind else "")
                + (f" from {src!r}" if src else ""))
        waiting = f"; in the inbox: {self._held}" if self._held else ""
        dropped = f"; dropped as unreadable: {self.dropped}" if self.dropped else ""
        raise TimeoutError(f"{self.id}: no {what} arrived within {timeout:g} s{waiting}{dropped}")

    def request(self, dst: str, msg: Any, timeout: float = 5.0, *,
                kind: type | None = None) -> Any:
        """Send ``msg`` to ``dst`` and return ``dst``'s next reply (of class ``kind``)."""
        self.send(dst, msg)
        return self.receive(timeout, src=dst, kind=kind)[1]

    def pending(self) -> list[tuple[str, Any]]:
        """Every message received and not yet taken, without waiting (they are taken now)."""
        items, self._held = self._held, []
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                return items

    # -- the background thread ----------------------------------------------------------------
    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return          # closed
            threading.Thread(target=self._read_loop, args=(conn,), daemon=True).start()

    def _read_loop(self, conn: socket.socket) -> None:
        """Read frames from one node's connection until it closes or stays idle too long.

        A message that cannot be decoded is dropped and the next one read (the framing is
        intact); a frame whose length is absurd or that is cut short ends the connection.
        Both are listed in ``dropped``.
        """
        conn.settimeout(self.idle_timeout)
        with conn:
            try:
                host, port = conn.getpeername()[:2]
            except OSError:
                return               # gone already
            peer = f"{host}:{port}"
            while True:
                header = _read_exactly(conn, HEADER_SIZE)
                if len(header) < HEADER_SIZE:
                    if header:
                        self._cut_short(peer, len(header), "a frame header")
                    return           # closed, or idle too long: nothing was lost
                try:
                    length = frame_length(header)
                except CodecError as exc:
                    self.dropped.append(f"from {peer}: {exc}")
                    return
                body = _read_exactly(conn, length)
                if len(body) < length:
                    self._cut_short(peer, len(body), f"a frame of {length} bytes")
                    return
                try:
                    self._inbox.put(self.codec.decode_message(body))
                except CodecError as exc:
                    self.dropped.append(f"from {peer}: {exc}")

    def _cut_short(self, peer: str, got: int, what: str) -> None:
        self.dropped.append(f"from {peer}: {what} cut short after {got} bytes (the connection "
                            f"closed, or stayed idle for {self.idle_timeout:g} s)")

    def close(self) -> None:
        """Stop listening and close every connection (`Cluster.stop` does it too)."""
        self._closed = True
        self._server.close()
        for conn in self._out.values():
            conn.close()
        self._out.clear()

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        host, port = self._server.getsockname()[:2] if not self._closed else ("-", "-")
        return f"<Endpoint {self.id} at {host}:{port}, nodes {', '.join(self.nodes)}>"


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    """``size`` bytes from ``conn``; fewer if it closes, fails or times out first."""
    data = b""
    while len(data) < size:
        try:
            chunk = conn.recv(size - len(data))
        except OSError:          # including TimeoutError: the connection was idle too long
            break
        if not chunk:
            break
        data += chunk
    return data


def _still_open(conn: socket.socket) -> bool:
    """Whether the node at the other end has not closed ``conn`` (nodes never write on it,
    so readable means closed).

    Asked without waiting: ``poll`` with a zero timeout says whether there is anything to read.
    Peeking with ``recv`` would not do, because the socket has a timeout: Python then waits
    up to that timeout for data, which on an open connection never comes.
    """
    poller = select.poll()
    poller.register(conn, select.POLLIN)
    if not poller.poll(0):
        return True              # nothing to read, not even an end of stream: still open
    try:
        return conn.recv(1, socket.MSG_PEEK) != b""
    except OSError:
        return False
