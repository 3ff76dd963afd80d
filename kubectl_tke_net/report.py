"""Assembles the SPEC §4 report document from a run's context and result."""

from __future__ import annotations

from typing import Any

from kubectl_tke_net.checks import Result
from kubectl_tke_net.checks.context import Context
from kubectl_tke_net.model import Severity, Unavailable
from kubectl_tke_net.tke import UNKNOWN_PROXY, KubeProxy

# The kinds cluster_facts reads, whatever checks run (Node count, kube-proxy DaemonSet and its ConfigMap).
FACT_KINDS = ("nodes", "daemonsets", "configmaps")


def cluster_facts(ctx: Context) -> dict[str, Any]:
    try:
        nodes: int | None = len(ctx.snap.list("nodes"))
    except Unavailable:
        nodes = None
    try:
        proxy: KubeProxy = ctx.kube_proxy
    except Unavailable:
        proxy = UNKNOWN_PROXY
    return {"nodes": nodes, "kubeProxy": proxy.as_dict()}


def build(command: str, source: dict[str, Any], ctx: Context, result: Result) -> dict[str, Any]:
    counts = {str(sev): 0 for sev in sorted(Severity, reverse=True)}
    for finding in result.findings:
        counts[str(finding.severity)] += 1
    return {
        "apiVersion": "tke-net/v1",
        "kind": "Report",
        "command": command,
        "source": source,
        "cluster": cluster_facts(ctx),
        "findings": [
            {
                "code": f.code,
                "severity": str(f.severity),
                "kind": f.ref.kind,
                "namespace": f.ref.namespace,
                "name": f.ref.name,
                "message": f.message,
                "remediation": f.remediation,
                "docs": f.docs,
            }
            for f in result.findings
        ],
        "skipped": [{"codes": list(s.codes), "reason": s.reason} for s in result.skipped],
        "summary": {**counts, "suppressed": result.suppressed},
    }
