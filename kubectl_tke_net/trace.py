"""The traffic path of `trace svc/NAME | ing/NAME | gw/NAME` (SPEC 9.7), pure: from the facts the checks read and the
findings they gave, the hops CLB -> (Ingress rules | Gateway listeners -> routes -> backendRefs) -> Service port ->
NodePort -> EndpointSlices -> Pods -> nodes, each ok, failing or unknown, with the codes of the findings that touch
it and what a probe measured on it.

Nothing is listed here: a kind the checks did not read (`Snapshot.held` is None) leaves its hops unknown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubectl_tke_net import gateway_api as gw
from kubectl_tke_net import tke
from kubectl_tke_net.facts import Context
from kubectl_tke_net.findings import Finding, Ref, Skip
from kubectl_tke_net.i18n import _, ngettext
from kubectl_tke_net.k8s import (
    annotations_of,
    backends,
    container_port_for,
    is_clb_ingress,
    is_internal_ingress,
    is_internal_service,
    meta,
    not_ready_reason,
    pod_condition,
    pod_ready,
    ref,
    service_port_matches,
    target_port,
)
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Unavailable

OK, FAILING, UNKNOWN = "ok", "failing", "unknown"
STATES = (OK, FAILING, UNKNOWN)
# The stages of a path, in the order traffic crosses them (an Ingress has rules; a Gateway its proxy Pods, the
# listeners they serve, the routes attached to them and their backendRefs).
CLB, PROXY, RULE, LISTENER, ROUTE, BACKEND, SERVICE_PORT, NODE_PORT, SLICES, PODS, NODES = (
    "clb",
    "proxy",
    "rule",
    "listener",
    "route",
    "backend",
    "service-port",
    "node-port",
    "endpointslices",
    "pods",
    "nodes",
)
STAGES = (CLB, PROXY, RULE, LISTENER, ROUTE, BACKEND, SERVICE_PORT, NODE_PORT, SLICES, PODS, NODES)
LISTED = 8  # Pods and nodes named on a hop; the rest are counted

# Which stage of its object a finding's code touches. A Service's annotation and event codes touch its CLB when
# it has one (the service controller's work), else its ports; codes not listed here touch the object's first hop.
_SERVICE_STAGE = {
    "TKE101": PODS,
    "TKE102": SLICES,
    "TKE103": SLICES,
    "TKE104": SERVICE_PORT,
    "TKE105": SERVICE_PORT,
    "TKE106": SERVICE_PORT,
    "TKE107": CLB,
    "TKE108": NODE_PORT,
    "TKE110": PODS,
    "TKE111": PODS,
    "TKE112": CLB,
    "TKE113": NODE_PORT,
    "TKE116": CLB,
    "TKE120": SERVICE_PORT,
    "TKE121": SERVICE_PORT,
    "TKE122": PODS,
    "TKE123": NODE_PORT,
    "TKE124": CLB,
    "TKE126": CLB,
    "TKE302": CLB,
    "TKE304": CLB,
    "TKE401": NODE_PORT,
    "TKE403": CLB,
    "TKE405": CLB,
}
# An Ingress's codes: its CLB, except those about one backend, which touch the rules whose backend is at fault.
_INGRESS_RULE_CODES = ("TKE201", "TKE202", "TKE203", "TKE204", "TKE208")
# A route's codes: the route, except those about one backendRef, which touch the backendRefs at fault.
_ROUTE_BACKEND_CODES = ("TKE510", "TKE511", "TKE512", "TKE513")
# The loopback findings (SPEC 7, TKE3xx; TKE515 for a Gateway's CLB) and the probe's confirmation of it.
LOOPBACK_CODES = ("TKE302", "TKE303", "TKE304", "TKE515", "TKE124")
LOOPBACK_CAUSE = "TKE301"  # kube-proxy without the fix: touches every internal CLB


@dataclass(frozen=True)
class Touch:
    """A finding that touches a hop."""

    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class Measure:
    """One probe test of a hop: from which node, what, and how it went."""

    node: str
    what: str
    ok: bool | None
    ms: int | None
    text: str


@dataclass
class Hop:
    id: str
    stage: str
    obj: Ref  # the object the hop belongs to (the Service; the Ingress for its CLB and rules)
    title: str
    details: list[str] = field(default_factory=list)
    state: str = OK
    reason: str = ""  # why it is unknown, or failing without a finding
    touches: list[Touch] = field(default_factory=list)
    measured: list[Measure] = field(default_factory=list)
    next: list[str] = field(default_factory=list)
    loopback: str | None = None  # CLB hops: exposed, not-exposed or unknown
    about: tuple[Any, ...] = ()  # what the hop stands for, to attach findings and probe tests (not rendered)
    internal: bool = False  # CLB hops: an internal CLB (TKE301, kube-proxy without the fix, touches it)

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "stage": self.stage,
            "object": {"kind": self.obj.kind, "namespace": self.obj.namespace, "name": self.obj.name},
            "state": self.state,
            "title": self.title,
            "details": list(self.details),
            "codes": [{"code": t.code, "severity": t.severity} for t in self.touches],
            "next": list(self.next),
        }
        if self.reason:
            doc["reason"] = self.reason
        if self.loopback is not None:
            doc["loopback"] = self.loopback
        if self.measured:
            doc["measured"] = [
                {"node": m.node, "what": m.what, "ok": m.ok, "ms": m.ms, "text": m.text} for m in self.measured
            ]
        return doc


@dataclass
class Trace:
    target: Ref
    hops: list[Hop]
    probed: bool  # a ProbeResult of the target was in the facts

    @property
    def roots(self) -> list[Hop]:
        pointed = {n for h in self.hops for n in h.next}
        return [h for h in self.hops if h.id not in pointed]

    def hop(self, hop_id: str) -> Hop:
        return next(h for h in self.hops if h.id == hop_id)

    @property
    def state(self) -> str:
        states = {h.state for h in self.hops}
        return FAILING if FAILING in states else UNKNOWN if UNKNOWN in states else OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": {"kind": self.target.kind, "namespace": self.target.namespace, "name": self.target.name},
            "state": self.state,
            "probed": self.probed,
            "roots": [h.id for h in self.roots],
            "hops": [h.as_dict() for h in self.hops],
        }


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def _port_label(port: dict[str, Any]) -> str:
    return str(port.get("name") or port.get("port"))


def _protocol(port: dict[str, Any]) -> str:
    return str(port.get("protocol") or "TCP")


def _clb_addresses(obj: Obj) -> list[str]:
    entries = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(e.get("ip") or e.get("hostname")) for e in entries if e.get("ip") or e.get("hostname")]


class _Builder:
    def __init__(self, ctx: Context, findings: Iterable[Finding], skipped: Iterable[Skip], ran: Iterable[str]) -> None:
        self.ctx = ctx
        self.findings = list(findings)
        self.skipped = {code: s.reason for s in skipped for code in s.codes}
        self.ran = set(ran) - set(self.skipped)
        self.hops: list[Hop] = []
        self.by_key: dict[tuple[Any, ...], Hop] = {}
        self.services_done: dict[tuple[str, str, str], list[str]] = {}

    # -- hops ----------------------------------------------------------------------------------------

    def add(self, stage: str, obj: Ref, key: tuple[Any, ...], title: str, details: list[str] | None = None) -> Hop:
        if key in self.by_key:
            return self.by_key[key]
        hop = Hop(f"h{len(self.hops) + 1}", stage, obj, title, details or [])
        self.hops.append(hop)
        self.by_key[key] = hop
        return hop

    @staticmethod
    def link(a: Hop, b: Hop) -> None:
        if b.id not in a.next:
            a.next.append(b.id)

    def unknown(self, hop: Hop, reason: str) -> None:
        if hop.state == OK:
            hop.state = UNKNOWN
            hop.reason = reason

    def failing(self, hop: Hop, reason: str = "") -> None:
        if hop.state != FAILING:
            hop.state = FAILING
            hop.reason = reason

    # -- a Service's part of the path ------------------------------------------------------------------

    def service(self, svc: Obj, ports: list[dict[str, Any]], direct: bool) -> list[Hop]:
        """The Service-port hops of `ports` and everything behind them; `direct`: the CLB binds Pods directly."""
        sref = ref(svc)
        spec = _spec(svc)
        if spec.get("type") == "ExternalName":
            hop = self.add(
                SERVICE_PORT,
                sref,
                (SERVICE_PORT, sref, "externalname"),
                _("Service {name}: ExternalName {host}").format(name=sref.name, host=spec.get("externalName") or "?"),
                [_("DNS CNAME only: no port, endpoint or Pod is in the path")],
            )
            return [hop]
        heads, ends = [], []
        for port in ports:
            target = target_port(port)
            title = _("Service port {label} {port}/{protocol} -> targetPort {target}").format(
                label=sref.name + ":" + _port_label(port) if port.get("name") else sref.name,
                port=port.get("port"),
                protocol=_protocol(port),
                target=target,
            )
            cluster_ip = spec.get("clusterIP")
            details = (
                [_("headless: no ClusterIP, DNS answers with the endpoints")]
                if cluster_ip == "None"
                else [_("ClusterIP {ip}").format(ip=cluster_ip)]
                if cluster_ip
                else []
            )
            hop = self.add(SERVICE_PORT, sref, (SERVICE_PORT, sref, _port_label(port)), title, details)
            hop.about = (_port_label(port), target, port.get("nodePort"), self._undeclared(svc, target))
            heads.append(hop)
            after = hop
            if port.get("nodePort") and not direct:
                node_port = self.add(
                    NODE_PORT,
                    sref,
                    (NODE_PORT, sref, _port_label(port)),
                    _("NodePort {port}/{protocol} on every node").format(
                        port=port["nodePort"], protocol=_protocol(port)
                    ),
                    [_("externalTrafficPolicy: {policy}").format(policy=spec.get("externalTrafficPolicy"))]
                    if spec.get("externalTrafficPolicy")
                    else [],
                )
                node_port.about = (_port_label(port), port["nodePort"])
                self.link(hop, node_port)
                after = node_port
            ends.append(after)
        slices = self.slices(svc)
        if slices is not None:
            for end in ends:
                self.link(end, slices)
        return heads

    def _undeclared(self, svc: Obj, target: int | str) -> bool:
        """Whether a selected Pod does not declare the container port (TKE104, TKE105 name which port)."""
        if self.ctx.snap.held("pods") is None:
            return True
        return any(container_port_for(p, target) is None for p in self.ctx.selected_pods(svc))

    def slices(self, svc: Obj) -> Hop | None:
        """EndpointSlices -> Pods -> nodes of a Service, once per Service; None for a Service without either."""
        sref = ref(svc)
        key = (SLICES, sref)
        if key in self.by_key:
            return self.by_key[key]
        held = self.ctx.snap.held("endpointslices")
        selector = _spec(svc).get("selector") or {}
        if held is None:
            hop = self.add(SLICES, sref, key, _("EndpointSlices"))
            self.unknown(hop, _("EndpointSlices were not read"))
        else:
            own = self.ctx.slices_by_service.get((sref.namespace, sref.name)) or []
            ready, total = self._endpoints(own)
            if own:
                title = _("EndpointSlices: {slices}, {ready} of {total} endpoints ready").format(
                    slices=ngettext("{n} slice", "{n} slices", len(own)).format(n=len(own)), ready=ready, total=total
                )
            else:
                title = _("EndpointSlices: none")
            hop = self.add(SLICES, sref, key, title)
            if not own and not selector:
                hop.details.append(_("the Service has no selector and nobody wrote EndpointSlices for it"))
                self.failing(hop, _("no endpoint: traffic to the Service goes nowhere"))
            elif not own:
                hop.details.append(_("no EndpointSlice read: the Pods' Ready condition stands for the endpoints"))
            if own and not ready:
                self.failing(hop, _("no endpoint is ready"))
        pods_hop = self.pods(svc, selector)
        if pods_hop is not None:
            self.link(hop, pods_hop)
        return hop

    @staticmethod
    def _endpoints(slices: list[Obj]) -> tuple[int, int]:
        states: dict[str, bool] = {}
        for es in slices:
            for ep in es.get("endpoints") or []:
                target = ep.get("targetRef") or {}
                ident = target.get("uid") or target.get("name") or ",".join(ep.get("addresses") or [])
                ready = (ep.get("conditions") or {}).get("ready")
                states[ident] = states.get(ident, False) or ready is None or bool(ready)
        return sum(states.values()), len(states)

    def pods(self, svc: Obj, selector: dict[str, str]) -> Hop | None:
        sref = ref(svc)
        if not selector:
            return None
        key = (PODS, sref)
        if self.ctx.snap.held("pods") is None:
            hop = self.add(PODS, sref, key, _("Pods"))
            self.unknown(hop, _("Pods were not read"))
            return hop
        pods = sorted(self.ctx.selected_pods(svc), key=lambda p: str(meta(p).get("name", "")))
        ready = [p for p in pods if pod_ready(p)]
        selector_text = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        hop = self.add(
            PODS,
            sref,
            key,
            _("Pods {selector}: {ready} of {total} ready").format(
                selector=selector_text, ready=len(ready), total=len(pods)
            ),
        )
        hop.details += _pod_lines(pods)
        if not pods:
            self.failing(hop, _("the selector matches no Pod"))
        elif not ready:
            self.failing(hop, _("no Pod is ready"))
        nodes = self.nodes(svc, pods)
        if nodes is not None:
            self.link(hop, nodes)
        return hop

    def nodes(self, svc: Obj, pods: list[Obj]) -> Hop | None:
        sref = ref(svc)
        names = sorted({str(_spec(p).get("nodeName")) for p in pods if _spec(p).get("nodeName")})
        if not names:
            return None
        key = (NODES, sref)
        held = self.ctx.snap.held("nodes")
        hop = self.add(
            NODES,
            sref,
            key,
            ngettext("{n} node hosts the Pods", "{n} nodes host the Pods", len(names)).format(n=len(names)),
        )
        if held is None:
            self.unknown(hop, _("nodes were not read"))
            hop.details += names[:LISTED]
            return hop
        by_name = {str(meta(n).get("name", "")): n for n in held}
        not_ready = []
        for name in names[:LISTED]:
            node = by_name.get(name)
            if node is None:
                state = _("not found")
            else:
                ready = pod_condition(node, "Ready")
                state = _("Ready") if ready == "True" else _("NotReady") if ready else _("no Ready condition")
            if node is None or pod_condition(node, "Ready") != "True":
                not_ready.append(name)
            hop.details.append(f"{name}: {state}")
        if len(names) > LISTED:
            hop.details.append(_("and {n} more").format(n=len(names) - LISTED))
        if not_ready and len(not_ready) == len(names[:LISTED]):
            self.failing(hop, _("no node that hosts the Pods is Ready"))
        return hop

    # -- the CLB ---------------------------------------------------------------------------------------

    def clb(self, obj: Obj, internal: bool, listeners: list[str], direct: bool, other: str | None = None) -> Hop:
        """The CLB of a Service or Ingress; `other`: the class of an Ingress that another controller serves."""
        oref = ref(obj)
        addresses = _clb_addresses(obj)
        kind = _("internal") if internal else _("public")
        if other is not None:
            title = _("Ingress class {cls}: {address}").format(
                cls=other, address=", ".join(addresses) or _("no address")
            )
        elif addresses:
            title = _("CLB {address} ({kind})").format(address=", ".join(addresses), kind=kind)
        else:
            title = _("CLB without address ({kind})").format(kind=kind)
        hop = self.add(CLB, oref, (CLB, oref), title)
        notes = annotations_of(obj)
        lb_id = notes.get(tke.ING_LB_ID) or notes.get("service.kubernetes.io/loadbalance-id")
        if lb_id:
            hop.details.append(_("load balancer {id}").format(id=lb_id))
        hop.details += listeners
        hop.details.append(
            _("backends: the Pods directly (direct access)") if direct else _("backends: the nodes' NodePorts")
        )
        if other is not None:
            hop.details = [_("not served by TKE's CLB controller: the checks of its CLB do not apply")]
        elif not addresses:
            self.failing(hop, _("no address in status.loadBalancer"))
        return hop

    def loopback(self, hop: Hop, internal: bool, codes: tuple[str, ...]) -> None:
        """Loopback exposure of a CLB (TKE3xx): only an internal CLB can send a Pod's request back to its node."""
        found = sorted({t.code for t in hop.touches if t.code in LOOPBACK_CODES})
        if not internal:
            hop.loopback = "not-exposed"
            text = _("loopback: not possible (public CLB)")
        elif found:
            hop.loopback = "exposed"
            text = _("loopback: EXPOSED ({codes})").format(codes=", ".join(found))
        elif not all(code in self.ran for code in codes):
            hop.loopback = "unknown"
            text = _("loopback: unknown (the loopback checks did not run)")
        else:
            try:
                proxy = self.ctx.kube_proxy
            except Unavailable:
                proxy = tke.UNKNOWN_PROXY
            if proxy.running:
                hop.loopback = "not-exposed"
                text = _("loopback: not exposed")
            else:
                hop.loopback = "unknown"
                text = _("loopback: unknown (kube-proxy mode unknown)")
        hop.details.insert(0, text)

    # -- findings and probes -----------------------------------------------------------------------------

    def touch(self, hop: Hop, finding: Finding) -> None:
        if any(t.code == finding.code for t in hop.touches):
            return
        hop.touches.append(Touch(finding.code, str(finding.severity), finding.message))
        if str(finding.severity) == "error":
            self.failing(hop)

    def attach(self, ingress: Obj | None) -> None:
        for finding in self.findings:
            hops = self._touched(finding, ingress)
            for hop in hops:
                self.touch(hop, finding)

    def _of(self, obj: Ref, stage: str) -> list[Hop]:
        return [h for h in self.hops if h.obj == obj and h.stage == stage]

    def _touched(self, finding: Finding, ingress: Obj | None) -> list[Hop]:
        code, fref = finding.code, finding.ref
        if code == LOOPBACK_CAUSE:
            return [h for h in self.hops if h.stage == CLB and h.internal]
        mine = [h for h in self.hops if h.obj == fref]
        if not mine:
            return []
        if fref.kind == "Gateway":  # its class, address, loopback, NodePorts: the CLB; TKE504 where it says
            return [h for h in mine if code in h.about] or self._of(fref, CLB) or mine[:1]
        if fref.kind in gw.ROUTE_KINDS:
            if code in _ROUTE_BACKEND_CODES:
                backends = [h for h in self._of(fref, BACKEND) if code in h.about]
                if backends:
                    return backends
            return self._of(fref, ROUTE) or mine[:1]
        if fref.kind == "Ingress":
            if code in _INGRESS_RULE_CODES and ingress is not None:
                rules = [h for h in self._of(fref, RULE) if code in h.about]
                if rules:
                    return rules
            return self._of(fref, CLB) or mine[:1]
        stage = _SERVICE_STAGE.get(code)
        if stage is None or (stage == CLB and not self._of(fref, CLB)):
            stage = CLB if self._of(fref, CLB) else SERVICE_PORT
        hops = self._of(fref, stage)
        picked = [h for h in hops if _port_fits(code, h)]
        return picked or hops or mine[:1]

    def required(self, stage_codes: Mapping[str, tuple[str, ...]]) -> None:
        """A hop whose checks could not run (skipped: RBAC, an API not served) or were left out is unknown."""
        for hop in self.hops:
            missing = [c for c in stage_codes.get(hop.stage, ()) if c not in self.ran]
            if missing:
                reasons = sorted({self.skipped[c] for c in missing if c in self.skipped})
                self.unknown(
                    hop,
                    _("not checked: {codes}").format(codes=", ".join(missing))
                    + (f" ({'; '.join(reasons)})" if reasons else ""),
                )

    def measures(self, runs: list[Any]) -> None:
        """The probe's observations on the hops they tested: CLB, ClusterIP/DNS on the Service port, NodePort,
        endpoints on the Pods."""
        from kubectl_tke_net import probe

        stage_of = {
            probe.CLB: CLB,
            probe.DNS: SERVICE_PORT,
            probe.CLUSTER_IP: SERVICE_PORT,
            probe.NODE_PORT: NODE_PORT,
            probe.ENDPOINT: PODS,
        }

        for run in runs:
            for o in run.observations:
                stage = stage_of.get(o.test.path)
                if stage is None:
                    continue
                hops = self._of(o.test.ref, stage)
                if o.test.port and stage in (SERVICE_PORT, NODE_PORT):
                    hops = [h for h in hops if h.about and h.about[0] == o.test.port] or hops
                measure = Measure(
                    o.pod.node,
                    o.test.what,
                    None if o.result is None else o.result.ok,
                    None if o.result is None else o.result.ms,
                    o.text,
                )
                for hop in hops:
                    hop.measured.append(measure)
                    if o.failed:
                        self.failing(hop, _("the probe failed: {what}").format(what=o.test.what))


