"""Gateway API checks TKE501-TKE516: GatewayClass -> Gateway (one CLB) -> listeners -> HTTPRoutes and GRPCRoutes
-> backend Services -> endpoints, and the CLB behind the Gateway's own LoadBalancer Service."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from kubectl_tke_net import gateway_api as gw
from kubectl_tke_net import tke
from kubectl_tke_net.checks.ingress import _no_endpoint_reason
from kubectl_tke_net.checks.loopback import _escalated, is_proxy_ip_mode
from kubectl_tke_net.checks.registry import Hit, check
from kubectl_tke_net.checks.service import _event_text
from kubectl_tke_net.facts import Context
from kubectl_tke_net.i18n import N_, _
from kubectl_tke_net.k8s import annotations_of, has_backends, is_internal_service, meta, ref, service_port_matches
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Severity, Unavailable

GW = ("gateway",)
GATEWAYS = ("gateways", "gatewayclasses")
ROUTES = ("httproutes", "grpcroutes", "gateways")


def _ns_name(obj: Obj) -> tuple[str, str]:
    return str(meta(obj).get("namespace") or ""), str(meta(obj).get("name") or "")


def _status(obj: Obj) -> dict[str, Any]:
    return gw.mapping(obj.get("status"))


def _class_name(gateway: Obj) -> str:
    return str((gateway.get("spec") or {}).get("gatewayClassName") or "")


def _route_kind(route: Obj) -> str:
    return str(route.get("kind") or "HTTPRoute").lower()


@check("TKE501", Severity.ERROR, N_("Gateway's GatewayClass does not exist"), needs=GATEWAYS, commands=GW)
def gateway_class_missing(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Gateway's `spec.gatewayClassName` names no GatewayClass, and suggests a class with a similar
    name when there is one.

    ## Why it breaks traffic
    A GatewayClass says which controller serves its Gateways (Envoy Gateway on TKE:
    `gateway.envoyproxy.io/gatewayclass-controller`). Without it no controller picks the Gateway up: no
    Envoy proxy, no LoadBalancer Service, no CLB, and every route attached to it goes nowhere.

    ## How to fix it
    `kubectl get gatewayclass` lists the classes; correct `spec.gatewayClassName` (it cannot be changed
    on some controllers: create the Gateway again), or create the GatewayClass your controller's install
    guide gives.
    """
    classes = ctx.gatewayclasses
    for gateway in ctx.gateways:
        name = _class_name(gateway)
        if name in classes:
            continue
        similar = difflib.get_close_matches(name, list(classes), n=1)
        hint = _(", did you mean {name}?").format(name=similar[0]) if similar else ""
        ns, gw_name = _ns_name(gateway)
        yield Hit(
            ref(gateway),
            _("GatewayClass {name} does not exist{hint}: no controller serves this Gateway, so it gets no CLB").format(
                name=name or '""', hint=hint
            ),
            _(
                "kubectl get gatewayclass; set spec.gatewayClassName to one of them: "
                "kubectl edit gateway -n {ns} {name}"
            ).format(ns=ns, name=gw_name),
        )


