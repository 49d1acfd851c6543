"""The leader-election page's mini-exercise: count a Bully election's messages by hand.

Six nodes ``n1..n6`` follow ``n6``; ``n6`` crashes and the lowest node, ``n1``, is the only
one to notice. The reader counts the `Election`, `Answer` and `Coordinator` messages of the
election that follows; `check_bully_count` compares with `bully_election`'s measured total
and, for a wrong answer, counts each kind of message for the reader to compare.
"""

from __future__ import annotations

from distlab.election.runs import bully_election
from distlab.exercises import Feedback, not_quite, right

#: the nodes of the exercise
N = 6


def bully_counts(n: int = N) -> dict[str, int]:
    """Each kind of message of a Bully election started by the lowest of ``n`` nodes after
    the highest crashed: every node below the new leader challenges all the nodes above it
    (the dead one included), the live ones among them answer, and the new leader announces
    itself to the others."""
    return {"Election": sum(range(1, n)), "Answer": sum(range(1, n - 1)),
            "Coordinator": n - 2}


def check_bully_count(answer: int, n: int = N) -> Feedback:
    """Whether ``answer`` is the number of messages of that election, as measured."""
    measured = bully_election(n, initiator="lowest").messages
    counts = bully_counts(n)
    spelled = ", ".join(f"{count} {kind}" for kind, count in counts.items())
    if answer == measured:
        return right(f"{spelled}: {measured} messages, n² - n - 1 for n = {n}. The "
                     f"simulator counted the same.")
    if not isinstance(answer, int) or isinstance(answer, bool):
        return not_quite(f"the answer is a whole number of messages, not {answer!r}")
    if answer == counts["Election"] + counts["Answer"]:
        return not_quite(f"count the {counts['Coordinator']} Coordinator messages too: the new "
                         f"leader tells every other live node")
    if answer == measured - (n - 1):
        return not_quite("count the Election messages sent to the crashed leader too: nobody "
                         "knows it is dead, so each challenger sends it one")
    if answer == n - 1:
        return not_quite(f"{n - 1} is the best case, when the highest survivor notices first; "
                         f"here the lowest node does, and every node above it starts an "
                         f"election of its own")
    return not_quite(f"n1 challenges the {n - 1} nodes above it, and each live node it "
                     f"challenged answers and starts its own election in turn; count each "
                     f"kind of message: Election, Answer, Coordinator")
