"""The probe plan (pure): the nodes to probe from, the tests each probe Pod runs, and the Pod manifests."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kubectl_tke_net.facts import Context
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.i18n import _
from kubectl_tke_net.k8s import (
    cluster_domain,
    container_port_for,
    is_internal_ingress,
    is_internal_service,
    is_super_node,
    meta,
    pod_condition,
    pod_ready,
    ref,
    rule_paths,
    service_port_matches,
    target_port,
)
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Unavailable, UsageError
from kubectl_tke_net.probe import CLB, CLUSTER_IP, DNS, ENDPOINT, NODE_PORT

MANAGED_BY = "app.kubernetes.io/managed-by"
RUN_LABEL = "tke-net.kubectl.io/probe"
CONTAINER = "probe"
# The kubelet keeps the last 4096 bytes of a termination message, and a result line takes up to about 120.
MAX_TESTS = 32
MAX_ENDPOINTS = 3  # per Service port, on as many different nodes as there are
MAX_HOSTS = 4  # per Ingress
# --probe-rules Pods are privileged and on the host network: kube-system, where Pod Security admits them on TKE.
RULES_NAMESPACE = "kube-system"
RULES_CONTAINER = "rules"


@dataclass(frozen=True)
class ProbeTest:
    """One test of the probe script (`arg`), and which link of the data path it checks."""

    arg: str  # what probe.sh runs: "tcp 172.16.255.10 80"
    path: str  # DNS, CLUSTER_IP, ENDPOINT, NODE_PORT or CLB
    ref: Ref  # the Service whose path it is; the Ingress for an Ingress's CLB
    what: str  # for people: "ClusterIP 172.16.255.10:80", "endpoint 172.20.0.5:8080 (web-1 on 10.0.1.10)"
    port: str = ""  # the Service port (name, else number)
    node: str = ""  # NODE_PORT: the node whose NodePort is tested


@dataclass(frozen=True)
class ProbePod:
    name: str
    node: str
    hosts_backend: bool
    tests: tuple[ProbeTest, ...]


@dataclass(frozen=True)
class RulesPod:
    """A --probe-rules Pod: reads the kube-proxy rules of `node` that concern `services`."""

    name: str
    node: str
    address: str  # the node's address ("" when unknown): IPVS keeps NodePorts on it
    services: tuple[Ref, ...]
    args: tuple[str, ...]  # what rules.sh keeps: "svc NS/NAME", "addr ADDRESS"


@dataclass(frozen=True)
class Plan:
    namespace: str
    run_id: str
    target: Ref  # the Service or Ingress named on the command line
    pods: tuple[ProbePod, ...]
    notes: tuple[str, ...]  # what is not tested, and why
    rules: tuple[RulesPod, ...] = ()  # --probe-rules: one per probe node, in RULES_NAMESPACE


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    node: str
    pod: str


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def _port_label(port: dict[str, Any]) -> str:
    return str(port.get("name") or port.get("port"))


def _tcp(port: dict[str, Any]) -> bool:
    return str(port.get("protocol") or "TCP") == "TCP"


def _host(address: str, port: int | str) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def ready_endpoints(ctx: Context, svc: Obj, port: dict[str, Any]) -> list[Endpoint]:
    """The Service port's ready endpoints: from its EndpointSlices when any exist, else from its ready Pods."""
    ns, name = meta(svc).get("namespace", ""), meta(svc).get("name", "")
    slices = ctx.slices_by_service.get((ns, name)) or []
    found: dict[tuple[str, int], Endpoint] = {}
    if slices:
        for es in slices:
            numbers = [
                p.get("port")
                for p in es.get("ports") or []
                if (p.get("name") or "") == (port.get("name") or "") and p.get("port")
            ]
            for ep in es.get("endpoints") or []:
                ready = (ep.get("conditions") or {}).get("ready")
                addresses = ep.get("addresses") or []
                if ready is False or not addresses or not numbers:
                    continue
                endpoint = Endpoint(
                    str(addresses[0]),
                    int(numbers[0]),
                    str(ep.get("nodeName") or ""),
                    str((ep.get("targetRef") or {}).get("name") or ""),
                )
                found.setdefault((endpoint.address, endpoint.port), endpoint)
    else:
        target = target_port(port)
        for pod in ctx.selected_pods(svc):
            ip = (pod.get("status") or {}).get("podIP")
            if not pod_ready(pod) or not ip:
                continue
            number = target if isinstance(target, int) else (container_port_for(pod, target) or {}).get("containerPort")
            if number:
                found.setdefault(
                    (ip, int(number)),
                    Endpoint(ip, int(number), str(_spec(pod).get("nodeName") or ""), str(meta(pod).get("name") or "")),
                )
    return sorted(found.values(), key=lambda e: (e.node, e.address, e.port))


