"""distlab: small, deterministic, runnable distributed systems."""
