"""fix on a real API server: dry runs write nothing, --apply changes only the planned fields, rollback, RBAC."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane, ControlPlaneError
from load import load
from test_plugin import FIXTURES, plugin

DS = "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"


@pytest.fixture(scope="module")
def fresh(kubectl: str) -> Iterator[ControlPlane]:
    """A control plane of its own: these tests change cluster-wide objects."""
    cp = ControlPlane()
    try:
        cp.start()
        load(cp, kubectl, FIXTURES / "fix-cluster.yaml")
    except ControlPlaneError as exc:
        cp.stop()
        pytest.fail(f"the e2e control plane could not be started: {exc}", pytrace=False)
    yield cp
    cp.stop()


def get(cp: ControlPlane, path: str) -> dict[str, Any]:
    status, body = cp.request("GET", path)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def containers(ds: dict[str, Any]) -> list[dict[str, Any]]:
    return ds["spec"]["template"]["spec"]["containers"]  # type: ignore[no-any-return]


def test_dry_runs_write_nothing(fresh: ControlPlane) -> None:
    before = get(fresh, DS)["metadata"]["resourceVersion"]
    run = plugin(fresh, "fix", "kube-proxy")
    assert run.status == 0 and "+        image: " in run.out, run.err
    server = plugin(fresh, "fix", "kube-proxy", "--dry-run=server", "-o", "json")
    assert server.status == 0, server.err
    assert len(server.json()["changes"]) == 1 and server.json()["applied"] is False
    assert get(fresh, DS)["metadata"]["resourceVersion"] == before


def test_apply_changes_only_the_image_tag_then_nothing_to_do(fresh: ControlPlane, tmp_path: Path) -> None:
    before = get(fresh, DS)
    run = plugin(fresh, "fix", "kube-proxy", "--apply", "--backup-dir", str(tmp_path), "-o", "json")
    assert run.status == 0, run.err
    doc = run.json()
    assert doc["applied"] is True and doc["backup"] and Path(doc["backup"]).is_file()
    backed_up = yaml.safe_load(Path(doc["backup"]).read_text())
    assert [i["metadata"]["name"] for i in backed_up["items"]] == ["kube-proxy"]
    after = get(fresh, DS)
    old, new = containers(before), containers(after)
    assert len(old) == len(new)
    for a, b in zip(old, new, strict=True):
        if a["name"] == "kube-proxy":
            assert a["image"].rsplit(":", 1)[0] == b["image"].rsplit(":", 1)[0]
            assert a["image"] != b["image"]
        assert dict(a, image="") == dict(b, image="")
    assert after["metadata"]["managedFields"][-1]["manager"] == "kubectl-tke-net"
    again = plugin(fresh, "fix", "kube-proxy", "-o", "json")
    assert again.status == 0 and again.json()["changes"] == []


def test_rollback_restores_the_backup(fresh: ControlPlane, tmp_path: Path) -> None:
    run = plugin(fresh, "fix", "prevent-loopback", "-A", "--force", "--apply", "--backup-dir", str(tmp_path),
                 "-o", "json")
    assert run.status == 0, run.err
    changed = [(c["namespace"], c["name"]) for c in run.json()["changes"]]
    assert changed
    ns, name = changed[0]
    path = f"/api/v1/namespaces/{ns}/services/{name}"
    assert get(fresh, path)["metadata"]["annotations"]["service.cloud.tencent.com/prevent-loopback"] == "true"
    back = plugin(fresh, "fix", "rollback", run.json()["backup"], "--apply", "--backup-dir", str(tmp_path),
                  "-o", "json")
    assert back.status == 0, back.err
    annotations = get(fresh, path)["metadata"].get("annotations") or {}
    assert "service.cloud.tencent.com/prevent-loopback" not in annotations


def test_read_only_user_is_refused_and_nothing_is_written(fresh: ControlPlane, tmp_path: Path) -> None:
    fresh.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "e2e-read-only"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "reader"}]})
    rvs = {s["metadata"]["name"]: s["metadata"]["resourceVersion"]
           for s in get(fresh, "/api/v1/services")["items"]}
    run = plugin(fresh, "fix", "prevent-loopback", "-A", "--all-lb", "--force", "--apply", "--as", "reader",
                 "--backup-dir", str(tmp_path), "-o", "json")
    assert run.status == 1
    doc = run.json()
    assert doc["applied"] is False and doc["backup"] is None and list(tmp_path.iterdir()) == []
    assert doc["refused"] and all("forbidden" in r["reason"] for r in doc["refused"]), json.dumps(doc["refused"])
    assert {s["metadata"]["name"]: s["metadata"]["resourceVersion"]
            for s in get(fresh, "/api/v1/services")["items"]} == rvs