def _spread(endpoints: list[Endpoint], limit: int) -> list[Endpoint]:
    """Up to `limit` endpoints, one per node first: a broken Pod network shows between nodes."""
    chosen: list[Endpoint] = []
    rest = list(endpoints)
    while rest and len(chosen) < limit:
        seen: set[str] = set()
        for endpoint in list(rest):
            if endpoint.node not in seen and len(chosen) < limit:
                seen.add(endpoint.node)
                chosen.append(endpoint)
                rest.remove(endpoint)
    return chosen


def node_addresses(ctx: Context) -> dict[str, str]:
    """Each known node's InternalIP; else the hostIP of a Pod on it; else its name when that is an address."""
    addresses: dict[str, str] = {}
    for pod in ctx.snap.maybe("pods"):
        node, host_ip = _spec(pod).get("nodeName"), (pod.get("status") or {}).get("hostIP")
        if node and host_ip:
            addresses.setdefault(str(node), str(host_ip))
    for node in ctx.snap.maybe("nodes"):
        name = str(meta(node).get("name") or "")
        internal = [
            a.get("address")
            for a in (node.get("status") or {}).get("addresses") or []
            if a.get("type") == "InternalIP" and a.get("address")
        ]
        if internal:
            addresses[name] = str(internal[0])
        elif _is_ip(name):
            addresses.setdefault(name, name)
    return addresses


def _clb_address(obj: Obj) -> str | None:
    for entry in ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        if entry.get("ip"):
            return str(entry["ip"])
    return None


@dataclass
class _Service:
    """One Service to probe, with the ports in question (an Ingress uses only some of them)."""

    obj: Obj
    ports: list[dict[str, Any]]

    @property
    def ref(self) -> Ref:
        return ref(self.obj)


