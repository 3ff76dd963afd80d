"""Tencent Cloud facts as data: the CloudFacts item the cloud source writes into the snapshot, a read-only view
of it for the checks TKE401-TKE406, and the first-match evaluation of security-group rules (pure: no I/O)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from kubectl_tke_net.i18n import _
from kubectl_tke_net.model import Unavailable

NODE_INSTANCE_LABEL = "cloud.tencent.com/node-instance-id"
_INSTANCE_ID = re.compile(r"ins-[0-9a-z]+")

# The CloudFacts item: one per region, beside the Kubernetes objects of a snapshot (snapshot.FACTS_API).
KIND = "CloudFacts"
API_VERSION = "tke-net/v1"
# The reads, as CloudFacts names them (keys of `errors`, `notFound`).
INSTANCES = "instances"
LOAD_BALANCERS = "loadBalancers"
SECURITY_GROUPS = "securityGroups"
TEMPLATES = "addressTemplates"
ACCOUNT = "networkAccountType"
CERTIFICATES = "certificates"
# When the certificates were read (RFC 3339, UTC): the run's clock, against which TKE406 judges expiry, kept in the
# CloudFacts so that a snapshot of them is judged as the live run was.
READ_AT = "readAt"


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


# The SSL API gives certificate times in Beijing time (DescribeCertificates: "时区为GMT+8:00").
_SSL_ZONE = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Certificate:
    """An SSL certificate as DescribeCertificates returns it (tencentcloud/ssl/v20191205/models.py, Certificates)."""

    id: str
    type: str  # CertificateType: SVR (server) or CA (client)
    status: int | None  # Status: 1 issued ("已通过"), 3 expired, ...
    end_time: str  # CertEndTime as the API gives it, "2026-03-01 23:59:59" (GMT+8)
    domain: str

    def ends(self) -> datetime | None:
        """CertEndTime as an aware time, or None when it does not parse."""
        try:
            return datetime.strptime(self.end_time, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_SSL_ZONE)
        except ValueError:
            return None


def new_facts(region: str | None, unavailable: str | None = None) -> dict[str, Any]:
    """An empty CloudFacts item: what each read found is added by the cloud source (kubectl_tke_net.sources.cloud).

    instances / loadBalancers: by ID, the fields the checks read, as the API names them; securityGroups: by ID,
    the inbound policies as DescribeSecurityGroupPolicies returned them; addressTemplates: by ID, the addresses
    (AddressSet and AddressExtraSet); addressTemplateGroups: by ID, the member template IDs; networkAccountType:
    STANDARD or LEGACY once read; certificates (once read): by ID, the fields TKE406 reads of DescribeCertificates,
    with readAt, when they were read; notFound: the IDs asked for that the API does not know; errors: the reads that
    failed and why; unavailable: why nothing could be read (no credentials, no region, authentication)."""
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": region or "unknown"},
        INSTANCES: {},
        LOAD_BALANCERS: {},
        SECURITY_GROUPS: {},
        TEMPLATES: {},
        "addressTemplateGroups": {},
        "notFound": {INSTANCES: [], LOAD_BALANCERS: []},
        "errors": {},
    }
    if region:
        doc["region"] = region
    if unavailable:
        doc["unavailable"] = unavailable
    return doc


@dataclass
class Wants:
    """What the checks asked a CloudView for that its CloudFacts do not hold yet (while planning the reads)."""

    instances: set[str] = field(default_factory=set)
    load_balancers: set[str] = field(default_factory=set)
    security_groups: set[str] = field(default_factory=set)
    account: bool = False
    certificates: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.instances or self.load_balancers or self.security_groups or self.account or self.certificates)


class Pending(Unavailable):
    """A planning view's answer to a question its facts cannot answer yet (the source reads it, then asks again)."""

    def __init__(self) -> None:
        super().__init__("cloud", "pending")


