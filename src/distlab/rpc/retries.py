"""Retrying well: exponential backoff, jitter, retry budgets and deadlines.

A retry is a second request, so retries are load. When a server is slow or down, every
client that times out sends again, and a server that is struggling receives more work the
more it struggles. Three habits keep retries from making an outage worse (Google's SRE book,
chapters 21-22; Brooker's "Exponential Backoff and Jitter"):

* **exponential backoff**: wait longer after each failed attempt (``base``, then twice as
  long, up to ``cap``), so that the load of retries falls while the trouble lasts;
* **jitter**: draw the wait at random (*full jitter*: uniformly between 0 and the backoff),
  so that clients that failed together do not all come back together;
* **a retry budget**: a client retries only while its retries stay below a fraction of its
  calls, so that in a long outage retries cannot multiply the load.

And a call carries its **deadline**: how long its caller will wait. A server that takes the
request from its queue after the deadline refuses it instead of doing work whose answer
nobody will read (`distlab.rpc.deadlines`).

`RetryingClient` makes calls with a `RetryPolicy`; `distlab.rpc.runs.retry_storm` runs a
fleet of them against a server that comes back from an outage.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from distlab.rpc.deadlines import DeadlineExceeded, Work
from distlab.rpc.layer import RpcNode, Timeout
from distlab.sim import Client


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry a failed attempt, and how long to wait first.

    The wait before retry ``k`` (0 for the first retry) is ``min(cap, base * multiplier**k)``:
    ``multiplier=1`` waits the same every time, ``2`` is exponential backoff. With ``jitter``
    the wait is drawn uniformly between 0 and that value ("full jitter"). A call makes at
    most ``attempts`` attempts. ``budget`` (a fraction, or None for no budget) lets a client
    retry only while its retries so far are at most ``budget`` times its calls so far: its
    retries never exceed that, plus one.
    """

    base: float = 100.0
    multiplier: float = 2.0
    cap: float = 3_200.0
    jitter: bool = False
    attempts: int = 30
    budget: float | None = None

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0 or self.multiplier < 1:
            raise ValueError(f"a RetryPolicy needs base >= 0, cap >= 0 and multiplier >= 1 "
                             f"(waits never shrink); got {self!r}")
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(f"attempts counts the first one too, so it is at least 1; "
                             f"got {self.attempts!r}")
        if self.budget is not None and not 0 <= self.budget <= 1:
            raise ValueError(f"budget is the fraction of calls that may be retried, in "
                             f"[0, 1], or None; got {self.budget!r}")

    def wait(self, retry: int, rng: random.Random) -> float:
        """How long to wait before retry number ``retry`` (0, 1, 2...)."""
        backoff = min(self.cap, self.base * self.multiplier ** retry)
        return rng.uniform(0, backoff) if self.jitter else backoff


class RetryingClient(RpcNode, Client):
    """Makes ``calls`` calls of `Work` to ``server``, one after another, ``think`` ms apart,
    retrying each failed attempt by ``policy``.

    An attempt fails when no reply comes within ``timeout`` ms, or when the server refuses
    it (`DeadlineExceeded`). With ``deadline=True`` each request carries its deadline: the
    ``timeout`` the client will wait. A call that runs out of attempts, or of budget,
    ends unknown (``info``) in the history.
    """

    def __init__(self, server: str = "server", calls: int = 5, think: float = 100.0,
                 timeout: float = 100.0, policy: RetryPolicy = RetryPolicy(),
                 deadline: bool = False, start: float = 0.0):
        self.server = server
        self.calls = calls
        self.think = think
        self.timeout = timeout
        self.policy = policy
        self.deadline = deadline
        self.start = start
        self.first_attempts = 0     # calls started
        self.retries = 0            # attempts after the first
        self.done = 0               # calls that succeeded
        self.given_up = 0           # calls that ran out of attempts or budget

    def on_start(self) -> None:
        self.spawn(self.run())

    async def run(self) -> None:
        await self.sleep(self.start)
        for _ in range(self.calls):
            op = self.invoke("work")
            self.first_attempts += 1
            if await self.call_with_retries():
                self.done += 1
                self.ok(op)
            else:
                self.given_up += 1
                self.info(op)
            await self.sleep(self.think)

    async def call_with_retries(self) -> bool:
        """One call: attempts until a reply, or until the policy or the budget says stop."""
        request = Work(budget=self.timeout if self.deadline else None)
        for retry in range(self.policy.attempts):
            reply = await self.call(self.server, request, timeout=self.timeout)
            if not isinstance(reply, (Timeout, DeadlineExceeded)):
                return True
            if retry + 1 == self.policy.attempts or not self.may_retry():
                return False
            self.retries += 1
            await self.sleep(self.policy.wait(retry, self.rng))
        return False

    def may_retry(self) -> bool:
        """Whether the retry budget allows one more retry."""
        budget = self.policy.budget
        return budget is None or self.retries <= budget * self.first_attempts
