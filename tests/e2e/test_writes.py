"""fix on a real API server: dry runs write nothing, --apply changes only the planned fields, rollback, RBAC."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane
from load import own_controlplane
from test_plugin import FIXTURES, plugin

DS = "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"


@pytest.fixture(scope="module")
def fresh(kubectl: str) -> Iterator[ControlPlane]:
    """A control plane of its own: these tests change cluster-wide objects."""
    with own_controlplane(kubectl, FIXTURES / "fix-cluster.yaml") as cp:
        yield cp


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
    assert backed_up["kind"] == "Backup" and [o["name"] for o in backed_up["objects"]] == ["kube-proxy"]
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
    run = plugin(
        fresh, "fix", "prevent-loopback", "-A", "--force", "--apply", "--backup-dir", str(tmp_path), "-o", "json"
    )
    assert run.status == 0, run.err
    changed = [(c["namespace"], c["name"]) for c in run.json()["changes"]]
    assert changed
    ns, name = changed[0]
    path = f"/api/v1/namespaces/{ns}/services/{name}"
    assert get(fresh, path)["metadata"]["annotations"]["service.cloud.tencent.com/prevent-loopback"] == "true"
    back = plugin(
        fresh, "fix", "rollback", run.json()["backup"], "--apply", "--backup-dir", str(tmp_path), "-o", "json"
    )
    assert back.status == 0, back.err
    annotations = get(fresh, path)["metadata"].get("annotations") or {}
    assert "service.cloud.tencent.com/prevent-loopback" not in annotations


OLD_IMAGE = "hkccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.5"
GENERATION = "deprecated.daemonset.template.generation"


def by_name(ds: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in containers(ds)}


def put(cp: ControlPlane, path: str, edit: Any) -> dict[str, Any]:
    """Someone else's read-modify-write of the object (a controller, a user)."""
    obj = get(cp, path)
    edit(obj)
    status, body = cp.request("PUT", path, obj)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def test_kube_proxy_rollback_restores_only_the_image(fresh: ControlPlane, tmp_path: Path) -> None:
    """apply, then edits by others, then rollback: only the image goes back. The API server's own
    deprecated.daemonset.template.generation, other fields changed in between, env and resources stay."""
    put(fresh, DS, lambda ds: by_name(ds)["kube-proxy"].update(image=OLD_IMAGE))  # an earlier test applied it
    before = get(fresh, DS)
    assert by_name(before)["kube-proxy"]["env"] and by_name(before)["kube-proxy"]["resources"]
    run = plugin(fresh, "fix", "kube-proxy", "--apply", "--backup-dir", str(tmp_path / "apply"), "-o", "json")
    assert run.status == 0, run.err
    applied = get(fresh, DS)
    assert by_name(applied)["kube-proxy"]["image"] != OLD_IMAGE
    for name, container in by_name(before).items():
        assert dict(by_name(applied)[name], image="") == dict(container, image="")  # env, resources, ... untouched
    backup = yaml.safe_load(Path(run.json()["backup"]).read_text())
    assert (backup["kind"], backup["server"]) == ("Backup", fresh.url.rstrip("/"))
    assert [f["path"] for f in backup["objects"][0]["fields"]] == [
        ["spec", "template", "spec", "containers", {"name": "kube-proxy"}, "image"]
    ]

    def others(ds: dict[str, Any]) -> None:
        # The DaemonSet controller's and a user's edits. A template change makes the API server count up
        # deprecated.daemonset.template.generation (it is spec.templateGeneration, which only it may set).
        ds["metadata"]["labels"]["team"] = "sre"
        by_name(ds)["kube-proxy"]["resources"]["limits"] = {"memory": "256Mi"}
        by_name(ds)["conntrack-exporter"]["image"] = "ccr.ccs.tencentyun.com/tkeimages/conntrack-exporter:v0.3.2"

    edited = put(fresh, DS, others)
    assert int(edited["metadata"]["annotations"][GENERATION]) > int(before["metadata"]["annotations"][GENERATION])
    back = plugin(
        fresh, "fix", "rollback", run.json()["backup"], "--apply", "--backup-dir", str(tmp_path / "back"), "-o", "json"
    )
    assert back.status == 0, back.out + back.err
    (change,) = back.json()["changes"]
    assert change["status"] == "applied" and change["patchType"] == "strategic"
    assert change["patch"] == {
        "metadata": {"resourceVersion": edited["metadata"]["resourceVersion"]},
        "spec": {"template": {"spec": {"containers": [{"name": "kube-proxy", "image": OLD_IMAGE}]}}},
    }
    after = get(fresh, DS)
    assert by_name(after)["kube-proxy"]["image"] == OLD_IMAGE
    for name, container in by_name(edited).items():
        assert dict(by_name(after)[name], image="") == dict(container, image="")
    assert by_name(after)["conntrack-exporter"]["image"].endswith("v0.3.2")
    assert after["metadata"]["labels"]["team"] == "sre"
    # The API server counted up once more for the rollback's template change; the backup's value was never sent.
    generation = int(after["metadata"]["annotations"][GENERATION])
    assert generation == int(edited["metadata"]["annotations"][GENERATION]) + 1
    again = plugin(fresh, "fix", "rollback", run.json()["backup"], "-o", "json")
    assert again.status == 0 and again.json()["changes"] == []


