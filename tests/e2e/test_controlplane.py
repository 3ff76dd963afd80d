"""The e2e control plane serves real kubectl traffic, enforces RBAC and audits what was read."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from controlplane import VIEWER_NAMESPACE, ControlPlane, describe_events

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def k(controlplane: ControlPlane, kubectl: str) -> Kubectl:
    """k("get", "pods", context="viewer", input=obj, check=True) runs kubectl against the control plane."""

    def run(
        *args: str, context: str = "admin", input: Any = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        stdin = json.dumps(input) if isinstance(input, dict) else input
        proc = subprocess.run(
            [kubectl, "--context", context, *args],
            check=False,
            input=stdin,
            capture_output=True,
            text=True,
            env=controlplane.env(),
            timeout=60,
        )
        if check and proc.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    return run


def get_json(k: Kubectl, *args: str) -> dict[str, Any]:
    return json.loads(k("get", *args, "-o", "json").stdout)  # type: ignore[no-any-return]


def apply(k: Kubectl, ns: str, obj: dict[str, Any]) -> None:
    k("apply", "-n", ns, "-f", "-", input=obj)


def patch_status(k: Kubectl, ns: str, resource: str, status: dict[str, Any]) -> None:
    """Write status through the /status subresource, as the kubelet or the cloud controller would."""
    patch = json.dumps({"status": status})
    k("patch", "-n", ns, resource, "--subresource=status", "--type=merge", "-p", patch)


def test_server_is_the_pinned_kubernetes(k: Kubectl) -> None:
    version = json.loads(k("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.34.")


def test_admin_writes_what_the_controllers_would(k: Kubectl) -> None:
    ns = "e2e-admin"
    k("create", "namespace", ns)

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "labels": {"app": "web"}},
        "spec": {"nodeName": "10.0.1.5", "containers": [{"name": "web", "image": "nginx:1.27"}]},
    }
    apply(k, ns, pod)
    patch_status(
        k,
        ns,
        "pod/web-0",
        {
            "phase": "Running",
            "hostIP": "10.0.1.5",
            "podIP": "172.16.0.10",
            "podIPs": [{"ip": "172.16.0.10"}],
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    )
    got = get_json(k, "-n", ns, "pod", "web-0")
    assert got["spec"]["nodeName"] == "10.0.1.5"
    assert got["status"]["phase"] == "Running"
    assert got["status"]["podIP"] == "172.16.0.10"

    ports = [{"name": "http", "port": 80, "protocol": "TCP"}]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": ports},
    }
    apply(k, ns, service)
    patch_status(k, ns, "service/web", {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}})
    got = get_json(k, "-n", ns, "service", "web")
    assert got["spec"]["clusterIP"].startswith("10.0.")
    assert [i["ip"] for i in got["status"]["loadBalancer"]["ingress"]] == ["203.0.113.10"]

    endpoint = {
        "addresses": ["172.16.0.10"],
        "conditions": {"ready": True},
        "nodeName": "10.0.1.5",
        "targetRef": {"kind": "Pod", "name": "web-0", "namespace": ns},
    }
    endpoint_slice = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "web-abc12", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [endpoint],
        "ports": ports,
    }
    apply(k, ns, endpoint_slice)
    slices = get_json(k, "-n", ns, "endpointslices", "-l", "kubernetes.io/service-name=web")
    assert [s["endpoints"] for s in slices["items"]] == [[endpoint]]


def test_tke_service_config_crd(k: Kubectl) -> None:
    listener = {"protocol": "TCP", "port": 80, "keepaliveEnable": 1, "healthCheck": {"enable": True}}
    tsc = {
        "apiVersion": "cloud.tencent.com/v1alpha1",
        "kind": "TkeServiceConfig",
        "metadata": {"name": "web-config"},
        "spec": {"loadBalancer": {"l4Listeners": [listener], "l7Listeners": []}},
    }
    apply(k, "default", tsc)
    got = get_json(k, "-n", "default", "tkeserviceconfigs", "web-config")
    assert got["spec"]["loadBalancer"]["l4Listeners"] == [listener]

    bad = dict(tsc, metadata={"name": "bad-config"})
    bad["spec"] = {"loadBalancer": {"l7Listeners": [{"keepaliveEnable": "yes"}]}}
    proc = k("apply", "-n", "default", "-f", "-", input=bad, check=False)
    assert proc.returncode != 0
    assert "keepaliveEnable" in proc.stderr


def test_viewer_reads_team_a_only(k: Kubectl) -> None:
    ok = k("get", "pods", "-n", VIEWER_NAMESPACE, context="viewer")
    assert "No resources found" in ok.stderr

    other = k("get", "pods", "-n", "default", context="viewer", check=False)
    assert other.returncode != 0
    assert "Forbidden" in other.stderr and 'User "viewer" cannot list resource "pods"' in other.stderr

    secrets = k("get", "secrets", "--all-namespaces", context="viewer", check=False)
    assert secrets.returncode != 0
    assert "Forbidden" in secrets.stderr and "at the cluster scope" in secrets.stderr


def test_audit_log_counts_list_requests(controlplane: ControlPlane, k: Kubectl) -> None:
    def pod_lists(wait_for: int = 0) -> list[dict[str, Any]]:
        return controlplane.wait_for_audit(
            lambda evs: len(evs) >= wait_for,
            verb="list",
            resource="pods",
            namespace=VIEWER_NAMESPACE,
            user="viewer",
        )

    def secret_lists(wait_for: int = 0) -> list[dict[str, Any]]:
        return controlplane.wait_for_audit(
            lambda evs: len(evs) >= wait_for, verb="list", resource="secrets", user="viewer"
        )

    before = len(pod_lists())
    k("get", "pods", "-n", VIEWER_NAMESPACE, context="viewer")
    events = pod_lists(wait_for=before + 1)
    assert len(events) == before + 1, describe_events(events)
    assert events[-1]["responseStatus"]["code"] == 200
    assert events[-1]["level"] == "Metadata"

    before = len(secret_lists())
    k("get", "secrets", "--all-namespaces", context="viewer", check=False)
    denied = secret_lists(wait_for=before + 1)
    assert len(denied) == before + 1, describe_events(denied)
    assert denied[-1]["responseStatus"]["code"] == 403
    assert denied[-1]["level"] == "Request"
    assert "namespace" not in denied[-1]["objectRef"]
