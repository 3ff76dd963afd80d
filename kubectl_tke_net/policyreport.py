"""A report as PolicyReports (SPEC 9.5): `wgpolicyk8s.io/v1alpha2` PolicyReport per namespace and a
ClusterPolicyReport, or their successor `openreports.io/v1alpha1` Report and ClusterReport, with the same content.
Pure: the documents only; sources/reports.py writes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_tke_net.kinds import BY_KIND

SOURCE = "kubectl-tke-net"
MANAGED_BY = "app.kubernetes.io/managed-by"
COMMAND_LABEL = "tke-net.kubectl.io/command"


@dataclass(frozen=True)
class ReportAPI:
    """One of the two report APIs: its group/version and the kind and plural of each scope."""

    name: str
    api_version: str
    kind: str
    plural: str
    cluster_kind: str
    cluster_plural: str
    top_source: bool  # openreports has a `source` of the whole report; wgpolicyk8s v1alpha2 only per result

    def base(self) -> str:
        return f"/apis/{self.api_version}"

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """The collection (namespace None: every namespace) or, with a name, the object; "" is cluster scope."""
        if namespace == "":
            where = f"{self.base()}/{self.cluster_plural}"
        elif namespace is None:
            where = f"{self.base()}/{self.plural}"
        else:
            where = f"{self.base()}/namespaces/{namespace}/{self.plural}"
        return f"{where}/{name}" if name else where


APIS = {
    "wgpolicyk8s": ReportAPI(
        "wgpolicyk8s",
        "wgpolicyk8s.io/v1alpha2",
        "PolicyReport",
        "policyreports",
        "ClusterPolicyReport",
        "clusterpolicyreports",
        False,
    ),
    "openreports": ReportAPI(
        "openreports", "openreports.io/v1alpha1", "Report", "reports", "ClusterReport", "clusterreports", True
    ),
}

# The report's severity words for ours; error is a `fail`, warning and info a `warn` (SPEC 9.5).
_SEVERITY = {"error": "high", "warning": "medium", "info": "info"}
_CATEGORY = {"1": "Services", "2": "Ingresses", "3": "CLB loopback", "4": "Tencent Cloud", "5": "Gateway API"}


def report_name(command: str) -> str:
    """Each command has its own report in a namespace, so that `svc` and `ingress` runs do not replace each other."""
    return f"tke-net-{command}"


def labels(command: str) -> dict[str, str]:
    return {MANAGED_BY: SOURCE, COMMAND_LABEL: command}


def _category(code: str) -> str:
    if code.startswith("TKE12"):
        return "Probes"
    return _CATEGORY.get(code[3:4], "TKE")


def _resource(finding: dict[str, Any]) -> dict[str, str]:
    kind = BY_KIND.get(finding["kind"])
    ref = {"kind": finding["kind"], "name": finding["name"]}
    if kind is not None:
        ref["apiVersion"] = kind.api_version
    if finding["namespace"]:
        ref["namespace"] = finding["namespace"]
    return ref


def _result(finding: dict[str, Any], stamp: dict[str, int]) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "policy": finding["code"],
        "rule": finding["code"],
        "category": _category(finding["code"]),
        "severity": _SEVERITY[finding["severity"]],
        "result": "fail" if finding["severity"] == "error" else "warn",
        "scored": True,
        "message": finding["message"],
        "resources": [_resource(finding)],
        "properties": {
            "remediation": finding["remediation"],
            "docs": finding["docs"],
            "tke-net/severity": finding["severity"],
        },
        "timestamp": dict(stamp),
    }


def _summary(results: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}
    for r in results:
        counts[r["result"]] += 1
    return counts


def build(report: dict[str, Any], api: ReportAPI, now: float) -> list[dict[str, Any]]:
    """One namespaced report per namespace that has findings, and always the cluster-scope report: the
    findings on cluster-scoped objects and the checks that could not run (`skip`, with the reason)."""
    stamp = {"seconds": int(now), "nanos": 0}
    command = report["command"]
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for finding in report["findings"]:
        by_namespace.setdefault(finding["namespace"], []).append(_result(finding, stamp))
    cluster_results = by_namespace.pop("", [])
    for skipped in report["skipped"]:
        for code in skipped["codes"]:
            cluster_results.append(
                {
                    "source": SOURCE,
                    "policy": code,
                    "rule": code,
                    "category": _category(code),
                    "result": "skip",
                    "scored": False,
                    "message": skipped["reason"],
                    "timestamp": dict(stamp),
                }
            )
    docs = []
    for namespace in sorted(by_namespace):
        docs.append(_document(api, command, namespace, by_namespace[namespace]))
    docs.append(_document(api, command, "", cluster_results))
    return docs


def _document(api: ReportAPI, command: str, namespace: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": report_name(command), "labels": labels(command)}
    if namespace:
        metadata["namespace"] = namespace
    doc: dict[str, Any] = {
        "apiVersion": api.api_version,
        "kind": api.kind if namespace else api.cluster_kind,
        "metadata": metadata,
    }
    if api.top_source:
        doc["source"] = SOURCE
    doc["summary"] = _summary(results)
    doc["results"] = results
    return doc


def as_list(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """`-o policyreport`: one v1 List, which `kubectl apply -f` takes as it is."""
    return {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": docs}
