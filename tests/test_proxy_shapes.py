"""Issue 19 (kube-proxy part): Cilium/DataPlaneV2, a kube-proxy DaemonSet scheduled nowhere, nftables, ipMode Proxy,
and the fixed-version table's honesty. Object shapes from TKE-FACTS-2 §3.1, §4 and §6."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CLI, Run

INTERNAL = "service.kubernetes.io/qcloud-loadbalancer-internal-subnetid"
OLD_IPVS = "ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.20.6-tke.3"


def _kube_proxy(image: str = OLD_IPVS, mode: str = "ipvs", **pod: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "kube-proxy", "image": image, "args": [f"--proxy-mode={mode}"]}],
                    **pod,
                }
            }
        },
    }


def _cluster(tmp_path: Path, *extra: dict[str, Any], ip_mode: str | None = None, annotate: bool = False) -> str:
    svc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "app", "annotations": {INTERNAL: "subnet-k2x7p9dd"}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "nodePort": 30080}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.18.1.200", **({"ipMode": ip_mode} if ip_mode else {})}]}},
    }
    if annotate:
        svc["metadata"]["annotations"]["service.cloud.tencent.com/prevent-loopback"] = "true"
    nodes = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": f"198.18.0.{n}", "labels": {"kubernetes.io/os": "linux"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
        for n in (11, 12)
    ]
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [svc, *nodes, *extra]}))
    return str(path)


CILIUM_CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "cilium-config", "namespace": "kube-system"},
    "data": {"kube-proxy-replacement": "true", "cluster-name": "default"},
}


def _report(cli: CLI, path: str) -> dict[str, Any]:
    run: Run = cli("loopback", "-A", "--snapshot", path, "-o", "json", "--fail-on", "never")
    assert run.status == 0, run.err
    return run.json()


def _codes(doc: dict[str, Any]) -> set[str]:
    return {f["code"] for f in doc["findings"]}


def test_dataplane_v2_has_no_kube_proxy_and_says_cilium(cli: CLI, tmp_path: Path) -> None:
    doc = _report(cli, _cluster(tmp_path, CILIUM_CONFIG))
    assert doc["cluster"]["kubeProxy"]["mode"] == "cilium"
    assert _codes(doc) == {"TKE305"}
    [tke305] = doc["findings"]
    assert "replaced by Cilium" in tke305["message"]
    assert any("TKE302" in s["codes"] and "Cilium" in s["reason"] for s in doc["skipped"])
    assert doc["loopback"]["verdict"] == "unknown" and "Cilium" in doc["loopback"]["reason"]


def test_a_neutered_kube_proxy_next_to_cilium_is_not_judged(cli: CLI, tmp_path: Path) -> None:
    """Self-installed Cilium keeps kube-proxy with a nodeSelector no node has: an old IPVS tag there is no
    TKE301/TKE302/TKE304 (it runs nowhere)."""
    neutered = _kube_proxy(nodeSelector={"label-not-exist": "node-not-exist"})
    doc = _report(cli, _cluster(tmp_path, neutered, CILIUM_CONFIG, annotate=True))
    assert doc["cluster"]["kubeProxy"]["mode"] == "cilium"
    assert not _codes(doc) & {"TKE301", "TKE302", "TKE304", "TKE306"}


def test_a_kube_proxy_scheduled_on_no_node_without_cilium_is_unknown(cli: CLI, tmp_path: Path) -> None:
    idle = {**_kube_proxy(), "status": {"observedGeneration": 1, "desiredNumberScheduled": 0, "numberAvailable": 0}}
    doc = _report(cli, _cluster(tmp_path, idle))
    assert doc["cluster"]["kubeProxy"]["mode"] == "unknown"
    assert _codes(doc) == {"TKE305"} and "scheduled on no node" in doc["findings"][0]["message"]
    assert doc["loopback"]["verdict"] == "unknown"


def test_the_same_kube_proxy_scheduled_somewhere_is_judged(cli: CLI, tmp_path: Path) -> None:
    running = {**_kube_proxy(), "status": {"observedGeneration": 1, "desiredNumberScheduled": 2, "numberAvailable": 2}}
    doc = _report(cli, _cluster(tmp_path, running))
    assert {"TKE301", "TKE302"} <= _codes(doc) and doc["loopback"]["verdict"] == "exposed"


def test_a_status_the_controller_never_wrote_says_nothing(cli: CLI, tmp_path: Path) -> None:
    """An API server defaults a new DaemonSet's status to zeros: without observedGeneration it is not 'scheduled
    nowhere' (the e2e control plane, which runs no DaemonSet controller, showed it)."""
    fresh = {**_kube_proxy(), "status": {"desiredNumberScheduled": 0, "numberAvailable": 0}}
    doc = _report(cli, _cluster(tmp_path, fresh))
    assert doc["cluster"]["kubeProxy"]["mode"] == "ipvs" and "TKE301" in _codes(doc)


def test_a_healthy_cilium_cluster_without_internal_clbs_gives_nothing(cli: CLI, tmp_path: Path) -> None:
    path = tmp_path / "public.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [CILIUM_CONFIG]}))
    doc = _report(cli, str(path))
    assert doc["findings"] == [] and doc["cluster"]["kubeProxy"]["mode"] == "cilium"


@pytest.mark.parametrize(("mode", "reported"), [("nftables", "nftables"), ("iptables", "iptables")])
def test_nftables_is_a_mode_of_its_own(cli: CLI, tmp_path: Path, mode: str, reported: str) -> None:
    image = "ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.30.0-tke.5"
    doc = _report(cli, _cluster(tmp_path, _kube_proxy(image, mode)))
    assert doc["cluster"]["kubeProxy"]["mode"] == reported
    assert "TKE302" not in _codes(doc)  # upstream kube-proxy answers the CLB address inside the node


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_ip_mode_proxy_loops_back_in_any_kube_proxy_mode(cli: CLI, tmp_path: Path, mode: str) -> None:
    image = "ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.30.0-tke.5"
    doc = _report(cli, _cluster(tmp_path, _kube_proxy(image, mode), ip_mode="Proxy"))
    [tke302] = [f for f in doc["findings"] if f["code"] == "TKE302"]
    assert "ipMode: Proxy" in tke302["message"] and mode in tke302["message"]
    assert "web.app.svc.cluster.local" in tke302["remediation"] and "fix prevent-loopback" not in tke302["remediation"]
    vip = _report(cli, _cluster(tmp_path, _kube_proxy(image, mode), ip_mode="VIP"))
    assert "TKE302" not in _codes(vip)


def test_no_source_confirms_a_fixed_1_26_build(cli: CLI, tmp_path: Path) -> None:
    doc = _report(cli, _cluster(tmp_path, _kube_proxy("ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.26.1-tke.6")))
    proxy = doc["cluster"]["kubeProxy"]
    assert proxy["loopbackFixed"] is None and proxy["minFixed"] is None
    assert "TKE301" not in _codes(doc)
