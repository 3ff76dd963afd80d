"""Issue 19 (super nodes, part): Pods on super nodes (eklet) are direct-bindable; hostNetwork Pods never are.
Object shapes from TKE-FACTS-2 §3.1 (node eklet-subnet-qbc3zefo-0, Pod annotation pod-type: eklet, hostIP == podIP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CLI, Run

DIRECT = {"service.cloud.tencent.com/direct-access": "true"}


def _pod(name: str, node: str, annotations: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], **extra.pop("status", {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "app", "labels": {"app": "web"}, "annotations": annotations or {}},
        "spec": {"nodeName": node, "containers": [{"name": "web", "ports": [{"containerPort": 80}]}], **extra},
        "status": status,
    }


def _run(cli: CLI, tmp_path: Path, *pods: dict[str, Any], switch: bool = False) -> dict[str, Any]:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "app", "annotations": DIRECT},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]},
    }
    nodes = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "198.18.0.11"}},
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "eklet-subnet-qbc3zefo-0", "labels": {"node.kubernetes.io/instance-type": "eklet"}},
        },
    ]
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "tke-service-controller-config", "namespace": "kube-system"},
        "data": {"GlobalRouteDirectAccess": "true" if switch else "false"},
    }
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [svc, *nodes, config, *pods]}))
    run: Run = cli("svc", "-n", "app", "--snapshot", str(path), "--select", "TKE110", "-o", "json")
    return run.json()


@pytest.mark.parametrize(
    "pod",
    [
        _pod("by-annotation", "198.18.0.11", {"tke.cloud.tencent.com/pod-type": "eklet"}),
        _pod("by-node", "eklet-subnet-qbc3zefo-0"),
        _pod("by-address", "", status={"hostIP": "198.18.3.7", "podIP": "198.18.3.7"}),
    ],
    ids=lambda p: p["metadata"]["name"],
)
def test_super_node_pods_are_direct_bindable(cli: CLI, tmp_path: Path, pod: dict[str, Any]) -> None:
    assert _run(cli, tmp_path, pod)["findings"] == []


def test_a_global_router_pod_still_needs_the_switch(cli: CLI, tmp_path: Path) -> None:
    doc = _run(cli, tmp_path, _pod("gr", "198.18.0.11"))
    [tke110] = doc["findings"]
    assert "1 of 1 Pods are not VPC-CNI Pods (gr)" in tke110["message"]
    assert _run(cli, tmp_path, _pod("gr", "198.18.0.11"), switch=True)["findings"] == []


def test_host_network_pods_are_flagged_even_with_the_switch(cli: CLI, tmp_path: Path) -> None:
    host = _pod("host", "198.18.0.11", hostNetwork=True, status={"hostIP": "198.18.0.11", "podIP": "198.18.0.11"})
    [tke110] = _run(cli, tmp_path, host, switch=True)["findings"]
    assert "use the host network (host)" in tke110["message"] and "E4033" in tke110["message"]
