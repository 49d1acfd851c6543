"""Run every benchmark (``make bench``). The kernel's ratios against its peers print last.

Each benchmark is a module of this folder with a ``main()``; they all run in this one
process, one after another, so their numbers are comparable within a run.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# The kernel's comparison goes last: its final line is the one the README quotes.
BENCHMARKS = ["bench_linearizability", "bench_explore", "bench_explorer", "bench_sweep",
              "bench_queue", "bench_scale", "bench_storage", "bench_lab04", "bench_sim"]


def main() -> None:
    for name in BENCHMARKS:
        if not (Path(__file__).parent / f"{name}.py").exists():
            print(f"# {name}: not present, skipped")
            continue
        print(f"# {name}", flush=True)
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()
