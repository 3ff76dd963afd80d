"""`trace` against a real kube-apiserver: the live path equals the path of its own dump, it lists exactly what
`svc NAME` / `ingress NAME` list (each kind once, nothing more: counted in the API server's audit log), and a name
that matches nothing is exit 2."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane
from load import items, load
from test_plugin import offline, plugin

from tests.conftest import FIXTURES, without_source

NS = "trace-shop"


def _moved(obj: dict[str, Any]) -> dict[str, Any]:
    obj = yaml.safe_load(yaml.safe_dump(obj))
    obj["metadata"]["namespace"] = NS
    for endpoint in obj.get("endpoints") or []:
        if (endpoint.get("targetRef") or {}).get("namespace"):
            endpoint["targetRef"]["namespace"] = NS
    for port in (obj.get("spec") or {}).get("ports") or []:
        if obj.get("kind") == "Service":
            port.pop("nodePort", None)  # the API server allocates them
    # healthy.yaml's backends-label selects its own nodes, which this shared API server does not have (TKE118
    # would rightly say the label selects none).
    (obj["metadata"].get("annotations") or {}).pop("service.kubernetes.io/qcloud-loadbalancer-backends-label", None)
    return obj


@pytest.fixture(scope="module")
def cluster(
    controlplane: ControlPlane, kubectl: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """healthy.yaml's namespace shop (Services, Pods, EndpointSlices, the Ingress and its TkeServiceConfig) as
    namespace trace-shop, and one broken Service whose selector matches nothing."""
    objs = [_moved(o) for o in items(FIXTURES / "healthy.yaml") if (o.get("metadata") or {}).get("namespace") == "shop"]
    objs.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "orphan", "namespace": NS},
            "spec": {"type": "NodePort", "selector": {"app": "gone"}, "ports": [{"name": "http", "port": 80}]},
        }
    )
    path = tmp_path_factory.mktemp("trace") / "trace-shop.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objs}))
    load(controlplane, kubectl, path)
    yield controlplane


def _lists(cp: ControlPlane, before: int) -> list[str]:
    """The resources the plugin LISTed since `before` audit events, first pages only, in order, with their
    namespace: TKE603 reads kube-system's kube-dns (a Service and its EndpointSlices) beside the run's own."""
    time.sleep(0.5)  # audit events are written after the response
    return [
        f"{e['objectRef'].get('resource')}@{e['objectRef'].get('namespace', '')}"
        for e in cp.audit_events()[before:]
        if e.get("stage") == "ResponseComplete"
        and e.get("verb") == "list"
        and str(e.get("userAgent", "")).startswith("kubectl-tke-net")
        and "continue=" not in e["requestURI"]
    ]


@pytest.mark.parametrize(("target", "command"), [("svc/web", ("svc", "web")), ("ing/shop", ("ingress", "shop"))])
def test_trace_lists_what_the_diagnosis_lists_and_nothing_more(
    cluster: ControlPlane, target: str, command: tuple[str, str]
) -> None:
    before = len(cluster.audit_events())
    run = plugin(cluster, *command, "-n", NS, "-o", "json")
    assert run.status in (0, 1), run.err
    diagnosis = _lists(cluster, before)
    before = len(cluster.audit_events())
    run = plugin(cluster, "trace", target, "-n", NS, "-o", "json")
    assert run.status in (0, 1), run.err
    traced = _lists(cluster, before)
    assert sorted(traced) == sorted(diagnosis), (traced, diagnosis)
    assert len(traced) == len(set(traced)), traced  # each kind once
    doc = run.json()
    # The fixture's Pods name nodes of their own, which this shared API server may not have: that hop says so.
    states = {h["stage"]: h["state"] for h in doc["trace"]["hops"] if h["stage"] != "nodes"}
    assert states and set(states.values()) == {"ok"}, (states, [(f["code"], f["message"]) for f in doc["findings"]])
    print(f"trace {target}: {len(traced)} LIST requests ({', '.join(sorted(traced))}), {run.seconds:.2f}s")


@pytest.mark.parametrize("target", ["svc/web", "svc/orphan", "ing/shop"])
def test_live_trace_equals_the_trace_of_its_own_dump(cluster: ControlPlane, tmp_path: Path, target: str) -> None:
    live = plugin(cluster, "trace", target, "-n", NS, "-o", "json")
    assert live.status in (0, 1), live.err
    dump = plugin(cluster, "dump", "-n", NS)
    assert dump.status == 0, dump.err
    (tmp_path / "dump.yaml").write_text(dump.out)
    snap = offline("trace", target, "-n", NS, "-o", "json", "--snapshot", str(tmp_path / "dump.yaml"))
    assert without_source(live.json()) == without_source(snap)
    tree = plugin(cluster, "trace", target, "-n", NS)
    assert tree.out.splitlines()[0].startswith(("Service", "Ingress"))


def test_live_broken_service_is_failing_at_its_pods(cluster: ControlPlane) -> None:
    run = plugin(cluster, "trace", "svc/orphan", "-n", NS, "-o", "json")
    assert run.status == 1, run.err
    doc = run.json()
    pods = [h for h in doc["trace"]["hops"] if h["stage"] == "pods"]
    assert [(h["state"], [c["code"] for c in h["codes"]]) for h in pods] == [("failing", ["TKE101"])]
    assert doc["trace"]["state"] == "failing"


def test_live_name_that_matches_nothing(cluster: ControlPlane) -> None:
    run = plugin(cluster, "trace", "svc/nope", "-n", NS)
    assert (run.status, run.out) == (2, "")
    assert run.err == f'error: service "nope" not found in namespace "{NS}"\n'