def test_rollback_refuses_a_foreign_backup_and_a_plain_list(fresh: ControlPlane, tmp_path: Path) -> None:
    """Refused with exit 2 and nothing written: a backup of another API server (unless --force), and a plain
    List of objects, which is not a backup at all."""
    put(fresh, DS, lambda ds: by_name(ds)["kube-proxy"].update(image=OLD_IMAGE))
    run = plugin(fresh, "fix", "kube-proxy", "--apply", "--backup-dir", str(tmp_path), "-o", "json")
    assert run.status == 0, run.err
    mine = Path(run.json()["backup"])
    foreign = tmp_path / "foreign.yaml"
    foreign.write_text(mine.read_text().replace(f"server: {fresh.url.rstrip('/')}", "server: https://cls-other:443"))
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [get(fresh, DS)]}))
    rv = get(fresh, DS)["metadata"]["resourceVersion"]
    for path, says in ((foreign, "was taken from the API server https://cls-other:443"), (plain, "is not a tke-net")):
        refused = plugin(fresh, "fix", "rollback", str(path), "--apply", "--backup-dir", str(tmp_path / "x"))
        assert (refused.status, refused.out) == (2, ""), refused.err
        assert refused.err.startswith("error: ") and says in refused.err and refused.err.count("\n") == 1
    assert get(fresh, DS)["metadata"]["resourceVersion"] == rv
    assert not (tmp_path / "x").exists()
    forced = plugin(fresh, "fix", "rollback", str(foreign), "--apply", "--force", "--backup-dir", str(tmp_path / "f"))
    assert forced.status == 0, forced.out + forced.err
    assert by_name(get(fresh, DS))["kube-proxy"]["image"] == OLD_IMAGE


def test_read_only_user_is_refused_and_nothing_is_written(fresh: ControlPlane, tmp_path: Path) -> None:
    fresh.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "e2e-read-only"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "reader"}],
        },
    )
    rvs = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in get(fresh, "/api/v1/services")["items"]}
    run = plugin(
        fresh,
        "fix",
        "prevent-loopback",
        "-A",
        "--all-lb",
        "--force",
        "--apply",
        "--as",
        "reader",
        "--backup-dir",
        str(tmp_path),
        "-o",
        "json",
    )
    assert run.status == 1
    doc = run.json()
    assert doc["applied"] is False and doc["backup"] is None and list(tmp_path.iterdir()) == []
    assert doc["refused"] and all("forbidden" in r["reason"] for r in doc["refused"]), json.dumps(doc["refused"])
    assert {
        s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in get(fresh, "/api/v1/services")["items"]
    } == rvs


