"""Cluster configuration checks TKE601-TKE604: kube-system settings and cluster-wide objects that break every
Service or Ingress of the cluster at once, none of them visible on the object being diagnosed."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubectl_tke_net import tke
from kubectl_tke_net.checks.registry import Hit, check
from kubectl_tke_net.facts import Context, slice_endpoints
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.i18n import N_, _, ngettext
from kubectl_tke_net.k8s import is_super_node, labels, meta, ref
from kubectl_tke_net.kinds import KUBE_SYSTEM, Obj
from kubectl_tke_net.model import Severity, Unavailable

INGRESS = ("ingress",)
SERVICE = ("service",)


def _configmap(name: str) -> Ref:
    return Ref("ConfigMap", KUBE_SYSTEM, name)


# --- TKE601 ------------------------------------------------------------------------------------------------


@check(
    "TKE601",
    Severity.ERROR,
    N_("ip-masq-agent masquerades nothing (nonMasqueradeCIDRs 0.0.0.0/0)"),
    needs=("configmaps",),
    commands=INGRESS,
)
def ip_masq_agent_masquerades_nothing(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Reads the `config` key of ConfigMap `kube-system/ip-masq-agent-config` as ip-masq-agent does (YAML
    or JSON, keys in any case, such as `nonMasqueradeCIDRs` or `NonMasqueradeCIDRs`) and fires when its
    `nonMasqueradeCIDRs` cover every IPv4 address: `0.0.0.0/0`, or ranges that add up to it. A config
    the agent cannot read (it does not parse, `nonMasqueradeCIDRs` is not a list of CIDRs) is reported
    too, as a warning that says where it fails. No ConfigMap, or no `nonMasqueradeCIDRs` in it (the
    agent's defaults), is fine.

    ## Why it breaks traffic
    ip-masq-agent SNATs Pod traffic to the node's address for every destination outside
    `nonMasqueradeCIDRs`. With `0.0.0.0/0` nothing is masqueraded, so traffic from Pods reaches Tencent
    Cloud's services with the Pod's own address, and the TKE ingress controller can no longer obtain its
    cloud credentials: every Ingress sync fails with `E4007` (Norm `AssumeTkeCredential -8017/-8032`),
    and no CLB is created or updated.

    ## How to fix it
    `kubectl -n kube-system edit configmap ip-masq-agent-config`: set `nonMasqueradeCIDRs` back to the
    cluster's container CIDR and the VPC CIDR (plus any peer VPC or IDC range that must see Pod addresses),
    then restart the TKE ingress controller's Pods in kube-system so they fetch credentials again.
    """
    cm = ctx.configmaps.get(tke.IP_MASQ_AGENT_CONFIG)
    text = ((cm or {}).get("data") or {}).get(tke.IP_MASQ_AGENT_KEY)
    if cm is None or text is None:
        return
    where = _configmap(tke.IP_MASQ_AGENT_CONFIG)
    config = tke.ip_masq_config(text)
    if config.problem:
        yield Hit(
            where,
            _(
                "ip-masq-agent cannot read its config (key {key}): {problem}; the masquerade rules on the nodes are "
                "not what this ConfigMap says"
            ).format(key=tke.IP_MASQ_AGENT_KEY, problem=config.problem),
            _(
                "Fix the config key of kubectl -n kube-system edit configmap ip-masq-agent-config: YAML or JSON with "
                "nonMasqueradeCIDRs, a list of CIDRs (the container CIDR and the VPC CIDR)."
            ),
            Severity.WARNING,
        )
        return
    covering = config.covering_everything()
    if covering:
        yield Hit(
            where,
            _(
                "nonMasqueradeCIDRs {cidrs} covers every IPv4 address (0.0.0.0/0): ip-masq-agent masquerades no "
                "Pod traffic, so the TKE ingress controller cannot get its cloud credentials (Norm "
                "AssumeTkeCredential -8017/-8032) and every Ingress sync fails with E4007"
            ).format(cidrs=", ".join(covering)),
            _(
                "Set nonMasqueradeCIDRs to the container CIDR and the VPC CIDR (kubectl -n kube-system edit "
                "configmap ip-masq-agent-config), then restart the TKE ingress controller's Pods in kube-system."
            ),
        )


# --- TKE602 ------------------------------------------------------------------------------------------------


