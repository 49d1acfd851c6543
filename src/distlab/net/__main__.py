"""Command line of distlab.net.

    python -m distlab.net run --node-class distlab.net.demo:Pinger --id a \\
        --listen 127.0.0.1:9001 --peers b=127.0.0.1:9002,c=127.0.0.1:9003 \\
        [--clients me=127.0.0.1:9100] \\
        [--data-dir DIR] [--seed N] [--incarnation N] [--arg interval=200 ...]
        [--idle-timeout SECONDS]
    python -m distlab.net proxy --listen 9100 --target 127.0.0.1:9001 [--delay 50] [--jitter 10]
        [--drop 0.1] [--seed N]
    python -m distlab.net echo-server --listen 127.0.0.1:7000 [--allow-private]
    python -m distlab.net rtt --connect 127.0.0.1:7000 [--count 20] [--timeout 2] [--wait 5]
        [--allow-private]

Every address is a loopback one; ``--allow-private`` lets the two measuring tools use a
private address too (the netns demo runs them in network namespaces joined by 10.x addresses).

Exit codes: 0 after a clean shutdown (SIGTERM or Ctrl-C), 1 if the node crashed, 2 for a
usage error (a bad option, a taken port, a class that cannot be imported).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from distlab.net.addresses import (AddressError, PortInUseError, parse_address, parse_peers,
                                   parse_tool_address)
from distlab.net.codec import IDLE_TIMEOUT, CodecError
from distlab.net.host import import_node_class, run_node
from distlab.net.proxy import FaultProxy
from distlab.net.rtt import EchoServer, measure_rtts, summarize


class UsageError(Exception):
    """A bad command-line argument; its text is shown to the user."""


def parse_arg(spec: str) -> tuple[str, Any]:
    """``"interval=200"`` -> ``("interval", 200)``: values are JSON if they parse, else text."""
    key, sep, text = spec.partition("=")
    if not sep or not key.isidentifier():
        raise UsageError(f"bad --arg {spec!r}: expected NAME=VALUE, e.g. --arg interval=200")
    try:
        return key, json.loads(text)
    except json.JSONDecodeError:
        return key, text


def positive_seconds(text: str) -> float:
    """An ``argparse`` type: a number of seconds greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return value


def cmd_run(opts: argparse.Namespace) -> int:
    listen = parse_address(opts.listen, what="--listen address")
    peers = parse_peers(opts.peers)
    node_class = import_node_class(opts.node_class)
    node_args = dict(parse_arg(spec) for spec in opts.arg)
    return run_node(node_class, opts.id, listen, peers, data_dir=opts.data_dir,
                    node_args=node_args, seed=opts.seed, incarnation=opts.incarnation,
                    clients=parse_peers(opts.clients), exit_with_parent=opts.exit_with_parent,
                    idle_timeout=opts.idle_timeout)


def wait_for_sigterm_or_sigint() -> None:
    """Block until SIGTERM or SIGINT (Ctrl-C) arrives; the tools then shut down cleanly."""
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()


def cmd_proxy(opts: argparse.Namespace) -> int:
    target_host, target_port = parse_address(opts.target, what="--target address")
    proxy = FaultProxy(opts.listen, target_host, target_port, delay_ms=opts.delay,
                       jitter_ms=opts.jitter, drop_probability=opts.drop, seed=opts.seed)
    with proxy:
        print(f"proxy 127.0.0.1:{proxy.port} -> {target_host}:{target_port} "
              f"(delay {opts.delay} ms, jitter {opts.jitter} ms, drop {opts.drop})", flush=True)
        wait_for_sigterm_or_sigint()
        print(f"proxy stopped: {proxy.stats()}", flush=True)
    return 0


def cmd_echo_server(opts: argparse.Namespace) -> int:
    host, port = parse_tool_address(opts.listen, what="--listen address",
                                    allow_private=opts.allow_private)
    if ":" in host:
        raise UsageError(f"bad --listen address {opts.listen!r}: the echo server speaks IPv4 "
                         f"only; give an IPv4 address, e.g. 127.0.0.1:{port}")
    with EchoServer(host, port) as server:
        print(f"echo server listening on {host}:{server.port}", flush=True)
        wait_for_sigterm_or_sigint()
    return 0


