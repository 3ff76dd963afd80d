"""Tencent Cloud: credentials and region, the read-only API calls (the only module that imports the SDK), and the
first-match evaluation of security-group rules that the checks TKE401-TKE405 read."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kubectl_tke_net.i18n import _
from kubectl_tke_net.model import Unavailable

ENV_SECRET_ID = "TENCENTCLOUD_SECRET_ID"
ENV_SECRET_KEY = "TENCENTCLOUD_SECRET_KEY"
ENV_TOKEN = "TENCENTCLOUD_SESSION_TOKEN"
ENV_REGION = "TENCENTCLOUD_REGION"
# Where the API is: a URL such as http://127.0.0.1:8080 (tests) or https://{service}.internal.tencentcloudapi.com.
ENV_ENDPOINT = "TKE_NET_CLOUD_ENDPOINT"
CLOUD_PREFIX = "TKE4"

NODE_INSTANCE_LABEL = "cloud.tencent.com/node-instance-id"
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
CBS_ZONE_LABEL = "topology.com.tencent.cloud.csi.cbs/zone"  # e.g. ap-chengdu-1 (TKE-FACTS §4.1)
# TKE writes short region names into the region labels (`cd` next to a CBS zone `ap-chengdu-1` on a real node);
# only `cd` is confirmed by that evidence, the others follow the same pattern (pass --region when in doubt).
SHORT_REGIONS = {
    "gz": "ap-guangzhou",
    "sh": "ap-shanghai",
    "bj": "ap-beijing",
    "cd": "ap-chengdu",
    "cq": "ap-chongqing",
    "nj": "ap-nanjing",
    "hk": "ap-hongkong",
    "sg": "ap-singapore",
}
_INSTANCE_ID = re.compile(r"ins-[0-9a-z]+")

# Page and batch sizes from the API references: DescribeInstances takes up to 100 IDs, DescribeLoadBalancers 20;
# VPC filters take up to 5 values (the common VPC limit; UNVERIFIED for the address-template actions).
INSTANCE_BATCH = 100
LB_BATCH = 20
FILTER_BATCH = 5
PAGE = 100


# --- credentials and region ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """API keys; repr never shows the key or the token."""

    secret_id: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    source: str = ""


def _tccli_file(home: Path, env: Mapping[str, str], suffix: str) -> dict[str, Any]:
    """A tccli profile file (~/.tccli/<profile>.credential or .configure, JSON), or {}."""
    profile = env.get("TCCLI_PROFILE") or "default"
    path = home / ".tccli" / f"{profile}.{suffix}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_credentials(env: Mapping[str, str], home: Path) -> Credentials | None:
    """TENCENTCLOUD_SECRET_ID/KEY (and SESSION_TOKEN), else the keys `tccli configure` saved."""
    if env.get(ENV_SECRET_ID) and env.get(ENV_SECRET_KEY):
        return Credentials(env[ENV_SECRET_ID], env[ENV_SECRET_KEY], env.get(ENV_TOKEN) or None, "environment")
    cred = _tccli_file(home, env, "credential")
    sid, key = cred.get("secretId"), cred.get("secretKey")
    if isinstance(sid, str) and isinstance(key, str) and sid and key:
        token = cred.get("token")
        return Credentials(sid, key, token if isinstance(token, str) and token else None, "tccli")
    return None


_REGION = re.compile(r"[a-z]{2}-[a-z]+(?:-[a-z]+)?")  # ap-guangzhou, na-siliconvalley, ap-shanghai-fsi


def _label_region(value: str) -> str | None:
    """A region from a node label: a short name we know, or a full region name; else None (not guessed: an
    unknown short name sent as a region would fail every call with an unclear error; --region says it)."""
    region = SHORT_REGIONS.get(value, value)
    return region if _REGION.fullmatch(region) else None


def region_of_nodes(nodes: Iterable[dict[str, Any]]) -> str | None:
    """The most common region of the nodes: from the CBS zone label (ap-chengdu-1), else the region labels."""
    found: Counter[str] = Counter()
    for node in nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        zone = labels.get(CBS_ZONE_LABEL)
        if isinstance(zone, str) and re.fullmatch(r"[a-z]+-[a-z]+(?:-[a-z]+)?-\d+", zone):
            found[zone.rsplit("-", 1)[0]] += 1
            continue
        for key in REGION_LABELS:
            region = _label_region(str(labels.get(key) or ""))
            if region:
                found[region] += 1
                break
    return found.most_common(1)[0][0] if found else None


def resolve_region(flag: str | None, env: Mapping[str, str], nodes: Iterable[dict[str, Any]], home: Path) -> str | None:
    """--region, else TENCENTCLOUD_REGION, else the nodes' labels, else tccli's configured region."""
    if flag:
        return flag
    if env.get(ENV_REGION):
        return env[ENV_REGION]
    region = region_of_nodes(nodes)
    if region:
        return region
    conf = _tccli_file(home, env, "configure")
    sys_param = conf.get("_sys_param") if isinstance(conf.get("_sys_param"), dict) else conf
    value = sys_param.get("region") if isinstance(sys_param, dict) else None
    return value if isinstance(value, str) and value else None


def instance_id(node: dict[str, Any]) -> str | None:
    """The CVM instance of a node: label cloud.tencent.com/node-instance-id, else spec.providerID
    (qcloud:///800002/ins-xxxxxxxx)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    value = labels.get(NODE_INSTANCE_LABEL)
    if isinstance(value, str) and _INSTANCE_ID.fullmatch(value):
        return value
    provider = str((node.get("spec") or {}).get("providerID") or "")
    last = provider.rstrip("/").rsplit("/", 1)[-1]
    return last if provider.startswith("qcloud://") and _INSTANCE_ID.fullmatch(last) else None


# --- address sets ----------------------------------------------------------------------------------------

Interval = tuple[int, int]


def _merge(items: Iterable[Interval]) -> tuple[Interval, ...]:
    out: list[Interval] = []
    for lo, hi in sorted(items):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _intersect(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> tuple[Interval, ...]:
    return _merge((max(x[0], y[0]), min(x[1], y[1])) for x in a for y in b if max(x[0], y[0]) <= min(x[1], y[1]))


def _subtract(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> tuple[Interval, ...]:
    out: list[Interval] = []
    for lo, hi in a:
        pieces = [(lo, hi)]
        for blo, bhi in b:
            next_pieces: list[Interval] = []
            for plo, phi in pieces:
                if bhi < plo or blo > phi:
                    next_pieces.append((plo, phi))
                    continue
                if plo < blo:
                    next_pieces.append((plo, blo - 1))
                if bhi < phi:
                    next_pieces.append((bhi + 1, phi))
            pieces = next_pieces
        out.extend(pieces)
    return _merge(out)


def _address(text: str) -> tuple[int, Interval]:
    """(IP version, interval) of a CIDR, an address, or a range a-b (address templates allow all three)."""
    text = text.strip()
    if "-" in text and "/" not in text:
        first, last = (ipaddress.ip_address(p.strip()) for p in text.split("-", 1))
        if first.version != last.version or int(first) > int(last):
            raise ValueError(f"bad address range {text!r}")
        return first.version, (int(first), int(last))
    net = ipaddress.ip_network(text, strict=False)
    return net.version, (int(net.network_address), int(net.broadcast_address))


@dataclass(frozen=True)
class Addresses:
    """A set of IPv4 and IPv6 addresses as merged intervals."""

    v4: tuple[Interval, ...] = ()
    v6: tuple[Interval, ...] = ()

    @classmethod
    def parse(cls, texts: Iterable[str]) -> Addresses:
        v4: list[Interval] = []
        v6: list[Interval] = []
        for text in texts:
            version, interval = _address(text)
            (v4 if version == 4 else v6).append(interval)
        return cls(_merge(v4), _merge(v6))

    def __and__(self, other: Addresses) -> Addresses:
        return Addresses(_intersect(self.v4, other.v4), _intersect(self.v6, other.v6))

    def __sub__(self, other: Addresses) -> Addresses:
        return Addresses(_subtract(self.v4, other.v4), _subtract(self.v6, other.v6))

    def __or__(self, other: Addresses) -> Addresses:
        return Addresses(_merge(self.v4 + other.v4), _merge(self.v6 + other.v6))

    def __bool__(self) -> bool:
        return bool(self.v4 or self.v6)

    def covers(self, other: Addresses) -> bool:
        return not (other - self)


INTERNET = Addresses.parse(["0.0.0.0/0"]) - Addresses.parse(
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/3",
    ]
)
PRIVATE = Addresses.parse(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])
HEALTH_CHECKS = Addresses.parse(["100.64.0.0/10"])  # CLB health checks after prevent-loopback (TKE-FACTS §0)
CLB_SNAT = Addresses.parse(["100.127.0.0/16"])  # CLB L7 SNAT with keep-alive (TKE-FACTS §0)


# --- security-group rules ----------------------------------------------------------------------------------


def parse_ports(text: str) -> tuple[Interval, ...] | None:
    """A rule's Port: "ALL" (None: every port), "80", "80,443", "30000-32768"; ValueError otherwise."""
    text = (text or "").strip()
    if text.upper() in ("", "ALL"):
        return None
    out: list[Interval] = []
    for part in text.split(","):
        lo, _sep, hi = part.strip().partition("-")
        low, high = int(lo), int(hi or lo)
        if not 0 <= low <= high <= 65535:
            raise ValueError(f"bad port {part!r}")
        out.append((low, high))
    return _merge(out)


@dataclass(frozen=True)
class Rule:
    """One inbound rule. `opaque` says why it cannot be judged here (the source is another security group, the
    ports are a service template, an address template could not be read): such a rule never decides a verdict."""

    group: str
    index: int
    action: str
    protocol: str
    ports: tuple[Interval, ...] | None
    sources: Addresses
    source: str
    opaque: str | None = None

    def serves(self, protocol: str, port: int) -> bool:
        if self.protocol not in ("ALL", protocol):
            return False
        return self.ports is None or any(lo <= port <= hi for lo, hi in self.ports)

    def text(self) -> str:
        ports = "ALL" if self.ports is None else ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.ports)
        return f"{self.group}#{self.index} {self.action} {self.protocol or '?'} {ports} {self.source}"


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    rules: tuple[Rule, ...]


