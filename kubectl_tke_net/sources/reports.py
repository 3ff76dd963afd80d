"""--write-reports: the run's PolicyReports (or OpenReports) into the cluster, replacing the last run's.

Each report is applied server-side as field manager kubectl-tke-net, so it is created or replaced whole, its
results those of this run only. The reports of an earlier run of the same command in a namespace of this run's
scope that has no finding now are deleted: a namespace holds at most one report per command, and none once it is
clean, so the reports never grow without bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubectl_tke_net.i18n import _
from kubectl_tke_net.model import AccessError, Unavailable
from kubectl_tke_net.policyreport import COMMAND_LABEL, MANAGED_BY, SOURCE, ReportAPI
from kubectl_tke_net.sources.cluster import Cluster, _message


@dataclass
class Written:
    applied: list[str] = field(default_factory=list)  # kind/namespace/name of each report applied
    removed: list[str] = field(default_factory=list)  # of each stale report deleted


def _ref(doc: dict[str, Any]) -> str:
    meta = doc["metadata"]
    return "/".join(p for p in (doc["kind"], meta.get("namespace", ""), meta["name"]) if p)


def _refused(api: ReportAPI, what: str, status: int, payload: Any) -> AccessError:
    if status == 404:
        return AccessError(
            _(
                "{what}: the API {api} is not served by this cluster; install its CRDs (Kyverno's, or the "
                "OpenReports ones with --report-api openreports)"
            ).format(what=what, api=api.api_version)
        )
    if status == 403:
        return AccessError(
            _("{what}: forbidden: {message}; grant the role of deploy/rbac/write-reports.yaml").format(
                what=what, message=_message(payload, "")
            )
        )
    return AccessError(
        _("{what} failed: {status} {message}").format(what=what, status=status, message=_message(payload, "")).rstrip()
    )


def write(cluster: Cluster, docs: list[dict[str, Any]], api: ReportAPI, command: str, namespace: str | None) -> Written:
    """Apply `docs` (policyreport.build) and delete this command's reports, in the scope (`namespace`, None for
    every namespace), of namespaces that have none now."""
    done = Written()
    for doc in docs:
        ns = doc["metadata"].get("namespace", "")
        path = api.path(ns, doc["metadata"]["name"])
        status, payload = cluster.apply(path, doc)
        if status not in (200, 201):
            raise _refused(api, f"apply {_ref(doc)}", status, payload)
        done.applied.append(_ref(doc))
    keep = {doc["metadata"].get("namespace", "") for doc in docs}
    selector = f"{MANAGED_BY}={SOURCE},{COMMAND_LABEL}={command}"
    try:
        existing = cluster.list_labelled(api.path(namespace), selector)
    except Unavailable as exc:
        raise AccessError(
            _("list {plural}: {reason}; grant the role of deploy/rbac/write-reports.yaml").format(
                plural=api.plural, reason=exc.reason
            )
        ) from exc
    for obj in existing:
        meta = obj.get("metadata") or {}
        ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if not ns or not name or ns in keep:
            continue
        status, payload = cluster.delete(api.path(ns, name))
        if status not in (200, 202, 404):  # 404: already gone
            raise _refused(api, f"delete {api.kind}/{ns}/{name}", status, payload)
        done.removed.append(f"{api.kind}/{ns}/{name}")
    return done
