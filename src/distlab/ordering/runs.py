"""Experiments on ordered broadcast (`distlab.ordering`): a chat among four members.

`chat` runs one chat with members of a given class over a network that delays, reorders
and duplicates messages (but loses none: every protocol here assumes reliable channels),
optionally crashing a member, and returns a `ChatRun`: who delivered what, in which order,
what is still held back, which order guarantees held, and the hold-back queues over time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distlab.ordering.invariants import causal_order, fifo_order, total_order
from distlab.ordering.member import Member
from distlab.sim import Latency, Network, Simulation, Uniform, stream

#: the chat's members
MEMBERS = ("a", "b", "c", "d")

#: who posts what and when (member -> [(time, text)]), and who answers what
#: (member -> {question: answer}): a asks, b answers as soon as it reads the question, and
#: c and d say something else at about the same time
QUESTION = {"a": [(0.0, "a.1")], "c": [(4.0, "c.1")], "d": [(18.0, "d.1")]}
ANSWER = {"b": {"a.1": "b.1"}}


@dataclass(frozen=True)
class HeldBack:
    """At ``time``, ``member`` held back ``texts`` (arrived, not delivered)."""

    time: float
    member: str
    texts: tuple[str, ...]


@dataclass
class ChatRun:
    """One chat: the simulation, and what its members delivered."""

    sim: Simulation
    members: tuple[str, ...]
    held_back: list[HeldBack] = field(default_factory=list)

    @property
    def delivered(self) -> dict[str, list[str]]:
        """member -> the texts it delivered, in order (a crashed member's as it crashed)."""
        return {m: list(self.sim.nodes[m].delivered) for m in self.members}

    @property
    def posted(self) -> list[str]:
        """Every text posted, in the order of posting."""
        return [e.data["text"] for e in self.sim.trace.of_kind("note") if e.data.what == "post"]

    def missing(self) -> dict[str, list[str]]:
        """For each live member that has not delivered every post: the posts it lacks."""
        gaps = {}
        for m in self.members:
            if self.sim.is_up(m):
                lacking = [t for t in self.posted if t not in self.sim.nodes[m].delivered]
                if lacking:
                    gaps[m] = lacking
        return gaps

    def orders(self) -> dict[str, str | None]:
        """For FIFO, causal and total order: None if it held, else the first violation."""
        checks = {"FIFO": fifo_order(), "causal": causal_order(), "total": total_order()}
        return {name: inv.check(self.sim) for name, inv in checks.items()}

    def deliveries(self, member: str) -> list[tuple[float, str]]:
        """``(time, text)`` of each delivery by ``member``, in order."""
        return [(e.time, e.data["text"]) for e in self.sim.trace.of_kind("note")
                if e.node == member and e.data.what == "deliver"]

    def delays(self) -> list[float]:
        """For every delivery of every member: the time from the post to that delivery."""
        posted_at = {e.data["text"]: e.time for e in self.sim.trace.of_kind("note")
                     if e.data.what == "post"}
        return [time - posted_at[text] for m in self.members
                for time, text in self.deliveries(m)]

    def messages(self) -> int:
        """The messages the members sent (copies made by the network not counted)."""
        return len(self.sim.trace.of_kind("send"))


def chat(member: type[Member], *, script: Mapping[str, Sequence[tuple[float, str]]],
         answers: Mapping[str, Mapping[str, str]] | None = None,
         members: Sequence[str] = MEMBERS, seed: int = 0,
         latency: Latency | float = Uniform(1, 30), reorder: float = 0.0,
         duplicate: float = 0.0, crash: tuple[str, float] | None = None,
         until: float = 1_000.0, **options: Any) -> ChatRun:
    """Run a chat of ``members`` (of class ``member``) for ``until`` ms.

    ``script`` and ``answers`` say who posts what (see `distlab.ordering.member.Member`);
    ``crash=(member, time)`` crashes that member then; ``options`` go to every member (the
    sequencer's id, for instance). The hold-back queues are recorded whenever they change.
    """
    members = tuple(members)
    unknown = sorted((set(script) | set(answers or {})) - set(members))
    if unknown:
        raise ValueError(f"the script or answers name {unknown}, who are not members "
                         f"{list(members)}")
    if crash is not None and crash[0] not in members:
        raise ValueError(f"crash=(member, time) names {crash[0]!r}, who is not a member "
                         f"{list(members)}")
    sim = Simulation(seed=seed, network=Network(latency=latency, reorder=reorder,
                                                duplicate=duplicate))
    sim.add_nodes(member, members, script=script, answers=answers, **options)
    if crash is not None:
        sim.at(crash[1], sim.crash, crash[0])
    run = ChatRun(sim, members)
    last: dict[str, tuple[str, ...]] = {m: () for m in members}

    def record(sim: Simulation) -> None:
        for m in members:
            if sim.is_up(m):
                texts = tuple(sim.nodes[m].held_back())
                if texts != last[m]:
                    last[m] = texts
                    run.held_back.append(HeldBack(sim.now, m, texts))

    sim.add_monitor(record)
    sim.run(until=until)
    return run


def random_script(seed: int, members: Sequence[str] = MEMBERS, posts: int = 5,
                  span: float = 400.0) -> dict[str, list[tuple[float, str]]]:
    """``posts`` posts per member at random times in ``[0, span)`` ms: ``a.1``, ``a.2``..."""
    rng = stream(seed, "ordering-script")
    script = {}
    for m in members:
        times = sorted(rng.uniform(0, span) for _ in range(posts))
        script[m] = [(time, f"{m}.{k}") for k, time in enumerate(times, start=1)]
    return script


def conversation(seed: int, members: Sequence[str] = MEMBERS, posts: int = 3,
                 span: float = 300.0) -> tuple[dict[str, list[tuple[float, str]]],
                                               dict[str, dict[str, str]]]:
    """A `random_script` in which every post is also answered by the next member, as soon
    as that member reads it (``a.1`` is answered by ``b`` with ``re:a.1``): a chat full of
    causal chains, to test causal order."""
    script = random_script(seed, members, posts, span)
    answers: dict[str, dict[str, str]] = {m: {} for m in members}
    for i, m in enumerate(members):
        nxt = members[(i + 1) % len(members)]
        for _, text in script[m]:
            answers[nxt][text] = f"re:{text}"
    return script, answers
