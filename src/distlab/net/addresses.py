"""Addresses of real nodes: parsing ``host:port`` and ``id=host:port`` specs, and their errors.

distlab's real processes talk over loopback only (127.0.0.1, or ::1): nothing a reader starts
from the book is reachable from another machine, and nothing reaches out to the internet.
"""

from __future__ import annotations

import ipaddress
import socket

#: An address: (host, port).
Address = tuple[str, int]


class AddressError(ValueError):
    """A malformed or forbidden ``host:port`` or ``id=host:port`` spec."""


class PortInUseError(OSError):
    """The port we were asked to listen on is already taken by another socket."""


def port_taken_message(host: str, port: int, how_to_choose: str) -> str:
    """The error text for a taken port; ``how_to_choose`` names the option to change."""
    return (f"port {port} on {host} is taken: choose another with {how_to_choose} "
            f"or stop the process using it")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_address(spec: str, *, what: str = "address", loopback_only: bool = True) -> Address:
    """``"127.0.0.1:9001"`` -> ``("127.0.0.1", 9001)``, with a clear error for bad input."""
    host, sep, port_text = spec.strip().rpartition(":")
    host = host.strip("[]")  # allow [::1]:9001
    if not sep or not host:
        raise AddressError(f"bad {what} {spec!r}: expected HOST:PORT, e.g. 127.0.0.1:9001")
    try:
        port = int(port_text)
    except ValueError:
        raise AddressError(f"bad {what} {spec!r}: the port {port_text!r} is not a "
                           f"number") from None
    if not 0 <= port <= 65535:
        raise AddressError(f"bad {what} {spec!r}: a port must be between 0 and 65535")
    if loopback_only and not is_loopback(host):
        raise AddressError(f"bad {what} {spec!r}: distlab.net only uses loopback addresses "
                           f"(127.0.0.1 or ::1), so that nothing it starts is reachable from "
                           f"other machines")
    return host, port


def parse_tool_address(spec: str, *, what: str, allow_private: bool = False) -> Address:
    """The address of a measuring tool (``echo-server``, ``rtt``): loopback only, or with
    ``allow_private`` also a private address (the 10.x addresses of ``netns_demo.sh``).

    A wildcard such as 0.0.0.0 is refused even then: it means every interface of the machine,
    public ones included (Python's `ipaddress` calls 0.0.0.0 private, so checking
    ``is_private`` alone would let it through).
    """
    host, port = parse_address(spec, what=what, loopback_only=False)
    if host == "localhost":
        return host, port
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise AddressError(f"bad {what} {spec!r}: {host!r} is not an IP address; give one, "
                           f"e.g. 127.0.0.1:7000") from None
    if ip.is_unspecified:
        raise AddressError(f"bad {what} {spec!r}: {host} means every interface of this "
                           f"machine, so other machines could reach it; give 127.0.0.1 (or, "
                           f"with --allow-private, the private address of one interface)")
    if ip.is_loopback or (allow_private and ip.is_private):
        return host, port
    hint = ("" if allow_private else "; add --allow-private to allow a private address "
            "(10.x, 172.16.x to 172.31.x, 192.168.x), as scripts/netns_demo.sh does")
    raise AddressError(f"bad {what} {spec!r}: only loopback addresses (127.0.0.1) are "
                       f"allowed{hint}")


def parse_peers(spec: str) -> dict[str, Address]:
    """``"b=127.0.0.1:9002,c=127.0.0.1:9003"`` -> ``{"b": (...), "c": (...)}``.

    An empty spec means no peers (a node alone).
    """
    peers: dict[str, Address] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        node_id, sep, address = item.partition("=")
        node_id = node_id.strip()
        if not sep or not node_id:
            raise AddressError(f"bad peer {item!r}: expected ID=HOST:PORT, "
                               f"e.g. b=127.0.0.1:9002 (several separated by commas)")
        if node_id in peers:
            raise AddressError(f"peer {node_id!r} is given twice in {spec!r}")
        peers[node_id] = parse_address(address, what=f"address of peer {node_id!r}")
    return peers


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that were free a moment ago (the OS picks them: we bind port 0).

    Another process could take one before we use it; on a quiet machine that is rare.
    """
    probes = [socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
              for _ in range(count)]
    try:
        for probe in probes:       # all bound at once, so the OS cannot hand out one twice
            probe.bind((host, 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()
