"""Least privilege on a real API server: the roles of deploy/rbac/, applied with the real kubectl.

With the read-only role nothing is skipped and every write is denied; each fix role lets exactly its action
apply; namespace-only read access skips the cluster-scoped checks, with reasons, and misreports nothing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controlplane import ControlPlane, ControlPlaneError, describe_events
from load import items, load
from test_plugin import ROOT, plugin

from tests.conftest import FIXTURES, without_source

RBAC = ROOT / "deploy" / "rbac"
ACTIONS: dict[str, tuple[str, ...]] = {
    "kube-proxy": ("fix", "kube-proxy"),
    "prevent-loopback": ("fix", "prevent-loopback", "-A", "--all-lb", "--force"),
    "ingress-keepalive": ("fix", "ingress-keepalive", "-A"),
    "coredns-rewrite": ("fix", "coredns-rewrite", "--host", "roc.example.com", "--service", "server", "-n", "prod"),
}
NAMESPACE = "prod"


def kubectl_run(cp: ControlPlane, kubectl: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([kubectl, *args], env=cp.env(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


@pytest.fixture(scope="module")
def rbac(kubectl: str) -> Iterator[ControlPlane]:
    """A control plane of its own (the fix actions write), the roles applied and bound to users:
    reader (read-only), fix-ACTION (read-only and that action's role), ns-reader (read-only in prod only)."""
    cp = ControlPlane()
    try:
        cp.start()
        load(
            cp,
            kubectl,
            FIXTURES / "fix-cluster.yaml",
            *(_without_node_ports(cp, FIXTURES / name) for name in ("services.yaml", "ingress-tls.yaml")),
        )
    except ControlPlaneError as exc:
        cp.stop()
        pytest.fail(f"the e2e control plane could not be started: {exc}", pytrace=False)
    kubectl_run(cp, kubectl, "apply", "-f", str(RBAC))
    for user in ("reader", *(f"fix-{a}" for a in ACTIONS)):
        kubectl_run(
            cp,
            kubectl,
            "create",
            "clusterrolebinding",
            f"{user}-read",
            "--clusterrole=tke-net-read-only",
            f"--user={user}",
        )
        kubectl_run(
            cp,
            kubectl,
            "create",
            "rolebinding",
            f"{user}-read",
            "-n",
            "kube-system",
            "--role=tke-net-read-kube-system",
            f"--user={user}",
        )
    for action in ACTIONS:
        doc = next(d for d in _yaml_docs(RBAC / f"fix-{action}.yaml") if d["kind"] in ("Role", "ClusterRole"))
        if doc["kind"] == "Role":
            kubectl_run(
                cp,
                kubectl,
                "create",
                "rolebinding",
                f"fix-{action}",
                "-n",
                doc["metadata"]["namespace"],
                f"--role={doc['metadata']['name']}",
                f"--user=fix-{action}",
            )
        else:
            kubectl_run(
                cp,
                kubectl,
                "create",
                "clusterrolebinding",
                f"fix-{action}",
                f"--clusterrole={doc['metadata']['name']}",
                f"--user=fix-{action}",
            )
    kubectl_run(
        cp,
        kubectl,
        "create",
        "rolebinding",
        "ns-reader",
        "-n",
        NAMESPACE,
        "--clusterrole=tke-net-read-only",
        "--user=ns-reader",
    )
    yield cp
    cp.stop()


def _without_node_ports(cp: ControlPlane, path: Path) -> Path:
    """The fixture with the server left to pick nodePorts: the fixtures reuse the same ones."""
    import yaml

    objs = items(path)
    for obj in objs:
        for port in (obj.get("spec") or {}).get("ports") or [] if obj.get("kind") == "Service" else []:
            port.pop("nodePort", None)
    assert cp.tmp is not None
    out = cp.tmp / f"no-node-ports-{path.name}"
    out.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objs}))
    return out


def _yaml_docs(path: Path) -> list[dict[str, Any]]:
    import yaml

    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def versions(cp: ControlPlane) -> dict[str, str]:
    """resourceVersion of every object a fix action may change."""
    out = {}
    for path in (
        "/api/v1/services",
        "/apis/networking.k8s.io/v1/ingresses",
        "/apis/cloud.tencent.com/v1alpha1/tkeserviceconfigs",
        "/apis/apps/v1/namespaces/kube-system/daemonsets",
        "/api/v1/namespaces/kube-system/configmaps",
    ):
        status, body = cp.request("GET", path)
        assert status == 200, body
        for item in body["items"]:
            meta = item["metadata"]
            out[f"{path}/{meta.get('namespace')}/{meta['name']}"] = meta["resourceVersion"]
    return out