class _Planner:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.notes: list[str] = []
        self.domain = _cluster_domain(ctx)
        self.addresses = node_addresses(ctx)
        self.super_nodes = super_nodes(ctx)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def tcp_ports(self, svc: _Service) -> list[dict[str, Any]]:
        ports = [p for p in svc.ports if _tcp(p)]
        others = [f"{_port_label(p)}/{p.get('protocol')}" for p in svc.ports if not _tcp(p)]
        if others:
            self.note(
                _("{ref}: {ports} not tested (the probe tests TCP only)").format(ref=svc.ref, ports=", ".join(others))
            )
        return ports

    def backend_nodes(self, services: list[_Service]) -> set[str]:
        """The CVM nodes that host a ready endpoint. A super node's Pod is its own VM, reached by its own address
        (the CLB binds it directly): its node hosts no backend in the sense of loopback, and has no NodePort."""
        return {
            e.node
            for s in services
            for p in s.ports
            for e in ready_endpoints(self.ctx, s.obj, p)
            if e.node and e.node not in self.super_nodes
        }

    def service_tests(self, svc: _Service, node: str, other: str | None) -> Iterator[ProbeTest]:
        """DNS, then ClusterIP, NodePort and endpoints of each TCP port, as seen from `node`."""
        spec = _spec(svc.obj)
        name, ns = meta(svc.obj).get("name", ""), meta(svc.obj).get("namespace", "")
        fqdn = f"{name}.{ns}.svc.{self.domain}"
        yield ProbeTest(f"dns {fqdn}", DNS, svc.ref, f"DNS {fqdn}")
        cluster_ip = spec.get("clusterIP")
        local = spec.get("externalTrafficPolicy") == "Local"
        for port in self.tcp_ports(svc):
            label, number = _port_label(port), int(port.get("port") or 0)
            endpoints = ready_endpoints(self.ctx, svc.obj, port)
            if cluster_ip and cluster_ip != "None":
                yield ProbeTest(
                    f"tcp {cluster_ip} {number}", CLUSTER_IP, svc.ref, f"ClusterIP {_host(cluster_ip, number)}", label
                )
            node_port = port.get("nodePort")
            if node_port:
                with_backend = {e.node for e in endpoints}
                for target in dict.fromkeys(n for n in (node, other) if n):
                    if target in self.super_nodes:
                        self.note(
                            _(
                                "{node} is a super node: it has no NodePort (its node address is not routable), "
                                "so NodePort {port} is not tested there"
                            ).format(node=target, port=node_port)
                        )
                        continue
                    if local and target not in with_backend:
                        self.note(
                            _(
                                "{ref}: externalTrafficPolicy Local: NodePort {port} of {node} not tested "
                                "(no ready endpoint there, so it does not answer by design)"
                            ).format(ref=svc.ref, port=node_port, node=target)
                        )
                        continue
                    address = self.addresses.get(target)
                    if address is None:
                        self.note(_("address of node {node} unknown: its NodePorts are not tested").format(node=target))
                        continue
                    yield ProbeTest(
                        f"tcp {address} {node_port}",
                        NODE_PORT,
                        svc.ref,
                        _("NodePort {address} (node {node})").format(address=_host(address, node_port), node=target),
                        label,
                        target,
                    )
            chosen = _spread(endpoints, MAX_ENDPOINTS)
            if len(endpoints) > len(chosen):
                self.note(
                    _("{ref}: {n} of the {total} ready endpoints of port {port} tested").format(
                        ref=svc.ref, n=len(chosen), total=len(endpoints), port=label
                    )
                )
            for e in chosen:
                where = (
                    _(" ({pod} on {node})").format(pod=e.pod, node=e.node)
                    if e.pod and e.node
                    else (_(" (on {node})").format(node=e.node) if e.node else "")
                )
                yield ProbeTest(
                    f"tcp {e.address} {e.port}",
                    ENDPOINT,
                    svc.ref,
                    _("endpoint {address}{where}").format(address=_host(e.address, e.port), where=where),
                    label,
                    e.node,
                )

    def clb_tests(self, svc: _Service) -> Iterator[ProbeTest]:
        """TCP to the internal CLB address of a LoadBalancer Service, on each TCP port."""
        if not is_internal_service(svc.obj):
            return
        address = _clb_address(svc.obj)
        if address is None:
            self.note(_("{ref}: no CLB address yet (TKE107): the CLB is not tested").format(ref=svc.ref))
            return
        for port in self.tcp_ports(svc):
            number = int(port.get("port") or 0)
            yield ProbeTest(f"clb {address} {number}", CLB, svc.ref, f"CLB {_host(address, number)}", _port_label(port))

    def ingress_tests(self, ing: Obj) -> Iterator[ProbeTest]:
        """HTTP (HTTPS for a TLS host) with each rule's host to the internal CLB address of an Ingress."""
        if not is_internal_ingress(ing):
            self.note(_("{ref} is not an internal CLB Ingress: its CLB is not tested").format(ref=ref(ing)))
            return
        address = _clb_address(ing)
        if address is None:
            self.note(_("{ref}: no CLB address yet (TKE206): the CLB is not tested").format(ref=ref(ing)))
            return
        tls = {str(h).lower() for t in _spec(ing).get("tls") or [] for h in t.get("hosts") or []}
        firsts: dict[str, str] = {}
        for host, path, _type, _backend in rule_paths(ing):
            firsts.setdefault(host, path)
        if not firsts:
            firsts["*"] = "/"
        hosts = list(firsts.items())
        if len(hosts) > MAX_HOSTS:
            self.note(_("{ref}: {n} of its {total} hosts tested").format(ref=ref(ing), n=MAX_HOSTS, total=len(hosts)))
        for host, path in hosts[:MAX_HOSTS]:
            scheme, port = ("https", 443) if host in tls else ("http", 80)
            vhost = "-" if host == "*" else host
            shown = "" if host == "*" else f" Host {host}"
            yield ProbeTest(
                f"{scheme} {address} {port} {vhost} {path}",
                CLB,
                ref(ing),
                f"CLB {scheme}://{_host(address, port)}{path}{shown}",
            )


