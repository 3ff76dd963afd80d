"""TKE3xx on fixture clusters: kube-proxy version and mode, prevent-loopback, L7 keep-alive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CLI, finding, fixture, found, golden, messages, severities, variant

LOOPBACK = {
    ("TKE301", "DaemonSet/kube-system/kube-proxy"),
    ("TKE302", "Service/shop/internal"),
    ("TKE303", "Ingress/shop/auto-partial"),
    ("TKE303", "Ingress/shop/named-missing"),
    ("TKE303", "Ingress/shop/bare"),
    ("TKE304", "Service/shop/internal-annotated"),
}


def proxy(doc: dict[str, Any]) -> dict[str, Any]:
    """The kube-proxy container of a List."""
    ds = next(i for i in doc["items"] if i["kind"] == "DaemonSet")
    return ds["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def test_old_ipvs_cluster(cli: CLI) -> None:
    run = cli("loopback", "-A", "--snapshot", fixture("loopback"), "-o", "json")
    assert found(run) == LOOPBACK
    assert run.json()["cluster"]["kubeProxy"]["loopbackFixed"] is False
    sev = severities(run)
    # Two Ready nodes (the third is NotReady): no escalation.
    assert sev[("TKE302", "internal")] == "warning" and sev[("TKE303", "bare")] == "warning"
    msgs = messages(run)
    assert "lacks keepaliveEnable: 1 on listener HTTPS:443" in msgs[("TKE303", "auto-partial")]
    assert "TkeServiceConfig shop-l7 does not exist" in msgs[("TKE303", "named-missing")]
    assert "v1.20.6-tke.3" in msgs[("TKE301", "kube-proxy")] and "v1.20.6-tke.12" in msgs[("TKE301", "kube-proxy")]


def test_svc_and_ingress_run_their_loopback_checks(cli: CLI) -> None:
    svc = found(cli("svc", "-A", "--snapshot", fixture("loopback"), "-o", "json", "--select", "TKE3"))
    assert svc == {("TKE302", "Service/shop/internal"), ("TKE304", "Service/shop/internal-annotated")}
    ing = found(cli("ingress", "-A", "--snapshot", fixture("loopback"), "-o", "json", "--select", "TKE3"))
    assert ing == {f for f in LOOPBACK if f[0] == "TKE303"}


def test_single_ready_node_escalates_to_error(cli: CLI, tmp_path: Path) -> None:
    path = variant(tmp_path, "loopback", lambda doc: doc["items"].pop(0))
    sev = severities(cli("loopback", "-A", "--snapshot", path, "-o", "json"))
    assert sev[("TKE302", "internal")] == "error"
    assert sev[("TKE303", "bare")] == "error"
    assert sev[("TKE304", "internal-annotated")] == "warning"


def super_node(name: str, by_label: bool = True) -> dict[str, Any]:
    """A Ready super node (eklet) as the API returns it (TKE-FACTS-2 §3.1): recognised by its instance-type
    label, or (by_label False) by its eklet-* name alone."""
    node_labels = {"eks.tke.cloud.tencent.com/available-ip-count": "250"}
    if by_label:
        node_labels["node.kubernetes.io/instance-type"] = "eklet"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": node_labels,
            "annotations": {"eks.tke.cloud.tencent.com/subnet-id": "subnet-qbc3zefo"},
        },
        "spec": {"taints": [{"key": "eks.tke.cloud.tencent.com/eklet", "effect": "NoSchedule"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


@pytest.mark.parametrize("by_label", [True, False], ids=["instance-type-label", "eklet-name"])
def test_one_cvm_node_and_super_nodes_is_a_single_node_cluster(cli: CLI, tmp_path: Path, by_label: bool) -> None:
    """Super nodes are never CLB backends through a NodePort and run no kube-proxy: one Ready CVM node beside
    them is, for CLB loopback, a single-node cluster (three Ready nodes by count)."""

    def one_cvm(doc: dict[str, Any]) -> None:
        doc["items"].pop(0)  # 10.0.1.11 stays the only Ready CVM node (10.0.1.12 is NotReady)
        doc["items"][:0] = [super_node("eklet-subnet-qbc3zefo-0", by_label), super_node("eklet-subnet-qbc3zefo-1")]

    run = cli("loopback", "-A", "--snapshot", variant(tmp_path, "loopback", one_cvm), "-o", "json")
    sev = severities(run)
    assert sev[("TKE302", "internal")] == "error"
    assert sev[("TKE303", "bare")] == "error"
    assert "on a single-node cluster" in messages(run)[("TKE302", "internal")]


def test_two_cvm_nodes_and_a_super_node_do_not_escalate(cli: CLI, tmp_path: Path) -> None:
    path = variant(tmp_path, "loopback", lambda doc: doc["items"].insert(0, super_node("eklet-subnet-qbc3zefo-0")))
    sev = severities(cli("loopback", "-A", "--snapshot", path, "-o", "json"))
    assert sev[("TKE302", "internal")] == "warning" and sev[("TKE303", "bare")] == "warning"


def test_gateway_loopback_counts_super_nodes_out(cli: CLI, tmp_path: Path) -> None:
    """TKE515 uses the same single-node rule: its fixture's two CVM nodes, one of them replaced by super nodes."""
    _header, doc = yaml.safe_load_all((Path(__file__).parent / "checks" / "TKE515.yaml").read_text(encoding="utf-8"))
    nodes = [i for i in doc["items"] if i["kind"] == "Node"]
    assert len(nodes) == 2
    doc["items"].remove(nodes[0])
    doc["items"] += [super_node("eklet-subnet-qbc3zefo-0"), super_node("eklet-subnet-qbc3zefo-1")]
    path = tmp_path / "tke515.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    run = cli("gateway", "-A", "--snapshot", str(path), "-o", "json", "--select", "TKE515")
    assert severities(run) == {("TKE515", "internal"): "error"}


