"""The layer-7 CLB, played: an HTTP listener on the VIP that forwards each request to the nodes' NodePort.

    python l7clb.py CONFIG.json LOG

Runs inside the VPC namespace. As TKE's layer-7 CLB without SNAT it connects to the node from the client's own
address (IP_TRANSPARENT; the namespace routes the replies back to this socket), gives a node about 4 s to
answer, then retries the next one. With "snat" it connects from the CLB's own address instead. CONFIG is read
again for every request: {"listen": [ip, port], "backends": [[ip, port], ...], "snat": false,
"snat_address": ip, "timeout": 4}. LOG gets one JSON line per attempt.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

IP_TRANSPARENT = 19


def _log(path: Path, **fields: Any) -> None:
    with path.open("a") as f:
        f.write(json.dumps(fields) + "\n")


def _headers(conn: socket.socket) -> bytes:
    data = b""
    conn.settimeout(10)
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _serve(conn: socket.socket, client: tuple[str, int], config_path: Path, log: Path) -> None:
    try:
        config = json.loads(config_path.read_text())
        request = _headers(conn)
        source = config["snat_address"] if config.get("snat") else client[0]
        for host, port in config["backends"]:
            out = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            out.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
            out.bind((source, 0))
            out.settimeout(float(config.get("timeout", 4)))
            started = time.monotonic()
            try:
                out.connect((host, port))
            except OSError as e:
                _log(
                    log,
                    client=client[0],
                    source=source,
                    node=host,
                    ok=False,
                    error=str(e),
                    ms=int((time.monotonic() - started) * 1000),
                )
                out.close()
                continue
            _log(log, client=client[0], source=source, node=host, ok=True, ms=int((time.monotonic() - started) * 1000))
            out.settimeout(10)
            out.sendall(request)
            while data := out.recv(65536):
                conn.sendall(data)
            out.close()
            return
        conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except OSError as e:
        _log(log, client=client[0], error=str(e))
    finally:
        conn.close()


def main() -> None:
    config_path, log = Path(sys.argv[1]), Path(sys.argv[2])
    host, port = json.loads(config_path.read_text())["listen"]
    listener = socket.create_server((host, port), backlog=128)
    print("ready", flush=True)
    while True:
        conn, client = listener.accept()
        threading.Thread(target=_serve, args=(conn, client, config_path, log), daemon=True).start()


if __name__ == "__main__":
    main()
