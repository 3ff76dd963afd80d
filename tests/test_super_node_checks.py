"""Issue 19 (super nodes and backends-label): TKE117, TKE118, TKE119, TKE605 at the edges the fixtures in
tests/checks/ do not reach. Each healthy super-node object of tests/fixtures/healthy.yaml is one edit away from
its finding, so the healthy cluster proves the checks' clean side, not their absence."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CLI, fixture, found, variant

Doc = dict[str, Any]


def _item(doc: Doc, kind: str, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [i for i in doc["items"] if i["kind"] == kind and i["metadata"]["name"] == name]
    [obj] = found
    return obj


def _no_direct_access(doc: Doc) -> None:
    del _item(doc, "Service", "search")["metadata"]["annotations"]["service.cloud.tencent.com/direct-access"]


def _no_metrics_port_default(doc: Doc) -> None:
    _item(doc, "ConfigMap", "eks-config")["data"]["pod.annotations"] = (
        "eks.tke.cloud.tencent.com/resolv-conf: |\n  nameserver 183.60.83.19\n"
    )


def _cluster_dns(doc: Doc) -> None:
    del _item(doc, "Pod", "search-6f7c9-yuiop")["spec"]["dnsPolicy"]


def _unlabelled(doc: Doc) -> None:
    del _item(doc, "Node", "10.0.1.10")["metadata"]["labels"]["group"]


@pytest.mark.parametrize(
    ("change", "expected", "says"),
    [
        (_no_direct_access, ("TKE117", "Service/shop/search"), "all 2 ready endpoints are on super nodes"),
        (_no_metrics_port_default, ("TKE119", "Service/shop/search"), "targetPort http is container port 9100"),
        (_cluster_dns, ("TKE605", "Service/shop/search"), "1 of 2 Pods run on a super node"),
        (_unlabelled, ("TKE118", "Service/shop/api"), "'group=access-layer' selects no node"),
    ],
    ids=["TKE117", "TKE119", "TKE605", "TKE118"],
)
def test_each_healthy_super_node_object_is_one_edit_from_its_finding(
    cli: CLI, tmp_path: Path, change: Callable[[Doc], None], expected: tuple[str, str], says: str
) -> None:
    run = cli("svc", "-A", "--snapshot", variant(tmp_path, "healthy", change), "-o", "json", "--select", expected[0])
    assert found(run) == {expected}
    assert says in run.json()["findings"][0]["message"]


def test_local_traffic_to_super_nodes_needs_a_global_router_cluster(cli: CLI, tmp_path: Path) -> None:
    """VPC-CNI clusters run no tke-bridge-agent; TKE documents the Local limit for GlobalRouter clusters only.
    A tke-bridge-agent scheduled on no node (left behind, as Cilium installs leave agents) is not GlobalRouter."""

    def vpc_cni(doc: Doc) -> None:
        _no_direct_access(doc)
        doc["items"].remove(_item(doc, "DaemonSet", "tke-bridge-agent"))

    def neutered(doc: Doc) -> None:
        _no_direct_access(doc)
        agent = _item(doc, "DaemonSet", "tke-bridge-agent")
        agent["spec"]["template"]["spec"]["nodeSelector"] = {"label-not-exist": "node-not-exist"}

    for change in (vpc_cni, neutered):
        run = cli("svc", "-A", "--snapshot", variant(tmp_path, "healthy", change), "-o", "json", "--select", "TKE117")
        assert (run.status, found(run), run.json()["skipped"]) == (0, set(), [])


def test_local_traffic_check_is_skipped_without_daemonsets(cli: CLI, tmp_path: Path) -> None:
    """Whether the cluster is GlobalRouter comes from kube-system's DaemonSets: unreadable, the check says so."""

    def forbidden(doc: Doc) -> None:
        _no_direct_access(doc)
        doc["items"] = [i for i in doc["items"] if i["kind"] != "DaemonSet"]
        reasons = {"daemonsets": 'forbidden: cannot list daemonsets in namespace "kube-system"'}
        doc["metadata"] = {"annotations": {"tke-net.kubectl.io/unavailable": json.dumps(reasons)}}

    run = cli("svc", "-A", "--snapshot", variant(tmp_path, "healthy", forbidden), "-o", "json", "--select", "TKE117")
    assert found(run) == set()
    assert [s["codes"] for s in run.json()["skipped"]] == [["TKE117"]]