def _pod_lines(pods: list[Obj]) -> list[str]:
    """Each Pod (the first LISTED): its address, node and readiness."""
    lines = []
    for pod in pods[:LISTED]:
        status = pod.get("status") or {}
        state = _("Ready") if pod_ready(pod) else _("not ready: {reason}").format(reason=not_ready_reason(pod))
        node = _spec(pod).get("nodeName") or _("no node")
        lines.append(
            _("{pod} {ip} on {node}: {state}").format(
                pod=meta(pod).get("name"), ip=status.get("podIP") or "-", node=node, state=state
            )
        )
    if len(pods) > LISTED:
        lines.append(_("and {n} more").format(n=len(pods) - LISTED))
    return lines


def _port_fits(code: str, hop: Hop) -> bool:
    """Codes about one kind of port touch only the ports of that kind (a named targetPort, a NodePort out of
    TKE's range); the others every port of their stage."""
    if code in ("TKE104", "TKE105"):
        kind = str if code == "TKE104" else int
        return hop.stage == SERVICE_PORT and len(hop.about) > 3 and isinstance(hop.about[1], kind) and hop.about[3]
    if code == "TKE108":
        low, high = tke.NODEPORT_RANGE
        return hop.stage == NODE_PORT and len(hop.about) > 1 and not low <= int(hop.about[1]) <= high
    return True