def parse_rule(group: str, policy: dict[str, Any], templates: Mapping[str, Addresses]) -> Rule:
    """A SecurityGroupPolicy of DescribeSecurityGroupPolicies; address templates resolved through `templates`
    (ipm-/ipmg- ID to addresses; a missing ID makes the rule opaque)."""
    index = int(policy.get("PolicyIndex") or 0)
    action = str(policy.get("Action") or "").upper()
    protocol = str(policy.get("Protocol") or "").upper()
    opaque: str | None = None
    ports: tuple[Interval, ...] | None = None
    service = policy.get("ServiceTemplate") or {}
    if service.get("ServiceId") or service.get("ServiceGroupId"):
        opaque = "service template " + str(service.get("ServiceId") or service.get("ServiceGroupId"))
    else:
        try:
            ports = parse_ports(str(policy.get("Port") or ""))
        except ValueError:
            opaque = f"port {policy.get('Port')!r}"
    sources = Addresses()
    template = policy.get("AddressTemplate") or {}
    if policy.get("CidrBlock") or policy.get("Ipv6CidrBlock"):
        source = str(policy.get("CidrBlock") or policy.get("Ipv6CidrBlock"))
        try:
            sources = Addresses.parse([source])
        except ValueError:
            opaque = opaque or f"source {source!r}"
    elif template.get("AddressId") or template.get("AddressGroupId"):
        source = str(template.get("AddressId") or template.get("AddressGroupId"))
        if source in templates:
            sources = templates[source]
        else:
            opaque = opaque or f"address template {source} could not be read"
    elif policy.get("SecurityGroupId"):
        source = str(policy["SecurityGroupId"])
        opaque = opaque or f"source is security group {source}"
    else:
        source = "?"
        opaque = opaque or "no source"
    if action not in ("ACCEPT", "DROP"):
        opaque = opaque or f"action {action!r}"
    return Rule(group, index, action, protocol, ports, sources, source, opaque)


