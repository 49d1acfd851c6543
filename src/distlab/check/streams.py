"""Random streams whose position is cheap to save and to restore, for the schedule explorer.

The stateful search (`distlab.check.fork`) saves every node's state after each step it
takes, and a node's state includes where its random stream (``self.rng``) stands. Copying a
Mersenne Twister's 625 words of state after every step would cost more than the step. A
`CountingRandom` counts the words it has drawn since a starting state instead: its position
is that starting state and the count, and going back to a position reloads the start and
draws as many words again, in one call.
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
    """

    def seed(self, *args: Any, **kwargs: Any) -> None:
        super().seed(*args, **kwargs)
        self.base = super().getstate()
        self.words = 0

    def setstate(self, state: tuple) -> None:
        super().setstate(state)
        self.base = state
        self.words = 0

    def random(self) -> float:
        self.words += 2  # a double takes two words of the Mersenne Twister
        return _random.Random.random(self)

    def getrandbits(self, k: int) -> int:
        if k > 0:
            self.words += (k + 31) // 32
        return _random.Random.getrandbits(self, k)

    def position(self) -> tuple:
        """Where the stream is now, as a hashable, comparable value."""
        return self.base, self.words, self.gauss_next

    def restore(self, position: tuple) -> None:
        """Go back (or forward) to a position returned by `position`."""
        base, words, gauss_next = position
        if (words, gauss_next) == (self.words, self.gauss_next) and base is self.base:
            return
        random.Random.setstate(self, base)
        if words:
            _random.Random.getrandbits(self, 32 * words)
        self.base, self.words, self.gauss_next = base, words, gauss_next

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
