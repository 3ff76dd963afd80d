"""Facts: a read-only view of one snapshot for the checks, fixes and probes of a run: the objects examined,
indexes, and the Service->Pod data path."""

from __future__ import annotations

import typing
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

from kubectl_tke_net import tke
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.gateway_api import parent_refs
from kubectl_tke_net.k8s import (
    TERMINATED_PHASES,
    Backend,
    Selector,
    annotations_of,
    backends,
    event_time,
    has_backends,
    is_super_node,
    is_super_node_pod,
    labels,
    meta,
    pod_condition,
    pod_ready,
    ref,
    selector_matches,
)
from kubectl_tke_net.kinds import KUBE_SYSTEM, Obj
from kubectl_tke_net.snapshot import Snapshot

if typing.TYPE_CHECKING:  # kubectl_tke_net.cloudrules loads only for runs with the Tencent Cloud checks
    from kubectl_tke_net.cloudrules import CloudView


# --- label selectors (kubectl's -l syntax, and Service selectors) -----------------------------------


# --- time ----------------------------------------------------------------------------------------------


# --- Pods -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoints:
    """Ready endpoints of a Service: from EndpointSlices when any exist, else from its Pods' Ready condition."""

    ready: int
    total: int
    from_slices: bool


_T = typing.TypeVar("_T")


def _once_per_service(cache: dict[tuple[str, str], _T], svc: Obj, make: Callable[[tuple[str, str]], _T]) -> _T:
    """What `make` derives of a Service (by its namespace and name), worked out once per run."""
    m = meta(svc)
    key = (m.get("namespace", ""), m.get("name", ""))
    found = cache.get(key)
    if found is None:
        found = cache[key] = make(key)
    return found


def slice_endpoints(slices: list[Obj]) -> Endpoints:
    """Ready and all endpoints of a Service's EndpointSlices, each endpoint counted once."""
    states: dict[str, bool] = {}
    for es in slices:
        for ep in es.get("endpoints") or []:
            target = ep.get("targetRef") or {}
            ident = target.get("uid") or target.get("name") or ",".join(ep.get("addresses") or [])
            ready = (ep.get("conditions") or {}).get("ready")
            # An unset `ready` means unknown, which consumers treat as ready (EndpointSlice API).
            states[ident] = states.get(ident, False) or ready is None or bool(ready)
    return Endpoints(sum(states.values()), len(states), True)


