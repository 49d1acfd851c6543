"""Random streams whose position is cheap to save and to restore, for the schedule explorer.

The stateful search (`distlab.check.fork`) saves every node's state after each step it
takes, and a node's state includes where its random stream (``self.rng``) stands. Copying a
Mersenne Twister's 625 words of state after every step would cost more than the step. A
`CountingRandom` counts the words it has drawn since a starting state instead: its position
is that starting state and the count, and going back to a position reloads the start and
draws as many words again, in one call. It does so only when the stream is next drawn
from: a node that is loaded for a step and draws nothing in it never pays for it.
"""

from __future__ import annotations

import _random
import random
from typing import Any


class CountingRandom(random.Random):
    """A `random.Random` that counts the 32-bit words it has drawn since ``base``.

    Its position is then ``(base, words, gauss_next)``: `restore` goes back to any earlier
    position by reloading ``base`` and drawing ``words`` words again in a single call --
    far cheaper than saving the generator's whole state after every step. It draws exactly
    what a plain `random.Random` in the same state draws.

    `restore` only notes the position (``stale``): the generator is moved there by the next
    draw (`catch_up`), so a restore that no draw follows costs nothing.
    """

    stale = False  # whether the generator is not yet at (base, words)

    def seed(self, *args: Any, **kwargs: Any) -> None:
        super().seed(*args, **kwargs)
        self.base = super().getstate()
        self.words = 0
        self.stale = False

    def setstate(self, state: tuple) -> None:
        super().setstate(state)
        self.base = state
        self.words = 0
        self.stale = False

    def getstate(self) -> tuple:
        if self.stale:
            self.catch_up()
        return super().getstate()

    def random(self) -> float:
        if self.stale:
            self.catch_up()
        self.words += 2  # a double takes two words of the Mersenne Twister
        return _random.Random.random(self)

    def getrandbits(self, k: int) -> int:
        if self.stale:
            self.catch_up()
        if k > 0:
            self.words += (k + 31) // 32
        return _random.Random.getrandbits(self, k)

    def position(self) -> tuple:
        """Where the stream is now, as a hashable, comparable value."""
        return self.base, self.words, self.gauss_next

    def restore(self, position: tuple) -> None:
        """Go back (or forward) to a position returned by `position` (when next drawn)."""
        base, words, gauss_next = position
        self.gauss_next = gauss_next
        if words != self.words or base is not self.base:
            self.base, self.words, self.stale = base, words, True

    def catch_up(self) -> None:
        """Move the generator to the position `restore` noted: reload ``base``, draw
        ``words`` words again."""
        gauss_next = self.gauss_next  # (setstate would take the one saved with ``base``)
        random.Random.setstate(self, self.base)
        self.gauss_next = gauss_next
        if self.words:
            _random.Random.getrandbits(self, 32 * self.words)
        self.stale = False

    def __reduce__(self) -> Any:
        # A node that keeps its stream under a second name must get the same stream back
        # after a restore, not a copy: refusing to pickle sends it to the deepcopy path,
        # which keeps it by identity.
        raise TypeError("a node's random stream is kept by reference, never copied")


def counting(rng: random.Random) -> CountingRandom:
    """A `CountingRandom` in the same state as ``rng``."""
    tracked = CountingRandom.__new__(CountingRandom)  # (not seeded: its state comes next)
    tracked.gauss_next = None
    tracked.setstate(rng.getstate())
    return tracked
