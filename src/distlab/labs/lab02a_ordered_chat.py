"""Lab 2a: a group chat, totally ordered with Lamport clocks.

The checks of the notebook ``lab02a-ordered-chat.ipynb``.

A group chat is a multicast: every member's post goes to every member. Over a network whose
messages take different times, and are sometimes held back or delivered twice, members that
deliver posts as they arrive see them in different orders -- and may even see an answer
before the question it answers. Lamport's "Time, Clocks, and the Ordering of Events in a
Distributed System" {cite:p}`lamport1978time` fixes both with logical clocks: stamp every
message, hold messages back in a queue ordered by ``(timestamp, sender)``, and deliver the
head only once no message with a smaller stamp can still come (the *totally ordered
multicast* of his mutual-exclusion algorithm).

The student writes the members: in part A a chat that delivers on arrival (exactly once), in
part B the totally ordered one. This module holds the rest: the messages, the users who type
the posts (a `Client`, so members do not count it among their ``peers``), and the checks.
The checks read one attribute of each member: ``delivered``, the list of the texts of the
posts it delivered (shown to its user), in order, its own posts included.

The users' posts are scripted per seed: ``(time, member, text)``, texts such as ``"b.2"``
(member b's second post), unique, so that a text names a post.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from distlab.grading.lab import Lab, Scenario, graded, own_code
from distlab.grading.properties import Run, TraceProperty
from distlab.sim import Client, Network, Node, Simulation, Uniform, stream

#: the chat's members, as node ids
MEMBERS = ("a", "b", "c", "d")
#: the node that stands for the people typing
USERS = "users"
#: every message must be delivered everywhere within this many ms after the last post
DELIVERY_BOUND = 500.0

#: one post of the script: at ``time`` (ms), ``member``'s user posts ``text``
Scripted = tuple[float, str, str]


# -- messages ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Post:
    """From a member's user to the member: please post ``text`` to the chat."""

    text: str


@dataclass(frozen=True)
class Chat:
    """Part A: a post, from ``sender`` to every other member; ``seq`` counts its posts 1, 2..."""

    sender: str
    seq: int
    text: str


@dataclass(frozen=True)
class Stamped:
    """Part B: a post carrying its Lamport timestamp ``time``.

    ``seq`` numbers everything ``sender`` broadcasts (its posts and its acks together) 1, 2,
    3..., so that a receiver can take them in the order they were sent and drop duplicates.
    """

    sender: str
    seq: int
    time: int
    text: str


@dataclass(frozen=True)
class Ack:
    """Part B: ``sender`` has received a post, and its clock now reads ``time``.

    ``seq`` is in the same numbering as the sender's `Stamped` posts.
    """

    sender: str
    seq: int
    time: int


# -- the users ---------------------------------------------------------------------------------

class Users(Client):
    """The people typing: sends ``Post(text)`` to ``member`` at ``time``, for each scripted post.

    The link from the users to each member is instant and reliable (the user types at the
    member's keyboard): only the members' own messages cross the unreliable network.
    """

    def __init__(self, script: Sequence[Scripted] = ()):
        self.script = tuple(script)
        self.member_of = {text: member for _, member, text in self.script}

    def on_start(self) -> None:
        for time, _, text in self.script:
            self.set_timer(time, text)

    def on_timer(self, name: str) -> None:
        self.send(self.member_of[name], Post(name))


def chat_script(seed: int, members: Sequence[str] = MEMBERS, posts: int = 5,
                span: float = 400.0) -> tuple[Scripted, ...]:
    """``posts`` posts per member at random times in ``[0, span)`` ms, sorted by time."""
    rng = stream(seed, "lab2a-script")
    script = []
    for member in members:
        times = sorted(rng.uniform(0, span) for _ in range(posts))
        script += [(time, member, f"{member}.{k}") for k, time in enumerate(times, start=1)]
    return tuple(sorted(script))


def setup_chat(sim: Simulation, member: type[Node], script: Sequence[Scripted],
               skews: Sequence[float] = ()) -> None:
    """Add the members (of class ``member``) and the users who play ``script`` to ``sim``.

    ``skews`` sets the members' physical clocks that far apart (ms, one per member; Lamport
    clocks do not read them, ``self.now`` does).
    """
    sim.add_nodes(member, MEMBERS)
    sim.add_node(Users, USERS, script=script)
    for node_id in MEMBERS:  # typing at the keyboard: instant and reliable
        sim.network.set_link(USERS, node_id, latency=0, loss=0, duplicate=0, both_ways=False)
    for node_id, skew in zip(MEMBERS, skews):
        sim.set_clock(node_id, skew=skew)


# -- what must hold ----------------------------------------------------------------------------

def _show(texts: Sequence[str], upto: int | None = None) -> str:
    shown = list(texts if upto is None else texts[:upto])
    return "[" + ", ".join(repr(t) for t in shown) + (", ...]" if upto is not None
                                                      and len(texts) > upto else "]")


