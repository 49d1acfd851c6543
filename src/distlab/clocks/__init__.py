"""Time and order (Lamport 1978): logical clocks, happens-before, clock synchronization.

* `distlab.clocks.logical` -- Lamport clocks, vector clocks, hybrid logical clocks.
* `distlab.clocks.happens_before` -- the ground truth, read from a simulator trace: the
  happens-before graph, timestamps for a trace's events, labels for space-time diagrams.
* `distlab.clocks.cristian` -- Cristian's algorithm and NTP's offset and delay estimate.
* `distlab.clocks.runs` -- the experiments the book runs (`cristian_experiment`).
"""
