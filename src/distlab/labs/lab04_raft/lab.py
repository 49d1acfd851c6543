"""`RaftLab`: the checks of lab 4, every part, for the student's Raft node class.

Each part's checks are a class that extends the previous part's (`PartA`, ...), so that
`RaftLab.checks` lists them in the order of the lab.
"""

from __future__ import annotations

from distlab.labs.lab04_raft.part_d import PartD


class RaftLab(PartD):
    """The checks of lab 4 (the notebook ``lab04-raft.ipynb``): ``check(RaftLab(RaftNode),
    part="A")``, then parts B, C, D."""