def _readable(ctx: Context, kind: str) -> bool:
    try:
        ctx.snap.list(kind)
    except Unavailable:
        return False
    return True


def _cluster_domain(ctx: Context) -> str:
    """From CoreDNS's Corefile, as `fix coredns-rewrite` reads it; cluster.local when it cannot be read."""
    if not _readable(ctx, "configmaps"):
        return "cluster.local"
    corefile = ((ctx.configmaps.get("coredns") or {}).get("data") or {}).get("Corefile")
    return cluster_domain(corefile) if isinstance(corefile, str) else "cluster.local"


def _object(ctx: Context, command: str, name: str, namespace: str) -> Obj:
    """The Service or Ingress named on the command line."""
    objs = ctx.snap.list("services" if command == "service" else "ingresses")
    for obj in objs:
        if meta(obj).get("name") == name and meta(obj).get("namespace") == namespace:
            return obj
    kind = "Service" if command == "service" else "Ingress"
    raise UsageError(
        _("{kind} {namespace}/{name} not found: nothing to probe (kubectl get {resource} -n {namespace})").format(
            kind=kind, namespace=namespace, name=name, resource="svc" if command == "service" else "ingress"
        )
    )


def _services(ctx: Context, command: str, obj: Obj) -> list[_Service]:
    if command == "service":
        if _spec(obj).get("type") == "ExternalName":
            raise UsageError(
                _("{ref} is an ExternalName Service: it has no data path in the cluster to probe").format(ref=ref(obj))
            )
        return [_Service(obj, list(_spec(obj).get("ports") or []))]
    services: dict[tuple[str, str], _Service] = {}
    for backend, svc in ctx.existing_backends(obj):
        if (
            _spec(svc).get("type") == "ExternalName"
            or backend.port is None
            or not service_port_matches(svc, backend.port)
        ):
            continue
        key = "name" if isinstance(backend.port, str) else "port"
        port = next(p for p in _spec(svc).get("ports") or [] if p.get(key) == backend.port)
        entry = services.setdefault((meta(svc).get("namespace", ""), meta(svc).get("name", "")), _Service(svc, []))
        if port not in entry.ports:
            entry.ports.append(port)
    return list(services.values())


def super_nodes(ctx: Context) -> frozenset[str]:
    """The super nodes (eklet) by name: from the nodes when they can be listed, and any node an endpoint or Pod
    names `eklet-*` (what is known of them when nodes cannot be listed)."""
    named = {
        str(n)
        for n in (
            *(e.get("nodeName") for es in ctx.snap.maybe("endpointslices") for e in es.get("endpoints") or []),
            *(_spec(p).get("nodeName") for p in ctx.snap.maybe("pods")),
        )
        if n and str(n).startswith("eklet-")
    }
    return ctx.super_nodes | named


def _ready_nodes(ctx: Context) -> list[str]:
    """Ready, schedulable CVM nodes by name (none when nodes cannot be listed). Super nodes are left out: a probe
    Pod there runs in its own VM with its own service proxy and no NodePort, so it says nothing of the nodes'."""
    return sorted(
        str(meta(n).get("name"))
        for n in ctx.snap.maybe("nodes")
        if pod_condition(n, "Ready") == "True" and not _spec(n).get("unschedulable") and not is_super_node(n)
    )


def choose_nodes(ctx: Context, backend_nodes: set[str], requested: Iterable[str]) -> list[str]:
    """--probe-node as given (each must exist, a super node too); by default a Ready CVM node that hosts a backend
    and one that does not (never a super node)."""
    requested = list(dict.fromkeys(requested))
    nodes = ctx.snap.maybe("nodes")
    known = {str(meta(n).get("name")) for n in nodes}
    if requested:
        unknown = [n for n in requested if nodes and n not in known]
        if unknown:
            raise UsageError(
                _("--probe-node: no node named {nodes} (kubectl get nodes)").format(nodes=", ".join(unknown))
            )
        return requested
    ready = _ready_nodes(ctx)
    if not ready:  # nodes cannot be listed, or none is Ready and schedulable: the backends' nodes are known
        ready = sorted(backend_nodes)  # CVM nodes only (_Planner.backend_nodes)
    with_backend = [n for n in ready if n in backend_nodes]
    without = [n for n in ready if n not in backend_nodes]
    return [*with_backend[:1], *without[:1]]


