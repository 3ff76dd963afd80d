"""Probe checks TKE120-TKE125: which link of the data path the probe Pods found broken (pure: they read the
snapshot's ProbeResult items, from this run's probe or from a snapshot file)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kubectl_tke_net.checks.registry import Hit, check
from kubectl_tke_net.facts import Context
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.i18n import N_, _
from kubectl_tke_net.k8s import Selector
from kubectl_tke_net.k8s import ref as ref_of
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Severity, Unavailable
from kubectl_tke_net.probe import CLB, CLUSTER_IP, DNS, ENDPOINT, NODE_PORT, SLOW_MS
from kubectl_tke_net.snapshot import Snapshot

if TYPE_CHECKING:  # the probe's modules load only when the run has probe results
    from kubectl_tke_net.probe.plan import ProbePod
    from kubectl_tke_net.probe.result import Observation, ProbeRun, RulesObservation
    from kubectl_tke_net.probe.rules import Entry

PROBE = ("probe",)
PROBE_RESULT = "ProbeResult"
NOT_PROBED = N_("not probed: run `svc NAME --probe` or `ingress NAME --probe`")


class ProbeContext(Context):
    """A Context for a run whose checks include the probe's: `probed` is the kind of object its command probes
    (Service for `svc`, Ingress for `ingress`), whose ProbeResults in the snapshot it judges."""

    def __init__(
        self, snapshot: Snapshot, name: str | None = None, selector: Selector | None = None, probed: str | None = None
    ) -> None:
        super().__init__(snapshot, name, selector)
        self.probed = probed

    @cached_property
    def probe_results(self) -> list[Obj]:
        """The snapshot's ProbeResults of objects in this run's scope: its kind, namespace and NAME."""
        return probe_results(self.snap, self.probed, self.name)

    @cached_property
    def local_services(self) -> frozenset[Ref]:
        """Services with externalTrafficPolicy Local (their CLB uses only nodes with a backend)."""
        return frozenset(
            ref_of(svc)
            for svc in self.snap.maybe("services")
            if (svc.get("spec") or {}).get("externalTrafficPolicy") == "Local"
        )

    @cached_property
    def verdicts(self) -> list[tuple[ProbeRun, Verdict]]:
        """Each ProbeResult in scope that has results, judged; Unavailable when none has."""
        from kubectl_tke_net.probe.result import from_fact

        found: list[tuple[ProbeRun, Verdict]] = []
        reasons: list[str] = []
        for fact in self.probe_results:
            _target, run, unavailable = from_fact(fact)
            if run is None:
                reasons.append(unavailable or _(NOT_PROBED))
            elif not any(o.result is not None for o in run.observations):
                reasons.append("; ".join(run.failures) or _("the probe Pods reported no result"))
            else:
                found.append((run, judge(run, self.local_services)))
        if not found:
            raise Unavailable("probe", reasons[0] if reasons else _(NOT_PROBED))
        return found

    def hits(self, code: str) -> list[Hit]:
        """The code's hits over every run judged, one per object (several runs of one object: joined)."""
        merged: dict[Ref, Hit] = {}
        for _run, verdict in self.verdicts:
            for hit in verdict.hits.get(code, []):
                before = merged.get(hit.ref)
                merged[hit.ref] = hit if before is None else replace(before, message=f"{before.message}; {hit.message}")
        return list(merged.values())


def probe_results(snap: Snapshot, probed: str | None, name: str | None) -> list[Obj]:
    """The ProbeResults of `probed` objects (any kind when None) in the snapshot's namespace (all when it has
    none), of NAME when given."""
    found = []
    for fact in snap.facts(PROBE_RESULT):
        probed_doc = fact.get("probed")
        target: dict[str, Any] = probed_doc if isinstance(probed_doc, dict) else {}
        if (
            (probed is None or target.get("kind") == probed)
            and (snap.namespace is None or target.get("namespace") == snap.namespace)
            and (name is None or target.get("name") == name)
        ):
            found.append(fact)
    return found


