"""Fault injection for real: the key-value store on Raft as OS processes, and a schedule of
faults run against it while clients work (page 05.06, and ``python -m distlab faults``).

The simulator decides when a node crashes and what a crash loses; here the operating system
does. `run_with_faults` starts a Raft cluster with `distlab.net.start_cluster` (one process
per node, each node's storage a file written with ``fsync`` before it answers), runs client
threads that append to and read a few keys, and meanwhile follows a `fault_schedule`:

* ``kill -9`` of the leader, then its restart from its storage file;
* ``kill -9`` of a follower, then its restart;
* a partition: every link of one node cut through `distlab.net.proxy.FaultProxy` (the
  messages stall, as on a dead link), then healed.

At the end every node runs again, each key is read once more, and the recorded history is
checked for linearizability (`distlab.check`): the acknowledged appends must all be there,
in an order the clients could have seen. This is the experiment Jepsen made the standard way
to test a real database (Kingsbury; Basiri et al. 2016 call the practice chaos engineering).

Times are real, so the number of operations varies from run to run; what must not vary is
the verdict, and that no acknowledged write is lost.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distlab.check.history_plot import draw_history
from distlab.check.linearizability import LinearizabilityResult, Op, check_linearizability
from distlab.consensus.raft.real import ask
from distlab.net.addresses import free_ports
from distlab.net.cluster import Cluster, start_cluster
from distlab.net.proxy import FaultProxy
from distlab.sim import History
from distlab.sim.history import Operation
from distlab.viz.palette import INK
from distlab.workloads.kv import Append, AppendOk, Get, GetOk

ACTIONS = ("kill-leader", "kill-follower", "restart", "isolate", "heal")
#: where each fault falls, as fractions of the run: (earliest, latest) of each step
WINDOWS = (("kill-leader", 0.10, 0.18), ("restart", 0.26, 0.32),
           ("kill-follower", 0.40, 0.48), ("restart", 0.54, 0.60),
           ("isolate", 0.66, 0.72), ("heal", 0.80, 0.86))
KEYS = ("x", "y")


@dataclass(frozen=True)
class Fault:
    """One step of a fault schedule: do ``action`` ``at`` seconds into the run.

    ``node`` names the node for ``isolate``; ``kill-leader`` and ``kill-follower`` find
    their victim when they happen (who leads is known only then), the follower being the
    ``pick``-th of the followers in id order (modulo their number; one killed before is
    spared if another is left); ``restart`` restarts the node killed last of those still
    down, ``heal`` reconnects the isolated one."""

    at: float
    action: str
    node: str | None = None
    pick: int = 0


def fault_schedule(seed: int, nodes: Sequence[str], duration: float) -> list[Fault]:
    """The faults of a run of ``duration`` seconds on ``nodes``: the six steps of `WINDOWS`,
    each at a time the seed draws inside its window, the follower and the isolated node
    chosen by the seed too. The same seed gives the same schedule."""
    if len(nodes) < 3 or len(nodes) % 2 == 0:
        raise ValueError(f"a fault schedule needs an odd number of nodes, at least 3, so that "
                         f"a majority survives one fault; got {len(nodes)}")
    if duration < 4:
        raise ValueError(f"a run with six faults needs at least 4 seconds, got {duration}: "
                         f"a new leader needs time to be elected between two faults")
    rng = random.Random(f"faults:{seed}")
    isolated = rng.choice(sorted(nodes))
    schedule = []
    for action, low, high in WINDOWS:
        at = round(duration * rng.uniform(low, high), 2)
        node = isolated if action in ("isolate", "heal") else None
        pick = rng.randrange(len(nodes) - 1) if action == "kill-follower" else 0
        schedule.append(Fault(at, action, node, pick))
    return schedule


def check_schedule(schedule: Sequence[Fault], nodes: Sequence[str]) -> list[Fault]:
    """``schedule`` as a list in time order, if `run_with_faults` can follow it on ``nodes``:
    known actions, one node isolated (and healed after), a restart only for a node killed
    before and not yet restarted. A `ValueError` says what does not fit."""
    steps = sorted(schedule, key=lambda f: f.at)
    dead, isolated, cut = 0, {f.node for f in steps if f.action == "isolate"}, False
    if len(isolated) > 1 or not isolated <= set(nodes):
        named = sorted(str(node) for node in isolated)
        raise ValueError(f"a schedule isolates one of {tuple(nodes)} at most (proxies are set "
                         f"up on its links before the start); it isolates {named}")
    for fault in steps:
        if fault.action not in ACTIONS:
            raise ValueError(f"unknown fault action {fault.action!r}; the actions are {ACTIONS}")
        if fault.action == "restart" and dead == 0:
            raise ValueError(f"the restart at {fault.at} s has no killed node to restart: "
                             f"put a kill-leader or kill-follower before it")
        if fault.action in ("isolate", "heal") and cut == (fault.action == "isolate"):
            raise ValueError(f"the {fault.action} at {fault.at} s comes "
                             f"{'while a node is isolated' if cut else 'with nothing cut'}")
        dead += {"kill-leader": 1, "kill-follower": 1, "restart": -1}.get(fault.action, 0)
        cut = {"isolate": True, "heal": False}.get(fault.action, cut)
    return steps


@dataclass
class Progress:
    """What a run is doing now, for a live progress line: the time (s since the workload
    began), the latest fault done (``"killed n2 (leader)"``), the operations so far."""

    t: float = 0.0
    event: str = "starting"
    ok: int = 0
    unknown: int = 0
    retried: int = 0

    def line(self) -> str:
        """The progress line: ``t= 3.2 s  killed n2 (leader)  ops 41 ok / 1 unknown / ...``."""
        return (f"t={self.t:4.1f} s  {self.event:<28}  ops {self.ok} ok / {self.unknown} "
                f"unknown / {self.retried} retried")


@dataclass(frozen=True)
class FaultRun:
    """What `run_with_faults` found.

    ``events``: the faults done, in words and in order, with the time each happened.
    ``ok``: operations acknowledged; ``unknown``: operations given up on (a timeout: they may
    or may not have taken effect); ``retried``: requests sent again (to another server, or
    where a `NotLeader` pointed).
    ``lost``: acknowledged appends missing from the final reads (a durable store loses none).
    ``verdict``: the linearizability checker's, on the whole history, final reads included;
    ``result`` its whole answer (the order it found, for `draw_fault_window`).
    """

    nodes: tuple[str, ...]
    schedule: tuple[Fault, ...]
    events: tuple[tuple[float, str], ...]
    history: History
    ok: int
    unknown: int
    retried: int
    lost: int
    final: dict[str, str]
    verdict: str
    result: LinearizabilityResult | None = None

    def summary(self) -> str:
        """Counts and the verdict, as the command prints them at the end."""
        return (f"{len(self.history)} operations: {self.ok} ok, {self.unknown} unknown "
                f"(timed out), {self.retried} retries; acknowledged appends lost: "
                f"{self.lost}; verdict: {self.verdict}")


class _Workload:
    """Client threads that append to and read `KEYS` until told to stop, recording each
    operation in one shared history (a lock keeps the threads' records apart)."""

    def __init__(self, cluster: Cluster, clients: Sequence[str], seed: int,
                 deadline: float) -> None:
        self.cluster, self.deadline = cluster, deadline
        self.nodes = cluster.ids
        self.start = time.monotonic()
        self.history = History(clock=lambda: time.monotonic() - self.start)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.retried = 0
        self.threads = [threading.Thread(target=self._client, args=(c, seed), daemon=True)
                        for c in clients]

    def __enter__(self) -> _Workload:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _retry(self) -> None:
        with self.lock:
            self.retried += 1

    def call(self, client: str, request: Get | Append, server: str,
             deadline: float | None = None) -> str:
        """Do one request, recorded; returns the server to try first next time. The request
        is given up on (its outcome unknown) after ``deadline`` seconds (default: the
        workload's)."""
        with self.lock:
            if isinstance(request, Append):
                op = self.history.invoke(client, "append", request.value, request.key)
            else:
                op = self.history.invoke(client, "get", key=request.key)
        try:
            server, reply = ask(self.cluster.client(client), request, server, self.nodes,
                                deadline=deadline or self.deadline, on_retry=self._retry)
        except TimeoutError:
            with self.lock:
                self.history.info(op)
            return self.nodes[(self.nodes.index(server) + 1) % len(self.nodes)]
        with self.lock:
            match reply:
                case GetOk(value=value):
                    self.history.ok(op, value)
                case AppendOk():
                    self.history.ok(op)
                case _:
                    raise RuntimeError(f"{server} answered {request!r} with {reply!r}")
        return server

    def _client(self, client: str, seed: int) -> None:
        rng = random.Random(f"client:{seed}:{client}")
        server, msg_id = self.nodes[0], 0
        while not self.stopping.is_set():
            msg_id += 1
            key = rng.choice(KEYS)
            if rng.random() < 0.5:
                request: Get | Append = Append(client, msg_id, key, f"{client}.{msg_id};")
            else:
                request = Get(client, msg_id, key)
            server = self.call(client, request, server)
            time.sleep(0.01)      # leave the machine some breath: the point is faults, not load

    def counts(self) -> tuple[int, int, int]:
        """Operations acknowledged, operations given up on, retries: so far."""
        with self.lock:
            ops = list(self.history)
            return (sum(op.status == "ok" for op in ops),
                    sum(op.status == "info" for op in ops), self.retried)


class _Partitions:
    """A `FaultProxy` on each link of one node, both ways: ``cut`` isolates it, ``heal``
    reconnects it. The routes go to `start_cluster` so the nodes talk through the proxies."""

    def __init__(self, stack: ExitStack, node: str | None, nodes: Sequence[str],
                 ports: dict[str, int]) -> None:
        self.proxies: list[FaultProxy] = []
        self.routes: dict[tuple[str, str], int] = {}
        for other in nodes if node is not None else ():
            if other == node:
                continue
            for src, dst in ((node, other), (other, node)):
                proxy = stack.enter_context(FaultProxy(0, "127.0.0.1", ports[dst]))
                assert proxy.port is not None
                self.routes[(src, dst)] = proxy.port
                self.proxies.append(proxy)

    def cut(self) -> None:
        for proxy in self.proxies:
            proxy.cut()

    def heal(self) -> None:
        for proxy in self.proxies:
            proxy.heal()


def _leader(cluster: Cluster, control: str, msg_id: int) -> str:
    """The node that leads now: the one that answers a read (followers redirect)."""
    alive = [n for n in cluster.ids if cluster.is_alive(n)]
    leader, _ = ask(cluster.client(control), Get(control, msg_id, KEYS[0]), alive[0],
                    cluster.ids, deadline=30.0)
    return leader


def run_with_faults(nodes: int = 3, duration: float = 10.0, seed: int = 1, *,
                    schedule: Sequence[Fault] | None = None,
                    clients: int = 2, data_dir: str | Path | None = None,
                    progress: Callable[[Progress], None] | None = None,
                    check_timeout: float = 60.0) -> FaultRun:
    """Run the key-value store on ``nodes`` Raft processes for ``duration`` seconds of client
    work (longer if the faults fall behind) under the seed's `fault_schedule`; return what
    happened and the checker's verdict.

    ``progress`` is called about ten times a second with a `Progress` (the command prints it
    as a live line). Each node's files go to ``data_dir`` (a temporary directory if None).
    """
    if clients < 1:
        raise ValueError(f"clients must be at least 1, got {clients}")
    ids = tuple(f"n{i}" for i in range(1, nodes + 1))
    schedule = (fault_schedule(seed, ids, duration) if schedule is None
                else check_schedule(schedule, ids))
    client_ids = [f"c{i}" for i in range(1, clients + 1)]
    ports = dict(zip(ids, free_ports(len(ids)), strict=True))
    events: list[tuple[float, str]] = []
    status = Progress()
    with ExitStack() as stack:
        isolated = next((f.node for f in schedule if f.action == "isolate"), None)
        partitions = _Partitions(stack, isolated, ids, ports)
        cluster = stack.enter_context(start_cluster(
            "distlab.consensus.raft.node:RaftNode", ids, data_dir=data_dir, ports=ports,
            routes=partitions.routes, clients=[*client_ids, "control"], seed=seed,
            args={"election_timeout": [300, 600], "heartbeat_interval": 60,
                  "snapshot_every": 50}))
        control_ids = iter(range(1, 1_000_000))
        _leader(cluster, "control", next(control_ids))     # wait until a leader is elected
        killed: list[str] = []
        with _Workload(cluster, client_ids, seed, deadline=max(2.0, duration / 4)) as work:
            steps = iter(schedule)
            step = next(steps, None)
            # a step may end late (a restart takes seconds on a busy machine): the later
            # steps move by as much (``lag``), so a partition lasts as long as planned, and
            # the run lasts until every step is done, at least ``duration``
            lag = 0.0
            while (now := time.monotonic() - work.start) < duration or step is not None:
                if step is not None and now >= step.at + lag:
                    event = do_fault(step, cluster, partitions, killed,
                                lambda: _leader(cluster, "control", next(control_ids)))
                    now = time.monotonic() - work.start
                    lag = max(lag, now - step.at)
                    events.append((round(now, 2), event))
                    status.event = event
                    step = next(steps, None)
                status.t = now
                status.ok, status.unknown, status.retried = work.counts()
                if progress is not None:
                    progress(status)
                time.sleep(0.1)
        for node in ids:              # whatever the schedule left down comes back
            if not cluster.is_alive(node):
                cluster.restart(node)
        partitions.heal()
        for key in KEYS:              # the final reads, recorded like any other
            work.call("control", Get("control", next(control_ids), key), ids[0], deadline=30.0)
    history = work.history
    ok, unknown, retried = work.counts()
    final = {op.key: op.output for op in history if op.process == "control"
             and op.status == "ok"}
    status.event = "checking the history"
    if progress is not None:
        progress(status)
    result = check_linearizability(history, "kv", timeout=check_timeout)
    return FaultRun(nodes=ids, schedule=tuple(schedule), events=tuple(events), history=history,
                    ok=ok, unknown=unknown, retried=retried,
                    lost=len(lost_appends(history, final)), final=final,
                    verdict=str(result.verdict), result=result)


def do_fault(step: Fault, cluster: Cluster, partitions: _Partitions, killed: list[str],
        leader: Callable[[], str]) -> str:
    """Do one fault; say what was done, in words."""
    match step.action:
        case "kill-leader":
            victim = leader()
            cluster.kill(victim)
            killed.append(victim)
            return f"killed {victim} (leader)"
        case "kill-follower":
            boss = leader()
            followers = [n for n in cluster.ids if n != boss and cluster.is_alive(n)
                         and n not in killed[-1:]] or [n for n in cluster.ids if n != boss]
            victim = followers[step.pick % len(followers)]
            cluster.kill(victim)
            killed.append(victim)
            return f"killed {victim} (follower)"
        case "restart":
            victim = next(n for n in reversed(killed) if not cluster.is_alive(n))
            cluster.restart(victim)
            return f"restarted {victim}"
        case "isolate":
            partitions.cut()
            return f"isolated {step.node}"
        case "heal":
            partitions.heal()
            return f"healed {step.node}"
    raise ValueError(f"unknown fault action {step.action!r}; the actions are {ACTIONS}")


def lost_appends(history: History, final: dict[str, str]) -> list[Operation]:
    """The acknowledged appends whose value is missing from the final read of their key."""
    present = {key: set(value.split(";")) for key, value in final.items()}
    return [op for op in history if op.f == "append" and op.status == "ok"
            and op.value.rstrip(";") not in present.get(op.key, set())]


def history_window(run: FaultRun, event: int = 0, key: str = KEYS[0],
                   max_ops: int = 24, seconds: float = 1.0) -> list[Op]:
    """The operations on ``key`` within ``seconds`` of fault number ``event`` (0: the leader's
    kill): the ``max_ops // 2`` nearest among those answered before it, and as many among the
    others (in flight at the fault, or later), so that both sides show even when one is much
    busier; the part of the history worth drawing, as the checker's `Op` values."""
    at = run.events[event][0]
    near = [op for op in run.history if op.key == key
            and _distance(op.invoke_time, op.complete_time, at) <= seconds]
    before = [op for op in near if op.complete_time is not None and op.complete_time < at]
    after = [op for op in near if op not in before]
    chosen = [op for side in (before, after) for op in sorted(
        side, key=lambda op: _distance(op.invoke_time, op.complete_time, at))[:max_ops // 2]]
    return [Op.of(op) for op in sorted(chosen, key=lambda op: op.invoke_time)]


def _distance(start: float, end: float | None, at: float) -> float:
    """How far the time ``at`` is from an operation that ran from ``start`` to ``end`` (None:
    never answered): 0 if it was in flight then."""
    if at < start:
        return start - at
    return 0.0 if end is None or at <= end else at - end


def draw_fault_window(run: FaultRun, event: int = 0, key: str = KEYS[0],
                      max_ops: int = 24, seconds: float = 1.0) -> Any:
    """The history of ``key`` up to ``seconds`` before and after fault number ``event``,
    drawn by the checker's plot with the order the checker found (numbered points), and the
    fault as a dashed line in the middle of the frame."""
    if run.result is None:
        raise ValueError("this run has no checker's result to draw (run_with_faults gives one)")
    ops = history_window(run, event, key, max_ops, seconds)
    shown = {op.id for op in ops}
    order = [op for op in run.result.linearizations.get(key, ()) if op.id in shown]
    at, what = run.events[event]
    fig = draw_history(ops, run.result.model, linearization=order, max_ops=len(ops),
                       title=f"Operations on {key!r} around the fault: {what}")
    ax = fig.axes[0]
    ax.axvline(at, color=INK, linestyle="--", linewidth=1.2)
    # as far on each side as the farthest operation shown, and no farther than ``seconds``
    # (an operation that ran on past the frame is cut at its edge)
    half = min(seconds, max((abs(t - at) for op in ops
                             for t in (op.invoke_time, op.complete_time) if t is not None),
                            default=seconds)) * 1.05
    ax.set_xlim(at - half, at + half)
    ax.set_xlabel("seconds since the workload started")
    return fig