def _rules_pods(planner: _Planner, services: list[_Service], nodes: list[str], run_id: str) -> tuple[RulesPod, ...]:
    """One rules Pod per probe node, keeping the rules of the probed Services: their names, ClusterIPs and CLB
    addresses, and the node's own address (IPVS keeps a NodePort on each node address)."""
    refs = tuple(s.ref for s in services)
    names = [f"svc {r.namespace}/{r.name}" for r in refs]
    addresses: list[str] = []
    for svc in services:
        cluster_ip = _spec(svc.obj).get("clusterIP")
        if cluster_ip and cluster_ip != "None":
            addresses.append(str(cluster_ip))
        for entry in ((svc.obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if entry.get("ip"):
                addresses.append(str(entry["ip"]))
    pods = []
    for i, node in enumerate(nodes):
        if node in planner.super_nodes:  # hostPath Pods are not scheduled to super nodes (TKE-FACTS-2 §3.2)
            planner.note(_("{node} is a super node: its kube-proxy rules are not read").format(node=node))
            continue
        address = planner.addresses.get(node, "")
        keep = [*names, *(f"addr {a}" for a in dict.fromkeys([*addresses, address]) if a and _is_ip(a))]
        pods.append(RulesPod(f"tke-net-rules-{run_id}-{i}", node, address, refs, tuple(keep)))
    return tuple(pods)


def make_plan(
    ctx: Context,
    command: str,
    name: str,
    namespace: str,
    *,
    run_id: str,
    requested_nodes: Iterable[str] = (),
    rules: bool = False,
) -> Plan:
    """What each probe Pod tests for `svc NAME --probe` (command "service") or `ingress NAME --probe`."""
    planner = _Planner(ctx)
    obj = _object(ctx, command, name, namespace)
    services = _services(ctx, command, obj)
    if command == "ingress" and not services:
        planner.note(_("{ref} has no backend Service that exists: only its CLB is tested").format(ref=ref(obj)))
    backend_nodes = planner.backend_nodes(services)
    nodes = choose_nodes(ctx, backend_nodes, requested_nodes)
    if not nodes:
        raise Unavailable(
            "nodes",
            _(
                "no node to probe from: nodes cannot be listed and no ready endpoint "
                "names its node; name one with --probe-node"
            ),
        )
    if not _readable(ctx, "nodes") and not requested_nodes:
        planner.note(_("nodes cannot be listed: probing only from the nodes of the backends"))
    pods = []
    for i, node in enumerate(nodes):
        # The other node whose NodePort it tests: another probe node, else another Ready node.
        candidates = [n for n in nodes if n != node] or _ready_nodes(ctx) or sorted(planner.addresses)
        others = [n for n in candidates if n != node and n not in planner.super_nodes]
        other = others[0] if others else None
        tests: list[ProbeTest] = []
        for svc in services:
            tests.extend(planner.service_tests(svc, node, other))
        if command == "service":
            tests.extend(t for svc in services for t in planner.clb_tests(svc))
        else:  # the Ingress's CLB forwards to NodePorts, never through a backend Service's own CLB
            tests.extend(planner.ingress_tests(obj))
        tests = _prioritized(tests)
        if len(tests) > MAX_TESTS:
            planner.note(
                _("{n} tests left out: a probe Pod reports at most {max}").format(
                    n=len(tests) - MAX_TESTS, max=MAX_TESTS
                )
            )
            tests = tests[:MAX_TESTS]
        pods.append(ProbePod(f"tke-net-probe-{run_id}-{i}", node, node in backend_nodes, tuple(tests)))
    kinds = {p.hosts_backend for p in pods}
    if any(t.path == CLB for p in pods for t in p.tests) and kinds != {True, False}:
        planner.note(
            _(
                "CLB loopback (TKE124) is told by probing from a node that hosts a backend and from one "
                "that does not; this run has only the first kind"
            )
            if True in kinds
            else _(
                "CLB loopback (TKE124) is told by probing from a node that hosts a backend and from one "
                "that does not; this run has only the second"
            )
        )
    rules_pods = _rules_pods(planner, services, nodes, run_id) if rules and services else ()
    if rules and not services:
        planner.note(_("{ref} has no backend Service that exists: no kube-proxy rules to read").format(ref=ref(obj)))
    return Plan(namespace, run_id, ref(obj), tuple(pods), tuple(planner.notes), rules_pods)


_ORDER = {DNS: 0, CLUSTER_IP: 1, CLB: 2, NODE_PORT: 3, ENDPOINT: 4}


def _prioritized(tests: list[ProbeTest]) -> list[ProbeTest]:
    """Without duplicates, the cheapest and most telling first: those that fit the budget are kept."""
    unique = list(dict.fromkeys(tests))
    return sorted(unique, key=lambda t: _ORDER[t.path])  # sorted() is stable: the plan's order within a path


def manifest(plan: Plan, pod: ProbePod, image: str, deadline: int, script: str) -> Obj:
    """The probe Pod: pinned to its node, no privileges, read-only root, deleted by the plugin when done.

    The script goes in as `sh -c SCRIPT` and the tests as arguments: no ConfigMap to create and clean up.
    `activeDeadlineSeconds` ends it even if the plugin is killed before it can delete it.
    """
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod.name,
            "namespace": plan.namespace,
            "labels": {
                MANAGED_BY: "kubectl-tke-net",
                "app.kubernetes.io/name": "tke-net-probe",
                RUN_LABEL: plan.run_id,
            },
            "annotations": {"tke-net.kubectl.io/probe-of": str(plan.target)},
        },
        "spec": {
            "nodeName": pod.node,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": deadline,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            # As `kubectl debug node/...`: the probe must run on the node it was sent to, tainted or not.
            "tolerations": [{"operator": "Exists"}],
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "runAsGroup": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": CONTAINER,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", script, "tke-net-probe"],
                    "args": [t.arg for t in pod.tests],
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "200m", "memory": "64Mi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "runAsNonRoot": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
            ],
        },
    }


