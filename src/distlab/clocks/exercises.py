"""The time-and-order page's mini-exercise: stamp a small run by hand, checked here.

Three processes exchange three messages (`SMALL_RUN`): ``a`` sends m1 to ``b``; ``b`` sends
m2 to ``c``; ``c`` receives m2; ``b`` receives m1; ``c`` sends m3 to ``a``; ``a`` receives m3.
`small_run` plays it in the simulator (so that the page can draw it), and `check_stamps`
compares the reader's Lamport and vector timestamps of its six events, ``e1`` to ``e6``, with
those that `distlab.clocks.happens_before` computes from the trace, explaining the first
wrong one by the clock's rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from distlab.clocks.happens_before import lamport_timestamps, process_events, vector_timestamps
from distlab.exercises import Feedback, not_quite, right
from distlab.sim import Network, Node, Simulation

#: the processes of the small run, in the order of a vector's entries
PROCESSES = ("a", "b", "c")
#: the messages of the small run: (name, sender, receiver, sent at, one-way latency), in ms
SMALL_RUN = (("m1", "a", "b", 0.0, 3.0), ("m2", "b", "c", 1.0, 1.0),
             ("m3", "c", "a", 4.0, 1.0))


@dataclass(frozen=True)
class Message:
    """One message of the small run, named ``m1``, ``m2``..."""

    name: str


class Sender(Node):
    """Sends its messages of ``SMALL_RUN`` at their times; receiving does nothing more."""

    def on_start(self) -> None:
        for name, sender, _, at, _ in SMALL_RUN:
            if sender == self.id:
                self.set_timer(at, name)

    def on_timer(self, name: str) -> None:
        receiver = next(to for n, _, to, _, _ in SMALL_RUN if n == name)
        self.send(receiver, Message(name))

    def on_message(self, src: str, msg: Message) -> None:
        pass


def small_run() -> Simulation:
    """The small run, played to its end: six events, ``e1`` to ``e6`` in time order."""
    sim = Simulation(seed=0, network=Network(latency=1.0))
    sim.add_nodes(Sender, PROCESSES)
    for _, sender, receiver, _, latency in SMALL_RUN:
        sim.network.set_link(sender, receiver, latency=latency, both_ways=False)
    sim.run(until=10)
    return sim


def event_names(sim: Simulation) -> dict[str, str]:
    """``e1``... -> what happens in it, such as ``"b receives m1"``."""
    names = {}
    for n, i in enumerate(process_events(sim.trace), start=1):
        event = sim.trace[i]
        verb = "sends" if event.kind == "send" else "receives"
        names[f"e{n}"] = f"{event.node} {verb} {event.data.name}"
    return names


def check_stamps(lamport: Mapping[str, int], vectors: Mapping[str, Sequence[int]]) -> Feedback:
    """Compare the reader's stamps of the small run's events with the library's.

    ``lamport`` maps ``"e1"``... to a Lamport time, ``vectors`` to a vector ``[a, b, c]``.
    The first wrong stamp is named, with the rule that gives the right one.
    """
    sim = small_run()
    positions = process_events(sim.trace)
    names = event_names(sim)
    true_l = lamport_timestamps(sim.trace)
    true_v = vector_timestamps(sim.trace)
    events = list(names)
    for given, what in ((lamport, "lamport"), (vectors, "vectors")):
        if not isinstance(given, Mapping):
            return not_quite(f"{what} must be a dict from 'e1', 'e2'... to stamps")
        if set(given) != set(events):
            return not_quite(f"{what} must give a stamp to each of {', '.join(events)}; it "
                             f"has {', '.join(map(str, given)) or 'none'}")
    last: dict[str, tuple[int, list[int]]] = {}    # process -> its previous stamps
    carried: dict[str, tuple[int, list[int]]] = {}  # message -> the stamps it carries
    for event_id, i in zip(events, positions):
        event = sim.trace[i]
        node, message = event.node, event.data.name
        want_l = true_l[i]
        want_v = [true_v[i][p] for p in PROCESSES]
        before_l, before_v = last.get(node, (0, [0] * len(PROCESSES)))
        if event.kind == "send":
            why_l = f"{node}'s clock read {before_l}, and a send counts one more"
            why_v = (f"{node}'s vector was {before_v}, and a send adds one to {node}'s own "
                     f"entry")
            carried[message] = (want_l, want_v)
        else:
            msg_l, msg_v = carried[message]
            why_l = (f"{node}'s clock read {before_l} and {message} carries {msg_l}: the "
                     f"larger, plus one")
            why_v = (f"{node}'s vector was {before_v} and {message} carries {msg_v}: the "
                     f"larger of each entry, then one more in {node}'s own entry")
        if lamport[event_id] != want_l:
            return not_quite(f"{event_id} ({names[event_id]}) should have Lamport time "
                             f"{want_l}, not {lamport[event_id]!r}, because {why_l}.")
        if list(vectors[event_id]) != want_v:
            return not_quite(f"{event_id} ({names[event_id]}) should be {want_v}, not "
                             f"{list(vectors[event_id])!r}, because {why_v}.")
        last[node] = (want_l, want_v)
    return right("every Lamport time and every vector is the one the clocks compute. Note "
                 "e1 and e5: Lamport times 1 and 3, yet their vectors are incomparable, so "
                 "they are concurrent.")
