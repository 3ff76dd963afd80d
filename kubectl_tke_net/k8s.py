"""Kubernetes helpers that several areas use (checks, fix, probe): object fields, label selectors, Pod
readiness, port resolution, Ingress backends, TKE's class and internal markers, TkeServiceConfig names, the
cluster domain. Pure functions of plain objects; no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubectl_tke_net import tke
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.i18n import _
from kubectl_tke_net.model import UsageError

Obj = dict[str, Any]


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def annotations_of(obj: Obj) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def labels(obj: Obj) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def ref(obj: Obj) -> Ref:
    m = meta(obj)
    return Ref(str(obj.get("kind", "")), m.get("namespace") or "", m.get("name") or "")


_REQUIREMENT = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<nkey>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


@dataclass(frozen=True)
class Selector:
    requirements: tuple[tuple[str, str, tuple[str, ...]], ...]

    @classmethod
    def parse(cls, text: str) -> Selector:
        reqs: list[tuple[str, str, tuple[str, ...]]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            match = _REQUIREMENT.match(text, pos)
            if not match or match.end() == pos:
                raise UsageError(_("invalid label selector {selector}").format(selector=repr(text)))
            pos = match.end()
            if match["nkey"]:
                reqs.append((match["nkey"], "!exists", ()))
            elif match["op"]:
                op = "!=" if match["op"] == "!=" else "="
                reqs.append((match["key"], op, (match["value"],)))
            elif match["setop"]:
                values = tuple(v.strip() for v in match["values"].split(",") if v.strip())
                reqs.append((match["key"], match["setop"], values))
            else:
                reqs.append((match["key"], "exists", ()))
        return cls(tuple(reqs))

    def matches(self, obj_labels: dict[str, str]) -> bool:
        for key, op, values in self.requirements:
            present = key in obj_labels
            value = obj_labels.get(key)
            ok = {
                "=": present and value == values[0],
                "!=": not present or value != values[0],
                "in": present and value in values,
                "notin": not present or value not in values,
                "exists": present,
                "!exists": not present,
            }[op]
            if not ok:
                return False
        return True


# Label keys and values as the API server validates them: a name of at most 63 characters (alphanumeric at
# both ends; '-', '_', '.' inside), with an optional DNS-subdomain prefix before a '/' for keys.
_LABEL_NAME = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _label_key_ok(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return bool(_LABEL_NAME.fullmatch(name))


def selector_problem(text: str) -> str | None:
    """Why `text` is not a label selector Kubernetes would parse (key=value, key!=value, key in (a,b),
    key notin (a,b), key, !key, comma-separated; keys and values as labels allow), or None."""
    try:
        requirements = Selector.parse(text).requirements
    except UsageError:
        return _("{value} is not a label selector (key=value, key!=value, key in (a,b), key, !key)").format(
            value=repr(text)
        )
    for key, op, values in requirements:
        if not _label_key_ok(key):
            return _("{key} is not a valid label key").format(key=repr(key))
        if op in ("in", "notin") and not values:
            return _("{key} {op} () lists no value").format(key=key, op=op)
        for value in values:
            if value and not _LABEL_NAME.fullmatch(value):
                return _("{value} is not a valid label value").format(value=repr(value))
    return None


def has_backends(svc: Obj) -> bool:
    """Services without a selector and ExternalName Services get no Pod or endpoint check."""
    spec = _spec(svc)
    return spec.get("type") != "ExternalName" and bool(spec.get("selector"))


def selector_matches(selector: dict[str, str], obj_labels: dict[str, str]) -> bool:
    return all(obj_labels.get(k) == v for k, v in selector.items())


TERMINATED_PHASES = ("Succeeded", "Failed")


_EPOCH = datetime.min.replace(tzinfo=UTC)


def parse_time(value: object) -> datetime:
    if not value:
        return _EPOCH
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return _EPOCH
    # A time without a zone (hand-written, e.g. a bare date) is taken as UTC: naive and aware do not compare.
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def event_time(event: Obj) -> datetime:
    series = event.get("series") or {}
    return max(
        parse_time(series.get("lastObservedTime")),
        parse_time(event.get("lastTimestamp")),
        parse_time(event.get("eventTime")),
        parse_time(event.get("firstTimestamp")),
        parse_time(meta(event).get("creationTimestamp")),
    )


def pod_condition(pod: Obj, ctype: str) -> str | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return str(cond.get("status"))
    return None


def pod_ready(pod: Obj) -> bool:
    return pod_condition(pod, "Ready") == "True"


def pod_containers(pod: Obj) -> list[dict[str, Any]]:
    return list((pod.get("spec") or {}).get("containers") or [])


def failing_gates(pod: Obj) -> list[str]:
    """Readiness gates of the Pod whose condition is not True."""
    gates = [g.get("conditionType") for g in (pod.get("spec") or {}).get("readinessGates") or []]
    return [g for g in gates if g and pod_condition(pod, g) != "True"]


def not_ready_reason(pod: Obj) -> str:
    """A short reason a Pod is not ready, in the words `kubectl describe` would show."""
    phase = (pod.get("status") or {}).get("phase") or "Unknown"
    if phase != "Running":
        return phase
    gates = failing_gates(pod)
    if gates:
        return _("readiness gate {gate} is not True").format(gate=gates[0])
    waiting = [
        (cs.get("state") or {}).get("waiting", {}).get("reason")
        for cs in (pod.get("status") or {}).get("containerStatuses") or []
        if not cs.get("ready")
    ]
    waiting = [w for w in waiting if w]
    if waiting:
        return str(waiting[0])
    return _("containers not ready")


def ingress_class(ing: Obj) -> str | None:
    """The class an Ingress names, by annotation or by spec.ingressClassName (the annotation wins, as in TKE)."""
    return annotations_of(ing).get(tke.ING_CLASS) or (ing.get("spec") or {}).get("ingressClassName") or None


def is_clb_ingress(ing: Obj) -> bool:
    """TKE's controller serves class `qcloud` and Ingresses without any class (SPEC §7)."""
    cls = ingress_class(ing)
    return cls is None or cls == tke.QCLOUD_CLASS


