"""Tencent Cloud checks TKE401-TKE405: node and CLB security groups, account type and bandwidth (pure: they
read the snapshot's CloudView, which kubectl_tke_net.sources.cloud reads up front, or a snapshot file holds).
They are registered for "<command> --cloud": the CLI adds them to svc, ingress and loopback only when the cloud
checks are on. `wants` tells the source what they will read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

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
from kubectl_tke_net.i18n import N_, _, ngettext
from kubectl_tke_net.k8s import (
    annotations_of,
    backends,
    is_clb_ingress,
    is_internal_ingress,
    is_internal_service,
    meta,
    ref,
)
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Severity, Unavailable

ING_PASS_TO_TARGET = "ingress.cloud.tencent.com/pass-to-target"
NODEPORTS = tke.NODEPORT_RANGE


def wants(ctx: Context, chosen: Iterable[Check], view: CloudView) -> Wants:
    """What the checks `chosen` read that `view` (a planning view: CloudView(..., wants=Wants())) does not hold:
    they are run on it, and each stops at its first such question (or at a kind it cannot read)."""
    saved, ctx.cloud = ctx.cloud, view
    try:
        for chk in chosen:
            try:
                for name in chk.needs:
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
    """What a remedy opens: TKE's whole NodePort range when every port is in it, else each port."""
    ports = sorted(set(ports))
    if ports and all(NODEPORTS[0] <= p <= NODEPORTS[1] for p in ports):
        return [f"{NODEPORTS[0]}-{NODEPORTS[1]}"]
    return [str(p) for p in ports]


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


def _nodeport_needs(svc: Obj, lbs: dict[str, LoadBalancer]) -> list[Need]:
    spec = svc.get("spec") or {}
    kind = spec.get("type")
    if kind not in ("NodePort", "LoadBalancer") or _passes_to_target(svc, lbs):
        return []
    why = _("Service {name}").format(name=_name(svc))
    if kind == "LoadBalancer" and is_internal_service(svc):
        vips = _vips(svc)
        if not vips:
            return []  # no CLB yet (TKE107)
        source, text, cidr = Addresses.parse(vips), _("the CLB address {vip}").format(vip=vips[0]), vips[0]
    elif kind == "LoadBalancer":
        source, text, cidr = INTERNET, _("the Internet"), "0.0.0.0/0"
    else:
        source, text, cidr = PRIVATE, _("the VPC"), "10.0.0.0/8"
    return [Need(protocol, port, source, text, cidr, why) for protocol, port in _node_ports(svc)]


@check(
    "TKE401",
    Severity.ERROR,
    N_("node security groups block the NodePorts"),
    needs=("services", "nodes"),
    commands=("service --cloud",),
)
def node_security_groups_block_node_ports(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With Tencent Cloud credentials (`--cloud`), reads each node's CVM instance and its security groups,
    and evaluates their inbound rules as the cloud does: the groups in their bound order, the rules of
    each in order, the first rule that matches decides, and no match drops. Fires on a node whose groups
    let nothing through to a NodePort (TCP, or UDP for UDP ports) of a NodePort or LoadBalancer Service
    that has neither `pass-to-target` nor `direct-access`. The traffic judged: from the Internet for a
    public LoadBalancer (the CLB passes the client's address), from the CLB's own address for an internal
    one (its health checks), from the VPC's private ranges for a NodePort Service. A rule whose source is
    another security group or whose ports are a service template cannot be judged here; the node is then
    not reported.

    ## Why it breaks traffic
    The CLB forwards to the nodes' NodePorts, and the node's security group filters that traffic: when
    it drops it, the CLB's health checks fail, every backend is unhealthy and clients time out. TKE's
    troubleshooting guide's first step is "检查集群中节点的安全组是否正确放通30000-32768端口区间".

    ## How to fix it
    Insert the rule the remediation names at the top of the node's first security group, for example
    `ACCEPT TCP 30000-32768 from 0.0.0.0/0` (the `tccli vpc CreateSecurityGroupPolicies` command is
    given), or set `service.cloud.tencent.com/pass-to-target: "true"` on the Service so that CLB
    traffic is checked only by the CLB's security group.
    Source: Tencent Cloud, "Service & Ingress 网络无法访问排障处理"; VPC API CreateSecurityGroupPolicies.
    """
    services = [s for s in ctx.services if (s.get("spec") or {}).get("type") in ("NodePort", "LoadBalancer")]
    if not services:
        return
    facts = facts_of(ctx)
    lbs = _load_balancers(ctx, facts, (s for s in services if (s.get("spec") or {}).get("type") == "LoadBalancer"))
    needs = [n for s in services for n in _nodeport_needs(s, lbs)]
    if not needs:
        return
    for chain in node_chains(ctx, facts):
        missing = [n for n in needs if _blocked(evaluate(chain.groups, n.protocol, n.port, n.source), whole=False)]
        if missing:
            yield Hit(
                ref(chain.node),
                _(
                    "the security groups of instance {instance} ({groups}) let no traffic through to {ports}: the CLB "
                    "and clients cannot reach these NodePorts on this node"
                ).format(instance=chain.instance.id, groups=_groups_text(chain.groups), ports=_missing_text(missing)),
                remedy(facts.region, chain.instance.security_groups[0], missing),
            )


# --- TKE402 ----------------------------------------------------------------------------------------------


def _listener_ports(ing: Obj) -> list[int]:
    """The CLB listeners of a TKE Ingress: 443 with TLS, 80 without (or with mixed HTTP rules)."""
    notes = annotations_of(ing)
    if not (ing.get("spec") or {}).get("tls"):
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
    their inbound rules (first match wins, as for TKE401) let nothing from the Internet through to TCP
    443 (an Ingress with `spec.tls`) or 80 (without TLS, or with mixed HTTP rules). A CLB without a
    security group is not filtered; internal CLBs are not judged (the CLB API says that private CLBs do
    not support security groups).

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
