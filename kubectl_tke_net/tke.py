"""TKE knowledge as data: annotation names, loopback-fixed kube-proxy versions, tag parsing, proxy mode."""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from kubectl_tke_net.i18n import _, ngettext

# Services (TKE-FACTS §1.1)
SVC_INTERNAL_SUBNET = "service.kubernetes.io/qcloud-loadbalancer-internal-subnetid"
SVC_DIRECT_ACCESS = "service.cloud.tencent.com/direct-access"
SVC_PASS_TO_TARGET = "service.cloud.tencent.com/pass-to-target"
SVC_SECURITY_GROUPS = "service.cloud.tencent.com/security-groups"
SVC_PREVENT_LOOPBACK = "service.cloud.tencent.com/prevent-loopback"
SVC_LB_ID = "service.kubernetes.io/loadbalance-id"
SVC_SPECIFY_PROTOCOL = "service.cloud.tencent.com/specify-protocol"
# A label selector of the nodes the CLB binds; selecting none removes every backend (TKE-FACTS-2 §2.1 [S12])
SVC_BACKENDS_LABEL = "service.kubernetes.io/qcloud-loadbalancer-backends-label"
# Ingresses (TKE-FACTS §1.2)
ING_CLASS = "kubernetes.io/ingress.class"
ING_SUBNET = "kubernetes.io/ingress.subnetId"
ING_DIRECT_ACCESS = "ingress.cloud.tencent.com/direct-access"
ING_SECURITY_GROUPS = "ingress.cloud.tencent.com/security-groups"
ING_TSC = "ingress.cloud.tencent.com/tke-service-config"
ING_TSC_AUTO = "ingress.cloud.tencent.com/tke-service-config-auto"
ING_LB_ID = "kubernetes.io/ingress.qcloud-loadbalance-id"
QCLOUD_CLASS = "qcloud"
# Pods and cluster configuration
POD_NETWORKS = "tke.cloud.tencent.com/networks"
# Super nodes (eklet): each Pod is its own VM with a VPC address (TKE-FACTS-2 §3.1)
POD_TYPE = "tke.cloud.tencent.com/pod-type"
EKLET = "eklet"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
# Per-Pod super-node settings (TKE-FACTS-2 §3.2 [S14]); kube-system/eks-config `pod.annotations` gives their
# defaults for every super-node Pod, and an annotation on the Pod wins over it.
CLUSTER_IP_SWITCH = "eks.tke.cloud.tencent.com/cluster-ip-switch"  # 'disable': no Service rules in the Pod's VM
METRICS_PORT = "eks.tke.cloud.tencent.com/metrics-port"  # where the super node serves the Pod's metrics
DEFAULT_METRICS_PORT = 9100
EKS_CONFIG = "eks-config"
EKS_POD_ANNOTATIONS = "pod.annotations"
# Of eks-config's pod.annotations only these are kept (the others are not read: SPEC 9.2).
EKS_DEFAULTS_READ = (CLUSTER_IP_SWITCH, METRICS_PORT)
# GlobalRouter clusters run this DaemonSet in kube-system (TKE-FACTS §4.2); VPC-CNI ones tke-eni-agent.
GLOBAL_ROUTER_DAEMONSET = "tke-bridge-agent"
# Nodes TKE's service controller never binds as CLB backends, besides NotReady and unschedulable ones [S12].
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/master", "node-role.kubernetes.io/control-plane")
BACKENDGROUP_GATE = "cloud.tencent.com/load-balancer-backendgroup-ready"
SERVICE_CONTROLLER_CONFIG = "tke-service-controller-config"
INGRESS_CONTROLLER_CONFIG = "tke-ingress-controller-config"
CONTROLLER_VERSION = "VERSION"  # the key of both controllers' ConfigMaps that holds the controller's version
GLOBAL_ROUTE_DIRECT_ACCESS = "GlobalRouteDirectAccess"
# Cluster configuration the controllers read (TKE-FACTS-2 §1.3): kube-system/tke-config gives them the region and
# the VPC (E6001 without TKE_REGION, E6002 without TKE_VPC_ID); ip-masq-agent reads its `config` key.
TKE_CONFIG = "tke-config"
TKE_CONFIG_KEYS = {"TKE_REGION": "E6001", "TKE_VPC_ID": "E6002"}
IP_MASQ_AGENT_CONFIG = "ip-masq-agent-config"
IP_MASQ_AGENT_KEY = "config"
# What says a cluster is a TKE cluster (TKE-FACTS §4.1): TKE's node labels and provider IDs, TKE's images.
NODE_INSTANCE_LABEL = "cloud.tencent.com/node-instance-id"
TKE_NODE_LABEL_PREFIXES = ("tke.cloud.tencent.com/", "node.tke.cloud.tencent.com/")
TKE_PROVIDER_PREFIX = "qcloud://"
TKE_IMAGE = re.compile(r"(?:^|/)tkeimages/")
# Ours
IGNORE_ANNOTATION = "tke-net.kubectl.io/ignore"
# The kube-system ConfigMaps the checks read, and their keys; the kube-proxy --config ConfigMap comes on top
# (kube_proxy_config). Nothing else of kube-system's ConfigMaps is kept (SPEC 9.2).
KUBE_SYSTEM_CONFIGMAPS: dict[str, tuple[str, ...]] = {
    "coredns": ("Corefile",),
    "cilium-config": ("kube-proxy-replacement",),
    EKS_CONFIG: (EKS_POD_ANNOTATIONS,),
    SERVICE_CONTROLLER_CONFIG: (GLOBAL_ROUTE_DIRECT_ACCESS, CONTROLLER_VERSION),
    INGRESS_CONTROLLER_CONFIG: (CONTROLLER_VERSION,),
    TKE_CONFIG: tuple(TKE_CONFIG_KEYS),
    IP_MASQ_AGENT_CONFIG: (IP_MASQ_AGENT_KEY,),
}

