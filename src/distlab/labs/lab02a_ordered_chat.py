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
from distlab.sim import Client, Network, Node, Simulation, Trace, Uniform, stream

#: the chat's members, as node ids
MEMBERS = ("a", "b", "c", "d")
#: the node that stands for the people typing
USERS = "users"
#: every message must be delivered everywhere within this many ms after the last post
DELIVERY_BOUND = 500.0
#: the causal-order check: the answer to the opening question is posted at this time (ms),
#: and the busy chat that follows starts at `BUSY_FROM`
ANSWER_AT = 150.0
BUSY_FROM = 200.0

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
    return _named([(rng.uniform(0, span), member) for member in members for _ in range(posts)])


def question_and_answer_script(seed: int, asker: str, answerer: str, posts: int = 8,
                               span: float = 300.0) -> tuple[Scripted, ...]:
    """``asker`` posts a question at 0 ms, ``answerer`` answers it at `ANSWER_AT` ms (long
    after it has read it), then every member posts ``posts`` posts in the ``span`` ms after
    `BUSY_FROM`."""
    rng = stream(seed, "lab2a-script")
    busy = [(BUSY_FROM + rng.uniform(0, span), member) for member in MEMBERS
            for _ in range(posts)]
    return _named([(0.0, asker), (ANSWER_AT, answerer)] + busy)


def _named(posts: Sequence[tuple[float, str]]) -> tuple[Scripted, ...]:
    """The posts ``(time, member)`` sorted by time, each named ``member.k`` (its k-th post)."""
    script: list[Scripted] = []
    count: dict[str, int] = {}
    for time, member in sorted(posts):
        count[member] = count.get(member, 0) + 1
        script.append((time, member, f"{member}.{count[member]}"))
    return tuple(script)


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
                stamps = stamps_sent(run.sim.trace)
                stamped = (f"\n{text!r} was stamped {stamps[text][0]:g}, {must!r} "
                           f"{stamps[must][0]:g}: a post made after another must get a larger "
                           f"timestamp" if text in stamps and must in stamps
                           and stamps[text] < stamps[must] else "")
                return (f"{member} delivered {text!r} before {must!r}, but {why}: "
                        f"{text!r} may answer {must!r}, so it must come after it "
                        f"everywhere{stamped}")
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
        for member, lacking in gaps.items():
            lines.append(f"  {member} had not delivered {_show(lacking, 6)}")
            lines += ["    " + line for line in why_stuck(run.sim.trace, member, lacking,
                                                           self.members)]
        if any("waits for a later timestamp" in line for line in lines):
            lines.append("a head waits until every other member has sent a later timestamp: "
                         "does every post get an acknowledgement, stamped after the post?")
        return "\n".join(lines)


def stamps_sent(trace: Trace) -> dict[str, tuple[int | float, str]]:
    """text -> ``(timestamp, sender)`` of every `Stamped` post sent in ``trace``."""
    return {e.data.text: (e.data.time, e.data.sender) for e in trace.of_kind("send")
            if isinstance(e.data, Stamped)}


def why_stuck(trace: Trace, member: str, lacking: Sequence[str],
              members: Sequence[str] = MEMBERS) -> list[str]:
    """Why ``member`` still holds back posts it has not delivered, read from the trace alone.

    Its hold-back queue's head is the undelivered post with the smallest ``(timestamp,
    sender)`` that it has (its own, or received); a peer holds that head back while the
    latest timestamp ``member`` received from it is smaller. Posts it never received are
    named as such. (Part A's `Chat` posts carry no timestamp: only "never received" applies.)
    """
    stamped = stamps_sent(trace)
    have, latest = set(), {}
    for event in trace.of_kind("deliver"):
        if event.node != member or not isinstance(event.data, Stamped | Ack | Chat):
            continue
        if isinstance(event.data, Stamped | Chat):
            have.add(event.data.text)
        if isinstance(event.data, Stamped | Ack):
            latest[event.peer] = max(latest.get(event.peer, event.data.time), event.data.time)
    have |= {text for text, (_, sender) in stamped.items() if sender == member}
    lines = []
    never = [text for text in lacking if text not in have]
    if never:
        lines.append(f"it never received {_show(never, 6)}")
    held = sorted((stamped[text], text) for text in lacking if text in have and text in stamped)
    if held:
        (time, sender), text = held[0]
        behind = [(f"{peer} (latest {latest[peer]:g})" if peer in latest
                   else f"{peer} (nothing received)") for peer in members
                  if peer != member and (latest.get(peer, -1), peer) < (time, sender)]
        head = f"its queue's head, {text!r} (stamped {time:g} by {sender}),"
        lines.append(f"{head} waits for a later timestamp from " + ", ".join(behind) if behind
                     else f"{head} has a later timestamp from every other member: it could "
                          f"have been delivered (is a stable head delivered at once?)")
    return lines


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

    @graded(part="B", seeds=20, description="one member answers another's question, its "
            "physical clock 160 to 200 ms behind the others', then a busy chat: a message "
            "posted after seeing another is delivered after it everywhere")
    def test_causal_order_B(self, seed: int) -> Scenario:
        rng = stream(seed, "lab2a-skews")
        asker, answerer = rng.sample(MEMBERS, 2)
        skews = [rng.uniform(0, 20) if member == answerer else rng.uniform(180, 200)
                 for member in MEMBERS]
        # causal order first: an answer stamped before its question breaks the same order
        # too, and the causal property says why
        return self.scenario(self.ordered_member,
                             question_and_answer_script(seed, asker, answerer),
                             Network(latency=Uniform(1, 30), reorder=0.3),
                             [DeliveredOnce, CausalOrder, SameOrder], skews=skews)

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
