"""Tencent Cloud checks TKE401-TKE406: node and CLB security groups, account type and bandwidth, the Ingresses'
SSL certificates (pure: they read the snapshot's CloudView, which kubectl_tke_net.sources.cloud reads up front,
or a snapshot file holds). They are registered for "<command> --cloud": the CLI adds them to svc, ingress and
loopback only when the cloud checks are on. `wants` tells the source what they will read."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from kubectl_tke_net import tke
from kubectl_tke_net.checks.registry import Check, Hit, check
from kubectl_tke_net.cloudrules import (
    CLB_SNAT,
    HEALTH_CHECKS,
    INTERNET,
    PRIVATE,
    Addresses,
    CloudView,
    Instance,
    LoadBalancer,
    SecurityGroup,
    Verdict,
    Wants,
    evaluate,
    instance_id,
)
from kubectl_tke_net.facts import Context
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.i18n import N_, _, ngettext
from kubectl_tke_net.k8s import (
    annotations_of,
    backends,
    container_port_for,
    is_clb_ingress,
    is_internal_ingress,
    is_internal_service,
    is_super_node_pod,
    meta,
    ref,
    target_port,
)
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Severity, Unavailable

ING_PASS_TO_TARGET = "ingress.cloud.tencent.com/pass-to-target"
# The security groups of a super-node Pod (comma-separated IDs), else its pool's default (TKE-FACTS-2 §3.2).
POD_SECURITY_GROUP = "eks.tke.cloud.tencent.com/security-group-id"
# The Ingress's listeners, and certificates in place of spec.tls (TKE-FACTS-2 §2.2).
ING_LISTEN_PORTS = "ingress.cloud.tencent.com/listen-ports"
ING_CERTIFICATE = "ingress.cloud.tencent.com/certificate"
NODEPORTS = tke.NODEPORT_RANGE


def wants(ctx: Context, chosen: Iterable[Check], view: CloudView) -> Wants:
    """What the checks `chosen` read that `view` (a planning view: CloudView(..., wants=Wants())) does not hold:
    they are run on it, and each stops at its first such question (or at a kind it cannot read)."""
    saved, ctx.cloud = ctx.cloud, view
    try:
        for chk in chosen:
            try:
                for name in chk.kinds(ctx.command):
                    ctx.snap.list(name)
                list(chk.func(ctx))
            except Unavailable:
                continue
    finally:
        ctx.cloud = saved
    return view.wants or Wants()


def facts_of(ctx: Context) -> CloudView:
    facts = ctx.cloud
    if facts is None:
        raise Unavailable("cloud", _("Tencent Cloud checks are off (use --cloud)"))
    if facts.unavailable is not None:
        raise Unavailable("cloud", facts.unavailable)
    return facts


@dataclass(frozen=True)
class Need:
    """Traffic that must get through a security group chain: protocol/port from a source."""

    protocol: str
    port: int
    source: Addresses
    source_text: str  # "the Internet", "the CLB address 10.0.0.9", ...
    cidr: str  # what the remedy allows: 0.0.0.0/0, 10.0.0.9, 100.64.0.0/10
    why: str  # "Service shop/web"
    nodes: frozenset[str] | None = None  # the nodes it concerns (direct access: those hosting the Pods); None: all


@dataclass(frozen=True)
class NodeChain:
    node: Obj
    instance: Instance
    groups: list[SecurityGroup]

    @property
    def name(self) -> str:
        return str(meta(self.node).get("name", ""))


def node_chains(ctx: Context, facts: CloudView) -> list[NodeChain]:
    """Each node that is a CVM with security groups, with its groups in bound order."""
    nodes = [(n, instance_id(n)) for n in ctx.snap.list("nodes")]
    instances = facts.instances(i for _n, i in nodes if i)
    groups = facts.security_groups(g for inst in instances.values() for g in inst.security_groups)
    chains = []
    for node, iid in nodes:
        inst = instances.get(iid or "")
        if inst is None or not inst.security_groups:
            continue  # not a CVM (super node, or unknown to the API), or nothing filters it
        chains.append(NodeChain(node, inst, [groups[g] for g in inst.security_groups if g in groups]))
    return chains


def _lb_id(obj: Obj) -> str | None:
    notes = annotations_of(obj)
    value = notes.get(tke.SVC_LB_ID) or notes.get(tke.ING_LB_ID)
    return str(value) if value else None


def _load_balancers(ctx: Context, facts: CloudView, objs: Iterable[Obj]) -> dict[str, LoadBalancer]:
    """The CLBs of `objs`, read together with those of every object the run examines (one batched call)."""
    ids = {i for o in objs if (i := _lb_id(o))}
    if not ids:
        return {}
    examined = (ctx.services if "services" in facts.scope else []) + (
        ctx.ingresses if "ingresses" in facts.scope else []
    )
    facts.load_balancers(ids | {i for o in examined if (i := _lb_id(o))})
    return facts.load_balancers(ids)


def _passes_to_target(obj: Obj, lbs: dict[str, LoadBalancer]) -> bool:
    """CLB traffic skips the node security groups: pass-to-target or direct access (to Pods, not nodes)."""
    notes = annotations_of(obj)
    if any(
        tke.is_true(notes.get(k))
        for k in (tke.SVC_PASS_TO_TARGET, tke.SVC_DIRECT_ACCESS, ING_PASS_TO_TARGET, tke.ING_DIRECT_ACCESS)
    ):
        return True
    lb = lbs.get(_lb_id(obj) or "")
    return lb is not None and lb.pass_to_target


def _node_ports(svc: Obj) -> list[tuple[str, int]]:
    return [
        (str(p.get("protocol") or "TCP").upper(), int(p["nodePort"]))
        for p in (svc.get("spec") or {}).get("ports") or []
        if p.get("nodePort")
    ]


def _vips(obj: Obj) -> list[str]:
    return [
        str(i["ip"]) for i in ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [] if i.get("ip")
    ]


def _name(obj: Obj) -> str:
    return f"{meta(obj).get('namespace', '')}/{meta(obj).get('name', '')}"


def _port_spans(ports: Iterable[int]) -> list[str]:
    """What a remedy opens: TKE's whole NodePort range for the ports in it, and each other port (a container
    port of direct access) on its own."""
    ports = sorted(set(ports))
    inside = [p for p in ports if NODEPORTS[0] <= p <= NODEPORTS[1]]
    return ([f"{NODEPORTS[0]}-{NODEPORTS[1]}"] if inside else []) + [str(p) for p in ports if p not in inside]


def tccli_rule(region: str | None, sg: str, protocol: str, port: str, cidr: str) -> str:
    """The tccli command that inserts an ACCEPT rule at the top (PolicyIndex 0) of a security group."""
    rule = "--SecurityGroupPolicySet.Ingress.0."
    return (
        f"tccli vpc CreateSecurityGroupPolicies --cli-unfold-argument --region {region or 'REGION'} "
        f"--SecurityGroupId {sg} {rule}PolicyIndex 0 {rule}Protocol {protocol} {rule}Port {port} "
        f"{rule}CidrBlock {cidr} {rule}Action ACCEPT"
    )


def remedy(region: str | None, sg: str, needs: Iterable[Need]) -> str:
    """The rules to insert at the top of `sg` (the first group the cloud evaluates), and the commands."""
    grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
    for need in needs:
        grouped[(need.protocol, need.cidr)].append(need.port)
    rules, commands = [], []
    for (protocol, cidr), ports in sorted(grouped.items()):
        for span in _port_spans(ports):
            rules.append(_("ACCEPT {protocol} {ports} from {cidr}").format(protocol=protocol, ports=span, cidr=cidr))
            commands.append(tccli_rule(region, sg, protocol, span, cidr))
    return _("insert an inbound rule at the top of {sg}: {rules} (e.g. {commands})").format(
        sg=sg, rules="; ".join(rules), commands=" && ".join(commands)
    )


def _missing_text(needs: list[Need], limit: int = 6) -> str:
    shown = [
        _("{protocol} {port} from {source} ({why})").format(
            protocol=n.protocol, port=n.port, source=n.source_text, why=n.why
        )
        for n in needs
    ]
    more = _(" and {n} more").format(n=len(shown) - limit) if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


def _blocked(verdict: Verdict, whole: bool) -> bool:
    """Whether the verdict is a fault: nothing of the source gets through (or, with `whole`, some of it does
    not). A rule that cannot be judged here (a security-group or service-template source) means no verdict."""
    if verdict.uncertain:
        return False
    return not verdict.accepted.covers(verdict.accepted | verdict.refused) if whole else not verdict.allowed


def _groups_text(groups: Iterable[SecurityGroup]) -> str:
    return ", ".join(g.id for g in groups)


# --- TKE401 ----------------------------------------------------------------------------------------------

# Where the CLB's traffic comes from, as a Need's source: (addresses, text, what a remedy allows).
Source = tuple[Addresses, str, str]


def _internet() -> Source:
    return INTERNET, _("the Internet"), "0.0.0.0/0"


def _vpc_clients(vips: list[str]) -> Source:
    """The clients of an internal CLB: an L4 CLB, and an L7 one without keep-alive, pass the client's own
    address, so the backends see the VPC's clients, not (only) the CLB's address."""
    return PRIVATE - Addresses.parse(vips), _("its clients in the VPC"), "10.0.0.0/8"


def _service_sources(svc: Obj) -> list[Source]:
    """Where the traffic a Service's own CLB (or a NodePort's callers) sends to its backends comes from."""
    spec = svc.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return [(PRIVATE, _("the VPC"), "10.0.0.0/8")]
    if not is_internal_service(svc):
        return [_internet()]  # the CLB passes the Internet client's address
    vips = _vips(svc)
    if not vips:
        return []  # no CLB yet (TKE107)
    # Its health checks come from the VIP; its clients keep their own addresses through the L4 CLB.
    return [(Addresses.parse(vips), _("the CLB address {vip}").format(vip=vips[0]), vips[0]), _vpc_clients(vips)]


def _ingress_sources(ctx: Context, ing: Obj) -> list[Source]:
    """Where a CLB Ingress's traffic to its backends comes from: the Internet client for a public CLB, the VPC
    client for an internal one; with keep-alive the CLB SNATs from 100.127.0.0/16 instead (TKE404 judges that)."""
    try:
        if _keepalive_on(ctx, ing):
            return []
    except Unavailable:
        pass  # no TkeServiceConfig to read: keep-alive is not known to be on
    return [_vpc_clients(_vips(ing))] if is_internal_ingress(ing) else [_internet()]


def _direct(obj: Obj) -> bool:
    notes = annotations_of(obj)
    return tke.is_true(notes.get(tke.SVC_DIRECT_ACCESS)) or tke.is_true(notes.get(tke.ING_DIRECT_ACCESS))


def _pass_to_target_only(obj: Obj, lbs: dict[str, LoadBalancer]) -> bool:
    """pass-to-target: only the CLB's security group filters its traffic, neither the nodes' nor the Pods'."""
    notes = annotations_of(obj)
    if tke.is_true(notes.get(tke.SVC_PASS_TO_TARGET)) or tke.is_true(notes.get(ING_PASS_TO_TARGET)):
        return True
    lb = lbs.get(_lb_id(obj) or "")
    return lb is not None and lb.pass_to_target