def unexplained(fact: Obj) -> list[str]:
    """What failed in a probe run that no TKE12x pattern explains, for a note on stderr."""
    from kubectl_tke_net.probe.result import from_fact

    _target, run, _unavailable = from_fact(fact)
    if run is None or not any(o.result is not None for o in run.observations):
        return []
    return [_("{line}; no TKE12x pattern names the cause").format(line=line) for line in judge(run).unexplained]


class Verdict:
    """The findings of one probe run by code, and the failures that no code explains."""

    def __init__(self) -> None:
        self.hits: dict[str, list[Hit]] = defaultdict(list)
        self.explained: set[Observation] = set()
        self.unexplained: list[str] = []


def _node(pod: ProbePod) -> str:
    return _("node {node}").format(node=pod.node)


def _answers(observations: list[Observation]) -> str:
    return ", ".join(f"{o.test.what} {o.result.text()}" for o in observations if o.result is not None)


def _grouped(run: ProbeRun) -> dict[tuple[Ref, str], list[Observation]]:
    """Observations by (object, probe Pod name), in the plan's order."""
    groups: dict[tuple[Ref, str], list[Observation]] = defaultdict(list)
    for o in run.observations:
        groups[(o.test.ref, o.pod.name)].append(o)
    return groups


def _by_port(observations: list[Observation], path: str) -> dict[str, list[Observation]]:
    ports: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        if o.test.path == path:
            ports[o.test.port].append(o)
    return ports


