"""distlab.soak: every reference implementation and lab solution, under random faults.

A lab check runs 20 seeds; a page runs one. The soak runs each protocol of the library and
each lab's reference solution over a thousand seeds (``make soak``; ``python -m
distlab.soak``), each seed with a nemesis (`distlab.sim.Nemesis`) of the faults that
protocol's guarantees cover -- crashes and restarts, partitions, lost, duplicated and
reordered messages, skewed and drifting clocks -- watching its invariants after every event
and judging its histories and its liveness at the end. It prints one line per protocol:
runs, violations, time; and for a violation, its seed and the command that replays it.

* `distlab.soak.target` -- `Target` (a protocol's scenario and `Faults`) and how the
  nemesis is added to a scenario;
* `distlab.soak.run` -- one run of a target with a seed, and its `Outcome`;
* `distlab.soak.runner` -- `PROTOCOLS`, the catalogue; `soak` (many seeds, on worker
  processes) and `replay` (one seed, exactly);
* `distlab.soak.library` and `distlab.soak.labs` -- the targets, and why each meets the
  faults it meets; `distlab.soak.properties` -- what the library's protocols promise that
  their packages do not state yet; `distlab.soak.solutions` -- a lab's reference solution,
  run from its notebook.

A new protocol or lab adds itself: a function returning its `Target` in ``library.py`` or
``labs.py``, and its name in `PROTOCOLS`.
"""
