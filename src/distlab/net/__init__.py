"""distlab.net: the same `Node` classes as real processes over TCP on loopback, and tools to
disturb and measure real traffic.

* `start_cluster` / `Cluster` -- start one OS process per node, ``kill -9`` and restart them;
  storage survives on disk (`distlab.net.cluster`).
* `Endpoint` -- a client in this process (a notebook) that sends the nodes requests and
  reads their replies: ``cluster.client("me").request("a", Get("x"))`` (`distlab.net.endpoint`).
* `NodeHost` / `run_node` -- the runtime that runs one node over asyncio TCP
  (`distlab.net.host`); the command line is ``python -m distlab.net run ...``.
* `FaultProxy` -- a TCP proxy that adds delay and jitter, drops connections, cuts links and
  loses replies, the in-process stand-in for ``tc netem`` (`distlab.net.proxy`).
* `EchoServer` / `measure_rtts` -- measure real round trips (`distlab.net.rtt`).
* `Codec` -- the explicit JSON codec for messages and storage (`distlab.net.codec`); a
  node's storage file, its lock and its errors (`StorageFileError`) are in
  `distlab.net.storage_file`.

Everything binds to 127.0.0.1 only. ``scripts/netns_demo.sh`` goes one step further: two
network namespaces joined by a veth pair, shaped by ``tc netem`` (root on Linux only).
"""

from distlab.net.addresses import AddressError, PortInUseError, parse_address, parse_peers
from distlab.net.cluster import Cluster, ClusterError, start_cluster
from distlab.net.codec import Codec, CodecError
from distlab.net.endpoint import Endpoint, EndpointError
from distlab.net.host import NodeHost, run_node
from distlab.net.proxy import FaultProxy
from distlab.net.rtt import EchoServer, measure_rtts, round_trip, summarize
from distlab.net.storage_file import StorageFileError

__all__ = [
    "AddressError", "Cluster", "ClusterError", "Codec", "CodecError", "EchoServer",
    "Endpoint", "EndpointError", "FaultProxy", "NodeHost", "PortInUseError", "StorageFileError",
    "measure_rtts", "parse_address", "parse_peers", "round_trip", "run_node", "start_cluster",
    "summarize",
]