def test_fixed_kube_proxy(cli: CLI, tmp_path: Path) -> None:
    def upgrade(doc: dict[str, Any]) -> None:
        proxy(doc)["image"] = "ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.20.6-tke.12"

    run = cli("loopback", "-A", "--snapshot", variant(tmp_path, "loopback", upgrade), "-o", "json")
    assert found(run) == {f for f in LOOPBACK if f[0] in ("TKE302", "TKE303")}


def test_iptables_mode_keeps_only_the_l7_problem(cli: CLI, tmp_path: Path) -> None:
    def iptables(doc: dict[str, Any]) -> None:
        proxy(doc)["args"] = ["--kubeconfig=/var/lib/kube-proxy/config"]

    run = cli("loopback", "-A", "--snapshot", variant(tmp_path, "loopback", iptables), "-o", "json")
    # TKE304 still fires: the annotation needs the fixed kube-proxy whatever the mode.
    assert found(run) == {f for f in LOOPBACK if f[0] in ("TKE303", "TKE304")}
    assert run.json()["cluster"]["kubeProxy"]["mode"] == "iptables"


def test_no_kube_proxy_daemonset(cli: CLI, tmp_path: Path) -> None:
    def remove(doc: dict[str, Any]) -> None:
        doc["items"] = [i for i in doc["items"] if i["kind"] != "DaemonSet"]

    run = cli("loopback", "-A", "--snapshot", variant(tmp_path, "loopback", remove), "-o", "json")
    assert found(run) == {("TKE305", "DaemonSet/kube-system/kube-proxy")} | {f for f in LOOPBACK if f[0] == "TKE303"}
    assert [s["codes"] for s in run.json()["skipped"]] == [["TKE302"]]
    assert run.json()["cluster"]["kubeProxy"]["mode"] == "unknown"


def test_tag_that_is_not_tke(cli: CLI, tmp_path: Path) -> None:
    def upstream(doc: dict[str, Any]) -> None:
        proxy(doc)["image"] = "registry.k8s.io/kube-proxy:v1.28.3"

    run = cli("loopback", "-A", "--snapshot", variant(tmp_path, "loopback", upstream), "-o", "json")
    assert found(run) == {("TKE306", "DaemonSet/kube-system/kube-proxy")} | {
        f for f in LOOPBACK if f[0] in ("TKE302", "TKE303")
    }
    assert run.json()["cluster"]["kubeProxy"]["version"] == "v1.28.3"


def test_tkeserviceconfig_crd_absent_is_skipped(cli: CLI, tmp_path: Path) -> None:
    def no_crd(doc: dict[str, Any]) -> None:
        doc["metadata"] = {
            "annotations": {"tke-net.kubectl.io/unavailable": '{"tkeserviceconfigs": "the API is not served"}'}
        }

    run = cli("loopback", "-A", "--snapshot", variant(tmp_path, "loopback", no_crd), "-o", "json")
    assert not any(code == "TKE303" for code, _ in found(run))
    assert {"codes": ["TKE303"], "reason": "the API is not served"} in run.json()["skipped"]


def test_loopback_table_opens_with_the_verdict_and_ends_with_the_fixes(cli: CLI) -> None:
    run = cli("loopback", "-A", "--snapshot", fixture("loopback"))
    assert run.status == 1
    golden("loopback.table", run.out)
    healthy = cli("loopback", "-A", "--snapshot", fixture("healthy")).out
    assert healthy.startswith(
        "Verdict: no CLB loopback exposure found\n  kube-proxy: ipvs mode, v1.20.6-tke.12, has the loopback fix\n"
    )
    assert "Fix, in this order" not in healthy


@pytest.mark.parametrize("listeners", [["HTTP:80"], {"protocol": "HTTP"}, [{"port": 80}, "x"]])
def test_malformed_l7_listeners_are_reported_not_a_crash(
    cli: CLI,
    tmp_path: Path,
    listeners: Any,
) -> None:
    """A hand-edited TkeServiceConfig: TKE303 says keep-alive cannot be confirmed; fix refuses to guess."""

    def change(doc: dict[str, Any]) -> None:
        config = next(i for i in doc["items"] if i["metadata"]["name"] == "auto-partial-auto-ingress-config")
        config["spec"]["loadBalancer"]["l7Listeners"] = listeners

    path = variant(tmp_path, "loopback", change)
    run = cli("loopback", "-A", "--snapshot", path, "-o", "json")
    assert run.status == 1 and "Traceback" not in run.err and run.err == "", run.err
    assert "l7Listeners is not a list of listeners" in finding(run, "TKE303", "Ingress/shop/auto-partial")["message"]
    run = cli("fix", "ingress-keepalive", "auto-partial", "-n", "shop", "--snapshot", path, "-o", "json")
    assert run.status == 1 and "Traceback" not in run.err
    assert "l7Listeners is not a list of listeners" in run.out
