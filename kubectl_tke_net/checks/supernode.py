"""Super-node checks (eklet, TKE-FACTS-2 §3): Services whose Pods run on super nodes, where each Pod is its own VM
with a VPC address, no NodePort and its own in-VM service proxy. TKE117 and TKE119 (Services), TKE605 (the
super-node Pod configuration that turns Service rules off)."""

from __future__ import annotations

from collections.abc import Iterator

from kubectl_tke_net import tke
from kubectl_tke_net.checks.registry import Hit, check
from kubectl_tke_net.checks.service import SVC, services_with_pods
from kubectl_tke_net.facts import Context
from kubectl_tke_net.i18n import N_, _, ngettext
from kubectl_tke_net.k8s import annotations_of, container_port_for, has_backends, meta, ref, target_port
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Severity


def _names(names: list[str], limit: int = 5) -> str:
    names = sorted(names)
    more = _(" and {n} more").format(n=len(names) - limit) if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _ready_endpoints(ctx: Context, svc: Obj) -> list[tuple[str, bool]]:
    """(name, on a super node) of each ready endpoint of the Service: from its EndpointSlices (the endpoint's
    nodeName, or its Pod) when any exist, else from its ready Pods (as Context.endpoints counts them)."""
    ns, name = meta(svc).get("namespace", ""), meta(svc).get("name", "")
    names = [meta(p).get("name", "") for p in ctx.selected_pods(svc)]
    # By Pod name, the last Pod of a name winning (as a dict of the Pods by name would keep it).
    on_super_node = dict(zip(names, ctx.selected_on_super_node(svc), strict=True))
    slices = ctx.slices_by_service.get((ns, name)) or []
    if not slices:
        ready_by_name = dict(zip(names, ctx.selected_ready(svc), strict=True))
        return [(pod_name, on) for pod_name, on in on_super_node.items() if ready_by_name[pod_name]]
    found: dict[str, tuple[bool, str, bool]] = {}
    for es in slices:
        for ep in es.get("endpoints") or []:
            target = ep.get("targetRef") or {}
            label = str(target.get("name") or ",".join(ep.get("addresses") or []))
            ident = str(target.get("uid") or label)
            ready = (ep.get("conditions") or {}).get("ready")
            pod_on = on_super_node.get(str(target.get("name") or "")) if target.get("kind", "Pod") == "Pod" else None
            on_super = str(ep.get("nodeName") or "") in ctx.super_nodes or bool(pod_on)
            was_ready, _label, was_super = found.get(ident, (False, label, False))
            # An unset `ready` means unknown, which consumers treat as ready (EndpointSlice API).
            found[ident] = (was_ready or ready is None or bool(ready), label, was_super or on_super)
    return [(label, on_super) for ready, label, on_super in found.values() if ready]


