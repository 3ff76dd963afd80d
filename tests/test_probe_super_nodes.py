"""Issue 19 (super nodes, the probe's part): the probe never picks a super node (eklet) unless --probe-node names it,
never tests a NodePort on one, and a backend on a super node does not make its node "a node that hosts a backend"
for TKE124. Objects from tests/fixtures/probe.yaml plus a super node shaped as TKE-FACTS-2 §3.1 quotes it (name
eklet-subnet-qbc3zefo-0, label node.kubernetes.io/instance-type: eklet, taint eks.tke.cloud.tencent.com/eklet) and a
Pod on it as super-node Pods are (annotation tke.cloud.tencent.com/pod-type: eklet, hostIP == podIP)."""

from __future__ import annotations

from typing import Any

from kubectl_tke_net.checks.probe import ProbeContext
from kubectl_tke_net.probe import NODE_PORT
from kubectl_tke_net.probe.plan import make_plan
from kubectl_tke_net.snapshot import open_snapshot
from tests.conftest import fixture

SUPER = "eklet-subnet-qbc3zefo-0"
SUPER_IP = "10.0.3.7"  # the super node's InternalIP: not routable, nothing listens on NodePorts there


def _super_node() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": SUPER,
            "labels": {"node.kubernetes.io/instance-type": "eklet", "kubernetes.io/hostname": SUPER},
            "annotations": {"eks.tke.cloud.tencent.com/subnet-id": "subnet-qbc3zefo"},
        },
        "spec": {"taints": [{"key": "eks.tke.cloud.tencent.com/eklet", "effect": "NoSchedule"}]},
        "status": {
            "addresses": [{"type": "InternalIP", "address": SUPER_IP}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def _ctx(*, drop_nodes: tuple[str, ...] = (), backend_on_super: bool = False, only_super: bool = False) -> ProbeContext:
    snap = open_snapshot(fixture("probe"), "probe")
    nodes = snap.list("nodes")
    nodes[:] = [n for n in nodes if n["metadata"]["name"] not in drop_nodes]
    nodes.append(_super_node())
    if backend_on_super:
        ip = "10.0.3.21"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-eklet",
                "namespace": "probe",
                "labels": {"app": "web"},
                "annotations": {"tke.cloud.tencent.com/pod-type": "eklet"},
            },
            "spec": {
                "nodeName": SUPER,
                "containers": [{"name": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}],
            },
            "status": {
                "phase": "Running",
                "hostIP": ip,
                "podIP": ip,
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
        snap.list("pods").append(pod)
        [es] = [e for e in snap.list("endpointslices") if e["metadata"]["name"] == "web-x7k2p"]
        endpoint = {
            "addresses": [ip],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "nodeName": SUPER,
            "targetRef": {"kind": "Pod", "namespace": "probe", "name": "web-eklet"},
        }
        es["endpoints"] = [endpoint] if only_super else [*es["endpoints"], endpoint]
    return ProbeContext(snap)


def _node_port_targets(plan: Any) -> list[list[str]]:
    return [[t.node for t in p.tests if t.path == NODE_PORT] for p in plan.pods]


def test_a_super_node_is_not_the_node_without_a_backend() -> None:
    # 10.0.1.12, the only CVM node without a backend, is gone: the super node is the only node "without" one.
    plan = make_plan(_ctx(drop_nodes=("10.0.1.12",)), "service", "web", "probe", run_id="r1")
    assert [p.node for p in plan.pods] == ["10.0.1.10"]
    assert "only the first kind" in " ".join(plan.notes)
    assert not any(SUPER_IP in t.arg for p in plan.pods for t in p.tests)


def test_a_super_node_that_hosts_every_backend_is_not_the_node_with_one() -> None:
    plan = make_plan(_ctx(backend_on_super=True, only_super=True), "service", "web", "probe", run_id="r1")
    assert [(p.node, p.hosts_backend) for p in plan.pods] == [("10.0.1.10", False)]
    # Its Pod is still tested directly (the super-node Pod's own VPC address), its node's NodePort is not.
    args = [t.arg for t in plan.pods[0].tests]
    assert "tcp 10.0.3.21 8080" in args
    assert not any(a.startswith(f"tcp {SUPER_IP} ") for a in args)


def test_a_backend_on_a_super_node_does_not_make_the_default_pick_change() -> None:
    plan = make_plan(_ctx(backend_on_super=True), "service", "web", "probe", run_id="r1")
    assert [(p.node, p.hosts_backend) for p in plan.pods] == [("10.0.1.10", True), ("10.0.1.12", False)]
    assert _node_port_targets(plan) == [["10.0.1.10", "10.0.1.12"], ["10.0.1.12", "10.0.1.10"]]


def test_probe_node_may_name_a_super_node_but_its_node_port_is_never_tested() -> None:
    plan = make_plan(
        _ctx(backend_on_super=True), "service", "web", "probe", run_id="r1", requested_nodes=["10.0.1.10", SUPER]
    )
    assert [(p.node, p.hosts_backend) for p in plan.pods] == [("10.0.1.10", True), (SUPER, False)]
    # From 10.0.1.10: its own NodePort only; from the super node: the CVM node's NodePort, not its own.
    assert _node_port_targets(plan) == [["10.0.1.10"], ["10.0.1.10"]]
    assert any(SUPER in n and "super node" in n and "NodePort 30080 is not tested" in n for n in plan.notes)


def test_alone_on_a_super_node_the_other_node_port_is_a_cvm_node() -> None:
    plan = make_plan(_ctx(), "service", "web", "probe", run_id="r1", requested_nodes=[SUPER])
    assert _node_port_targets(plan) == [["10.0.1.10"]]
