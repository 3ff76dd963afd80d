"""Turns a report document into text: `FORMATS` maps each -o value to its renderer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml
from tabulate import tabulate

_COLORS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_RESET = "\033[0m"


def _paint(text: str, severity: str, color: bool) -> str:
    return f"{_COLORS[severity]}{text}{_RESET}" if color and severity in _COLORS else text


def _plural(count: int, word: str) -> str:
    if word == "info":
        return f"{count} info"
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(report: dict[str, Any]) -> str:
    s = report["summary"]
    line = (f"{_plural(s['error'], 'error')}, {_plural(s['warning'], 'warning')}, {_plural(s['info'], 'info')}"
            f" ({s['suppressed']} suppressed)")
    skipped = sum(len(entry["codes"]) for entry in report["skipped"])
    if skipped:
        line += f"; {skipped} check{'s' if skipped > 1 else ''} skipped"
    return line


def _object(finding: dict[str, Any]) -> str:
    ns = finding["namespace"]
    return f"{finding['kind']}/{ns}/{finding['name']}" if ns else f"{finding['kind']}/{finding['name']}"


def findings_table(report: dict[str, Any], wide: bool, color: bool) -> str:
    headers = ["SEVERITY", "CODE", "OBJECT", "MESSAGE"] + (["REMEDIATION"] if wide else [])
    rows = []
    for f in report["findings"]:
        row = [_paint(f["severity"].upper(), f["severity"], color), f["code"], _object(f), f["message"]]
        rows.append([*row, f["remediation"]] if wide else row)
    lines = [tabulate(rows, headers, tablefmt="plain")] if rows else ["No problems found."]
    for entry in report["skipped"]:
        lines.append(f"skipped {','.join(entry['codes'])}: {entry['reason']}")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


_FIXES = (
    ("TKE301", "kubectl tke-net fix kube-proxy --apply",
     "then: kubectl -n kube-system rollout status ds/kube-proxy"),
    ("TKE302", "kubectl tke-net fix prevent-loopback [-n NS | -A] --apply", "needs the fixed kube-proxy"),
    ("TKE303", "kubectl tke-net fix ingress-keepalive [-n NS | -A] --apply",
     "needs the CLB L7 SNAT/keep-alive ticket and 100.127.0.0/16 allowed in the node security group"),
)
_MITIGATIONS = (
    "call Services by DNS name from inside the cluster (NAME.NS.svc.cluster.local), never by CLB address",
    "kubectl tke-net fix coredns-rewrite --host DOMAIN --service NAME -n NS: resolve a fixed domain to the Service",
    "externalTrafficPolicy: Local plus anti-affinity between clients and servers",
)


def loopback_verdict(report: dict[str, Any]) -> str:
    """The opening lines of `loopback`: mode, version, whether it is fixed, and what is exposed."""
    proxy = report["cluster"]["kubeProxy"]
    codes: dict[str, set[str]] = {}
    for f in report["findings"]:
        codes.setdefault(f["code"], set()).add(_object(f))
    if proxy["mode"] == "unknown":
        kube_proxy = "kube-proxy: mode unknown (no kube-proxy DaemonSet in kube-system)"
    else:
        fixed = {True: "has the loopback fix", False: "LACKS the loopback fix", None: "loopback fix unknown"}
        target = f" (fixed from {proxy['minFixed']})" if proxy["minFixed"] and not proxy["loopbackFixed"] else ""
        kube_proxy = (f"kube-proxy: {proxy['mode']} mode, {proxy['version'] or 'no version tag'}, "
                      f"{fixed[proxy['loopbackFixed']]}{target}")
    services = len(codes.get("TKE302", set()) | codes.get("TKE304", set()))
    ingresses = len(codes.get("TKE303", set()))
    exposed = services or ingresses or "TKE301" in codes
    verdict = "EXPOSED to CLB loopback" if exposed else "no CLB loopback exposure found"
    return "\n".join([
        f"Verdict: {verdict}",
        f"  {kube_proxy}",
        f"  exposed: {services} internal LoadBalancer Service{'' if services == 1 else 's'}, "
        f"{ingresses} internal Ingress{'' if ingresses == 1 else 'es'}",
    ]) + "\n\n"


def loopback_footer(report: dict[str, Any]) -> str:
    present = {f["code"] for f in report["findings"]}
    steps = [(cmd, note) for code, cmd, note in _FIXES if code in present]
    lines = []
    if steps:
        lines.append("\nFix, in this order:")
        lines += [f"  {i}. {cmd}  ({note})" for i, (cmd, note) in enumerate(steps, 1)]
    lines.append("\nMitigations that need no fix:")
    lines += [f"  - {m}" for m in _MITIGATIONS]
    return "\n".join(lines) + "\n"


def table(report: dict[str, Any], wide: bool, color: bool) -> str:
    text = findings_table(report, wide, color)
    if report["command"] == "loopback":
        return loopback_verdict(report) + text + loopback_footer(report)
    return text


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_yaml(doc: dict[str, Any]) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(doc, Dumper=dumper, sort_keys=False, allow_unicode=True, width=1 << 16))


Renderer = Callable[[dict[str, Any], bool], str]

FORMATS: dict[str, Renderer] = {
    "table": lambda doc, color: table(doc, wide=False, color=color),
    "wide": lambda doc, color: table(doc, wide=True, color=color),
    "json": lambda doc, _color: render_json(doc),
    "yaml": lambda doc, _color: render_yaml(doc),
}
