"""What the probe tests run the real probe.sh with: busybox applets, 127.0.0.1 listeners and a local dnsmasq.

Needs `busybox` and `dnsmasq` (Debian: apt-get install -y busybox dnsmasq-base); without them the tests fail.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(str(resources.files("kubectl_tke_net.probe").joinpath("probe.sh")))
APPLETS = ("sh", "nslookup", "nc", "wget", "timeout", "sed", "tr", "cut", "head", "tail", "grep", "date", "true", "cat")
INSTALL = "apt-get install -y busybox dnsmasq-base"


def require(tool: str) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"{tool} is not installed; the probe script is tested with it: {INSTALL}", pytrace=False)
    return path


def busybox_bin(directory: Path) -> Path:
    """A PATH of busybox applets only, so that no GNU tool stands in for busybox's."""
    busybox = require("busybox")
    directory.mkdir(parents=True, exist_ok=True)
    for applet in APPLETS:
        (directory / applet).symlink_to(busybox)
    return directory


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Http:
    """An HTTP listener on 127.0.0.1 that answers `code` after `delay` seconds, or never (code None)."""

    def __init__(self, code: int | None = 200, delay: float = 0.0) -> None:
        self.code, self.delay = code, delay
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self.requests: list[str] = []
        self.held: list[socket.socket] = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(30)
            data = conn.recv(4096)
            if data:
                self.requests.append(data.decode("latin-1"))
            if self.code is None:
                self.held.append(conn)  # accepted, never answered
                return
            time.sleep(self.delay)
            conn.sendall(f"HTTP/1.1 {self.code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode())
            conn.close()
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


class Full:
    """A TCP port whose accept queue is full: the kernel drops new SYNs, so that a connect hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port: int = self.sock.getsockname()[1]
        self.fillers: list[socket.socket] = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                c.connect(("127.0.0.1", self.port))
            self.fillers.append(c)
        time.sleep(0.2)

    def close(self) -> None:
        for c in [*self.fillers, self.sock]:
            c.close()


class Dnsmasq:
    """dnsmasq on a loopback port: `names` resolve, other names in cluster.local are NXDOMAIN, and names in
    slow.svc.cluster.local go to an upstream that never answers (a timeout)."""

    def __init__(self, log: Path, names: dict[str, str]) -> None:
        dnsmasq = require("dnsmasq")
        self.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.silent.bind(("127.0.0.1", 0))
        records = [f"--address=/{name}/{address}" for name, address in names.items()]
        for _attempt in range(5):
            self.port = free_port(socket.SOCK_DGRAM)
            with open(log, "wb") as out:
                self.proc = subprocess.Popen(
                    [
                        dnsmasq,
                        "--keep-in-foreground",
                        "--conf-file=/dev/null",
                        f"--port={self.port}",
                        "--listen-address=127.0.0.1",
                        "--bind-interfaces",
                        "--no-resolv",
                        "--no-hosts",
                        "--pid-file=",
                        *records,
                        "--local=/cluster.local/",
                        f"--server=/slow.svc.cluster.local/127.0.0.1#{self.silent.getsockname()[1]}",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + 10
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()  # it serves TCP too
                    return
                except OSError:
                    time.sleep(0.05)
            self._stop()  # another try on another port; the silent upstream stays open for it
        self.silent.close()
        pytest.fail(f"dnsmasq did not start: {log.read_text()}", pytrace=False)

    def _stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        self._stop()
        self.silent.close()


def run_script(
    bindir: Path,
    out: Path,
    tests: list[str],
    env: dict[str, str] | None = None,
    *,
    shell: str | None = None,
    script: str | None = None,
    timeout: float = 120,
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run probe.sh (or `script`) as a probe Pod does, `sh -c SCRIPT tke-net-probe TEST...`; (process, message)."""
    full_env = {"PATH": str(bindir), "PROBE_OUT": str(out), **(env or {})}
    text = SCRIPT.read_text() if script is None else script
    done = subprocess.run(
        [shell or str(bindir / "sh"), "-c", text, "tke-net-probe", *tests],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done, out.read_text() if out.exists() else ""


def lines(message: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in message.splitlines()]
