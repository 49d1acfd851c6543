"""A real node's storage on disk (`distlab.net.storage_file`), and what it may hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from distlab.net import ClusterError, Codec, start_cluster, storage_file
from distlab.net.storage_file import StorageFileError, load_storage
from distlab.sim import NodeError, Simulation

pytestmark = pytest.mark.timeout(30)


def test_two_clusters_cannot_share_a_nodes_storage(tmp_path: Path) -> None:
    # Both would write a.json, each overwriting the other's acknowledged writes.
    with start_cluster("net_nodes:Echo", ["a"], data_dir=tmp_path) as first:
        with pytest.raises(ClusterError, match=r"(?s)exited with code 2 .*the storage of node "
                                               r"'a' .* is in use by another process \(pid "
                                               rf"{first.pid('a')}\).*own data directory"):
            start_cluster("net_nodes:Echo", ["a"], data_dir=tmp_path)
        assert first.is_alive("a")
    with start_cluster("net_nodes:Echo", ["a"], data_dir=tmp_path) as second:   # free again
        assert second.is_alive("a")


@pytest.mark.parametrize("text, message", [
    ('{"node": "a", "storage": {"$dict": {"boots": 3}}}', None),
    ('{"node": "b", "storage": {"$dict": {"boots": 3}}}',
     "belongs to node 'b', not to 'a': it was copied or renamed"),
    ('{"node": "a"}', r"has no 'storage' and 'node' keys \(it holds \['node'\]\)"),
    ('{"boots": 3}', r"has no 'storage' and 'node' keys \(it holds \['boots'\]\)"),
    ("[1, 2]", "has no 'storage' and 'node' keys .it holds a list"),
    ('{"node": "a", "storage": {"$tuple": [1]}}', "does not hold a dict"),
    ('{"node": "a", "storage": {"$bogus": 1}}', "cannot be read .cannot decode"),
    ("{", "is not JSON"),
])
def test_a_storage_file_is_read_only_by_its_own_node(tmp_path: Path, text: str,
                                                    message: str | None) -> None:
    path = tmp_path / "a.json"
    path.write_text(text)
    if message is None:
        assert load_storage(path, Codec(), "a") == {"boots": 3}
    else:
        with pytest.raises(StorageFileError, match=message + ".*delete it to start the node"):
            load_storage(path, Codec(), "a")


def test_storage_the_codec_cannot_write_fails_alike_in_the_simulator_and_for_real(
        tmp_path: Path) -> None:
    from net_nodes import DequeKeeper

    sim = Simulation(seed=1)
    sim.add_node(DequeKeeper, "a")
    with pytest.raises(NodeError) as simulated:
        sim.run(until=10)
    reason = str(simulated.value.__cause__)
    assert reason.startswith("storage['kept'] is of type deque, which a real node could not")
    with start_cluster("net_nodes:DequeKeeper", ["a"], data_dir=tmp_path) as cluster:
        assert cluster.wait_for_exit("a") == 1
        output = cluster.output("a")
    assert "the node crashed" in output and f"StorageError: {reason}" in output


def test_a_storage_file_is_on_disk_before_it_replaces_the_old_one(tmp_path, monkeypatch):
    # kill -9 spares the kernel's page cache; a power cut does not: the file's bytes, then the
    # rename, must be forced to the disk (fsync) before the node acknowledges anything
    calls = []
    real_fsync, real_replace = storage_file.os.fsync, storage_file.os.replace
    monkeypatch.setattr(storage_file.os, "fsync",
                        lambda fd: calls.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(storage_file.os, "replace",
                        lambda a, b: calls.append("replace") or real_replace(a, b))
    path = tmp_path / "a.json"
    storage_file.write_atomically(path, "new\n")
    assert calls == ["fsync", "replace", "fsync"]     # the data, the rename, the directory
    assert path.read_text() == "new\n" and not (tmp_path / "a.json.tmp").exists()