@check("TKE502", Severity.ERROR, N_("Gateway's GatewayClass not accepted"), needs=GATEWAYS, commands=GW)
def gateway_class_not_accepted(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Gateway's GatewayClass exists but its controller has set its `Accepted` condition to
    `False`; the message quotes the condition's reason and message. A class without the condition (no
    controller has seen it yet) is named too, as not accepted by any controller.

    ## Why it breaks traffic
    A controller that does not accept a class (a wrong `parametersRef`, an unsupported version of the
    Gateway API CRDs) does not program its Gateways: no proxy, no CLB.

    ## How to fix it
    `kubectl describe gatewayclass NAME`: fix what the condition names (for Envoy Gateway, the
    EnvoyProxy resource named by `parametersRef`, or the CRD version), or check that the controller named
    in `spec.controllerName` runs (`kubectl get pods -n envoy-gateway-system`).
    """
    for gateway in ctx.gateways:
        cls = ctx.gatewayclasses.get(_class_name(gateway))
        if cls is None:
            continue
        accepted = gw.condition(_status(cls), "Accepted")
        if accepted is not None and accepted.get("status") == "True":
            continue
        controller = str((cls.get("spec") or {}).get("controllerName") or "")
        if accepted is None:
            why = _("no controller has accepted it (no Accepted condition; is {controller} running?)").format(
                controller=controller or _("its controller")
            )
        else:
            why = gw.condition_text(accepted)
        yield Hit(
            ref(gateway),
            _("GatewayClass {name} is not accepted: {why}").format(name=_class_name(gateway), why=why),
            _("kubectl describe gatewayclass {name}, and fix what its Accepted condition names").format(
                name=_class_name(gateway)
            ),
        )


def _data_plane_text(ctx: Context, gateway: Obj) -> str:
    """What the Gateway's own LoadBalancer Service says about its CLB: its address or, without one, its newest
    Warning event with TKE's error codes explained."""
    services = gw.gateway_services(gateway, ctx.snap.maybe("services"))
    if not services:
        return ""
    parts = []
    for svc in services:
        ns, name = _ns_name(svc)
        lb = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        if (svc.get("spec") or {}).get("type") != "LoadBalancer":
            parts.append(
                _("its Service {ns}/{name} is type {type}, so it gets no CLB").format(
                    ns=ns, name=name, type=(svc.get("spec") or {}).get("type") or "ClusterIP"
                )
            )
        elif not lb:
            events = ctx.warnings(svc)
            event = _("; newest Warning event: {event}").format(event=_event_text(events[0])) if events else ""
            parts.append(_("its Service {ns}/{name} has no CLB address{event}").format(ns=ns, name=name, event=event))
    return "; ".join(parts)