@dataclass(frozen=True)
class Verdict:
    """What a chain of security groups does to traffic from `source` to protocol/port."""

    accepted: Addresses
    refused: Addresses
    deciding: tuple[Rule, ...]
    uncertain: tuple[Rule, ...]

    @property
    def allowed(self) -> bool:
        """Some of the source gets through."""
        return bool(self.accepted)


def evaluate(groups: Sequence[SecurityGroup], protocol: str, port: int, source: Addresses) -> Verdict:
    """The cloud's order: the instance's security groups in their bound order, the inbound rules of each by
    PolicyIndex; the first rule that matches a packet decides; no match is a drop. Done for every address of
    `source` at once, as sets."""
    protocol = protocol.upper()
    remaining = source
    accepted = Addresses()
    deciding: list[Rule] = []
    uncertain: list[Rule] = []
    for group in groups:
        for rule in sorted(group.rules, key=lambda r: r.index):
            if not remaining:
                break
            if rule.opaque is not None:
                # Only a rule that could match this packet leaves the verdict open: SSH from a bastion's
                # security group says nothing about a NodePort.
                if rule.protocol in ("", "ALL", protocol) and rule.serves(rule.protocol or protocol, port):
                    uncertain.append(rule)
                continue
            if not rule.serves(protocol, port):
                continue
            hit = remaining & rule.sources
            if not hit:
                continue
            deciding.append(rule)
            if rule.action == "ACCEPT":
                accepted = accepted | hit
            remaining = remaining - hit
    return Verdict(accepted, source - accepted, tuple(deciding), tuple(uncertain))


