"""Many clusters and the report engines on a real API server.

Fleet: contexts that point at the same real kube-apiserver with different credentials (admin; viewer, whom RBAC
lets read one namespace only, so `svc -A` is forbidden), one unreachable address and one that never answers.
Reports: the published PolicyReport and OpenReports CRDs (fetched through the Go module proxy, reportcrds.py),
written twice by --write-reports under the least-privilege roles of deploy/rbac/, replaced, never piled up.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import reportcrds
from controlplane import ControlPlane, ControlPlaneError, free_port
from load import load
from prometheus_client.parser import text_string_to_metric_families
from test_plugin import FIXTURES, ROOT, plugin

from tests.conftest import without_source

REPORTER = ("--as=reporter",)  # bound to the read-only and the report-writing roles (`live`); reader: read-only


@pytest.fixture(scope="module")
def live(kubectl: str) -> Iterator[ControlPlane]:
    """A control plane of its own (reports are written to it): fixtures loaded, the published report CRDs and
    the plugin's read-only and report-writing roles installed."""
    cp = ControlPlane()
    try:
        cp.start()
        load(cp, kubectl, FIXTURES / "services.yaml", FIXTURES / "loopback.yaml")
        reportcrds.install(cp, reportcrds.KYVERNO, reportcrds.OPENREPORTS)
    except ControlPlaneError as exc:
        cp.stop()
        pytest.fail(f"the e2e control plane could not be set up: {exc}", pytrace=False)
    import subprocess

    for name in ("read-only.yaml", "write-reports.yaml"):
        done = subprocess.run(
            [kubectl, "apply", "-f", str(ROOT / "deploy" / "rbac" / name)],
            env=cp.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    for user, roles in (
        ("reporter", ("tke-net-read-only", "tke-net-write-reports")),
        ("reader", ("tke-net-read-only",)),
    ):
        subject = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
        for role in roles:
            ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}
            binding: dict[str, Any] = {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"{user}-{role}"},
                "roleRef": ref,
            }
            cp.create(f"{rbac}/clusterrolebindings", {**binding, "subjects": subject})
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"{user}-kube-system", "namespace": "kube-system"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tke-net-read-kube-system"},
            "subjects": subject,
        }
        cp.create(f"{rbac}/namespaces/kube-system/rolebindings", binding)
    yield cp
    cp.stop()


def _fleet_kubeconfig(cp: ControlPlane, path: Path, silent_port: int) -> Path:
    config = json.loads(cp.kubeconfig.read_text())
    base = config["clusters"][0]["cluster"]
    config["clusters"] += [
        {"name": "gone", "cluster": {**base, "server": f"https://127.0.0.1:{free_port()}"}},
        {"name": "silent", "cluster": {**base, "server": f"https://127.0.0.1:{silent_port}"}},
    ]
    config["contexts"] += [
        {"name": "gone", "context": {"cluster": "gone", "user": "admin"}},
        {"name": "silent", "context": {"cluster": "silent", "user": "admin"}},
    ]
    path.write_text(json.dumps(config))
    return path


def test_fleet_of_real_credentials_and_dead_servers(live: ControlPlane, tmp_path: Path) -> None:
    listener = socket.socket()  # accepts connections, never answers: a hung API server
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        config = _fleet_kubeconfig(live, tmp_path / "fleet.json", listener.getsockname()[1])
        run = plugin(
            live, "svc", "-A", "--kubeconfig", str(config), "--all-contexts", "--request-timeout", "3s", "-o", "json"
        )
        table = plugin(live, "svc", "-A", "--kubeconfig", str(config), "--context", "admin,viewer,gone")
    finally:
        listener.close()
    assert run.status == 3, run.err
    clusters = {c["context"]: c for c in run.json()["clusters"]}
    assert list(clusters) == ["admin", "gone", "silent", "viewer"]  # --all-contexts: sorted, as kubectl lists them
    assert {k: c["status"] for k, c in clusters.items()} == {
        "admin": "ok",
        "viewer": "forbidden",
        "gone": "unreachable",
        "silent": "unreachable",
    }
    single = plugin(live, "svc", "-A", "-o", "json")
    assert single.status == 1
    assert without_source(clusters["admin"]["report"]) == without_source(single.json())
    assert 'User \\"viewer\\" cannot list resource \\"services\\"' in json.dumps(clusters["viewer"]["error"])
    assert "cannot reach the API server" in clusters["gone"]["error"]
    assert "did not answer within the request timeout (3s)" in clusters["silent"]["error"]
    # The hung server held its own run for one request timeout; the whole run stayed well under one per kind.
    assert run.seconds < 15, run.seconds
    for token in (live.admin_token, live.viewer_token):
        assert token not in run.out + run.err + table.out + table.err
    assert table.status == 3
    assert "=== context viewer (cluster e2e): forbidden ===" in table.out
    assert "Summary:" in table.out and "unreachable" in table.out.split("Summary:")[1]


