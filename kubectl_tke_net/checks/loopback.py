"""CLB loopback checks TKE301-TKE306: IPVS kube-proxy, prevent-loopback and L7 keep-alive."""

from __future__ import annotations

from collections.abc import Iterator

from kubectl_tke_net import tke
from kubectl_tke_net.checks.registry import Hit, check
from kubectl_tke_net.facts import Context
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.i18n import N_, _, ngettext
from kubectl_tke_net.k8s import (
    annotations_of,
    is_clb_ingress,
    is_internal_ingress,
    is_internal_service,
    meta,
    ref,
    tke_service_config_name,
)
from kubectl_tke_net.kinds import KUBE_SYSTEM, Obj
from kubectl_tke_net.model import Severity, Unavailable

KUBE_PROXY = Ref("DaemonSet", KUBE_SYSTEM, "kube-proxy")


def _single_node(ctx: Context) -> bool:
    """Exactly one Ready node besides super nodes: the CLB has no other backend to retry, so loopback means no
    answer at all. Super nodes do not count: they are never CLB backends through a NodePort."""
    try:
        return ctx.ready_cvm_nodes == 1
    except Unavailable:
        return False


def _escalated(ctx: Context) -> Severity | None:
    return Severity.ERROR if _single_node(ctx) else None


def is_proxy_ip_mode(svc: Obj) -> bool:
    """The Service's status says ipMode: Proxy for one of its addresses (KEP-1860)."""
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return any(isinstance(i, dict) and i.get("ipMode") == "Proxy" for i in ingress)


def _rollout(target: str | None) -> str:
    version = f" --version {target}" if target else ""
    return f"kubectl tke-net fix kube-proxy{version} --apply"