MAX_SECURITY_GROUPS = 5
_SG_ID = re.compile(r"sg-[0-9a-z]{8,}")
NODEPORT_RANGE = (30000, 32768)  # what TKE's node security-group guidance opens

# Minimum kube-proxy tag per minor that binds the LB address to kube-ipvs0, with what says so (TKE-FACTS-2 §4.2):
# "seed" is Tencent's troubleshooting page the checks come from (Service & Ingress 网络无法访问排障处理), "history"
# TKE's kube-proxy revision history. 1.26 is UNKNOWN: no source confirms a fix and the 1.28 line shows that early
# builds of a minor shipped without it, so its builds are reported as loopbackFixed: null (TKE306-like), not as
# fixed. 1.30 and later: the seed says "later versions include it" (no revision line found). Kubernetes 1.35
# deprecates IPVS mode upstream (KEP-5495); TKE clusters cannot leave IPVS in place.
MIN_LOOPBACK_FIXED_SOURCES: dict[tuple[int, int], tuple[str, str]] = {
    (1, 12): ("v1.12.4-tke.30", "seed"),
    (1, 14): ("v1.14.3-tke.24", "seed"),
    (1, 16): ("v1.16.3-tke.25", "seed"),
    (1, 18): ("v1.18.4-tke.20", "seed; history 2022-01-20 (支持把 LB 地址绑定到 ipvs 网卡)"),
    (1, 20): ("v1.20.6-tke.12", "seed; history 2022-01-20"),
    (1, 22): ("v1.22.5-tke.13", "seed only (history stops at v1.22.5-tke.9)"),
    (1, 24): ("v1.24.4-tke.6", "seed only (history stops at v1.24.4-tke.3)"),
    (1, 28): ("v1.28.3-tke.3", "history 2024-04-24 (lb vip binding issue fixed)"),
}
MIN_LOOPBACK_FIXED = {minor: tag for minor, (tag, _source) in MIN_LOOPBACK_FIXED_SOURCES.items()}
EVERY_BUILD_FIXED_FROM = (1, 30)  # seed: later versions include the fix
NEVER_FIXED_BELOW = (1, 12)

_TAG = re.compile(r"v(\d+)\.(\d+)\.(\d+)-tke\.(\d+)(?:-rc(\d+))?")


@dataclass(frozen=True)
class TkeVersion:
    """A TKE build tag `vX.Y.Z-tke.N[-rcM]`; an -rc build sorts below the same N without -rc."""

    tag: str
    base: Version
    build: int
    rc: int | None

    @classmethod
    def parse(cls, tag: str) -> TkeVersion | None:
        match = _TAG.fullmatch(tag)
        if not match:
            return None
        major, minor, patch, build, rc = match.groups()
        return cls(tag, Version(f"{major}.{minor}.{patch}"), int(build), int(rc) if rc else None)

    @property
    def minor(self) -> tuple[int, int]:
        return (self.base.major, self.base.minor)

    def key(self) -> tuple[Version, int, int, int]:
        return (self.base, self.build, 0 if self.rc is not None else 1, self.rc or 0)

    def __lt__(self, other: TkeVersion) -> bool:
        return self.key() < other.key()

    def __le__(self, other: TkeVersion) -> bool:
        return self.key() <= other.key()


