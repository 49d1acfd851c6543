"""Both runtimes -- the simulator and the real-process host -- satisfy the one `Runtime`.

`distlab.sim.runtime.Runtime` names what a `Node` relies on; a method missing, renamed or
with other parameters in either runtime would break nodes in that runtime only.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from distlab.net.host import NodeHost
from distlab.sim import Node, Simulation
from distlab.sim.runtime import Runtime

MEMBERS = ["_send", "_set_timer", "_cancel_timer", "_rng", "_clock", "_note"]


def host(tmp_path: Path) -> NodeHost:
    return NodeHost(Node, "a", ("127.0.0.1", 0), {}, data_dir=tmp_path)


def test_the_protocol_names_the_whole_contract() -> None:
    methods = [name for name, value in vars(Runtime).items()
               if inspect.isfunction(value) and name.startswith("_") and not
               name.startswith("__")]
    assert sorted(methods) == sorted(MEMBERS)
    assert "history" in Runtime.__annotations__


def test_the_simulation_and_the_host_are_runtimes(tmp_path: Path) -> None:
    assert isinstance(Simulation(), Runtime)
    assert isinstance(host(tmp_path), Runtime)
    assert not isinstance(object(), Runtime)


@pytest.mark.parametrize("runtime", [Simulation, NodeHost])
@pytest.mark.parametrize("member", MEMBERS)
def test_each_method_has_the_protocols_parameters(runtime: type, member: str) -> None:
    wanted = list(inspect.signature(getattr(Runtime, member)).parameters)
    assert list(inspect.signature(getattr(runtime, member)).parameters) == wanted, (
        f"{runtime.__name__}.{member} does not take the parameters of Runtime.{member}")


def test_the_nodes_of_both_runtimes_record_client_operations_in_a_history(
        tmp_path: Path) -> None:
    for runtime in (Simulation(), host(tmp_path)):
        op = runtime.history.invoke("c", "read")
        runtime.history.ok(op, 1)
        assert [str(op) for op in runtime.history] == ["c: read() -> 1 ok"]