def tke_marker(ctx: Context) -> str | None:
    """What says that the cluster is a TKE cluster, in words; None when nothing does.

    Unavailable when nothing does among what could be read, but the nodes or DaemonSets could not be read:
    whether this is a TKE cluster is then unknown, never taken for "no"."""
    for name in (tke.SERVICE_CONTROLLER_CONFIG, tke.INGRESS_CONTROLLER_CONFIG):
        if name in ctx.configmaps:
            return _("ConfigMap kube-system/{name} exists").format(name=name)
    missing: list[Unavailable] = []
    try:
        for ds in ctx.snap.list("daemonsets"):
            pod = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
            for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
                image = str(container.get("image") or "")
                if tke.TKE_IMAGE.search(image):
                    return _("DaemonSet kube-system/{name} runs the TKE image {image}").format(
                        name=meta(ds).get("name", ""), image=image
                    )
    except Unavailable as exc:
        missing.append(exc)
    try:
        for node in ctx.snap.list("nodes"):
            name = meta(node).get("name", "")
            node_labels = labels(node)
            if tke.NODE_INSTANCE_LABEL in node_labels:
                return _("node {name} has label {label}").format(name=name, label=tke.NODE_INSTANCE_LABEL)
            tke_label = next((k for k in sorted(node_labels) if k.startswith(tke.TKE_NODE_LABEL_PREFIXES)), None)
            if tke_label:
                return _("node {name} has label {label}").format(name=name, label=tke_label)
            if str((node.get("spec") or {}).get("providerID") or "").startswith(tke.TKE_PROVIDER_PREFIX):
                return _("node {name} has a qcloud:// provider ID").format(name=name)
            if is_super_node(node):
                return _("node {name} is a TKE super node").format(name=name)
    except Unavailable as exc:
        missing.append(exc)
    if missing:
        raise Unavailable(
            missing[0].kind,
            _("cannot tell whether this is a TKE cluster: {reason}").format(reason=missing[0].reason),
        )
    return None


