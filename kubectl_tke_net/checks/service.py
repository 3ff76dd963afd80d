"""Service checks TKE101-TKE113 and TKE118: from the Service to its Pods, ports, CLB, the nodes it binds and
the node security group."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from kubectl_tke_net import i18n, tke, tke_errors
from kubectl_tke_net.checks.registry import Hit, check
from kubectl_tke_net.facts import Context
from kubectl_tke_net.i18n import N_, _, ngettext
from kubectl_tke_net.k8s import (
    Selector,
    annotations_of,
    container_port_for,
    failing_gates,
    is_super_node,
    labels,
    meta,
    not_ready_reason,
    pod_condition,
    ref,
    selector_problem,
    target_port,
)
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Severity

SVC = ("service",)


def _spec(svc: Obj) -> dict[str, Any]:
    return svc.get("spec") or {}


def _ns_name(obj: Obj) -> tuple[str, str]:
    return meta(obj).get("namespace", ""), meta(obj).get("name", "")


def _selector_text(svc: Obj) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((_spec(svc).get("selector") or {}).items()))


def _names(pods: list[Obj], limit: int = 5) -> str:
    names = sorted(meta(p).get("name", "") for p in pods)
    more = _(" and {n} more").format(n=len(names) - limit) if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _why_not_ready(pods: list[Obj], limit: int = 3) -> str:
    ordered = sorted(pods, key=lambda p: meta(p).get("name", ""))
    shown = [f"{meta(p).get('name')} ({not_ready_reason(p)})" for p in ordered]
    more = _(" and {n} more").format(n=len(shown) - limit) if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


def _port_label(port: dict[str, Any]) -> str:
    return str(port.get("name") or port.get("port"))


def services_with_pods(ctx: Context) -> list[tuple[Obj, list[Obj]]]:
    """The examined Services that have backends, each with its selected Pods (Context works them out once)."""
    return ctx.services_with_pods


@check("TKE101", Severity.ERROR, N_("selector matches no Pod"), needs=("services", "pods"), commands=SVC)
def selector_matches_no_pod(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Service's selector matches no running or pending Pod in the Service's own namespace.

    ## Why it breaks traffic
    A Service forwards only to the Pods its selector matches. With none, the Service has no endpoint:
    in-cluster clients get "connection refused", and the CLB in front of a LoadBalancer Service or an
    Ingress finds no healthy backend (TKE's CLB answers 502/504, or the listener shows all backends
    unhealthy). Pods with matching labels in another namespace do not count: a selector only selects
    Pods of its own namespace.

    ## How to fix it
    Compare the selector with the Pods' labels (`kubectl get pods -n NS --show-labels`) and correct
    whichever is wrong; or scale the workload up if it has no Pods. The Service's namespace must be the
    namespace of its Pods.
    """
    for svc, pods in services_with_pods(ctx):
        if pods:
            continue
        ns, _name = _ns_name(svc)
        selector = _spec(svc).get("selector") or {}
        everywhere = ctx.matching_pods(selector, None)
        done = [p for p in everywhere if meta(p).get("namespace") == ns]
        elsewhere = sorted({meta(p).get("namespace", "") for p in everywhere} - {ns})
        message = _("selector {selector} matches no Pod in namespace {ns}").format(selector=_selector_text(svc), ns=ns)
        if done:
            message += ngettext(
                " (only {n} terminated Pod: {pods})", " (only {n} terminated Pods: {pods})", len(done)
            ).format(n=len(done), pods=_names(done))
        if elsewhere:
            message += _(
                "; Pods with these labels exist in namespace {namespaces}, which a Service cannot select"
            ).format(namespaces=", ".join(elsewhere))
        yield Hit(
            ref(svc),
            message,
            _(
                "Fix the selector or the Pod labels: kubectl get pods -n {ns} --show-labels; "
                "or scale the workload up if it has no Pods."
            ).format(ns=ns),
        )