class DeliveryProperty(TraceProperty):
    """Watches the members' ``delivered`` lists after every event, one new entry at a time.

    A subclass says what a new delivery must satisfy (`delivered`); the first that does not
    stops the run with a `Violation`. What it remembers of the run goes in ``run.state``.
    """

    def __init__(self, script: Sequence[Scripted], members: Sequence[str] = MEMBERS):
        self.script = tuple(script)
        self.members = tuple(members)
        self.texts = frozenset(text for _, _, text in self.script)

    def begin(self, run: Run) -> None:
        run.state.counted = {member: 0 for member in self.members}  # entries already judged

    def observe(self, run: Run) -> str | None:
        sim, counted = run.sim, run.state.counted
        for event in run.new_events():
            if event.kind == "deliver" and isinstance(event.data, Post):
                # the member's list as it was before this event: the last observation's count
                before = sim.nodes[event.node].delivered[:counted[event.node]]
                self.posted(run, event.node, event.data.text, before)
        for member in self.members:
            if member in sim.crashed:
                continue
            delivered = sim.nodes[member].delivered
            for position in range(counted[member], len(delivered)):
                problem = self.delivered(run, member, position, delivered)
                if problem is not None:
                    return problem
            counted[member] = len(delivered)
        return None

    def posted(self, run: Run, member: str, text: str, delivered_before: list[str]) -> None:
        """``member``'s user posted ``text`` when ``member`` had delivered ``delivered_before``."""

    def delivered(self, run: Run, member: str, position: int,
                  delivered: list[str]) -> str | None:
        """``member`` delivered ``delivered[position]``: None if fine, else what is wrong."""
        raise NotImplementedError


class DeliveredOnce(DeliveryProperty):
    """No member delivers a post twice, or a post nobody posted."""

    description = "no member delivers a message twice"

    def begin(self, run: Run) -> None:
        super().begin(run)
        run.state.seen = {member: set() for member in self.members}

    def delivered(self, run: Run, member: str, position: int,
                  delivered: list[str]) -> str | None:
        text = delivered[position]
        if text in run.state.seen[member]:
            first = delivered.index(text)
            return (f"{member} delivered {text!r} twice: as its message {first + 1} and "
                    f"again as its message {position + 1} (a message delivered twice? "
                    f"remember which (sender, seq) you have seen)")
        if text not in self.texts:
            return (f"{member} delivered {text!r}, which nobody posted; delivered must hold "
                    f"the texts of the posts")
        run.state.seen[member].add(text)
        return None


class SameOrder(DeliveryProperty):
    """All members deliver the posts in one same order: each ``delivered`` list is a prefix
    of one common sequence (the *total order*)."""

    description = "every member delivers the messages in the same order"

    def begin(self, run: Run) -> None:
        super().begin(run)
        run.state.order = []    # the common sequence, as far as anyone has delivered
        run.state.first = []    # who delivered each of its entries first

    def delivered(self, run: Run, member: str, position: int,
                  delivered: list[str]) -> str | None:
        text, order, first = delivered[position], run.state.order, run.state.first
        if position == len(order):
            order.append(text)
            first.append(member)
            return None
        if order[position] == text:
            return None
        other = first[position]
        return (f"{member}'s message {position + 1} is {text!r}, but {other}'s message "
                f"{position + 1} is {order[position]!r}:\n"
                f"  {other} delivered {_show(order, position + 1)}\n"
                f"  {member} delivered {_show(delivered, position + 1)}")


class CausalOrder(DeliveryProperty):
    """A post is delivered after every post its author had seen (delivered) before posting,
    and after the author's own earlier posts: an answer never comes before its question."""

    description = ("every member delivers a message after the messages its author had "
                   "delivered before posting it")

    def begin(self, run: Run) -> None:
        super().begin(run)
        run.state.before = {}   # post -> {earlier post: why it is earlier}
        run.state.own = {member: [] for member in self.members}  # each member's posts so far

    def posted(self, run: Run, member: str, text: str, delivered_before: list[str]) -> None:
        why = {earlier: f"{member} posted {text!r} after it had delivered {earlier!r}"
               for earlier in delivered_before}
        for earlier in run.state.own[member]:
            why[earlier] = f"{member} posted {earlier!r} before {text!r}"
        run.state.before[text] = why
        run.state.own[member].append(text)

    def delivered(self, run: Run, member: str, position: int,
                  delivered: list[str]) -> str | None:
        text = delivered[position]
        earlier = set(delivered[:position])
        for must, why in run.state.before.get(text, {}).items():
            if must not in earlier:
                return (f"{member} delivered {text!r} before {must!r}, but {why}: "
                        f"{text!r} may answer {must!r}, so it must come after it everywhere")
        return None