# The static checks that judge each stage (SPEC 7): a hop is unknown when one of them could not run.
SERVICE_REQUIRED = {
    CLB: ("TKE107",),
    SERVICE_PORT: ("TKE104",),
    NODE_PORT: ("TKE108",),
    SLICES: ("TKE102",),
    PODS: ("TKE101",),
}
INGRESS_REQUIRED = {CLB: ("TKE206",), RULE: ("TKE201", "TKE202", "TKE203")}


def _service_listeners(svc: Obj) -> list[str]:
    out = []
    for port in _spec(svc).get("ports") or []:
        out.append(
            _("listener {protocol}:{port} -> {target}").format(
                protocol=_protocol(port),
                port=port.get("port"),
                target=_("NodePort {port}").format(port=port["nodePort"]) if port.get("nodePort") else _("Pods"),
            )
        )
    return out


def trace_service(
    ctx: Context,
    svc: Obj,
    *,
    findings: Iterable[Finding] = (),
    skipped: Iterable[Skip] = (),
    ran: Iterable[str] = (),
    probe_runs: Iterable[Any] = (),
) -> Trace:
    """The path of `trace svc/NAME`."""
    b = _Builder(ctx, findings, skipped, ran)
    spec = _spec(svc)
    ports = list(spec.get("ports") or [])
    direct = tke.is_true(annotations_of(svc).get(tke.SVC_DIRECT_ACCESS))
    internal = is_internal_service(svc)
    clb = None
    if spec.get("type") == "LoadBalancer":
        clb = b.clb(svc, internal, _service_listeners(svc), direct)
        clb.internal = internal
    heads = b.service(svc, ports or [{}], direct) if ports or spec.get("type") == "ExternalName" else []
    if clb is not None:
        for head in heads:
            b.link(clb, head)
    b.attach(None)
    b.measures(list(probe_runs))
    if clb is not None:
        b.loopback(clb, internal, ("TKE302", "TKE304"))
    b.required(SERVICE_REQUIRED)
    return Trace(ref(svc), b.hops, bool(list(probe_runs)))


