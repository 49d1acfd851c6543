"""Remote procedure calls over the simulated network (Birrell and Nelson 1984).

* `distlab.rpc.layer` -- `RpcNode`: calls with timeouts and retries, at-least-once or
  at-most-once, in callback or coroutine style; its envelope messages `Request` and `Reply`.
* `distlab.rpc.counter` -- the example: a counter server, which is not idempotent, and its client.
* `distlab.rpc.retries` -- `RetryPolicy` (exponential backoff, jitter, a retry budget) and
  `RetryingClient`, which retries by it.
* `distlab.rpc.deadlines` -- `QueueServer`, which refuses requests whose deadline passed in
  its queue, and `Frontend`, which passes a caller's deadline down to its backend.
* `distlab.rpc.runs` -- the experiments the book runs (`counter_experiment`, `retry_storm`,
  `deadline_chain`).
"""