def _map(doc: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def templates_of(doc: Mapping[str, Any]) -> dict[str, Addresses]:
    """Addresses of each address template and template group that could be read; a template whose addresses do
    not parse, and a group with such a member or one never read, are left out (the rules naming them are opaque)."""
    out: dict[str, Addresses] = {}
    for tid, texts in _map(doc, TEMPLATES).items():
        try:
            out[str(tid)] = Addresses.parse(set(_strings(texts)))
        except ValueError:
            continue
    for gid, members in _map(doc, "addressTemplateGroups").items():
        ids = _strings(members)
        if all(i in out for i in ids):
            combined = Addresses()
            for i in ids:
                combined = combined | out[i]
            out[str(gid)] = combined
    return out


class CloudView:
    """What the cloud checks read, answered from one CloudFacts item (never from the API). A read that failed
    raises Unavailable with its reason; an ID the facts never asked about raises too (a snapshot from another
    run), or, while planning (`wants`), is noted in `wants` and raises Pending."""

    def __init__(
        self, doc: Mapping[str, Any], scope: tuple[str, ...] = ("services", "ingresses"), wants: Wants | None = None
    ) -> None:
        self.doc = doc
        # The kinds of objects the run examines (svc: services, ingress: ingresses, loopback: both).
        self.scope = scope
        self.wants = wants
        self._groups: dict[str, SecurityGroup] = {}
        self._templates: dict[str, Addresses] | None = None

    @property
    def region(self) -> str | None:
        region = self.doc.get("region")
        return str(region) if region else None

    @property
    def unavailable(self) -> str | None:
        """Why nothing could be read (no credentials, no region, authentication), or None."""
        unavailable = self.doc.get("unavailable")
        return str(unavailable) if unavailable else None

    def _missing(self, read: str, ids: Iterable[str], note: set[str] | None) -> None:
        """Raise for IDs the facts do not hold: the read's failure, or Pending while planning, or a gap."""
        missing = sorted(set(ids))
        if not missing:
            return
        if self.unavailable is not None:
            raise Unavailable("cloud", self.unavailable)
        error = _map(self.doc, "errors").get(read)
        if error:
            raise Unavailable("cloud", str(error))
        if note is not None and self.wants is not None:
            note.update(missing)
            raise Pending()
        shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise Unavailable(
            "cloud",
            _(
                "the snapshot's Tencent Cloud facts do not hold {ids}; dump the cluster again with the cloud "
                "checks on (`kubectl tke-net dump --cloud`)"
            ).format(ids=shown),
        )

    def _note(self, name: str) -> set[str] | None:
        """Where a planning view notes the IDs of one read; None when not planning."""
        return None if self.wants is None else getattr(self.wants, name)

    def _not_found(self, read: str) -> set[str]:
        return set(_strings(_map(self.doc, "notFound").get(read)))

    def instances(self, ids: Iterable[str]) -> dict[str, Instance]:
        """CVM instances by ID; an ID the API does not know is left out."""
        ids = list(ids)
        known, absent = _map(self.doc, INSTANCES), self._not_found(INSTANCES)
        self._missing(INSTANCES, (i for i in ids if i not in known and i not in absent), self._note("instances"))
        out = {}
        for i in ids:
            item = known.get(i)
            if isinstance(item, dict):
                out[i] = Instance(
                    i,
                    _strings(item.get("SecurityGroupIds")),
                    int(item.get("InternetMaxBandwidthOut") or 0),
                    _strings(item.get("PublicIpAddresses")),
                )
        return out

    def load_balancers(self, ids: Iterable[str]) -> dict[str, LoadBalancer]:
        """CLB instances by ID; an ID the API does not know is left out."""
        ids = list(ids)
        known, absent = _map(self.doc, LOAD_BALANCERS), self._not_found(LOAD_BALANCERS)
        self._missing(
            LOAD_BALANCERS,
            (i for i in ids if i not in known and i not in absent),
            self._note("load_balancers"),
        )
        out = {}
        for i in ids:
            item = known.get(i)
            if isinstance(item, dict):
                out[i] = LoadBalancer(
                    i,
                    str(item.get("LoadBalancerType") or ""),
                    _strings(item.get("SecureGroups")),
                    bool(item.get("LoadBalancerPassToTarget")),
                    _strings(item.get("LoadBalancerVips")),
                )
        return out

    def security_groups(self, ids: Iterable[str]) -> dict[str, SecurityGroup]:
        """Inbound rules of each security group, sorted by PolicyIndex, address templates resolved."""
        ids = list(ids)
        known = _map(self.doc, SECURITY_GROUPS)
        self._missing(SECURITY_GROUPS, (i for i in ids if i not in known), self._note("security_groups"))
        if self._templates is None:
            self._templates = templates_of(self.doc)
        for sg in ids:
            if sg not in self._groups:
                policies = [p for p in known.get(sg) or [] if isinstance(p, dict)]
                rules = (parse_rule(sg, p, self._templates) for p in policies)
                self._groups[sg] = SecurityGroup(sg, tuple(sorted(rules, key=lambda r: r.index)))
        return {i: self._groups[i] for i in ids}

    def certificates(self, ids: Iterable[str]) -> dict[str, Certificate]:
        """SSL certificates by ID; an ID the API does not return (unknown, or not visible to the keys) is left out."""
        ids = list(ids)
        known, absent = _map(self.doc, CERTIFICATES), self._not_found(CERTIFICATES)
        self._missing(CERTIFICATES, (i for i in ids if i not in known and i not in absent), self._note("certificates"))
        out = {}
        for i in ids:
            item = known.get(i)
            if isinstance(item, dict):
                status = item.get("Status")
                out[i] = Certificate(
                    i,
                    str(item.get("CertificateType") or ""),
                    status if isinstance(status, int) and not isinstance(status, bool) else None,
                    str(item.get("CertEndTime") or ""),
                    str(item.get("Domain") or ""),
                )
        return out

    def read_at(self) -> datetime:
        """When the certificates were read: the run's now for their expiry (a snapshot keeps the live run's)."""
        try:
            return datetime.fromisoformat(str(self.doc.get(READ_AT)))
        except ValueError:
            raise Unavailable(
                "cloud",
                _(
                    "the snapshot's Tencent Cloud facts do not say when they were read ({key}); dump the cluster "
                    "again with the cloud checks on (`kubectl tke-net dump --cloud`)"
                ).format(key=READ_AT),
            ) from None

    def account_type(self) -> str:
        """STANDARD (bandwidth on the CLB) or LEGACY (bandwidth on the backend CVMs)."""
        value = self.doc.get(ACCOUNT)
        if value is None:
            if self.wants is not None and self.unavailable is None and not _map(self.doc, "errors").get(ACCOUNT):
                self.wants.account = True
                raise Pending()
            self._missing(ACCOUNT, [ACCOUNT], None)
        return str(value)


def pick(items: Sequence[Mapping[str, Any]], region: str | None) -> Mapping[str, Any] | None:
    """The CloudFacts item of a snapshot to read: the one of `region` (--region) if given, else the first."""
    if region:
        return next((i for i in items if i.get("region") == region), None)
    return items[0] if items else None