@check(
    "TKE117",
    Severity.ERROR,
    N_("externalTrafficPolicy Local with endpoints on super nodes"),
    needs=("services", "pods", "endpointslices", "daemonsets"),
    commands=SVC,
)
def local_traffic_to_super_nodes(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires, in a GlobalRouter cluster (DaemonSet `kube-system/tke-bridge-agent`), for a LoadBalancer or
    NodePort Service with `externalTrafficPolicy: Local` and without `service.cloud.tencent.com/direct-access`
    whose ready endpoints run on super nodes (eklet: a node labelled `node.kubernetes.io/instance-type: eklet`,
    a Pod annotated `tke.cloud.tencent.com/pod-type: eklet`, or `hostIP == podIP`). Error when every ready
    endpoint is on a super node; warning when only some are (the message names them).

    ## Why it breaks traffic
    TKE documents that in GlobalRouter clusters a Service with `externalTrafficPolicy: Local` forwards no
    traffic to Pods on super nodes. The CLB (or a NodePort client) reaches the Service through the NodePorts
    of the cluster's CVM nodes, and with `Local` a node forwards only to Pods on itself; a super node has no
    NodePort, and its Pods are on no CVM node. With every endpoint there, the CLB finds no healthy backend
    and clients time out; with some there, those Pods get no external traffic while the others carry all of it.

    ## How to fix it
    Set `externalTrafficPolicy: Cluster`; or bind the Pods directly
    (`service.cloud.tencent.com/direct-access: "true"`: super-node Pods have VPC addresses the CLB can bind,
    and the client address is kept); or run the Pods on CVM nodes.
    Source: TKE, 超级节点可调度 Pod 说明 (Service 限制).
    """
    if not ctx.global_router:
        return
    for svc in ctx.services:
        spec = svc.get("spec") or {}
        if (
            not has_backends(svc)
            or spec.get("type") not in ("LoadBalancer", "NodePort")
            or spec.get("externalTrafficPolicy") != "Local"
            or tke.is_true(annotations_of(svc).get(tke.SVC_DIRECT_ACCESS))
        ):
            continue
        ready = _ready_endpoints(ctx, svc)
        on_super = [name for name, on in ready if on]
        if not on_super:
            continue
        every = len(on_super) == len(ready)
        if every:
            message = ngettext(
                "externalTrafficPolicy: Local in a GlobalRouter cluster and its {n} ready endpoint is on a "
                "super node ({pods}): TKE forwards no NodePort or CLB traffic to it",
                "externalTrafficPolicy: Local in a GlobalRouter cluster and all {n} ready endpoints are on super "
                "nodes ({pods}): TKE forwards no NodePort or CLB traffic to them",
                len(ready),
            ).format(n=len(ready), pods=_names(on_super))
        else:
            message = _(
                "externalTrafficPolicy: Local in a GlobalRouter cluster and {n} of {total} ready endpoints are on "
                "super nodes ({pods}): they get no NodePort or CLB traffic, the others carry all of it"
            ).format(n=len(on_super), total=len(ready), pods=_names(on_super))
        yield Hit(
            ref(svc),
            message,
            _(
                'Set externalTrafficPolicy: Cluster, or {annotation}: "true" (super-node Pods can be bound '
                "directly), or run the Pods on CVM nodes."
            ).format(annotation=tke.SVC_DIRECT_ACCESS),
            None if every else Severity.WARNING,
        )


def _metrics_port(ctx: Context, pod: Obj) -> tuple[int | None, str]:
    """The port the super node serves the Pod's metrics on, and what says so; None when the setting is not a
    port number (the check then cannot judge the Pod)."""
    value, source = ctx.super_node_setting(pod, tke.METRICS_PORT)
    if value is None:
        return tke.DEFAULT_METRICS_PORT, _("the default")
    text = str(value).strip()
    if not text.isdigit():
        return None, ""
    if source == "pod":
        return int(text), _("{annotation} on the Pod").format(annotation=tke.METRICS_PORT)
    return int(text), _("{annotation} in kube-system/eks-config").format(annotation=tke.METRICS_PORT)


@check(
    "TKE119",
    Severity.ERROR,
    N_("Service targets the super node's metrics port"),
    needs=("services", "pods", "configmaps"),
    commands=SVC,
)
def target_port_is_super_node_metrics_port(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a TCP port of a Service targets, on a selected Pod that runs on a super node (eklet), the
    container port on which the super node serves that Pod's metrics: 9100, unless
    `eks.tke.cloud.tencent.com/metrics-port` moves it (on the Pod, or as a default for every super-node Pod
    in `pod.annotations` of ConfigMap `kube-system/eks-config`; the Pod's own annotation wins). A named
    `targetPort` is resolved to the Pod's container port.

    ## Why it breaks traffic
    Every super-node Pod exposes its monitoring data on `PodIP:9100/metrics`. An application that listens
    on the same port fails with `listen() to 0.0.0.0:9100, backlog 511 failed (1: Operation not permitted)`,
    so the Service's port never reaches it. The same Pod on a CVM node works, which is why this shows up
    only once a workload moves to super nodes.

    ## How to fix it
    Move the metrics port: annotate the Pod template with `eks.tke.cloud.tencent.com/metrics-port: "9110"`
    (any free port) and recreate the Pods; or move the application to another port and set the Service's
    `targetPort` to it.
    Source: TKE, 超级节点 Annotation 说明 (9100 端口问题).
    """
    for svc, pods in services_with_pods(ctx):
        on_super = [p for p, on in zip(pods, ctx.selected_on_super_node(svc), strict=True) if on]
        if not on_super:
            continue
        problems: dict[tuple[str, str, int, str], list[str]] = {}
        for port in (svc.get("spec") or {}).get("ports") or []:
            if str(port.get("protocol") or "TCP") != "TCP":
                continue  # the metrics endpoint is HTTP: a UDP port does not collide with it
            target = target_port(port)
            for pod in on_super:
                if isinstance(target, int):
                    number: object = target
                else:
                    declared = container_port_for(pod, target, "TCP")
                    number = declared.get("containerPort") if declared else None
                metrics, why = _metrics_port(ctx, pod)
                if metrics is not None and number == metrics:
                    key = (str(port.get("name") or port.get("port")), str(target), metrics, why)
                    problems.setdefault(key, []).append(meta(pod).get("name", ""))
        if not problems:
            continue
        texts = [
            ngettext(
                "port {port}: targetPort {target} is container port {number} on {n} super-node Pod ({pods}), the "
                "port the super node serves its metrics on ({why})",
                "port {port}: targetPort {target} is container port {number} on {n} super-node Pods ({pods}), the "
                "port the super node serves their metrics on ({why})",
                len(names),
            ).format(port=port, target=target, number=number, n=len(names), pods=_names(names), why=why)
            for (port, target, number, why), names in problems.items()
        ]
        yield Hit(
            ref(svc),
            "; ".join(texts) + _(": the application cannot listen there (Operation not permitted)"),
            _(
                'Annotate the Pod template with {annotation}: "9110" (a free port) and recreate the Pods, or move '
                "the application and the Service's targetPort to another port."
            ).format(annotation=tke.METRICS_PORT),
        )


def uses_cluster_dns(pod: Obj) -> bool:
    """Whether the Pod's resolv.conf points at the cluster DNS: dnsPolicy ClusterFirst (the default; a hostNetwork
    Pod then falls back to Default) or ClusterFirstWithHostNet."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    return policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not spec.get("hostNetwork"))


@check(
    "TKE605",
    Severity.ERROR,
    N_("super-node Pods without Service rules use the cluster DNS"),
    needs=("services", "pods", "configmaps"),
    commands=SVC,
)
def super_node_pods_without_service_rules(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires for a Service whose selected Pods run on super nodes (eklet) with Service rules turned off,
    `eks.tke.cloud.tencent.com/cluster-ip-switch: disable` (on the Pod, or as a default for every super-node
    Pod in `pod.annotations` of ConfigMap `kube-system/eks-config`; the Pod's own annotation wins), while
    their `dnsPolicy` sends DNS queries to the cluster DNS (`ClusterFirst`, the default, or
    `ClusterFirstWithHostNet`). The message names the Pods and where the setting comes from.

    ## Why it breaks traffic
    A super-node Pod is its own VM, whose in-VM proxy writes the IPVS rules of the cluster's Services. With
    the switch off there are none: no ClusterIP answers from the Pod, the cluster DNS Service included, so
    with a cluster-DNS `dnsPolicy` every name lookup fails, external names too. The Service's backends then
    cannot reach what they depend on (databases, other Services), fail their readiness checks or answer
    with errors. TKE says such Pods must not use `ClusterFirst`.

    ## How to fix it
    Remove `eks.tke.cloud.tencent.com/cluster-ip-switch: disable` from the Pod template (or from
    `kube-system/eks-config`) and recreate the Pods; or, when the Pods really need no Service, set
    `dnsPolicy: Default` so that they use the VPC's DNS.
    Source: TKE, 超级节点 Annotation 说明 (关闭 Service 规则同步).
    """
    for svc, pods in services_with_pods(ctx):
        affected: dict[tuple[str, str], list[str]] = {}
        for pod, on_super in zip(pods, ctx.selected_on_super_node(svc), strict=True):
            if not on_super or not uses_cluster_dns(pod):
                continue
            value, source = ctx.super_node_setting(pod, tke.CLUSTER_IP_SWITCH)
            if str(value or "").strip().lower() != "disable":
                continue
            policy = str((pod.get("spec") or {}).get("dnsPolicy") or "ClusterFirst")
            affected.setdefault((policy, str(source)), []).append(meta(pod).get("name", ""))
        if not affected:
            continue
        texts = []
        for (policy, source), names in affected.items():
            where = _("on the Pod") if source == "pod" else _("from kube-system/eks-config")
            texts.append(
                ngettext(
                    "{n} of {total} Pods run on a super node with {annotation}: disable ({where}) and dnsPolicy "
                    "{policy} ({pods})",
                    "{n} of {total} Pods run on super nodes with {annotation}: disable ({where}) and dnsPolicy "
                    "{policy} ({pods})",
                    len(names),
                ).format(
                    n=len(names),
                    total=len(pods),
                    annotation=tke.CLUSTER_IP_SWITCH,
                    where=where,
                    policy=policy,
                    pods=_names(names),
                )
            )
        yield Hit(
            ref(svc),
            "; ".join(texts) + _(": the cluster DNS and every ClusterIP fail from them"),
            _(
                "Remove {annotation}: disable from the Pod template (or kube-system/eks-config) and recreate the "
                "Pods, or set dnsPolicy: Default if they need no Service."
            ).format(annotation=tke.CLUSTER_IP_SWITCH),
        )