def cmd_rtt(opts: argparse.Namespace) -> int:
    host, port = parse_tool_address(opts.connect, what="--connect address",
                                    allow_private=opts.allow_private)
    rtts = measure_rtts(host, port, opts.count, timeout=opts.timeout, wait=opts.wait)
    print(f"rtt {summarize(rtts)}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m distlab.net",
        description="Run distlab nodes as real processes over TCP on loopback, and tools to "
                    "delay, cut and measure their traffic.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one node in this process until SIGTERM/Ctrl-C")
    run.add_argument("--node-class", required=True, metavar="MODULE:CLASS",
                     help="the Node subclass, e.g. distlab.net.demo:Pinger")
    run.add_argument("--id", required=True, help="this node's id, e.g. a")
    run.add_argument("--listen", required=True, metavar="HOST:PORT",
                     help="where to accept messages, e.g. 127.0.0.1:9001 (loopback only)")
    run.add_argument("--peers", default="", metavar="ID=HOST:PORT,...",
                     help="the other nodes, e.g. b=127.0.0.1:9002,c=127.0.0.1:9003")
    run.add_argument("--clients", default="", metavar="ID=HOST:PORT,...",
                     help="processes that may send requests and get replies without being "
                          "peers, e.g. me=127.0.0.1:9100 (a notebook's cluster.client('me'))")
    run.add_argument("--data-dir", default="distlab-data", metavar="DIR",
                     help="where storage is kept, as DIR/ID.json (default: ./distlab-data)")
    run.add_argument("--seed", type=int, default=0, help="seed of the node's self.rng")
    run.add_argument("--incarnation", type=int, default=0, metavar="N",
                     help="which restart of the node this is (0 for its first run): each one "
                          "draws a fresh self.rng, as in the simulator")
    run.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                     help="a keyword argument for the node's __init__ (VALUE read as JSON "
                          "if it parses, else as text); repeatable")
    run.add_argument("--idle-timeout", type=positive_seconds, default=IDLE_TIMEOUT,
                     metavar="SECONDS",
                     help=f"close an incoming connection that carries no message for this "
                          f"long; its sender connects again when it next sends "
                          f"(default: {IDLE_TIMEOUT:g})")
    run.add_argument("--exit-with-parent", action="store_true",
                     help="stop when standard input closes, at once if a handler is stuck "
                          "(used by start_cluster)")
    run.set_defaults(func=cmd_run)

    proxy = sub.add_parser("proxy", help="a fault-injecting TCP proxy on 127.0.0.1")
    proxy.add_argument("--listen", type=int, required=True, metavar="PORT")
    proxy.add_argument("--target", required=True, metavar="HOST:PORT")
    proxy.add_argument("--delay", type=float, default=0.0, metavar="MS",
                       help="added delay in each direction")
    proxy.add_argument("--jitter", type=float, default=0.0, metavar="MS")
    proxy.add_argument("--drop", type=float, default=0.0, metavar="P",
                       help="probability that a new connection is reset")
    proxy.add_argument("--seed", type=int, default=0)
    proxy.set_defaults(func=cmd_proxy)

    echo = sub.add_parser("echo-server", help="a line echo server (for rtt)")
    echo.add_argument("--listen", required=True, metavar="HOST:PORT",
                      help="a loopback address, e.g. 127.0.0.1:7000")
    echo.add_argument("--allow-private", action="store_true",
                      help="also accept a private address (10.x, 172.16.x to 172.31.x, "
                           "192.168.x), as in a network namespace; never 0.0.0.0")
    echo.set_defaults(func=cmd_echo_server)

    rtt = sub.add_parser("rtt", help="measure round trips to an echo server")
    rtt.add_argument("--connect", required=True, metavar="HOST:PORT",
                     help="the echo server's address, e.g. 127.0.0.1:7000")
    rtt.add_argument("--allow-private", action="store_true",
                     help="also accept a private address, as for echo-server")
    rtt.add_argument("--count", type=int, default=20)
    rtt.add_argument("--timeout", type=float, default=2.0, metavar="SECONDS")
    rtt.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                     help="keep retrying a refused connection this long")
    rtt.set_defaults(func=cmd_rtt)
    return parser


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    try:
        return opts.func(opts)
    except (UsageError, AddressError, PortInUseError, CodecError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except (TimeoutError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
