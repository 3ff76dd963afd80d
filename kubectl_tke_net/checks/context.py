"""What the checks derive from a snapshot: the objects examined, indexes, and the Service->Pod data path."""

from __future__ import annotations

import re
import typing
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from kubectl_tke_net import tke
from kubectl_tke_net.i18n import _
from kubectl_tke_net.model import Ref, UsageError
from kubectl_tke_net.snapshot import KUBE_SYSTEM, Obj, Snapshot

if typing.TYPE_CHECKING:  # kubectl_tke_net.cloudrules loads only for runs with the Tencent Cloud checks
    from kubectl_tke_net.cloudrules import CloudView

_TERMINATED = ("Succeeded", "Failed")
_EPOCH = datetime.min.replace(tzinfo=UTC)


def meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def annotations_of(obj: Obj) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def labels(obj: Obj) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def ref(obj: Obj) -> Ref:
    m = meta(obj)
    return Ref(str(obj.get("kind", "")), m.get("namespace") or "", m.get("name") or "")


# --- label selectors (kubectl's -l syntax, and Service selectors) -----------------------------------

_REQUIREMENT = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<nkey>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


@dataclass(frozen=True)
class Selector:
    requirements: tuple[tuple[str, str, tuple[str, ...]], ...]

    @classmethod
    def parse(cls, text: str) -> Selector:
        reqs: list[tuple[str, str, tuple[str, ...]]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            match = _REQUIREMENT.match(text, pos)
            if not match or match.end() == pos:
                raise UsageError(_("invalid label selector {selector}").format(selector=repr(text)))
            pos = match.end()
            if match["nkey"]:
                reqs.append((match["nkey"], "!exists", ()))
            elif match["op"]:
                op = "!=" if match["op"] == "!=" else "="
                reqs.append((match["key"], op, (match["value"],)))
            elif match["setop"]:
                values = tuple(v.strip() for v in match["values"].split(",") if v.strip())
                reqs.append((match["key"], match["setop"], values))
            else:
                reqs.append((match["key"], "exists", ()))
        return cls(tuple(reqs))

    def matches(self, obj_labels: dict[str, str]) -> bool:
        for key, op, values in self.requirements:
            present = key in obj_labels
            value = obj_labels.get(key)
            ok = {
                "=": present and value == values[0],
                "!=": not present or value != values[0],
                "in": present and value in values,
                "notin": not present or value not in values,
                "exists": present,
                "!exists": not present,
            }[op]
            if not ok:
                return False
        return True


def selector_matches(selector: dict[str, str], obj_labels: dict[str, str]) -> bool:
    return all(obj_labels.get(k) == v for k, v in selector.items())


# --- time ----------------------------------------------------------------------------------------------


def parse_time(value: object) -> datetime:
    if not value:
        return _EPOCH
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return _EPOCH
    # A time without a zone (hand-written, e.g. a bare date) is taken as UTC: naive and aware do not compare.
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def event_time(event: Obj) -> datetime:
    series = event.get("series") or {}
    return max(
        parse_time(series.get("lastObservedTime")),
        parse_time(event.get("lastTimestamp")),
        parse_time(event.get("eventTime")),
        parse_time(event.get("firstTimestamp")),
        parse_time(meta(event).get("creationTimestamp")),
    )


# --- Pods -------------------------------------------------------------------------------------------


def pod_condition(pod: Obj, ctype: str) -> str | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return str(cond.get("status"))
    return None


def pod_ready(pod: Obj) -> bool:
    return pod_condition(pod, "Ready") == "True"


def pod_containers(pod: Obj) -> list[dict[str, Any]]:
    return list((pod.get("spec") or {}).get("containers") or [])


def failing_gates(pod: Obj) -> list[str]:
    """Readiness gates of the Pod whose condition is not True."""
    gates = [g.get("conditionType") for g in (pod.get("spec") or {}).get("readinessGates") or []]
    return [g for g in gates if g and pod_condition(pod, g) != "True"]


def not_ready_reason(pod: Obj) -> str:
    """A short reason a Pod is not ready, in the words `kubectl describe` would show."""
    phase = (pod.get("status") or {}).get("phase") or "Unknown"
    if phase != "Running":
        return phase
    gates = failing_gates(pod)
    if gates:
        return _("readiness gate {gate} is not True").format(gate=gates[0])
    waiting = [
        (cs.get("state") or {}).get("waiting", {}).get("reason")
        for cs in (pod.get("status") or {}).get("containerStatuses") or []
        if not cs.get("ready")
    ]
    waiting = [w for w in waiting if w]
    if waiting:
        return str(waiting[0])
    return _("containers not ready")


@dataclass(frozen=True)
class Endpoints:
    """Ready endpoints of a Service: from EndpointSlices when any exist, else from its Pods' Ready condition."""

    ready: int
    total: int
    from_slices: bool


class Context:
    """A read-only view of one snapshot for the checks of one run."""

    cloud: CloudView | None = None  # the CloudFacts the cloud checks (TKE4xx) read; None when they are off

    def __init__(self, snapshot: Snapshot, name: str | None = None, selector: Selector | None = None) -> None:
        self.snap = snapshot
        self.name = name
        self.selector = selector
        self._selected: dict[tuple[str, str, bool], list[Obj]] = {}

    def _examined(self, objs: list[Obj]) -> list[Obj]:
        return [
            o
            for o in objs
            if (self.name is None or meta(o).get("name") == self.name)
            and (self.selector is None or self.selector.matches(labels(o)))
        ]

    # -- Services ----------------------------------------------------------------------------------

    @cached_property
    def services(self) -> list[Obj]:
        """The Services this run examines (name and -l applied)."""
        return self._examined(self.snap.list("services"))

    @cached_property
    def services_by_key(self) -> dict[tuple[str, str], Obj]:
        return {(meta(s).get("namespace", ""), meta(s).get("name", "")): s for s in self.snap.list("services")}

    @cached_property
    def pods_by_label(self) -> dict[tuple[str, str], list[Obj]]:
        """Pods by each (label key, value), across namespaces: a selector looks up its rarest pair."""
        index: dict[tuple[str, str], list[Obj]] = defaultdict(list)
        for pod in self.snap.list("pods"):
            for item in labels(pod).items():
                index[item].append(pod)
        return index

    def matching_pods(self, selector: dict[str, str], namespace: str | None) -> list[Obj]:
        """Pods whose labels match the selector, in `namespace` (None: any namespace)."""
        if not selector:
            return []
        candidates = min((self.pods_by_label.get(item, []) for item in selector.items()), key=len)
        return [
            p
            for p in candidates
            if (namespace is None or meta(p).get("namespace", "") == namespace)
            and selector_matches(selector, labels(p))
        ]

    def selected_pods(self, svc: Obj, include_terminated: bool = False) -> list[Obj]:
        """Pods of the Service's namespace its selector matches (none for selector-less Services)."""
        key = (meta(svc).get("namespace", ""), meta(svc).get("name", ""), include_terminated)
        if key not in self._selected:
            pods = self.matching_pods((svc.get("spec") or {}).get("selector") or {}, key[0])
            if not include_terminated:
                pods = [p for p in pods if (p.get("status") or {}).get("phase") not in _TERMINATED]
            self._selected[key] = pods
        return self._selected[key]

    @cached_property
    def slices_by_service(self) -> dict[tuple[str, str], list[Obj]]:
        index: dict[tuple[str, str], list[Obj]] = defaultdict(list)
        for es in self.snap.list("endpointslices"):
            owner = labels(es).get("kubernetes.io/service-name")
            if owner:
                index[(meta(es).get("namespace", ""), owner)].append(es)
        return index

    def endpoints(self, svc: Obj) -> Endpoints:
        key = (meta(svc).get("namespace", ""), meta(svc).get("name", ""))
        slices = self.slices_by_service.get(key) or []
        if slices:
            states: dict[str, bool] = {}
            for es in slices:
                for ep in es.get("endpoints") or []:
                    target = ep.get("targetRef") or {}
                    ident = target.get("uid") or target.get("name") or ",".join(ep.get("addresses") or [])
                    ready = (ep.get("conditions") or {}).get("ready")
                    # An unset `ready` means unknown, which consumers treat as ready (EndpointSlice API).
                    states[ident] = states.get(ident, False) or ready is None or bool(ready)
            return Endpoints(sum(states.values()), len(states), True)
        pods = self.selected_pods(svc)
        return Endpoints(sum(pod_ready(p) for p in pods), len(pods), False)

    # -- Events ------------------------------------------------------------------------------------

    @cached_property
    def warnings_by_object(self) -> dict[Ref, list[Obj]]:
        """Warning events per involved object, newest first."""
        index: dict[Ref, list[Obj]] = defaultdict(list)
        for ev in self.snap.maybe("events"):
            inv = ev.get("involvedObject") or ev.get("regarding") or {}
            if ev.get("type", "Warning") == "Warning":
                index[Ref(inv.get("kind", ""), inv.get("namespace", ""), inv.get("name", ""))].append(ev)
        for events in index.values():
            events.sort(key=event_time, reverse=True)
        return index

    def warnings(self, obj: Obj) -> list[Obj]:
        return self.warnings_by_object.get(ref(obj), [])

    # -- cluster-wide facts ------------------------------------------------------------------------

    @cached_property
    def configmaps(self) -> dict[str, Obj]:
        """ConfigMaps of kube-system by name."""
        return {meta(c).get("name", ""): c for c in self.snap.list("configmaps")}

    @cached_property
    def kube_proxy_daemonset(self) -> Obj | None:
        for ds in self.snap.list("daemonsets"):
            if meta(ds).get("name") == "kube-proxy" and meta(ds).get("namespace") == KUBE_SYSTEM:
                return ds
        return None

    @cached_property
    def kube_proxy(self) -> tke.KubeProxy:
        configmaps = {meta(c).get("name", ""): c for c in self.snap.maybe("configmaps")}
        return tke.detect_kube_proxy(self.kube_proxy_daemonset, configmaps)

    @cached_property
    def ready_nodes(self) -> int:
        return sum(1 for n in self.snap.list("nodes") if pod_condition(n, "Ready") == "True")

    # -- Ingresses ---------------------------------------------------------------------------------

    @cached_property
    def ingresses(self) -> list[Obj]:
        """The Ingresses this run examines (name and -l applied)."""
        return self._examined(self.snap.list("ingresses"))

    @cached_property
    def tkeserviceconfigs(self) -> dict[tuple[str, str], Obj]:
        """TkeServiceConfigs by (namespace, name)."""
        return {(meta(c).get("namespace", ""), meta(c).get("name", "")): c for c in self.snap.list("tkeserviceconfigs")}


def ingress_class(ing: Obj) -> str | None:
    """The class an Ingress names, by annotation or by spec.ingressClassName (the annotation wins, as in TKE)."""
    return annotations_of(ing).get(tke.ING_CLASS) or (ing.get("spec") or {}).get("ingressClassName") or None


def is_clb_ingress(ing: Obj) -> bool:
    """TKE's controller serves class `qcloud` and Ingresses without any class (SPEC §7)."""
    cls = ingress_class(ing)
    return cls is None or cls == tke.QCLOUD_CLASS


def is_internal_ingress(ing: Obj) -> bool:
    return is_clb_ingress(ing) and tke.ING_SUBNET in annotations_of(ing)


def is_internal_service(svc: Obj) -> bool:
    return (svc.get("spec") or {}).get("type") == "LoadBalancer" and tke.SVC_INTERNAL_SUBNET in annotations_of(svc)
