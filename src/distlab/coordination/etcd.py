"""The `Coordinator` interface on a real etcd (v3.4), through its JSON gateway over HTTP.

etcd speaks gRPC; its gateway accepts the same requests as JSON at ``/v3/...``, so the
standard library's `urllib` is the whole client. Keys and values travel base64-encoded, and
64-bit numbers as strings. A compare-and-set is a transaction (``/v3/kv/txn``): compare the
key's ``version`` (0: absent), then put. A lease is kept alive by a background thread that
calls ``/v3/lease/keepalive`` every third of its TTL, as etcd's Go client does; a watch is one
long streaming response (``/v3/watch``) that a thread reads line by line.

Point it at any etcd: ``EtcdCoordinator("http://10.0.0.5:2379")`` (one member's client URL;
a real client would be given every member's).
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import queue
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from distlab.coordination.api import CoordinationError, Coordinator, Watcher
from distlab.coordination.messages import Event, KeyValue


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _text(b64: str | None) -> str:
    return base64.b64decode(b64 or "").decode()


def _key_value(kv: dict[str, Any]) -> KeyValue:
    return KeyValue(_text(kv["key"]), _text(kv.get("value")), int(kv["create_revision"]),
                    int(kv["mod_revision"]), int(kv["version"]), int(kv.get("lease", 0)))


class EtcdCoordinator(Coordinator):
    """A client of the etcd at ``url`` (its client URL)."""

    name = "etcd"

    def __init__(self, url: str, timeout: float = 5.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.keepers: dict[int, threading.Event] = {}   # lease -> set it to stop renewing

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` as JSON to ``/v3/<path>``; the JSON answer."""
        request = urllib.request.Request(f"{self.url}/v3/{path}", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise CoordinationError(f"etcd {path}: {error.read().decode(errors='replace')}")
        except OSError as error:
            raise CoordinationError(f"etcd at {self.url} did not answer {path}: {error}")

    # -- leases --------------------------------------------------------------------------------
    def grant(self, ttl: float) -> int:
        """A lease of ``ttl`` seconds rounded up to whole seconds (etcd's unit), renewed by a
        background thread every third of ``ttl`` until `pause` or `revoke`."""
        lease = int(self.call("lease/grant", {"TTL": max(1, math.ceil(ttl))})["ID"])
        stop = threading.Event()
        self.keepers[lease] = stop
        threading.Thread(target=self._keep_alive, args=(lease, ttl, stop), daemon=True,
                         name=f"etcd lease {lease}").start()
        return lease

    def _keep_alive(self, lease: int, ttl: float, stop: threading.Event) -> None:
        while not stop.wait(ttl / 3):
            try:
                self.call("lease/keepalive", {"ID": str(lease)})
            except CoordinationError:
                pass     # the next round tries again; the lease may expire meanwhile

    def pause(self, lease: int) -> None:
        self.keepers.pop(lease, threading.Event()).set()

    def revoke(self, lease: int) -> None:
        self.pause(lease)
        try:
            self.call("lease/revoke", {"ID": str(lease)})
        except CoordinationError as error:
            if "not found" not in str(error):
                raise

    # -- keys ----------------------------------------------------------------------------------
    def put(self, key: str, value: str, lease: int = 0) -> None:
        self.call("kv/put", {"key": _b64(key), "value": _b64(value), "lease": str(lease)})

    def create(self, key: str, value: str, lease: int = 0) -> KeyValue | None:
        answer = self._txn(key, 0, value, lease)
        if not answer.get("succeeded"):
            return None
        read = answer["responses"][1]["response_range"]     # the key as the txn left it
        return _key_value(read["kvs"][0])

    def _txn(self, key: str, version: int, value: str, lease: int) -> dict[str, Any]:
        """If ``key`` has ``version`` (0: absent), put ``value`` and read the key back."""
        return self.call("kv/txn", {
            "compare": [{"key": _b64(key), "target": "VERSION", "result": "EQUAL",
                         "version": str(version)}],
            "success": [{"request_put": {"key": _b64(key), "value": _b64(value),
                                         "lease": str(lease)}},
                        {"request_range": {"key": _b64(key)}}]})

    def compare_and_set(self, key: str, version: int, value: str) -> bool:
        current = self.get(key)
        return bool(self._txn(key, version, value, current.lease if current else 0)
                    .get("succeeded"))

    def get(self, key: str) -> KeyValue | None:
        kvs = self.call("kv/range", {"key": _b64(key)}).get("kvs", [])
        return _key_value(kvs[0]) if kvs else None

    def list(self, prefix: str) -> list[KeyValue]:
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)        # the first key after the prefix
        kvs = self.call("kv/range", {"key": _b64(prefix), "range_end": _b64(end)})
        return [kv for kv in map(_key_value, kvs.get("kvs", []))
                if "/" not in kv.key[len(prefix):]]

    def delete(self, key: str, version: int | None = None) -> bool:
        if version is None:
            return int(self.call("kv/deleterange", {"key": _b64(key)}).get("deleted", 0)) > 0
        answer = self.call("kv/txn", {
            "compare": [{"key": _b64(key), "target": "VERSION", "result": "EQUAL",
                         "version": str(version)}],
            "success": [{"request_delete_range": {"key": _b64(key)}}]})
        return bool(answer.get("succeeded"))

    def watch(self, key: str) -> EtcdWatcher:
        return EtcdWatcher(self, key)

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        for lease in sorted(self.keepers):
            self.revoke(lease)


class EtcdWatcher(Watcher):
    """A ``/v3/watch`` stream on one key, read by a background thread into a queue."""

    def __init__(self, client: EtcdCoordinator, key: str):
        self.events: queue.Queue[Event] = queue.Queue()
        parts = urllib.parse.urlsplit(client.url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port,
                                                     timeout=client.timeout)
        body = json.dumps({"create_request": {"key": _b64(key)}})
        self.connection.request("POST", "/v3/watch", body,
                                {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        if response.status != 200:
            raise CoordinationError(f"etcd watch on {key}: HTTP {response.status}")
        created = json.loads(response.readline())       # the watch is registered: go on
        if not created.get("result", {}).get("created"):
            raise CoordinationError(f"etcd watch on {key}: {created}")
        self.connection.sock.settimeout(None)         # events may be minutes apart
        threading.Thread(target=self._read, args=(response,), daemon=True,
                         name=f"etcd watch {key}").start()

    def _read(self, response: http.client.HTTPResponse) -> None:
        try:
            for line in response:
                for event in json.loads(line).get("result", {}).get("events", []):
                    kv = event["kv"]
                    deleted = event.get("type") == "DELETE"
                    self.events.put(Event("delete" if deleted else "put", _text(kv["key"]),
                                          None if deleted else _text(kv.get("value")),
                                          int(kv["mod_revision"])))
        except (OSError, ValueError, http.client.HTTPException):
            pass                                          # cancelled: the stream is shut
        finally:
            self.connection.close()

    def next(self, timeout: float) -> Event | None:
        try:
            return self.events.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def cancel(self) -> None:
        """Shut the stream's socket: the reading thread sees its end and closes it."""
        try:
            self.connection.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):   # closed already
            pass
