"""Every ``>>>`` example in the library's docstrings runs and prints what it shows.

A docstring example is read as documentation, so a wrong one misleads a reader the way a
wrong page would. This runs them all with `doctest`, module by module.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import distlab

MODULES = sorted(m.name for m in pkgutil.walk_packages(distlab.__path__, "distlab.")
                 if not m.name.endswith("__main__"))


def examples(module_name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(module_name)
    return [t for t in doctest.DocTestFinder().find(module) if t.examples]


@pytest.mark.parametrize("module_name", [m for m in MODULES if examples(m)])
def test_the_docstring_examples_of_the_module_run(module_name: str) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in examples(module_name):
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} docstring examples of {module_name} failed"


def test_the_core_classes_show_a_runnable_example() -> None:
    documented = {t.name for m in MODULES for t in examples(m)}
    for name in ("distlab.sim.simulation.Simulation", "distlab.sim.trace.Note",
                 "distlab.sim.helpers.node_ids"):
        assert name in documented, f"{name} has no >>> example in its docstring"