@check(
    "TKE602",
    Severity.ERROR,
    N_("kube-system/tke-config missing"),
    needs=("configmaps",),
    commands=INGRESS,
)
def tke_config_missing(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires on a TKE cluster when ConfigMap `kube-system/tke-config` does not exist, or lacks (or has an
    empty) `TKE_REGION` or `TKE_VPC_ID`. A cluster is taken for a TKE cluster when one of these holds
    (the message says which): ConfigMap `kube-system/tke-service-controller-config` or
    `kube-system/tke-ingress-controller-config` exists; a kube-system DaemonSet runs an image from TKE's
    `tkeimages/` repositories; a node has label `cloud.tencent.com/node-instance-id` or a label under
    `tke.cloud.tencent.com/` or `node.tke.cloud.tencent.com/`, a `qcloud://` provider ID, or is a super
    node. Any other cluster gets no finding. When kube-system's ConfigMaps cannot be listed, or nothing
    readable says TKE while the nodes or DaemonSets cannot be listed, the check is listed under `skipped`.

    ## Why it breaks traffic
    The TKE ingress controller reads the cluster's region (`TKE_REGION`) and VPC (`TKE_VPC_ID`) from
    `kube-system/tke-config`. Without them it cannot call the CLB API for any Ingress: every sync fails
    with `E6001` (no region) or `E6002` (no VPC), and no CLB is created or updated.

    ## How to fix it
    Recreate `kube-system/tke-config` with the cluster's `TKE_REGION` (e.g. `ap-guangzhou`) and
    `TKE_VPC_ID` (`vpc-...`, on the cluster's basic information page), as another cluster of the same
    region has it, or open a ticket; then restart the TKE ingress controller's Pods in kube-system.
    """
    marker = tke_marker(ctx)
    if marker is None:
        return
    where = _configmap(tke.TKE_CONFIG)
    cm = ctx.configmaps.get(tke.TKE_CONFIG)
    remediation = _(
        "Recreate kube-system/tke-config with TKE_REGION (e.g. ap-guangzhou) and TKE_VPC_ID (vpc-...) of the cluster, "
        "then restart the TKE ingress controller's Pods in kube-system."
    )
    if cm is None:
        yield Hit(
            where,
            _(
                "ConfigMap kube-system/tke-config does not exist on this TKE cluster ({marker}): the TKE ingress "
                "controller cannot read TKE_REGION and TKE_VPC_ID, so every Ingress sync fails with E6001/E6002"
            ).format(marker=marker),
            remediation,
        )
        return
    data = cm.get("data") or {}
    missing = [key for key in tke.TKE_CONFIG_KEYS if not str(data.get(key) or "").strip()]
    if missing:
        yield Hit(
            where,
            ngettext(
                "ConfigMap kube-system/tke-config has no {keys}: the TKE ingress controller cannot read it, so every "
                "Ingress sync fails with {codes}",
                "ConfigMap kube-system/tke-config has no {keys}: the TKE ingress controller cannot read them, so "
                "every Ingress sync fails with {codes}",
                len(missing),
            ).format(keys=", ".join(missing), codes="/".join(tke.TKE_CONFIG_KEYS[k] for k in missing)),
            remediation,
        )


# --- TKE603 ------------------------------------------------------------------------------------------------


@check(
    "TKE603",
    Severity.ERROR,
    N_("cluster DNS (kube-dns) without a ready endpoint"),
    needs=("kube-dns", "kube-dns-endpointslices"),
    commands=SERVICE,
)
def kube_dns_without_ready_endpoint(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when the cluster DNS Service `kube-system/kube-dns` exists but has no ready endpoint: none in
    its EndpointSlices, or, when it has no EndpointSlice (a snapshot made without them), none among the
    Pods its selector matches. It is read from kube-system whatever `-n` says, and reported once, on the
    Service; with `-n` and no EndpointSlice the Pods are out of scope, and the check is `skipped`. A
    cluster without a `kube-dns` Service (another DNS setup) gets no finding.

    ## Why it breaks traffic
    Every Pod with the default DNS policy sends its lookups to the kube-dns ClusterIP. With no ready
    endpoint behind it, names of Services (`NAME.NS.svc.cluster.local`) and outside domains stop
    resolving from every such Pod: clients that call Services by name fail although the Services
    themselves are fine. `svc -n NS` on an application namespace never looks at kube-system's Services,
    so this is the one place it shows.

    ## How to fix it
    `kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide` and `kubectl -n kube-system describe
    deployment coredns`: bring the CoreDNS Pods back to Ready (resources, node placement, their events).
    If they are Ready but lookups still fail, check that the node security groups allow the container
    CIDR between nodes and that kube-proxy runs on every node.
    """
    services = ctx.snap.list("kube-dns")
    if not services or (services[0].get("spec") or {}).get("type") == "ExternalName":
        return
    svc = services[0]
    slices = ctx.snap.list("kube-dns-endpointslices")
    if slices:
        endpoints = slice_endpoints(slices)
    elif ctx.snap.namespace in (None, KUBE_SYSTEM):
        endpoints = ctx.endpoints(svc)  # no EndpointSlice: its Pods' Ready condition (SPEC 7, "ready endpoints")
    else:
        raise Unavailable(
            "kube-dns-endpointslices",
            _(
                "kube-system/kube-dns has no EndpointSlice, and its Pods are outside the namespace scope: "
                "run with -A or -n kube-system"
            ),
        )
    if endpoints.ready:
        return
    address = str((svc.get("spec") or {}).get("clusterIP") or "")
    if endpoints.total:
        what = _("none of its {total} endpoints is ready").format(total=endpoints.total)
    elif endpoints.from_slices:
        what = _("its EndpointSlices list no endpoint")
    else:
        what = _("it has no EndpointSlice, and no Pod matches its selector")
    yield Hit(
        ref(svc),
        _(
            "cluster DNS has no ready endpoint: {what}; lookups sent to {address}:53 from Pods get no answer, so "
            "Service names (NAME.NS.svc.cluster.local) and outside domains do not resolve"
        ).format(what=what, address=address or "kube-dns"),
        _(
            "kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide; kubectl -n kube-system describe deployment "
            "coredns: bring the CoreDNS Pods back to Ready."
        ),
    )


# --- TKE604 ------------------------------------------------------------------------------------------------

INGRESS_GROUP = "networking.k8s.io"
NGINX_WEBHOOK_SUFFIX = "nginx.ingress.kubernetes.io"
NGINX_NAMES = frozenset({"ingress-nginx", "nginx-ingress"})
NGINX_FIXED = (1, 0)  # ingress-nginx validates networking.k8s.io/v1 Ingresses from 1.0.0 on
_VERSION = re.compile(r"v?(\d+)\.(\d+)")
_CHART = re.compile(r"(ingress-nginx|nginx-ingress)-(\d+)\.(\d+)")  # chart name-major.minor[.patch]


def _covers(values: list[str], wanted: str) -> bool:
    return wanted in values or "*" in values


def _v1_ingress_rules(webhook: Obj) -> list[str]:
    """The rules of a webhook that send networking.k8s.io/v1 Ingresses to it, as `group/version` texts."""
    found = []
    for rule in webhook.get("rules") or []:
        resources = [str(r) for r in rule.get("resources") or []]
        groups = [str(g) for g in rule.get("apiGroups") or []]
        versions = [str(v) for v in rule.get("apiVersions") or []]
        if (
            any(r == "ingresses" or r.startswith("ingresses/") for r in resources)
            and _covers(groups, INGRESS_GROUP)
            and _covers(versions, "v1")
        ):
            found.append(f"{'/'.join(groups)} {'/'.join(versions)} {'/'.join(resources)}")
    return found


def nginx_version(vwc: Obj) -> tuple[tuple[int, int], str] | None:
    """The ingress-nginx version of a ValidatingWebhookConfiguration, from the labels its chart and manifests
    set: app.kubernetes.io/version (the controller's), else helm.sh/chart (ingress-nginx charts before 4.0
    and every stable/nginx-ingress chart carry a controller before 1.0)."""
    found = labels(vwc)
    version = _VERSION.match(str(found.get("app.kubernetes.io/version") or "").strip())
    if version:
        return (int(version[1]), int(version[2])), f"app.kubernetes.io/version: {found['app.kubernetes.io/version']}"
    chart = _CHART.match(str(found.get("helm.sh/chart") or "").strip())
    if chart:
        text = f"helm.sh/chart: {found['helm.sh/chart']}"
        if chart[1] == "nginx-ingress" or int(chart[2]) < 4:
            return (0, 0), text
        return (1, 0), text
    return None


def is_nginx_webhook(vwc: Obj, webhook: Obj) -> bool:
    return str(webhook.get("name") or "").endswith(NGINX_WEBHOOK_SUFFIX) or (
        labels(vwc).get("app.kubernetes.io/name") in NGINX_NAMES
    )


@check(
    "TKE604",
    Severity.ERROR,
    N_("old ingress-nginx webhook validates networking.k8s.io/v1 Ingresses"),
    needs=("validatingwebhookconfigurations",),
    commands=INGRESS,
)
def old_nginx_webhook_on_v1_ingresses(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires on a ValidatingWebhookConfiguration of ingress-nginx older than 1.0.0 (its webhook is named
    `*.nginx.ingress.kubernetes.io`, or the object is labelled `app.kubernetes.io/name: ingress-nginx`;
    the version comes from its `app.kubernetes.io/version` label, else its `helm.sh/chart` label) that
    has a rule sending `networking.k8s.io` Ingresses of `apiVersions` `v1` (or `*`) to the webhook.
    Webhooks of ingress-nginx 1.0.0 and later, of other software, and those whose version no label
    gives are not judged.

    ## Why it breaks traffic
    ingress-nginx before 1.0.0 cannot validate `networking.k8s.io/v1` Ingresses. Once its webhook is
    called for them, it rejects the v1 Ingresses that kubectl and the TKE ingress controller write: creating
    or updating a CLB Ingress fails with `E6009` (TKE's "CLB Ingress 创建报错排障处理").

    ## How to fix it
    `kubectl edit validatingwebhookconfiguration NAME`: set the ingresses rule's `apiVersions` to
    `v1beta1` (or delete the ValidatingWebhookConfiguration); then upgrade the Nginx Ingress add-on to
    1.1.0 or later (cluster > Add-on management), so that new instances do not bring the webhook back.
    """
    for vwc in ctx.snap.list("validatingwebhookconfigurations"):
        version = nginx_version(vwc)
        if version is None or version[0] >= NGINX_FIXED:
            continue
        bad = [
            (str(webhook.get("name") or ""), rules)
            for webhook in vwc.get("webhooks") or []
            if is_nginx_webhook(vwc, webhook) and (rules := _v1_ingress_rules(webhook))
        ]
        if not bad:
            continue
        name = meta(vwc).get("name", "")
        yield Hit(
            ref(vwc),
            _(
                "webhook {webhooks} of ingress-nginx before 1.0.0 ({version}) is called for networking.k8s.io/v1 "
                "Ingresses (rules {rules}), which it cannot validate: creating or updating an Ingress fails (E6009 on "
                "CLB Ingresses)"
            ).format(
                webhooks=", ".join(w for w, _rules in bad),
                version=version[1],
                rules="; ".join(r for _w, rules in bad for r in rules),
            ),
            _(
                "kubectl edit validatingwebhookconfiguration {name}: set the ingresses rule's apiVersions to "
                "v1beta1 (or delete it), then upgrade the Nginx Ingress add-on to 1.1.0 or later."
            ).format(name=name),
        )
