"""The short cuts of the checks phase give what the plain way gives: what the Service checks share through the
facts (Context.services_with_pods, endpoints, selected_ready, selected_on_super_node) on every fixture cluster,
k8s.container_port_for walked once, and the objects the suppression looks up."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest

from kubectl_tke_net.checks.catalog import _may_suppress
from kubectl_tke_net.facts import Context
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.k8s import (
    TERMINATED_PHASES,
    container_port_for,
    container_ports,
    is_super_node_pod,
    labels,
    meta,
    pod_ready,
    ref,
)
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.snapshot import open_snapshot
from kubectl_tke_net.tke import IGNORE_ANNOTATION

ROOT = Path(__file__).parent.parent
CLUSTERS = sorted((ROOT / "tests" / "fixtures").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.yaml"))


def _context(path: Path) -> Context:
    return Context(open_snapshot(str(path), None))


def _selected(ctx: Context, svc: Obj) -> list[Obj]:
    """The Pods a Service selects, by the definition: its namespace, every selector pair, not terminated."""
    selector = (svc.get("spec") or {}).get("selector") or {}
    return [
        p
        for p in ctx.snap.list("pods")
        if meta(p).get("namespace", "") == meta(svc).get("namespace", "")
        and all(labels(p).get(k) == v for k, v in selector.items())
        and (p.get("status") or {}).get("phase") not in TERMINATED_PHASES
    ]


@pytest.mark.parametrize("path", CLUSTERS, ids=lambda p: p.stem)
def test_shared_pod_facts_are_the_helpers_answers(path: Path) -> None:
    ctx = _context(path)
    pairs = ctx.services_with_pods
    spec = [(s, s.get("spec") or {}) for s in ctx.services]
    assert [svc for svc, _pods in pairs] == [
        s for s, sp in spec if sp.get("type") != "ExternalName" and sp.get("selector")
    ]
    for svc, pods in pairs:
        assert sorted(map(id, pods)) == sorted(map(id, _selected(ctx, svc)))
        assert ctx.endpoints(svc) is ctx.endpoints(svc)  # kept per Service
        if not ctx.slices_by_service.get((meta(svc).get("namespace", ""), meta(svc).get("name", ""))):
            assert ctx.endpoints(svc).ready == sum(pod_ready(p) for p in pods)
        for _twice in range(2):  # kept per Service: the same answers the second time
            assert ctx.selected_ready(svc) == [pod_ready(p) for p in pods]
            assert ctx.selected_on_super_node(svc) == [is_super_node_pod(p, ctx.super_nodes) for p in pods]


def test_pod_facts_follow_each_services_own_pods() -> None:
    """The same Service in two contexts, one of whose snapshots has a copy of a Pod made not ready and put on a
    super node: each context answers for its own Pods (nothing is kept across runs or by Pod name)."""
    ctx = _context(ROOT / "tests" / "fixtures" / "healthy.yaml")
    svc, pods = next((s, ps) for s, ps in ctx.services_with_pods if ps and all(ctx.selected_ready(s)))
    assert not any(ctx.selected_on_super_node(svc))
    changed = _context(ROOT / "tests" / "fixtures" / "healthy.yaml")
    other = copy.deepcopy(pods[0])
    other["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    other["metadata"].setdefault("annotations", {})["tke.cloud.tencent.com/pod-type"] = "eklet"
    listed = changed.snap.list("pods")
    same = (meta(other).get("namespace"), meta(other).get("name"))
    listed[:] = [other if (meta(p).get("namespace"), meta(p).get("name")) == same else p for p in listed]
    assert changed.selected_ready(svc) == [False] + [True] * (len(pods) - 1)
    assert changed.selected_on_super_node(svc) == [True] + [False] * (len(pods) - 1)
    assert ctx.selected_ready(svc) == [True] * len(pods) and not any(ctx.selected_on_super_node(svc))


def _reference_port_for(pod: Obj, target: int | str, protocol: str | None = None) -> dict[str, Any] | None:
    """container_port_for as it was written before it walked once: every match, then those of the protocol."""
    key = "name" if isinstance(target, str) else "containerPort"
    matches = [c for c in container_ports(pod) if c.get(key) == target]
    same = [c for c in matches if str(c.get("protocol") or "TCP") == protocol]
    found = same or matches
    return found[0] if found else None


def _ports() -> list[dict[str, Any]]:
    """Container ports with and without a name, of two numbers, with and without a protocol."""
    found = []
    for name, number, protocol in itertools.product(("http", "dns", None), (53, 80), ("TCP", "UDP", None)):
        port: dict[str, Any] = {"containerPort": number}
        if name:
            port["name"] = name
        if protocol:
            port["protocol"] = protocol
        found.append(port)
    return found


def test_container_port_for_finds_what_it_found() -> None:
    """Every Pod of up to three such ports over two containers (and none), every target and protocol."""
    ports = _ports()
    pods: list[Obj] = [{}, {"spec": {}}, {"spec": {"containers": [{"name": "a"}]}}]
    for count in range(1, 4):
        for chosen in itertools.product(ports, repeat=count):
            for cut in range(count + 1):
                first, second = list(chosen[:cut]), list(chosen[cut:])
                pods.append({"spec": {"containers": [{"name": "a", "ports": first}, {"name": "b", "ports": second}]}})
    for pod in pods:
        for target in (53, 80, 8080, "http", "dns", "metrics"):
            for protocol in (None, "TCP", "UDP"):
                assert container_port_for(pod, target, protocol) is _reference_port_for(pod, target, protocol)


def _obj(kind: str, name: str, ignore: str | None = None, namespace: str = "app") -> Obj:
    notes = {IGNORE_ANNOTATION: ignore} if ignore is not None else {"other": "x"}
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace, "annotations": notes}}


def test_suppression_looks_up_objects_as_a_map_of_every_object_would() -> None:
    """catalog.run gives a Ref only to objects that may suppress: for every finding's ref, the object it finds is
    the one `{ref(o): o for o in objs}` keeps (the last listed), or none when no object of that ref is annotated."""
    objs = [
        _obj("Service", "a", "TKE101"),
        _obj("Service", "a"),  # listed again without the annotation: this one wins, nothing is suppressed
        _obj("Service", "b"),
        _obj("Service", "b", "TKE1"),  # the annotated one wins
        _obj("Pod", "b"),  # same name, another kind
        _obj("Service", "c", "TKE2"),  # annotated, but no finding names it
        _obj("Service", "d", ""),
        _obj("Service", "b", "TKE1", namespace="other"),
        {"kind": "Node", "metadata": {"name": "n", "annotations": None}},
    ]
    everything = {ref(o): o for o in objs}
    refs = {ref(o) for o in objs if o["metadata"]["name"] != "c"}
    found = _may_suppress(objs, refs)
    assert set(found) == {
        Ref("Service", "app", "a"),
        Ref("Service", "app", "b"),
        Ref("Service", "app", "d"),
        Ref("Service", "other", "b"),
    }
    for r in refs:
        assert found.get(r) is everything[r] or IGNORE_ANNOTATION not in (
            everything[r]["metadata"]["annotations"] or {}
        )
    assert found[Ref("Service", "app", "a")] is objs[1] and found[Ref("Service", "app", "b")] is objs[3]
    assert _may_suppress(objs, set()) == {}
