"""Viewstamped Replication, as revisited by Liskov and Cowling (2012): one `VRReplica`
class, replicating a key-value store.

The method names follow the paper's sections, so the code can be read beside it:

* **Normal operation** (4.1): the primary of a view takes a client's request (`on_request`),
  gives it the next op-number and sends `Prepare`; a backup appends it in op-number order and
  answers `PrepareOK` (`on_prepare`); with ``f`` of them the primary commits, executes and
  replies (`on_prepare_ok`, `execute_up_to`). An idle primary sends `Commit` as a heartbeat.
* **View change** (4.2): a backup that hears nothing from its primary moves to the next view
  (`start_view_change`); with ``f`` others in that view it sends its log to the view's
  primary (`DoViewChange`), which takes the log of the latest *normal* view (`start_view`)
  and hands it to everyone (`StartView`). The primary of view ``v`` is the replica at
  position ``v mod n`` of the sorted configuration: nobody votes.
* **Recovery** (4.3): a replica keeps nothing on disk. After a crash it comes back
  *recovering*, asks everyone (`Recovery`, with a fresh nonce) and waits for ``f + 1``
  answers, one from the primary of the latest view they report, whose log it adopts
  (`on_recovery_response`). Until then it takes part in nothing, so that it never acts on
  promises it has forgotten.
* **State transfer** (5.2): a backup that finds a gap in its log asks for the missing ops
  (`GetState`, `NewState`).

The client table of section 4 is the state machine's session table (`KVMachine.sessions`,
`client_table`): the latest request of each client and its reply, so a resent request is
answered again, never executed twice.

What the paper leaves to the implementation: the primary resends, every ``commit_interval``,
its latest `Prepare` to a backup that has not acknowledged it (the paper assumes messages
are retransmitted), and a backup answers a gap with `GetState`. The only thing a replica
writes to ``storage`` is that it has started once, so that on a restart it knows it must
recover -- which the paper assumes a replica knows. None of the protocol's state is there.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from distlab.consensus.timeouts import leader_timings
from distlab.consensus.vr.messages import (Commit, DoViewChange, GetState, NewState, Prepare,
                                           PrepareOK, Recovery, RecoveryResponse, StartView,
                                           StartViewChange)
from distlab.kv.machine import KVMachine
from distlab.sim import ConfigurationError, Node
from distlab.workloads.client import NotLeader
from distlab.workloads.kv import Append, AppendOk, Get, GetOk, Put, PutOk

#: the client requests a replica accepts
REQUESTS = (Get, Put, Append)
#: what it answers them
REPLIES = (GetOk, PutOk, AppendOk, NotLeader)


class VRReplica(Node):
    """One replica of Viewstamped Replication (see the module's docstring).

    ``timeout`` is the range a backup's timeout is drawn from, in ms: that long without a
    word from the primary and it starts a view change. ``commit_interval`` is how often an
    idle primary sends `Commit`. ``recovery_retry`` is how often a recovering replica asks
    again.

    State, all in memory, with the paper's names: ``view_number``, ``status`` (``"normal"``,
    ``"view-change"`` or ``"recovering"``), ``op_number``, ``log`` (the requests, op-number
    1 first), ``commit_number``, and ``last_normal_view``. Invariants: ``commit_number <=
    op_number == len(log)``; the primary of ``view_number`` is ``primary_of(view_number)``.
    """

    def __init__(self, timeout: tuple[float, float] = (150.0, 300.0),
                 commit_interval: float = 50.0, recovery_retry: float = 100.0):
        self.timeout = leader_timings(timeout, commit_interval,
                                      names=("timeout", "commit_interval"),
                                      otherwise="backups would replace a healthy primary")
        if recovery_retry <= 0:
            raise ValueError(f"recovery_retry must be positive; got {recovery_retry!r}")
        self.commit_interval = commit_interval
        self.recovery_retry = recovery_retry
        self.view_number = 0
        self.status = "normal"
        self.log: list[Any] = []
        self.commit_number = 0
        self.last_normal_view = 0
        self.machine = KVMachine()
        self.acks: dict[str, int] = {}               # primary: highest PrepareOK per backup
        self.view_change_from: set[str] = set()      # StartViewChange senders, this view
        self.do_view_change: dict[str, DoViewChange] = {}   # new primary: what it received
        self.sent_do_view_change = False
        self.nonce: int | None = None                # recovering: this attempt's nonce
        self.responses: dict[str, RecoveryResponse] = {}

    # -- configuration ------------------------------------------------------------------------
    @cached_property
    def configuration(self) -> list[str]:
        """Every replica, sorted: the same list on all of them (and for all time)."""
        return sorted([self.id, *self.peers])

    @property
    def f(self) -> int:
        """How many replicas may fail: a configuration has ``2f + 1`` (or ``2f + 2``)."""
        return (len(self.configuration) - 1) // 2

    def primary_of(self, view: int) -> str:
        """The primary of ``view``: chosen round robin, by the view number alone."""
        return self.configuration[view % len(self.configuration)]

    @property
    def op_number(self) -> int:
        """The op-number of the latest request in the log."""
        return len(self.log)

    @property
    def role(self) -> str:
        """``"primary"``, ``"backup"``, or the status when it is not normal."""
        if self.status != "normal":
            return self.status
        return "primary" if self.primary_of(self.view_number) == self.id else "backup"

    @property
    def client_table(self) -> dict[str, tuple[int, Any]]:
        """Per client, its latest executed request number and the reply (section 4)."""
        return self.machine.sessions

    def show(self) -> dict[str, Any]:
        return {"role": self.role, "view": self.view_number, "op_number": self.op_number,
                "commit_number": self.commit_number, "data": self.machine.data}

    # -- start, timers ------------------------------------------------------------------------
    def on_start(self) -> None:
        """A first start is normal, in view 0. A restart finds its memory empty: recover."""
        if len(self.configuration) < 3:
            raise ConfigurationError(
                f"Viewstamped Replication needs at least 3 replicas (2f + 1 with f >= 1) to "
                f"survive a failure; {self.id!r} has {len(self.configuration)}: add the "
                f"replicas with one add_nodes call")
        if self.storage.get("started"):
            self.start_recovery()
            return
        self.storage["started"] = True
        self.begin_normal()

    def begin_normal(self) -> None:
        """Timers of a replica in normal status: the primary's heartbeat, a backup's
        timeout."""
        if self.role == "primary":
            self.cancel_timer("view-change")
            self.set_timer(self.commit_interval, "tick")
        else:
            self.reset_timeout()

    def reset_timeout(self) -> None:
        self.set_timer(self.rng.uniform(*self.timeout), "view-change")

    def on_timer(self, name: str) -> None:
        match name:
            case "tick" if self.role == "primary":
                self.heartbeat()
            case "view-change" if self.status in ("normal", "view-change"):
                if self.role != "primary":
                    self.start_view_change(self.view_number + 1)
            case "recovery" if self.status == "recovering":
                self.broadcast(Recovery(self.id, self.nonce))
                self.set_timer(self.recovery_retry, "recovery")

    def heartbeat(self) -> None:
        """Every backup hears from the primary: the latest `Prepare` if it has not
        acknowledged it (it was lost, or the backup was away), else `Commit`."""
        for backup in self.peers:
            if self.acks.get(backup, 0) < self.op_number:
                self.send(backup, Prepare(self.view_number, self.log[-1], self.op_number,
                                          self.commit_number))
            else:
                self.send(backup, Commit(self.view_number, self.commit_number))
        self.set_timer(self.commit_interval, "tick")

    # -- messages -----------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, REQUESTS):
            self.on_request(src, msg)
            return
        if self.status == "recovering":
            if isinstance(msg, RecoveryResponse):
                self.on_recovery_response(src, msg)
            return  # a recovering replica takes part in nothing else
        match msg:
            case Prepare() | Commit():
                self.on_prepare_or_commit(src, msg)
            case PrepareOK():
                self.on_prepare_ok(msg)
            case GetState(view=view, op_number=op_number) if (
                    view == self.view_number and self.status == "normal"):
                self.send(src, NewState(view, tuple(self.log[op_number:]), self.op_number,
                                        self.commit_number))
            case NewState():
                self.on_new_state(msg)
            case StartViewChange():
                self.on_start_view_change(msg)
            case DoViewChange():
                self.on_do_view_change(msg)
            case StartView():
                self.on_start_view(msg)
            case Recovery(replica=replica, nonce=nonce) if self.status == "normal":
                self.answer_recovery(replica, nonce)

    # -- normal operation ---------------------------------------------------------------------
    def on_request(self, src: str, request: Get | Put | Append) -> None:
        """Only the primary in normal status takes requests. The client table drops a request
        already in the log and answers again one already executed."""
        if self.role != "primary":
            leader = self.primary_of(self.view_number) if self.status == "normal" else None
            self.send(src, NotLeader(request.msg_id, leader))
            return
        reply = self.machine.reply_to(request)
        if reply is not None:
            self.send(src, reply)
            return
        latest = self.client_table.get(request.client, (0, None))[0]
        if request.msg_id < latest or request in self.log[self.commit_number:]:
            return  # older than what the client waits for, or waiting for its commit
        self.log.append(request)
        for backup in self.peers:
            self.send(backup, Prepare(self.view_number, request, self.op_number,
                                      self.commit_number))
        self.set_timer(self.commit_interval, "tick")  # a Prepare is a heartbeat too

    def on_prepare_or_commit(self, src: str, msg: Prepare | Commit) -> None:
        """A backup hears from the primary: append the op (in op-number order), acknowledge,
        and execute what is committed. A message of a later view than it knows means it missed
        the view change: it keeps its committed ops and fetches the rest (section 5.2)."""
        if msg.view < self.view_number:
            return
        if msg.view > self.view_number or self.status != "normal":
            self.enter_later_view(msg.view)
            return
        if self.role == "primary":
            return
        self.reset_timeout()
        if isinstance(msg, Prepare):
            if msg.op_number == self.op_number + 1:
                self.log.append(msg.request)
            if msg.op_number <= self.op_number:
                self.send(src, PrepareOK(self.view_number, self.op_number, self.id))
        last = msg.op_number if isinstance(msg, Prepare) else msg.commit_number
        if last > self.op_number:  # a gap: ops were lost on the way
            self.send(src, GetState(self.view_number, self.op_number, self.id))
        self.execute_up_to(msg.commit_number)

    def on_prepare_ok(self, msg: PrepareOK) -> None:
        """The primary counts acknowledgements: an op is committed once ``f`` backups have
        it (with the primary, ``f + 1``: a majority); every op before it is committed too."""
        if self.role != "primary" or msg.view != self.view_number:
            return
        self.acks[msg.replica] = max(self.acks.get(msg.replica, 0), msg.op_number)
        acked = sorted(self.acks.values(), reverse=True)
        if len(acked) >= self.f:
            self.execute_up_to(acked[self.f - 1])  # the highest op f backups have

    def execute_up_to(self, commit_number: int) -> None:
        """Execute, in order, the committed ops this replica has and has not executed; the
        primary replies to their clients."""
        while self.commit_number < min(commit_number, self.op_number):
            self.commit_number += 1
            request = self.log[self.commit_number - 1]
            reply = self.machine.apply(request)
            if self.role == "primary" and reply is not None:
                self.send(request.client, reply)

    def on_new_state(self, msg: NewState) -> None:
        """State transfer: the ops after the op-number it had when it asked."""
        if msg.view != self.view_number or self.status != "normal":
            return
        start = msg.op_number - len(msg.ops)
        if start <= self.op_number < msg.op_number:
            self.log.extend(msg.ops[self.op_number - start:])
            self.send(self.primary_of(self.view_number),
                      PrepareOK(self.view_number, self.op_number, self.id))
        self.execute_up_to(msg.commit_number)

    def enter_later_view(self, view: int) -> None:
        """It missed a `StartView`: adopt the view, keep only the committed ops (the rest may
        differ from the new primary's) and ask the primary for the others."""
        self.view_number = view
        self.status = "normal"
        self.last_normal_view = view
        del self.log[self.commit_number:]
        self.send(self.primary_of(view), GetState(view, self.op_number, self.id))
        self.begin_normal()

    # -- view change --------------------------------------------------------------------------
    def start_view_change(self, view: int) -> None:
        """Give up on the primary: move to ``view`` (not yet normal) and tell everyone."""
        self.view_number = view
        self.status = "view-change"
        self.view_change_from = set()
        self.do_view_change = {}
        self.sent_do_view_change = False
        self.cancel_timer("tick")
        self.note("view-change", view=view)
        self.broadcast(StartViewChange(view, self.id))
        self.reset_timeout()  # if this view never starts, try the next

    def on_start_view_change(self, msg: StartViewChange) -> None:
        """With ``f`` other replicas in the same new view, send the new primary this
        replica's log and the last view in which it was normal."""
        if msg.view > self.view_number:
            self.start_view_change(msg.view)
        if msg.view != self.view_number or self.status != "view-change":
            return
        self.view_change_from.add(msg.replica)
        if len(self.view_change_from) >= self.f and not self.sent_do_view_change:
            self.sent_do_view_change = True
            message = DoViewChange(self.view_number, tuple(self.log), self.last_normal_view,
                                   self.op_number, self.commit_number, self.id)
            if self.primary_of(self.view_number) == self.id:
                self.on_do_view_change(message)
            else:
                self.send(self.primary_of(self.view_number), message)

    def on_do_view_change(self, msg: DoViewChange) -> None:
        """The new primary collects ``f + 1`` logs (its own among them, as it comes)."""
        if msg.view > self.view_number:
            self.start_view_change(msg.view)
        if (msg.view != self.view_number or self.status != "view-change"
                or self.primary_of(msg.view) != self.id):
            return
        self.do_view_change[msg.replica] = msg
        if len(self.do_view_change) >= self.f + 1:
            self.start_view()

    def choose_log(self) -> DoViewChange:
        """The log to keep: from the latest view in which a replica was normal, and of those
        the longest. Any op committed had a majority in that view, and every majority meets
        the ``f + 1`` replicas heard here."""
        return max(self.do_view_change.values(),
                   key=lambda m: (m.last_normal_view, m.op_number))

    def start_view(self) -> None:
        """Become primary of the new view with the chosen log; execute what was committed."""
        chosen = self.choose_log()
        commit = max(m.commit_number for m in self.do_view_change.values())
        self.log = list(chosen.log)
        self.status = "normal"
        self.last_normal_view = self.view_number
        self.acks = {}
        self.note("primary", view=self.view_number)
        self.broadcast(StartView(self.view_number, tuple(self.log), self.op_number, commit))
        self.execute_up_to(commit)
        self.begin_normal()

    def on_start_view(self, msg: StartView) -> None:
        """A backup adopts the new primary's log, and acknowledges the ops not yet
        committed so that the primary can commit them."""
        if msg.view < self.view_number or (msg.view == self.view_number
                                           and self.status == "normal"):
            return
        self.view_number = msg.view
        self.status = "normal"
        self.last_normal_view = msg.view
        self.log = list(msg.log)
        self.execute_up_to(msg.commit_number)
        if self.op_number > self.commit_number:
            self.send(self.primary_of(msg.view), PrepareOK(msg.view, self.op_number, self.id))
        self.begin_normal()

    # -- recovery -----------------------------------------------------------------------------
    def start_recovery(self) -> None:
        """Back from a crash with nothing: ask everyone, under a nonce of this attempt."""
        self.status = "recovering"
        self.nonce = self.rng.getrandbits(32)
        self.responses = {}
        self.note("recovering", nonce=self.nonce)
        self.broadcast(Recovery(self.id, self.nonce))
        self.set_timer(self.recovery_retry, "recovery")

    def answer_recovery(self, replica: str, nonce: int) -> None:
        """A normal replica answers with its view; the primary adds its state."""
        if self.role == "primary":
            self.send(replica, RecoveryResponse(self.view_number, nonce, tuple(self.log),
                                                self.op_number, self.commit_number, self.id))
        else:
            self.send(replica, RecoveryResponse(self.view_number, nonce, None, None, None,
                                                self.id))

    def on_recovery_response(self, src: str, msg: RecoveryResponse) -> None:
        """With ``f + 1`` answers to this nonce, one from the primary of the latest view among
        them, take that primary's state and become a normal backup."""
        if msg.nonce != self.nonce:
            return  # an answer to an earlier attempt: it may describe an older state
        self.responses[src] = msg
        view = max(r.view for r in self.responses.values())
        primary = self.responses.get(self.primary_of(view))
        if len(self.responses) < self.f + 1 or primary is None or primary.view != view:
            return
        self.view_number = self.last_normal_view = view
        self.status = "normal"
        self.log = list(primary.log)
        self.commit_number = 0
        self.machine = KVMachine()
        self.execute_up_to(primary.commit_number)
        self.cancel_timer("recovery")
        self.note("recovered", view=view, op_number=self.op_number)
        self.begin_normal()