class Context:
    """A read-only view of one snapshot for the checks of one run."""

    cloud: CloudView | None = None  # the CloudFacts the cloud checks (TKE4xx) read; None when they are off
    # The diagnose command of the run (service, ingress, loopback): a check run by several judges the kind of
    # objects each examines; None (a planning or test context): every kind.
    command: str | None = None

    def __init__(
        self,
        snapshot: Snapshot,
        name: str | None = None,
        selector: Selector | None = None,
        namespace: str | None = None,
    ) -> None:
        self.snap = snapshot
        self.name = name
        self.selector = selector
        # Only the objects of this namespace are examined, while the snapshot holds every namespace (`trace
        # gw/NAME`: one Gateway, whose routes, Services and Pods may live anywhere); None: the snapshot's scope.
        self.namespace = namespace
        self._selected: dict[tuple[str, str], list[Obj]] = {}
        self._endpoints: dict[tuple[str, str], Endpoints] = {}
        # What several checks derive from each selected Pod, worked out once per Service: a list of bools in the
        # order of selected_pods, no object (or id) per Pod (memory, and walks of the cyclic collector).
        self._ready: dict[tuple[str, str], list[bool]] = {}
        self._on_super_node: dict[tuple[str, str], list[bool]] = {}

    def _examined(self, objs: list[Obj]) -> list[Obj]:
        return [
            o
            for o in objs
            if (self.name is None or meta(o).get("name") == self.name)
            and (self.namespace is None or meta(o).get("namespace", "") == self.namespace)
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
        """Pods by each (label key, value), across namespaces and phases: a selector looks up its rarest pair."""
        index: dict[tuple[str, str], list[Obj]] = defaultdict(list)
        for pod in self.snap.list("pods"):
            for item in labels(pod).items():
                index[item].append(pod)
        return index

    @cached_property
    def _selectable_by_label(self) -> dict[tuple[str, str, str], list[Obj]]:
        """The Pods a Service may select (not terminated), by (namespace, label key, value), in the order listed:
        what every Service's selection looks up, so that it filters neither namespaces nor phases."""
        index: dict[tuple[str, str, str], list[Obj]] = defaultdict(list)
        for pod in self.snap.list("pods"):
            if (pod.get("status") or {}).get("phase") in TERMINATED_PHASES:
                continue
            m = pod.get("metadata") or {}
            ns = m.get("namespace", "")
            for key, value in (m.get("labels") or {}).items():
                index[(ns, key, value)].append(pod)
        return index

    def matching_pods(self, selector: dict[str, str], namespace: str | None) -> list[Obj]:
        """Pods whose labels match the selector, in `namespace` (None: any namespace), terminated ones too."""
        if not selector:
            return []
        candidates = min((self.pods_by_label.get(item, []) for item in selector.items()), key=len)
        if len(selector) == 1:  # the candidates carry that one pair already (most Services select by one label)
            return [p for p in candidates if namespace is None or meta(p).get("namespace", "") == namespace]
        return [
            p
            for p in candidates
            if (namespace is None or meta(p).get("namespace", "") == namespace)
            and selector_matches(selector, labels(p))
        ]

    def selected_pods(self, svc: Obj) -> list[Obj]:
        """Pods of the Service's namespace its selector matches, not terminated (none for selector-less Services);
        one list per Service, read-only."""
        m = meta(svc)
        key = (m.get("namespace", ""), m.get("name", ""))
        pods = self._selected.get(key)
        if pods is None:
            selector = (svc.get("spec") or {}).get("selector") or {}
            if selector:
                index = self._selectable_by_label
                ns = key[0]
                rarest = min((index.get((ns, *item)) or [] for item in selector.items()), key=len)
                # The rarest list carries that pair already: with one pair (most Services) it is the answer.
                pods = rarest if len(selector) == 1 else [p for p in rarest if selector_matches(selector, labels(p))]
            else:
                pods = []
            self._selected[key] = pods
        return pods

    @cached_property
    def services_with_pods(self) -> list[tuple[Obj, list[Obj]]]:
        """The examined Services that have backends (k8s.has_backends), each with the Pods it selects: what most
        Service checks walk, paired once per run instead of once per check."""
        return [(svc, self.selected_pods(svc)) for svc in self.services if has_backends(svc)]

    @cached_property
    def slices_by_service(self) -> dict[tuple[str, str], list[Obj]]:
        index: dict[tuple[str, str], list[Obj]] = defaultdict(list)
        for es in self.snap.list("endpointslices"):
            owner = labels(es).get("kubernetes.io/service-name")
            if owner:
                index[(meta(es).get("namespace", ""), owner)].append(es)
        return index

    def endpoints(self, svc: Obj) -> Endpoints:
        def made(key: tuple[str, str]) -> Endpoints:
            slices = self.slices_by_service.get(key) or []
            if slices:
                return slice_endpoints(slices)
            ready = self.selected_ready(svc)
            return Endpoints(sum(ready), len(ready), False)

        return _once_per_service(self._endpoints, svc, made)

    def selected_ready(self, svc: Obj) -> list[bool]:
        """k8s.pod_ready of each of selected_pods(svc), in that order."""
        return _once_per_service(self._ready, svc, lambda _key: [pod_ready(p) for p in self.selected_pods(svc)])

    def selected_on_super_node(self, svc: Obj) -> list[bool]:
        """k8s.is_super_node_pod of each of selected_pods(svc) with this snapshot's super nodes, in that order."""
        nodes = self.super_nodes
        return _once_per_service(
            self._on_super_node, svc, lambda _key: [is_super_node_pod(p, nodes) for p in self.selected_pods(svc)]
        )

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
        nodes = [labels(n) for n in self.snap.maybe("nodes")]
        return tke.detect_kube_proxy(self.kube_proxy_daemonset, configmaps, nodes or None)

    @cached_property
    def super_nodes(self) -> frozenset[str]:
        """Names of the super nodes (eklet) among the nodes, when they can be read."""
        return frozenset(str(meta(n).get("name", "")) for n in self.snap.maybe("nodes") if is_super_node(n))

    @cached_property
    def eks_pod_defaults(self) -> dict[str, str]:
        """The annotations ConfigMap kube-system/eks-config gives every super-node Pod (a Pod's own win)."""
        config = self.configmaps.get(tke.EKS_CONFIG) or {}
        return tke.eks_pod_defaults((config.get("data") or {}).get(tke.EKS_POD_ANNOTATIONS))

    def super_node_setting(self, pod: Obj, key: str) -> tuple[str | None, str | None]:
        """(value, where from) of a per-Pod super-node setting: the Pod's annotation, else eks-config's
        default; (None, None) when neither sets it."""
        own = annotations_of(pod).get(key)
        if own is not None:
            return own, "pod"
        default = self.eks_pod_defaults.get(key)
        return (default, "eks-config") if default is not None else (None, None)

    @cached_property
    def global_router(self) -> bool:
        """A GlobalRouter cluster: kube-system runs DaemonSet tke-bridge-agent (on some node)."""
        nodes = [labels(n) for n in self.snap.maybe("nodes")] or None
        return any(
            meta(ds).get("name") == tke.GLOBAL_ROUTER_DAEMONSET
            and meta(ds).get("namespace") == KUBE_SYSTEM
            and not tke.scheduled_nowhere(ds, nodes)
            for ds in self.snap.list("daemonsets")
        )

    @cached_property
    def ready_cvm_nodes(self) -> int:
        """Ready nodes other than super nodes: the ones a CLB reaches through their NodePorts (a super node has
        no NodePort and no kube-proxy, so it is never such a backend)."""
        return sum(1 for n in self.snap.list("nodes") if pod_condition(n, "Ready") == "True" and not is_super_node(n))

    # -- Ingresses ---------------------------------------------------------------------------------

    @cached_property
    def ingresses(self) -> list[Obj]:
        """The Ingresses this run examines (name and -l applied)."""
        return self._examined(self.snap.list("ingresses"))

    @cached_property
    def tkeserviceconfigs(self) -> dict[tuple[str, str], Obj]:
        """TkeServiceConfigs by (namespace, name)."""
        return {(meta(c).get("namespace", ""), meta(c).get("name", "")): c for c in self.snap.list("tkeserviceconfigs")}

    def existing_backends(self, ing: Obj) -> Iterator[tuple[Backend, Obj]]:
        """Each backend of the Ingress whose Service exists in the Ingress's namespace, with that Service."""
        ns = meta(ing).get("namespace", "")
        for backend in backends(ing):
            svc = self.services_by_key.get((ns, backend.service))
            if svc is not None:
                yield backend, svc

    # -- Gateway API -------------------------------------------------------------------------------

    @cached_property
    def gateways(self) -> list[Obj]:
        """The Gateways this run examines (name and -l applied)."""
        return self._examined(self.snap.list("gateways"))

    @cached_property
    def gateways_by_key(self) -> dict[tuple[str, str], Obj]:
        """Every Gateway listed, by (namespace, name): routes may attach to Gateways this run does not examine."""
        return {(meta(g).get("namespace", ""), meta(g).get("name", "")): g for g in self.snap.list("gateways")}

    def _examined_routes(self, routes: list[Obj]) -> list[Obj]:
        """The routes of the run before a Gateway NAME or -l narrows them (lint: the manifests' own)."""
        return routes

    @cached_property
    def gatewayclasses(self) -> dict[str, Obj]:
        return {meta(c).get("name", ""): c for c in self.snap.list("gatewayclasses")}

    @cached_property
    def routes(self) -> list[Obj]:
        """The HTTPRoutes and GRPCRoutes this run examines: with a Gateway NAME, those attached to it (by their
        parentRefs); else every one in scope. -l selects Gateways, not routes."""
        routes = self._examined_routes(self.snap.list("httproutes") + self.snap.list("grpcroutes"))
        if self.name is None and self.selector is None:
            return routes
        examined = {(meta(g).get("namespace", ""), meta(g).get("name", "")) for g in self.gateways}
        return [r for r in routes if any((p.namespace, p.name) in examined for p in parent_refs(r))]