@dataclass
class Traffic:
    """What TKE401 judges: NodePort traffic on every CVM node, container-port traffic on the GlobalRouter
    nodes that host direct-access Pods, super-node Pods through their own security groups, and what it
    cannot judge (VPC-CNI Pods' ENI groups, super-node Pods without a group of their own)."""

    needs: list[Need] = field(default_factory=list)
    pod_needs: list[tuple[Obj, tuple[str, ...], Need]] = field(default_factory=list)
    unknown: dict[Ref, list[str]] = field(default_factory=lambda: defaultdict(list))
    unknown_fix: dict[Ref, list[Need]] = field(default_factory=lambda: defaultdict(list))


def _port_of(svc: Obj, port: int | str | None) -> list[dict[str, Any]]:
    """The Service ports an Ingress backend's port (number or name; None: every port) names."""
    return [
        p for p in (svc.get("spec") or {}).get("ports") or [] if port is None or port in (p.get("port"), p.get("name"))
    ]


def _add_direct(
    ctx: Context,
    traffic: Traffic,
    owner: Obj,
    svc: Obj,
    *,
    ports: list[dict[str, Any]],
    sources: list[Source],
    why: str,
) -> None:
    """Direct access: the CLB sends to the Pods' own addresses and container ports, so the requirement moves
    to the group that filters each Pod: its node's (GlobalRouter), its own (super node), its ENI's (VPC-CNI)."""
    for pod in ctx.selected_pods(svc):
        spec = pod.get("spec") or {}
        if spec.get("hostNetwork"):
            continue  # never a direct backend (TKE110, E4033)
        for port in ports:
            protocol = str(port.get("protocol") or "TCP").upper()
            target = target_port(port)
            if isinstance(target, str):
                found = container_port_for(pod, target, protocol)
                if found is None:
                    continue  # TKE104 says so
                target = int(found["containerPort"])
            for addresses, text, cidr in sources:
                need = Need(protocol, target, addresses, text, cidr, why)
                if is_super_node_pod(pod, ctx.super_nodes):
                    groups = tuple(
                        g.strip()
                        for g in str(annotations_of(pod).get(POD_SECURITY_GROUP) or "").split(",")
                        if g.strip()
                    )
                    if groups:
                        traffic.pod_needs.append((pod, groups, need))
                    else:
                        traffic.unknown[ref(owner)].append(
                            _(
                                "super-node Pod {pod} has no {key}: the default group of its super node pool is not "
                                "known here"
                            ).format(pod=meta(pod).get("name", ""), key=POD_SECURITY_GROUP)
                        )
                        traffic.unknown_fix[ref(owner)].append(need)
                elif annotations_of(pod).get(tke.POD_NETWORKS):
                    traffic.unknown[ref(owner)].append(
                        _("VPC-CNI Pod {pod}: the security group of its ENI is not read by the plugin").format(
                            pod=meta(pod).get("name", "")
                        )
                    )
                    traffic.unknown_fix[ref(owner)].append(need)
                elif spec.get("nodeName"):
                    traffic.needs.append(
                        Need(protocol, target, addresses, text, cidr, why, frozenset({str(spec["nodeName"])}))
                    )