def trace_ingress(
    ctx: Context,
    ing: Obj,
    *,
    findings: Iterable[Finding] = (),
    skipped: Iterable[Skip] = (),
    ran: Iterable[str] = (),
    probe_runs: Iterable[Any] = (),
) -> Trace:
    """The path of `trace ing/NAME`: its CLB, each rule (and the default backend) to its Service port, and the
    Services' paths behind them."""
    b = _Builder(ctx, findings, skipped, ran)
    iref = ref(ing)
    notes = annotations_of(ing)
    internal = is_internal_ingress(ing)
    direct = tke.is_true(notes.get(tke.ING_DIRECT_ACCESS))
    tls_hosts = [h for t in _spec(ing).get("tls") or [] for h in t.get("hosts") or []]
    listeners = [_("listener HTTP:80")]
    if _spec(ing).get("tls"):
        listeners.append(
            _("listener HTTPS:443 (TLS {hosts})").format(hosts=", ".join(tls_hosts) or "*")
            if tls_hosts
            else _("listener HTTPS:443 (TLS)")
        )
    clb = b.clb(ing, internal, listeners, direct, None if is_clb_ingress(ing) else _ingress_class(ing))
    clb.loopback_internal = internal  # type: ignore[attr-defined]
    services = ctx.services_by_key if ctx.snap.held("services") is not None else None
    endpoints_held = ctx.snap.held("endpointslices") is not None and ctx.snap.held("pods") is not None
    wheres = Counter(backend.where for backend in backends(ing))
    for backend in backends(ing):
        if services is None:
            title = _("{where} -> {service}:{port}").format(
                where=backend.where, service=backend.service, port=backend.port if backend.port is not None else "?"
            )
            hop = b.add(RULE, iref, (RULE, iref, backend.where, backend.service, backend.port), title)
            b.unknown(hop, _("Services were not read"))
            b.link(clb, hop)
            continue
        svc = services.get((iref.namespace, backend.service))
        faults: list[str] = []
        port: dict[str, Any] | None = None
        if svc is None:
            faults.append("TKE201")
        else:
            if backend.port is not None and not service_port_matches(svc, backend.port):
                faults.append("TKE202")
            else:
                key = "name" if isinstance(backend.port, str) else "port"
                port = next((p for p in _spec(svc).get("ports") or [] if p.get(key) == backend.port), None)
            if is_clb_ingress(ing) and _spec(svc).get("type") not in ("NodePort", "LoadBalancer") and not direct:
                faults.append("TKE203")
            if endpoints_held and not ctx.endpoints(svc).ready:
                faults.append("TKE204")
        title = _("{where} -> {service}:{port}").format(
            where=backend.where, service=backend.service, port=backend.port if backend.port is not None else "?"
        )
        if wheres[backend.where] > 1:  # the same host and path to several backends: only one takes effect
            faults.append("TKE208")
        rule = b.add(RULE, iref, (RULE, iref, backend.where, backend.service, backend.port), title)
        rule.about = tuple(faults)
        b.link(clb, rule)
        if svc is None:
            rule.details.append(
                _("no Service {name} in namespace {ns}").format(name=backend.service, ns=iref.namespace)
            )
            continue
        if port is None:
            continue
        for head in b.service(svc, [port], direct):
            b.link(rule, head)
    b.attach(ing)
    b.measures(list(probe_runs))
    if is_clb_ingress(ing):
        b.loopback(clb, internal, ("TKE303",))
    required = dict(INGRESS_REQUIRED)
    b.required(required)
    # The Services behind the rules are judged by the Service checks that `trace` runs on them too.
    b.required({k: v for k, v in SERVICE_REQUIRED.items() if k not in (CLB,)})
    return Trace(iref, b.hops, bool(list(probe_runs)))


