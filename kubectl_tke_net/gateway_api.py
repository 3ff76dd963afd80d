"""Gateway API (gateway.networking.k8s.io/v1) as the checks read it: parent references and the listeners they
select, which routes a listener allows, hostname intersection, backend references and ReferenceGrants. Pure
functions of the objects; the rules follow the Gateway API specification (v1.6, standard channel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_tke_net.k8s import labels, meta

GROUP = "gateway.networking.k8s.io"
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute")

# Envoy Gateway, which Tencent's practice guide runs on CLB, labels the LoadBalancer Service it creates for a
# Gateway with these (in its own namespace, envoy-gateway-system by default, unless the Gateway's namespace
# is used: "GatewayNamespace" deploy mode).
OWNING_NAME = "gateway.envoyproxy.io/owning-gateway-name"
OWNING_NAMESPACE = "gateway.envoyproxy.io/owning-gateway-namespace"

Obj = dict[str, Any]


def mapping(value: object) -> dict[str, Any]:
    """The value when it is a mapping, else an empty one (custom resources are read defensively)."""
    return value if isinstance(value, dict) else {}


def _spec(obj: Obj) -> dict[str, Any]:
    return mapping(obj.get("spec"))


def _ns(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")


def _name(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def condition(obj_status: Any, kind: str) -> dict[str, Any] | None:
    """The condition of this type in a status (or a status.listeners[] / status.parents[] entry)."""
    if not isinstance(obj_status, dict):
        return None
    for cond in obj_status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return None


def is_false(cond: dict[str, Any] | None) -> bool:
    return cond is not None and cond.get("status") == "False"


def condition_text(cond: dict[str, Any]) -> str:
    """`reason: message` of a condition, on one line."""
    reason = str(cond.get("reason") or cond.get("status") or "")
    message = " ".join(str(cond.get("message") or "").split())
    return f"{reason}: {message}" if message else reason


@dataclass(frozen=True)
class ParentRef:
    """A route's spec.parentRefs[] entry that names a Gateway (other parent kinds are not judged)."""

    namespace: str
    name: str
    section: str | None
    port: int | None
    index: int

    @property
    def text(self) -> str:
        where = f"{self.namespace}/{self.name}"
        if self.section:
            where += f" listener {self.section}"
        if self.port:
            where += f" port {self.port}"
        return where


def parent_refs(route: Obj) -> list[ParentRef]:
    refs = []
    for i, ref in enumerate(_spec(route).get("parentRefs") or []):
        if not isinstance(ref, dict):
            continue
        if (ref.get("group") or GROUP) != GROUP or (ref.get("kind") or "Gateway") != "Gateway":
            continue
        port = ref.get("port")
        refs.append(
            ParentRef(
                str(ref.get("namespace") or _ns(route)),
                str(ref.get("name") or ""),
                str(ref["sectionName"]) if ref.get("sectionName") else None,
                port if isinstance(port, int) else None,
                i,
            )
        )
    return refs


def listeners(gateway: Obj) -> list[dict[str, Any]]:
    return [lst for lst in _spec(gateway).get("listeners") or [] if isinstance(lst, dict)]


def selected_listeners(gateway: Obj, parent: ParentRef) -> list[dict[str, Any]]:
    """The Gateway's listeners a parentRef attaches to: by sectionName and port when given, else all."""
    return [
        lst
        for lst in listeners(gateway)
        if (parent.section is None or lst.get("name") == parent.section)
        and (parent.port is None or lst.get("port") == parent.port)
    ]


def allows(listener: dict[str, Any], gateway: Obj, route: Obj) -> bool | None:
    """Whether a listener accepts a route of this kind from the route's namespace; None when it cannot be known
    from the objects (a namespace label selector: the plugin does not list Namespaces)."""
    allowed = mapping(listener.get("allowedRoutes"))
    kinds = [k for k in allowed.get("kinds") or [] if isinstance(k, dict)]
    if kinds and not any((k.get("group") or GROUP) == GROUP and k.get("kind") == route.get("kind") for k in kinds):
        return False
    namespaces = mapping(allowed.get("namespaces"))
    source = namespaces.get("from") or "Same"
    if source == "All":
        return True
    if source == "Same":
        return _ns(route) == _ns(gateway)
    return None


def _host_match(pattern: str, host: str) -> bool:
    """A listener or route hostname (`*.example.com` is a suffix match of one label or more) against a host."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def hostnames_intersect(listener_host: str | None, route_hosts: list[str]) -> bool:
    """Gateway API's rule: no listener hostname matches every route; no route hostname matches the listener;
    else some route hostname and the listener's must match either way (wildcards on both sides)."""
    if not listener_host or not route_hosts:
        return True
    return any(_host_match(listener_host, h) or _host_match(h, listener_host) for h in route_hosts)


def route_hostnames(route: Obj) -> list[str]:
    return [str(h) for h in _spec(route).get("hostnames") or [] if isinstance(h, str)]


@dataclass(frozen=True)
class BackendRef:
    """A Service named by a route rule's backendRefs[] (other kinds are not judged)."""

    namespace: str
    name: str
    port: int | None
    rule: int

    @property
    def text(self) -> str:
        return f"{self.name}:{self.port}" if self.port is not None else self.name


def backend_refs(route: Obj) -> list[BackendRef]:
    refs = []
    for i, rule in enumerate(_spec(route).get("rules") or []):
        if not isinstance(rule, dict):
            continue
        for backend in rule.get("backendRefs") or []:
            if not isinstance(backend, dict):
                continue
            if (backend.get("group") or "") != "" or (backend.get("kind") or "Service") != "Service":
                continue
            port = backend.get("port")
            refs.append(
                BackendRef(
                    str(backend.get("namespace") or _ns(route)),
                    str(backend.get("name") or ""),
                    port if isinstance(port, int) else None,
                    i,
                )
            )
    return refs


def granted(grants: list[Obj], route: Obj, backend: BackendRef) -> bool:
    """Whether a ReferenceGrant in the backend's namespace lets this route's kind and namespace use the Service."""
    for grant in grants:
        if _ns(grant) != backend.namespace:
            continue
        spec = _spec(grant)
        sources = [f for f in spec.get("from") or [] if isinstance(f, dict)]
        targets = [t for t in spec.get("to") or [] if isinstance(t, dict)]
        if not any(
            f.get("group") == GROUP and f.get("kind") == route.get("kind") and f.get("namespace") == _ns(route)
            for f in sources
        ):
            continue
        if any(
            (t.get("group") or "") == ""
            and t.get("kind") == "Service"
            and (not t.get("name") or t.get("name") == backend.name)
            for t in targets
        ):
            return True
    return False


def gateway_services(gateway: Obj, services: list[Obj]) -> list[Obj]:
    """The data-plane Services of a Gateway: those Envoy Gateway labels as owned by it."""
    return [
        s
        for s in services
        if labels(s).get(OWNING_NAME) == _name(gateway) and labels(s).get(OWNING_NAMESPACE) == _ns(gateway)
    ]


def addresses(gateway: Obj) -> list[str]:
    return [
        str(a.get("value"))
        for a in mapping(gateway.get("status")).get("addresses") or []
        if isinstance(a, dict) and a.get("value")
    ]
