"""A fault-injecting TCP proxy on loopback: delay, jitter, dropped connections, cuts.

Courses that teach with real machines put services in containers and shape the traffic
between them with Linux's ``tc netem``. That needs root and a cooperative kernel. This proxy is
the in-process stand-in: it sits between a client and a server on 127.0.0.1 and forwards the
bytes, doing to them what the reader asks, while the system runs:

* ``delay_ms`` -- every chunk of bytes waits this long *in each direction*, so a request and
  its reply (a round trip) take at least ``2 * delay_ms`` longer;
* ``jitter_ms`` -- the wait varies uniformly by up to this much either way (never below 0).
  Bytes keep their order, as TCP guarantees: a chunk never overtakes an earlier one;
* ``drop_probability`` -- each new connection is reset at once with this probability;
* `cut` / `heal` -- a partition. ``cut()`` *stalls*: no byte moves in either direction and
  new connections wait, the way a dead link looks to TCP (requests time out; after ``heal()``
  the held bytes flow on). ``cut(mode="reset")`` resets every connection and refuses new ones
  until the heal, the way a crashed host's kernel answers;
* `drop_replies` -- lose the server's next replies, *after* their requests reached it: the
  classic trouble of retries. TCP never loses bytes inside a connection, so a lost reply is
  a connection that breaks at that moment: it is closed at once (``mode="reset"``: the client
  reads the end of the stream, or a reset), or its way back to the client goes silent for
  good (``mode="stall"``: only the client's timeout ends its wait).
  A *reply* here is a chunk of bytes read from the server: a server that writes each reply
  line with one write (and a client that waits for it before sending more) sends one
  chunk per reply.

Decisions come from seeded random streams, one for drops and one for jitter, so the same seed
drops the same connections (the n-th connection's fate depends only on the seed, n and the
probability). How the OS splits bytes into chunks is not ours to decide, so jitter is seeded
but not exactly reproducible.

The proxy runs its own asyncio loop in a background thread, so a notebook (whose own loop is
busy running the kernel) and a plain test can both use it::

    with FaultProxy(0, "127.0.0.1", server_port, delay_ms=50) as proxy:
        ...connect to 127.0.0.1:proxy.port instead of the server...
        proxy.cut(); ...; proxy.heal()
"""

from __future__ import annotations

import asyncio
import errno
import random
import threading
from collections.abc import Coroutine
from typing import Any

from distlab.net.addresses import PortInUseError, is_loopback, port_taken_message

_CUT_MODES = ("stall", "reset")
_REPLY_DROP_MODES = ("reset", "stall")