def judge(run: ProbeRun, local: frozenset[Ref] = frozenset()) -> Verdict:
    """SPEC §7's probe table over the observations of every probe Pod: one Hit per (code, object). `local`: the
    Services with externalTrafficPolicy Local, whose CLB sends only to nodes that host a backend."""
    verdict = Verdict()
    lines: dict[tuple[str, Ref], list[str]] = defaultdict(list)

    def hit(code: str, ref: Ref, line: str, *observations: Observation) -> None:
        lines[(code, ref)].append(line)
        verdict.explained.update(observations)

    for (ref, _pod), obs in _grouped(run).items():
        pod = obs[0].pod
        where = _("from {node}").format(node=_node(pod))
        cluster_ips = _by_port(obs, CLUSTER_IP)
        endpoints = _by_port(obs, ENDPOINT)
        node_ports = _by_port(obs, NODE_PORT)
        # What answers in place of the name: the ClusterIP, or for a headless Service its endpoints.
        witness = [o for o in obs if o.ok and o.test.path == (CLUSTER_IP if cluster_ips else ENDPOINT)]
        for dns in (o for o in obs if o.test.path == DNS and o.failed):
            if witness:
                hit(
                    "TKE120",
                    ref,
                    _("{where}: {name} does not resolve ({result}), but {witness} answers ({witness_result})").format(
                        where=where,
                        name=dns.test.what,
                        result=dns.text,
                        witness=witness[0].test.what,
                        witness_result=witness[0].text,
                    ),
                    dns,
                )
        for port, ips in cluster_ips.items():
            eps = [o for o in endpoints.get(port, []) if o.result is not None]
            for cip in (o for o in ips if o.failed):
                if eps and all(o.ok for o in eps):
                    hit(
                        "TKE121",
                        ref,
                        _(
                            "{where}: {target} does not answer ({result}), but its ready endpoints do ({answers})"
                        ).format(where=where, target=cip.test.what, result=cip.text, answers=_answers(eps)),
                        cip,
                    )
        for port, eps in endpoints.items():
            bad = [o for o in eps if o.failed]
            if bad:
                answered = [o for o in eps if o.result is not None]
                hit(
                    "TKE122",
                    ref,
                    _("{where}: {n} of {total} ready endpoints of port {port} do not answer: {answers}").format(
                        where=where, n=len(bad), total=len(answered), port=port, answers=_answers(bad)
                    ),
                    *bad,
                )
                if len(bad) == len(answered):  # no endpoint answers: the ClusterIP cannot either
                    verdict.explained.update(cluster_ips.get(port, []))
        for port, nps in node_ports.items():
            eps = [o for o in endpoints.get(port, []) if o.result is not None]
            if eps and not any(o.ok for o in eps):
                verdict.explained.update(nps)  # TKE122 explains it: no endpoint answers from this node
                continue
            for np in (o for o in nps if o.failed):
                whose = (
                    _("its own node: kube-proxy there")
                    if np.test.node == pod.node
                    else _("node {node}: its kube-proxy, or its security group").format(node=np.test.node)
                )
                hit(
                    "TKE123",
                    ref,
                    _("{where}: {target} does not answer ({result}; {whose})").format(
                        where=where, target=np.test.what, result=np.text, whose=whose
                    ),
                    np,
                )

    clbs: dict[tuple[Ref, str], list[Observation]] = defaultdict(list)
    for o in run.observations:
        if o.test.path == CLB:
            clbs[(o.test.ref, o.test.arg)].append(o)
    for (ref, _arg), obs in clbs.items():
        slow = [o for o in obs if o.result is not None and not o.fast]
        fast = [o for o in obs if o.fast]
        if ref in local:
            # externalTrafficPolicy Local: the CLB sends only to nodes that host a backend, so only a client
            # there can be looped back.
            bad = [o for o in slow if o.pod.hosts_backend]
            good = [o for o in fast if not o.pod.hosts_backend]
        else:
            # Cluster: the CLB sends to any node, and loops back whichever client sits on the node it picks,
            # with or without a backend there (seen on the real data path, tests/e2e/datapath).
            bad, good = slow, fast
        if bad and good:
            fails = "; ".join(
                (
                    _("{result} from {node}, which hosts a backend")
                    if o.pod.hosts_backend
                    else _("{result} from {node}, which hosts no backend")
                ).format(result=_slow_text(o), node=_node(o.pod))
                for o in bad
            )
            answer = (
                _("{target} {fails}, but answers in {ms} ms from {node}, which does not")
                if all(o.pod.hosts_backend for o in bad) and not good[0].pod.hosts_backend
                else _("{target} {fails}, but answers in {ms} ms from {node}")
            )
            hit(
                "TKE124",
                ref,
                answer.format(target=obs[0].test.what, fails=fails, ms=good[0].ms, node=_node(good[0].pod)),
                *bad,
            )
        elif slow and not fast:
            hit(
                "TKE126",
                ref,
                _("{target} fails from every probed node: {fails}").format(
                    target=obs[0].test.what,
                    fails="; ".join(
                        _("{result} from {node}").format(result=_slow_text(o), node=_node(o.pod)) for o in slow
                    ),
                ),
                *slow,
            )

    for (code, ref), found in lines.items():
        verdict.hits[code].append(Hit(ref, "; ".join(found), _remedy(code, ref)))

    if not run.failures and all(o.fast if o.test.path == CLB else o.ok for o in run.observations):
        per_pod: dict[str, list[Observation]] = defaultdict(list)
        for o in run.observations:
            per_pod[o.pod.name].append(o)
        paths = "; ".join(
            _("from {node}{hosts}: {answers}").format(
                node=_node(obs[0].pod),
                hosts=_(" (hosts a backend)") if obs[0].pod.hosts_backend else "",
                answers=_answers(obs),
            )
            for obs in per_pod.values()
        )
        verdict.hits["TKE125"].append(
            Hit(
                run.plan.target,
                _("every probed path answered: {paths}").format(paths=paths),
                _("Nothing to fix on the paths probed."),
            )
        )
    for o in run.observations:
        failing = o.failed or (o.test.path == CLB and o.result is not None and not o.fast)
        if failing and o not in verdict.explained:
            verdict.unexplained.append(
                _("from {node}: {target}: {result}").format(node=_node(o.pod), target=o.test.what, result=_slow_text(o))
            )
    return verdict


def _slow_text(o: Observation) -> str:
    if o.result is not None and o.result.ok:
        return _("takes {ms} ms (over {slow} ms)").format(ms=o.result.ms, slow=SLOW_MS)
    return _("fails ({result})").format(result=o.text)


