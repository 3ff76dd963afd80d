"""The engines a cluster already runs (SPEC 9.5): -o policyreport (and --report-api openreports), --write-reports
against a stub API server (server-side apply, stale reports deleted), -o prometheus and --metrics-file (parsed with
prometheus_client's own parser), and the in-cluster CronJob of deploy/cronjob/."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from prometheus_client.parser import text_string_to_metric_families

from kubectl_tke_net.cli import build_parser
from tests.conftest import CLI, FIXTURES
from tests.stubserver import Answer, serve
from tests.test_fleet import EXAMPLES, cluster_route

DEMO = str(EXAMPLES / "demo-cluster.yaml")
ROOT = Path(__file__).resolve().parents[1]


def test_policyreport_one_per_namespace_and_a_cluster_report(cli: CLI) -> None:
    report = cli("svc", "-A", "--snapshot", DEMO, "-o", "json").json()
    run = cli("svc", "-A", "--snapshot", DEMO, "-o", "policyreport")
    assert run.status == 1  # the same exit status as the report's
    doc = yaml.safe_load(run.out)
    assert doc["kind"] == "List"
    items = doc["items"]
    namespaced = [i for i in items if i["kind"] == "PolicyReport"]
    clusters = [i for i in items if i["kind"] == "ClusterPolicyReport"]
    assert len(clusters) == 1 and "namespace" not in clusters[0]["metadata"]
    assert {i["apiVersion"] for i in items} == {"wgpolicyk8s.io/v1alpha2"}
    assert {i["metadata"]["namespace"] for i in namespaced} == {
        f["namespace"] for f in report["findings"] if f["namespace"]
    }
    results = [
        (r["policy"], r["resources"][0]["namespace"], r["resources"][0]["name"])
        for i in namespaced
        for r in i["results"]
    ]
    assert sorted(results) == sorted(
        (f["code"], f["namespace"], f["name"]) for f in report["findings"] if f["namespace"]
    )
    for item in namespaced:
        assert item["metadata"]["name"] == "tke-net-service"
        assert item["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "kubectl-tke-net",
            "tke-net.kubectl.io/command": "service",
        }
        for r in item["results"]:
            assert r["source"] == "kubectl-tke-net"
            sev = r["properties"]["tke-net/severity"]
            assert r["result"] == ("fail" if sev == "error" else "warn")
            assert r["severity"] in ("critical", "high", "medium", "low", "info")
            assert set(r["timestamp"]) == {"seconds", "nanos"}
            assert all(isinstance(v, str) for v in r["properties"].values())
        s = item["summary"]
        assert s["fail"] + s["warn"] == len(item["results"]) and s["pass"] == s["error"] == s["skip"] == 0


def test_skipped_checks_are_skip_results_of_the_cluster_report(cli: CLI) -> None:
    restricted = str(FIXTURES / "ingress-restricted.yaml")
    report = cli("ingress", "-A", "--snapshot", restricted, "-o", "json").json()
    assert report["skipped"]
    doc = yaml.safe_load(cli("ingress", "-A", "--snapshot", restricted, "-o", "policyreport").out)
    cluster = next(i for i in doc["items"] if i["kind"] == "ClusterPolicyReport")
    skips = [r for r in cluster["results"] if r["result"] == "skip"]
    assert {r["policy"] for r in skips} == {c for s in report["skipped"] for c in s["codes"]}
    assert cluster["summary"]["skip"] == len(skips)


def test_openreports_has_the_same_content(cli: CLI) -> None:
    wg = yaml.safe_load(cli("svc", "-A", "--snapshot", DEMO, "-o", "policyreport").out)["items"]
    orp = yaml.safe_load(cli("svc", "-A", "--snapshot", DEMO, "-o", "policyreport", "--report-api", "openreports").out)
    items = orp["items"]
    assert [i["kind"] for i in items] == ["Report"] * (len(items) - 1) + ["ClusterReport"]
    assert {i["apiVersion"] for i in items} == {"openreports.io/v1alpha1"}
    assert all(i["source"] == "kubectl-tke-net" for i in items)

    def strip(i: dict[str, Any]) -> Any:
        return (i["metadata"], i["summary"], [{k: v for k, v in r.items() if k != "timestamp"} for r in i["results"]])

    assert [strip(i) for i in items] == [strip(i) for i in wg]


def test_report_flags_that_cannot_go_together(cli: CLI) -> None:
    run = cli("svc", "-A", "--snapshot", DEMO, "--write-reports")
    assert run.status == 2 and "--write-reports needs a cluster" in run.err
    run = cli("svc", "-A", "--snapshot", DEMO, "--report-api", "openreports")
    assert run.status == 2 and "--report-api is for -o policyreport and --write-reports" in run.err
    run = cli("dump", "-A", "--snapshot", DEMO, "-o", "prometheus")
    assert run.status == 2 and "-o prometheus is for svc, ingress and loopback" in run.err


def test_prometheus_parses_with_the_official_parser(cli: CLI, tmp_path: Path) -> None:
    report = cli("loopback", "-A", "--snapshot", DEMO, "-o", "json").json()
    path = tmp_path / "textfile" / "tke-net.prom"
    path.parent.mkdir()
    run = cli("loopback", "-A", "--snapshot", DEMO, "-o", "prometheus", "--metrics-file", str(path))
    assert run.status == 1
    families = {f.name: f for f in text_string_to_metric_families(run.out)}
    samples = families["tke_net_findings"].samples
    assert sorted(
        (s.labels["code"], s.labels["severity"], s.labels["namespace"], s.labels["kind"], s.labels["name"])
        for s in samples
    ) == sorted((f["code"], f["severity"], f["namespace"], f["kind"], f["name"]) for f in report["findings"])
    assert all(s.value == 1.0 and s.labels["cluster"] == "" for s in samples)
    summary = {s.labels["severity"]: s.value for s in families["tke_net_summary"].samples}
    assert summary == {k: float(report["summary"][k]) for k in ("error", "warning", "info")}
    assert [s.value for s in families["tke_net_kube_proxy_loopback_fixed"].samples] == [0.0]
    assert families["tke_net_run_timestamp_seconds"].samples[0].value > 1.7e9
    # The file: the same exposition, world-readable (node-exporter runs as another user), no temporary left.
    written = {f.name: f for f in text_string_to_metric_families(path.read_text(encoding="utf-8"))}
    assert set(written) == set(families)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["tke-net.prom"]


def test_metrics_file_that_cannot_be_written(cli: CLI, tmp_path: Path) -> None:
    run = cli("svc", "-A", "--snapshot", DEMO, "--metrics-file", str(tmp_path / "missing" / "x.prom"))
    assert run.status == 2 and run.err.startswith("error: --metrics-file ") and run.err.count("\n") == 1


def test_write_reports_applies_server_side_and_deletes_stale(cli: CLI, tmp_path: Path) -> None:
    """A stub API server with the demo cluster's objects and one report of an earlier run in a namespace that is
    clean now: every report is applied (server-side apply, field manager, force), the stale one is deleted."""
    objects = cluster_route(EXAMPLES / "demo-cluster.yaml")
    earlier = {
        "kind": "PolicyReportList",
        "metadata": {},
        "items": [
            {"metadata": {"name": "tke-net-service", "namespace": "was-broken"}},
            {"metadata": {"name": "tke-net-service", "namespace": "edge"}},
        ],
    }

    def route(method: str, path: str) -> Answer | None:
        if "/wgpolicyk8s.io/" in path:
            if method == "GET":
                return Answer(200, earlier)
            return Answer(200, {"kind": "PolicyReport"})
        return objects(method, path)  # type: ignore[no-any-return]

    with serve(route=route) as stub:
        config = stub.kubeconfig(tmp_path / "config")
        report = cli("svc", "-A", "--kubeconfig", str(config), "-o", "json").json()
        run = cli("svc", "-A", "--kubeconfig", str(config), "--write-reports", "-o", "json")
        seen = list(stub.seen)
    assert run.status == 1, run.err
    patches = [(p, h) for m, p, h in seen if m == "PATCH"]
    namespaces = sorted({f["namespace"] for f in report["findings"] if f["namespace"]})
    paths = sorted(urlsplit(p).path for p, _h in patches)
    assert paths == sorted(
        [f"/apis/wgpolicyk8s.io/v1alpha2/namespaces/{ns}/policyreports/tke-net-service" for ns in namespaces]
        + ["/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/tke-net-service"]
    )
    for path, headers in patches:
        assert headers["Content-Type"] == "application/apply-patch+yaml"
        assert parse_qs(urlsplit(path).query) == {"fieldManager": ["kubectl-tke-net"], "force": ["true"]}
    lists = [p for m, p, _h in seen if m == "GET" and "/wgpolicyk8s.io/" in p]
    assert len(lists) == 1
    query = parse_qs(urlsplit(lists[0]).query)
    assert query["labelSelector"] == ["app.kubernetes.io/managed-by=kubectl-tke-net,tke-net.kubectl.io/command=service"]
    deletes = [urlsplit(p).path for m, p, _h in seen if m == "DELETE"]
    assert deletes == ["/apis/wgpolicyk8s.io/v1alpha2/namespaces/was-broken/policyreports/tke-net-service"]
    assert "removed PolicyReport/was-broken/tke-net-service" in run.err


def test_write_reports_without_the_crd_or_the_role(cli: CLI, tmp_path: Path) -> None:
    objects = cluster_route(FIXTURES / "healthy.yaml")
    for status, says in (
        (404, "is not served by this cluster; install its CRDs"),
        (403, "grant the role of deploy/rbac/write-reports.yaml"),
    ):

        def route(method: str, path: str, status: int = status) -> Answer | None:
            if "/wgpolicyk8s.io/" in path:
                return Answer(status, {"kind": "Status", "message": "no"})
            return objects(method, path)  # type: ignore[no-any-return]

        with serve(route=route) as stub:
            run = cli("svc", "-A", "--kubeconfig", str(stub.kubeconfig(tmp_path / "config")), "--write-reports")
        assert run.status == 3 and says in run.err and run.err.count("\n") == 1, run.err


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def test_cronjob_runs_the_plugin_with_least_privilege() -> None:
    folder = ROOT / "deploy" / "cronjob"
    docs = [d for f in sorted(folder.glob("*.yaml")) for d in _docs(f)]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == [
        "ClusterRoleBinding",
        "ClusterRoleBinding",
        "CronJob",
        "Namespace",
        "RoleBinding",
        "ServiceAccount",
    ]
    bindings = {d["roleRef"]["name"] for d in docs if d["kind"].endswith("Binding")}
    roles = {
        d["metadata"]["name"]
        for f in ("read-only.yaml", "write-reports.yaml")
        for d in _docs(ROOT / "deploy" / "rbac" / f)
        if d["kind"].endswith("Role")
    }
    assert bindings == roles == {"tke-net-read-only", "tke-net-read-kube-system", "tke-net-write-reports"}
    for d in docs:
        if d["kind"].endswith("Binding"):
            assert d["subjects"] == [{"kind": "ServiceAccount", "name": "tke-net", "namespace": "tke-net"}]
    cron = next(d for d in docs if d["kind"] == "CronJob")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "tke-net"
    (container,) = pod["containers"]
    args = build_parser().parse_args(container["args"])
    assert args.command == "service" and args.all_namespaces and args.write_reports and args.fail_on == "never"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp", os.path.dirname(args.metrics_file)}
    containerfile = (folder / "Containerfile").read_text(encoding="utf-8")
    assert "COPY dist/kubectl-tke_net /usr/local/bin/kubectl-tke_net" in containerfile
    assert 'ENTRYPOINT ["/usr/local/bin/kubectl-tke_net"]' in containerfile


def test_write_role_grants_only_the_report_kinds() -> None:
    role = next(d for d in _docs(ROOT / "deploy" / "rbac" / "write-reports.yaml") if d["kind"] == "ClusterRole")
    groups = {g for rule in role["rules"] for g in rule["apiGroups"]}
    assert groups == {"wgpolicyk8s.io", "openreports.io"}
    assert json.dumps(role).count('"get"') == 0  # it lists, applies and deletes; never reads another's report


def test_fleet_writes_each_clusters_reports_into_that_cluster(cli: CLI, tmp_path: Path) -> None:
    from tests.test_fleet import fleet_kubeconfig

    def cluster(snapshot: Path) -> Any:
        objects = cluster_route(snapshot)

        def route(method: str, path: str) -> Answer | None:
            if "/wgpolicyk8s.io/" in path:
                return Answer(200, {"kind": "PolicyReportList", "metadata": {}, "items": []})
            return objects(method, path)  # type: ignore[no-any-return]

        return route

    with (
        serve(route=cluster(EXAMPLES / "demo-cluster.yaml")) as demo,
        serve(route=cluster(FIXTURES / "healthy.yaml")) as healthy,
    ):
        config = fleet_kubeconfig(tmp_path / "config", {"demo": demo, "healthy": healthy})
        run = cli("svc", "-A", "--kubeconfig", str(config), "--all-contexts", "--write-reports", "-o", "json")
        applied = {
            name: sorted(urlsplit(p).path for m, p, _h in stub.seen if m == "PATCH")
            for name, stub in (("demo", demo), ("healthy", healthy))
        }
    assert run.status == 1, run.err
    demo_namespaces = {f["namespace"] for f in run.json()["clusters"][0]["report"]["findings"] if f["namespace"]}
    assert len(applied["demo"]) == len(demo_namespaces) + 1
    # The healthy cluster has no finding: only its (empty) ClusterPolicyReport, never the demo cluster's reports.
    assert applied["healthy"] == ["/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/tke-net-service"]
    assert (
        "demo: reports: applied" in run.err
        and "healthy: reports: applied ClusterPolicyReport/tke-net-service" in run.err
    )
