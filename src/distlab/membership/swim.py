"""SWIM: scalable, weakly consistent, infection-style membership.

Das, Gupta and Motivala, "SWIM: Scalable Weakly-consistent Infection-style Process Group
Membership Protocol" (DSN 2002). Heartbeats to everyone cost N messages per node and period:
N^2 in all. SWIM splits the job in two, and makes both cost a constant per member:

* **Failure detection.** Each *protocol period* a member pings one other member, chosen in
  round-robin order through a list shuffled as it goes (so every member is probed within two
  rounds, yet the order is random). No `Ack` within ``ping_timeout``: it asks ``k`` other
  members to ping the target for it (`PingReq`), in case only the direct path is bad. No
  `Ack` by the end of the period, directly or through a helper: the probe failed.
* **Suspicion.** A failed probe does not declare the target dead: it makes it *suspect*.
  A suspect that is alive hears of it and *refutes* the suspicion by incrementing its own
  *incarnation number* and spreading ``alive`` at the new incarnation, which overrides
  ``suspect`` at the old one. A suspicion not refuted within the suspicion timeout becomes
  ``dead`` (SWIM's *confirm*). The rules of precedence, for news about one member: ``alive``
  at incarnation i overrides anything at an incarnation below i; ``suspect`` at i overrides
  ``alive`` at i and anything below i; ``dead`` at i overrides anything at i or below.
* **Dissemination.** News (`Update`) travels piggybacked on the pings and acks the detector
  sends anyway: each member keeps a bounded buffer of recent news and puts up to
  ``max_piggyback`` items, the least-sent first, on every message; an item is sent about
  ``retransmit_mult * log2(N + 1)`` times, then dropped. Like a rumour, it reaches every member
  in O(log N) periods.

A member that hears it is suspected *or dead* refutes in the same way (as Serf and Lifeguard
do; the paper's dead members must rejoin), and every message to a member that the sender
suspects or believes dead carries that news first, so that the member hears it and refutes
it at once. A new member joins through a ``contact`` (`Join`, answered by a
`Welcome` listing the membership). Its incarnation is kept in ``storage``: after a restart it
comes back one incarnation higher, which overrides its own death.

Memory stays small with thousands of members: a member stores only what it has *heard*
(``heard``: member -> (state, incarnation)); a founding member it has heard nothing about is
alive at incarnation 0. The experiments are in `distlab.membership.runs`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from distlab.membership.messages import (ALIVE, DEAD, SUSPECT, Ack, Join, Ping, PingReq, Update,
                                         Welcome)
from distlab.sim import Node

#: where a member first heard nothing: alive, at incarnation 0
UNHEARD = (ALIVE, 0)


#: the order of precedence of the states at one incarnation
RANK = {ALIVE: 0, SUSPECT: 1, DEAD: 2}


def overrides(new: tuple[str, int], old: tuple[str, int]) -> bool:
    """Whether news ``new`` = (state, incarnation) replaces ``old`` about the same member:
    a higher incarnation always does; at the same incarnation, dead beats suspect beats
    alive."""
    if new[1] != old[1]:
        return new[1] > old[1]
    return RANK[new[0]] > RANK[old[0]]


class SwimMember(Node):
    """A SWIM member: probes one member per ``period``, suspects, confirms, spreads news.

    ``members``: the founding members (default: every peer); ``contact``: join through this
    member instead (then ``members`` is empty). ``suspicion=False`` declares a member dead at
    the first failed probe: SWIM without its suspicion sub-protocol, for comparison.
    ``incarnation`` is this member's own; ``heard`` what it knows of the others.
    """

    def __init__(self, period: float = 200.0, ping_timeout: float = 40.0, k: int = 3,
                 suspicion_mult: float = 6.0, retransmit_mult: float = 1.5,
                 max_piggyback: int = 6, suspicion: bool = True,
                 members: Collection[str] | None = None, contact: str | None = None) -> None:
        if not 0 < ping_timeout < period:
            raise ValueError(f"ping_timeout must be positive and shorter than the period "
                             f"({period} ms): the indirect probes need the rest; got "
                             f"{ping_timeout!r}")
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"k (helpers asked after a failed ping) is an int >= 0, got {k!r}")
        self.period = period
        self.ping_timeout = ping_timeout
        self.k = k
        self.suspicion_mult = suspicion_mult
        self.retransmit_mult = retransmit_mult
        self.max_piggyback = max_piggyback
        self.suspicion = suspicion
        self.contact = contact
        self.founders: Collection[str] = () if contact else (
            self.peers if members is None else members)
        self.heard: dict[str, tuple[str, int]] = {}
        self.incarnation: int = self.storage.setdefault("incarnation", 0)
        self.news: dict[str, list[Any]] = {}   # member -> [its latest Update, times sent]
        self.order: list[str] | None = None    # the probe order, shuffled as it goes
        self.cursor = 0
        self.seq = 0
        self.probing: str | None = None        # the target of the probe still unanswered

    def show(self) -> dict[str, Any]:
        return {"incarnation": self.incarnation, "probing": self.probing,
                "heard": dict(sorted(self.heard.items())), "news": len(self.news)}

    # -- the membership as this member sees it -----------------------------------------------
    def state_of(self, member: str) -> tuple[str, int] | None:
        """(state, incarnation) of ``member``, or None for a member it does not know."""
        if member in self.heard:
            return self.heard[member]
        return UNHEARD if member in self.founders and member != self.id else None

    def known_members(self) -> list[str]:
        """Every member this one knows of, itself excluded (dead ones included)."""
        return [m for m in sorted(self.founders) if m != self.id and m not in self.heard] + (
            sorted(self.heard))

    def size(self) -> int:
        """How many members it knows of, itself included."""
        return len(self.probe_order()) + 1

    def probe_order(self) -> list[str]:
        """The members to probe, in the order `next_target` shuffles as it goes (made at
        the first probe: the founders, then the members heard of since)."""
        if self.order is None:
            # sorted: a set of names iterates in an order that changes from one process to
            # the next (PYTHONHASHSEED), and the run must not
            self.order = [m for m in sorted(self.founders) if m != self.id]
            self.order += [m for m in sorted(self.heard) if m not in self.founders]
        return self.order

    def next_target(self) -> str | None:
        """The next member to probe: round-robin through the members, in an order shuffled
        as it goes (a random one of those not probed yet this round).

        The dead stay in the round: a member declared dead wrongly (on the far side of a
        partition, say) is pinged once a round, and the ping tells it the news, which it
        refutes. A dead target gets no ping-req and no new suspicion.
        """
        order = self.probe_order()
        if not order:
            return None
        if self.cursor >= len(order):
            self.cursor = 0   # a new round
        pick = self.rng.randrange(self.cursor, len(order))
        order[self.cursor], order[pick] = order[pick], order[self.cursor]
        self.cursor += 1
        return order[self.cursor - 1]

    def helpers(self, target: str) -> list[str]:
        """Up to ``k`` random members, not dead and not ``target``, to probe it for us
        (drawn with a bounded number of tries: fewer in a tiny or mostly dead group)."""
        order = self.probe_order()
        chosen: list[str] = []
        for _ in range(4 * self.k):
            if len(chosen) == self.k:
                break
            member = self.rng.choice(order)
            if (member != target and member not in chosen
                    and self.heard.get(member, UNHEARD)[0] != DEAD):
                chosen.append(member)
        return chosen

    # -- the protocol period: ping, then ping-req, then suspect ------------------------------
    def on_start(self) -> None:
        if self.storage.get("started"):   # a restart: come back newer than any news of me
            self.incarnation = self.storage["incarnation"] = self.incarnation + 1
            self.spread(Update(self.id, ALIVE, self.incarnation))
        self.storage["started"] = True
        if self.contact is not None:
            self.send(self.contact, Join())
        self.set_timer(self.rng.uniform(0, self.period), "probe")  # members out of step

    def on_timer(self, name: str) -> None:
        match name:
            case "probe":
                if self.probing is not None:
                    self.probe_failed(self.probing)
                self.set_timer(self.period, "probe")
                self.probe()
            case "ping timeout" if (self.probing is not None
                                    and self.heard.get(self.probing, UNHEARD)[0] != DEAD):
                for helper in self.helpers(self.probing):
                    self.send(helper, PingReq(self.seq, self.probing, self.piggyback(helper)))
            case _ if name.startswith("suspect "):
                member = name.removeprefix("suspect ")
                state, incarnation = self.heard[member]
                if state == SUSPECT:   # not refuted in time: confirm
                    self.learn(Update(member, DEAD, incarnation))

    def probe(self) -> None:
        target = self.next_target()
        self.probing = target
        if target is not None:
            self.seq += 1
            self.send(target, Ping(self.seq, self.piggyback(target)))
            self.set_timer(self.ping_timeout, "ping timeout")

    def probe_failed(self, target: str) -> None:
        state, incarnation = self.heard.get(target, UNHEARD)
        if state != DEAD:
            self.learn(Update(target, SUSPECT if self.suspicion else DEAD, incarnation))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Ping(seq, updates, requester):
                self.learn_all(updates)
                self.send(src, Ack(seq, self.piggyback(src), requester))
            case PingReq(seq, target, updates):
                self.learn_all(updates)
                self.send(target, Ping(seq, self.piggyback(target), requester=src))
            case Ack(seq, updates, requester):
                self.learn_all(updates)
                if requester is not None:   # I was the helper: pass it on
                    self.send(requester, Ack(seq, self.piggyback(requester)))
                elif seq == self.seq and self.probing is not None:
                    self.probing = None
                    self.cancel_timer("ping timeout")
            case Join():
                self.send(src, Welcome(tuple(Update(m, *self.state_of(m))  # type: ignore[misc]
                                             for m in self.known_members())
                                       + (Update(self.id, ALIVE, self.incarnation),)))
                self.learn(Update(src, ALIVE, 0))
            case Welcome(members):
                self.learn_all(members)

    # -- news: learning it, and passing it on ------------------------------------------------
    def learn_all(self, updates: tuple[Update, ...]) -> None:
        for update in updates:
            self.learn(update)

    def learn(self, update: Update) -> None:
        """Apply news by the rules of precedence; pass on what is new; refute news of my
        own suspicion or death with a newer incarnation."""
        member, state, incarnation = update.member, update.state, update.incarnation
        if member == self.id:
            if state != ALIVE:   # refute it (again, if the news is older than my refutation)
                if incarnation >= self.incarnation:
                    self.incarnation = self.storage["incarnation"] = incarnation + 1
                    self.note("refute", incarnation=self.incarnation)
                self.spread(Update(self.id, ALIVE, self.incarnation))
            return
        old = self.state_of(member)
        if old is None:
            if self.order is not None:   # a new member: into the probe order, at random
                self.order.append(member)
                pick = self.rng.randrange(self.cursor, len(self.order))
                self.order[-1], self.order[pick] = self.order[pick], self.order[-1]
        elif not overrides((state, incarnation), old):
            return
        self.heard[member] = (state, incarnation)
        self.spread(update)
        if state == SUSPECT:
            self.note("suspect", member=member, incarnation=incarnation)
            self.set_timer(self.suspicion_timeout(), f"suspect {member}")
        else:
            if old is not None and old[0] == SUSPECT:
                self.cancel_timer(f"suspect {member}")
            if state == DEAD or (old is not None and old[0] != ALIVE):
                self.note(state, member=member, incarnation=incarnation)

    def spread(self, update: Update) -> None:
        """Put news in the piggyback buffer (replacing older news of the same member)."""
        self.news[update.member] = [update, 0]

    def piggyback(self, to: str) -> tuple[Update, ...]:
        """The news for a message to ``to``: up to ``max_piggyback`` items, the least sent
        first, each dropped after `retransmissions` sends; but first, if I suspect ``to`` or
        believe it dead, that news, so that it can refute it at once."""
        chosen = sorted(self.news.values(), key=lambda item: item[1])[:self.max_piggyback]
        limit = self.retransmissions()
        for item in chosen:
            item[1] += 1
            if item[1] >= limit:
                del self.news[item[0].member]
        updates = tuple(item[0] for item in chosen)
        if self.heard.get(to, UNHEARD)[0] != ALIVE:
            updates = (Update(to, *self.heard[to]),) + updates[:self.max_piggyback - 1]
        return updates

    def retransmissions(self) -> int:
        """How many times an item of news is sent: ``retransmit_mult * log2(N + 1)``."""
        return max(1, math.ceil(self.retransmit_mult * math.log2(self.size() + 1)))

    def suspicion_timeout(self) -> float:
        """How long a suspect has to refute: ``suspicion_mult * max(1, log10 N)`` periods,
        longer in a larger group, where news takes longer to reach the suspect and back."""
        return self.suspicion_mult * max(1.0, math.log10(self.size())) * self.period
