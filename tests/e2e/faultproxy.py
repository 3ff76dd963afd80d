"""A fault-injecting HTTPS proxy between the plugin and the e2e API server (stdlib only).

The plugin speaks HTTPS to 127.0.0.1:PORT (a kubeconfig written by `FaultProxy.kubeconfig`: like kubectl, the plugin
sends a token only over TLS); the proxy serves the API server's own certificate, so the control plane's CA checks
it. It sends each request on to the real kube-apiserver over TLS, checked against that CA, unless a scripted
`Fault` says otherwise. Every request is recorded (method, path, query, Accept, status, fault) so that tests can
count retries, see that writes were sent once, and see what each Secret request asked for.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from controlplane import ControlPlane

KINDS = ("delay", "status", "reset", "drop", "truncate", "cut")
# Hop-by-hop headers, and Accept-Encoding so that the API server answers uncompressed (truncation is by byte).
_NOT_FORWARDED = {
    "host",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "accept-encoding",
    "proxy-connection",
    "content-length",
}


@dataclass
class Fault:
    """What to do to the requests that match: `kind` is one of

    - delay:    wait `seconds`, then forward (past the client's timeout, the client has gone);
    - status:   answer `status` (with `retry_after`, if given) without forwarding: nothing reaches the server;
    - reset:    reset the connection (TCP RST) without forwarding;
    - drop:     forward (a write is applied), then reset the connection instead of answering;
    - truncate: forward, then send the headers with the full Content-Length but only half the body;
    - cut:      forward, then send half the body with no Content-Length and close (a body that does not decode).

    Over TLS, truncate and cut end the TCP stream without a close_notify: the client takes that end of stream for
    the end of the data (Python's ssl suppresses "ragged" EOFs), so it sees a body short of its Content-Length, and
    a complete but cut body, as it would over plain HTTP. reset and drop send a TCP RST, which TLS cannot soften.

    A request matches when `method` equals, `path` is found in its path and `query` in its query string, and
    `without` is not found in the query. The first `skip` matches pass; the next `times` (0: all) get the fault.
    """

    kind: str
    path: str = ""
    method: str = "GET"
    query: str = ""
    without: str = ""
    times: int = 1
    skip: int = 0
    status: int = 503
    retry_after: str | None = None
    seconds: float = 0.0
    matched: int = 0
    applied: int = 0

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind

    def take(self, method: str, path: str, query: str) -> bool:
        """Whether this request gets the fault (and count it)."""
        if method != self.method or not re.search(self.path, path) or not re.search(self.query, query):
            return False
        if self.without and re.search(self.without, query):
            return False
        self.matched += 1
        if self.matched <= self.skip or (self.times and self.applied >= self.times):
            return False
        self.applied += 1
        return True


@dataclass(frozen=True)
class Record:
    method: str
    path: str
    query: str
    accept: str
    user_agent: str
    fault: str | None
    status: int | None
    at: float
    content_type: str = ""
    kind: str = ""  # of the answer, for Secret requests: PartialObjectMetadataList when metadata only
    secret_data: bool = False  # a Secret's `data` or `stringData` reached the client


@dataclass
class FaultProxy:
    cp: ControlPlane
    faults: list[Fault] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        upstream = urlsplit(self.cp.url)
        self._host, self._port = upstream.hostname or "127.0.0.1", upstream.port or 443
        self._ssl = ssl.create_default_context(cafile=str(self.cp.ca_file))
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = _TLSServer(("127.0.0.1", 0), Handler)
        self._server.tls.load_cert_chain(str(self.cp.serving_cert), str(self.cp.serving_key))
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # scripting

    def add(self, *faults: Fault) -> FaultProxy:
        with self._lock:
            self.faults.extend(faults)
        return self

    def reset(self) -> None:
        """No faults, no records: as new."""
        with self._lock:
            self.faults.clear()
            self.records.clear()

    def requests(self, method: str | None = None, path: str = "", query: str = "") -> list[Record]:
        """The recorded requests with this method whose path and query contain these patterns."""
        with self._lock:
            records = list(self.records)
        return [
            r
            for r in records
            if (method is None or r.method == method) and re.search(path, r.path) and re.search(query, r.query)
        ]

    def kubeconfig(self, path: Path, token: str | None = None, namespace: str | None = None) -> Path:
        """A kubeconfig whose one context reaches the API server through this proxy (over TLS, trusting the
        control plane's CA), with a bearer token."""
        context: dict[str, Any] = {"cluster": "proxied", "user": "proxied"}
        if namespace:
            context["namespace"] = namespace
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "proxied",
                    "clusters": [
                        {
                            "name": "proxied",
                            "cluster": {"server": self.url, "certificate-authority": str(self.cp.ca_file)},
                        }
                    ],
                    "users": [{"name": "proxied", "user": {"token": token or self.cp.admin_token}}],
                    "contexts": [{"name": "proxied", "context": context}],
                }
            )
        )
        path.chmod(0o600)
        return path

    # internals

    def _pick(self, method: str, path: str, query: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.take(method, path, query):
                    return fault
        return None

    def _record(self, record: Record) -> None:
        with self._lock:
            self.records.append(record)

    def forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPSConnection(self._host, self._port, context=self._ssl, timeout=120)
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.reason, resp.getheaders(), resp.read()
        finally:
            conn.close()


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        # The handshake happens on the first read, in the request's own thread (never in the accepting one).
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the records are the log

    def do_GET(self) -> None:
        self._handle()

    do_PATCH = do_POST = do_PUT = do_DELETE = do_GET

    def _handle(self) -> None:
        proxy = self.owner
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        fault = proxy._pick(self.command, split.path, split.query)
        kind = fault.kind if fault else None
        status: int | None = None
        content_type = answer_kind = ""
        secret_data = False
        try:
            if fault is not None and fault.kind == "delay":
                time.sleep(fault.seconds)
            if fault is not None and fault.kind == "status":
                status = fault.status
                self._status(fault)
            elif fault is not None and fault.kind == "reset":
                self._reset()
            else:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED}
                status, reason, resp_headers, data = proxy.forward(self.command, self.path, headers, body)
                content_type = next((v for k, v in resp_headers if k.lower() == "content-type"), "")
                if split.path.endswith("/secrets"):
                    answer_kind, secret_data = _secret_answer(data)
                if fault is not None and fault.kind == "drop":
                    self._reset()
                else:
                    self._answer(status, reason, resp_headers, data, fault.kind if fault else None)
        except OSError:
            self.close_connection = True  # the client went away (after a delay past its timeout)
        finally:
            proxy._record(
                Record(
                    self.command,
                    split.path,
                    split.query,
                    self.headers.get("Accept", ""),
                    self.headers.get("User-Agent", ""),
                    kind,
                    status,
                    time.monotonic(),
                    content_type,
                    answer_kind,
                    secret_data,
                )
            )

    def _status(self, fault: Fault) -> None:
        reasons = {410: "Expired", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}
        message = (
            "The provided continue parameter is too old to display a consistent list result."
            if fault.status == 410
            else f"injected by the fault proxy ({fault.status})"
        )
        data = json.dumps(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": reasons.get(fault.status, "InternalError"),
                "code": fault.status,
            }
        ).encode()
        self.send_response(fault.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if fault.retry_after is not None:
            self.send_header("Retry-After", fault.retry_after)
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes, kind: str | None) -> None:
        self.send_response(status, reason)
        for key, value in headers:
            if key.lower() not in _NOT_FORWARDED and key.lower() != "date":
                self.send_header(key, value)
        if kind == "cut":
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True  # the server's shutdown_request then ends the stream, as for truncate
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if kind == "truncate":
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            # An end of stream short of Content-Length: a TCP FIN with no TLS close_notify (SSLSocket.shutdown
            # drops the TLS layer; unwrap() would wait for the client's close_notify).
            self.connection.shutdown(socket.SHUT_WR)
            return
        self.wfile.write(data)

    def _reset(self) -> None:
        """Close with a TCP RST: the client sees "connection reset by peer"."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


def _secret_answer(data: bytes) -> tuple[str, bool]:
    """The kind of a Secret list answer, and whether any item in it carries `data` or `stringData`."""
    try:
        doc = json.loads(data)
    except ValueError:
        return "", False
    if not isinstance(doc, dict):
        return "", False
    items = doc.get("items") or []
    return str(doc.get("kind", "")), any(isinstance(i, dict) and ("data" in i or "stringData" in i) for i in items)