def test_metrics_port_default_of_eks_config_moves_the_conflict(cli: CLI, tmp_path: Path) -> None:
    """eks-config's metrics-port is the default of every super-node Pod: the app's 9100 is then free, and a Service
    that targets the moved port collides instead; the Pod's own annotation wins over the default."""

    def target_9110(doc: Doc) -> None:
        for pod in ("search-6f7c9-qwert", "search-6f7c9-yuiop"):
            _item(doc, "Pod", pod)["spec"]["containers"][0]["ports"][0]["containerPort"] = 9110
        _item(doc, "Pod", "search-6f7c9-yuiop")["metadata"]["annotations"]["eks.tke.cloud.tencent.com/metrics-port"] = (
            "9120"
        )

    run = cli("svc", "-A", "--snapshot", variant(tmp_path, "healthy", target_9110), "-o", "json", "--select", "TKE119")
    [tke119] = run.json()["findings"]
    assert "container port 9110 on 1 super-node Pod (search-6f7c9-qwert)" in tke119["message"]
    assert "metrics-port in kube-system/eks-config" in tke119["message"]
    assert "yuiop" not in tke119["message"]


def test_cluster_ip_switch_spares_host_network_and_cvm_pods(cli: CLI, tmp_path: Path) -> None:
    """A hostNetwork Pod with ClusterFirst falls back to the node's DNS (Default); eks-config is for super-node
    Pods only, so a CVM Pod behind the same Service is not counted."""

    def switched(doc: Doc) -> None:
        notes = _item(doc, "ConfigMap", "eks-config")["data"]
        notes["pod.annotations"] += "eks.tke.cloud.tencent.com/cluster-ip-switch: disable\n"
        _item(doc, "Pod", "search-6f7c9-qwert")["spec"]["hostNetwork"] = True
        _item(doc, "Pod", "web-7d9f8-abcde")["metadata"]["labels"]["app"] = "search"

    run = cli("svc", "-A", "--snapshot", variant(tmp_path, "healthy", switched), "-o", "json", "--select", "TKE605")
    assert found(run) == set()


def test_backends_label_leaves_out_masters(cli: CLI, tmp_path: Path) -> None:
    def master_only(doc: Doc) -> None:
        _item(doc, "Node", "10.0.1.10")["metadata"]["labels"]["node-role.kubernetes.io/master"] = ""

    run = cli("svc", "-A", "--snapshot", variant(tmp_path, "healthy", master_only), "-o", "json", "--select", "TKE118")
    [tke118] = run.json()["findings"]
    assert "selects 1 node, which the CLB cannot bind: 10.0.1.10 (master)" in tke118["message"]


def test_dump_keeps_only_the_eks_config_lines_the_checks_read(cli: CLI, tmp_path: Path) -> None:
    """eks-config's pod.annotations holds every super-node default (DNS servers, sysctls, registries, roles): the
    dump keeps only cluster-ip-switch and metrics-port (SPEC 9.2), and a snapshot of the dump judges the same."""
    run = cli("dump", "-A", "--snapshot", fixture("healthy"))
    dump = yaml.safe_load(run.out)
    [config] = [i for i in dump["items"] if i["kind"] == "ConfigMap" and i["metadata"]["name"] == "eks-config"]
    assert config["data"] == {"pod.annotations": "eks.tke.cloud.tencent.com/metrics-port: '9110'\n"}
    path = tmp_path / "dump.json"
    path.write_text(run.out)
    again = cli("dump", "-A", "--snapshot", str(path))
    assert yaml.safe_load(again.out) == dump
    assert cli("svc", "-A", "--snapshot", str(path), "-o", "json").json()["findings"] == []