def min_fixed(version: TkeVersion) -> tuple[str | None, bool | None]:
    """(minimum fixed tag of the version's minor, whether the version is fixed); None where unknown."""
    minor = version.minor
    if minor in MIN_LOOPBACK_FIXED:
        target = TkeVersion.parse(MIN_LOOPBACK_FIXED[minor])
        assert target is not None
        return target.tag, target <= version
    if minor >= EVERY_BUILD_FIXED_FROM:
        return None, True
    if minor < NEVER_FIXED_BELOW:
        return None, False
    return None, None


def split_image(image: str) -> tuple[str, str | None]:
    """(name, tag) of an image reference; a digest-only reference has no tag."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, None


@dataclass(frozen=True)
class KubeProxy:
    """What the report's `cluster.kubeProxy` says."""

    mode: str  # ipvs | iptables | nftables | cilium (kube-proxy replaced) | unknown
    image: str | None = None
    version: str | None = None
    min_fixed: str | None = None
    loopback_fixed: bool | None = None
    container: str | None = None
    # Why the mode is unknown or not kube-proxy's: no DaemonSet, a DaemonSet scheduled on no node, Cilium.
    why: str | None = None

    @property
    def running(self) -> bool:
        """A kube-proxy DaemonSet that runs somewhere: the only one whose version and mode the checks judge."""
        return self.mode in ("ipvs", "iptables", "nftables")

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "image": self.image,
            "version": self.version,
            "minFixed": self.min_fixed,
            "loopbackFixed": self.loopback_fixed,
        }


NO_DAEMONSET = "no-daemonset"
SCHEDULED_NOWHERE = "scheduled-nowhere"
CILIUM = "cilium"
UNKNOWN_PROXY = KubeProxy("unknown", why=NO_DAEMONSET)
CILIUM_CONFIG = "cilium-config"  # kube-system ConfigMap of Cilium (DataPlaneV2, or installed by the user)


def unknown_reason(proxy: KubeProxy) -> str:
    """Why the loopback checks cannot judge kube-proxy: no DaemonSet, one scheduled on no node, or Cilium."""
    if proxy.why == CILIUM:
        return _(
            "kube-proxy is replaced by Cilium (ConfigMap kube-system/cilium-config: DataPlaneV2 or a Cilium "
            "install), so the IPVS loopback analysis does not apply"
        )
    if proxy.why == SCHEDULED_NOWHERE:
        return _(
            "the kube-proxy DaemonSet is scheduled on no node (a nodeSelector no node has, or "
            "desiredNumberScheduled 0), so it is not what proxies Services; the mode and version are unknown"
        )
    return _(
        "no kube-proxy DaemonSet in kube-system: kube-proxy runs on the nodes, so its mode and version are unknown"
    )