@check(
    "TKE301",
    Severity.ERROR,
    N_("IPVS kube-proxy without the loopback fix"),
    needs=("daemonsets",),
    commands=("loopback",),
    fix="kube-proxy",
)
def ipvs_kube_proxy_below_fixed_version(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when kube-proxy (DaemonSet `kube-system/kube-proxy`) runs in IPVS mode and its image tag is
    below the first TKE build of its minor version that can bind CLB addresses to `kube-ipvs0`:
    1.12 `v1.12.4-tke.30`, 1.14 `v1.14.3-tke.24`, 1.16 `v1.16.3-tke.25`, 1.18 `v1.18.4-tke.20`,
    1.20 `v1.20.6-tke.12`, 1.22 `v1.22.5-tke.13`, 1.24 `v1.24.4-tke.6`, 1.28 `v1.28.3-tke.3`
    (every build of 1.30 and later is fixed; nothing older than 1.12 is; for 1.26 no source confirms a
    fixed build, so it is reported as unknown, `loopbackFixed: null`). A DaemonSet scheduled on no
    node, or one that Cilium replaces, is not judged (TKE305).

    ## Why it breaks traffic
    Upstream kube-proxy in IPVS mode binds a LoadBalancer's EXTERNAL-IP to the dummy interface
    `kube-ipvs0`, so Pods reaching the CLB address are short-circuited on their own node. That broke
    the internal CLB's health checks (their source is the CLB VIP, which the node then took for its
    own address), so TKE stopped binding the address: Pod traffic to the CLB really leaves the node,
    and the CLB may send it back to the same node, where Linux drops a packet whose source is local.
    In-cluster clients of an internal LoadBalancer Service then see unstable or dead connections (L4
    CLBs do not retry another backend). The fixed builds bind the address again for Services that
    carry `service.cloud.tencent.com/prevent-loopback: "true"` (TKE302), and the service controller
    moves the health checks to 100.64.0.0/10.

    ## How to fix it
    `kubectl tke-net fix kube-proxy` shows the image change (tag only; registry and repository kept),
    `--apply` makes it; then `kubectl -n kube-system rollout status ds/kube-proxy`. Then annotate
    the internal LoadBalancer Services: `kubectl tke-net fix prevent-loopback`.
    Kubernetes 1.35 deprecates kube-proxy's IPVS mode (KEP-5495: a warning from 1.35; the plan is a
    `KubeProxyIPVS` feature gate in 1.37, off by default in 1.40, the mode removed in 1.43). A TKE cluster
    cannot leave IPVS mode in place: plan a cluster without it (iptables mode, or DataPlaneV2) before a TKE
    minor drops the mode.
    Source: Tencent Cloud, "Service & Ingress 网络无法访问排障处理" (CLB 回环问题); kubernetes/enhancements
    `keps/sig-network/5495-deprecate-ipvs-mode-in-kube-proxy`.
    """
    proxy = ctx.kube_proxy
    if ctx.kube_proxy_daemonset is None or proxy.mode != "ipvs" or proxy.loopback_fixed is not False:
        return
    if proxy.min_fixed:
        why = _("below {fixed}, the first build of its minor that binds CLB addresses to kube-ipvs0").format(
            fixed=proxy.min_fixed
        )
    else:
        why = _("a minor version for which TKE has no build with the loopback fix; upgrade the cluster")
    yield Hit(
        KUBE_PROXY,
        _(
            "kube-proxy {version} runs in IPVS mode and is {why}: in-cluster clients of "
            "internal CLBs loop back to their own node"
        ).format(version=proxy.version, why=why),
        _("{command} (image tag only), then kubectl -n kube-system rollout status ds/kube-proxy").format(
            command=_rollout(proxy.min_fixed)
        ),
    )


@check(
    "TKE302",
    Severity.WARNING,
    N_("internal LoadBalancer Service without prevent-loopback"),
    needs=("services", "daemonsets"),
    commands=("loopback", "service"),
    fix="prevent-loopback",
)
def internal_lb_without_prevent_loopback(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when kube-proxy runs in IPVS mode and an internal LoadBalancer Service (annotation
    `service.kubernetes.io/qcloud-loadbalancer-internal-subnetid`) lacks
    `service.cloud.tencent.com/prevent-loopback: "true"`. Severity rises to error when the cluster has
    exactly one Ready node besides super nodes (which are never CLB backends through a NodePort, so one CVM
    node and any number of super nodes is a single-node cluster). Public CLBs never get it. When the
    proxy mode cannot be known (kube-proxy runs on the nodes, not as a DaemonSet; a DaemonSet scheduled on
    no node; Cilium) the check is listed in `skipped` (with Cilium, only when internal LoadBalancer
    Services exist). In iptables or nftables mode it fires for an internal Service whose status reports
    `ipMode: Proxy` (KEP-1860): kube-proxy then sends in-cluster traffic for the CLB address to the CLB in
    every mode, and the remediation is the DNS name (prevent-loopback is a feature of TKE's IPVS
    kube-proxy).

    ## Why it breaks traffic
    In TKE's IPVS mode, a Pod that connects to the internal CLB's address leaves its node, and the CLB
    may forward the connection back to that same node (to its NodePort), whose kernel drops a packet
    whose source is one of its own addresses: connections from inside the cluster fail at random. With
    one node every such connection fails. With the annotation (and a fixed kube-proxy, TKE301),
    kube-proxy binds the CLB address locally so the traffic never leaves the node, and the service
    controller moves the CLB's health checks to 100.64.0.0/10 addresses. A public CLB is safe: it sees
    the node's public egress address, which the node does not take for its own.

    ## How to fix it
    Upgrade kube-proxy first if TKE301 fires, then `kubectl tke-net fix prevent-loopback` (add
    `--apply`). Without changing the Service: call it by its DNS name `NAME.NS.svc.cluster.local`
    instead of the CLB address, or use `kubectl tke-net fix coredns-rewrite` for a fixed domain, or set
    `externalTrafficPolicy: Local` with anti-affinity between clients and servers. IPVS mode is deprecated
    from Kubernetes 1.35 (KEP-5495, see TKE301).
    Source: Tencent Cloud, "Service & Ingress 网络无法访问排障处理" (避免四层回环问题).
    """
    proxy = ctx.kube_proxy
    if not proxy.running and proxy.why == tke.NO_DAEMONSET:
        raise Unavailable(
            "daemonsets",
            _(
                "kube-proxy mode unknown: no kube-proxy DaemonSet in kube-system "
                "(kube-proxy runs on the nodes), see TKE305"
            ),
        )
    if not proxy.running and proxy.why == tke.CILIUM and not any(is_internal_service(s) for s in ctx.services):
        return  # a Cilium cluster is a known shape: without internal CLB Services there is nothing to judge
    if not proxy.running:
        raise Unavailable("daemonsets", tke.unknown_reason(proxy) + _(", see TKE305"))
    severity = _escalated(ctx)
    single = _(" on a single-node cluster, where every such connection fails") if severity else ""
    for svc in ctx.services:
        if not is_internal_service(svc):
            continue
        ns, name = meta(svc).get("namespace", ""), meta(svc).get("name", "")
        if proxy.mode != "ipvs":
            # KEP-1860: with ipMode Proxy kube-proxy (iptables and nftables too) no longer answers the CLB
            # address inside the node, so in-cluster traffic to it goes to the CLB and can come back.
            if is_proxy_ip_mode(svc):
                yield Hit(
                    ref(svc),
                    _(
                        "internal CLB Service whose status reports ipMode: Proxy while kube-proxy is in {mode} "
                        "mode: in-cluster clients of its CLB address go out to the CLB and can loop back to "
                        "their own node{single}"
                    ).format(mode=proxy.mode, single=single),
                    _(
                        "call it as {name}.{ns}.svc.cluster.local instead of its CLB address (prevent-loopback "
                        "is a feature of TKE's IPVS kube-proxy), or kubectl tke-net fix coredns-rewrite for a "
                        "fixed domain, or externalTrafficPolicy: Local with anti-affinity between clients and "
                        "servers"
                    ).format(name=name, ns=ns),
                    severity,
                )
            continue
        if not tke.is_true(annotations_of(svc).get(tke.SVC_PREVENT_LOOPBACK)):
            yield Hit(
                ref(svc),
                _(
                    'internal CLB Service without {annotation}: "true" while kube-proxy is in IPVS '
                    "mode: in-cluster clients of its CLB address can loop back to their own node"
                    "{single}"
                ).format(annotation=tke.SVC_PREVENT_LOOPBACK, single=single),
                _(
                    "kubectl tke-net fix prevent-loopback {name} -n {ns} --apply (after TKE301 is fixed); "
                    "or call it as {name}.{ns}.svc.cluster.local"
                ).format(name=name, ns=ns),
                severity,
            )


