"""Ingress checks on the real API server: the fixture clusters give the same findings live, RBAC gives skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from controlplane import ControlPlane
from load import items, load
from test_plugin import offline, plugin

from tests.conftest import FIXTURES, found

PREFIX = "ing-"
FIXTURE_FILES = ("ingress-backends", "ingress-class", "ingress-rules", "ingress-tls")


def _renamespaced(obj: dict[str, Any]) -> dict[str, Any]:
    """The object in a namespace of its own (PREFIX + ns), so fixtures can share one API server."""
    obj = yaml.safe_load(yaml.safe_dump(obj))
    meta = obj.setdefault("metadata", {})
    if meta.get("namespace"):
        meta["namespace"] = PREFIX + meta["namespace"]
    involved = obj.get("involvedObject")
    if involved and involved.get("namespace"):
        involved["namespace"] = PREFIX + involved["namespace"]
    for port in (obj.get("spec") or {}).get("ports") or []:
        if obj.get("kind") == "Service":
            port.pop("nodePort", None)  # the API server allocates; Ingress checks do not read it
    return obj


def test_ingress_fixtures_give_the_same_findings_live(controlplane: ControlPlane, kubectl: str, tmp_path: Path) -> None:
    # extensions/v1beta1 Ingresses (kept in a fixture for old snapshots) are no longer served.
    objs = [
        _renamespaced(o)
        for name in FIXTURE_FILES
        for o in items(FIXTURES / f"{name}.yaml")
        if o.get("apiVersion") != "extensions/v1beta1"
    ]
    path = tmp_path / "ingress-fixtures.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objs}))
    load(controlplane, kubectl, path)
    # TKE6xx judge kube-system and cluster-scoped objects, which other modules of the session's control plane
    # fill (a TKE kube-proxy DaemonSet, TKE nodes without kube-system/tke-config): not the Ingress fixtures'.
    expected = offline("ingress", "-A", "-o", "json", "--snapshot", str(path), "--ignore", "TKE6")
    assert expected["findings"], "the fixtures must have findings"
    namespaces = sorted({o["metadata"]["namespace"] for o in objs if o["metadata"].get("namespace")})
    live: set[tuple[str, str]] = set()
    for ns in namespaces:
        run = plugin(controlplane, "ingress", "-n", ns, "-o", "json", "--ignore", "TKE6")
        assert run.status in (0, 1), run.err
        live |= found(run.json())
    assert live == found(expected)
    codes = {code for code, _ in live}
    assert {"TKE201", "TKE202", "TKE205", "TKE209"} <= codes


def test_user_without_secret_access_gets_tke205_skipped(controlplane: ControlPlane, kubectl: str) -> None:
    ns = PREFIX + "web"
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    controlplane.create(
        f"{rbac}/namespaces/{ns}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "no-secrets", "namespace": ns},
            "rules": [
                {
                    "apiGroups": ["", "networking.k8s.io", "discovery.k8s.io", "cloud.tencent.com"],
                    "resources": ["services", "pods", "events", "endpointslices", "ingresses", "tkeserviceconfigs"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        },
    )
    controlplane.create(
        f"{rbac}/namespaces/{ns}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "no-secrets", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "no-secrets"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "ops"}],
        },
    )
    admin = plugin(controlplane, "ingress", "-n", ns, "-o", "json").json()
    assert any(f["code"] == "TKE205" for f in admin["findings"]), "the fixture must have a missing Secret"
    doc = plugin(controlplane, "ingress", "-n", ns, "--as", "ops", "-o", "json").json()
    assert not any(f["code"] == "TKE205" for f in doc["findings"])
    skipped = {code: entry["reason"] for entry in doc["skipped"] for code in entry["codes"]}
    assert skipped["TKE205"].startswith("forbidden: ") and "secrets" in skipped["TKE205"]
    # The checks that need only what the user may read still find what the admin finds.
    kept = {f for f in found(admin) if f[0] not in skipped}
    assert found(doc) == kept