@check("TKE503", Severity.ERROR, N_("Gateway without address"), needs=("gateways",), commands=GW)
def gateway_without_address(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Gateway has no address in `status.addresses`. The message quotes the Gateway's newest
    Warning event and, when the plugin sees the LoadBalancer Service that Envoy Gateway created for it
    (labels `gateway.envoyproxy.io/owning-gateway-name` and `-namespace`, in `envoy-gateway-system` unless
    the Gateway's own namespace is used: run with `-A` to see it), why that Service has no CLB: its type, or
    its newest Warning event with TKE's controller error codes explained (`E4xxx`).

    ## Why it breaks traffic
    On TKE one Gateway is one CLB, created by TKE's service controller for the Gateway's LoadBalancer
    Service. No address means no CLB: nothing to connect to. The causes are those of a LoadBalancer
    Service without address (TKE107): a wrong subnet in the internal-subnet annotation (set it in the
    EnvoyProxy's `envoyService.annotations` or the Gateway's `spec.infrastructure.annotations`), an existing
    CLB that is in use, quota, balance.

    ## How to fix it
    `kubectl describe gateway -n NS NAME` and `kubectl describe service -n envoy-gateway-system SERVICE`;
    fix what the events name; TKE's controller retries by itself.
    """
    for gateway in ctx.gateways:
        if gw.addresses(gateway):
            continue
        ns, name = _ns_name(gateway)
        message = _("the Gateway has no address (status.addresses is empty)")
        events = ctx.warnings(gateway)
        if events:
            message += _("; newest Warning event: {event}").format(event=_event_text(events[0]))
        data_plane = _data_plane_text(ctx, gateway)
        if data_plane:
            message += "; " + data_plane
        yield Hit(
            ref(gateway),
            message,
            _(
                "kubectl describe gateway -n {ns} {name}, and describe its LoadBalancer Service (kubectl get "
                "service -A -l {label}={name}); fix what the events name (subnet, existing CLB, quota, balance)"
            ).format(ns=ns, name=name, label=gw.OWNING_NAME),
        )


@check("TKE504", Severity.ERROR, N_("Gateway or listener not programmed"), needs=("gateways",), commands=GW)
def gateway_not_programmed(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when the controller reports a Gateway's `Accepted` or `Programmed` condition `False`, or the
    same conditions, or `ResolvedRefs`, `False` on one of its listeners (`status.listeners[]`); the message
    names each with the condition's reason and message (`InvalidCertificateRef`, `PortUnavailable`,
    `UnsupportedProtocol`, `AddressNotAssigned`).

    ## Why it breaks traffic
    A listener that is not programmed has no CLB listener and no Envoy listener behind it: requests to
    its port are refused, and routes attached to it get no traffic even when they are accepted.

    ## How to fix it
    `kubectl describe gateway -n NS NAME`: fix what the conditions name (the TLS Secret of
    `tls.certificateRefs`, a port or protocol the controller supports).
    """
    for gateway in ctx.gateways:
        problems = []
        for kind in ("Accepted", "Programmed"):
            cond = gw.condition(_status(gateway), kind)
            if gw.is_false(cond) and cond is not None:
                problems.append(_("Gateway {kind} False ({why})").format(kind=kind, why=gw.condition_text(cond)))
        for lst in _status(gateway).get("listeners") or []:
            if not isinstance(lst, dict):
                continue
            for kind in ("Accepted", "Programmed", "ResolvedRefs"):
                cond = gw.condition(lst, kind)
                if gw.is_false(cond) and cond is not None:
                    problems.append(
                        _("listener {listener} {kind} False ({why})").format(
                            listener=lst.get("name"), kind=kind, why=gw.condition_text(cond)
                        )
                    )
        if problems:
            ns, name = _ns_name(gateway)
            yield Hit(
                ref(gateway),
                "; ".join(problems),
                _("kubectl describe gateway -n {ns} {name}, and fix what the conditions name").format(ns=ns, name=name),
            )


def _parent_conditions(route: Obj, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(parent text, condition) for each status.parents[] entry whose condition `kind` is False."""
    for parent in _status(route).get("parents") or []:
        if not isinstance(parent, dict):
            continue
        cond = gw.condition(parent, kind)
        if not gw.is_false(cond) or cond is None:
            continue
        pref = gw.mapping(parent.get("parentRef"))
        where = f"{pref.get('namespace') or meta(route).get('namespace', '')}/{pref.get('name', '')}"
        if pref.get("sectionName"):
            where += f" listener {pref['sectionName']}"
        yield where, cond


def _false_conditions(ctx: Context, kind: str, problem: str, remediation: str) -> Iterator[Hit]:
    """TKE505/TKE506: one Hit per route whose status.parents[] has condition `kind` False, naming each parent
    (`problem` takes {gateway} and {why}, `remediation` {kind}, {ns} and {name})."""
    for route in ctx.routes:
        failed = _parent_conditions(route, kind)
        problems = [problem.format(gateway=where, why=gw.condition_text(cond)) for where, cond in failed]
        if problems:
            ns, name = _ns_name(route)
            yield Hit(ref(route), "; ".join(problems), remediation.format(kind=_route_kind(route), ns=ns, name=name))


@check("TKE505", Severity.ERROR, N_("route not accepted by its Gateway"), needs=ROUTES, commands=GW)
def route_not_accepted(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when an HTTPRoute or GRPCRoute has, in `status.parents[]`, an `Accepted` condition `False` for
    some parent Gateway; the message names the Gateway and quotes the reason (`NotAllowedByListeners`,
    `NoMatchingListenerHostname`, `NoMatchingParent`, `UnsupportedValue`) and message.

    ## Why it breaks traffic
    A route that its Gateway does not accept is not configured on the proxy: its hosts and paths answer 404
    through that Gateway's CLB.

    ## How to fix it
    The reason says what to change: the listener's `allowedRoutes` (TKE509), the route's `hostnames`
    (TKE514), its `parentRefs` (TKE507, TKE508). `kubectl describe httproute -n NS NAME`.
    """
    yield from _false_conditions(
        ctx,
        "Accepted",
        _("not accepted by Gateway {gateway}: {why}"),
        _("kubectl describe {kind} -n {ns} {name}, and fix what the reason names"),
    )


@check("TKE506", Severity.ERROR, N_("route references not resolved"), needs=ROUTES, commands=GW)
def route_refs_not_resolved(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when an HTTPRoute or GRPCRoute has, in `status.parents[]`, a `ResolvedRefs` condition `False`;
    the message quotes the reason (`BackendNotFound`, `RefNotPermitted`, `InvalidKind`,
    `UnsupportedProtocol`) and message.

    ## Why it breaks traffic
    The controller could not resolve some backend: requests for the rule that names it get a 500 from
    the proxy (Gateway API's rule for an invalid backend), the other rules still work.

    ## How to fix it
    TKE510-TKE513 say which backend and why; `kubectl describe httproute -n NS NAME`.
    """
    yield from _false_conditions(
        ctx,
        "ResolvedRefs",
        _("references not resolved for Gateway {gateway}: {why}"),
        _("kubectl describe {kind} -n {ns} {name}, and fix the backendRefs it names"),
    )


@check("TKE507", Severity.ERROR, N_("route's parent Gateway does not exist"), needs=ROUTES, commands=GW)
def route_parent_missing(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when an HTTPRoute or GRPCRoute names, in `spec.parentRefs`, a Gateway that does not exist (in the
    parentRef's `namespace`, by default the route's own). Only Gateways in the run's scope are known: with
    `-n`, a parent in another namespace is not judged (run with `-A`).

    ## Why it breaks traffic
    A route attaches only to the Gateways it names. With a wrong name it is attached to none: no CLB
    routes to it.

    ## How to fix it
    `kubectl get gateway -A`; correct `spec.parentRefs[].name` and `namespace`.
    """
    in_scope = ctx.snap.namespace
    for route in ctx.routes:
        missing = [
            p.text
            for p in gw.parent_refs(route)
            if (in_scope is None or p.namespace == in_scope) and (p.namespace, p.name) not in ctx.gateways_by_key
        ]
        if missing:
            ns, name = _ns_name(route)
            yield Hit(
                ref(route),
                _("parent Gateway {gateways} does not exist").format(gateways=", ".join(missing)),
                _("kubectl get gateway -A; correct spec.parentRefs: kubectl edit {kind} -n {ns} {name}").format(
                    kind=_route_kind(route), ns=ns, name=name
                ),
            )


@check("TKE508", Severity.ERROR, N_("route's parent listener does not exist"), needs=ROUTES, commands=GW)
def route_listener_missing(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a route's parentRef names, by `sectionName` and/or `port`, no listener of its (existing)
    Gateway; the message lists the Gateway's listeners.

    ## Why it breaks traffic
    A parentRef with a sectionName or port attaches only to the listeners it names: none, and the route
    gets no traffic through that Gateway.

    ## How to fix it
    Set `sectionName` to a listener's `name` (and `port` to its port), or leave them out to attach to every
    listener that allows the route.
    """
    for route in ctx.routes:
        problems = []
        for parent in gw.parent_refs(route):
            gateway = ctx.gateways_by_key.get((parent.namespace, parent.name))
            if gateway is None or (parent.section is None and parent.port is None):
                continue
            if not gw.selected_listeners(gateway, parent):
                names = ", ".join(f"{lst.get('name')}:{lst.get('port')}" for lst in gw.listeners(gateway))
                problems.append(
                    _("Gateway {gateway} has no such listener (its listeners: {listeners})").format(
                        gateway=parent.text, listeners=names or _("none")
                    )
                )
        if problems:
            ns, name = _ns_name(route)
            yield Hit(
                ref(route),
                "; ".join(problems),
                _("correct spec.parentRefs[].sectionName or port: kubectl edit {kind} -n {ns} {name}").format(
                    kind=_route_kind(route), ns=ns, name=name
                ),
            )


@check("TKE509", Severity.ERROR, N_("no listener allows the route"), needs=ROUTES, commands=GW)
def route_not_allowed(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when none of the listeners a route's parentRef selects allows the route: `allowedRoutes.namespaces.from`
    is `Same` (the default) and the route is in another namespace than the Gateway, or
    `allowedRoutes.kinds` does not list the route's kind. A listener with `from: Selector` is not judged:
    the plugin does not read Namespaces' labels.

    ## Why it breaks traffic
    This is the usual shape of Tencent's guidance (one Gateway, one CLB, HTTPRoutes in many namespaces):
    unless the listener says `from: All` (or a selector that matches), routes from other namespaces are
    refused (`NotAllowedByListeners`) and their hosts answer 404.

    ## How to fix it
    On the Gateway: `allowedRoutes: {namespaces: {from: All}}` on the listener (or `Selector` with a label
    the route's namespace has), or create the route in the Gateway's namespace.
    """
    for route in ctx.routes:
        problems = []
        for parent in gw.parent_refs(route):
            gateway = ctx.gateways_by_key.get((parent.namespace, parent.name))
            if gateway is None:
                continue
            selected = gw.selected_listeners(gateway, parent)
            verdicts = [gw.allows(lst, gateway, route) for lst in selected]
            if selected and all(v is False for v in verdicts):
                problems.append(
                    _("no listener of Gateway {gateway} allows {kind} from namespace {ns}").format(
                        gateway=parent.text, kind=route.get("kind"), ns=meta(route).get("namespace", "")
                    )
                )
        if problems:
            gws = {p.split(" ")[0] for p in (x.text for x in gw.parent_refs(route))}
            yield Hit(
                ref(route),
                "; ".join(problems),
                _(
                    "set allowedRoutes.namespaces.from: All (or a Selector) on the listener of Gateway {gateway}, "
                    "or create the route in the Gateway's namespace"
                ).format(gateway=", ".join(sorted(gws))),
            )


def _backends(ctx: Context, route: Obj) -> Iterator[tuple[gw.BackendRef, Obj | None]]:
    for backend in gw.backend_refs(route):
        yield backend, ctx.services_by_key.get((backend.namespace, backend.name))


def _in_scope(ctx: Context, namespace: str) -> bool:
    return ctx.snap.namespace is None or ctx.snap.namespace == namespace


@check("TKE510", Severity.ERROR, N_("route backend Service missing"), needs=(*ROUTES, "services"), commands=GW)
def route_backend_missing(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a route rule's `backendRefs` (kind Service, the default) names a Service that does not
    exist in the backendRef's namespace (by default the route's). A backend in a namespace outside the
    run's scope (`-n`) is not judged.

    ## Why it breaks traffic
    Gateway API answers 500 for the requests a rule would send to a missing backend (ResolvedRefs
    `BackendNotFound`).

    ## How to fix it
    Create the Service, or correct `backendRefs[].name` and `namespace` (`kubectl get service -n NS`).
    """
    for route in ctx.routes:
        missing = sorted(
            {
                f"{b.namespace}/{b.name}"
                for b, svc in _backends(ctx, route)
                if svc is None and _in_scope(ctx, b.namespace)
            }
        )
        if missing:
            ns, name = _ns_name(route)
            yield Hit(
                ref(route),
                _("backend Service {services} does not exist").format(services=", ".join(missing)),
                _("create the Service or correct backendRefs: kubectl edit {kind} -n {ns} {name}").format(
                    kind=_route_kind(route), ns=ns, name=name
                ),
            )


@check("TKE511", Severity.ERROR, N_("route backend port not a Service port"), needs=(*ROUTES, "services"), commands=GW)
def route_backend_port(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a route's Service backendRef has no `port`, or a port that is not one of the Service's
    `spec.ports[].port` (not the targetPort, not the nodePort); the message lists the Service's ports.

    ## Why it breaks traffic
    A Service backend needs a port (Gateway API requires it); a port the Service does not have resolves to
    nothing and the rule's requests get a 500.

    ## How to fix it
    Set `backendRefs[].port` to the Service's `port` (`kubectl get service -n NS NAME -o
    jsonpath='{.spec.ports}'`).
    """
    for route in ctx.routes:
        problems = []
        for backend, svc in _backends(ctx, route):
            if svc is None or (svc.get("spec") or {}).get("type") == "ExternalName":
                continue
            ports = ", ".join(str(p.get("port")) for p in (svc.get("spec") or {}).get("ports") or [])
            if backend.port is None:
                problems.append(
                    _("backend {service} has no port (the Service's ports: {ports})").format(
                        service=backend.name, ports=ports or _("none")
                    )
                )
            elif not service_port_matches(svc, backend.port):
                problems.append(
                    _("Service {service} has no port {port} (its ports: {ports})").format(
                        service=backend.name, port=backend.port, ports=ports or _("none")
                    )
                )
        if problems:
            ns, name = _ns_name(route)
            yield Hit(
                ref(route),
                "; ".join(dict.fromkeys(problems)),
                _("set backendRefs[].port to the Service's port: kubectl edit {kind} -n {ns} {name}").format(
                    kind=_route_kind(route), ns=ns, name=name
                ),
            )


@check(
    "TKE512",
    Severity.ERROR,
    N_("route backend Service without ready endpoint"),
    needs=(*ROUTES, "services", "pods", "endpointslices"),
    commands=GW,
)
def route_backend_without_endpoint(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a route's backend Service exists but has no ready endpoint, and says why (as TKE204 does for
    Ingresses): its selector matches no Pod, its Pods are not ready (with each Pod's reason), or its
    EndpointSlices list no ready endpoint. Services without a selector and ExternalName Services are not
    checked.

    ## Why it breaks traffic
    Envoy sends only to ready endpoints: with none, the rule's requests get a 503.

    ## How to fix it
    `kubectl tke-net service -n NS NAME` shows the Service's own findings (TKE101, TKE102, TKE111).
    """
    for route in ctx.routes:
        problems = []
        for backend, svc in _backends(ctx, route):
            if svc is None or not has_backends(svc) or ctx.endpoints(svc).ready:
                continue
            problems.append(
                _("Service {service} has no ready endpoint: {reason}").format(
                    service=f"{backend.namespace}/{backend.name}", reason=_no_endpoint_reason(ctx, svc)
                )
            )
        if problems:
            yield Hit(
                ref(route),
                "; ".join(dict.fromkeys(problems)),
                _("kubectl tke-net service -n NS NAME for each, and fix what it reports"),
            )


@check(
    "TKE513",
    Severity.ERROR,
    N_("cross-namespace backend without ReferenceGrant"),
    needs=(*ROUTES, "referencegrants"),
    commands=GW,
)
def route_backend_not_granted(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a route's backendRef names a Service in another namespace and no ReferenceGrant in that
    namespace allows it (`from` the route's group, kind and namespace; `to` Services, all or this one by
    name).

    ## Why it breaks traffic
    Without the grant the reference is refused (ResolvedRefs `RefNotPermitted`): the rule's requests get a
    500. This is Gateway API's guard against routes reaching into namespaces that did not agree.

    ## How to fix it
    In the Service's namespace, create a ReferenceGrant:
    `spec: {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ROUTE_NS}], to: [{group: "",
    kind: Service}]}`, or move the route next to the Service.
    """
    grants = ctx.snap.list("referencegrants")
    for route in ctx.routes:
        ns = str(meta(route).get("namespace") or "")
        refused = sorted(
            {
                f"{b.namespace}/{b.name}"
                for b in gw.backend_refs(route)
                if b.namespace != ns and _in_scope(ctx, b.namespace) and not gw.granted(grants, route, b)
            }
        )
        if refused:
            yield Hit(
                ref(route),
                _("backend Service {services} is in another namespace and no ReferenceGrant there allows it").format(
                    services=", ".join(refused)
                ),
                _(
                    "create a ReferenceGrant in the Service's namespace from {kind} in namespace {ns} to Services"
                ).format(kind=route.get("kind"), ns=ns),
            )


@check("TKE514", Severity.ERROR, N_("no listener accepts the route's hostnames"), needs=ROUTES, commands=GW)
def route_hostnames_unmatched(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a route has `hostnames` and none of them intersects the `hostname` of any listener its
    parentRefs select (Gateway API's matching: `*.example.com` matches one or more labels in front of
    `example.com`, on either side; a listener without a hostname accepts every host).

    ## Why it breaks traffic
    The Gateway refuses the route (`NoMatchingListenerHostname`): its hosts answer 404 through the CLB.

    ## How to fix it
    Add the host to the route's `hostnames` or to a listener's `hostname` (a wildcard listener
    `*.example.com` covers `shop.example.com`).
    """
    for route in ctx.routes:
        hosts = gw.route_hostnames(route)
        if not hosts:
            continue
        problems = []
        for parent in gw.parent_refs(route):
            gateway = ctx.gateways_by_key.get((parent.namespace, parent.name))
            if gateway is None:
                continue
            selected = gw.selected_listeners(gateway, parent)
            if selected and not any(gw.hostnames_intersect(lst.get("hostname"), hosts) for lst in selected):
                listener_hosts = ", ".join(str(lst.get("hostname")) for lst in selected)
                problems.append(
                    _("no listener of Gateway {gateway} accepts {hosts} (listener hostnames: {listeners})").format(
                        gateway=parent.text, hosts=", ".join(hosts), listeners=listener_hosts
                    )
                )
        if problems:
            ns, name = _ns_name(route)
            yield Hit(
                ref(route),
                "; ".join(problems),
                _("match spec.hostnames to a listener's hostname: kubectl edit {kind} -n {ns} {name}").format(
                    kind=_route_kind(route), ns=ns, name=name
                ),
            )


def _gateway_lb_services(ctx: Context, gateway: Obj) -> list[Obj]:
    return [
        s
        for s in gw.gateway_services(gateway, ctx.snap.list("services"))
        if (s.get("spec") or {}).get("type") == "LoadBalancer"
    ]


@check(
    "TKE515",
    Severity.WARNING,
    N_("internal Gateway CLB exposed to loopback"),
    needs=("gateways", "services", "daemonsets"),
    commands=GW,
    fix="prevent-loopback",
)
def gateway_loopback(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Applies TKE302 to the CLB behind a Gateway: fires when the Gateway's LoadBalancer Service (the one
    Envoy Gateway created for it, labelled `gateway.envoyproxy.io/owning-gateway-name`) is internal
    (`service.kubernetes.io/qcloud-loadbalancer-internal-subnetid`) and kube-proxy runs in IPVS mode without
    `service.cloud.tencent.com/prevent-loopback: "true"` on it, or its status reports `ipMode: Proxy` in
    iptables or nftables mode. Error on a single-node cluster (one Ready node besides super nodes, see
    TKE302). When some Gateway has an internal CLB and the proxy mode cannot be known, the check is listed
    in `skipped`, as TKE302 is.

    ## Why it breaks traffic
    In-cluster clients that call the Gateway's internal CLB address leave their node and the CLB may send
    the connection back to that node's NodePort, whose kernel drops it: calls from inside the cluster to
    the Gateway fail at random (see TKE302).

    ## How to fix it
    Put the annotation on the Gateway's Service through the controller, or it is overwritten: for Envoy
    Gateway, `spec.provider.kubernetes.envoyService.annotations` of the EnvoyProxy, or the Gateway's
    `spec.infrastructure.annotations`; `kubectl tke-net fix prevent-loopback NAME -n NS` shows the
    annotation. Or call the routes' hosts by the Service's DNS name.
    """
    internal = [
        (gateway, svc)
        for gateway in ctx.gateways
        for svc in _gateway_lb_services(ctx, gateway)
        if is_internal_service(svc)
    ]
    if not internal:  # nothing to judge: the proxy mode does not matter
        return
    proxy = ctx.kube_proxy
    if not proxy.running:
        raise Unavailable("daemonsets", tke.unknown_reason(proxy) + _(", see TKE305"))
    severity = _escalated(ctx)
    for gateway, svc in internal:
        ns, name = _ns_name(svc)
        if proxy.mode == "ipvs" and not tke.is_true(annotations_of(svc).get(tke.SVC_PREVENT_LOOPBACK)):
            why = _('its Service {ns}/{name} has no {annotation}: "true" while kube-proxy is in IPVS mode').format(
                ns=ns, name=name, annotation=tke.SVC_PREVENT_LOOPBACK
            )
        elif proxy.mode != "ipvs" and is_proxy_ip_mode(svc):
            why = _("its Service {ns}/{name} reports ipMode: Proxy while kube-proxy is in {mode} mode").format(
                ns=ns, name=name, mode=proxy.mode
            )
        else:
            continue
        yield Hit(
            ref(gateway),
            _(
                "internal CLB Gateway: {why}; in-cluster clients of its CLB address can loop back to their own node"
            ).format(why=why),
            _(
                "set {annotation}: \"true\" through the EnvoyProxy's envoyService.annotations or the Gateway's "
                "spec.infrastructure.annotations (kubectl tke-net fix prevent-loopback {name} -n {ns} shows it); "
                "or call the routes through the Service's DNS name"
            ).format(annotation=tke.SVC_PREVENT_LOOPBACK, name=name, ns=ns),
            severity,
        )


@check(
    "TKE516",
    Severity.INFO,
    N_("Gateway NodePorts the security group must allow"),
    needs=("gateways", "services"),
    commands=GW,
)
def gateway_nodeports(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Applies TKE113 to the CLB behind a Gateway: lists, for each Gateway whose LoadBalancer Service has no
    `service.cloud.tencent.com/direct-access` or `pass-to-target`, the listener ports and the NodePorts the
    node security group must allow (protocol and port), public CLBs from anywhere, internal ones from the
    VPC and their clients.

    ## Why it matters
    The CLB forwards each listener to the Service's NodePort on the nodes; a node security group that does
    not allow those NodePorts makes the Gateway time out (the CLB's health check fails too). The Kubernetes
    API cannot show the security group: `--cloud` with `kubectl tke-net svc -A` checks it (TKE401).

    ## How to fix it
    Allow the NodePorts listed (or TKE's whole NodePort range 30000-32768) in the nodes' security group, or
    make the CLB bind the Envoy Pods directly (`direct-access: "true"` on the Service, VPC-CNI).
    """
    for gateway in ctx.gateways:
        for svc in _gateway_lb_services(ctx, gateway):
            notes = annotations_of(svc)
            if tke.is_true(notes.get(tke.SVC_DIRECT_ACCESS)) or tke.is_true(notes.get(tke.SVC_PASS_TO_TARGET)):
                continue
            ports = [
                f"{p.get('port')}->{p.get('nodePort')}/{p.get('protocol') or 'TCP'}"
                for p in (svc.get("spec") or {}).get("ports") or []
                if p.get("nodePort")
            ]
            if not ports:
                continue
            ns, name = _ns_name(svc)
            source = _("the VPC and its clients") if is_internal_service(svc) else _("anywhere (a public CLB)")
            yield Hit(
                ref(gateway),
                _(
                    "its CLB (Service {ns}/{name}) forwards {ports}: the node security group must allow these "
                    "NodePorts from {source}"
                ).format(ns=ns, name=name, ports=", ".join(ports), source=source),
                _(
                    "allow the NodePorts in the nodes' security group; "
                    "kubectl tke-net svc -A --cloud checks it (TKE401)"
                ),
            )
