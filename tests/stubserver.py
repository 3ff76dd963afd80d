"""A scripted HTTPS server on 127.0.0.1 for unit tests of the cluster client: each request takes the next answer.

It serves TLS with a self-signed certificate for 127.0.0.1 and localhost, made once per test session: `Stub.ca`,
for a kubeconfig's certificate-authority (kubectl sends credentials only over TLS; `Stub.cluster()` is the whole
cluster entry). `tls=False` serves plain HTTP instead.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import self_signed


@dataclass(frozen=True)
class Answer:
    """status and JSON body; `reset` closes the connection with a RST instead; `raw` is sent as the body."""

    status: int = 200
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    reset: bool = False
    raw: bytes | None = None
    delay: float = 0.0  # seconds to wait before answering (a hung or slow API server)
    # The body in two parts: its first `split` bytes, then the rest once `hold` is set (at most HOLD seconds
    # later); whether it was set in time goes to Stub.held.
    split: int = 0
    hold: threading.Event | None = None
    cut: bool = False  # the body stops after its first `split` bytes: the connection is closed


HOLD = 5.0


@dataclass
class Stub:
    answers: list[Answer] = field(default_factory=list)
    default: Answer = Answer(200, {"kind": "List", "metadata": {}, "items": []})
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    held: list[bool] = field(default_factory=list)
    url: str = ""
    ca: str | None = None  # the certificate to trust, when it serves TLS

    def cluster(self) -> dict[str, Any]:
        """The kubeconfig `cluster` entry that reaches this server (and trusts it)."""
        return {"server": self.url, **({"certificate-authority": self.ca} if self.ca else {})}

    def kubeconfig(self, path: Path, token: str = "s3cr3t-stub-token") -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "stub",
                    "clusters": [{"name": "stub", "cluster": self.cluster()}],
                    "users": [{"name": "stub", "user": {"token": token}}],
                    "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub", "namespace": "app"}}],
                }
            )
        )
        return path


@functools.cache
def tls_files() -> tuple[str, str]:
    """(certificate, key) of the stub servers: made on first use, removed when the test session ends."""
    folder = Path(tempfile.mkdtemp(prefix="tke-net-stub-tls-"))
    atexit.register(shutil.rmtree, folder, True)
    cert, key = folder / "stub.crt", folder / "stub.key"
    self_signed(cert, key, "127.0.0.1", days=2, san="IP:127.0.0.1,DNS:localhost")
    return str(cert), str(key)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        if self.tls is None:
            return sock, address
        # The handshake happens on the first read, in the request's own thread.
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (or refused the certificate): the test sees it from the client's side


@contextmanager
def serve(
    *answers: Answer,
    default: Answer | None = None,
    tls: bool = True,
    route: Callable[[str, str], Answer | None] | None = None,
) -> Iterator[Stub]:
    """`route(method, path)`, when given, answers first (None: the scripted answers, then the default)."""
    stub = Stub(list(answers))
    if default is not None:
        stub.default = default
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with lock:
                stub.seen.append((self.command, self.path, dict(self.headers.items())))
                routed = route(self.command, self.path) if route is not None else None
                answer = routed or (stub.answers.pop(0) if stub.answers else stub.default)
            if answer.delay:
                time.sleep(answer.delay)
            if answer.reset:
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                return
            data = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in answer.headers:
                self.send_header(key, value)
            self.end_headers()
            if answer.cut:
                self.wfile.write(data[: answer.split])
                self.wfile.flush()
                self.close_connection = True
                return
            if answer.hold is not None:
                self.wfile.write(data[: answer.split])
                self.wfile.flush()
                stub.held.append(answer.hold.wait(HOLD))
                data = data[answer.split :]
            self.wfile.write(data)

        do_PATCH = do_POST = do_DELETE = do_GET

    server = _Server(("127.0.0.1", 0), Handler)
    if tls:
        cert, key = tls_files()
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(cert, key)
        stub.ca = cert
    stub.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