def _ingress_class(ing: Obj) -> str:
    from kubectl_tke_net.k8s import ingress_class

    return ingress_class(ing) or ""


# What judges each stage of a Gateway's path: a hop is unknown when one of them could not run.
GATEWAY_REQUIRED = {
    CLB: ("TKE503",),
    LISTENER: ("TKE504",),
    ROUTE: ("TKE505", "TKE509", "TKE514"),
    BACKEND: ("TKE510", "TKE511"),
}


def _listener_title(lst: dict[str, Any]) -> str:
    return _("listener {name} {protocol}:{port} {host}").format(
        name=lst.get("name") or "?",
        protocol=lst.get("protocol") or "?",
        port=lst.get("port") or "?",
        host=lst.get("hostname") or _("(every host)"),
    )


def _listener_status(gateway: Obj, name: object) -> dict[str, Any]:
    return next(
        (
            s
            for s in gw.mapping(gateway.get("status")).get("listeners") or []
            if isinstance(s, dict) and s.get("name") == name
        ),
        {},
    )


def _false(status: dict[str, Any], kinds: tuple[str, ...]) -> list[str]:
    """`Type False (reason: message)` of each of these conditions that the controller set False."""
    out = []
    for kind in kinds:
        cond = gw.condition(status, kind)
        if cond is not None and gw.is_false(cond):
            out.append(_("{kind} False ({why})").format(kind=kind, why=gw.condition_text(cond)))
    return out