def _traffic(ctx: Context, facts: CloudView) -> Traffic:
    """The traffic the CLBs of the run's Services (svc) or Ingresses (ingress) send into the cluster."""
    traffic = Traffic()
    services: list[Obj] = []
    # Each CLB Ingress judged, with the Services whose backends count (None: all of them).
    fronting: dict[Ref, tuple[Obj, set[tuple[str, str]] | None]] = {}
    if "services" in facts.scope:
        services = [s for s in ctx.services if (s.get("spec") or {}).get("type") in ("NodePort", "LoadBalancer")]
        in_scope = {(meta(s).get("namespace", ""), meta(s).get("name", "")) for s in services}
        # The CLB Ingresses in front of these Services (when the Ingresses cannot be read, only the Services'
        # own traffic is judged).
        for ing in ctx.snap.maybe("ingresses"):
            if is_clb_ingress(ing) and any(
                (meta(ing).get("namespace", ""), b.service) in in_scope for b in backends(ing)
            ):
                fronting[ref(ing)] = (ing, in_scope)
    if "ingresses" in facts.scope:
        fronting.update({ref(i): (i, None) for i in ctx.ingresses if is_clb_ingress(i)})
    lbs = _load_balancers(
        ctx,
        facts,
        [s for s in services if (s.get("spec") or {}).get("type") == "LoadBalancer"]
        + [i for i, _e in fronting.values()],
    )
    for svc in services:
        if _pass_to_target_only(svc, lbs):
            continue
        why = _("Service {name}").format(name=_name(svc))
        sources = _service_sources(svc)
        if _direct(svc):
            _add_direct(
                ctx, traffic, svc, svc, ports=list((svc.get("spec") or {}).get("ports") or []), sources=sources, why=why
            )
            continue
        for protocol, port in _node_ports(svc):
            traffic.needs += [Need(protocol, port, a, text, cidr, why) for a, text, cidr in sources]
    for ing, examined in fronting.values():
        if _pass_to_target_only(ing, lbs):
            continue
        why = _("Ingress {name}").format(name=_name(ing))
        sources = _ingress_sources(ctx, ing)
        ns = meta(ing).get("namespace", "")
        for backend in backends(ing):
            if examined is not None and (ns, backend.service) not in examined:
                continue
            backend_svc = ctx.services_by_key.get((ns, backend.service))
            if backend_svc is None:
                continue  # TKE201
            ports = _port_of(backend_svc, backend.port)
            if _direct(ing):
                _add_direct(ctx, traffic, ing, backend_svc, ports=ports, sources=sources, why=why)
                continue
            for item in ports:
                if item.get("nodePort"):
                    protocol = str(item.get("protocol") or "TCP").upper()
                    traffic.needs += [
                        Need(protocol, int(item["nodePort"]), a, text, cidr, why) for a, text, cidr in sources
                    ]
    traffic.needs = _merged(traffic.needs)
    return traffic


