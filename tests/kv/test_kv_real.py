"""The partitioned store runs as real processes over TCP on loopback (`distlab.net`): a
node joins and another leaves while a client writes, and nothing acknowledged is lost."""

from __future__ import annotations

import pytest

from distlab.kv.partitioned import owner
from distlab.kv.real import KEYS, MEMBERSHIPS, ChurnRun, join_and_leave

pytestmark = pytest.mark.timeout(120)


def test_a_real_join_and_leave_under_writes_lose_nothing(tmp_path):
    run = join_and_leave(tmp_path)
    # every key existed before each change: the servers handed over exactly what the rings move
    moved = tuple(sum(owner(old, key) != owner(new, key) for key in KEYS)
                  for old, new in zip(MEMBERSHIPS, MEMBERSHIPS[1:]))
    assert all(count >= 1 for count in moved)
    assert run == ChurnRun(operations=72, ok=72, moved=moved, all_at_final_owner=True,
                           left_behind=0, verdict="linearizable")
    assert (tmp_path / "n2.log").read_text().count("received SIGTERM") == 1
