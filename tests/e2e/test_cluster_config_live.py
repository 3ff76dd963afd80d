"""Cluster configuration checks (TKE601-TKE604) on the real API server: a real ValidatingWebhookConfiguration,
kube-system's ConfigMaps and kube-dns, each kind read by LIST once per run, forbidden reads skipped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from controlplane import ControlPlane
from test_plugin import plugin

from tests.conftest import found

WEBHOOK = "tke-net-e2e-old-nginx"
VWC_PATH = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
KUBE_SYSTEM = "/api/v1/namespaces/kube-system"
APP = "cfg-app"


def _old_nginx_webhook() -> dict[str, Any]:
    """The admission webhook an ingress-nginx 0.35.0 chart installs, with v1 in its rule: the E6009 shape. It
    points at a Service that does not exist and ignores failures, so it never blocks another test's Ingress."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {
            "name": WEBHOOK,
            "labels": {
                "helm.sh/chart": "ingress-nginx-2.13.0",
                "app.kubernetes.io/name": "ingress-nginx",
                "app.kubernetes.io/version": "0.35.0",
                "app.kubernetes.io/component": "admission-webhook",
            },
        },
        "webhooks": [
            {
                "name": "validate.nginx.ingress.kubernetes.io",
                "matchPolicy": "Equivalent",
                "rules": [
                    {
                        "apiGroups": ["networking.k8s.io"],
                        "apiVersions": ["v1beta1", "v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["ingresses"],
                    }
                ],
                "failurePolicy": "Ignore",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1", "v1beta1"],
                "timeoutSeconds": 1,
                "clientConfig": {
                    "service": {
                        "namespace": "tke-net-e2e-nowhere",
                        "name": "ingress-nginx-controller-admission",
                        "path": "/networking/v1beta1/ingresses",
                    }
                },
            }
        ],
    }


def _delete(cp: ControlPlane, path: str) -> None:
    status, body = cp.request("DELETE", path)
    assert status in (200, 202, 404), f"DELETE {path} -> {status}: {body}"


@pytest.fixture
def old_nginx_webhook(controlplane: ControlPlane) -> Iterator[ControlPlane]:
    controlplane.create(VWC_PATH, _old_nginx_webhook())
    try:
        yield controlplane
    finally:
        _delete(controlplane, f"{VWC_PATH}/{WEBHOOK}")


def _lists(cp: ControlPlane, resource: str, since: int) -> list[dict[str, Any]]:
    time.sleep(0.5)  # audit events are written after the response
    return [
        e
        for e in cp.audit_events()[since:]
        if e.get("stage") == "ResponseComplete"
        and e.get("verb") == "list"
        and (e.get("objectRef") or {}).get("resource") == resource
        and str(e.get("userAgent", "")).startswith("kubectl-tke-net")
    ]


def test_tke604_finds_a_real_old_nginx_webhook(old_nginx_webhook: ControlPlane) -> None:
    cp = old_nginx_webhook
    before = len(cp.audit_events())
    run = plugin(cp, "ingress", "-A", "-o", "json", "--select", "TKE604")
    assert run.status == 1, run.err
    doc = run.json()
    assert found(doc) == {("TKE604", f"ValidatingWebhookConfiguration/{WEBHOOK}")}
    assert doc["skipped"] == []
    message = doc["findings"][0]["message"]
    assert "validate.nginx.ingress.kubernetes.io" in message and "0.35.0" in message and "E6009" in message
    lists = _lists(cp, "validatingwebhookconfigurations", before)
    assert len(lists) == 1 and "limit=" in lists[0]["requestURI"], [e["requestURI"] for e in lists]

    # The dump keeps the rules the check reads and never the clientConfig; the dump replays the finding.
    dump = plugin(cp, "dump", "-A", "-o", "json")
    hooks = [i for i in dump.json()["items"] if i["kind"] == "ValidatingWebhookConfiguration"]
    mine = next(h for h in hooks if h["metadata"]["name"] == WEBHOOK)
    assert "clientConfig" not in mine["webhooks"][0] and mine["webhooks"][0]["rules"]

    # A user who may not list webhooks (viewer: read-only in one namespace) gets TKE604 skipped, not "fine".
    run = plugin(cp, "ingress", "--context", "viewer", "-o", "json", "--select", "TKE604")
    assert run.status == 0, run.err
    skipped = {code: e["reason"] for e in run.json()["skipped"] for code in e["codes"]}
    assert set(skipped) == {"TKE604"} and skipped["TKE604"].startswith("forbidden: "), skipped
    assert run.json()["findings"] == []


