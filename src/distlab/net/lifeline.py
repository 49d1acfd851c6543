"""A node process that dies with the process that started it, even when a handler is stuck.

`distlab.net.cluster` gives every node process a pipe as its standard input and never writes
on it. When the parent exits -- cleanly, by an exception, or by ``kill -9`` -- the operating
system closes the parent's end, and the node reads the end of the stream: its parent has gone,
and nobody is left to stop it. So a crashed notebook kernel leaves no orphans behind.

The pipe is watched by a thread of its own, not by the node's event loop: a handler stuck in
an endless loop keeps the event loop from ever reading the pipe, while a thread still gets its
turn (Python switches threads every few milliseconds, `sys.getswitchinterval`). The thread
first asks the event loop to shut down cleanly. If the loop has not answered within
`STUCK_AFTER` seconds, a handler is stuck, and the thread ends the process at once, as a crash
would: the storage of every handler that returned is on disk already, so nothing the node
acknowledged is lost. (A loop inside C code that never lets go of the interpreter, such as
``sum(itertools.count())``, starves the thread too; ``kill -9`` is then the only cure.)
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable

#: Seconds the event loop has to answer once the parent has gone, before the process exits.
STUCK_AFTER = 2.0


def exit_with_parent(pipe_fd: int, loop: asyncio.AbstractEventLoop, stop: Callable[[], None],
                     log: Callable[[str], None], stuck_after: float = STUCK_AFTER) -> None:
    """Call ``stop()`` on ``loop`` once ``pipe_fd`` reaches its end; if the loop does not run
    it within ``stuck_after`` seconds, log why and end the process with exit code 1."""
    def watch() -> None:
        while os.read(pipe_fd, 4096):
            pass                               # the parent never writes; the end is the news
        answered = threading.Event()

        def on_loop() -> None:
            answered.set()
            stop()

        try:
            loop.call_soon_threadsafe(on_loop)
        except RuntimeError:                   # the loop is closed: the process is ending
            return
        if not answered.wait(stuck_after):
            log(f"the parent process has gone (standard input closed) and its handler is "
                f"stuck (it has not returned for {stuck_after:g} s): exiting at once, as a "
                f"crash would")
            os._exit(1)

    threading.Thread(target=watch, daemon=True, name="distlab parent watch").start()