def test_an_edit_between_plan_and_write_is_a_conflict_and_survives(
    fresh: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone edits the Service after the plugin read it: the real server answers 409, their edit stays."""
    from kubectl_tke_net.cli import main
    from kubectl_tke_net.sources.cluster import Cluster

    services = [
        s
        for s in get(fresh, "/api/v1/services")["items"]
        if s["spec"].get("type") == "LoadBalancer"
        and "service.cloud.tencent.com/prevent-loopback" not in (s["metadata"].get("annotations") or {})
    ]
    assert services, "the fixture needs a LoadBalancer Service without prevent-loopback"
    ns, name = services[0]["metadata"]["namespace"], services[0]["metadata"]["name"]
    path = f"/api/v1/namespaces/{ns}/services/{name}"
    real_patch = Cluster.patch

    def patch_after_someone_else(
        self: Cluster, target: str, body: dict[str, Any], dry_run: bool = False, strategic: bool = False
    ) -> tuple[int, Any]:
        if not dry_run:  # the concurrent edit lands after the dry run, before the write
            current = get(fresh, path)
            current["metadata"].setdefault("annotations", {})["team.example.com/owner"] = "sre"
            status, answer = fresh.request("PUT", path, current)
            assert status == 200, answer
        return real_patch(self, target, body, dry_run=dry_run, strategic=strategic)

    monkeypatch.setattr(Cluster, "patch", patch_after_someone_else)
    monkeypatch.setenv("KUBECONFIG", str(fresh.kubeconfig))
    status = main(
        ["fix", "prevent-loopback", name, "-n", ns, "--force", "--apply", "--backup-dir", str(tmp_path), "-o", "json"]
    )
    out, err = capsys.readouterr()
    assert status == 1, out + err
    doc = json.loads(out)
    assert doc["applied"] is False and [c["status"] for c in doc["changes"]] == ["conflict"]
    assert [r["reason"].split(":")[0] for r in doc["refused"]] == ["conflict"]
    assert Path(doc["backup"]).is_file()  # written before the write was tried
    annotations = get(fresh, path)["metadata"]["annotations"]
    assert annotations["team.example.com/owner"] == "sre"
    assert "service.cloud.tencent.com/prevent-loopback" not in annotations


def test_coredns_rewrite_applies_once(fresh: ControlPlane, tmp_path: Path) -> None:
    args = ("fix", "coredns-rewrite", "--host", "roc.example.com", "--service", "server", "-n", "prod")
    run = plugin(fresh, *args, "--apply", "--backup-dir", str(tmp_path), "-o", "json")
    assert run.status == 0, run.err
    corefile = get(fresh, "/api/v1/namespaces/kube-system/configmaps/coredns")["data"]["Corefile"]
    assert "rewrite stop name exact roc.example.com server.prod.svc.cluster.local" in corefile
    again = plugin(fresh, *args, "-o", "json")
    assert again.status == 0 and again.json()["changes"] == []
    assert get(fresh, "/api/v1/namespaces/kube-system/configmaps/coredns")["data"]["Corefile"] == corefile


def test_ingress_keepalive_waits_for_the_controllers_config(fresh: ControlPlane, tmp_path: Path) -> None:
    """The annotation is applied, the TkeServiceConfig appears later (we play the controller), --wait finishes."""
    import threading
    import time

    tsc = "/apis/cloud.tencent.com/v1alpha1/namespaces/prod/tkeserviceconfigs"

    def controller() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ing = get(fresh, "/apis/networking.k8s.io/v1/namespaces/prod/ingresses/admin")
            if (ing["metadata"].get("annotations") or {}).get(
                "ingress.cloud.tencent.com/tke-service-config-auto"
            ) == "true":
                time.sleep(2)
                fresh.create(
                    tsc,
                    {
                        "apiVersion": "cloud.tencent.com/v1alpha1",
                        "kind": "TkeServiceConfig",
                        "metadata": {"name": "admin-auto-ingress-config", "namespace": "prod"},
                        "spec": {
                            "loadBalancer": {
                                "l7Listeners": [
                                    {"protocol": "HTTP", "port": 80, "keepaliveEnable": 0},
                                    {"protocol": "HTTPS", "port": 443},
                                ]
                            }
                        },
                    },
                )
                return
            time.sleep(0.3)

    thread = threading.Thread(target=controller, daemon=True)
    thread.start()
    run = plugin(
        fresh,
        "fix",
        "ingress-keepalive",
        "-n",
        "prod",
        "--apply",
        "--wait",
        "60s",
        "--backup-dir",
        str(tmp_path),
        "-o",
        "json",
    )
    thread.join(timeout=35)
    assert run.status == 0, run.out + run.err
    for name in ("admin-auto-ingress-config", "myapp-auto-ingress-config"):
        listeners = get(fresh, f"{tsc}/{name}")["spec"]["loadBalancer"]["l7Listeners"]
        assert listeners and all(lst["keepaliveEnable"] == 1 for lst in listeners), (name, listeners)
    assert {
        lst["port"] for lst in get(fresh, f"{tsc}/admin-auto-ingress-config")["spec"]["loadBalancer"]["l7Listeners"]
    } == {80, 443}
    again = plugin(fresh, "fix", "ingress-keepalive", "-n", "prod", "-o", "json")
    assert again.status == 0 and again.json()["changes"] == []