@check("TKE102", Severity.ERROR, N_("no ready endpoint"), needs=("services", "pods", "endpointslices"), commands=SVC)
def no_ready_endpoint(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when Pods match the Service's selector but the Service has no ready endpoint. Ready endpoints
    come from the Service's EndpointSlices (label `kubernetes.io/service-name`) when any exist, else from
    the Ready condition of the matching Pods. The message says why the Pods are not ready.

    ## Why it breaks traffic
    kube-proxy and the CLB send traffic only to ready endpoints. With none, every request fails:
    in-cluster clients are refused, and a CLB in front of the Service or an Ingress answers 502 or 504.

    ## How to fix it
    Look at why the Pods are not ready: `kubectl describe pod POD` (failing readiness probe, crash loop,
    image pull error, or the TKE readiness gate `cloud.tencent.com/load-balancer-backendgroup-ready`,
    see TKE111). When the Pods are ready but no EndpointSlice lists them, check the Service's
    `targetPort` (TKE104) and the endpoint controller.
    """
    for svc, pods in services_with_pods(ctx):
        if not pods:
            continue
        eps = ctx.endpoints(svc)
        if eps.ready:
            continue
        unready = [p for p, ready in zip(pods, ctx.selected_ready(svc), strict=True) if not ready]
        if unready:
            detail = _("{n} of {total} matching Pods not ready: {pods}").format(
                n=len(unready), total=len(pods), pods=_why_not_ready(unready)
            )
        else:
            detail = _(
                "all {total} matching Pods are ready, but its EndpointSlices list no ready "
                "endpoint (check the targetPort, see TKE104)"
            ).format(total=len(pods))
        yield Hit(
            ref(svc),
            _("no ready endpoint; {detail}").format(detail=detail),
            _(
                "kubectl describe pod -n {ns} {pod} to see why it is not ready; fix its readiness probe, crash "
                "or readiness gate."
            ).format(ns=_ns_name(svc)[0], pod=meta((unready or pods)[0]).get("name")),
        )


@check(
    "TKE103",
    Severity.WARNING,
    N_("some endpoints not ready"),
    needs=("services", "pods", "endpointslices"),
    commands=SVC,
)
def some_endpoints_not_ready(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when some of a Service's endpoints are ready and some are not; the message says N of M ready
    and names the Pods that are not ready.

    ## Why it breaks traffic
    Traffic still flows, but over fewer Pods than intended: capacity is reduced, and on TKE a CLB whose
    backends flap between ready and not ready shows intermittent 502s while its health checks catch up.

    ## How to fix it
    `kubectl describe pod` on the Pods that are not ready; fix their probes or crashes. If this is a
    rollout in progress, wait for it: `kubectl rollout status`.
    """
    for svc, pods in services_with_pods(ctx):
        eps = ctx.endpoints(svc)
        if 0 < eps.ready < eps.total:
            unready = [p for p, ready in zip(pods, ctx.selected_ready(svc), strict=True) if not ready]
            detail = _("; not ready: {pods}").format(pods=_why_not_ready(unready)) if unready else ""
            yield Hit(
                ref(svc),
                _("{ready} of {total} endpoints ready{detail}").format(ready=eps.ready, total=eps.total, detail=detail),
                _(
                    "kubectl describe pod on the Pods that are not ready and fix their probes or crashes; "
                    "during a rollout, wait for kubectl rollout status."
                ),
            )


@check("TKE104", Severity.ERROR, N_("named targetPort not declared"), needs=("services", "pods"), commands=SVC)
def named_target_port_missing(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Service port's `targetPort` is a name that is not the name of a container port on some
    of the Pods the Service selects. The message names the port and the Pods.

    ## Why it breaks traffic
    A named targetPort is resolved per Pod from `spec.containers[].ports[].name`. A Pod that does not
    declare the name is left out of the Service's endpoints, so it receives no traffic even when it is
    ready; when no Pod declares it, the Service has no endpoint at all.

    ## How to fix it
    Declare the port name in the Pod template (`ports: [{name: http, containerPort: 8080}]`) or set the
    Service's `targetPort` to the container port number.
    """
    for svc, pods in services_with_pods(ctx):
        if not pods:
            continue
        problems = []
        for port in _spec(svc).get("ports") or []:
            target = target_port(port)
            if isinstance(target, str):
                missing = [p for p in pods if container_port_for(p, target) is None]
                if missing:
                    problems.append(
                        _(
                            "port {port}: targetPort {target} is not a container port name on {n} of "
                            "{total} Pods ({pods})"
                        ).format(
                            port=_port_label(port),
                            target=repr(target),
                            n=len(missing),
                            total=len(pods),
                            pods=_names(missing),
                        )
                    )
        if problems:
            yield Hit(
                ref(svc),
                "; ".join(problems),
                _(
                    "Name the container port in the Pod template (ports: [{{name: NAME, containerPort: N}}]) "
                    "or use the port number as targetPort."
                ).format(),
            )


@check("TKE105", Severity.INFO, N_("numeric targetPort not declared"), needs=("services", "pods"), commands=SVC)
def numeric_target_port_undeclared(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Service port's numeric `targetPort` (or its `port`, when targetPort is unset) is not
    declared as a `containerPort` by some of the selected Pods.

    ## Why it matters
    Declaring container ports is optional, so traffic may still work; but a number that no container
    declares is the most common sign of a Service pointing at the wrong port (8080 vs 80), which shows
    as "connection refused" from the ClusterIP and as unhealthy CLB backends.

    ## How to fix it
    Check which port the application listens on (`kubectl exec POD -- netstat -lnt` or the image's
    docs) and make the Service's `targetPort` and the Pod's `containerPort` say the same.
    """
    for svc, pods in services_with_pods(ctx):
        if not pods:
            continue
        problems = []
        for port in _spec(svc).get("ports") or []:
            target = target_port(port)
            if isinstance(target, int):
                missing = [p for p in pods if container_port_for(p, target) is None]
                if missing:
                    problems.append(
                        _(
                            "port {port}: targetPort {target} is not a containerPort of {n} of {total} Pods ({pods})"
                        ).format(
                            port=_port_label(port), target=target, n=len(missing), total=len(pods), pods=_names(missing)
                        )
                    )
        if problems:
            yield Hit(
                ref(svc),
                "; ".join(problems),
                _(
                    "Make sure the application listens on that port; declare it as containerPort "
                    "or correct the Service's targetPort."
                ),
            )


# The transport each CLB listener protocol of specify-protocol runs on.
_LISTENER_TRANSPORT = {"TCP": "TCP", "UDP": "UDP", "TCP_SSL": "TCP", "HTTP": "TCP", "HTTPS": "TCP", "QUIC": "UDP"}


def _specified_protocols(svc: Obj) -> dict[str, set[str]]:
    """Service port -> the transports service.cloud.tencent.com/specify-protocol gives its CLB listeners
    (`{"80": {"protocol": ["TCP", "UDP"]}}`); nothing when absent or malformed (TKE115 reports that)."""
    text = annotations_of(svc).get(tke.SVC_SPECIFY_PROTOCOL)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    found: dict[str, set[str]] = {}
    for port, entry in value.items() if isinstance(value, dict) else ():
        protocols = entry.get("protocol") if isinstance(entry, dict) else None
        if isinstance(protocols, list):
            found[str(port)] = {_LISTENER_TRANSPORT.get(str(p).upper(), str(p).upper()) for p in protocols}
    return found


@check("TKE106", Severity.WARNING, N_("protocol mismatch"), needs=("services", "pods"), commands=SVC)
def protocol_mismatch(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Service port's protocol (TCP, UDP, SCTP; TCP when unset) differs from the protocol of
    the container port it targets, unless `service.cloud.tencent.com/specify-protocol` gives that port's
    CLB listener the container port's protocol (`{"53": {"protocol": ["TCP", "UDP"]}}`).

    ## Why it breaks traffic
    kube-proxy and the CLB listener forward the Service port's protocol. A UDP Service in front of a
    TCP-only server (or the reverse, typical for DNS) gets no answer, and a TKE CLB health check on the
    wrong protocol marks every backend unhealthy.

    ## How to fix it
    Set the Service port's `protocol` to the container port's; for a server that speaks both (DNS on 53),
    declare two Service ports, one per protocol.
    """
    for svc, pods in services_with_pods(ctx):
        problems = []
        specified = _specified_protocols(svc)
        for port in _spec(svc).get("ports") or []:
            proto = str(port.get("protocol") or "TCP")
            target = target_port(port)
            # specify-protocol sets the CLB listener's protocols for a port: a TCP Service port may be UDP at the
            # CLB (in direct mode the CLB then reaches the container's UDP port itself).
            accepted = {proto} | specified.get(str(port.get("port")), set())
            mismatched = sorted(
                {
                    str(cport.get("protocol") or "TCP")
                    for p in pods
                    if (cport := container_port_for(p, target, proto)) is not None
                    and str(cport.get("protocol") or "TCP") not in accepted
                }
            )
            if mismatched:
                problems.append(
                    _("port {port} is {protocol} but targets a {other} container port {target}").format(
                        port=_port_label(port), protocol=proto, other="/".join(mismatched), target=target
                    )
                )
        if problems:
            yield Hit(
                ref(svc),
                "; ".join(problems),
                _(
                    "Make the Service port's protocol match the container port's; declare one Service port "
                    "per protocol when the server speaks both."
                ),
            )


def _is_lb(svc: Obj) -> bool:
    return _spec(svc).get("type") == "LoadBalancer"


def _no_address(svc: Obj) -> bool:
    return _is_lb(svc) and not ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")


def explain_codes(kind: str, text: str) -> str:
    """What the TKE controller codes in an event message mean and what to do, in the run's language: the
    numbers are per controller, so the kind of the event's object picks the entry. Unknown codes get nothing:
    the message already quotes them as they are."""
    lang = 1 if i18n.language() == "zh" else 0
    notes = [
        _("{code} means {meaning}; what to do: {fix}").format(code=code, meaning=row.meaning[lang], fix=row.fix[lang])
        for code in tke_errors.codes_in(text)
        if (row := tke_errors.lookup(kind, code)) is not None
    ]
    return _(" ({notes})").format(notes="; ".join(notes)) if notes else ""


def _event_text(event: Obj) -> str:
    message = " ".join(str(event.get("message") or "").split())
    kind = str((event.get("involvedObject") or event.get("regarding") or {}).get("kind") or "")
    return f"{event.get('reason') or 'Warning'}: {message}{explain_codes(kind, message)}"


def quoted_event(ctx: Context, obj: Obj, no_address: bool) -> Obj | None:
    """The Warning event that TKE107/TKE206 quote: the object's newest, when it has no CLB address."""
    if not no_address:
        return None
    events = ctx.warnings(obj)
    return events[0] if events else None


def no_address_message(ctx: Context, obj: Obj, what: str) -> str:
    """What TKE107 and TKE206 say: no CLB address, and the object's newest Warning event, if any."""
    message = _("{what} (status.loadBalancer.ingress is empty)").format(what=what)
    event = quoted_event(ctx, obj, True)
    if event is not None:
        message += _("; newest Warning event: {event}").format(event=_event_text(event))
    return message


@check("TKE107", Severity.ERROR, N_("LoadBalancer without CLB address"), needs=("services",), commands=SVC)
def load_balancer_without_address(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Service of type LoadBalancer has no address in `status.loadBalancer.ingress`: TKE's
    service controller has not created or bound its CLB. The message quotes the Service's newest
    Warning event, where the controller reports why.

    ## Why it breaks traffic
    Without a CLB there is nothing to connect to from outside the cluster (or from the VPC, for an
    internal CLB). Typical causes on TKE: a wrong subnet ID in
    `service.kubernetes.io/qcloud-loadbalancer-internal-subnetid`, an existing CLB
    (`service.kubernetes.io/tke-existed-lbid`) that is in use or in another VPC, an exhausted CLB quota,
    insufficient account balance, or a malformed annotation.

    ## How to fix it
    `kubectl describe service NAME` and read the events (reason such as `SyncLoadBalancerFailed`), fix
    the annotation or quota it names, and the controller retries by itself. The controller's version:
    `kubectl -n kube-system get cm tke-service-controller-config -o jsonpath='{.data.VERSION}'`.
    """
    for svc in ctx.services:
        if not _no_address(svc):
            continue
        message = no_address_message(ctx, svc, _("type LoadBalancer but no CLB address"))
        ns, name = _ns_name(svc)
        yield Hit(
            ref(svc),
            message,
            _(
                "kubectl describe service -n {ns} {name}: fix what the controller's event names "
                "(subnet ID, existing CLB, quota, balance, annotations); it retries by itself."
            ).format(ns=ns, name=name),
        )


@check("TKE108", Severity.WARNING, N_("nodePort outside TKE's open range"), needs=("services",), commands=SVC)
def node_port_outside_range(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Service uses a `nodePort` outside 30000-32768, the range TKE's node security-group
    guidance opens.

    ## Why it breaks traffic
    The CLB of a LoadBalancer Service or Ingress forwards to the nodes' NodePorts (unless direct access
    is on). TKE's troubleshooting guide has node security groups open 30000-32768; a NodePort outside it
    (a cluster with a custom `--service-node-port-range`) is dropped by the security group, so the CLB
    health check fails and clients time out.

    ## How to fix it
    Use a NodePort inside 30000-32768 (or let Kubernetes choose one), or add an inbound rule for this
    port to the nodes' security group.
    """
    low, high = tke.NODEPORT_RANGE
    for svc in ctx.services:
        outside = [
            p for p in _spec(svc).get("ports") or [] if p.get("nodePort") and not low <= int(p["nodePort"]) <= high
        ]
        if outside:
            listed = ", ".join(f"{p.get('protocol') or 'TCP'} {p['nodePort']}" for p in outside)
            yield Hit(
                ref(svc),
                _("nodePort {ports} outside {low}-{high}, the range TKE's node security groups open").format(
                    ports=listed, low=low, high=high
                ),
                _("Use a nodePort in {low}-{high}, or allow {ports} inbound in the nodes' security group.").format(
                    ports=listed, low=low, high=high
                ),
            )


@check("TKE109", Severity.WARNING, N_("Warning events on the Service"), needs=("services", "events"), commands=SVC)
def service_warning_events(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Service has Warning events, listing each distinct reason once with its newest message;
    the event that TKE107 already quotes is left out.

    ## Why it matters
    TKE's service controller reports CLB problems as Warning events on the Service: failed listener or
    backend sync, security group binding errors, certificate errors, quota. These are often the only
    trace of why a CLB does not forward as expected.

    ## How to fix it
    Read the events (`kubectl describe service NAME`) and fix what they name; they stop once the
    controller's next sync succeeds.
    """
    for svc in ctx.services:
        message = warning_events_message(ctx, svc, _no_address(svc))
        if message:
            yield Hit(
                ref(svc),
                message,
                _("kubectl describe service -n {ns} {name} and fix what the events name.").format(
                    ns=_ns_name(svc)[0], name=_ns_name(svc)[1]
                ),
            )


def warning_events_message(ctx: Context, obj: Obj, no_address: bool) -> str | None:
    """What TKE109 and TKE212 say: each distinct Warning reason once, newest message, with its codes explained;
    the reason that TKE107/TKE206 quote (when the object has no address) is left out."""
    quoted = quoted_event(ctx, obj, no_address)
    seen: dict[str, Obj] = {}
    for event in ctx.warnings(obj):
        if quoted is not None and event.get("reason") == quoted.get("reason"):
            continue
        seen.setdefault(str(event.get("reason") or "Warning"), event)
    if not seen:
        return None
    texts = "; ".join(_event_text(e) for e in seen.values())
    count = len(seen)
    return ngettext("{n} Warning event reason: {events}", "{n} Warning event reasons: {events}", count).format(
        n=count, events=texts
    )


@check(
    "TKE110",
    Severity.ERROR,
    N_("direct access to non-VPC-CNI Pods"),
    needs=("services", "pods", "configmaps"),
    commands=SVC,
)
def direct_access_without_vpc_cni(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Service has `service.cloud.tencent.com/direct-access: "true"` but some selected Pod is
    not a VPC-CNI Pod (no `tke.cloud.tencent.com/networks` annotation) and the cluster has not enabled
    direct access for GlobalRouter Pods (`GlobalRouteDirectAccess: "true"` in ConfigMap
    `kube-system/tke-service-controller-config`), or some selected Pod uses the host network, which no
    switch makes a direct backend (controller error E4033). Pods on super nodes (eklet: annotation
    `tke.cloud.tencent.com/pod-type: eklet`, a node labelled `node.kubernetes.io/instance-type: eklet`,
    or `hostIP == podIP`) have VPC addresses of their own and are direct-bindable.

    ## Why it breaks traffic
    In direct-access mode the CLB binds the Pod IPs themselves as backends. GlobalRouter Pod IPs are
    not VPC addresses the CLB can reach unless the cluster switch is on, so those Pods are never bound
    or never healthy; a hostNetwork Pod has the node's address, which the controller refuses to bind.

    ## How to fix it
    Run the workload on VPC-CNI (annotation `tke.cloud.tencent.com/networks: tke-route-eni`) or on super
    nodes, or enable `GlobalRouteDirectAccess` for the cluster (TKE docs: LoadBalancer direct-to-Pod
    mode), or remove the `direct-access` annotation so the CLB uses NodePorts. hostNetwork Pods: remove
    `hostNetwork` or the `direct-access` annotation.
    """
    config = ctx.configmaps.get(tke.SERVICE_CONTROLLER_CONFIG) or {}
    switch_on = tke.is_true((config.get("data") or {}).get(tke.GLOBAL_ROUTE_DIRECT_ACCESS))
    for svc, pods in services_with_pods(ctx):
        if not tke.is_true(annotations_of(svc).get(tke.SVC_DIRECT_ACCESS)):
            continue
        host = [p for p in pods if (p.get("spec") or {}).get("hostNetwork")]
        gr = [
            p
            for p, on_super in zip(pods, ctx.selected_on_super_node(svc), strict=True)
            if p not in host and not annotations_of(p).get(tke.POD_NETWORKS) and not on_super
        ]
        problems = []
        if gr and not switch_on:
            problems.append(
                _(
                    "direct-access is on but {n} of {total} Pods are not VPC-CNI Pods ({pods}) and "
                    "GlobalRouteDirectAccess is not enabled"
                ).format(n=len(gr), total=len(pods), pods=_names(gr))
            )
        if host:
            problems.append(
                _(
                    "direct-access is on but {n} of {total} Pods use the host network ({pods}), which the CLB "
                    "cannot bind directly (E4033)"
                ).format(n=len(host), total=len(pods), pods=_names(host))
            )
        if problems:
            yield Hit(
                ref(svc),
                "; ".join(problems),
                _(
                    "Run the Pods on VPC-CNI (tke.cloud.tencent.com/networks), enable GlobalRouteDirectAccess "
                    "in kube-system/tke-service-controller-config, or remove the direct-access annotation."
                ),
            )


@check("TKE111", Severity.ERROR, N_("CLB readiness gate failing"), needs=("services", "pods"), commands=SVC)
def backendgroup_gate_failing(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Pod the Service selects is not ready because its readiness gate
    `cloud.tencent.com/load-balancer-backendgroup-ready` is not True.

    ## Why it breaks traffic
    In direct-access mode TKE adds this gate to the Pods: the Pod becomes ready only once the CLB has
    bound it as a backend and its health check passes. A gate stuck at False means the CLB cannot bind
    or reach the Pod (security group, health-check port or path, VPC-CNI network), so the Pod never
    receives traffic and rolling updates stall.

    ## How to fix it
    `kubectl describe pod POD` (the gate's condition message) and the Service's events; check the
    CLB health check settings (TkeServiceConfig) and that the Pods' security group allows the CLB and
    its health-check source addresses.
    """
    for svc, pods in services_with_pods(ctx):
        gated = [
            p
            for p, ready in zip(pods, ctx.selected_ready(svc), strict=True)
            if not ready and tke.BACKENDGROUP_GATE in failing_gates(p)
        ]
        if gated:
            yield Hit(
                ref(svc),
                ngettext(
                    "{n} Pod not ready because readiness gate {gate} is not True: {pods}",
                    "{n} Pods not ready because readiness gate {gate} is not True: {pods}",
                    len(gated),
                ).format(n=len(gated), gate=tke.BACKENDGROUP_GATE, pods=_names(gated)),
                _(
                    "kubectl describe pod on them and the Service's events; check the CLB health check and "
                    "that security groups allow the CLB to reach the Pods."
                ),
            )


@check("TKE112", Severity.ERROR, N_("malformed security-groups annotation"), needs=("services",), commands=SVC)
def malformed_service_security_groups(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when `service.cloud.tencent.com/security-groups` is not a comma-separated list of security
    group IDs (`sg-` followed by 8 or more lowercase letters and digits), or lists more than 5.

    ## Why it breaks traffic
    The service controller cannot bind the security groups to the CLB: the sync fails (see the
    Service's events) and the CLB keeps its old security groups, or none.

    ## How to fix it
    Write the IDs as `"sg-xxxxxxxx,sg-yyyyyyyy"`, at most 5, copied from the VPC console.
    """
    for svc in ctx.services:
        value = annotations_of(svc).get(tke.SVC_SECURITY_GROUPS)
        if value is None:
            continue
        problem = tke.security_group_problem(value)
        if problem:
            yield Hit(
                ref(svc),
                _("{annotation} is malformed: {problem}").format(annotation=tke.SVC_SECURITY_GROUPS, problem=problem),
                _('Use a comma-separated list of at most 5 IDs, e.g. "sg-12345678,sg-abcdefgh".'),
            )


@check("TKE113", Severity.INFO, N_("node security group must allow NodePorts"), needs=("services",), commands=SVC)
def node_ports_need_security_group(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires for a Service of type NodePort or LoadBalancer that uses neither
    `service.cloud.tencent.com/direct-access` nor `service.cloud.tencent.com/pass-to-target`, and lists
    the NodePorts (with protocol) that the nodes' security group must allow.

    ## Why it matters
    Traffic from the CLB (or from clients, for NodePort) reaches the nodes on these ports and is filtered
    by the nodes' security group, which the Kubernetes API cannot see. TKE's troubleshooting guide's
    first step is to check that it allows 30000-32768; `--cloud` checks it (TKE401).

    ## How to fix it
    Allow the listed ports (or 30000-32768, TCP and UDP) inbound from the VPC in the nodes' security
    group, or set `service.cloud.tencent.com/pass-to-target: "true"` so CLB traffic is checked only by
    the CLB's security group.
    """
    for svc in ctx.services:
        if _spec(svc).get("type") not in ("NodePort", "LoadBalancer"):
            continue
        notes = annotations_of(svc)
        if tke.is_true(notes.get(tke.SVC_DIRECT_ACCESS)) or tke.is_true(notes.get(tke.SVC_PASS_TO_TARGET)):
            continue
        ports = [
            f"{p.get('protocol') or 'TCP'} {p['nodePort']}" for p in _spec(svc).get("ports") or [] if p.get("nodePort")
        ]
        if ports:
            yield Hit(
                ref(svc),
                ngettext(
                    "the nodes' security group must allow NodePort {ports}",
                    "the nodes' security group must allow NodePorts {ports}",
                    len(ports),
                ).format(ports=", ".join(ports)),
                _(
                    "Allow these ports (or 30000-32768 TCP/UDP) inbound in the nodes' security group, or set "
                    '{annotation}: "true".'
                ).format(annotation=tke.SVC_PASS_TO_TARGET),
            )


def _node_unbound_reason(node: Obj) -> str | None:
    """Why TKE's service controller binds no NodePort of this node ([S12]: not Ready, unschedulable, a master),
    or None when it binds it. A super node has no NodePort at all."""
    if is_super_node(node):
        return _("super node, no NodePort")
    if pod_condition(node, "Ready") != "True":
        return _("not Ready")
    if (node.get("spec") or {}).get("unschedulable"):
        return _("unschedulable")
    if any(key in labels(node) for key in tke.CONTROL_PLANE_LABELS):
        return _("master")
    return None


@check(
    "TKE118",
    Severity.ERROR,
    N_("backends-label selects no node the CLB can bind"),
    needs=("services", "nodes"),
    commands=SVC,
)
def backends_label_selects_no_node(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires for a LoadBalancer Service without `service.cloud.tencent.com/direct-access` whose
    `service.kubernetes.io/qcloud-loadbalancer-backends-label` (a label selector of the nodes the CLB binds,
    e.g. `group=access-layer`) selects no node that TKE's service controller binds: none at all, or only
    nodes that are not Ready, unschedulable, masters, or super nodes (which have no NodePort). The message
    lists the selected nodes and why each is left out. A value that is not a label selector is TKE115's.

    ## Why it breaks traffic
    The controller keeps the CLB's backends in step with the selector: when it selects no node, it removes
    every backend, and the Service is down for every client of the CLB. TKE's documentation warns that the
    backends are then drained; it happens silently when the labelled nodes are replaced by a node pool
    whose nodes lack the label, or when the label is removed.

    ## How to fix it
    Label the nodes that should carry the traffic (`kubectl label node NODE group=access-layer`, or the
    node pool's labels so that new nodes get it), or correct the annotation, or remove it to bind every
    node again.
    Source: TKE, Service 后端选择 (指定接入层后端).
    """
    nodes = ctx.snap.list("nodes")
    for svc in ctx.services:
        notes = annotations_of(svc)
        value = notes.get(tke.SVC_BACKENDS_LABEL)
        if (
            value is None
            or _spec(svc).get("type") != "LoadBalancer"
            or tke.is_true(notes.get(tke.SVC_DIRECT_ACCESS))
            or selector_problem(value) is not None
        ):
            continue
        selector = Selector.parse(value)
        chosen = [n for n in nodes if selector.matches(labels(n))]
        reasons = {str(meta(n).get("name", "")): _node_unbound_reason(n) for n in chosen}
        if any(reason is None for reason in reasons.values()):
            continue
        if not chosen:
            detail = _("selects no node")
        else:
            shown = sorted(f"{name} ({reason})" for name, reason in reasons.items())
            more = _(" and {n} more").format(n=len(shown) - 5) if len(shown) > 5 else ""
            detail = ngettext(
                "selects {n} node, which the CLB cannot bind: {nodes}",
                "selects {n} nodes, none of which the CLB can bind: {nodes}",
                len(shown),
            ).format(n=len(shown), nodes=", ".join(shown[:5]) + more)
        yield Hit(
            ref(svc),
            _("{annotation} {value} {detail}: the controller removes every CLB backend").format(
                annotation=tke.SVC_BACKENDS_LABEL, value=repr(value), detail=detail
            ),
            _(
                "Label the Ready nodes that should carry the traffic (kubectl label node NODE KEY=VALUE, or the "
                "node pool's labels), correct the annotation, or remove it to bind every node."
            ),
        )
