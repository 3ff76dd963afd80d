"""Snapshots and cluster reads: every kind once per run, every page of a paginated LIST."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubectl_tke_net.checks.catalog import run, selected
from kubectl_tke_net.facts import Context
from kubectl_tke_net.kinds import KINDS, Kind
from kubectl_tke_net.model import AccessError, Unavailable
from kubectl_tke_net.snapshot import Snapshot
from kubectl_tke_net.sources.cluster import Cluster, parse_duration
from kubectl_tke_net.sources.files import FileSource
from tests.conftest import fixture, kubeconfig


class Counting:
    """A Source that counts LISTs per kind."""

    def __init__(self, inner: FileSource) -> None:
        self.inner = inner
        self.calls: dict[str, int] = {}

    def list(self, kind: Kind, namespace: str | None) -> list[dict[str, Any]]:
        self.calls[kind.name] = self.calls.get(kind.name, 0) + 1
        return self.inner.list(kind, namespace)


@pytest.mark.parametrize("command", ["service", "ingress", "loopback"])
def test_each_kind_is_listed_at_most_once(command: str) -> None:
    source = Counting(FileSource(fixture("services")))
    ctx = Context(Snapshot(source, None))
    run(ctx, selected(command, (), ()))
    from kubectl_tke_net import report

    report.cluster_facts(ctx)
    assert source.calls and max(source.calls.values()) == 1


class Parallel(Counting):
    """A Source read side by side (like Cluster); `fail` maps a kind to what its LIST raises."""

    parallel_reads = 4

    def __init__(self, inner: FileSource, fail: dict[str, Exception] | None = None) -> None:
        super().__init__(inner)
        import threading

        self.fail = fail or {}
        self.threads: set[str] = set()
        self.lock = threading.Lock()
        # The first two LISTs wait for each other: read one after the other, they would wait in vain.
        self.together = threading.Barrier(2, timeout=10)
        self.waited = 0

    def list(self, kind: Kind, namespace: str | None) -> list[dict[str, Any]]:
        import threading

        with self.lock:
            first_two = self.waited < 2
            self.waited += 1
        if first_two:
            self.together.wait()
        with self.lock:
            self.threads.add(threading.current_thread().name)
            result = super().list(kind, namespace)
        if kind.name in self.fail:
            raise self.fail[kind.name]
        return result


@pytest.mark.parametrize("command", ["service", "ingress", "loopback"])
def test_prefetch_reads_exactly_the_kinds_a_run_reads_once_each_side_by_side(command: str) -> None:
    from kubectl_tke_net import report

    def kinds_read(source: Counting, prefetch: bool) -> dict[str, int]:
        ctx = Context(Snapshot(source, None))
        ctx.command = command  # as cmd_diagnose sets it
        chosen = selected(command, (), ())
        if prefetch:
            ctx.snap.prefetch([k for c in chosen for k in c.kinds(command)] + list(report.FACT_KINDS))
        result = run(ctx, chosen)
        doc = report.build(command, {}, ctx, result)
        return {"calls": source.calls, "doc": doc}  # type: ignore[dict-item]

    one_by_one = kinds_read(Counting(FileSource(fixture("services"))), prefetch=False)
    parallel = Parallel(FileSource(fixture("services")))
    side_by_side = kinds_read(parallel, prefetch=True)
    assert side_by_side == one_by_one
    assert len(parallel.threads) > 1 and all(t.startswith("list") for t in parallel.threads)


def test_prefetch_keeps_failures_for_when_the_kind_is_read() -> None:
    boom = AccessError("GET /api/v1/pods: 503 Service Unavailable, 5 attempts")
    source = Parallel(
        FileSource(fixture("services")), fail={"pods": boom, "secrets": Unavailable("secrets", "forbidden: no")}
    )
    snap = Snapshot(source, None)
    snap.prefetch(["services", "pods", "secrets", "nodes"])
    assert source.calls == {"services": 1, "pods": 1, "secrets": 1, "nodes": 1}
    assert snap.list("services") and snap.list("nodes") is not None
    with pytest.raises(Unavailable, match="forbidden: no"):
        snap.list("secrets")
    with pytest.raises(AccessError) as raised:
        snap.list("pods")
    assert raised.value is boom
    snap.prefetch(["services", "secrets"])  # nothing read twice
    assert source.calls == {"services": 1, "pods": 1, "secrets": 1, "nodes": 1}


def test_prefetch_of_a_file_reads_nothing_ahead() -> None:
    source = Counting(FileSource(fixture("services")))
    Snapshot(source, None).prefetch(["services", "pods"])
    assert source.calls == {}


def pages(items: int, size: int) -> list[dict[str, Any]]:
    chunks = [list(range(i, min(i + size, items))) for i in range(0, items, size)]
    return [
        {
            "items": [{"metadata": {"name": f"s{n}", "namespace": "x"}} for n in chunk],
            "metadata": {"continue": f"t{i + 1}" if i + 1 < len(chunks) else ""},
        }
        for i, chunk in enumerate(chunks)
    ]


def fake_cluster(responses: list[tuple[int, Any]], seen: list[dict[str, str]]) -> Cluster:
    cluster = Cluster.__new__(Cluster)

    def request(method: str, path: str, query: dict[str, str] | None = None, **_: Any) -> tuple[int, Any]:
        seen.append(dict(query or {}))
        return responses.pop(0)

    cluster.request = request  # type: ignore[method-assign]
    return cluster


def test_pagination_returns_every_object() -> None:
    seen: list[dict[str, str]] = []
    cluster = fake_cluster([(200, p) for p in pages(1234, 500)], seen)
    items = cluster.list(KINDS["services"], None)
    assert len(items) == 1234 and items[-1]["metadata"]["name"] == "s1233"
    assert [q.get("continue") for q in seen] == [None, "t1", "t2"]
    assert all(q["limit"] == "500" for q in seen)


def test_forbidden_and_missing_api_are_unavailable() -> None:
    cluster = fake_cluster([(403, {"message": 'secrets is forbidden: User "v" cannot list'})], [])
    with pytest.raises(Unavailable, match="forbidden: secrets is forbidden"):
        cluster.list(KINDS["secrets"], "shop")
    cluster = fake_cluster([(404, {})], [])
    with pytest.raises(Unavailable, match="not served"):
        cluster.list(KINDS["tkeserviceconfigs"], "shop")
    cluster = fake_cluster([(500, {"message": "etcdserver: request timed out"})], [])
    with pytest.raises(AccessError, match="500 etcdserver"):
        cluster.list(KINDS["pods"], "shop")


def test_warning_events_use_a_field_selector() -> None:
    seen: list[dict[str, str]] = []
    fake_cluster([(200, {"items": [], "metadata": {}})], seen).list(KINDS["events"], "shop")
    assert seen[0]["fieldSelector"] == "type=Warning"


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("1m", 60), ("1m30s", 90), ("0", None), ("500ms", 0.5), ("2", 2), ("1h", 3600)]
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10x", "1m 2s"])
def test_bad_duration(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_ctrl_c_ends_a_run_whose_lists_never_answer(tmp_path: Path) -> None:
    """Lists run side by side on daemon threads: Ctrl-C ends the run at once (exit 130, one line) even with
    --request-timeout 0 and an API server that accepts connections and never answers."""
    import signal
    import socket
    import subprocess
    import sys
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    arrived = threading.Semaphore(0)

    def accept() -> None:
        while True:
            try:
                conn, _addr = server.accept()
            except OSError:
                return
            held.append(conn)
            arrived.release()

    threading.Thread(target=accept, daemon=True).start()
    config = kubeconfig(tmp_path, f"http://127.0.0.1:{server.getsockname()[1]}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubectl_tke_net", "svc", "--kubeconfig", str(config), "--request-timeout", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(2):  # two LISTs in flight at once: the prefetch is running
            assert arrived.acquire(timeout=60), "the plugin never connected"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)  # without daemon threads it waits for the LISTs forever
    finally:
        proc.kill()
        server.close()
        for conn in held:
            conn.close()
    assert (proc.returncode, out) == (130, "") and err.endswith("interrupted\n") and err.count("\n") == 1, err