class EveryMessageDelivered(TraceProperty):
    """Every member delivers every post within ``bound`` ms after the last post (liveness)."""

    def __init__(self, script: Sequence[Scripted], members: Sequence[str] = MEMBERS,
                 bound: float = DELIVERY_BOUND):
        self.script = tuple(script)
        self.members = tuple(members)
        self.deadline = max(time for time, _, _ in self.script) + bound
        self.description = (f"every member delivers every message within {bound:g} ms "
                            f"after the last post")

    def missing(self, sim: Simulation) -> dict[str, list[str]]:
        """member -> the posts it has not delivered yet (members that lack none are left out)."""
        gaps = {}
        for member in self.members:
            have = set(sim.nodes[member].delivered)
            lacking = [text for _, _, text in self.script if text not in have]
            if lacking:
                gaps[member] = lacking
        return gaps

    def begin(self, run: Run) -> None:
        run.state.done = False  # whether every member had delivered everything by the deadline

    def observe(self, run: Run) -> None:
        if not run.state.done and run.sim.now <= self.deadline:
            run.state.done = not self.missing(run.sim)

    def judge(self, run: Run) -> str | None:
        if run.state.done:
            return None
        gaps = self.missing(run.sim)
        if not gaps:
            return f"every message was delivered, but not all of them by t={self.deadline:g} ms"
        lines = [f"at the end of the run (t={run.sim.now:g} ms), of the {len(self.script)} "
                 f"messages posted:"]
        lines += [f"  {member} had not delivered {_show(lacking, 6)}"
                  for member, lacking in gaps.items()]
        return "\n".join(lines)


# -- the lab -----------------------------------------------------------------------------------

#: the library's ordered broadcasts (lab 2a's part B among them): not for a student's class
LIBRARY_ORDERING = ("distlab.ordering",)


class OrderedChatLab(Lab):
    """The checks of lab 2a, for the student's part A and part B member classes."""

    title = "Lab 2a: a totally ordered chat"
    node_attributes = ("delivered",)

    def __init__(self, chat_member: type[Node], ordered_member: type[Node]):
        self.chat_member = own_code(chat_member, LIBRARY_ORDERING, "ordered members")
        self.ordered_member = own_code(ordered_member, LIBRARY_ORDERING, "ordered members")

    def scenario(self, member: type[Node], script: Sequence[Scripted], network: Network,
                 properties: Sequence[type[TraceProperty]],
                 skews: Sequence[float] = ()) -> Scenario:
        """The members (of class ``member``), the users playing ``script``, and the checks."""

        def setup(sim: Simulation) -> None:
            setup_chat(sim, member, script, skews)

        checks: list[TraceProperty] = [p(script) for p in properties]
        checks.append(EveryMessageDelivered(script))
        last = max(time for time, _, _ in script)
        return Scenario(setup, run_for=last + 2 * DELIVERY_BOUND, network=network,
                        properties=checks)

    # -- part A: a chat that delivers on arrival -------------------------------------------
    @graded(part="A", seeds=20, description="four members post five messages each: every "
            "member delivers every message exactly once")
    def test_every_message_reaches_everyone_A(self, seed: int) -> Scenario:
        return self.scenario(self.chat_member, chat_script(seed),
                             Network(latency=Uniform(1, 30)), [DeliveredOnce])

    @graded(part="A", seeds=20, description="30% of messages delivered twice, some held back: "
            "still exactly once")
    def test_duplicated_messages_A(self, seed: int) -> Scenario:
        return self.scenario(self.chat_member, chat_script(seed),
                             Network(latency=Uniform(1, 30), duplicate=0.3, reorder=0.3),
                             [DeliveredOnce])

    # -- part B: totally ordered -------------------------------------------------------------
    @graded(part="B", seeds=20, description="messages overtake each other: every member "
            "delivers the messages in the same order")
    def test_same_order_everywhere_B(self, seed: int) -> Scenario:
        return self.scenario(self.ordered_member, chat_script(seed),
                             Network(latency=Uniform(1, 30), reorder=0.3),
                             [DeliveredOnce, SameOrder])

    @graded(part="B", seeds=20, description="a busy chat, the members' physical clocks up to "
            "100 ms apart: a message posted after seeing another is delivered after it "
            "everywhere")
    def test_causal_order_B(self, seed: int) -> Scenario:
        rng = stream(seed, "lab2a-skews")
        return self.scenario(self.ordered_member, chat_script(seed, posts=8, span=300),
                             Network(latency=Uniform(1, 30), reorder=0.3),
                             [DeliveredOnce, SameOrder, CausalOrder],
                             skews=[rng.uniform(0, 100) for _ in MEMBERS])

    @graded(part="B", seeds=20, description="30% of messages delivered twice, some held back: "
            "same order, each message exactly once")
    def test_duplicated_messages_B(self, seed: int) -> Scenario:
        return self.scenario(self.ordered_member, chat_script(seed),
                             Network(latency=Uniform(1, 30), duplicate=0.3, reorder=0.3),
                             [DeliveredOnce, SameOrder, CausalOrder])

    @graded(part="B", seeds=20, description="one member posts one message and nobody else "
            "says anything: it is still delivered everywhere")
    def test_a_lone_message_is_delivered_B(self, seed: int) -> Scenario:
        rng = stream(seed, "lab2a-lone")
        member = rng.choice(MEMBERS)
        script = ((rng.uniform(0, 100), member, f"{member}.1"),)
        return self.scenario(self.ordered_member, script,
                             Network(latency=Uniform(1, 30), duplicate=0.3, reorder=0.3),
                             [DeliveredOnce, SameOrder])
