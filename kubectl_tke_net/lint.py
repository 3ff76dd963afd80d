"""`lint`: manifests before they are applied (SPEC 9.4). Pure: what the manifests hold (`Manifests`, read by
sources/manifests.py), the Pods their workloads' templates stand for, the sources the checks read them through
(alone, or over a dump or the live cluster), which checks can judge manifests, and the report's additions
(each finding's file and line, the objects defined twice)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubectl_tke_net.facts import Context
from kubectl_tke_net.findings import Finding, Ref, Skip
from kubectl_tke_net.i18n import N_, _
from kubectl_tke_net.k8s import annotations_of, meta, ref
from kubectl_tke_net.kinds import KINDS, KUBE_SYSTEM, Kind, Obj
from kubectl_tke_net.model import Unavailable
from kubectl_tke_net.tke import IGNORE_ANNOTATION

# Where a workload kind keeps its Pod template.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

# Kinds that have no namespace (an object of any other kind without one gets -n, else `default`).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "IngressClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "RuntimeClass",
        "APIService",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "CSIDriver",
        "GatewayClass",
    }
)


@dataclass(frozen=True)
class Place:
    """Where an object is defined: the file as given (`-` for standard input) and the line it starts on."""

    file: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line}


@dataclass
class Manifests:
    """The objects of the manifests, kept as the checks read them, with where each was defined."""

    paths: list[str]
    objects: dict[str, list[Obj]] = field(default_factory=lambda: {name: [] for name in KINDS})
    places: dict[Ref, Place] = field(default_factory=dict)  # every object, at its (last) definition
    duplicates: dict[Ref, list[Place]] = field(default_factory=dict)  # objects defined more than once
    stand_ins: dict[Ref, Ref] = field(default_factory=dict)  # Pod a template stands for -> its workload
    namespaces: set[str] = field(default_factory=set)
    count: int = 0  # objects of every kind, each once

    @property
    def workloads(self) -> set[Ref]:
        return set(self.stand_ins.values())

    def place(self, target: Ref) -> Place | None:
        """Where the object a finding names is defined (a template's Pod: its workload)."""
        return self.places.get(self.stand_ins.get(target, target))

    def examined(self) -> int:
        """The Services and Ingresses of the manifests (what lint judges), and a kube-proxy DaemonSet."""
        return sum(1 for r in self.places if r.kind in ("Service", "Ingress")) + sum(
            1 for r in self.places if r.kind == "DaemonSet" and r.namespace == KUBE_SYSTEM and r.name == "kube-proxy"
        )


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def stand_in(kind: str, obj: Obj, namespace: str) -> Obj | None:
    """The Pod a workload's template stands for (labels, annotations, containers and ports, readiness gates,
    hostNetwork), named `deployment/NAME`; None when the object has no template. It has no status: it never
    ran, so what needs one (readiness, endpoints) is not judged."""
    template = _dig(obj, TEMPLATES[kind])
    if not isinstance(template, dict):
        return None
    found = template.get("metadata")
    tmeta: dict[str, Any] = found if isinstance(found, dict) else {}
    name = str(meta(obj).get("name", ""))
    pod_meta: dict[str, Any] = {
        "name": f"{kind.lower()}/{name}",
        "namespace": namespace,
        "ownerReferences": [{"kind": kind, "name": name, "controller": True}],
    }
    for key in ("labels", "annotations"):
        if key in tmeta:
            pod_meta[key] = tmeta[key]
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta}
    if "spec" in template:
        pod["spec"] = template["spec"]
    return pod


# --- the sources the checks read the manifests through ------------------------------------------------

# Kinds that only a cluster has: without --cluster or --snapshot (and none in the manifests) they cannot be read.
CLUSTER_STATE = ("nodes", "endpointslices", "events", "daemonsets", "configmaps")
NO_CLUSTER = N_("not in the manifests, and lint reads no cluster without --cluster or --snapshot")
# Secrets are never judged from the manifests alone, even those they hold: a TLS Secret is seldom in them
# (cert-manager, kubectl create secret), so one they lack is not missing (TKE205, TKE115's specify-protocol part).
NO_SECRETS = N_(
    "TLS Secrets are seldom in manifests (cert-manager, kubectl create secret): give --cluster or "
    "--snapshot DUMP to look them up"
)