def test_tke604_leaves_the_fixed_webhook_alone(old_nginx_webhook: ControlPlane) -> None:
    cp = old_nginx_webhook
    fixed = _old_nginx_webhook()
    fixed["webhooks"][0]["rules"][0]["apiVersions"] = ["v1beta1"]  # TKE's documented fix
    status, body = cp.request("PUT", f"{VWC_PATH}/{WEBHOOK}", {**fixed, "metadata": _current(cp)["metadata"]})
    assert status == 200, body
    run = plugin(cp, "ingress", "-A", "-o", "json", "--select", "TKE604")
    assert (run.status, found(run.json()), run.json()["skipped"]) == (0, set(), [])


def _current(cp: ControlPlane) -> dict[str, Any]:
    status, body = cp.request("GET", f"{VWC_PATH}/{WEBHOOK}")
    assert status == 200, body
    return body  # type: ignore[no-any-return]


@pytest.fixture
def broken_kube_system(controlplane: ControlPlane) -> Iterator[ControlPlane]:
    """kube-dns with no ready endpoint, and ip-masq-agent-config with 0.0.0.0/0; removed afterwards."""
    cp = controlplane
    cp.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APP}})
    created = [
        cp.create(
            f"{KUBE_SYSTEM}/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
                "spec": {
                    "selector": {"k8s-app": "kube-dns"},
                    "ports": [
                        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                        {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    ],
                },
            },
        ),
        cp.create(
            "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices",
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": "kube-dns-e2e",
                    "namespace": "kube-system",
                    "labels": {"kubernetes.io/service-name": "kube-dns"},
                },
                "addressType": "IPv4",
                "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}],
                "endpoints": [{"addresses": ["172.20.0.2"], "conditions": {"ready": False}}],
            },
        ),
        cp.create(
            f"{KUBE_SYSTEM}/configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "ip-masq-agent-config", "namespace": "kube-system"},
                "data": {"config": '{"NonMasqueradeCIDRs":["0.0.0.0/0"],"MasqLinkLocal":true,"ResyncInterval":"1m0s"}'},
            },
        ),
        cp.create(
            f"/api/v1/namespaces/{APP}/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": APP},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            },
        ),
    ]
    try:
        yield cp
    finally:
        for obj in created:
            meta = obj["metadata"]
            base = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
            plural = {"Service": "services", "EndpointSlice": "endpointslices", "ConfigMap": "configmaps"}[obj["kind"]]
            _delete(cp, f"{base}/namespaces/{meta['namespace']}/{plural}/{meta['name']}")


def test_tke603_reads_kube_dns_from_kube_system_for_an_app_namespace(broken_kube_system: ControlPlane) -> None:
    cp = broken_kube_system
    before = len(cp.audit_events())
    run = plugin(cp, "svc", "-n", APP, "-o", "json", "--select", "TKE603")
    assert run.status == 1, run.err
    assert found(run.json()) == {("TKE603", "Service/kube-system/kube-dns")}
    services = sorted(e["requestURI"] for e in _lists(cp, "services", before))
    # The namespace's Services (what `svc` examines), and kube-dns alone from kube-system.
    assert services == [
        f"/api/v1/namespaces/{APP}/services?limit=500",
        "/api/v1/namespaces/kube-system/services?limit=500&fieldSelector=metadata.name%3Dkube-dns",
    ], services
    slices = _lists(cp, "endpointslices", before)
    assert [e["objectRef"].get("namespace") for e in slices] == ["kube-system"]
    assert "labelSelector=kubernetes.io%2Fservice-name%3Dkube-dns" in slices[0]["requestURI"]
    # -A reads Services once, kube-dns among them: no second LIST for it.
    before = len(cp.audit_events())
    run = plugin(cp, "svc", "-A", "-o", "json", "--select", "TKE603")
    assert found(run.json()) == {("TKE603", "Service/kube-system/kube-dns")}
    first_pages = [e["requestURI"] for e in _lists(cp, "services", before) if "continue=" not in e["requestURI"]]
    assert first_pages == ["/api/v1/services?limit=500"], first_pages


def test_tke601_reads_ip_masq_agent_config_live(broken_kube_system: ControlPlane) -> None:
    run = plugin(broken_kube_system, "ingress", "-A", "-o", "json", "--select", "TKE601")
    assert found(run.json()) == {("TKE601", "ConfigMap/kube-system/ip-masq-agent-config")}, run.err
    run = plugin(broken_kube_system, "ingress", "--context", "viewer", "-o", "json", "--select", "TKE601,TKE602")
    skipped = {code: e["reason"] for e in run.json()["skipped"] for code in e["codes"]}
    assert set(skipped) == {"TKE601", "TKE602"} and all(r.startswith("forbidden: ") for r in skipped.values())
