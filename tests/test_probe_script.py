"""probe.sh itself, under Debian's busybox sh and applets, against 127.0.0.1 listeners and a local dnsmasq.

Needs `busybox` and `dnsmasq` (Debian: apt-get install -y busybox dnsmasq-base); without them the tests fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.probe_tools import Dnsmasq, Full, Http, busybox_bin, free_port, lines, run_script

DNS_T, TCP_T, CLB_T = 1, 1, 6
TIMEOUTS = {"PROBE_DNS_TIMEOUT": str(DNS_T), "PROBE_TCP_TIMEOUT": str(TCP_T), "PROBE_CLB_TIMEOUT": str(CLB_T)}


@pytest.fixture(scope="module")
def bindir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_bin(tmp_path_factory.mktemp("busybox") / "bin")


@pytest.fixture(scope="module")
def dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dnsmasq]:
    server = Dnsmasq(tmp_path_factory.mktemp("dnsmasq") / "log", {"web.app.svc.cluster.local": "10.0.0.10"})
    yield server
    server.close()


def run(
    bindir: Path, out: Path, *tests: str, dns_port: int | None = None, shell: str | None = None
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    env = dict(TIMEOUTS)
    if dns_port is not None:
        env |= {"PROBE_DNS_SERVER": "127.0.0.1", "PROBE_DNS_PORT": str(dns_port)}
    done, message = run_script(bindir, out, list(tests), env, shell=shell)
    return done, lines(message)


@dataclass(frozen=True)
class Case:
    name: str
    test: str  # with {answer} {refuse} {full} {silent} {slow} {e503} {e404} for the listeners' ports
    expected: dict[str, Any]  # the line without "n" and "ms"
    ms: tuple[int, int]  # inclusive range


FAST = (0, 900)
CASES = [
    Case(
        "dns resolves",
        "dns web.app.svc.cluster.local",
        {"check": "dns", "target": "web.app.svc.cluster.local", "ok": True, "address": "10.0.0.10"},
        FAST,
    ),
    Case(
        "dns trailing dot",
        "dns web.app.svc.cluster.local.",
        {"check": "dns", "target": "web.app.svc.cluster.local", "ok": True, "address": "10.0.0.10"},
        FAST,
    ),
    Case(
        "dns fails",
        "dns nope.app.svc.cluster.local",
        {"check": "dns", "target": "nope.app.svc.cluster.local", "ok": False, "error": "NXDOMAIN"},
        FAST,
    ),
    Case(
        "dns times out",
        "dns x.slow.svc.cluster.local",
        {"check": "dns", "target": "x.slow.svc.cluster.local", "ok": False, "error": "timeout"},
        (DNS_T * 1000 - 100, DNS_T * 1000 + 1500),
    ),
    Case("tcp answers", "tcp 127.0.0.1 {answer}", {"check": "tcp", "target": "127.0.0.1:{answer}", "ok": True}, FAST),
    Case(
        "tcp answers, app silent",
        "tcp 127.0.0.1 {silent}",
        {"check": "tcp", "target": "127.0.0.1:{silent}", "ok": True},
        FAST,
    ),
    Case(
        "tcp refused",
        "tcp 127.0.0.1 {refuse}",
        {"check": "tcp", "target": "127.0.0.1:{refuse}", "ok": False, "error": "refused"},
        FAST,
    ),
    Case(
        "tcp hangs",
        "tcp 127.0.0.1 {full}",
        {"check": "tcp", "target": "127.0.0.1:{full}", "ok": False, "error": "timeout"},
        (TCP_T * 1000 - 100, TCP_T * 1000 + 1500),
    ),
    Case(
        "clb tcp answers", "clb 127.0.0.1 {answer}", {"check": "clb", "target": "127.0.0.1:{answer}", "ok": True}, FAST
    ),
    Case(
        "clb tcp hangs",
        "clb 127.0.0.1 {full}",
        {"check": "clb", "target": "127.0.0.1:{full}", "ok": False, "error": "timeout"},
        (CLB_T * 1000 - 100, CLB_T * 1000 + 1500),
    ),
    Case(
        "http answers",
        "http 127.0.0.1 {answer} shop.example.com /api",
        {
            "check": "http",
            "target": "127.0.0.1:{answer}",
            "host": "shop.example.com",
            "path": "/api",
            "ok": True,
            "status": 200,
        },
        FAST,
    ),
    Case(
        "http answers after 4 s",
        "http 127.0.0.1 {slow} shop.example.com /",
        {
            "check": "http",
            "target": "127.0.0.1:{slow}",
            "host": "shop.example.com",
            "path": "/",
            "ok": True,
            "status": 200,
        },
        (3950, 5500),
    ),
    Case(
        "http hangs",
        "http 127.0.0.1 {silent} shop.example.com /",
        {
            "check": "http",
            "target": "127.0.0.1:{silent}",
            "host": "shop.example.com",
            "path": "/",
            "ok": False,
            "error": "timeout",
        },
        (CLB_T * 1000 - 100, CLB_T * 1000 + 1500),
    ),
    Case(
        "http refused",
        "http 127.0.0.1 {refuse} - /",
        {"check": "http", "target": "127.0.0.1:{refuse}", "host": "", "path": "/", "ok": False, "error": "refused"},
        FAST,
    ),
    Case(
        "http 503 fails",
        "http 127.0.0.1 {e503} shop.example.com /",
        {
            "check": "http",
            "target": "127.0.0.1:{e503}",
            "host": "shop.example.com",
            "path": "/",
            "ok": False,
            "status": 503,
            "error": "HTTP 503",
        },
        FAST,
    ),
    Case(
        "http 404 answers",
        "http 127.0.0.1 {e404} - /x",
        {"check": "http", "target": "127.0.0.1:{e404}", "host": "", "path": "/x", "ok": True, "status": 404},
        FAST,
    ),
    Case("unknown test", "ping 127.0.0.1", {"check": "ping", "ok": False, "error": "unknown test"}, FAST),
]


@dataclass
class Ran:
    ports: dict[str, int]
    lines: list[dict[str, Any]]
    stderr: str
    seconds: float
    servers: dict[str, Http]


@pytest.fixture(scope="module")
def ran(bindir: Path, dns: Dnsmasq, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    """Every case in one run of the script, as a probe Pod runs them: eight at a time."""
    servers = {
        "answer": Http(200),
        "silent": Http(None),
        "slow": Http(200, delay=4),
        "e503": Http(503),
        "e404": Http(404),
    }
    full = Full()
    ports = {name: s.port for name, s in servers.items()} | {"full": full.port, "refuse": free_port()}
    out = tmp_path_factory.mktemp("probe") / "termination-log"
    out.write_text("stale content from an earlier run\n")
    started = time.monotonic()
    try:
        done, found = run(bindir, out, *(c.test.format(**ports) for c in CASES), dns_port=dns.port)
        yield Ran(ports, found, done.stderr, time.monotonic() - started, servers)
    finally:
        for s in servers.values():
            s.close()
        full.close()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_gives_its_json_line(ran: Ran, case: Case) -> None:
    n = CASES.index(case) + 1
    mine = [line for line in ran.lines if line.get("n") == n]
    assert len(mine) == 1, (ran.lines, ran.stderr)
    line = mine[0]
    expected = {k: v.format(**ran.ports) if isinstance(v, str) else v for k, v in case.expected.items()}
    assert {k: v for k, v in line.items() if k not in ("n", "ms")} == expected
    assert isinstance(line["ms"], int) and case.ms[0] <= line["ms"] <= case.ms[1], line


def test_every_line_is_json_and_the_run_ends_with_a_summary(ran: Ran) -> None:
    assert [line for line in ran.lines if line.get("check") == "end"] == [ran.lines[-1]]
    end = ran.lines[-1]
    assert end["tests"] == len(CASES)
    assert sorted(line["n"] for line in ran.lines[:-1]) == list(range(1, len(CASES) + 1))
    # Eight tests at a time: the slowest of each batch sets the pace, not the sum of the timeouts.
    assert end["ms"] < 2 * (CLB_T * 1000 + 1500) and ran.seconds < 20, (end, ran.seconds)


def test_the_output_file_is_started_afresh(ran: Ran) -> None:
    assert all("stale" not in json.dumps(line) for line in ran.lines)


def test_http_sends_the_host_header_and_path(ran: Ran) -> None:
    requests = ran.servers["answer"].requests
    assert any(r.startswith("GET /api HTTP/1.1\r\n") and "\r\nHost: shop.example.com\r\n" in r for r in requests)
    no_host = ran.servers["e404"].requests
    assert any(f"\r\nHost: 127.0.0.1:{ran.ports['e404']}\r\n" in r for r in no_host), no_host


def test_posix_sh_runs_it_too(bindir: Path, tmp_path: Path) -> None:
    """dash, Debian's /bin/sh, knows only POSIX: the script must not lean on busybox ash's extensions."""
    dash = shutil.which("dash")
    if dash is None:
        pytest.skip("dash is not installed")
    server = Http(200)
    try:
        done, found = run(
            bindir,
            tmp_path / "out",
            f"tcp 127.0.0.1 {server.port}",
            f"http 127.0.0.1 {server.port} a.example /",
            f"tcp 127.0.0.1 {free_port()}",
            shell=dash,
        )
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    by_n = {line.get("n"): line for line in found}
    assert by_n[1]["ok"] is True and by_n[2]["status"] == 200 and by_n[3]["error"] == "refused"
    assert found[-1] == {"check": "end", "tests": 3, "ms": found[-1]["ms"]}