def _keepalive_problem(ctx: Context, ing: Obj) -> str | None:
    name = tke_service_config_name(ing)
    if name is None:
        return _("neither {config} nor {auto} is set, so CLB keep-alive is off").format(
            config=tke.ING_TSC, auto=tke.ING_TSC_AUTO
        )
    config = ctx.tkeserviceconfigs.get((meta(ing).get("namespace", ""), name))
    if config is None:
        return _("its TkeServiceConfig {name} does not exist").format(name=name)
    listeners = tke.l7_listeners(config)
    if listeners is None:
        return _(
            "TkeServiceConfig {name}: spec.loadBalancer.l7Listeners is not a list of listeners, so "
            "keep-alive cannot be confirmed"
        ).format(name=name)
    if not listeners:
        return _("TkeServiceConfig {name} has no l7Listeners, so no listener has keep-alive").format(name=name)
    missing = [
        f"{lst.get('protocol', '?')}:{lst.get('port', '?')}"
        for lst in listeners
        if str(lst.get("keepaliveEnable")) != "1"
    ]
    if missing:
        return ngettext(
            "TkeServiceConfig {name} lacks keepaliveEnable: 1 on listener {listeners}",
            "TkeServiceConfig {name} lacks keepaliveEnable: 1 on listeners {listeners}",
            len(missing),
        ).format(name=name, listeners=", ".join(missing))
    return None


SVC_TSC = "service.cloud.tencent.com/tke-service-config"


def _missing_config(ctx: Context, obj: Obj, key: str) -> str | None:
    """The TkeServiceConfig the object's `key` annotation names, when it does not exist in its namespace."""
    name = annotations_of(obj).get(key)
    if not name:
        return None
    if (meta(obj).get("namespace", ""), str(name)) in ctx.tkeserviceconfigs:
        return None
    return str(name)


def _missing_config_hit(obj: Obj, name: str, code: str) -> Hit:
    ns, kind = meta(obj).get("namespace", ""), obj.get("kind") or ""
    return Hit(
        ref(obj),
        _(
            "its TkeServiceConfig {name} does not exist ({code}): the CLB configuration it asks for is not "
            "applied, and the controller syncs the rest without it"
        ).format(name=name, code=code),
        _(
            "create TkeServiceConfig {name} in namespace {ns} (kubectl get tkeserviceconfigs -n {ns}), or correct "
            "or remove the annotation: kubectl annotate {kind} -n {ns} {obj} {key}-"
        ).format(
            name=name,
            ns=ns,
            kind=str(kind).lower(),
            obj=meta(obj).get("name", ""),
            key=SVC_TSC if kind == "Service" else tke.ING_TSC,
        ),
    )


