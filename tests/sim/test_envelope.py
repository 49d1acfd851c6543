"""A message in flight is an `Envelope`: its fields have names wherever it is read."""

from __future__ import annotations

from distlab.sim import Constant, Envelope, Network, Node, Simulation, TraceEvent


class Greeter(Node):
    def on_start(self) -> None:
        for peer in self.peers:
            self.send(peer, f"hello {peer}")


def started() -> Simulation:
    sim = Simulation(seed=1, network=Network(latency=Constant(3)))
    sim.add_nodes(Greeter, ["a", "b"])
    while sim.step() == []:
        pass
    return sim


def test_a_pending_delivery_carries_an_envelope_whose_fields_are_its_send_event() -> None:
    sim = started()
    [entry] = [e for e in sim.scheduler.pending() if sim.entry_kind(e) == "deliver"]
    envelope = Envelope._make(entry[3])
    assert (envelope.src, envelope.dst, envelope.msg, envelope.kind) == ("a", "b", "hello b",
                                                                         "send")
    assert TraceEvent(*envelope) == sim.trace.of_kind("send")[0]
    assert sim.describe_entry(entry) == ("b", "on_message(src='a', msg='hello b') [message #1]")