def is_internal_ingress(ing: Obj) -> bool:
    return is_clb_ingress(ing) and tke.ING_SUBNET in annotations_of(ing)


def is_internal_service(svc: Obj) -> bool:
    return (svc.get("spec") or {}).get("type") == "LoadBalancer" and tke.SVC_INTERNAL_SUBNET in annotations_of(svc)


def target_port(port: dict[str, Any]) -> int | str:
    target = port.get("targetPort")
    if target is None or target == "":
        return int(port.get("port") or 0)
    if isinstance(target, str) and target.isdigit():
        return int(target)
    return target  # type: ignore[no-any-return]


def container_ports(pod: Obj) -> list[dict[str, Any]]:
    return [p for c in pod_containers(pod) for p in c.get("ports") or []]


def container_port_for(pod: Obj, target: int | str, protocol: str | None = None) -> dict[str, Any] | None:
    """The container port a Service port targets; one of the given protocol first (DNS declares 53 twice)."""
    key = "name" if isinstance(target, str) else "containerPort"
    first: dict[str, Any] | None = None
    # One walk, no lists: the Service checks ask this of every selected Pod, for each of their ports.
    for container in (pod.get("spec") or {}).get("containers") or []:
        ports: list[dict[str, Any]] = container.get("ports") or []
        for port in ports:
            if port.get(key) == target:
                if str(port.get("protocol") or "TCP") == protocol:
                    return port
                if first is None:
                    first = port
    return first


@dataclass(frozen=True)
class Backend:
    """One place an Ingress sends traffic: a rule's path or the default backend, to a Service port."""

    where: str  # "default backend" or "rule shop.example.com/api (Prefix)"
    service: str
    port: int | str | None


def port_value(value: object) -> int | str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text) if text.isdigit() else text


def service_ref(backend: dict[str, Any]) -> tuple[str, int | str | None] | None:
    """(Service name, port) of a backend; None for a `resource` backend, which names no Service."""
    service = backend.get("service")
    if service:
        port = service.get("port") or {}
        return str(service.get("name") or ""), port_value(port.get("number") or port.get("name"))
    # extensions/v1beta1 shape, as in snapshots taken from clusters older than 1.19.
    if backend.get("serviceName"):
        return str(backend["serviceName"]), port_value(backend.get("servicePort"))
    return None


def rule_paths(ing: Obj) -> Iterator[tuple[str, str, str | None, dict[str, Any]]]:
    """(host, path, pathType, backend) of every rule path; host "*" when the rule matches any host."""
    for rule in _spec(ing).get("rules") or []:
        host = str(rule.get("host") or "*").lower()
        for path in (rule.get("http") or {}).get("paths") or []:
            yield host, str(path.get("path") or "/"), path.get("pathType"), path.get("backend") or {}