def kube_proxy_container(daemonset: dict[str, Any]) -> dict[str, Any] | None:
    containers = (((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    named = [c for c in containers if c.get("name") == "kube-proxy"]
    chosen: list[dict[str, Any]] = named or containers
    return chosen[0] if chosen else None


def _words(container: dict[str, Any]) -> list[str]:
    words: list[str] = []
    for arg in list(container.get("command") or []) + list(container.get("args") or []):
        try:
            words.extend(shlex.split(str(arg)))
        except ValueError:
            words.extend(str(arg).split())
    return words


def _flag(words: list[str], name: str) -> str | None:
    for i, word in enumerate(words):
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
        if word == name and i + 1 < len(words):
            return words[i + 1]
    return None


def config_sources(daemonset: dict[str, Any], container: dict[str, Any], path: str) -> list[tuple[str, str]]:
    """The (ConfigMap name, key) pairs that kube-proxy's `--config` file `path` may be mounted from."""
    pod = ((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    found = []
    for mount in container.get("volumeMounts") or []:
        mount_path = str(mount.get("mountPath", "")).rstrip("/")
        if not path.startswith(mount_path + "/") and path != mount_path:
            continue
        cm_name = ((volumes.get(mount.get("name")) or {}).get("configMap") or {}).get("name")
        found.append((str(cm_name or ""), str(mount.get("subPath") or path[len(mount_path) + 1 :])))
    return found


def kube_proxy_config(daemonset: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The (ConfigMap, key) pairs the kube-proxy DaemonSet's --config file may come from."""
    container = kube_proxy_container(daemonset) if daemonset else None
    config = _flag(_words(container), "--config") if container else None
    if not daemonset or not container or not config:
        return []
    return config_sources(daemonset, container, config)


def configmap_keys(daemonsets: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The keys of each kube-system ConfigMap that the checks read, given kube-system's DaemonSets."""
    keys = {name: set(wanted) for name, wanted in KUBE_SYSTEM_CONFIGMAPS.items()}
    for ds in daemonsets:
        if (ds.get("metadata") or {}).get("name") == "kube-proxy":
            for name, key in kube_proxy_config(ds):
                keys.setdefault(name, set()).add(key)
    return keys


def keep_configmaps(configmaps: list[dict[str, Any]], daemonsets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of kube-system's ConfigMaps, those the checks read, with only the keys they read."""
    keys = configmap_keys(daemonsets)
    kept = []
    for cm in configmaps:
        wanted = keys.get(str((cm.get("metadata") or {}).get("name") or ""))
        if wanted is None:
            continue
        data = cm.get("data")
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k in wanted}
            if (cm.get("metadata") or {}).get("name") == EKS_CONFIG and isinstance(data.get(EKS_POD_ANNOTATIONS), str):
                data[EKS_POD_ANNOTATIONS] = _eks_defaults_text(data[EKS_POD_ANNOTATIONS])
            kept.append({**cm, "data": data})
        else:
            kept.append(cm)
    return kept


def eks_pod_defaults(text: str | None) -> dict[str, str]:
    """The annotations that kube-system/eks-config `pod.annotations` (a YAML mapping, [S14]) gives every
    super-node Pod; nothing when it is absent or is not such a mapping."""
    import yaml

    try:
        doc = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return {}
    if not isinstance(doc, dict):
        return {}
    return {str(k): str(v) for k, v in doc.items() if isinstance(v, (str, int)) and not isinstance(v, bool)}


def _eks_defaults_text(text: str) -> str:
    """pod.annotations with only the keys the checks read, as YAML again ("" when it has none of them); a dump
    read back gives the same text."""
    import yaml

    read = {k: v for k, v in eks_pod_defaults(text).items() if k in EKS_DEFAULTS_READ}
    return yaml.safe_dump(read, default_flow_style=False, sort_keys=True) if read else ""


def _config_mode(
    daemonset: dict[str, Any], container: dict[str, Any], path: str, configmaps: dict[str, dict[str, Any]]
) -> str | None:
    """The `mode:` of a --config file mounted from a ConfigMap, if it can be found."""
    import yaml

    for name, key in config_sources(daemonset, container, path):
        text = ((configmaps.get(name) or {}).get("data") or {}).get(key)
        if text is None:
            continue
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            return None
        return str(doc.get("mode") or "") if isinstance(doc, dict) else None
    return None


def scheduled_nowhere(daemonset: dict[str, Any], node_labels: list[dict[str, str]] | None) -> bool:
    """A DaemonSet kept but scheduled on no node, as Cilium guides leave kube-proxy (a nodeSelector no node
    has, e.g. label-not-exist: node-not-exist), or whose status counts no node to run on."""
    selector = (((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    if node_labels and selector and not any(all(n.get(k) == v for k, v in selector.items()) for n in node_labels):
        return True
    # The status counts only once the DaemonSet controller has seen the object (observedGeneration set): a status
    # the API server defaulted to zeros says nothing.
    status = daemonset.get("status") or {}
    return (
        bool(node_labels)
        and bool(status.get("observedGeneration"))
        and "desiredNumberScheduled" in status
        and status["desiredNumberScheduled"] == 0
    )


def detect_kube_proxy(
    daemonset: dict[str, Any] | None,
    configmaps: dict[str, dict[str, Any]],
    node_labels: list[dict[str, str]] | None = None,
) -> KubeProxy:
    """Mode and version of the kube-proxy DaemonSet. `cilium` when Cilium replaces it (DataPlaneV2 creates no
    kube-proxy DaemonSet; a self-installed Cilium leaves one scheduled nowhere); unknown when there is no running
    DaemonSet (kube-proxy runs on the nodes)."""
    cilium = CILIUM_CONFIG in configmaps
    if daemonset is None:
        return KubeProxy(CILIUM, why=CILIUM) if cilium else UNKNOWN_PROXY
    if scheduled_nowhere(daemonset, node_labels):
        return KubeProxy(CILIUM, why=CILIUM) if cilium else KubeProxy("unknown", why=SCHEDULED_NOWHERE)
    container = kube_proxy_container(daemonset)
    if container is None:
        return UNKNOWN_PROXY
    words = _words(container)
    mode = _flag(words, "--proxy-mode")
    config = _flag(words, "--config")
    if not mode and config:
        mode = _config_mode(daemonset, container, config, configmaps)
    image = str(container.get("image") or "") or None
    tag = split_image(image)[1] if image else None
    version = TkeVersion.parse(tag) if tag else None
    target, fixed = min_fixed(version) if version else (None, None)
    # nftables is a mode of its own since Kubernetes 1.29; any other value (or none) is iptables, the default.
    known = mode if mode in ("ipvs", "nftables") else "iptables"
    return KubeProxy(known, image, tag, target, fixed, container.get("name"))


def security_group_problem(value: str) -> str | None:
    """Why a security-groups annotation is malformed, or None when it is a list of 1-5 sg- IDs."""
    ids = [part.strip() for part in value.split(",")]
    bad = [i for i in ids if not _SG_ID.fullmatch(i)]
    if bad:
        shown = ", ".join(repr(b) for b in bad[:3])
        return ngettext("{ids} is not a security group ID", "{ids} are not security group IDs", len(bad)).format(
            ids=shown
        )
    if len(ids) > MAX_SECURITY_GROUPS:
        return _("{n} security groups given, at most {max} are allowed").format(n=len(ids), max=MAX_SECURITY_GROUPS)
    return None


_CONTROLLER_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def controller_version(text: object) -> tuple[int, int, int] | None:
    """`v2.10.0`, `2.8.0` or `1.3` as a comparable tuple; None for anything else (the version is then unknown)."""
    found = _CONTROLLER_VERSION.fullmatch(str(text).strip()) if isinstance(text, str) else None
    if found is None:
        return None
    major, minor, patch = found.groups()
    return int(major), int(minor), int(patch or 0)


def is_true(value: object) -> bool:
    return str(value).strip().lower() == "true"


def l7_listeners(config: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """`spec.loadBalancer.l7Listeners` of a TkeServiceConfig: [] when absent, None when it is not a list of
    listener mappings (a hand-edited object the checks and the fix must not guess about)."""
    spec = (config or {}).get("spec") or {}
    balancer = (spec.get("loadBalancer") or {}) if isinstance(spec, dict) else None
    if not isinstance(balancer, dict):
        return None
    listeners = balancer.get("l7Listeners") or []
    if not isinstance(listeners, list) or not all(isinstance(lst, dict) for lst in listeners):
        return None
    return listeners


@dataclass(frozen=True)
class MasqConfig:
    """What ip-masq-agent makes of its `config` key: the nonMasqueradeCIDRs, or why it cannot read them."""

    cidrs: tuple[str, ...] = ()
    problem: str | None = None

    def covering_everything(self) -> list[str]:
        """The entries that, together, leave no IPv4 destination masqueraded (0.0.0.0/0, or halves of it)."""
        nets = [ipaddress.ip_network(c, strict=False) for c in self.cidrs]
        v4 = [n for n in nets if isinstance(n, ipaddress.IPv4Network)]
        if not any(n.prefixlen == 0 for n in ipaddress.collapse_addresses(v4)):
            return []
        return [c for c, n in zip(self.cidrs, nets, strict=True) if isinstance(n, ipaddress.IPv4Network)]


def ip_masq_config(text: str) -> MasqConfig:
    """Read ip-masq-agent's config as the agent does: YAML or JSON, keys matched without regard to case (Go's
    JSON decoding), nonMasqueradeCIDRs a list of CIDRs. An empty config or no nonMasqueradeCIDRs: its defaults."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = _(" at line {line}, column {column}").format(line=mark.line + 1, column=mark.column + 1) if mark else ""
        return MasqConfig(problem=_("it does not parse{where}: {reason}").format(where=where, reason=exc.problem))
    except RecursionError:
        return MasqConfig(problem=_("it nests too deeply"))
    except (yaml.YAMLError, ValueError) as exc:
        return MasqConfig(problem=_("it does not parse: {reason}").format(reason=str(exc)[:200]))
    if doc is None:
        return MasqConfig()
    if not isinstance(doc, dict):
        return MasqConfig(problem=_("it is not a mapping of settings"))
    found = [v for k, v in doc.items() if isinstance(k, str) and k.lower() == "nonmasqueradecidrs"]
    if not found or found[-1] is None:
        return MasqConfig()
    value = found[-1]
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        return MasqConfig(problem=_("nonMasqueradeCIDRs is not a list of CIDRs"))
    for cidr in value:
        try:
            ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            return MasqConfig(problem=_("nonMasqueradeCIDRs entry {cidr} is not a CIDR").format(cidr=repr(cidr)))
        if "/" not in cidr:
            return MasqConfig(problem=_("nonMasqueradeCIDRs entry {cidr} is not a CIDR").format(cidr=repr(cidr)))
    return MasqConfig(tuple(c.strip() for c in value))