def _in_scope(kind: Kind, obj: Obj, namespace: str | None) -> bool:
    ns = meta(obj).get("namespace", "")
    if kind.scope == KUBE_SYSTEM:
        return bool(ns == KUBE_SYSTEM)
    if kind.scope == "namespaced" and namespace is not None:
        return bool(ns == namespace)
    return True


class ManifestSource:
    """The manifests alone."""

    def __init__(self, manifests: Manifests) -> None:
        self.manifests = manifests

    def list(self, kind: Kind, namespace: str | None) -> list[Obj]:
        objs = self.manifests.objects[kind.name]
        if kind.name == "secrets":
            raise Unavailable(kind.name, _(NO_SECRETS))
        if not objs and kind.name in CLUSTER_STATE:
            raise Unavailable(kind.name, _(NO_CLUSTER))
        return [o for o in objs if _in_scope(kind, o, namespace)]


# A ReplicaSet of a Deployment is named DEPLOYMENT-HASH (the pod-template-hash alphabet); a CronJob's Job
# CRONJOB-MINUTES.
_RS_HASH = re.compile(r"-[bcdfghjklmnpqrstvwxz2456789]{1,10}$")
_JOB_TIME = re.compile(r"-\d+$")


def replaced_pod(pod: Obj, workloads: set[Ref]) -> bool:
    """Whether a live Pod belongs to a workload the manifests redefine (its controller, or the Deployment or
    CronJob above it by the names Kubernetes gives ReplicaSets and Jobs): the manifest's template stands in."""
    ns = meta(pod).get("namespace", "")
    for owner in meta(pod).get("ownerReferences") or []:
        kind, name = str(owner.get("kind", "")), str(owner.get("name", ""))
        if Ref(kind, ns, name) in workloads:
            return True
        above = {"ReplicaSet": ("Deployment", _RS_HASH), "Job": ("CronJob", _JOB_TIME)}.get(kind)
        if above and above[1].search(name) and Ref(above[0], ns, above[1].sub("", name)) in workloads:
            return True
    return False


class OverlaySource:
    """The manifests over a dump or the live cluster: the objects of the namespaces the manifests touch (and the
    cluster-wide ones), with each manifest object in place of the object of that name, and the Pods of the
    workloads the manifests redefine replaced by their templates' stand-ins."""

    def __init__(self, base: Any, manifests: Manifests) -> None:
        self.base = base
        self.manifests = manifests
        self.parallel_reads = int(getattr(base, "parallel_reads", 1))

    def list(self, kind: Kind, namespace: str | None) -> list[Obj]:
        mine = [o for o in self.manifests.objects[kind.name] if _in_scope(kind, o, None)]
        if kind.scope == "namespaced":
            theirs = [o for ns in sorted(self.manifests.namespaces) for o in self.base.list(kind, ns)]
        else:
            theirs = list(self.base.list(kind, KUBE_SYSTEM if kind.scope == KUBE_SYSTEM else None))
        named = {(meta(o).get("namespace", ""), meta(o).get("name", "")) for o in mine}
        workloads = self.manifests.workloads
        kept = [
            o
            for o in theirs
            if (meta(o).get("namespace", ""), meta(o).get("name", "")) not in named
            and not (kind.name == "pods" and replaced_pod(o, workloads))
        ]
        return kept + mine


class LintContext(Context):
    """The checks examine the manifests' Services and Ingresses only; the rest of the snapshot is context."""

    def __init__(self, snapshot: Any, manifests: Manifests) -> None:
        super().__init__(snapshot)
        self.mine = set(manifests.places)

    def _examined(self, objs: list[Obj]) -> list[Obj]:
        return [o for o in objs if ref(o) in self.mine]

    def _examined_routes(self, routes: list[Obj]) -> list[Obj]:
        return self._examined(routes)


