"""A stable hash for partitioning: the same key gives the same number in every process.

Python's built-in ``hash()`` of a string is salted afresh in every process (PYTHONHASHSEED),
so two clients, or two runs of the same notebook, would send one key to different nodes.
Every client and server of a partitioned store must compute the same hash, so we use BLAKE2b
(from `hashlib`) cut to 64 bits: fast, well mixed, and the same everywhere.

>>> stable_hash("user:42") == stable_hash("user:42")
True
>>> 0 <= stable_hash("user:42") < HASH_SPACE
True
>>> stable_hash("user:42", seed=1) != stable_hash("user:42")
True
"""

from __future__ import annotations

import hashlib

#: Hashes are whole numbers in ``range(HASH_SPACE)``: 64 bits.
HASH_BITS = 64
HASH_SPACE = 1 << HASH_BITS

Key = str | bytes


def key_bytes(key: Key) -> bytes:
    """The bytes a key is hashed as: a string's UTF-8 encoding, or the bytes themselves."""
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, bytes):
        return key
    raise TypeError(f"a key is hashed as text: pass a str or bytes (for a number, str(key)); "
                    f"got {type(key).__name__} {key!r}")


def stable_hash(key: Key, seed: int = 0) -> int:
    """The 64-bit hash of ``key``, a whole number in ``range(HASH_SPACE)``.

    ``seed`` picks another hash function from the same family (a different BLAKE2b salt), so
    an experiment can repeat a random placement many times; it must be in ``range(2**64)``.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < HASH_SPACE:
        raise ValueError(f"seed must be a whole number in range(2**64), got {seed!r}")
    digest = hashlib.blake2b(key_bytes(key), digest_size=8, salt=seed.to_bytes(8, "little"))
    return int.from_bytes(digest.digest(), "little")


def unit(position: int) -> float:
    """A hash as a fraction of the hash space, in [0, 1): where it sits on a ring drawing."""
    return position / HASH_SPACE