def rules_manifest(plan: Plan, pod: RulesPod, image: str, deadline: int, script: str) -> Obj:
    """The --probe-rules Pod: privileged and on the node's network, with the node's root mounted read-only, so
    that the node's own iptables-save, nft, ipvsadm and ip read the rules in the node's network namespace. It
    changes nothing there; it is deleted by the plugin when done and ends itself by activeDeadlineSeconds."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod.name,
            "namespace": RULES_NAMESPACE,
            "labels": {
                MANAGED_BY: "kubectl-tke-net",
                "app.kubernetes.io/name": "tke-net-probe-rules",
                RUN_LABEL: plan.run_id,
            },
            "annotations": {"tke-net.kubectl.io/probe-of": str(plan.target)},
        },
        "spec": {
            "nodeName": pod.node,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": deadline,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "hostNetwork": True,
            "dnsPolicy": "ClusterFirstWithHostNet",
            "tolerations": [{"operator": "Exists"}],
            "volumes": [
                {"name": "host", "hostPath": {"path": "/", "type": "Directory"}},
                {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
            ],
            "containers": [
                {
                    "name": RULES_CONTAINER,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", script, "tke-net-rules"],
                    "args": list(pod.args),
                    "env": [{"name": "PATH", "value": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}],
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "32Mi"},
                        "limits": {"cpu": "500m", "memory": "128Mi"},
                    },
                    # Reading nftables and IPVS state needs CAP_NET_ADMIN in the node's network namespace, and
                    # chroot into the node's root needs CAP_SYS_CHROOT: a privileged container, as `kubectl debug
                    # node/...` runs one.
                    "securityContext": {"privileged": True, "runAsUser": 0, "readOnlyRootFilesystem": True},
                    "volumeMounts": [
                        {"name": "host", "mountPath": "/host", "readOnly": True},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
            ],
        },
    }