def test_the_example_bindings_grant_their_groups(rbac: ControlPlane, kubectl: str) -> None:
    def can(*args: str) -> str:
        done = subprocess.run(
            [kubectl, "auth", "can-i", *args], env=rbac.env(), capture_output=True, text=True, timeout=60, check=False
        )
        return done.stdout.strip()

    readers = ("--as=alice", "--as-group=tke-net:readers")
    assert can("list", "pods", "-A", *readers) == "yes"
    assert can("list", "secrets", "-A", *readers) == "yes"
    assert can("list", "daemonsets.apps", "-n", "kube-system", *readers) == "yes"
    assert can("list", "daemonsets.apps", "-n", "prod", *readers) == "no"
    assert can("get", "secrets", "-n", "web", *readers) == "no"
    assert can("patch", "services", "-n", "prod", *readers) == "no"
    kube_proxy = ("--as=bob", "--as-group=tke-net:fix-kube-proxy")
    assert can("patch", "daemonsets.apps/kube-proxy", "-n", "kube-system", *kube_proxy) == "yes"
    assert can("patch", "daemonsets.apps/other", "-n", "kube-system", *kube_proxy) == "no"
    coredns = ("--as=bob", "--as-group=tke-net:fix-coredns-rewrite")
    assert can("patch", "configmaps/coredns", "-n", "kube-system", *coredns) == "yes"
    assert can("patch", "configmaps/kube-proxy", "-n", "kube-system", *coredns) == "no"
    rules = ("--as=carol", "--as-group=tke-net:probe-rules")  # deploy/rbac/probe-rules.yaml
    assert can("create", "pods", "-n", "kube-system", *rules) == "yes"
    assert can("delete", "pods", "-n", "kube-system", *rules) == "yes"
    assert can("list", "pods", "-n", "kube-system", *rules) == "yes"
    assert can("create", "pods", "-n", "prod", *rules) == "no"
    assert can("patch", "pods", "-n", "kube-system", *rules) == "no"
    assert can("create", "pods", "--subresource=exec", "-n", "kube-system", *rules) == "no"


@pytest.mark.parametrize("command", ["svc", "ingress", "loopback"])
def test_read_only_role_runs_every_check(rbac: ControlPlane, command: str) -> None:
    admin = plugin(rbac, command, "-A", "-o", "json")
    reader = plugin(rbac, command, "-A", "-o", "json", "--as", "reader")
    assert reader.status == admin.status, reader.err
    assert reader.json()["skipped"] == [], reader.json()["skipped"]
    assert without_source(reader.json()) == without_source(admin.json())
    assert reader.json()["findings"], "the fixtures must have findings"


def test_read_only_role_dumps_everything_but_secret_data(rbac: ControlPlane) -> None:
    run = plugin(rbac, "dump", "-A", "--as", "reader")
    assert run.status == 0 and run.err == "", run.err
    kinds = {item["kind"] for item in json.loads(run.out)["items"]}
    assert {"Secret", "Service", "Pod", "Ingress", "DaemonSet", "ConfigMap", "Node", "TkeServiceConfig"} <= kinds


@pytest.mark.parametrize("action", list(ACTIONS))
def test_read_only_role_cannot_write(rbac: ControlPlane, tmp_path: Path, action: str) -> None:
    before = versions(rbac)
    run = plugin(rbac, *ACTIONS[action], "--apply", "--as", "reader", "--backup-dir", str(tmp_path), "-o", "json")
    doc = run.json()
    assert run.status == 1, run.err
    assert doc["applied"] is False and doc["backup"] is None and list(tmp_path.iterdir()) == []
    assert doc["refused"] and all("forbidden" in r["reason"] for r in doc["refused"]), doc["refused"]
    assert versions(rbac) == before
    patches = rbac.wait_for_audit(bool, verb="patch", user="reader")
    assert all(e["responseStatus"]["code"] == 403 for e in patches), describe_events(patches)


@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_fix_role_allows_exactly_its_action(rbac: ControlPlane, tmp_path: Path, action: str) -> None:
    user = f"fix-{action}"
    for other, args in ACTIONS.items():
        if other == action:
            continue
        before = versions(rbac)
        run = plugin(rbac, *args, "--apply", "--as", user, "--backup-dir", str(tmp_path / other), "-o", "json")
        if run.json()["changes"]:  # an earlier test may have done it already: then there is nothing to deny
            assert run.status == 1 and run.json()["applied"] is False, (other, run.out)
            assert all("forbidden" in r["reason"] for r in run.json()["refused"]), run.json()["refused"]
        assert versions(rbac) == before, other
    run = plugin(rbac, *ACTIONS[action], "--apply", "--as", user, "--backup-dir", str(tmp_path / action), "-o", "json")
    doc = run.json()
    assert run.status == 0, run.out + run.err
    assert doc["applied"] is True and doc["refused"] == [] and Path(doc["backup"]).is_file()
    again = plugin(rbac, *ACTIONS[action], "--as", user, "-o", "json")
    assert again.status == 0 and again.json()["changes"] == []


@pytest.mark.parametrize("command", ["svc", "ingress", "loopback"])
def test_namespace_only_access_skips_cluster_checks_and_misreports_nothing(rbac: ControlPlane, command: str) -> None:
    admin = plugin(rbac, command, "-n", NAMESPACE, "-o", "json").json()
    run = plugin(rbac, command, "-n", NAMESPACE, "-o", "json", "--as", "ns-reader")
    assert run.status in (0, 1), run.err
    doc = run.json()
    skipped = {code: entry["reason"] for entry in doc["skipped"] for code in entry["codes"]}
    assert skipped, "cluster-scoped checks must be skipped"
    assert all(reason.startswith("forbidden: ") for reason in skipped.values()), skipped
    # TKE303 still runs: it needs no kube-proxy, and the node count only makes it an error on one node.
    expected_skips = {
        "svc": {"TKE110", "TKE302", "TKE304"},
        "ingress": {"TKE209"},
        "loopback": {"TKE301", "TKE302", "TKE304"},
    }[command]
    assert expected_skips <= set(skipped), skipped
    assert doc["findings"] == [f for f in admin["findings"] if f["code"] not in skipped]
    assert doc["cluster"]["nodes"] is None and doc["cluster"]["kubeProxy"]["mode"] == "unknown"
