"""The kinds the checks read (the kind table) and what is kept of each object as it is read (`clean`, after
shape.SHAPES): the one place both the sources and the snapshot take them from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_tke_net import shape

Obj = dict[str, Any]


KUBE_SYSTEM = "kube-system"


# Kept in a dump's List metadata so that a snapshot of a restricted user's run skips the same checks.
UNAVAILABLE_ANNOTATION = "tke-net.kubectl.io/unavailable"


@dataclass(frozen=True)
class Kind:
    """A kind the checks read. scope: "namespaced" (the user's -n/-A scope), "cluster", or "kube-system"."""

    name: str
    kind: str
    api_version: str
    scope: str
    field_selector: str | None = None
    metadata_only: bool = False

    @property
    def base_path(self) -> str:
        return "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"

    def path(self, namespace: str | None) -> str:
        if self.scope == "cluster" or namespace is None:
            return f"{self.base_path}/{self.name}"
        return f"{self.base_path}/namespaces/{namespace}/{self.name}"


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("nodes", "Node", "v1", "cluster"),
        Kind("services", "Service", "v1", "namespaced"),
        Kind("pods", "Pod", "v1", "namespaced"),
        Kind("endpointslices", "EndpointSlice", "discovery.k8s.io/v1", "namespaced"),
        Kind("events", "Event", "v1", "namespaced", field_selector="type=Warning"),
        Kind("ingresses", "Ingress", "networking.k8s.io/v1", "namespaced"),
        Kind("ingressclasses", "IngressClass", "networking.k8s.io/v1", "cluster"),
        Kind("secrets", "Secret", "v1", "namespaced", metadata_only=True),
        Kind("tkeserviceconfigs", "TkeServiceConfig", "cloud.tencent.com/v1alpha1", "namespaced"),
        Kind("daemonsets", "DaemonSet", "apps/v1", KUBE_SYSTEM),
        Kind("configmaps", "ConfigMap", "v1", KUBE_SYSTEM),
        Kind("gatewayclasses", "GatewayClass", "gateway.networking.k8s.io/v1", "cluster"),
        Kind("gateways", "Gateway", "gateway.networking.k8s.io/v1", "namespaced"),
        Kind("httproutes", "HTTPRoute", "gateway.networking.k8s.io/v1", "namespaced"),
        Kind("grpcroutes", "GRPCRoute", "gateway.networking.k8s.io/v1", "namespaced"),
        Kind("referencegrants", "ReferenceGrant", "gateway.networking.k8s.io/v1", "namespaced"),
    )
}


BY_KIND = {k.kind: k for k in KINDS.values()}


# Facts that are not Kubernetes objects but belong to a snapshot all the same, as items of its List under
# apiVersion tke-net/v1: what the Tencent Cloud source read (CloudFacts) and what the probe measured
# (ProbeResult). `dump` writes them, so --snapshot of a dump reproduces cloud and probe findings offline.
FACTS_API = "tke-net/v1"


FACT_KINDS = ("CloudFacts", "ProbeResult")


# Tests turn this off to prove that the checks read no field the projection drops (tests/test_snapshot.py).
PROJECT = True


def clean(kind: Kind, obj: Obj) -> Obj:
    """An object as the checks and dumps keep it: typed, and only the fields of shape.SHAPES (SPEC 9.2)."""
    obj["kind"] = kind.kind
    obj["apiVersion"] = kind.api_version
    if not isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {}
    if not PROJECT and kind.kind != "Secret":
        obj["metadata"].pop("managedFields", None)
        return obj
    return shape.keep(obj)
