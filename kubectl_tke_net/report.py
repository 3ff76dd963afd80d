"""Assembles the SPEC §4 report document from a run's context and result."""

from __future__ import annotations

from typing import Any

from kubectl_tke_net import tke
from kubectl_tke_net.checks.catalog import Result
from kubectl_tke_net.facts import Context
from kubectl_tke_net.i18n import _, ngettext
from kubectl_tke_net.k8s import is_internal_ingress, is_internal_service
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


# The findings that say the cluster is exposed to CLB loopback (kube-proxy unfixed, Services, Ingresses).
LOOPBACK_CODES = ("TKE301", "TKE302", "TKE303", "TKE304")


def _count(objs: list[Any], internal: Any) -> int:
    return sum(1 for o in objs if internal(o))


def loopback_state(ctx: Context, result: Result) -> dict[str, str]:
    """SPEC 9.1: exposed, not-exposed, or unknown when the proxy mode cannot be known and internal CLB objects
    exist (whether they loop back depends on it); with the reason, for the `loopback` report and its table."""
    found: dict[str, set[tuple[str, str]]] = {}
    for f in result.findings:
        if f.code in LOOPBACK_CODES:
            found.setdefault(f.code, set()).add((f.ref.namespace, f.ref.name))
    try:
        proxy = ctx.kube_proxy
    except Unavailable:
        proxy = UNKNOWN_PROXY
    try:
        services = _count(ctx.services, is_internal_service)
    except Unavailable:
        services = 0
    try:
        ingresses = _count(ctx.ingresses, is_internal_ingress)
    except Unavailable:
        ingresses = 0
    if found:
        parts = []
        if "TKE301" in found:
            parts.append(_("kube-proxy lacks the loopback fix"))
        exposed = len(found.get("TKE302", set()) | found.get("TKE304", set()))
        if exposed:
            parts.append(
                ngettext(
                    "{n} internal LoadBalancer Service without a working prevent-loopback",
                    "{n} internal LoadBalancer Services without a working prevent-loopback",
                    exposed,
                ).format(n=exposed)
            )
        if "TKE303" in found:
            n = len(found["TKE303"])
            parts.append(
                ngettext(
                    "{n} internal Ingress without keep-alive", "{n} internal Ingresses without keep-alive", n
                ).format(n=n)
            )
        return {"verdict": "exposed", "reason": "; ".join(parts)}
    if not proxy.running and services + ingresses:
        if proxy.why != tke.NO_DAEMONSET:
            return {"verdict": "unknown", "reason": tke.unknown_reason(proxy)}
        return {
            "verdict": "unknown",
            "reason": ngettext(
                "the kube-proxy mode cannot be known (no kube-proxy DaemonSet in kube-system), and {n} internal "
                "CLB Service or Ingress exists",
                "the kube-proxy mode cannot be known (no kube-proxy DaemonSet in kube-system), and {n} internal "
                "CLB Services or Ingresses exist",
                services + ingresses,
            ).format(n=services + ingresses),
        }
    if not services + ingresses:
        return {"verdict": "not-exposed", "reason": _("no internal CLB Service or Ingress in scope")}
    return {"verdict": "not-exposed", "reason": _("no internal CLB Service or Ingress is exposed")}


def build(command: str, source: dict[str, Any], ctx: Context, result: Result) -> dict[str, Any]:
    counts = {str(sev): 0 for sev in sorted(Severity, reverse=True)}
    for finding in result.findings:
        counts[str(finding.severity)] += 1
    doc: dict[str, Any] = {
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
    if command == "loopback":
        doc["loopback"] = loopback_state(ctx, result)
    return doc