def _merged(needs: Iterable[Need]) -> list[Need]:
    """One Need per port, source and nodes, naming every object that needs it."""
    out: dict[tuple[str, int, str, frozenset[str] | None], Need] = {}
    for need in needs:
        key = (need.protocol, need.port, need.source_text, need.nodes)
        seen = out.get(key)
        if seen is None:
            out[key] = need
        elif need.why not in seen.why.split(", "):
            out[key] = replace(seen, why=f"{seen.why}, {need.why}")
    return list(out.values())


def _scope(ctx: Context) -> tuple[str, ...]:
    return ctx.cloud.scope if ctx.cloud is not None else ("services", "ingresses")


def _rules_text(needs: Iterable[Need]) -> str:
    return "; ".join(
        dict.fromkeys(
            _("ACCEPT {protocol} {ports} from {cidr}").format(protocol=n.protocol, ports=n.port, cidr=n.cidr)
            for n in needs
        )
    )


@check(
    "TKE401",
    Severity.ERROR,
    N_("security groups block the CLB's traffic to the NodePorts or Pods"),
    needs=("services", "nodes"),
    commands=("service --cloud", "ingress --cloud"),
)
def node_security_groups_block_node_ports(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With Tencent Cloud credentials (`--cloud`), reads each node's CVM instance and its security groups,
    and evaluates their inbound rules as the cloud does: the groups in their bound order, the rules of
    each in order, the first rule that matches decides, and no match drops. Fires on a node whose groups
    let nothing of a source through to a port the CLB sends to (TCP, or UDP for UDP ports). The sources
    are where the packets really come from:

    - a public LoadBalancer Service, and the NodePort Services behind a public CLB Ingress: the Internet
      (the CLB passes the client's address, so allowing only the VPC is not enough);
    - an internal LoadBalancer Service: the CLB's own address (its health checks) and its clients in the
      VPC (an L4 CLB keeps the client's address); the Services behind an internal CLB Ingress: the VPC;
    - a NodePort Service: the VPC's private ranges.

    Under `svc` it judges the Services in scope and the CLB Ingresses in front of them; under `ingress`
    the Ingresses in scope. An Ingress with CLB keep-alive is left to TKE404 (the CLB then SNATs from
    `100.127.0.0/16`); `pass-to-target` leaves only the CLB's security group to filter. With
    `direct-access` the CLB sends to the Pods' container ports instead of the NodePorts, and the
    requirement moves with it: to the node's groups for GlobalRouter Pods (on the nodes that host them),
    to the Pod's own groups for Pods on super nodes (`eks.tke.cloud.tencent.com/security-group-id`).
    What the plugin cannot read is reported as info on the Service or Ingress, with what must be allowed,
    never as fine: the ENI security group of VPC-CNI Pods, and the default group of a super-node Pod
    without that annotation. A rule whose source is another security group or whose ports are a service
    template cannot be judged here; the node is then not reported.

    ## Why it breaks traffic
    The CLB forwards to the nodes' NodePorts (or, with direct access, to the Pods), and the security
    group filters that traffic: when it drops it, the CLB's health checks fail, every backend is
    unhealthy and clients time out (an Ingress answers 504). TKE's troubleshooting guide's first step is
    "检查集群中节点的安全组是否正确放通30000-32768端口区间"; for direct access to GlobalRouter Pods it
    says "需要开启 CVM 上工作负载对应的端口".

    ## How to fix it
    Insert the rule the remediation names at the top of the first security group, for example
    `ACCEPT TCP 30000-32768 from 0.0.0.0/0` (the `tccli vpc CreateSecurityGroupPolicies` command is
    given), or set `service.cloud.tencent.com/pass-to-target: "true"` on the Service
    (`ingress.cloud.tencent.com/pass-to-target` on the Ingress) so that CLB traffic is checked only by
    the CLB's security group.
    Source: Tencent Cloud, "Service & Ingress 网络无法访问排障处理"; "Service 直连 Pod 模式"; VPC API
    CreateSecurityGroupPolicies.
    """
    scope = _scope(ctx)
    services = "services" in scope and any(
        (s.get("spec") or {}).get("type") in ("NodePort", "LoadBalancer") for s in ctx.services
    )
    ingresses = "ingresses" in scope and any(is_clb_ingress(i) for i in ctx.ingresses)
    if not services and not ingresses:
        return
    facts = facts_of(ctx)
    traffic = _traffic(ctx, facts)
    if traffic.needs:
        for chain in node_chains(ctx, facts):
            missing = [
                n
                for n in traffic.needs
                if (n.nodes is None or chain.name in n.nodes)
                and _blocked(evaluate(chain.groups, n.protocol, n.port, n.source), whole=False)
            ]
            if missing:
                yield Hit(
                    ref(chain.node),
                    _(
                        "the security groups of instance {instance} ({groups}) let no traffic through to {ports}: "
                        "the CLB and clients cannot reach these ports on this node"
                    ).format(
                        instance=chain.instance.id, groups=_groups_text(chain.groups), ports=_missing_text(missing)
                    ),
                    remedy(facts.region, chain.instance.security_groups[0], missing),
                )
    if traffic.pod_needs:
        groups = facts.security_groups(g for _pod, ids, _need in traffic.pod_needs for g in ids)
        by_pod: dict[Ref, tuple[Obj, tuple[str, ...], list[Need]]] = {}
        for pod, ids, need in traffic.pod_needs:
            by_pod.setdefault(ref(pod), (pod, ids, []))[2].append(need)
        for pod, ids, needs in by_pod.values():
            bound = [groups[g] for g in ids if g in groups]
            missing = [
                n for n in _merged(needs) if _blocked(evaluate(bound, n.protocol, n.port, n.source), whole=False)
            ]
            if missing:
                yield Hit(
                    ref(pod),
                    _(
                        "the security groups of super-node Pod {pod} ({groups}) let no traffic through to {ports}: "
                        "with direct access the CLB and clients cannot reach the Pod"
                    ).format(pod=meta(pod).get("name", ""), groups=", ".join(ids), ports=_missing_text(missing)),
                    remedy(facts.region, ids[0], missing),
                )
    for owner, reasons in traffic.unknown.items():
        needs = _merged(traffic.unknown_fix[owner])
        yield Hit(
            owner,
            _(
                "cannot judge the security groups of its direct-access Pods ({reasons}); they must let through {ports}"
            ).format(reasons="; ".join(dict.fromkeys(reasons)), ports=_missing_text(needs)),
            _("check that the security group bound to those Pods allows: {rules}").format(rules=_rules_text(needs)),
            Severity.INFO,
        )


# --- TKE402 ----------------------------------------------------------------------------------------------


def listen_ports(value: object) -> list[int] | None:
    """The listener ports `ingress.cloud.tencent.com/listen-ports` declares (`[{"HTTP":80},{"HTTPS":8443}]`),
    or None when it is absent or not of that form (TKE214 reports a malformed value)."""
    try:
        items = json.loads(str(value)) if value else None
    except ValueError:
        return None
    if not isinstance(items, list) or not items:
        return None
    ports: list[int] = []
    for item in items:
        if not isinstance(item, dict) or not item:
            return None
        for protocol, port in item.items():
            if protocol not in ("HTTP", "HTTPS") or not isinstance(port, int) or isinstance(port, bool):
                return None
            ports.append(port)
    return sorted(set(ports))


def _listener_ports(ing: Obj) -> list[int]:
    """The CLB listeners of a TKE Ingress: those `listen-ports` declares; else 443 with TLS (`spec.tls`, or the
    `ingress.cloud.tencent.com/certificate` annotation that replaces it), 80 without (or with mixed rules)."""
    notes = annotations_of(ing)
    declared = listen_ports(notes.get(ING_LISTEN_PORTS))
    if declared:
        return declared
    if not (ing.get("spec") or {}).get("tls") and not notes.get(ING_CERTIFICATE):
        return [80]
    mixed = notes.get("kubernetes.io/ingress.http-rules") or tke.is_true(notes.get("kubernetes.io/ingress.rule-mix"))
    return [80, 443] if mixed else [443]


@check(
    "TKE402",
    Severity.ERROR,
    N_("CLB security group blocks the Ingress's listeners"),
    needs=("ingresses",),
    commands=("ingress --cloud",),
)
def clb_security_group_blocks_listeners(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With Tencent Cloud credentials (`--cloud`), reads the CLB of each public CLB Ingress (annotation
    `kubernetes.io/ingress.qcloud-loadbalance-id`) and the security groups bound to it, and fires when
    their inbound rules (first match wins, as for TKE401) let nothing from the Internet through to one
    of its listener ports: those `ingress.cloud.tencent.com/listen-ports` declares (its JSON form,
    `[{"HTTP":80},{"HTTPS":8443}]`), else TCP 443 for an HTTPS Ingress (`spec.tls`, or certificates in
    `ingress.cloud.tencent.com/certificate`, which replaces `spec.tls`) and 80 without TLS or with mixed
    HTTP rules. A CLB without a security group is not filtered; internal CLBs are not judged (the CLB
    API says that private CLBs do not support security groups).

    ## Why it breaks traffic
    The CLB's security group filters clients before the listener: a group that does not open 443 makes
    HTTPS time out although the Ingress, its certificate and its backends are fine. TKE's guide:
    "检查 Ingress 绑定的 CLB 是否设置了未放通443端口的安全组".

    ## How to fix it
    Insert the rule the remediation names (e.g. `ACCEPT TCP 443 from 0.0.0.0/0`) at the top of the
    CLB's first security group, or unbind the group in the CLB console.
    Source: Tencent Cloud, "Service & Ingress 网络无法访问排障处理".
    """
    ingresses = [i for i in ctx.ingresses if is_clb_ingress(i) and not is_internal_ingress(i) and _lb_id(i)]
    if not ingresses:
        return
    facts = facts_of(ctx)
    lbs = _load_balancers(ctx, facts, ingresses)
    groups = facts.security_groups(g for lb in lbs.values() if lb.type == "OPEN" for g in lb.security_groups)
    for ing in ingresses:
        lb = lbs.get(_lb_id(ing) or "")
        if lb is None or lb.type != "OPEN" or not lb.security_groups:
            continue
        chain = [groups[g] for g in lb.security_groups if g in groups]
        why = _("Ingress {name}").format(name=_name(ing))
        missing = [
            Need("TCP", port, INTERNET, _("the Internet"), "0.0.0.0/0", why)
            for port in _listener_ports(ing)
            if _blocked(evaluate(chain, "TCP", port, INTERNET), whole=False)
        ]
        if missing:
            yield Hit(
                ref(ing),
                _(
                    "the security groups of its CLB {lb} ({groups}) let nothing from the Internet "
                    "through to TCP {ports}: clients time out"
                ).format(lb=lb.id, groups=_groups_text(chain), ports=", ".join(str(n.port) for n in missing)),
                remedy(facts.region, lb.security_groups[0], missing),
            )


# --- TKE403 ----------------------------------------------------------------------------------------------


@check(
    "TKE403",
    Severity.WARNING,
    N_("public CLB on a LEGACY account with nodes without bandwidth"),
    needs=("nodes",),
    commands=("service --cloud", "ingress --cloud"),
)
def legacy_account_nodes_without_bandwidth(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With Tencent Cloud credentials (`--cloud`), asks the VPC API for the account's network type
    (`DescribeNetworkAccountType`: STANDARD or LEGACY) and fires, on a LEGACY account, for each public
    LoadBalancer Service (`svc`) or public CLB Ingress (`ingress`) while some node's CVM has no public
    bandwidth (`InternetMaxBandwidthOut` 0); the message names those nodes.

    ## Why it breaks traffic
    On a LEGACY (traditional, "non-bandwidth-upshift") account the bandwidth of a public CLB is the
    bandwidth of its backend CVMs: a node without public bandwidth cannot send the CLB's responses, so
    requests the CLB sends to it fail. STANDARD accounts buy bandwidth on the CLB and are not affected.

    ## How to fix it
    Give the nodes public bandwidth (CVM console: adjust network; or in the node pool's launch
    configuration), or bind the CLB only to nodes that have it
    (`service.kubernetes.io/qcloud-loadbalancer-backends-label`), or move the account to the standard
    type (bandwidth upshift) through Tencent Cloud.
    Source: VPC API DescribeNetworkAccountType; CVM API DescribeInstances (InternetAccessible).
    """
    facts = facts_of(ctx)
    objs: list[Obj] = []
    if "services" in facts.scope:
        objs += [
            s
            for s in ctx.services
            if (s.get("spec") or {}).get("type") == "LoadBalancer" and not is_internal_service(s)
        ]
    if "ingresses" in facts.scope:
        objs += [i for i in ctx.ingresses if is_clb_ingress(i) and not is_internal_ingress(i)]
    if not objs or facts.account_type() != "LEGACY":
        return
    nodes = [(n, instance_id(n)) for n in ctx.snap.list("nodes")]
    instances = facts.instances(i for _n, i in nodes if i)
    poor = sorted(
        str(meta(n).get("name", ""))
        for n, i in nodes
        if (inst := instances.get(i or "")) is not None and inst.bandwidth_out <= 0
    )
    if not poor:
        return
    names = ", ".join(poor[:5]) + (_(" and {n} more").format(n=len(poor) - 5) if len(poor) > 5 else "")
    message = ngettext(
        "the account's network type is LEGACY (a public CLB uses its backends' bandwidth) and node {nodes} has no "
        "public bandwidth: responses through it fail",
        "the account's network type is LEGACY (a public CLB uses its backends' bandwidth) and nodes {nodes} have "
        "no public bandwidth: responses through them fail",
        len(poor),
    ).format(nodes=names)
    fix = ngettext(
        "give node {nodes} public bandwidth, or bind the CLB only to nodes that have it (annotation "
        "service.kubernetes.io/qcloud-loadbalancer-backends-label)",
        "give nodes {nodes} public bandwidth, or bind the CLB only to nodes that have it (annotation "
        "service.kubernetes.io/qcloud-loadbalancer-backends-label)",
        len(poor),
    ).format(nodes=names)
    for obj in objs:
        yield Hit(ref(obj), message, fix)


# --- TKE404 / TKE405 ------------------------------------------------------------------------------------


def _keepalive_on(ctx: Context, ing: Obj) -> bool:
    """The Ingress's TkeServiceConfig has keepaliveEnable: 1 on some listener (TKE303's remedy applied)."""
    notes = annotations_of(ing)
    name = notes.get(tke.ING_TSC) or (
        f"{meta(ing).get('name')}-auto-ingress-config" if tke.is_true(notes.get(tke.ING_TSC_AUTO)) else None
    )
    if not name:
        return False
    config = ctx.tkeserviceconfigs.get((meta(ing).get("namespace", ""), str(name)))
    return any(str(lst.get("keepaliveEnable")) == "1" for lst in tke.l7_listeners(config) or [])


def _range_blocked(ctx: Context, facts: CloudView, needs: list[Need]) -> dict[str, list[NodeChain]]:
    """For each Need's port text, the nodes whose groups do not let the whole source through."""
    out: dict[str, list[NodeChain]] = defaultdict(list)
    for chain in node_chains(ctx, facts):
        for need in needs:
            if _blocked(evaluate(chain.groups, need.protocol, need.port, need.source), whole=True):
                out[f"{need.protocol} {need.port}"].append(chain)
    return out


def _range_hit(ctx: Context, facts: CloudView, obj: Obj, needs: list[Need], message: str) -> Hit | None:
    """A Hit on `obj` when some node's groups keep part of the needed source out (TKE404, TKE405); `message`
    (translated) names them with {nodes} and the blocked ports with {ports}."""
    blocked = _range_blocked(ctx, facts, needs)
    if not blocked:
        return None
    chains = [c for cs in blocked.values() for c in cs]
    return Hit(
        ref(obj),
        message.format(nodes=_nodes_text(chains), ports=", ".join(sorted(blocked))),
        "; ".join(remedy(facts.region, sg, needs) for sg in _first_groups(chains)),
    )


def _nodes_text(chains: Iterable[NodeChain], limit: int = 5) -> str:
    names = sorted({c.name for c in chains})
    return ", ".join(names[:limit]) + (_(" and {n} more").format(n=len(names) - limit) if len(names) > limit else "")


def _first_groups(chains: Iterable[NodeChain]) -> list[str]:
    return sorted({c.instance.security_groups[0] for c in chains})


@check(
    "TKE404",
    Severity.WARNING,
    N_("CLB keep-alive/SNAT without 100.127.0.0/16 in the node security groups"),
    needs=("ingresses", "tkeserviceconfigs", "services", "nodes"),
    commands=("ingress --cloud", "loopback --cloud"),
)
def keepalive_snat_blocked_by_node_security_groups(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With Tencent Cloud credentials (`--cloud`), fires for a CLB Ingress whose TkeServiceConfig turns on
    keep-alive (`keepaliveEnable: 1`, TKE303's remedy) while some node's security groups do not let all
    of `100.127.0.0/16` through to the NodePorts of the Ingress's backend Services (first match wins, as
    for TKE401). Ingresses with `direct-access` or `pass-to-target` (or a CLB that passes traffic to its
    targets) are not judged.

    ## Why it breaks traffic
    With L7 keep-alive the CLB SNATs: it connects to the nodes from `100.127.0.0/16` instead of the
    client's address. TKE's loopback guide requires allowing that range in the nodes' security group
    (or the CLB's "allow traffic by default"); otherwise every request the CLB sends to such a node
    fails, and the loopback fix trades slow requests for failed ones.

    ## How to fix it
    Insert `ACCEPT TCP 30000-32768 from 100.127.0.0/16` at the top of the nodes' first security group
    (the remediation gives the command), or set `ingress.cloud.tencent.com/pass-to-target: "true"`.
    Source: Tencent Cloud, "Service & Ingress 网络无法访问排障处理" (避免七层回环问题).
    """
    candidates = [i for i in ctx.ingresses if is_clb_ingress(i) and _keepalive_on(ctx, i)]
    if not candidates:
        return
    facts = facts_of(ctx)
    lbs = _load_balancers(ctx, facts, candidates)
    for ing in candidates:
        if _passes_to_target(ing, lbs):
            continue
        ns = meta(ing).get("namespace", "")
        ports: set[int] = set()
        for backend in backends(ing):
            svc = ctx.services_by_key.get((ns, backend.service))
            for port in (svc or {}).get("spec", {}).get("ports") or []:
                if port.get("nodePort") and backend.port in (port.get("port"), port.get("name")):
                    ports.add(int(port["nodePort"]))
        why = _("Ingress {name}").format(name=_name(ing))
        needs = [Need("TCP", p, CLB_SNAT, "100.127.0.0/16", "100.127.0.0/16", why) for p in sorted(ports)]
        hit = _range_hit(
            ctx,
            facts,
            ing,
            needs,
            _(
                "CLB keep-alive (SNAT) is on, so the CLB connects from 100.127.0.0/16, but the security groups of "
                "nodes {nodes} do not allow it to {ports}"
            ),
        )
        if hit:
            yield hit


@check(
    "TKE405",
    Severity.WARNING,
    N_("prevent-loopback health checks blocked by the node security groups"),
    needs=("services", "nodes"),
    commands=("service --cloud", "loopback --cloud"),
)
def prevent_loopback_health_checks_blocked(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With Tencent Cloud credentials (`--cloud`), fires for a Service with
    `service.cloud.tencent.com/prevent-loopback: "true"` while some node's security groups do not let
    all of `100.64.0.0/10` through to its NodePorts (TCP, or UDP for UDP ports; first match wins, as for
    TKE401). Services with `direct-access` or `pass-to-target` (or a CLB that passes traffic to its
    targets) are not judged.

    ## Why it breaks traffic
    With prevent-loopback the service controller moves the CLB's health checks to `100.64.0.0/10`
    addresses ("将其健康探测 IP 改为 100.64 网段 IP"). A node security group that opens the NodePorts only
    to the VPC or to the CLB's address then fails every health check: the CLB marks all nodes unhealthy
    and the Service stops answering.

    ## How to fix it
    Insert `ACCEPT TCP 30000-32768 from 100.64.0.0/10` (and UDP for UDP Services) at the top of the
    nodes' first security group (the remediation gives the command).
    Source: Tencent Cloud, "Service & Ingress 网络无法访问排障处理" (避免四层回环问题).
    """
    candidates = [
        s for s in ctx.services if tke.is_true(annotations_of(s).get(tke.SVC_PREVENT_LOOPBACK)) and _node_ports(s)
    ]
    if not candidates:
        return
    facts = facts_of(ctx)
    lbs = _load_balancers(ctx, facts, candidates)
    for svc in candidates:
        if _passes_to_target(svc, lbs):
            continue
        why = _("Service {name}").format(name=_name(svc))
        needs = [
            Need(proto, port, HEALTH_CHECKS, "100.64.0.0/10", "100.64.0.0/10", why) for proto, port in _node_ports(svc)
        ]
        hit = _range_hit(
            ctx,
            facts,
            svc,
            needs,
            _(
                "prevent-loopback moves the CLB health checks to 100.64.0.0/10, but the security groups of nodes "
                "{nodes} do not allow them to {ports}"
            ),
        )
        if hit:
            yield hit


# --- TKE406 ----------------------------------------------------------------------------------------------

# DescribeCertificates' Status values (tencentcloud/ssl/v20191205/models.py, Certificates.Status): 1 is issued.
CERT_ISSUED = 1
_CERT_STATUS = {
    0: N_("under review"),
    2: N_("review failed"),
    3: N_("expired"),
    6: N_("order being cancelled"),
    7: N_("cancelled"),
    9: N_("being revoked"),
    10: N_("revoked"),
    11: N_("being reissued"),
    14: N_("refunded"),
}


def annotation_certificates(ing: Obj) -> list[tuple[str, list[str]]]:
    """(certificate ID, hosts) of each ID in `ingress.cloud.tencent.com/certificate`
    (`[{"hosts":[...],"qcloud_cert_id":[...]}]`), in order, each ID once; nothing of a value that does not parse
    (TKE214 reports that)."""
    try:
        value = json.loads(annotations_of(ing).get(ING_CERTIFICATE) or "[]")
    except ValueError:
        return []
    found: dict[str, list[str]] = {}
    for entry in value if isinstance(value, list) else ():
        if not isinstance(entry, dict):
            continue
        ids = entry.get("qcloud_cert_id")
        hosts = [str(h) for h in entry.get("hosts") or [] if isinstance(h, str)]
        for cid in [ids] if isinstance(ids, str) else ids if isinstance(ids, list) else ():
            if isinstance(cid, str) and cid:
                found.setdefault(cid, []).extend(h for h in hosts if h not in found.get(cid, []))
    return list(found.items())


@check(
    "TKE406",
    Severity.ERROR,
    N_("Ingress certificate unknown, expired or not a server certificate"),
    needs=("ingresses",),
    commands=("ingress --cloud",),
)
def ingress_certificate_unusable(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With Tencent Cloud credentials (`--cloud`), reads the SSL certificates that a CLB Ingress names in
    `ingress.cloud.tencent.com/certificate` (`[{"hosts":[...],"qcloud_cert_id":[...]}]`) from Tencent Cloud
    SSL Certificates (`ssl:DescribeCertificates` with `CertIds`, 100 IDs a call), and fires when a named
    certificate does not exist (or these keys may not read it), is a client certificate (`CertificateType`
    `CA`, not `SVR`), has expired (`CertEndTime`, Beijing time, before the time the facts were read: the
    CloudFacts' `readAt`, so a snapshot is judged as the live run was), or is not issued (`Status` other
    than 1). The fields are those of the SDK's own model, `tencentcloud-sdk-python-ssl`
    `tencentcloud/ssl/v20191205/models.py` (`DescribeCertificatesRequest`, `Certificates`).

    Not judged: the certificates of `spec.tls`, and those of a Service's
    `service.cloud.tencent.com/specify-protocol` TLS Secrets (`E4062`): their ID is in the Secret's data
    (key `qcloud_cert_id`), which the plugin never reads (TKE205 and TKE115 say whether the Secret exists).

    ## Why it breaks traffic
    The ingress controller creates the HTTPS listener with the certificate ID; the CLB refuses an ID it does
    not know or a certificate in an abnormal state (`E4012`), a client certificate (`E4038`) and an expired
    one (`E4039`). The sync fails for the listener, so HTTPS for those hosts does not answer, or answers
    with the old certificate until it expires.

    ## How to fix it
    Upload or renew the certificate in the SSL Certificates console (or buy a new one), then put its ID in
    the annotation (`kubectl edit ingress -n NS NAME`); a client certificate cannot serve HTTPS: use the
    server certificate. `tccli ssl DescribeCertificates --CertIds '["ID"]'` shows what the API says.
    Source: Tencent Cloud, "Service&Ingress 常见报错和处理" (E4012, E4038, E4039); SSL API DescribeCertificates.
    """
    named = [(ing, certs) for ing in ctx.ingresses if is_clb_ingress(ing) and (certs := annotation_certificates(ing))]
    if not named:
        return
    facts = facts_of(ctx)
    found = facts.certificates(cid for _ing, certs in named for cid, _hosts in certs)
    now = facts.read_at()
    for ing, certs in named:
        problems = []
        for cid, hosts in certs:
            label = cid + (_(" (hosts {hosts})").format(hosts=", ".join(hosts)) if hosts else "")
            cert = found.get(cid)
            ends = cert.ends() if cert else None
            if cert is None:
                problems.append(
                    _("certificate {cert} does not exist, or these keys may not read it (E4012)").format(cert=label)
                )
            elif cert.type == "CA":
                problems.append(
                    _("certificate {cert} is a client (CA) certificate, not a server certificate (E4038)").format(
                        cert=label
                    )
                )
            elif ends is not None and ends < now:
                problems.append(
                    _("certificate {cert} expired at {end} (Beijing time) (E4039)").format(
                        cert=label, end=cert.end_time
                    )
                )
            elif cert.status != CERT_ISSUED:
                state = _CERT_STATUS.get(cert.status) if cert.status is not None else None
                problems.append(
                    _("certificate {cert} is not issued: status {status} (E4012)").format(
                        cert=label,
                        status=f"{cert.status} ({_(state)})" if state else str(cert.status),
                    )
                )
        if problems:
            ns, name = meta(ing).get("namespace", ""), meta(ing).get("name", "")
            yield Hit(
                ref(ing),
                "; ".join(problems) + _(": the CLB cannot serve HTTPS with it"),
                _(
                    "upload or renew the certificate in the SSL Certificates console and put its ID in {key} "
                    "(kubectl edit ingress -n {ns} {name}); tccli ssl DescribeCertificates --CertIds '[\"ID\"]' "
                    "shows what the API says"
                ).format(key=ING_CERTIFICATE, ns=ns, name=name),
            )
