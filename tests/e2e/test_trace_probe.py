"""`trace svc/NAME --probe` on a real API server with the probe's played kubelet (tests/e2e/test_probe.py): the
real probe.sh measures each link, and the trace puts the times on the hops they tested and marks the broken ones."""

from __future__ import annotations

from typing import Any

from controlplane import ControlPlane
from test_plugin import plugin
from test_probe import NS, Kubelet, cp, helper, kubelet, probe_pods

__all__ = ["cp", "helper", "kubelet"]  # the fixtures of test_probe.py, for this module's own control plane


def _stages(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for hop in doc["trace"]["hops"]:
        out.setdefault(hop["stage"], []).append(hop)
    return out


def test_trace_probe_times_on_every_tested_hop(cp: ControlPlane, helper: Kubelet) -> None:
    run = plugin(cp, "trace", "svc/web", "-n", NS, "--probe", "-o", "json")
    assert run.status in (0, 1), run.err
    doc = run.json()
    assert doc["trace"]["probed"] is True
    stages = _stages(doc)
    for stage in ("clb", "service-port", "node-port", "pods"):
        measured = [m for hop in stages[stage] for m in hop.get("measured") or []]
        assert measured, stage
        assert all(m["ok"] is True and isinstance(m["ms"], int) for m in measured), measured
        assert {m["node"] for m in measured} == {"10.0.1.10", "10.0.1.12"}
    assert "TKE125" in {c["code"] for hop in doc["trace"]["hops"] for c in hop["codes"]}
    tree = plugin(cp, "trace", "svc/web", "-n", NS, "--probe").out
    assert "probe from 10.0.1.10: CLB 10.0.0.50:80: " in tree
    assert probe_pods(cp) == []


def test_trace_probe_marks_the_links_that_fail(cp: ControlPlane, helper: Kubelet) -> None:
    helper.scenario = {
        ("np:10.0.1.12", "10.0.1.10"): "refuse",  # the NodePort of 10.0.1.12 fails from 10.0.1.10
        ("clb", "10.0.1.10"): "full",  # the CLB hangs from the node with a backend, answers from the other
    }
    run = plugin(cp, "trace", "svc/web", "-n", NS, "--probe", "-o", "json")
    assert run.status == 1, run.err
    stages = _stages(run.json())
    (clb,) = stages["clb"]
    assert clb["state"] == "failing" and "TKE124" in {c["code"] for c in clb["codes"]}
    assert {(m["node"], m["ok"]) for m in clb["measured"]} == {("10.0.1.10", False), ("10.0.1.12", True)}
    node_ports = stages["node-port"]
    assert all(h["state"] == "failing" for h in node_ports)
    assert "TKE123" in {c["code"] for h in node_ports for c in h["codes"]}
    assert any(m["ok"] is False for h in node_ports for m in h["measured"])
    assert probe_pods(cp) == []