class FaultProxy:
    """Forwards TCP connections from ``127.0.0.1:listen_port`` to the target, with faults.

    Settings (``delay_ms``, ``jitter_ms``, ``drop_probability``) may be changed at any time;
    they apply to the bytes and connections that arrive afterwards.
    """

    def __init__(self, listen_port: int, target_host: str, target_port: int, *,
                 delay_ms: float = 0.0, jitter_ms: float = 0.0, drop_probability: float = 0.0,
                 seed: int = 0) -> None:
        if not is_loopback(target_host):
            raise ValueError(f"the proxy forwards to loopback addresses only, not {target_host!r}")
        self.listen_port = listen_port
        self.target = (target_host, target_port)
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms
        self.drop_probability = drop_probability
        self.seed = seed
        self.port: int | None = None    # the port actually listened on, once started
        self._drop_rng = random.Random(f"{seed}:drop")
        self._jitter_rng = random.Random(f"{seed}:jitter")
        self._cut_mode: str | None = None
        self._stats = {"connections": 0, "dropped_connections": 0, "failed_to_target": 0,
                       "bytes_to_target": 0, "bytes_to_client": 0, "dropped_replies": 0}
        self._replies_to_pass = 0     # replies let through before the next one is dropped
        self._replies_to_drop = 0     # replies still to drop (see drop_replies)
        self._reply_drop_mode = "reset"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._open: asyncio.Event | None = None      # set while not cut
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._active = 0                              # connections being forwarded

    # -- settings, validated ------------------------------------------------------------------
    @property
    def delay_ms(self) -> float:
        """Added one-way delay, in ms, in each direction."""
        return self._delay_ms

    @delay_ms.setter
    def delay_ms(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"delay_ms must be >= 0, not {value}")
        self._delay_ms = float(value)

    @property
    def jitter_ms(self) -> float:
        """Half-width, in ms, of the uniform variation around ``delay_ms``."""
        return self._jitter_ms

    @jitter_ms.setter
    def jitter_ms(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"jitter_ms must be >= 0, not {value}")
        self._jitter_ms = float(value)

    @property
    def drop_probability(self) -> float:
        """Probability that a new connection is reset as soon as it is accepted."""
        return self._drop_probability

    @drop_probability.setter
    def drop_probability(self, value: float) -> None:
        if not 0 <= value <= 1:
            raise ValueError(f"drop_probability must be between 0 and 1, not {value}")
        self._drop_probability = float(value)

    @property
    def is_cut(self) -> bool:
        """True between `cut` and `heal`."""
        return self._cut_mode is not None

    def stats(self) -> dict[str, int]:
        """Counters: connections accepted and dropped, bytes forwarded each way, replies
        dropped, open connections."""
        return dict(self._stats, open_connections=self._active)

    # -- start and stop -----------------------------------------------------------------------
    def start(self) -> FaultProxy:
        """Start listening (in a background thread); returns self. Raises `PortInUseError`."""
        if self._thread is not None:
            raise RuntimeError("this proxy is already running")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"fault-proxy:{self.listen_port}")
        self._thread.start()
        try:
            self._call(self._listen())
        except BaseException:
            self._stop_loop()
            raise
        return self

    def stop(self) -> None:
        """Close every connection and the listening socket, and end the background thread."""
        if self._thread is None:
            return
        try:
            self._call(self._close_all())
        finally:
            self._stop_loop()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cut(self, mode: str = "stall") -> None:
        """Partition client from server until `heal`: ``"stall"`` all bytes, or ``"reset"``."""
        if mode not in _CUT_MODES:
            raise ValueError(f"unknown cut mode {mode!r}: use 'stall' or 'reset'")
        self._call(self._apply_cut(mode))

    def heal(self) -> None:
        """End a cut: stalled bytes flow on, new connections are accepted again."""
        self._call(self._apply_cut(None))

    def drop_replies(self, count: int = 1, *, after: int = 0, mode: str = "reset") -> None:
        """Lose the server's replies number ``after + 1`` to ``after + count`` from now on.

        The first ``after`` replies pass; each of the next ``count`` is thrown away once it
        has left the server (so its request was handled), and its connection is closed at
        once (``mode="reset"``: the client reads the end of the stream, or a reset) or stalls
        towards the client for good (``mode="stall"``: the client hears nothing more on that
        connection, and only its timeout ends the wait). Replies are counted over all
        connections; a call replaces the previous one's plan.
        """
        if mode not in _REPLY_DROP_MODES:
            raise ValueError(f"unknown mode {mode!r} for drop_replies: use 'reset' or 'stall'")
        for name, value in (("count", count), ("after", after)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"drop_replies({name}=...) is a number of replies, 0 or more; "
                                 f"got {value!r}")
        self._call(self._plan_reply_drops(count, after, mode))

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` on the proxy's loop and wait for it (errors are raised here)."""
        if self._loop is None or self._thread is None:
            coro.close()
            raise RuntimeError("the proxy is not running: call start() or use it in a with block")
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def _stop_loop(self) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
        self._loop = None
        self._thread = None

    # -- on the proxy's loop ------------------------------------------------------------------
    async def _listen(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        try:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1",
                                                      self.listen_port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(port_taken_message(
                    "127.0.0.1", self.listen_port, "another listen_port (0 picks a free one)")
                ) from None
            raise
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):     # those still waiting, e.g. for the end of a stall
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)

    async def _apply_cut(self, mode: str | None) -> None:
        assert self._open is not None
        self._cut_mode = mode
        if mode is None:
            self._open.set()
            return
        self._open.clear()
        if mode == "reset":
            for writer in list(self._writers):
                writer.transport.abort()     # abort, not close: the peer sees a reset

    async def _plan_reply_drops(self, count: int, after: int, mode: str) -> None:
        self._replies_to_drop, self._replies_to_pass, self._reply_drop_mode = count, after, mode

    def _reply_fate(self) -> str:
        """What happens to the reply about to be forwarded: "pass", "reset" or "stall"."""
        if self._replies_to_drop == 0:
            return "pass"
        if self._replies_to_pass > 0:
            self._replies_to_pass -= 1
            return "pass"
        self._replies_to_drop -= 1
        self._stats["dropped_replies"] += 1
        return self._reply_drop_mode

    async def _accept(self, client_reader: asyncio.StreamReader,
                      client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None and self._open is not None
        self._tasks.add(task)
        self._stats["connections"] += 1
        dropped = self._drop_rng.random() < self._drop_probability   # one draw per connection
        writers = [client_writer]
        self._writers.add(client_writer)
        try:
            if dropped or self._cut_mode == "reset":
                self._stats["dropped_connections"] += 1
                client_writer.transport.abort()       # the client sees a reset
                return
            await self._open.wait()          # a connection made during a stall waits here
            try:
                target_reader, target_writer = await asyncio.open_connection(*self.target)
            except OSError:
                self._stats["failed_to_target"] += 1
                client_writer.transport.abort()
                return
            writers.append(target_writer)
            self._writers.add(target_writer)
            await self._forward(client_reader, client_writer, target_reader, target_writer)
        except asyncio.CancelledError:
            pass    # stop() cancels us; Python 3.11's start_server would report it as an error
        finally:
            for writer in writers:
                self._writers.discard(writer)
                writer.close()
            self._tasks.discard(task)

    async def _forward(self, client_reader: asyncio.StreamReader,
                       client_writer: asyncio.StreamWriter, target_reader: asyncio.StreamReader,
                       target_writer: asyncio.StreamWriter) -> None:
        """Pump both directions until both have ended; a reset on either side ends both."""
        pumps = [
            asyncio.ensure_future(self._pump(client_reader, target_writer, "bytes_to_target")),
            asyncio.ensure_future(self._pump(target_reader, client_writer, "bytes_to_client")),
        ]
        self._active += 1
        try:
            _, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
            if pending:                      # one side failed: reset the other too
                client_writer.transport.abort()
                target_writer.transport.abort()
        finally:
            self._active -= 1
            for pump in pumps:
                pump.cancel()

    def _one_way_delay(self) -> float:
        """Seconds to hold the next chunk: delay ± jitter, never negative."""
        jitter = self._jitter_rng.uniform(-self._jitter_ms, self._jitter_ms)
        return max(0.0, self._delay_ms + jitter) / 1000

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    counter: str) -> None:
        """Copy bytes from ``reader`` to ``writer``, each chunk held for the one-way delay."""
        opened = self._open
        assert opened is not None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def receive() -> None:
            due_last = 0.0
            try:
                while True:
                    await opened.wait()            # during a stall, bytes wait in the kernel
                    data = await reader.read(65536)
                    if not data:
                        return
                    due = max(loop.time() + self._one_way_delay(), due_last)  # keep byte order
                    due_last = due
                    queue.put_nowait((due, data))
            finally:
                queue.put_nowait(None)             # end of stream, or the read failed

        receiving = asyncio.ensure_future(receive())
        silenced = False                           # a dropped reply stalled this way back
        try:
            while (item := await queue.get()) is not None:
                due, data = item
                await asyncio.sleep(max(0.0, due - loop.time()))
                await opened.wait()
                if counter == "bytes_to_client" and not silenced:
                    fate = self._reply_fate()
                    if fate == "reset":
                        raise ConnectionResetError("a reply dropped by drop_replies")
                    silenced = fate == "stall"
                if silenced:
                    continue                       # thrown away: the client hears nothing
                self._stats[counter] += len(data)    # counted first: the reader may look
                writer.write(data)                    # as soon as the bytes arrive
                await writer.drain()
            await receiving                        # raises if the read failed (a reset)
            if not writer.is_closing() and writer.can_write_eof():
                writer.write_eof()                 # pass the half-close on
        finally:
            receiving.cancel()