# TKE's mixed HTTP/HTTPS rules: with them, the CLB serves each listed rule on that protocol only [S15].
MIXED_RULES = (("HTTP", "kubernetes.io/ingress.http-rules"), ("HTTPS", "kubernetes.io/ingress.https-rules"))


def mixed_rules(ing: Obj) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(protocol, host, path, backend) of each entry of `kubernetes.io/ingress.http-rules` / `https-rules`; host
    "*" when absent. A value that is not a JSON array gives nothing (TKE214 reports it); so does an entry that
    is not an object."""
    notes = annotations_of(ing)
    for protocol, key in MIXED_RULES:
        try:
            entries = json.loads(notes[key]) if key in notes else []
        except ValueError:
            continue
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                backend = entry.get("backend")
                host = str(entry.get("host") or "*").lower()
                yield protocol, host, str(entry.get("path") or "/"), backend if isinstance(backend, dict) else {}


def rule_text(host: str, path: str, path_type: str | None) -> str:
    return f"{host}{path}" + (f" ({path_type})" if path_type else "")


def default_backend(ing: Obj) -> dict[str, Any] | None:
    spec = _spec(ing)
    return spec.get("defaultBackend") or spec.get("backend") or None


def backends(ing: Obj) -> list[Backend]:
    """The Service backends of an Ingress, default backend first, in the order traffic is routed, then those of
    the mixed HTTP/HTTPS rules annotations (the CLB binds them just the same)."""
    found = []
    default = default_backend(ing)
    if default and (target := service_ref(default)):
        found.append(Backend(_("default backend"), *target))
    for host, path, path_type, backend in rule_paths(ing):
        if target := service_ref(backend):
            found.append(Backend(_("rule {rule}").format(rule=rule_text(host, path, path_type)), *target))
    for protocol, host, path, backend in mixed_rules(ing):
        if target := service_ref(backend):
            where = _("{protocol} rule {rule}").format(protocol=protocol, rule=rule_text(host, path, None))
            found.append(Backend(where, *target))
    return found


def service_port_matches(svc: Obj, port: int | str) -> bool:
    """A name matches spec.ports[].name, a number spec.ports[].port (never targetPort or nodePort)."""
    key = "name" if isinstance(port, str) else "port"
    return any(p.get(key) == port for p in _spec(svc).get("ports") or [])


def tke_service_config_name(ing: Obj) -> str | None:
    notes = annotations_of(ing)
    if notes.get(tke.ING_TSC):
        return str(notes[tke.ING_TSC])
    if tke.is_true(notes.get(tke.ING_TSC_AUTO)):
        return f"{meta(ing).get('name')}-auto-ingress-config"
    return None


def corefile_code(line: str) -> str:
    return line.split("#", 1)[0]


def cluster_domain(corefile: str) -> str:
    """The first zone of the `kubernetes` plugin (default cluster.local)."""
    for line in corefile.split("\n"):
        words = corefile_code(line).split()
        if words and words[0] == "kubernetes":
            for word in words[1:]:
                if word == "{":
                    break
                zone = word.lower().rstrip(".")
                if not zone.endswith(("in-addr.arpa", "ip6.arpa")):
                    return zone
    return "cluster.local"


def is_super_node(node: Obj) -> bool:
    """A TKE super node (eklet): label node.kubernetes.io/instance-type: eklet, or an eklet-* name."""
    return labels(node).get(tke.INSTANCE_TYPE_LABEL) == tke.EKLET or str(meta(node).get("name", "")).startswith(
        "eklet-"
    )


def is_super_node_pod(pod: Obj, super_nodes: frozenset[str] = frozenset()) -> bool:
    """A Pod on a super node: its pod-type annotation, its node, or its own VM's address (hostIP == podIP,
    which a hostNetwork Pod shares with CVM nodes, so not for those)."""
    # Asked of every selected Pod of a run: its dicts are read directly, not through meta() and _spec().
    notes = (pod.get("metadata") or {}).get("annotations")
    if notes and notes.get(tke.POD_TYPE) == tke.EKLET:
        return True
    spec = pod.get("spec") or {}
    if super_nodes and str(spec.get("nodeName") or "") in super_nodes:
        return True
    status = pod.get("status") or {}
    ip = status.get("podIP")
    return not spec.get("hostNetwork") and bool(ip) and status.get("hostIP") == ip