@check(
    "TKE303",
    Severity.WARNING,
    N_("internal CLB Ingress without keep-alive, or TkeServiceConfig missing"),
    needs=("ingresses", "tkeserviceconfigs"),
    commands=("loopback", "ingress", "service"),
    fix="ingress-keepalive",
    needs_for={"service": ("services",)},  # the TkeServiceConfigs only when a Service names one
)
def internal_ingress_without_keepalive(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires for an internal CLB Ingress (annotation `kubernetes.io/ingress.subnetId`) that lacks CLB
    keep-alive: it has neither `ingress.cloud.tencent.com/tke-service-config` nor
    `ingress.cloud.tencent.com/tke-service-config-auto`, or its TkeServiceConfig is missing, or some
    entry of `spec.loadBalancer.l7Listeners` lacks `keepaliveEnable: 1`. Any proxy mode. Severity rises
    to error on a cluster with exactly one Ready node besides super nodes (see TKE302). Public Ingresses
    never get it for keep-alive.

    Under `ingress` it also fires for a public CLB Ingress whose `ingress.cloud.tencent.com/tke-service-config`
    names a TkeServiceConfig that does not exist (controller code `E4043`), and under `service` for a
    LoadBalancer Service whose `service.cloud.tencent.com/tke-service-config` does (`E4026`). That is not
    loopback (the `loopback` command keeps to the internal Ingresses' keep-alive): the configuration the
    user asked for (listeners, health checks, timeouts, keep-alive) is silently not applied.

    ## Why it breaks traffic
    The L7 CLB forwards to the nodes' NodePorts and passes the client's real source address. When a Pod
    calls its own cluster's internal Ingress and the CLB picks the Pod's own node, the node drops the
    packet (its source is local) and the CLB retries another node after about 4 seconds: requests from
    inside the cluster are slow by 4 s, or fail outright on a single-node cluster. With keep-alive (and
    SNAT, enabled by ticket) the CLB connects from its own addresses, so nothing loops back.
    A missing TkeServiceConfig does not stop the sync (the codes are non-blocking): the CLB runs with the
    controller's defaults instead of the health checks, timeouts and scheduling the user configured.

    ## How to fix it
    Ask Tencent Cloud (ticket) to enable CLB L7 SNAT and keep-alive for the account; allow
    `100.127.0.0/16` in the nodes' security group; then `kubectl tke-net fix ingress-keepalive`
    (adds `tke-service-config-auto` and sets `keepaliveEnable: 1` on every listener). The backend then
    sees the CLB's address: read the client from `X-Forwarded-For`.
    For a missing TkeServiceConfig: create it in the object's namespace, or correct or remove the
    annotation.
    Source: Tencent Cloud, "Service & Ingress 网络无法访问排障处理" (避免七层回环问题); "Service&Ingress 常见报错和处理"
    (E4026, E4043).
    """
    command = ctx.command
    if command != "service":
        severity = _escalated(ctx)
        for ing in ctx.ingresses:
            if not is_internal_ingress(ing):
                if command != "loopback" and is_clb_ingress(ing) and (name := _missing_config(ctx, ing, tke.ING_TSC)):
                    yield _missing_config_hit(ing, name, "E4043")
                continue
            problem = _keepalive_problem(ctx, ing)
            if problem:
                ns, name = meta(ing).get("namespace", ""), meta(ing).get("name", "")
                single = _("; on a single-node cluster they fail") if severity else ""
                yield Hit(
                    ref(ing),
                    _(
                        "internal CLB Ingress without keep-alive: {problem}; in-cluster requests to it "
                        "can loop back and wait about 4 s for the CLB's retry{single}"
                    ).format(problem=problem, single=single),
                    _(
                        "after the CLB SNAT/keep-alive ticket: kubectl tke-net fix ingress-keepalive {name} -n {ns} "
                        "--apply; allow 100.127.0.0/16 in the node security group"
                    ).format(name=name, ns=ns),
                    severity,
                )
    if command in (None, "service"):
        for svc in ctx.services:
            if (svc.get("spec") or {}).get("type") == "LoadBalancer" and (name := _missing_config(ctx, svc, SVC_TSC)):
                yield _missing_config_hit(svc, name, "E4026")


@check(
    "TKE304",
    Severity.WARNING,
    N_("prevent-loopback without effect"),
    needs=("services", "daemonsets"),
    commands=("loopback", "service"),
    fix="kube-proxy",
)
def prevent_loopback_without_effect(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Service has `service.cloud.tencent.com/prevent-loopback: "true"` but kube-proxy's image
    is below the loopback-fixed version of its minor (see TKE301).

    ## Why it breaks traffic
    The annotation only asks kube-proxy to bind the CLB address locally; an older kube-proxy ignores
    it, so the Service still loops back, while the service controller has already moved the CLB's health
    checks to 100.64.0.0/10 addresses, which node security groups may not allow.

    ## How to fix it
    `kubectl tke-net fix kube-proxy --apply`, then watch
    `kubectl -n kube-system rollout status ds/kube-proxy`.
    """
    proxy = ctx.kube_proxy
    if proxy.loopback_fixed is not False:
        return
    for svc in ctx.services:
        if tke.is_true(annotations_of(svc).get(tke.SVC_PREVENT_LOOPBACK)):
            yield Hit(
                ref(svc),
                _("{annotation} is set but kube-proxy {version} is below {fixed}, so it has no effect").format(
                    annotation=tke.SVC_PREVENT_LOOPBACK,
                    version=proxy.version,
                    fixed=proxy.min_fixed or _("any fixed build"),
                ),
                _rollout(proxy.min_fixed),
            )


@check("TKE305", Severity.INFO, N_("kube-proxy mode unknown"), needs=("daemonsets",), commands=("loopback",))
def kube_proxy_mode_unknown(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when no running kube-proxy DaemonSet can be read: kube-system has none (kube-proxy runs as a
    binary on the nodes, older TKE clusters), or it is kept but scheduled on no node (a `nodeSelector`
    no node has, `desiredNumberScheduled: 0`, as Cilium installs leave it), or Cilium replaces kube-proxy
    (ConfigMap `kube-system/cilium-config`: DataPlaneV2 clusters have no kube-proxy DaemonSet at all;
    the report's `kubeProxy.mode` is then `cilium`, and the finding appears only when internal CLB
    Services or Ingresses exist). The message says which. TKE302 is then listed in `skipped`.

    ## Why it matters
    The L4 loopback problem depends on IPVS mode and the kube-proxy version; neither can be judged. A
    DaemonSet scheduled nowhere does not proxy anything, so its image and flags say nothing about the
    cluster. How Cilium serves internal CLB addresses on TKE is not documented.

    ## How to fix it
    Check on a node: `ps -ef | grep kube-proxy` (look for `--proxy-mode=ipvs`) and `kube-proxy
    --version`; the cluster's basic information page in the TKE console shows whether IPVS is on. With
    Cilium: `kubectl -n kube-system get cm cilium-config -o yaml` (`kube-proxy-replacement`), and call
    Services by DNS name from inside the cluster.
    """
    proxy = ctx.kube_proxy
    if proxy.running:
        return
    if proxy.why == tke.CILIUM:
        # A Cilium cluster is a known shape, not a gap: it is worth a line only where internal CLBs exist.
        internal = [svc for svc in ctx.services if is_internal_service(svc)]
        if not internal and not [ing for ing in ctx.snap.maybe("ingresses") if is_internal_ingress(ing)]:
            return
        remediation = _(
            "Cilium replaces kube-proxy: check how it serves internal CLB addresses "
            "(kubectl -n kube-system get cm cilium-config -o yaml: kube-proxy-replacement, bpf-lb-*); call "
            "Services by DNS name from inside the cluster to stay clear of the CLB path."
        )
    else:
        remediation = _("On a node: ps -ef | grep kube-proxy (look for --proxy-mode=ipvs) and kube-proxy --version.")
    yield Hit(KUBE_PROXY, tke.unknown_reason(proxy), remediation)


@check(
    "TKE306", Severity.INFO, N_("kube-proxy tag is not a TKE version"), needs=("daemonsets",), commands=("loopback",)
)
def kube_proxy_tag_not_tke(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when the kube-proxy image tag is not a TKE build (`vX.Y.Z-tke.N`, optionally `-rcM`), for
    example an upstream `v1.28.3` or a digest: TKE301 and TKE304 cannot judge it.

    ## Why it matters
    Only TKE's builds carry TKE's loopback fix at known versions; an upstream kube-proxy in IPVS mode
    binds CLB addresses itself, which breaks internal CLB health checks instead.

    ## How to fix it
    Use TKE's kube-proxy image (`ccr.ccs.tencentyun.com/tkeimages/...`) at or above the fixed version of
    the cluster's minor, or check the custom build's loopback behaviour yourself.
    """
    proxy = ctx.kube_proxy
    if ctx.kube_proxy_daemonset is not None and proxy.image and tke.TkeVersion.parse(proxy.version or "") is None:
        yield Hit(
            KUBE_PROXY,
            _(
                "kube-proxy image {image} has no TKE version tag (vX.Y.Z-tke.N), so the loopback fix cannot be judged"
            ).format(image=proxy.image),
            _("Use TKE's kube-proxy image at or above the fixed version of the cluster's minor."),
        )
