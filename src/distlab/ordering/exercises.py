"""The delivery-order page's mini-exercise: which held-back posts may a causal member deliver?

Member ``c`` has delivered one post of ``a`` and one of its own (`C_DELIVERED`) and holds four
posts back (`C_HELD`). The reader lists the ones ``c`` may deliver, in order, before anything
else arrives; `check_causal_delivery` compares the list with what the library's rule
(`distlab.ordering.causal.deliverable`) lets through, one post at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from distlab.clocks.logical import VectorClock
from distlab.exercises import Feedback, not_quite, right
from distlab.ordering.causal import deliverable
from distlab.ordering.messages import CausalPost

#: what ``c`` has delivered: one post of ``a``, and its own first post
C_DELIVERED = VectorClock.of({"a": 1, "c": 1})
#: the posts ``c`` holds back, as they arrived
C_HELD = (CausalPost("b", VectorClock.of({"a": 1, "b": 1}), "b.1"),
          CausalPost("b", VectorClock.of({"a": 1, "b": 2}), "b.2"),
          CausalPost("d", VectorClock.of({"a": 2, "b": 1, "d": 1}), "d.1"),
          CausalPost("a", VectorClock.of({"a": 3}), "a.3"))


def deliverable_sequence(delivered: VectorClock, posts: Sequence[CausalPost]) -> list[str]:
    """The texts a causal member that has delivered ``delivered`` delivers from ``posts``, in
    order, until none of the rest may go."""
    waiting, order = list(posts), []
    ready = next((p for p in waiting if deliverable(p, delivered)), None)
    while ready is not None:
        waiting.remove(ready)
        delivered = delivered.increment(ready.sender)
        order.append(ready.text)
        ready = next((p for p in waiting if deliverable(p, delivered)), None)
    return order


def why_held(post: CausalPost, delivered: VectorClock) -> str:
    """Why ``post`` may not be delivered yet by a member that has delivered ``delivered``."""
    sender, own = post.sender, post.clock[post.sender]
    if own != delivered[sender] + 1:
        return (f"it is {sender}'s post number {own}, while c has delivered "
                f"{delivered[sender]} of {sender}'s posts")
    needed, count = next((q, n) for q, n in post.clock.entries
                         if q != sender and n > delivered[q])
    return (f"{sender} had delivered {count} post(s) of {needed} before posting it, while c "
            f"has delivered {delivered[needed]}")


def check_causal_delivery(answer: Sequence[str], delivered: VectorClock = C_DELIVERED,
                          held: Sequence[CausalPost] = C_HELD) -> Feedback:
    """Whether ``answer``, a list of texts, is what ``c`` delivers, in order; if not, the
    first post that is wrong and why, from the rule."""
    if isinstance(answer, str) or not isinstance(answer, Sequence):
        return not_quite("write the answer as a list of texts, such as ['d.1']")
    posts = {post.text: post for post in held}
    truth = deliverable_sequence(delivered, held)
    for position, text in enumerate(answer):
        if text not in posts:
            return not_quite(f"{text!r} is not one of the held-back posts "
                             f"({', '.join(posts)})")
        post = posts[text]
        if position < len(truth) and text == truth[position]:
            delivered = delivered.increment(post.sender)
            continue
        if not deliverable(post, delivered):
            after = f"after {', '.join(answer[:position])}" if position else "first"
            return not_quite(f"{text} cannot be delivered {after}: it is stamped "
                             f"{post.clock}, and {why_held(post, delivered)}")
        return not_quite(f"{text} may go, but {truth[position]} comes first in the order "
                         f"the posts arrived: list them in the order c delivers them")
    if len(answer) < len(truth):
        missing = truth[len(answer)]
        return not_quite(f"c may also deliver {missing} next: its stamp "
                         f"{posts[missing].clock} asks for nothing c has not delivered")
    return right(f"c delivers {', '.join(truth)}; "
                 f"{', '.join(t for t in posts if t not in truth)} stay held back.")