# --- which checks judge manifests ------------------------------------------------------------------------

# Judged from the manifests alone.
STATIC = frozenset(
    {
        "TKE101",
        "TKE104",
        "TKE105",
        "TKE106",
        "TKE108",
        "TKE112",
        "TKE113",
        "TKE114",
        "TKE115",  # its specify-protocol TLS Secrets only with --cluster or --snapshot (NO_SECRETS: skipped)
        "TKE116",
        "TKE201",
        "TKE202",
        "TKE203",
        "TKE207",
        "TKE208",
        "TKE210",
        "TKE211",
        "TKE213",
        "TKE214",
        "TKE215",
        "TKE216",
        # Gateway API: routes against the Gateways, Services and ReferenceGrants beside them.
        "TKE507",
        "TKE508",
        "TKE509",
        "TKE510",
        "TKE511",
        "TKE513",
        "TKE514",
        "TKE604",  # an ingress-nginx chart's webhook in the manifests is judged as it would be applied
    }
)
_ENDPOINTS = N_("needs ready endpoints and Pod readiness, which exist only once the manifests run")
_ADDRESS = N_("needs the CLB address TKE's controller gives an applied object")
_EVENTS = N_("needs the events of applied objects")
_PROBE = N_("needs probe Pods in a running cluster (svc NAME --probe, ingress NAME --probe)")
_CLOUD = N_("needs Tencent Cloud API reads (security groups, CLBs, certificates): svc or ingress --cloud once applied")
_CLUSTER_CONFIG = N_(
    "judges the running cluster's kube-system configuration, not manifests: svc or ingress on the cluster"
)
_KUBE_PROXY = N_("needs the cluster's kube-proxy (kube-system): give --cluster or --snapshot DUMP")
_SCHEDULED = N_("needs the nodes the Pods run on (super nodes), which exist only once the manifests run")
_GATEWAY_STATUS = N_("needs the status the Gateway API controller writes on applied objects")
_GATEWAY_SERVICE = N_("needs the LoadBalancer Service the Gateway API controller creates for an applied Gateway")
# Judged only from what a running cluster has: never on manifests.
RUNTIME: dict[str, str] = {
    "TKE102": _ENDPOINTS,
    "TKE103": _ENDPOINTS,
    "TKE111": _ENDPOINTS,
    "TKE204": _ENDPOINTS,
    "TKE107": _ADDRESS,
    "TKE206": _ADDRESS,
    "TKE109": _EVENTS,
    "TKE212": _EVENTS,
    "TKE117": _ENDPOINTS,
    "TKE119": _SCHEDULED,
    "TKE605": _SCHEDULED,
    "TKE502": _GATEWAY_STATUS,
    "TKE503": _GATEWAY_STATUS,
    "TKE504": _GATEWAY_STATUS,
    "TKE505": _GATEWAY_STATUS,
    "TKE506": _GATEWAY_STATUS,
    "TKE512": _ENDPOINTS,
    "TKE516": _GATEWAY_SERVICE,
    "TKE601": _CLUSTER_CONFIG,
    "TKE602": _CLUSTER_CONFIG,
    "TKE603": _ENDPOINTS,
}
# Judged against the cluster's configuration: with --cluster or --snapshot only.
WITH_CLUSTER: dict[str, str] = {
    "TKE110": N_(
        "needs the cluster's GlobalRouteDirectAccess (kube-system/tke-service-controller-config) and nodes: "
        "give --cluster or --snapshot DUMP"
    ),
    "TKE205": NO_SECRETS,
    "TKE209": N_("needs the cluster's IngressClasses: give --cluster or --snapshot DUMP"),
    # On main since this branch began (an annotation newer than the running ingress controller).
    "TKE217": N_(
        "needs the version of the cluster's ingress controller (kube-system/tke-ingress-controller-config): "
        "give --cluster or --snapshot DUMP"
    ),
    "TKE118": N_("needs the cluster's nodes and their labels: give --cluster or --snapshot DUMP"),
    "TKE501": N_("GatewayClasses come with the controller, seldom in manifests: give --cluster or --snapshot DUMP"),
    "TKE515": N_(
        "needs the cluster's kube-proxy and the LoadBalancer Service the Gateway API controller creates: give "
        "--cluster or --snapshot DUMP"
    ),
    "TKE301": _KUBE_PROXY,
    "TKE302": _KUBE_PROXY,
    "TKE303": N_(
        "needs the cluster's TkeServiceConfigs, which TKE's controller creates: give --cluster or --snapshot DUMP"
    ),
    "TKE304": _KUBE_PROXY,
    "TKE305": _KUBE_PROXY,
    "TKE306": _KUBE_PROXY,
}
_UNKNOWN = N_("not judged on manifests by lint yet")
COMMANDS = (
    "service",
    "ingress",
    "gateway",
    "loopback",
    "probe",
    "service --cloud",
    "ingress --cloud",
    "loopback --cloud",
)


def plan(select: tuple[str, ...], ignore: tuple[str, ...], with_cluster: bool) -> tuple[list[Any], list[Skip]]:
    """The checks lint runs, and those it cannot (with why), of every command's, after --select/--ignore."""
    from kubectl_tke_net.checks import catalog

    chosen = {c.code: c for command in COMMANDS for c in catalog.selected(command, select, ignore)}
    run: list[Any] = []
    reasons: dict[str, list[str]] = {}
    for code, chk in sorted(chosen.items()):
        if code in STATIC or (with_cluster and code in WITH_CLUSTER):
            run.append(chk)
            continue
        if code in RUNTIME:
            why = RUNTIME[code]
        elif code in WITH_CLUSTER:
            why = WITH_CLUSTER[code]
        elif "probe" in chk.commands:
            why = _PROBE
        elif any(c.endswith("--cloud") for c in chk.commands):
            why = _CLOUD
        else:
            why = _UNKNOWN
        reasons.setdefault(_(why), []).append(code)
    return run, [Skip(tuple(codes), reason) for reason, codes in reasons.items()]


def only_manifests(
    findings: Iterable[Finding], manifests: Manifests, objects: Iterable[Obj], suppress: bool
) -> tuple[list[Finding], int]:
    """The findings about the manifests' own objects (a dump's or the cluster's are context, not linted), less
    those their `tke-net.kubectl.io/ignore` annotation suppresses (unless `suppress` is False), and how many."""
    mine = [f for f in findings if f.ref in manifests.places]
    if not suppress:
        return mine, 0
    by_ref = {ref(o): o for o in objects}
    kept = []
    for f in mine:
        obj = by_ref.get(f.ref)
        ignored = (
            [c.strip().upper() for c in annotations_of(obj).get(IGNORE_ANNOTATION, "").split(",") if c.strip()]
            if obj
            else []
        )
        if any(f.code.startswith(c) for c in ignored):
            continue
        kept.append(f)
    return kept, len(mine) - len(kept)


def annotate(doc: dict[str, Any], findings: list[Finding], manifests: Manifests) -> dict[str, Any]:
    """SPEC 9.4's additions to the report: `source` (file, line) on each finding, the manifests read and the
    objects they define more than once (each once, with every place; the last definition is the one linted)."""
    for entry, finding in zip(doc["findings"], findings, strict=True):
        place = manifests.place(finding.ref)
        entry["source"] = place.as_dict() if place else None
    doc["manifests"] = {"paths": manifests.paths, "objects": manifests.count}
    doc["duplicates"] = [
        {"kind": r.kind, "namespace": r.namespace, "name": r.name, "sources": [p.as_dict() for p in places]}
        for r, places in sorted(manifests.duplicates.items())
    ]
    return doc