def _reports(cp: ControlPlane, path: str) -> list[dict[str, Any]]:
    status, body = cp.request("GET", path)
    assert status == 200, body
    return [
        r for r in body["items"] if r["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "kubectl-tke-net"
    ]


@pytest.mark.parametrize(
    ("api", "namespaced", "cluster"),
    [
        (
            "wgpolicyk8s",
            "/apis/wgpolicyk8s.io/v1alpha2/policyreports",
            "/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports",
        ),
        ("openreports", "/apis/openreports.io/v1alpha1/reports", "/apis/openreports.io/v1alpha1/clusterreports"),
    ],
)
def test_write_reports_twice_replaces_them(live: ControlPlane, api: str, namespaced: str, cluster: str) -> None:
    first = plugin(live, "svc", "-A", "--write-reports", "--report-api", api, "-o", "json", *REPORTER)
    assert first.status == 1, first.err
    findings = first.json()["findings"]
    reports = _reports(live, namespaced)
    by_ns: dict[str, int] = {}
    for f in findings:
        if f["namespace"]:
            by_ns[f["namespace"]] = by_ns.get(f["namespace"], 0) + 1
    assert {r["metadata"]["namespace"]: len(r["results"]) for r in reports} == by_ns
    for r in reports:
        assert r["metadata"]["name"] == "tke-net-service"
        assert {m["manager"] for m in r["metadata"]["managedFields"]} == {"kubectl-tke-net"}
        assert {m["operation"] for m in r["metadata"]["managedFields"]} == {"Apply"}
        assert r["summary"]["fail"] + r["summary"]["warn"] == len(r["results"])
        codes = {(x["policy"], x["resources"][0]["name"]) for x in r["results"]}
        ns = r["metadata"]["namespace"]
        assert codes == {(f["code"], f["name"]) for f in findings if f["namespace"] == ns}
    assert len(_reports(live, cluster)) == 1
    assert "reports: applied" in first.err

    # Clean one namespace (delete its Services), run again: its report goes, the others are replaced, not grown.
    gone = sorted(by_ns)[0]
    _status, body = live.request("GET", f"/api/v1/namespaces/{gone}/services")
    for svc in body["items"]:
        live.request("DELETE", f"/api/v1/namespaces/{gone}/services/{svc['metadata']['name']}")
    try:
        second = plugin(live, "svc", "-A", "--write-reports", "--report-api", api, "-o", "json", *REPORTER)
        assert second.status in (0, 1), second.err
        after = {r["metadata"]["namespace"]: r for r in _reports(live, namespaced)}
        assert gone not in after
        assert f"removed {'PolicyReport' if api == 'wgpolicyk8s' else 'Report'}/{gone}/tke-net-service" in second.err
        expected = {
            ns: n
            for ns, n in by_ns.items()
            if ns != gone and any(f["namespace"] == ns for f in second.json()["findings"])
        }
        assert {ns: len(r["results"]) for ns, r in after.items()} == expected
        assert len(_reports(live, cluster)) == 1
    finally:
        for svc in body["items"]:
            obj = {k: v for k, v in svc.items() if k != "status"}
            obj["metadata"] = {
                k: v for k, v in svc["metadata"].items() if k in ("name", "namespace", "labels", "annotations")
            }
            obj["spec"] = {k: v for k, v in svc["spec"].items() if k not in ("clusterIP", "clusterIPs")}
            live.request("POST", f"/api/v1/namespaces/{gone}/services", obj)


def test_write_reports_needs_its_role(live: ControlPlane) -> None:
    run = plugin(live, "svc", "-A", "--write-reports", "--as=reader")
    assert run.status == 3 and "grant the role of deploy/rbac/write-reports.yaml" in run.err
    assert run.err.count("\n") == 1


def test_prometheus_of_the_live_cluster(live: ControlPlane, tmp_path: Path) -> None:
    metrics = tmp_path / "tke-net.prom"
    run = plugin(live, "loopback", "-A", "-o", "prometheus", "--metrics-file", str(metrics))
    assert run.status == 1, run.err
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    assert {s.labels["cluster"] for s in families["tke_net_findings"].samples} == {"e2e"}
    report = plugin(live, "loopback", "-A", "-o", "json").json()
    assert {(s.labels["code"], s.labels["name"]) for s in families["tke_net_findings"].samples} == {
        (f["code"], f["name"]) for f in report["findings"]
    }
    assert families["tke_net_run_timestamp_seconds"].samples[0].value > 0


def test_cronjob_is_accepted_and_its_service_account_can_run_it(
    live: ControlPlane, kubectl: str, tmp_path: Path
) -> None:
    """deploy/cronjob/ on the real API server: applied with the real kubectl, its Job created from the CronJob's
    template as `kubectl create job --from=cronjob/...` does (this control plane has no kube-controller-manager to
    start it on schedule, nor a kubelet to run it: tests/e2e/datapath has those), and the CronJob's own arguments
    run as its service account (impersonated) with exactly the roles deploy/cronjob binds."""
    import subprocess

    def kubectl_ok(*args: str) -> str:
        done = subprocess.run([kubectl, *args], env=live.env(), capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    kubectl_ok("apply", "-f", str(ROOT / "deploy" / "cronjob"))
    kubectl_ok("create", "job", "-n", "tke-net", "--from=cronjob/tke-net", "tke-net-now")
    job = json.loads(kubectl_ok("get", "job", "-n", "tke-net", "tke-net-now", "-o", "json"))
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "tke-net"
    (container,) = pod["containers"]
    args = [str(tmp_path / "tke-net.prom") if a == "/textfile/tke-net.prom" else a for a in container["args"]]
    run = plugin(live, *args, "--as=system:serviceaccount:tke-net:tke-net")
    assert run.status == 0, run.err
    assert "reports: applied" in run.err
    assert text_string_to_metric_families((tmp_path / "tke-net.prom").read_text())
    reports = _reports(live, "/apis/wgpolicyk8s.io/v1alpha2/policyreports")
    assert reports and all(r["metadata"]["name"] == "tke-net-service" for r in reports)
