"""A TCP relay: listens inside a network namespace, connects from the host's (the API server on 127.0.0.1).

    python relay.py NETNS_PATH LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT

The node namespaces have no route toward the host; this is their only way out, to one address and port.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/e2e: this folder is the package datapath

from datapath.netns import Entered


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _serve(conn: socket.socket, target: tuple[str, int]) -> None:
    try:
        out = socket.create_connection(target, timeout=10)
    except OSError:
        conn.close()
        return
    out.settimeout(None)
    threading.Thread(target=_pipe, args=(out, conn), daemon=True).start()
    _pipe(conn, out)
    conn.close()
    out.close()


def main() -> None:
    netns, host, port, target_host, target_port = sys.argv[1:6]
    with Entered(netns):  # the listening socket belongs to the namespace it was made in
        listener = socket.create_server((host, int(port)), backlog=128)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve, args=(conn, (target_host, int(target_port))), daemon=True).start()


if __name__ == "__main__":
    main()
