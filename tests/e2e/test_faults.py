"""Faults between the plugin and a real API server: reads are retried and give the same report, a LIST whose
continue token expires starts again, what keeps failing ends in exit 3 naming the request, writes go out once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controlplane import ControlPlane
from faultproxy import Fault, FaultProxy
from load import create_many, own_controlplane
from test_plugin import plugin

from tests.conftest import FIXTURES, without_source

PAGED = "paged"  # 1,100 Services: three pages of 500
PAGED_SERVICES = 1100
WRITES = "faults-write"
# Every kind `svc -n app` lists: a fault on the first request of each.
LISTED = (
    "/namespaces/app/services$",
    "/namespaces/app/pods$",
    "/namespaces/app/endpointslices$",
    "/namespaces/app/events$",
    "/nodes$",
    "/kube-system/daemonsets$",
    "/kube-system/configmaps$",
)
TRANSIENT: dict[str, dict[str, Any]] = {
    "500": {"kind": "status", "status": 500},
    "502": {"kind": "status", "status": 502},
    "503": {"kind": "status", "status": 503},
    "504": {"kind": "status", "status": 504},
    "429": {"kind": "status", "status": 429, "retry_after": "0"},
    "reset": {"kind": "reset"},
    "truncated": {"kind": "truncate"},
    "undecodable": {"kind": "cut"},
}


@pytest.fixture(scope="module")
def fresh(kubectl: str) -> Iterator[ControlPlane]:
    """A control plane of its own: 1,100 Services and Services to patch would disturb other modules."""

    def setup(cp: ControlPlane) -> None:
        for ns in (PAGED, WRITES):
            cp.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        create_many(
            cp,
            f"/api/v1/namespaces/{PAGED}/services",
            [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"s{i:04d}", "namespace": PAGED},
                    "spec": {"selector": {"app": f"a{i}"}, "ports": [{"port": 80}]},
                }
                for i in range(PAGED_SERVICES)
            ],
        )

    with own_controlplane(kubectl, FIXTURES / "services.yaml", FIXTURES / "loopback.yaml", setup=setup) as cp:
        yield cp


@pytest.fixture
def proxy(fresh: ControlPlane) -> Iterator[FaultProxy]:
    with FaultProxy(fresh) as p:
        yield p


def through(proxy: FaultProxy, tmp_path: Path, *args: str, timeout: float = 120) -> Any:
    config = proxy.kubeconfig(tmp_path / f"proxy-{len(list(tmp_path.glob('proxy-*')))}.json")
    return plugin(proxy.cp, *args, "--kubeconfig", str(config), timeout=timeout)


def report(run: Any) -> dict[str, Any]:
    assert run.status in (0, 1), run.err
    return without_source(run.json())


@pytest.mark.parametrize("name", list(TRANSIENT))
def test_retried_reads_give_the_same_report(proxy: FaultProxy, tmp_path: Path, name: str) -> None:
    clean = through(proxy, tmp_path, "svc", "-n", "app", "-o", "json")
    direct = plugin(proxy.cp, "svc", "-n", "app", "-o", "json")
    assert report(clean) == report(direct)
    proxy.reset()
    proxy.add(*(Fault(path=p, **TRANSIENT[name]) for p in LISTED))
    run = through(proxy, tmp_path, "svc", "-n", "app", "-o", "json", "-v")
    assert report(run) == report(clean)
    assert run.status == clean.status
    for path in LISTED:
        sent = proxy.requests("GET", path)
        assert [r.fault for r in sent] == [TRANSIENT[name]["kind"], None], (path, sent)
    retries = [line for line in run.err.splitlines() if "retry 1 of" in line]
    assert len(retries) == len(LISTED), run.err
    assert proxy.cp.admin_token not in run.err + run.out


def test_retry_after_is_honoured(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.add(
        Fault("status", path="/nodes$", status=429, retry_after="2"),
        Fault("status", path="/kube-system/daemonsets$", status=503, retry_after="1"),
    )
    run = through(proxy, tmp_path, "loopback", "-n", "app", "-o", "json", "-v")
    assert run.status in (0, 1), run.err
    for path, wait in (("/nodes$", 2.0), ("/kube-system/daemonsets$", 1.0)):
        first, second = proxy.requests("GET", path)
        assert first.fault == "status" and second.fault is None
        assert wait - 0.05 <= second.at - first.at < wait + 1.5, (path, second.at - first.at)
    assert "in 2.00s (429 Too Many Requests" in run.err


@pytest.mark.parametrize("expired", [1, 2])
def test_expired_continue_token_restarts_the_list_and_covers_every_object(
    proxy: FaultProxy, tmp_path: Path, expired: int
) -> None:
    path = f"/namespaces/{PAGED}/services$"
    proxy.add(Fault("status", path=path, status=410, query="continue=", times=expired))
    run = through(proxy, tmp_path, "svc", "-n", PAGED, "--select", "TKE101", "-o", "json", "-v")
    doc = run.json()
    assert run.status == 1, run.err
    assert {f["name"] for f in doc["findings"]} == {f"s{i:04d}" for i in range(PAGED_SERVICES)}
    assert len(doc["findings"]) == PAGED_SERVICES
    pages = proxy.requests("GET", path)
    firsts = [r for r in pages if "continue=" not in r.query]
    assert len(firsts) == 1 + expired, [(r.query[:40], r.fault) for r in pages]
    assert len(pages) == 3 + 2 * expired  # each 410 costs the first page again and the page that expired
    assert run.err.count("listing again from the first page") == expired


def test_a_continue_token_that_keeps_expiring_ends_in_exit_3(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.add(Fault("status", path=f"/namespaces/{PAGED}/services$", status=410, query="continue=", times=0))
    run = through(proxy, tmp_path, "svc", "-n", PAGED, "--select", "TKE101", "-o", "json")
    assert run.status == 3 and run.out == ""
    assert run.err.count("\n") == 1
    assert run.err.startswith(
        f"error: GET /api/v1/namespaces/{PAGED}/services: the continue token expired (410 Gone) 3 times"
    ), run.err


PERSISTENT: dict[str, tuple[dict[str, Any], str]] = {
    "500": ({"kind": "status", "status": 500}, "500 Internal Server Error"),
    "503": ({"kind": "status", "status": 503}, "503 Service Unavailable"),
    "429": ({"kind": "status", "status": 429, "retry_after": "1"}, "429 Too Many Requests"),
    "reset": ({"kind": "reset"}, "the connection broke off"),
    "truncated": ({"kind": "truncate"}, "the connection broke off"),
    "undecodable": ({"kind": "cut"}, "the answer was cut off or is not JSON"),
}


@pytest.mark.parametrize("name", list(PERSISTENT))
def test_persistent_faults_end_in_exit_3_naming_the_request(proxy: FaultProxy, tmp_path: Path, name: str) -> None:
    fault, words = PERSISTENT[name]
    proxy.add(Fault(path="/namespaces/app/pods$", times=0, **fault))
    run = through(proxy, tmp_path, "svc", "-n", "app", "--request-timeout", "10s")
    assert run.status == 3 and run.out == ""
    assert run.err.count("\n") == 1, run.err
    assert run.err.startswith(f"error: GET /api/v1/namespaces/app/pods: {words}"), run.err
    assert run.seconds < 10 + 5
    assert 2 <= len(proxy.requests("GET", "/namespaces/app/pods$")) <= 5


def test_an_answer_later_than_the_request_timeout_ends_in_exit_3_within_it(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.add(Fault("delay", path="/namespaces/app/pods$", seconds=6, times=0))
    run = through(proxy, tmp_path, "svc", "-n", "app", "--request-timeout", "2s")
    assert run.status == 3 and run.err.count("\n") == 1
    assert run.err.startswith("error: GET /api/v1/namespaces/app/pods: the API server at https://127.0.0.1:")
    assert "did not answer within the request timeout (2s)" in run.err
    assert run.seconds < 2 + 4


def test_a_slow_answer_within_the_timeout_is_just_slow(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.add(Fault("delay", path="/namespaces/app/pods$", seconds=1))
    run = through(proxy, tmp_path, "svc", "-n", "app", "--request-timeout", "5s", "-o", "json")
    assert run.status in (0, 1) and len(proxy.requests("GET", "/namespaces/app/pods$")) == 1


def _internal_lb(cp: ControlPlane, name: str) -> str:
    cp.create(
        f"/api/v1/namespaces/{WRITES}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": WRITES,
                "annotations": {"service.kubernetes.io/qcloud-loadbalancer-internal-subnetid": "subnet-1a2b3c4d"},
            },
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]},
        },
    )
    return f"/api/v1/namespaces/{WRITES}/services/{name}"


def _annotated(cp: ControlPlane, path: str) -> bool:
    status, svc = cp.request("GET", path)
    assert status == 200, svc
    return "service.cloud.tencent.com/prevent-loopback" in (svc["metadata"].get("annotations") or {})


WRITE_FAULTS: dict[str, tuple[dict[str, Any], bool, str]] = {
    # (fault, does the write reach the server, words of the report)
    "503": ({"kind": "status", "status": 503}, False, "the API server refused the change (503)"),
    "reset": ({"kind": "reset"}, False, "may or may not have been applied"),
    "applied-then-reset": ({"kind": "drop"}, True, "may or may not have been applied"),
    "truncated": ({"kind": "truncate"}, True, "may or may not have been applied"),
}


@pytest.mark.parametrize("name", list(WRITE_FAULTS))
def test_a_patch_that_hits_a_fault_is_sent_once(proxy: FaultProxy, tmp_path: Path, name: str) -> None:
    fault, lands, words = WRITE_FAULTS[name]
    svc = f"w-{name}"
    path = _internal_lb(proxy.cp, svc)
    proxy.add(Fault(method="PATCH", path=f"/services/{svc}$", without="dryRun", times=0, **fault))
    run = through(
        proxy,
        tmp_path,
        "fix",
        "prevent-loopback",
        svc,
        "-n",
        WRITES,
        "--force",
        "--apply",
        "--backup-dir",
        str(tmp_path / "backups"),
        "-o",
        "json",
        "-v",
    )
    assert run.status == 1, run.err
    doc = run.json()
    [reason] = [r["reason"] for r in doc["refused"]]
    assert words in reason, reason
    writes = proxy.requests("PATCH", f"/services/{svc}$")
    assert [("dryRun" in r.query, r.fault) for r in writes] == [(True, None), (False, fault["kind"])], writes
    assert "retry" not in run.err.replace("dryRun", "")
    assert _annotated(proxy.cp, path) is lands
    # Whatever happened, running the action again shows what is left, and the backup is there to undo it.
    again = plugin(proxy.cp, "fix", "prevent-loopback", svc, "-n", WRITES, "--force", "-o", "json")
    assert len(again.json()["changes"]) == (0 if lands else 1)
    assert doc["backup"] and Path(doc["backup"]).is_file()


def test_reads_of_a_fix_are_retried_and_its_write_still_goes_once(proxy: FaultProxy, tmp_path: Path) -> None:
    svc = "w-reads"
    path = _internal_lb(proxy.cp, svc)
    proxy.add(
        Fault("status", path=f"/namespaces/{WRITES}/services$", status=503),
        Fault("reset", path="/kube-system/daemonsets$"),
    )
    run = through(
        proxy,
        tmp_path,
        "fix",
        "prevent-loopback",
        svc,
        "-n",
        WRITES,
        "--force",
        "--apply",
        "--backup-dir",
        str(tmp_path / "backups"),
        "-o",
        "json",
    )
    assert run.status == 0, run.err
    assert json.loads(run.out)["applied"] is True and _annotated(proxy.cp, path)
    assert len(proxy.requests("PATCH", f"/services/{svc}$", query="^(?!.*dryRun)")) == 1