_REMEDIES = {
    "TKE120": N_(
        "Cluster DNS fails: kubectl -n kube-system get pods -l k8s-app=kube-dns and their logs; check the "
        "coredns ConfigMap; allow UDP and TCP 53 from Pods to CoreDNS in NetworkPolicies and security "
        "groups."
    ),
    "TKE121": N_(
        "kube-proxy on that node has no or stale rules for the Service: read its logs "
        "(kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide), check iptables-save or ipvsadm -Ln "
        "on the node, and restart its kube-proxy Pod."
    ),
    "TKE122": N_(
        "Timeouts: the Pod network between the nodes is broken: check the node security groups (allow the Pod "
        "CIDR between nodes) and the cluster's route table (GlobalRouter) or the Pods' ENIs (VPC-CNI). "
        "Refused: nothing listens on the targetPort: kubectl get pod -o wide -n {ns}."
    ),
    "TKE123": N_(
        "Its own node: kube-proxy there has no NodePort rules (read its logs). Another node: allow TCP "
        "30000-32768 from the VPC and Pod CIDRs in that node's security group (TKE113), then check its "
        "kube-proxy."
    ),
    "TKE124": N_(
        "kubectl tke-net fix prevent-loopback {name} -n {ns} --apply, with a loopback-fixed kube-proxy "
        "(TKE301); or call {name}.{ns}.svc instead of the CLB address."
    ),
    "TKE126": N_(
        "The CLB does not answer from any probed node: check its listeners and health checks (CLB console), "
        "the security groups (TKE401, TKE402) and the CLB's events (TKE107, TKE109); for an internal CLB, probe "
        "from a node it does not forward to as well (--probe-node), since loopback fails on every node it picks."
    ),
    "TKE124/Ingress": N_(
        "kubectl tke-net fix ingress-keepalive {name} -n {ns} --apply (needs the CLB L7 SNAT/"
        "keep-alive allow-list ticket and 100.127.0.0/16 allowed in the node security group); or "
        "resolve the host to the Service inside the cluster: kubectl tke-net fix coredns-rewrite."
    ),
}


def _remedy(code: str, ref: Ref) -> str:
    text = _REMEDIES.get(f"{code}/{ref.kind}") or _REMEDIES[code]
    return _(text).format(name=ref.name, ns=ref.namespace)


def _hits(ctx: Context, code: str) -> list[Hit]:
    if not isinstance(ctx, ProbeContext):
        raise Unavailable("probe", _(NOT_PROBED))
    return ctx.hits(code)


