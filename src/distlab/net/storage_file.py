"""A real node's storage on disk: one JSON file per node, written atomically, locked in use.

In the simulator a node's ``storage`` survives a crash because the simulation keeps the dict.
A real process keeps it in ``<data_dir>/<id>.json``::

    {"node": "a", "storage": <the dict, as distlab.net.codec writes it>}

* **Atomic writes.** The file is replaced, never edited: the new text goes to a temporary
  file, flushed to disk, then renamed over the old one. A crash leaves the old or the new
  file whole, never half of one.
* **One writer.** While a node runs it holds an exclusive lock on ``<id>.lock`` next to the
  file. Two processes with the same id and data directory (two clusters given the same
  ``data_dir``) would each overwrite what the other wrote, silently losing writes that were
  already acknowledged; the second one is refused instead. The operating system releases the
  lock when the process ends, ``kill -9`` included, so a restarted node takes it again.
* **The file names its node.** A file copied or renamed from another node's is refused: a
  node that started with another node's votes and log would break the protocol's promises.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import IO, Any

from distlab.net.codec import Codec, CodecError


class StorageFileError(ValueError):
    """A storage file that cannot be used: unreadable, another node's, or in use."""


def storage_path(data_dir: str | Path, node_id: str) -> Path:
    """Where node ``node_id`` keeps its storage."""
    return Path(data_dir) / f"{node_id}.json"


def storage_text(node_id: str, storage: dict[Any, Any], codec: Codec) -> str:
    """The contents of node ``node_id``'s storage file."""
    data = {"node": node_id, "storage": codec.encode(storage, where="storage")}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def load_storage(path: Path, codec: Codec, node_id: str) -> dict[Any, Any]:
    """Node ``node_id``'s storage saved at ``path``, or an empty dict if there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    start_afresh = "delete it to start the node with empty storage"
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StorageFileError(f"the storage file {path} is not JSON ({exc}): "
                               f"{start_afresh}") from None
    if not isinstance(data, dict) or "storage" not in data or "node" not in data:
        keys = sorted(data) if isinstance(data, dict) else f"a {type(data).__name__}"
        raise StorageFileError(f"the storage file {path} has no 'storage' and 'node' keys "
                               f"(it holds {keys}), so distlab.net did not write it: "
                               f"{start_afresh}")
    if data["node"] != node_id:
        raise StorageFileError(f"the storage file {path} belongs to node {data['node']!r}, not "
                               f"to {node_id!r}: it was copied or renamed from another node's, "
                               f"and starting from another node's state would break the "
                               f"protocol; {start_afresh}")
    try:
        storage = codec.decode(data["storage"])
    except CodecError as exc:
        raise StorageFileError(f"the storage file {path} cannot be read ({exc}): "
                               f"{start_afresh}") from exc
    if not isinstance(storage, dict):
        raise StorageFileError(f"the storage file {path} does not hold a dict: {start_afresh}")
    return storage


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old or the new file whole."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())      # the bytes are on disk before the rename makes them visible
    os.replace(tmp, path)         # atomic on POSIX: readers see old or new, never a mix
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)          # and the rename itself survives a power cut
    finally:
        os.close(dir_fd)


def lock_storage(data_dir: Path, node_id: str) -> IO[str]:
    """Take node ``node_id``'s storage lock in ``data_dir``; close the file to release it.

    Raises `StorageFileError`, naming the process that holds it, if another process does.
    """
    lock = open(data_dir / f"{node_id}.lock", "a+", encoding="utf-8")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise StorageFileError(
            f"the storage of node {node_id!r} in {data_dir} is in use by another process "
            f"(pid {holder}): two nodes {node_id!r} writing the same file would silently lose "
            f"each other's acknowledged writes. Stop the other one, or give each cluster its "
            f"own data directory (start_cluster(..., data_dir=...) or --data-dir)") from None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock
