"""A scripted HTTP server on 127.0.0.1 for unit tests of the cluster client: each request takes the next answer."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Answer:
    """status and JSON body; `reset` closes the connection with a RST instead; `raw` is sent as the body."""

    status: int = 200
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    reset: bool = False
    raw: bytes | None = None


@dataclass
class Stub:
    answers: list[Answer] = field(default_factory=list)
    default: Answer = Answer(200, {"kind": "List", "metadata": {}, "items": []})
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def kubeconfig(self, path: Path, token: str = "s3cr3t-stub-token") -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "stub",
            "clusters": [{"name": "stub", "cluster": {"server": self.url}}],
            "users": [{"name": "stub", "user": {"token": token}}],
            "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub", "namespace": "app"}}]}))
        return path


@contextmanager
def serve(*answers: Answer, default: Answer | None = None) -> Iterator[Stub]:
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
                answer = stub.answers.pop(0) if stub.answers else stub.default
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
            self.wfile.write(data)

        do_PATCH = do_POST = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