# --- facts -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    id: str
    security_groups: tuple[str, ...]
    bandwidth_out: int
    public_ips: tuple[str, ...]


@dataclass(frozen=True)
class LoadBalancer:
    id: str
    type: str  # OPEN (public) or INTERNAL
    security_groups: tuple[str, ...]
    pass_to_target: bool
    vips: tuple[str, ...]


class CloudError(Exception):
    """An API call failed; `code` is the API's error code (AuthFailure.SignatureFailure, ...)."""

    def __init__(self, code: str, message: str, action: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.action = action


class Api(Protocol):
    def call(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """The Response object of one API call; raises CloudError."""
        ...


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _reason(exc: CloudError, service: str) -> str:
    code = exc.code
    if code.startswith("AuthFailure"):
        hint = _("authentication failed; check {id}/{key} or `tccli configure`").format(
            id=ENV_SECRET_ID, key=ENV_SECRET_KEY
        )
    elif code.startswith(("UnauthorizedOperation", "OperationDenied")):
        hint = _("permission denied; the CAM policy needs {action}").format(action=f"{service}:{exc.action}")
    elif code.startswith("RequestLimitExceeded"):
        hint = _("rate limited; run again later")
    elif code in ("ClientNetworkError", "ServerNetworkError") and "CERTIFICATE_VERIFY_FAILED" in exc.message:
        hint = _(
            "the API's TLS certificate is not trusted; behind a TLS-inspecting proxy, name its CA with "
            "REQUESTS_CA_BUNDLE"
        )
    elif code in ("ClientNetworkError", "ServerNetworkError"):
        hint = _("cannot reach the Tencent Cloud API (network or timeout)")
    else:
        hint = _("the API refused the call")
    return _("Tencent Cloud {service}:{action}: {hint} ({code}: {message})").format(
        service=service, action=exc.action, hint=hint, code=code, message=exc.message
    )


class CloudFacts:
    """What the cloud checks read, fetched on first use in batches (one call per kind and page, not per object)
    and kept; a kind that cannot be read raises Unavailable with the reason, every time it is asked for."""

    def __init__(
        self,
        api: Api | None,
        region: str | None,
        unavailable: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.api = api
        self.region = region
        self.unavailable = unavailable
        self.log = log
        # The kinds of objects the run examines (svc: services, ingress: ingresses, loopback: both).
        self.scope: tuple[str, ...] = ("services", "ingresses")
        self._instances: dict[str, Instance | None] = {}
        self._groups: dict[str, SecurityGroup | None] = {}
        self._lbs: dict[str, LoadBalancer | None] = {}
        self._templates: dict[str, Addresses] = {}
        self._account: str | None = None
        self._errors: dict[str, str] = {}

    def _call(self, kind: str, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.unavailable is not None or self.api is None:
            raise Unavailable("cloud", self.unavailable or _("Tencent Cloud checks are off"))
        if kind in self._errors:
            raise Unavailable("cloud", self._errors[kind])
        if self.log:
            shown = {k: v for k, v in params.items() if k != "Filters"}
            self.log(f"tencent cloud: {service}:{action} {json.dumps(shown, sort_keys=True)} ({self.region})")
        try:
            return self.api.call(service, action, params)
        except CloudError as exc:
            self._errors[kind] = _reason(exc, service)
            if exc.code.startswith("AuthFailure"):
                self.unavailable = self._errors[kind]  # every later call would fail the same way
            raise Unavailable("cloud", self._errors[kind]) from None

    def _pages(
        self, kind: str, service: str, action: str, params: dict[str, Any], *, items: str, strings: bool = False
    ) -> list[dict[str, Any]]:
        """Every item of a paginated Describe call (Offset/Limit, TotalCount); VPC wants them as strings."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = {**params, "Offset": str(offset) if strings else offset, "Limit": str(PAGE) if strings else PAGE}
            resp = self._call(kind, service, action, page)
            got = [i for i in resp.get(items) or [] if isinstance(i, dict)]
            out.extend(got)
            offset += len(got)
            if not got or offset >= int(resp.get("TotalCount") or 0):
                return out

    def instances(self, ids: Iterable[str]) -> dict[str, Instance]:
        """CVM instances by ID (DescribeInstances, 100 IDs a call); an unknown ID is left out."""
        ids = list(ids)
        missing = sorted({i for i in ids if i not in self._instances})
        for chunk in _chunks(missing, INSTANCE_BATCH):
            params = {"InstanceIds": chunk}
            for item in self._pages("instances", "cvm", "DescribeInstances", params, items="InstanceSet"):
                inet = item.get("InternetAccessible") or {}
                inst: Instance | None = Instance(
                    str(item.get("InstanceId")),
                    tuple(item.get("SecurityGroupIds") or ()),
                    int(inet.get("InternetMaxBandwidthOut") or 0),
                    tuple(item.get("PublicIpAddresses") or ()),
                )
                self._instances[str(item.get("InstanceId"))] = inst
            for i in chunk:
                self._instances.setdefault(i, None)
        return {i: inst for i in ids if (inst := self._instances.get(i)) is not None}

    def _resolve_templates(self, policies: Iterable[dict[str, Any]]) -> None:
        """Addresses of the address templates and template groups the rules name (two batched describes)."""
        direct: set[str] = set()
        groups: set[str] = set()
        for policy in policies:
            spec = policy.get("AddressTemplate") or {}
            if spec.get("AddressId"):
                direct.add(str(spec["AddressId"]))
            if spec.get("AddressGroupId"):
                groups.add(str(spec["AddressGroupId"]))
        members: dict[str, list[str]] = {}
        wanted_groups = sorted(groups - set(self._templates))
        for chunk in _chunks(wanted_groups, FILTER_BATCH):
            filters = [{"Name": "address-template-group-id", "Values": chunk}]
            for item in self._pages(
                "templates",
                "vpc",
                "DescribeAddressTemplateGroups",
                {"Filters": filters},
                items="AddressTemplateGroupSet",
                strings=True,
            ):
                ids = list(item.get("AddressTemplateIdSet") or [])
                ids += [t.get("AddressTemplateId") for t in item.get("AddressTemplateSet") or [] if isinstance(t, dict)]
                members[str(item.get("AddressTemplateGroupId"))] = sorted({str(i) for i in ids if i})
        wanted = sorted((direct | {m for ms in members.values() for m in ms}) - set(self._templates))
        for chunk in _chunks(wanted, FILTER_BATCH):
            filters = [{"Name": "address-template-id", "Values": chunk}]
            for item in self._pages(
                "templates",
                "vpc",
                "DescribeAddressTemplates",
                {"Filters": filters},
                items="AddressTemplateSet",
                strings=True,
            ):
                texts = [str(a) for a in item.get("AddressSet") or []]
                texts += [
                    str(e.get("Address"))
                    for e in item.get("AddressExtraSet") or []
                    if isinstance(e, dict) and e.get("Address")
                ]
                try:
                    self._templates[str(item.get("AddressTemplateId"))] = Addresses.parse(set(texts))
                except ValueError:
                    continue  # left out: the rules that use it stay opaque
        for gid, ids in members.items():
            if all(i in self._templates for i in ids):
                combined = Addresses()
                for i in ids:
                    combined = combined | self._templates[i]
                self._templates[gid] = combined

    def security_groups(self, ids: Iterable[str]) -> dict[str, SecurityGroup]:
        """Inbound rules of each security group (DescribeSecurityGroupPolicies takes one group per call)."""
        ids = list(ids)
        wanted = sorted({i for i in ids if i not in self._groups})
        policies: dict[str, list[dict[str, Any]]] = {}
        for sg in wanted:
            resp = self._call("security-groups", "vpc", "DescribeSecurityGroupPolicies", {"SecurityGroupId": sg})
            policy_set = resp.get("SecurityGroupPolicySet") or {}
            policies[sg] = [p for p in policy_set.get("Ingress") or [] if isinstance(p, dict)]
        if wanted:
            # On failure the rules that name templates stay opaque, and never decide a verdict.
            with contextlib.suppress(Unavailable):
                self._resolve_templates(p for ps in policies.values() for p in ps)
        for sg, items in policies.items():
            rules = tuple(sorted((parse_rule(sg, p, self._templates) for p in items), key=lambda r: r.index))
            self._groups[sg] = SecurityGroup(sg, rules)
        return {i: g for i in ids if (g := self._groups.get(i)) is not None}

    def load_balancers(self, ids: Iterable[str]) -> dict[str, LoadBalancer]:
        """CLB instances by ID (DescribeLoadBalancers, 20 IDs a call)."""
        ids = list(ids)
        missing = sorted({i for i in ids if i not in self._lbs})
        for chunk in _chunks(missing, LB_BATCH):
            for item in self._pages(
                "load-balancers", "clb", "DescribeLoadBalancers", {"LoadBalancerIds": chunk}, items="LoadBalancerSet"
            ):
                lb: LoadBalancer | None = LoadBalancer(
                    str(item.get("LoadBalancerId")),
                    str(item.get("LoadBalancerType") or ""),
                    tuple(item.get("SecureGroups") or ()),
                    bool(item.get("LoadBalancerPassToTarget")),
                    tuple(item.get("LoadBalancerVips") or ()),
                )
                self._lbs[str(item.get("LoadBalancerId"))] = lb
            for i in chunk:
                self._lbs.setdefault(i, None)
        return {i: lb for i in ids if (lb := self._lbs.get(i)) is not None}

    def account_type(self) -> str:
        """STANDARD (bandwidth on the CLB) or LEGACY (bandwidth on the backend CVMs): DescribeNetworkAccountType."""
        if self._account is None:
            resp = self._call("account", "vpc", "DescribeNetworkAccountType", {})
            self._account = str(resp.get("NetworkAccountType") or "")
        return self._account


# --- the SDK -----------------------------------------------------------------------------------------------


def scrub(text: str, creds: Credentials) -> str:
    """`text` without the secret key or the token, whatever an error message or a server echoed."""
    for secret in (creds.secret_key, creds.token):
        if secret:
            text = text.replace(secret, "***")
    return text


class SdkApi:
    """The official SDK's product clients (cvm, vpc, clb), one per service, called with JSON parameters."""

    def __init__(
        self, creds: Credentials, region: str, timeout: float | None, endpoint: str | None, ca_bundle: str | None = None
    ) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile

        self.creds = creds
        self.region = region
        self._clients: dict[str, Any] = {}
        self._cred = credential.Credential(creds.secret_id, creds.secret_key, creds.token)

        def profile(service: str) -> Any:
            # The SDK verifies against certifi's bundle unless told otherwise; behind a TLS-inspecting proxy the
            # usual REQUESTS_CA_BUNDLE / SSL_CERT_FILE name the CA to trust instead.
            http = HttpProfile(certification=ca_bundle)
            http.reqTimeout = timeout  # --request-timeout, as for the API server; None (0) waits as long as it takes
            if endpoint:
                url = endpoint.replace("{service}", service)
                scheme, _sep, host = url.rpartition("://")
                http.protocol = http.scheme = scheme or "https"
                http.endpoint = host.rstrip("/")
            return ClientProfile(httpProfile=http, language="en-US")

        self._profile = profile

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            if service == "cvm":
                from tencentcloud.cvm.v20170312.cvm_client import CvmClient as client
            elif service == "vpc":
                from tencentcloud.vpc.v20170312.vpc_client import VpcClient as client
            else:
                from tencentcloud.clb.v20180317.clb_client import ClbClient as client
            self._clients[service] = client(self._cred, self.region, self._profile(service))
        return self._clients[service]

    def call(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        try:
            body = self._client(service).call_json(action, params)
        except TencentCloudSDKException as exc:
            code = str(exc.get_code() or "ClientError")
            message = scrub(str(exc.get_message() or ""), self.creds)
            raise CloudError(code, _one_line(message), action) from None
        except Exception as exc:  # the SDK lets some transport and decoding errors through unwrapped
            raise CloudError("ClientNetworkError", _one_line(scrub(str(exc), self.creds)), action) from None
        resp = body.get("Response") if isinstance(body, dict) else None
        if not isinstance(resp, dict):
            raise CloudError("InvalidResponse", "no Response object", action)
        return resp


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


# --- wiring for the CLI ------------------------------------------------------------------------------------


def wanted(cloud_flag: bool | None, snapshot: bool, select: Sequence[str], creds: Credentials | None) -> bool:
    """Whether this run does the cloud checks: --cloud (or --select naming TKE4xx) asks for them; --no-cloud
    refuses; otherwise they run on live runs with credentials. A --snapshot run is offline unless asked."""
    if cloud_flag is False:
        return False
    if cloud_flag or any(code.startswith(CLOUD_PREFIX) for code in select):
        return True
    return not snapshot and creds is not None


def open_facts(
    *,
    cloud_flag: bool | None,
    region_flag: str | None,
    snapshot: bool,
    select: Sequence[str],
    nodes: Callable[[], list[dict[str, Any]]],
    timeout: float | None,
    scope: tuple[str, ...],
    log: Callable[[str], None] | None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> CloudFacts | None:
    """The run's CloudFacts, or None when the cloud checks are off (they are then left out altogether)."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    creds = find_credentials(env, home)
    if not wanted(cloud_flag, snapshot, select, creds):
        return None
    facts = _open(creds=creds, region_flag=region_flag, env=env, home=home, nodes=nodes, timeout=timeout, log=log)
    facts.scope = scope
    return facts


def _open(
    *,
    creds: Credentials | None,
    region_flag: str | None,
    env: Mapping[str, str],
    home: Path,
    nodes: Callable[[], list[dict[str, Any]]],
    timeout: float | None,
    log: Callable[[str], None] | None,
) -> CloudFacts:
    if creds is None:
        return CloudFacts(
            None,
            None,
            _("no Tencent Cloud credentials: set {id} and {key}, or run `tccli configure`").format(
                id=ENV_SECRET_ID, key=ENV_SECRET_KEY
            ),
        )
    region = resolve_region(region_flag, env, nodes(), home)
    if not region:
        return CloudFacts(
            None,
            None,
            _("Tencent Cloud region unknown: pass --region (e.g. ap-guangzhou) or set {env}").format(env=ENV_REGION),
        )
    if log:
        log(f"tencent cloud: region {region}, credentials from {creds.source}")
    try:
        api: Api = SdkApi(
            creds,
            region,
            timeout,
            env.get(ENV_ENDPOINT) or None,
            env.get("REQUESTS_CA_BUNDLE") or env.get("SSL_CERT_FILE") or None,
        )
    except ImportError:
        return CloudFacts(
            None, region, _("the Tencent Cloud SDK is not installed: pip install 'kubectl-tke-net[cloud]'")
        )
    return CloudFacts(api, region, log=log)