@check("TKE120", Severity.ERROR, N_("Service DNS name does not resolve, ClusterIP answers"), needs=(), commands=PROBE)
def service_dns_name_fails(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With `--probe`: fires when the Service's DNS name `NAME.NS.svc.<cluster domain>` does not resolve
    from a probe Pod (NXDOMAIN, SERVFAIL, no answer within 2 s), while the Service's ClusterIP answers
    from the same Pod (for a headless Service: while its endpoints answer). The message names the node,
    the DNS error and the timings.

    ## Why it breaks traffic
    Clients call Services by name. When the name does not resolve but the ClusterIP answers, the Service
    and kube-proxy are fine and the fault is cluster DNS: CoreDNS down or overloaded, a Corefile edit
    gone wrong, a NetworkPolicy or security group that blocks port 53 from the node, or a Pod whose
    `dnsPolicy`/`dnsConfig` points elsewhere. Tencent's troubleshooting page says the same: "测试 Service 的
    ClusterIP 是否可通。若可通，则说明集群内 DNS 解析存在问题".

    ## How to fix it
    `kubectl -n kube-system get pods -l k8s-app=kube-dns` and their logs; check the `coredns` ConfigMap
    (a `rewrite` or `forward` that swallows the cluster domain); allow UDP and TCP 53 from Pods to
    CoreDNS in NetworkPolicies and node security groups.
    """
    yield from _hits(ctx, "TKE120")


@check("TKE121", Severity.ERROR, N_("ClusterIP does not answer, endpoints do"), needs=(), commands=PROBE)
def cluster_ip_fails_endpoints_answer(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With `--probe`: fires when a TCP connection to the Service's ClusterIP and port fails from a probe
    Pod (refused or no answer within 2 s), while every ready endpoint of that port that was tested
    answers from the same Pod. The message names the node, the port and the timings.

    ## Why it breaks traffic
    The ClusterIP exists only in kube-proxy's iptables or IPVS rules on each node. When the Pods behind
    it answer directly but the ClusterIP does not, the rules on that node are missing or stale:
    kube-proxy is down, crash-looping, cannot reach the API server, or its sync failed.

    ## How to fix it
    Look at kube-proxy on that node: `kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide`,
    its logs, and on the node `iptables-save | grep NAME` or `ipvsadm -Ln`. Restarting the node's
    kube-proxy Pod rebuilds the rules.
    """
    yield from _hits(ctx, "TKE121")


@check("TKE122", Severity.ERROR, N_("ready endpoints do not answer"), needs=(), commands=PROBE)
def endpoints_do_not_answer(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With `--probe`: fires when ready endpoints of the Service (Pod address and target port, from its
    EndpointSlices; up to three per port, on different nodes first) do not accept a TCP connection from
    a probe Pod within 2 s. The message says how many of those tested failed, which Pods on which
    nodes, and whether the connection was refused or timed out.

    ## Why it breaks traffic
    A ready endpoint that cannot be reached from another node means the Pod network between those
    nodes is broken: a missing route in the cluster's GlobalRouter route table, a VPC-CNI ENI problem, or
    a security group that drops Pod-to-Pod traffic. Every connection kube-proxy sends to that endpoint
    fails. "Refused" instead means the Pod is reachable but nothing listens on the target port (a wrong
    `targetPort`, see TKE104/TKE105).

    ## How to fix it
    Timeouts: check the node security groups (allow the Pod CIDR between nodes), the cluster's route
    table (GlobalRouter) or the Pod's ENI (VPC-CNI), following Tencent's "集群中不同节点上的容器（Pod）无法互访"
    guide. Refused: make the Service's `targetPort` the port the application listens on.
    """
    yield from _hits(ctx, "TKE122")


@check("TKE123", Severity.ERROR, N_("NodeIP:NodePort does not answer"), needs=(), commands=PROBE)
def node_port_does_not_answer(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With `--probe`: fires when a TCP connection from a probe Pod to NodeIP:NodePort fails, on the probe
    Pod's own node or on the other node tested, for a NodePort or LoadBalancer Service, while endpoints
    of that port answer from the same Pod (when none answers, TKE122 says why). With
    `externalTrafficPolicy: Local` only nodes that host a ready endpoint are tested: the others do not
    answer by design.

    ## Why it breaks traffic
    TKE's CLB forwards to the NodePort of every node (unless `direct-access` is set). A NodePort that
    does not answer on a node makes the CLB's health check fail there, and requests that reach that node
    get no answer (504 from an Ingress). On the probe's own node it is kube-proxy's NodePort rules;
    on another node it is that node's kube-proxy or its security group, which must allow 30000-32768
    (Tencent: "检查集群中节点的安全组是否正确放通30000-32768端口区间").

    ## How to fix it
    Own node: check kube-proxy there (logs, `iptables-save | grep NODEPORT` or `ipvsadm -Ln`).
    Another node: allow TCP 30000-32768 from the VPC and Pod CIDRs in its security group (TKE113 lists
    the NodePorts in use), then check its kube-proxy.
    """
    yield from _hits(ctx, "TKE123")


@check("TKE124", Severity.ERROR, N_("CLB loopback confirmed"), needs=(), commands=PROBE)
def clb_loopback_confirmed(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With `--probe`: fires when the internal CLB address fails or takes over 3 s from a probe Pod on one
    node and answers within 3 s from a probe Pod on another. With `externalTrafficPolicy: Cluster` (the
    default) the CLB forwards to any node, so the client that loops back is whichever sits on the node
    the CLB picks, with or without a backend there (the real data path of the e2e suite shows it); with
    `Local` the CLB uses only nodes that host a backend, so only a probe there counts. When it fails
    from every probed node, that is TKE126. For
    an internal LoadBalancer Service the test is a TCP connection to each port of the CLB address; for an
    internal CLB Ingress it is an HTTP request with each rule's host (HTTPS for hosts in `spec.tls`).
    The probe runs from one node of each kind by default; the message gives both timings.

    ## Why it breaks traffic
    This is the CLB loopback problem measured rather than predicted (TKE302/TKE303 predict it): the
    CLB forwarded the connection back to the node it came from, whose kernel drops a packet whose
    source is its own address. A layer-7 CLB retries another backend after about 4 s, so an Ingress
    answers slowly; a layer-4 CLB does not retry, so the connection fails (Tencent: "访问本集群内网
    Ingress 会出现4秒延时或不通").

    ## How to fix it
    Service: `kubectl tke-net fix prevent-loopback NAME --apply` with a loopback-fixed kube-proxy
    (TKE301). Ingress: `kubectl tke-net fix ingress-keepalive NAME --apply` (needs the CLB SNAT and
    keep-alive ticket). Either way, clients in the cluster can call the Service by its DNS name instead of
    the CLB address (`kubectl tke-net fix coredns-rewrite` for a fixed domain).
    """
    yield from _hits(ctx, "TKE124")


@check("TKE126", Severity.ERROR, N_("CLB address fails from every probed node"), needs=(), commands=PROBE)
def clb_fails_from_every_node(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With `--probe`: fires when the CLB address of the Service or Ingress probed fails, or takes over
    3 s, from every probe Pod, while nothing else explains it (the CLB tests only; DNS, ClusterIP,
    endpoints and NodePorts have their own codes).

    ## Why it breaks traffic
    No client reaches the CLB from inside the cluster: the CLB itself (listeners, health checks, an
    isolated or blocked CLB), the security groups between the nodes and the CLB, or loopback on every
    node probed (an internal CLB that happens to forward each probe back to its own node). Unlike
    TKE124 there is no node from which it works, so loopback alone cannot be told apart.

    ## How to fix it
    Look at the CLB's listeners and health checks in the CLB console, the security groups (TKE401,
    TKE402) and the object's events (TKE107, TKE109). For an internal CLB, probe from more nodes
    (`--probe-node`, repeat it): a node from which it answers turns this into TKE124.
    """
    yield from _hits(ctx, "TKE126")


@check("TKE125", Severity.INFO, N_("every probed path answered"), needs=(), commands=PROBE)
def every_probed_path_answered(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With `--probe`: reported on the Service or Ingress probed when every test of every probe Pod
    answered: DNS name, ClusterIP, endpoints, NodePorts and CLB (within 3 s). The message lists, per
    node, each path and its time. When a probe Pod reported nothing (image not pulled, timeout) the
    check is listed in `skipped` with the reason instead.

    ## Why it matters
    The data path from inside the cluster works from the nodes probed. If clients still fail, look at
    what the probe does not test: the client's own node (`--probe-node`), NetworkPolicies that select
    the client, UDP ports, or the path from outside the VPC (CLB listeners and security groups).

    ## How to fix it
    Nothing to fix on the paths probed.
    """
    hits = _hits(ctx, "TKE125")
    assert isinstance(ctx, ProbeContext)
    failures = [f for run, _verdict in ctx.verdicts for f in run.failures]
    if not hits and failures:  # a probe Pod reported nothing: not every path is known to answer
        raise Unavailable("probe", "; ".join(failures))
    yield from hits


# --- TKE127: the kube-proxy rules the --probe-rules Pods read ---------------------------------------------------

NOT_READ = N_("kube-proxy rules not read: add --probe-rules to `svc NAME --probe` or `ingress NAME --probe`")


def _endpoint_list(endpoints: set[str] | tuple[str, ...]) -> str:
    return ", ".join(sorted(endpoints)) if endpoints else _("none")


def _rules_lines(ctx: Context, rules: RulesObservation, svc: Obj) -> list[str]:
    """What is wrong with the rules of `svc` on one node (`rules`: a RulesObservation with rules)."""
    from kubectl_tke_net.k8s import is_internal_service
    from kubectl_tke_net.probe.plan import ready_endpoints
    from kubectl_tke_net.probe.rules import ADDRESS, IPVS, NODE_PORT

    node = rules.pod.node
    found = rules.rules
    assert found is not None
    spec = svc.get("spec") or {}
    local = spec.get("externalTrafficPolicy") == "Local"
    # internalTrafficPolicy Local: the ClusterIP leads only to the node's own endpoints.
    internal_local = spec.get("internalTrafficPolicy") == "Local"
    cluster_ip = spec.get("clusterIP")
    lbs = [
        (str(i["ip"]), str(i.get("ipMode") or "VIP"))
        for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if i.get("ip")
    ]
    mode = found.mode or _("no kube-proxy rules")
    out: list[str] = []

    fallback: set[str] = set()

    def compare(what: str, entry: Entry | None, ready: set[str], subset: bool) -> None:
        if entry is None:
            out.append(_("{what} has no rule").format(what=what))
            return
        got = set(entry.endpoints)
        if got and got <= fallback:
            return
        if (subset and not got <= ready) or (not subset and got != ready):
            out.append(
                _("{what} leads to {got}, not to the ready endpoints ({ready})").format(
                    what=what, got=_endpoint_list(got), ready=_endpoint_list(ready)
                )
            )

    for port in spec.get("ports") or []:
        protocol = str(port.get("protocol") or "TCP").lower()
        number = int(port.get("port") or 0)
        ready = {
            f"[{e.address}]:{e.port}" if ":" in e.address else f"{e.address}:{e.port}"
            for e in ready_endpoints(ctx, svc, port)
        }
        # Without a ready endpoint kube-proxy falls back to the serving ones that terminate (KEP-1669).
        fallback.clear()
        fallback.update(_serving_terminating(ctx, svc, port) if not ready else ())
        shown = protocol.upper()
        if cluster_ip and cluster_ip != "None":
            compare(
                _("ClusterIP {address}:{port}/{protocol}").format(address=cluster_ip, port=number, protocol=shown),
                found.find(ADDRESS, str(cluster_ip), protocol, number),
                ready,
                internal_local,
            )
        node_port = port.get("nodePort")
        if node_port:
            entry = found.find(NODE_PORT, "", protocol, int(node_port))
            if entry is None and found.mode == IPVS and rules.pod.address:
                entry = found.find(ADDRESS, rules.pod.address, protocol, int(node_port))
            # Local: a node's NodePort leads only to its own endpoints (none: it drops), so it must not lead
            # anywhere else; Cluster: to every ready endpoint.
            compare(
                _("NodePort {port}/{protocol}").format(port=node_port, protocol=shown),
                entry,
                ready,
                local,
            )
        for address, ip_mode in lbs:
            if ip_mode == "Proxy":
                continue  # kube-proxy leaves the address to the load balancer by design (KEP-1860)
            compare(
                _("CLB address {address}:{port}/{protocol}").format(address=address, port=number, protocol=shown),
                found.find(ADDRESS, address, protocol, number),
                ready,
                local,
            )
    if found.mode == IPVS and is_internal_service(svc):
        for address, ip_mode in lbs:
            if ip_mode != "Proxy" and address not in (found.bound or ()):
                out.append(
                    _(
                        "the CLB address {address} is not bound to kube-ipvs0, so the node's Pods send traffic for "
                        "it to the CLB, which can loop it back (the prevent-loopback fix binds it)"
                    ).format(address=address)
                )
    return [_("node {node} ({mode}): {problem}").format(node=node, mode=mode, problem=p) for p in out]


def _serving_terminating(ctx: Context, svc: Obj, port: dict[str, Any]) -> set[str]:
    """The Service port's endpoints that are serving but terminating, from its EndpointSlices."""
    from kubectl_tke_net.k8s import meta

    found: set[str] = set()
    key = (meta(svc).get("namespace", ""), meta(svc).get("name", ""))
    for es in ctx.slices_by_service.get(key) or []:
        numbers = [p.get("port") for p in es.get("ports") or [] if (p.get("name") or "") == (port.get("name") or "")]
        for ep in es.get("endpoints") or []:
            conditions = ep.get("conditions") or {}
            if conditions.get("serving") and conditions.get("terminating") and numbers and numbers[0]:
                for address in (ep.get("addresses") or [])[:1]:
                    found.add(f"[{address}]:{numbers[0]}" if ":" in str(address) else f"{address}:{numbers[0]}")
    return found


def rules_hits(ctx: Context) -> list[Hit]:
    """TKE127 over every ProbeResult in scope that holds rules; Unavailable when none does."""
    if not isinstance(ctx, ProbeContext):
        raise Unavailable("probe", _(NOT_READ))
    from kubectl_tke_net.probe.result import from_fact

    services = {ref_of(s): s for s in ctx.snap.maybe("services")}
    lines: dict[Ref, list[str]] = defaultdict(list)
    errors: list[str] = []
    read = False
    for fact in ctx.probe_results:
        _target, run, unavailable = from_fact(fact)
        if unavailable:  # the probe could not run at all: the same reason as the other probe checks
            errors.append(unavailable)
        for r in run.rules if run is not None else ():
            if r.rules is None:
                errors.append(_("node {node}: {error}").format(node=r.pod.node, error=r.error))
                continue
            read = True
            for ref in r.pod.services:
                svc = services.get(ref)
                if svc is not None:
                    lines[ref].extend(_rules_lines(ctx, r, svc))
    if not read:
        raise Unavailable("probe", "; ".join(errors) or _(NOT_READ))
    return [Hit(ref, "; ".join(found), _(_REMEDY_127)) for ref, found in lines.items() if found]


_REMEDY_127 = N_(
    "kube-proxy on that node has not programmed the Service as the API says it is: read its logs (kubectl -n "
    "kube-system logs POD of k8s-app=kube-proxy on the node) and restart it; for a CLB address not bound to "
    "kube-ipvs0, kubectl tke-net fix kube-proxy and fix prevent-loopback (TKE301, TKE302)."
)


@check(
    "TKE127", Severity.ERROR, N_("kube-proxy rules of the Service missing or stale on a node"), needs=(), commands=PROBE
)
def kube_proxy_rules_missing_or_stale(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    With `--probe --probe-rules`: a short-lived privileged hostNetwork Pod on each probe node reads the node's
    kube-proxy rules with the node's own tools (`iptables-save`, `nft list ruleset`, and where IPVS runs
    `ipvsadm -Ln` and `ip addr show kube-ipvs0`) and keeps those of the Service. Fires when, on a node, the
    Service's ClusterIP, NodePort or CLB address (unless its `ipMode` is `Proxy`) has no rule, or its rule leads
    to endpoints that are not the Service's ready endpoints (with `externalTrafficPolicy: Local`, NodePort and
    CLB address rules may lead to fewer, never to others; without a ready endpoint, to the serving ones that
    terminate, as kube-proxy falls back to them); and, on an IPVS node, when an internal CLB address is not bound
    to `kube-ipvs0`. The message names the node, its proxy mode and each rule.

    ## Why it breaks traffic
    A Service exists on a node only as kube-proxy's rules. Missing rules refuse or drop connections; rules that
    lead to old endpoints send traffic to Pods that are gone (timeouts) and never to new ones: kube-proxy on
    that node stopped, crash-loops, cannot reach the API server, or its sync failed. On IPVS, TKE's kube-proxy
    does not bind CLB addresses to `kube-ipvs0` unless it has the loopback fix and the Service asks for it
    (`service.cloud.tencent.com/prevent-loopback`): without it in-cluster traffic to the CLB address leaves the
    node and can loop back to it (TKE124).

    ## How to fix it
    Look at kube-proxy on that node (its logs; restarting its Pod rebuilds the rules). For the kube-ipvs0
    binding: `kubectl tke-net fix kube-proxy` and `kubectl tke-net fix prevent-loopback NAME` (TKE301, TKE302).
    """
    yield from rules_hits(ctx)
