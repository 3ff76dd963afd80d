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
    """A kind the checks read. scope: "namespaced" (the user's -n/-A scope), "cluster", or "kube-system".

    `resource` is set on a narrow read of a kind the table already has (`narrowed`): the few objects of that
    resource in kube-system that the selectors name, read whatever -n says (SPEC 2: cluster-wide facts such as
    the cluster DNS Service come from kube-system), and taken from the resource's own list when the run's scope
    already holds kube-system."""

    name: str
    kind: str
    api_version: str
    scope: str
    field_selector: str | None = None
    metadata_only: bool = False
    label_selector: str | None = None
    resource: str | None = None

    @property
    def plural(self) -> str:
        """The API resource: `name`, or for a narrow read the resource it narrows."""
        return self.resource or self.name

    @property
    def base_path(self) -> str:
        return "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"

    def path(self, namespace: str | None) -> str:
        if self.scope == "cluster" or namespace is None:
            return f"{self.base_path}/{self.plural}"
        return f"{self.base_path}/namespaces/{namespace}/{self.plural}"


def _pairs(selector: str | None) -> dict[str, str]:
    return dict(part.split("=", 1) for part in (selector or "").split(",") if "=" in part)


def narrowed(kind: Kind, obj: Obj) -> bool:
    """Whether an object of the narrowed resource is one a narrow read (`Kind.resource`) takes: in kube-system,
    and matching its field selector (metadata.name=...) and label selector (k=v,...)."""
    meta = obj.get("metadata") or {}
    fields = _pairs(kind.field_selector)
    labels = meta.get("labels") or {}
    return (
        meta.get("namespace") == KUBE_SYSTEM
        and all(meta.get(k.removeprefix("metadata.")) == v for k, v in fields.items())
        and all(labels.get(k) == v for k, v in _pairs(kind.label_selector).items())
    )


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
        Kind(
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
            "admissionregistration.k8s.io/v1",
            "cluster",
        ),
        # The cluster DNS Service and its EndpointSlices (TKE603), whatever namespace the run examines.
        Kind("kube-dns", "Service", "v1", KUBE_SYSTEM, field_selector="metadata.name=kube-dns", resource="services"),
        Kind(
            "kube-dns-endpointslices",
            "EndpointSlice",
            "discovery.k8s.io/v1",
            KUBE_SYSTEM,
            label_selector="kubernetes.io/service-name=kube-dns",
            resource="endpointslices",
        ),
    )
}


# The kind of each object read from a file; a narrow read takes its objects from its resource's list.
BY_KIND = {k.kind: k for k in KINDS.values() if k.resource is None}


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
