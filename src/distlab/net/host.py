"""Running one `Node` as a real process: asyncio TCP on loopback.

The simulator delivers messages by moving Python objects between nodes in one process. This
module runs the *same* node class as an operating-system process of its own, so a reader can
``kill -9`` it and watch the others carry on. `NodeHost` is the node's *runtime*: it gives the
node what `distlab.sim.runtime.Runtime` names (``_send``, ``_set_timer``, ``_cancel_timer``,
``_clock``, ``_note``, ``history``) with real mechanisms:

* **send** -- the message is encoded by an explicit JSON `Codec` and written as one
  length-prefixed frame on a TCP connection to the peer. Connections are opened on first use
  and kept. Each connection carries messages one way only (the sender's outgoing stream); a
  reply travels on the replier's own connection back.
* **receive** -- one frame at a time from each incoming connection, decoded and handed to
  ``on_message``; a frame that cannot be decoded is dropped and logged. A connection that
  carries no message for ``idle_timeout`` seconds is closed (its sender connects again on its
  next send), and past `MAX_INCOMING` open ones the idlest is closed: connections that
  clients open and forget cannot use up the process's file descriptors.
* **timers** -- ``loop.call_later``; the clock is `time.monotonic` in ms since the host started.
* **storage** -- a JSON file per node in a data directory, written atomically (a temporary
  file, flushed to disk, then renamed over the old one: a crash leaves either the old or the
  new file, never half of one) after every handler that changed it, and locked while the node
  runs, so that no second process with its id writes it too (`distlab.net.storage_file`). A
  restarted process reads it back.
* **log** -- one line on standard output, stamped with the node id and its clock, shown once
  the handler that logged it has returned and its storage is on disk.
* **history** -- a `distlab.sim.Client` node records its operations in ``host.history``, as
  in the simulator; each invocation and completion is also a line on standard output and
  a Jepsen-style JSON line in ``<data_dir>/<id>.history.jsonl`` (`history_path`), which
  ``python -m distlab.check`` reads. A restarted client appends to the same file.

Two rules make the real runtime behave like the simulator's model of a network:

1. *Persist before you speak.* The messages a handler sends are held until the handler has
   returned and its storage changes are on disk. So a node never promises something (a vote,
   an acknowledgement) that a crash right after could make it forget -- the rule behind
   Raft's "respond to RPCs only after updating stable storage" (Ongaro and Ousterhout,
   "In Search of an Understandable Consensus Algorithm", USENIX ATC 2014, figure 2).
2. *A peer that cannot be reached is a lossy link, not an error.* Messages to it are dropped
   (and counted), the failure is logged once, and the connection is tried again by the first
   message sent `RETRY_PAUSE` (50 ms) after the failed attempt. The node never crashes
   because of a peer. The pause stays that short however long the peer has been down, so a
   restarted peer hears from the others again within about a heartbeat, as a restarted node
   does in the simulator: a pause that grew to a second (as it once did) left a restarted Raft
   follower deaf to a healthy leader for longer than its election timeout, and it stood for
   election in a new term, which deposed the leader and stalled the clients for an election.

Handlers run one at a time on the event loop's thread, so node code needs no locks -- the
same single-threaded, event-driven model as the simulator and as DSLabs.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import json
import os
import resource
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from distlab.net.addresses import (Address, AddressError, PortInUseError, is_loopback,
                                   port_taken_message)
from distlab.net.codec import HEADER_SIZE, IDLE_TIMEOUT, Codec, CodecError, frame_length
from distlab.net.lifeline import exit_with_parent
from distlab.net.storage_file import (load_storage, lock_storage, storage_path, storage_text,
                                      write_atomically)
from distlab.sim.errors import ConfigurationError, StorageError
from distlab.sim.history import History, Operation, jepsen_event
from distlab.sim.messages import check_message
from distlab.sim.node import Node, NodeRandom, build_node
from distlab.sim.simulation import stream
from distlab.sim.storage import Storage, check_storable
from distlab.sim.times import timer_delay
from distlab.sim.trace import Note

RETRY_PAUSE = 0.05       # seconds after a failed connection before the next attempt: shorter
                         # than any heartbeat of the book's protocols (a refused connection on
                         # loopback costs microseconds, so a longer pause saves nothing)
CONNECT_TIMEOUT = 2.0    # seconds to wait for a TCP connection to open
MAX_PENDING = 1000       # messages held per peer while its connection is being opened
MAX_BUFFERED = 8 * 1024 * 1024   # bytes waiting in a connection's send buffer before we drop
MAX_INCOMING = 256       # open incoming connections (at most a quarter of the descriptors
                         # the process may open): past it, the idlest one is closed


# -- files in the data directory -----------------------------------------------------------------
def history_path(data_dir: str | Path, node_id: str) -> Path:
    """Where client node ``node_id`` appends the events of its operations (JSON lines)."""
    return Path(data_dir) / f"{node_id}.history.jsonl"


# -- connections to peers ----------------------------------------------------------------------
@dataclass
class _Link:
    """The outgoing connection to one peer, and what happens while it is missing."""

    peer: str
    address: Address
    writer: asyncio.StreamWriter | None = None
    connecting: bool = False
    pending: list[bytes] = field(default_factory=list)   # held while connecting
    retry_at: float = 0.0     # time.monotonic() before which messages are dropped
    down: bool = False        # the last attempt failed (logged once per outage)
    dropped: int = 0          # messages dropped since the outage began


class NodeHost:
    """The runtime that runs one node in this process over TCP.

    Invariants: handlers never run concurrently; storage a handler changed is on disk before
    any message it sent leaves; no peer failure stops the node.
    """

    def __init__(self, node_class: type[Node], node_id: str, listen: Address,
                 peers: dict[str, Address], *, data_dir: str | Path,
                 node_args: dict[str, Any] | None = None, seed: int = 0,
                 incarnation: int = 0, clients: dict[str, Address] | None = None,
                 codec: Codec | None = None, exit_with_parent: bool = False,
                 idle_timeout: float = IDLE_TIMEOUT, out: IO[str] | None = None) -> None:
        if not node_id:
            raise ValueError("a node needs a non-empty id")
        if not is_loopback(listen[0]):
            raise AddressError(f"node {node_id!r} may listen on loopback only (127.0.0.1 or ::1), "
                               f"not {listen[0]!r}")
        if node_id in peers:
            raise ValueError(f"node {node_id!r} is listed among its own peers: list only the "
                             f"other nodes")
        self.node_class = node_class
        self.id = node_id
        self.listen = listen
        self.peers = dict(peers)
        #: processes outside the cluster that may send requests and get replies (a notebook's
        #: `Endpoint`): like the simulator's clients, they are not among ``node.peers``
        self.clients = dict(clients or {})
        if node_id in self.clients or set(self.clients) & set(self.peers):
            raise ValueError(f"node {node_id!r}: client ids {sorted(self.clients)} must differ "
                             f"from the node ids {sorted({node_id, *self.peers})}")
        self.data_dir = Path(data_dir)
        self.node_args = dict(node_args or {})
        self.seed = seed
        self.incarnation = incarnation
        self.codec = codec or Codec.for_node_class(node_class)
        self.exit_with_parent = exit_with_parent
        #: seconds an incoming connection may carry no message before it is closed
        self.idle_timeout = idle_timeout
        self.max_incoming = max(1, min(MAX_INCOMING,
                                       resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 4))
        self.out = out or sys.stdout
        self.node: Node | None = None
        self.exit_code = 0
        self._t0 = time.monotonic()
        #: the operations of a `distlab.sim.Client` node run by this host
        self.history = History(on_event=self._record_operation, clock=lambda: self._clock(None))
        self._links = {peer: _Link(peer, addr)
                       for peer, addr in {**self.peers, **self.clients}.items()}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        #: each incoming connection, and when it last carried a message (time.monotonic())
        self._incoming: dict[asyncio.StreamWriter, float] = {}
        self._idle_sweep: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._outbox: list[tuple[str, bytes]] | None = None   # held while a handler runs
        self._logbuf: list[str] | None = None                 # likewise
        self._saved_storage: str | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._lock: IO[str] | None = None    # held while the node runs: its storage is its own

    # -- life cycle ---------------------------------------------------------------------------
    async def serve(self, *, install_signal_handlers: bool = True) -> int:
        """Listen, start the node, and run until `stop`; returns the exit code (0 = clean)."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = lock = lock_storage(self.data_dir, self.id)
        host, port = self.listen
        try:
            storage = Storage(load_storage(storage_path(self.data_dir, self.id), self.codec,
                                           self.id))
            self._saved_storage = storage_text(self.id, storage, self.codec)
            # (asyncio accepts up to `backlog` connections at a time before any of them is
            # served: a bound on it keeps a burst of them within the descriptor limit)
            self._server = await asyncio.start_server(self._accept, host, port,
                                                      backlog=min(100, self.max_incoming))
        except BaseException as exc:
            lock.close()
            if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
                raise PortInUseError(port_taken_message(host, port, "--listen")) from None
            raise
        port = self._server.sockets[0].getsockname()[1]
        if install_signal_handlers:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(sig, self._on_signal, sig)
        self._idle_sweep = self._loop.call_later(self.idle_timeout / 2, self._close_idle)
        if self.exit_with_parent:
            exit_with_parent(sys.stdin.fileno(), self._loop, self._parent_gone, self._net_log)
        self._t0 = time.monotonic()
        self.node = build_node(self.node_class, self, self.id, tuple(sorted(self.peers)),
                               storage, self.node_args)
        peers = ", ".join(f"{p}={h}:{n}" for p, (h, n) in sorted(self.peers.items())) or "none"
        self._net_log(f"listening on {host}:{port}, peers: {peers}")
        self._run_handler(self.node.on_start)
        await self._stopped.wait()
        await self._shutdown()
        return self.exit_code

    def stop(self) -> None:
        """Ask the host to shut down cleanly (call it on the event loop's thread)."""
        self._stopping = True
        if self._stopped is not None:
            self._stopped.set()

    def _on_signal(self, sig: signal.Signals) -> None:
        self._net_log(f"received {sig.name}: shutting down")
        self.stop()

    def _parent_gone(self) -> None:
        self._net_log("the parent process has gone (standard input closed): shutting down")
        self.stop()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for handle in [*self._timers.values(), self._idle_sweep]:
            if handle is not None:
                handle.cancel()
        self._timers.clear()
        writers = [link.writer for link in self._links.values() if link.writer is not None]
        writers += list(self._incoming)
        for writer in writers:
            writer.close()      # sends what is still buffered, then closes
        for task in list(self._tasks):
            task.cancel()
        try:
            self._persist()
        except (OSError, CodecError, StorageError) as exc:
            self._net_log(f"could not save storage while shutting down: {exc}")
            self.exit_code = self.exit_code or 1
        for writer in writers:
            try:
                await asyncio.wait_for(writer.wait_closed(), 0.5)
            except (TimeoutError, OSError):
                pass
        if self._lock is not None:    # after the last write: another process may take it now
            self._lock.close()
        self._net_log(f"stopped (exit code {self.exit_code})")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- running handlers ---------------------------------------------------------------------
    def _run_handler(self, handler: Callable[..., None], *args: Any) -> None:
        """Run one handler; save storage if it changed; then show its log lines and send its
        messages. So whoever sees a handler's effects (a log line, a message) can rely on the
        storage it wrote being on disk already."""
        if self._stopping:
            return
        self._outbox, self._logbuf = [], []
        try:
            handler(*args)
            self._persist()
        except Exception:
            self._flush_log()
            self._net_log(f"the node crashed: its handler raised an exception "
                          f"(the messages it sent are not sent):\n{traceback.format_exc()}")
            self.exit_code = 1
            self._outbox = None
            self.stop()
            return
        self._flush_log()
        outbox, self._outbox = self._outbox, None
        for dst, frame in outbox:
            self._transmit(dst, frame)

    def _flush_log(self) -> None:
        lines, self._logbuf = self._logbuf, None
        if lines:
            print("\n".join(lines), file=self.out, flush=True)

    def _persist(self) -> None:
        """Write storage to disk if it differs from what was last written."""
        if self.node is None:
            return
        check_storable(self.node.storage)   # the simulator's rule, and its StorageError
        text = storage_text(self.id, self.node.storage, self.codec)
        if text != self._saved_storage:
            write_atomically(storage_path(self.data_dir, self.id), text)
            self._saved_storage = text

    # -- the runtime (distlab.sim.runtime.Runtime) that distlab.sim.Node calls --------------------
    def _send(self, node: Node, dst: str, msg: Any) -> None:
        if dst != self.id and dst not in self._links:
            raise ConfigurationError(f"node {self.id!r} has no peer {dst!r}; its peers are "
                                     f"{sorted(self.peers)}" + (f" and its clients "
                                     f"{sorted(self.clients)}" if self.clients else ""))
        check_message(msg)     # the simulator's rule, and its MessageError, for mutable messages
        frame = self.codec.encode_message(self.id, msg)
        if self._outbox is not None:
            self._outbox.append((dst, frame))
        else:
            self._transmit(dst, frame)

    def _set_timer(self, node: Node, delay: float, name: str) -> None:
        delay = timer_delay(self.id, delay, name)
        self._cancel_timer(node, name)
        assert self._loop is not None
        self._timers[name] = self._loop.call_later(delay / 1000, self._fire_timer, name)

    def _cancel_timer(self, node: Node, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _rng(self, node: Node) -> NodeRandom:
        # the simulator's stream for this node and incarnation: the same seed draws the same
        # numbers here as in a Simulation, and a restarted process draws new ones
        return stream(self.seed, "node", self.id, self.incarnation, cls=NodeRandom)

    def _clock(self, node: Node | None) -> float:
        return (time.monotonic() - self._t0) * 1000

    def _note(self, node: Node, note: Note) -> None:
        self._note_line(f"{self.id} {self._clock(node):10.1f} ms  {note}")

    def _note_line(self, line: str) -> None:
        if self._logbuf is not None:
            self._logbuf.append(line)       # shown when the handler's storage is on disk
        else:
            print(line, file=self.out, flush=True)

    def _record_operation(self, kind: str, op: Operation) -> None:
        """A client operation was invoked or completed: show it, and append it to the file."""
        self._note_line(f"{self.id} {self._clock(None):10.1f} ms  {kind} {op}")
        line = json.dumps(jepsen_event(op, kind), default=repr)
        with open(history_path(self.data_dir, self.id), "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def _net_log(self, text: str) -> None:
        print(f"{self.id} {self._clock(self.node):10.1f} ms  net: {text}", file=self.out,
              flush=True)

    def _fire_timer(self, name: str) -> None:
        self._timers.pop(name, None)
        assert self.node is not None
        self._run_handler(self.node.on_timer, name)

    # -- sending ------------------------------------------------------------------------------
    def _transmit(self, dst: str, frame: bytes) -> None:
        if dst == self.id:   # to itself: through the codec like any message, on the next turn
            assert self._loop is not None
            self._loop.call_soon(self._deliver, frame[HEADER_SIZE:])
            return
        link = self._links[dst]
        if link.writer is not None and not link.writer.is_closing():
            if link.writer.transport.get_write_buffer_size() > MAX_BUFFERED:
                link.dropped += 1      # the peer is not reading (stalled): a full queue drops
                return
            link.writer.write(frame)
            return
        link.writer = None
        if link.connecting:
            if len(link.pending) < MAX_PENDING:
                link.pending.append(frame)
            else:
                link.dropped += 1
            return
        if time.monotonic() < link.retry_at:
            link.dropped += 1
            return
        link.connecting = True
        link.pending.append(frame)
        self._spawn(self._connect(link))

    async def _connect(self, link: _Link) -> None:
        host, port = link.address
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                    CONNECT_TIMEOUT)
        except (TimeoutError, OSError) as exc:
            link.connecting = False
            link.dropped += len(link.pending)
            link.pending.clear()
            if not link.down:
                reason = (f"no answer within {CONNECT_TIMEOUT} s"
                          if isinstance(exc, TimeoutError)
                          else os.strerror(exc.errno) if exc.errno else str(exc))
                self._net_log(f"peer {link.peer} at {host}:{port} is unreachable ({reason}): "
                              f"dropping messages to it, as a lossy network would, and "
                              f"retrying later")
                link.down = True
            link.retry_at = time.monotonic() + RETRY_PAUSE
            return
        link.connecting = False
        if self._stopping:
            writer.close()
            return
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link.writer = writer
        if link.down:
            self._net_log(f"peer {link.peer} is reachable again ({link.dropped} messages to it "
                          f"were dropped meanwhile)")
        link.down = False
        link.dropped = 0
        for frame in link.pending:
            writer.write(frame)
        link.pending.clear()
        await self._watch(link, reader, writer)

    async def _watch(self, link: _Link, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        """Notice when the peer closes our outgoing connection (it stopped or crashed)."""
        try:
            while await reader.read(4096):
                pass       # peers never write on this connection; EOF means it closed
        except OSError:
            pass
        if link.writer is writer:
            link.writer = None
            if not self._stopping:
                self._net_log(f"connection to peer {link.peer} closed; reconnecting on the "
                              f"next send")
        writer.close()

    # -- receiving ----------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._incoming) >= self.max_incoming:
            oldest = min(self._incoming, key=self._incoming.__getitem__)
            self._close_incoming(oldest, f"{len(self._incoming)} connections are open, the "
                                         f"most this node keeps, and it is the idlest")
        self._incoming[writer] = time.monotonic()
        try:
            while not self._stopping:
                header = await reader.readexactly(HEADER_SIZE)
                body = await reader.readexactly(frame_length(header))
                self._incoming[writer] = time.monotonic()
                self._deliver(body)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass        # the sender closed the connection (or we did, as it was idle)
        except CodecError as exc:
            self._net_log(f"closing a connection from {writer.get_extra_info('peername')}: {exc}")
        finally:
            self._incoming.pop(writer, None)
            writer.close()

    def _close_idle(self) -> None:
        """Close the incoming connections that carried nothing for ``idle_timeout`` seconds
        (their senders connect again when they next send); runs twice per timeout."""
        now = time.monotonic()
        for writer, last in list(self._incoming.items()):
            if now - last > self.idle_timeout:
                self._close_incoming(writer, f"no message came for {self.idle_timeout:g} s")
        assert self._loop is not None
        self._idle_sweep = self._loop.call_later(self.idle_timeout / 2, self._close_idle)

    def _close_incoming(self, writer: asyncio.StreamWriter, why: str) -> None:
        self._net_log(f"closing the connection from {writer.get_extra_info('peername')}: {why}")
        del self._incoming[writer]
        writer.close()

    def _deliver(self, body: bytes) -> None:
        try:
            src, msg = self.codec.decode_message(body)
        except CodecError as exc:
            self._net_log(f"dropped a message that could not be decoded: {exc}")
            return
        if src != self.id and src not in self._links:
            self._net_log(f"dropped a message from {src!r}, which is neither a peer nor a client")
            return
        assert self.node is not None
        self._run_handler(self.node.on_message, src, msg)


def import_node_class(spec: str) -> type[Node]:
    """``"pkg.module:ClassName"`` -> the class, with a clear error if it cannot be found.

    The module must be importable by a fresh Python process: a class defined in a notebook
    cell cannot be, so put node classes in a ``.py`` file (``%%writefile mynodes.py``).
    """
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        raise ValueError(f"bad node class {spec!r}: expected MODULE:CLASS, "
                         f"e.g. distlab.net.demo:Pinger")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r} for node class {spec!r}: {exc} "
                         f"(is it a .py file in the current directory or on PYTHONPATH?)") from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise ValueError(f"{spec!r} is not a subclass of distlab.sim.Node "
                         f"(module {module_name!r} has {class_name!r}: {cls!r})")
    return cls


def run_node(node_class: type[Node], node_id: str, listen: Address, peers: dict[str, Address],
             *, data_dir: str | Path, node_args: dict[str, Any] | None = None, seed: int = 0,
             incarnation: int = 0, clients: dict[str, Address] | None = None,
             exit_with_parent: bool = False, idle_timeout: float = IDLE_TIMEOUT) -> int:
    """Run one node in this process until SIGTERM or SIGINT; returns the exit code."""
    host = NodeHost(node_class, node_id, listen, peers, data_dir=data_dir, node_args=node_args,
                    seed=seed, incarnation=incarnation, clients=clients,
                    exit_with_parent=exit_with_parent, idle_timeout=idle_timeout)
    return asyncio.run(host.serve())