def _attached(gateway: Obj, route: Obj) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Gateway API's attachment (gateway_api's rules, as TKE508, TKE509 and TKE514 judge it): the listeners the
    route's parentRefs to this Gateway attach it to; the listeners those parentRefs select, which it tried;
    and why it is attached to none of them."""
    key = (str(meta(gateway).get("namespace") or ""), str(meta(gateway).get("name") or ""))
    hosts = gw.route_hostnames(route)
    attached: list[dict[str, Any]] = []
    tried: list[dict[str, Any]] = []
    why: list[str] = []
    for parent in gw.parent_refs(route):
        if (parent.namespace, parent.name) != key:
            continue
        selected = gw.selected_listeners(gateway, parent)
        if not selected:
            why.append(_("parentRef {parent}: no such listener").format(parent=parent.text))
        for lst in selected:
            if lst not in tried:
                tried.append(lst)
            if gw.allows(lst, gateway, route) is False:
                why.append(
                    _("listener {listener}: its allowedRoutes do not admit {kind} from namespace {ns}").format(
                        listener=lst.get("name"), kind=route.get("kind"), ns=meta(route).get("namespace", "")
                    )
                )
            elif not gw.hostnames_intersect(lst.get("hostname"), hosts):
                why.append(
                    _("listener {listener} accepts {host}, not {hosts}").format(
                        listener=lst.get("name"), host=lst.get("hostname"), hosts=", ".join(hosts)
                    )
                )
            elif lst not in attached:
                attached.append(lst)
    return attached, tried, ([] if attached else why)


def _proxy(b: _Builder, gref: Ref, svc: Obj) -> Hop:
    """The Envoy proxy Pods behind the Gateway's Service: the CLB's backends, which serve every listener."""
    sref = ref(svc)
    key = (PROXY, sref)
    if b.ctx.snap.held("pods") is None:
        hop = b.add(PROXY, gref, key, _("Envoy proxy Pods of {name}").format(name=sref.name))
        b.unknown(hop, _("Pods were not read"))
        return hop
    selector = _spec(svc).get("selector") or {}
    pods = sorted(b.ctx.selected_pods(svc), key=lambda p: str(meta(p).get("name", ""))) if selector else []
    ready = [p for p in pods if pod_ready(p)]
    hop = b.add(
        PROXY,
        gref,
        key,
        _("Envoy proxy Pods of {name}: {ready} of {total} ready").format(
            name=sref.name, ready=len(ready), total=len(pods)
        ),
    )
    hop.details += _pod_lines(pods)
    if not pods:
        b.failing(hop, _("no Pod matches the selector of the Gateway's Service: the CLB has no backend"))
    elif not ready:
        b.failing(hop, _("no Envoy proxy Pod is ready: the CLB has no healthy backend"))
    return hop


def trace_gateway(
    ctx: Context,
    gateway: Obj,
    *,
    findings: Iterable[Finding] = (),
    skipped: Iterable[Skip] = (),
    ran: Iterable[str] = (),
) -> Trace:
    """The path of `trace gw/NAME`: the Gateway's CLB (its addresses, and the LoadBalancer Service Envoy Gateway
    made for it), the Envoy proxy Pods behind that Service, each listener, the HTTPRoutes and GRPCRoutes attached
    to it, their backendRefs, and the Services' paths behind them. Envoy sends to the Services' endpoints itself:
    no NodePort is on that part."""
    b = _Builder(ctx, findings, skipped, ran)
    gref = ref(gateway)
    services = ctx.snap.held("services")
    lbs = [s for s in gw.gateway_services(gateway, services or []) if _spec(s).get("type") == "LoadBalancer"]
    internal = any(is_internal_service(s) for s in lbs)
    addresses = gw.addresses(gateway)
    kind = _("internal") if internal else _("public")
    if lbs and addresses:
        title = _("CLB {address} ({kind})").format(address=", ".join(addresses), kind=kind)
    elif lbs:
        title = _("CLB without address ({kind})").format(kind=kind)
    elif addresses:
        title = _("Gateway address {address}").format(address=", ".join(addresses))
    else:
        title = _("Gateway without address")
    clb = b.add(CLB, gref, (CLB, gref), title)
    clb.internal = internal
    clb.details.append(_("GatewayClass {name}").format(name=_spec(gateway).get("gatewayClassName") or '""'))
    for svc in lbs:
        notes = annotations_of(svc)
        sref = ref(svc)
        clb.details.append(_("its Service {ns}/{name}").format(ns=sref.namespace, name=sref.name))
        if notes.get("service.kubernetes.io/loadbalance-id"):
            clb.details.append(_("load balancer {id}").format(id=notes["service.kubernetes.io/loadbalance-id"]))
        clb.details += _service_listeners(svc)
        direct = tke.is_true(notes.get(tke.SVC_DIRECT_ACCESS))
        clb.details.append(
            _("backends: the Envoy Pods directly (direct access)") if direct else _("backends: the nodes' NodePorts")
        )
    if not addresses:
        b.failing(clb, _("no address in status.addresses"))
    if services is None:
        b.unknown(clb, _("Services were not read: the CLB behind the Gateway is not known"))
    elif not lbs:
        others = gw.gateway_services(gateway, services)
        clb.details.append(
            _("its Service {ns}/{name} is type {type}: no CLB").format(
                ns=meta(others[0]).get("namespace"),
                name=meta(others[0]).get("name"),
                type=_spec(others[0]).get("type") or "ClusterIP",
            )
            if others
            else _(
                "no LoadBalancer Service labelled {label}={name} (Envoy Gateway's, in envoy-gateway-system by default)"
            ).format(label=gw.OWNING_NAME, name=gref.name)
        )
    proxies = [_proxy(b, gref, svc) for svc in lbs]
    for proxy in proxies:
        b.link(clb, proxy)
    heads = proxies or [clb]  # what the listeners sit behind
    gateway_false = _false(gw.mapping(gateway.get("status")), ("Accepted", "Programmed"))
    clb.details += gateway_false
    clb.about = ("TKE504",) if gateway_false else ()
    listener_hops: list[tuple[dict[str, Any], Hop]] = []
    for lst in gw.listeners(gateway):
        hop = b.add(LISTENER, gref, (LISTENER, gref, lst.get("name")), _listener_title(lst))
        allowed = gw.mapping(gw.mapping(lst.get("allowedRoutes")).get("namespaces")).get("from") or "Same"
        hop.details.append(_("routes from namespaces: {allowed}").format(allowed=allowed))
        status = _listener_status(gateway, lst.get("name"))
        if isinstance(status.get("attachedRoutes"), int):
            hop.details.append(_("attached routes (controller): {n}").format(n=status["attachedRoutes"]))
        problems = _false(status, ("Accepted", "Programmed", "ResolvedRefs"))
        hop.details += problems
        hop.about = ("TKE504",) if problems else ()
        for head in heads:
            b.link(head, hop)
        listener_hops.append((lst, hop))
    held_grants = ctx.snap.held("referencegrants")
    endpoints_held = ctx.snap.held("endpointslices") is not None and ctx.snap.held("pods") is not None
    for route in sorted(
        ctx.routes, key=lambda r: (str(r.get("kind")), str(meta(r).get("namespace")), str(meta(r).get("name")))
    ):
        rref = ref(route)
        attached, tried, why = _attached(gateway, route)
        hosts = gw.route_hostnames(route)
        hop = b.add(
            ROUTE,
            rref,
            (ROUTE, rref),
            _("{kind} {ns}/{name}: {hosts}").format(
                kind=rref.kind, ns=rref.namespace, name=rref.name, hosts=", ".join(hosts) or _("every host")
            ),
        )
        for parent in gw.mapping(route.get("status")).get("parents") or []:
            pref = gw.mapping(gw.mapping(parent).get("parentRef"))
            if (str(pref.get("namespace") or rref.namespace), str(pref.get("name") or "")) == (
                gref.namespace,
                gref.name,
            ):
                hop.details += _false(gw.mapping(parent), ("Accepted", "ResolvedRefs"))
        hop.details += why
        froms = [h for lst, h in listener_hops if lst in attached] or [h for lst, h in listener_hops if lst in tried]
        for h in froms or heads:
            b.link(h, hop)
        if not attached:
            b.failing(hop, _("no listener of the Gateway accepts the route"))
        elif all(gw.allows(lst, gateway, route) is None for lst in attached):  # attached for sure elsewhere: ok
            b.unknown(hop, _("allowedRoutes from: Selector is not judged (Namespaces are not read)"))
        for backend in gw.backend_refs(route):
            target = ctx.services_by_key.get((backend.namespace, backend.name)) if services is not None else None
            where = backend.text if backend.namespace == rref.namespace else f"{backend.namespace}/{backend.text}"
            bhop = b.add(
                BACKEND,
                rref,
                (BACKEND, rref, backend.rule, backend.namespace, backend.name, backend.port),
                _("rule {n} -> {backend}").format(n=backend.rule + 1, backend=where),
            )
            b.link(hop, bhop)
            if services is None:
                b.unknown(bhop, _("Services were not read"))
                continue
            faults: list[str] = []
            port: dict[str, Any] | None = None
            cross = backend.namespace != rref.namespace
            if cross and held_grants is not None and not gw.granted(held_grants, route, backend):
                faults.append("TKE513")
            if target is None:
                faults.append("TKE510")
                bhop.details.append(
                    _("no Service {name} in namespace {ns}").format(name=backend.name, ns=backend.namespace)
                )
            elif _spec(target).get("type") != "ExternalName":
                if backend.port is None or not service_port_matches(target, backend.port):
                    faults.append("TKE511")
                else:
                    port = next((p for p in _spec(target).get("ports") or [] if p.get("port") == backend.port), None)
                if endpoints_held and _spec(target).get("selector") and not ctx.endpoints(target).ready:
                    faults.append("TKE512")
            bhop.about = tuple(faults)
            if target is None or (port is None and _spec(target).get("type") != "ExternalName"):
                continue
            for head in b.service(target, [port] if port is not None else [], True):
                b.link(bhop, head)
    b.attach(None)
    if services is not None and lbs:
        b.loopback(clb, internal, ("TKE515",))
    else:
        clb.loopback = "unknown"
        clb.details.insert(0, _("loopback: unknown (the Gateway's Service is not known)"))
    b.required(GATEWAY_REQUIRED)
    b.required({k: v for k, v in SERVICE_REQUIRED.items() if k not in (CLB, NODE_PORT)})
    return Trace(gref, b.hops, False)
