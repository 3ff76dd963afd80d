"""TKE's documented Service and Ingress annotations as data: value type, minimum controller version, the
controller code a bad value gives, and the combination rules; and the pure validators the checks use.

Sources (TKE-FACTS-2 §2): Service annotations [S5] (457/51258), [S7] reuse, [S8] specify-protocol, [S9]
direct access, [S10] client-token, [S12] backend selection; Ingress annotations [S6] (457/56112) with types and
minimum versions from [S6b]; the error codes from tke_errors (§1). Where a source gives no type, the type is
`string`; where it gives no minimum version, `min_version` is None (unknown, not "any").
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubectl_tke_net.i18n import _
from kubectl_tke_net.k8s import selector_problem

SERVICE = "Service"
INGRESS = "Ingress"

# The prefixes whose keys are TKE's (or Kubernetes' own, listed in UPSTREAM): a key under them that no source
# documents is a typo or a key this catalogue does not know yet.
PREFIXES = (
    "service.kubernetes.io/",
    "service.cloud.tencent.com/",
    "ingress.cloud.tencent.com/",
    "kubernetes.io/ingress.",
)

# A JSON shape: "object" / "array" (any content), ("array", item shape), ("object-of", value shape) for an
# object whose keys are free (specify-protocol's ports), ("fields", {key: shape}, required keys), or a Python
# type name for a scalar: "string", "integer", "string-or-integer".
Shape = Any


@dataclass(frozen=True)
class Annotation:
    key: str
    kinds: tuple[str, ...]  # SERVICE, INGRESS
    type: str  # string, boolean, integer, enum, json, id, selector (a label selector), read-only
    source: str
    min_version: str | None = None  # of the controller (tke-service-controller / tke-ingress-controller)
    values: tuple[str, ...] = ()  # enum values
    range: tuple[int, int] | None = None  # integer bounds, inclusive
    shape: Shape = None  # json
    pattern: str | None = None  # id: a regular expression the whole value matches
    code: str | None = None  # the controller's error code for a bad value (tke_errors), where documented
    strict: bool = False  # boolean: the controller rejects anything but "true"/"false" (with `code`)


_S, _I, _B = (SERVICE,), (INGRESS,), (SERVICE, INGRESS)
SUBNET = r"subnet-[0-9a-z]{8}"
LB = r"lb-[0-9a-z]{8}"
# Region IDs: ap-guangzhou, but also na-siliconvalley, eu-frankfurt, sa-saopaulo.
REGION = r"[a-z]{2}-[a-z]+(-[a-z0-9]+)*"
CHARGE_TYPES = ("TRAFFIC_POSTPAID_BY_HOUR", "BANDWIDTH_POSTPAID_BY_HOUR")

HTTP_RULES_SHAPE: Shape = (
    "array",
    (
        "fields",
        {
            "host": "string",
            "path": "string",
            "backend": ("fields", {"serviceName": "string", "servicePort": "string-or-integer"}, ("serviceName",)),
        },
        ("backend",),
    ),
)

ANNOTATIONS: tuple[Annotation, ...] = (
    # --- Services [S5] unless said otherwise ----------------------------------------------------------------
    Annotation("service.kubernetes.io/qcloud-loadbalancer-internal-subnetid", _S, "id", "S5", pattern=SUBNET),
    Annotation("service.kubernetes.io/tke-existed-lbid", _S, "id", "S7", pattern=LB),
    Annotation("service.kubernetes.io/qcloud-share-existed-lb", _S, "boolean", "S7b"),
    Annotation("service.kubernetes.io/loadbalance-id", _S, "read-only", "S5"),
    Annotation("service.kubernetes.io/loadbalance-nat-ipv6", _S, "read-only", "S5"),
    Annotation("service.cloud.tencent.com/client-token", _S, "read-only", "S10"),
    # Written by the service controller on every synced Service (seen on real objects, e.g. the default
    # kubernetes-intranet Service, in a public TKE debugging write-up); undocumented, so read-only here.
    Annotation("service.cloud.tencent.com/sync-begin-time", _S, "read-only", "real objects"),
    Annotation("service.cloud.tencent.com/sync-end-time", _S, "read-only", "real objects"),
    Annotation("service.cloud.tencent.com/loadbalancer-source-endpoints", _S, "read-only", "real objects"),
    Annotation("service.cloud.tencent.com/direct-access", _S, "boolean", "S9"),
    Annotation("service.cloud.tencent.com/tke-service-config", _S, "string", "S5"),
    Annotation("service.cloud.tencent.com/tke-service-config-auto", _S, "boolean", "S5"),
    Annotation("service.cloud.tencent.com/prevent-loopback", _S, "boolean", "S5"),
    Annotation("service.cloud.tencent.com/security-groups", _S, "string", "S5-en"),
    Annotation("service.cloud.tencent.com/pass-to-target", _S, "boolean", "S5-en"),
    Annotation(
        "service.cloud.tencent.com/specify-protocol",
        _S,
        "json",
        "S8",
        shape=(
            "object-of",
            ("fields", {"protocol": ("array", "string"), "tls": "string", "hosts": "object"}, ("protocol",)),
        ),
    ),
    Annotation("service.kubernetes.io/service.extensiveParameters", _S, "json", "S5", shape="object", code="E4005"),
    Annotation(
        "service.kubernetes.io/qcloud-loadbalancer-internet-charge-type", _S, "enum", "S5-en", values=CHARGE_TYPES
    ),
    Annotation(
        "service.kubernetes.io/qcloud-loadbalancer-internet-max-bandwidth-out", _S, "integer", "S5-en", range=(1, 2048)
    ),
    Annotation("kubernetes.io/service.internetChargeType", _S, "enum", "S5", values=CHARGE_TYPES),
    Annotation("kubernetes.io/service.internetMaxBandwidthOut", _S, "integer", "S5", range=(1, 2048)),
    Annotation("service.kubernetes.io/local-svc-only-bind-node-with-pod", _S, "boolean", "S12"),
    Annotation("service.cloud.tencent.com/local-svc-weighted-balance", _S, "boolean", "S12"),
    # A label selector of the nodes to bind; TKE118 reports one that selects no node the controller binds.
    Annotation("service.kubernetes.io/qcloud-loadbalancer-backends-label", _S, "selector", "S12"),
    Annotation("service.cloud.tencent.com/enable-grace-shutdown", _S, "boolean", "S5"),
    Annotation("service.cloud.tencent.com/enable-grace-shutdown-tkex", _S, "boolean", "S5"),
    Annotation("service.cloud.tencent.com/cross-region-id", _S, "id", "S5", pattern=REGION, code="E4075"),
    Annotation("service.cloud.tencent.com/cross-vpc-id", _S, "id", "S5", pattern=r"vpc-[0-9a-z]{8}"),
    Annotation("service.cloud.tencent.com/mode", _S, "enum", "S5", min_version="v2.10.0", values=("skip",)),
    Annotation("service.cloud.tencent.com/discard-loadbalancer-ip", _S, "boolean", "S14"),
    Annotation(
        "service.kubernetes.io/loadbalance-type",
        _S,
        "enum",
        "S5",
        values=("yunapiv3_forward_clb", "classic", "yunapi_clb"),
    ),
    # Kubernetes' own keys under service.kubernetes.io/ (not TKE's; known so that they are not "unknown").
    Annotation("service.kubernetes.io/topology-aware-hints", _S, "string", "upstream"),
    Annotation("service.kubernetes.io/topology-mode", _S, "string", "upstream"),
    # --- Ingresses [S6]; types and minimum versions [S6b] ---------------------------------------------------
    Annotation("kubernetes.io/ingress.class", _I, "string", "S6", min_version="1.0.0"),
    Annotation("kubernetes.io/ingress.subnetId", _I, "id", "S6", min_version="1.0.0", pattern=SUBNET, code="E4091"),
    Annotation("kubernetes.io/ingress.existLbId", _I, "id", "S6", min_version="1.0.0", pattern=LB, code="E4098"),
    Annotation(
        "kubernetes.io/ingress.internetChargeType",
        _I,
        "enum",
        "S6",
        min_version="1.0.0",
        values=CHARGE_TYPES,
        code="E4045",
    ),
    Annotation(
        "kubernetes.io/ingress.internetMaxBandwidthOut",
        _I,
        "integer",
        "S6",
        min_version="1.0.0",
        range=(1, 2048),
        code="E4046",
    ),
    Annotation(
        "kubernetes.io/ingress.extensiveParameters", _I, "json", "S6", min_version="1.0.0", shape="object", code="E4026"
    ),
    Annotation("kubernetes.io/ingress.rule-mix", _I, "boolean", "S6", min_version="1.3.0", code="E4044", strict=True),
    Annotation("kubernetes.io/ingress.rule-mix-both", _I, "boolean", "S6b", min_version="2.8.0"),
    Annotation(
        "kubernetes.io/ingress.http-rules", _I, "json", "S6", min_version="1.3.0", shape=HTTP_RULES_SHAPE, code="E4022"
    ),
    Annotation(
        "kubernetes.io/ingress.https-rules", _I, "json", "S6", min_version="1.3.0", shape=HTTP_RULES_SHAPE, code="E4023"
    ),
    Annotation(
        "ingress.cloud.tencent.com/listen-ports",
        _I,
        "json",
        "S6",
        min_version="2.4.1",
        shape=("array", ("fields", {"HTTP": "integer", "HTTPS": "integer"}, ())),
    ),
    Annotation(
        "ingress.cloud.tencent.com/certificate",
        _I,
        "json",
        "S15",
        min_version="2.8.0",
        shape=(
            "array",
            ("fields", {"hosts": ("array", "string"), "qcloud_cert_id": ("array", "string")}, ("qcloud_cert_id",)),
        ),
    ),
    Annotation("ingress.cloud.tencent.com/auto-rewrite", _I, "boolean", "S6", min_version="1.3.0"),
    Annotation("ingress.cloud.tencent.com/rewrite-support", _I, "boolean", "S6", min_version="1.3.0"),
    Annotation("ingress.cloud.tencent.com/auto-rewrite-code", _I, "json", "S6b", min_version="2.11.0", shape="json"),
    Annotation(
        "ingress.cloud.tencent.com/direct-access", _I, "boolean", "S6", min_version="1.3.0", code="E4037", strict=True
    ),
    Annotation("ingress.cloud.tencent.com/tke-service-config", _I, "string", "S6", min_version="1.3.0"),
    Annotation(
        "ingress.cloud.tencent.com/tke-service-config-auto",
        _I,
        "boolean",
        "S6",
        min_version="1.3.0",
        code="E4050",
        strict=True,
    ),
    Annotation("ingress.cloud.tencent.com/security-groups", _I, "string", "S6b", min_version="1.8.3"),
    Annotation("ingress.cloud.tencent.com/pass-to-target", _I, "boolean", "S6b", min_version="1.8.3"),
    Annotation("ingress.cloud.tencent.com/enable-grace-shutdown", _I, "boolean", "S6b", min_version="1.5.0"),
    Annotation("ingress.cloud.tencent.com/enable-grace-shutdown-tkex", _I, "boolean", "S6b", min_version="1.5.0"),
    Annotation("ingress.cloud.tencent.com/enable-grace-deletion", _I, "boolean", "S6b"),
    Annotation("ingress.cloud.tencent.com/lb-rs-weight", _I, "json", "S6b", shape="json"),
    Annotation("ingress.cloud.tencent.com/mix-target-prefer", _I, "string", "S6b"),
    Annotation("ingress.cloud.tencent.com/deletion-protection", _I, "boolean", "S6b"),
    Annotation("ingress.cloud.tencent.com/modification-protection", _I, "boolean", "S6b"),
    Annotation("ingress.cloud.tencent.com/loadbalance-retain", _I, "boolean", "S6b"),
    Annotation("ingress.cloud.tencent.com/enable-group", _I, "boolean", "S6b"),
    Annotation("ingress.cloud.tencent.com/mode", _I, "enum", "S6b", values=("skip",)),
    Annotation("ingress.cloud.tencent.com/cross-region-id", _I, "id", "S6", pattern=REGION),
    Annotation("ingress.cloud.tencent.com/cross-vpc-id", _I, "id", "S6", pattern=r"vpc-[0-9a-z]{8}"),
    Annotation("ingress.cloud.tencent.com/hybrid-type", _I, "string", "S6b"),
    Annotation("ingress.cloud.tencent.com/snat-pro-info", _I, "json", "S6b", shape="json"),
    Annotation("kubernetes.io/ingress.qcloud-loadbalance-id", _I, "read-only", "S6"),
    Annotation("ingress.cloud.tencent.com/loadbalance-ipv6", _I, "read-only", "S6"),
    Annotation("ingress.cloud.tencent.com/loadbalance-nat-ipv6", _I, "read-only", "S6"),
)

BY_KEY: dict[tuple[str, str], Annotation] = {(kind, a.key): a for a in ANNOTATIONS for kind in a.kinds}

# The keys that decide internal versus public: a misspelling of one creates a PUBLIC CLB, which TKE then refuses
# to switch to internal in place [S3].
INTERNAL_KEYS = frozenset(
    {"service.kubernetes.io/qcloud-loadbalancer-internal-subnetid", "kubernetes.io/ingress.subnetId"}
)


def known(kind: str, key: str) -> bool:
    return (kind, key) in BY_KEY


def under_tke_prefix(key: str) -> bool:
    return key.startswith(PREFIXES)


def _tail(key: str) -> str:
    """A key without its prefix, lower case: what stays when the prefix is the slip."""
    for prefix in PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :].lower()
    return key.split("/", 1)[-1].lower()


def closest(kind: str, key: str) -> str | None:
    """The documented key nearest to a misspelt one, or None when none is close. Keys are compared without
    their prefix (a wrong prefix is a common slip, and the shared prefix would make every key look close) and
    without case (`subnetid` for `subnetId`)."""
    by_tail: dict[str, str] = {}
    for knd, k in sorted(BY_KEY):
        if knd == kind:
            by_tail.setdefault(_tail(k), k)
    tail = _tail(key)
    if tail in by_tail:
        return by_tail[tail]
    match = difflib.get_close_matches(tail, list(by_tail), n=1, cutoff=0.8)
    return by_tail[match[0]] if match else None


# --- values -------------------------------------------------------------------------------------------------


def json_error(text: str) -> str | None:
    """Where a value fails to parse as JSON (line and column, as the parser sees it), or None."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"{exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
    return None


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return "string"


def shape_errors(value: Any, shape: Shape, where: str = "$") -> Iterator[str]:
    """Where a parsed JSON value does not have the documented shape: JSON-path-like positions."""
    if shape in (None, "json"):
        return
    if shape in ("object", "array"):
        if _type_name(value) != shape:
            yield f"{where}: {_type_name(value)}, expected {shape}"
        return
    if shape == "string-or-integer":
        if not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
            yield f"{where}: {_type_name(value)}, expected string or integer"
        return
    if shape in ("string", "integer"):
        ok = isinstance(value, str) if shape == "string" else isinstance(value, int) and not isinstance(value, bool)
        if not ok:
            yield f"{where}: {_type_name(value)}, expected {shape}"
        return
    form = shape[0]
    if form == "array":
        if not isinstance(value, list):
            yield f"{where}: {_type_name(value)}, expected array"
            return
        for i, item in enumerate(value):
            yield from shape_errors(item, shape[1], f"{where}[{i}]")
    elif form == "object-of":
        if not isinstance(value, dict):
            yield f"{where}: {_type_name(value)}, expected object"
            return
        for key, item in value.items():
            yield from shape_errors(item, shape[1], f"{where}.{key}")
    elif form == "fields":
        if not isinstance(value, dict):
            yield f"{where}: {_type_name(value)}, expected object"
            return
        fields, required = shape[1], shape[2]
        for key in required:
            if key not in value:
                yield f"{where}: missing {key!r}"
        for key, item in value.items():
            if key in fields:
                yield from shape_errors(item, fields[key], f"{where}.{key}")


def value_problem(note: Annotation, value: str) -> str | None:
    """What is wrong with an annotation's value by its documented type, or None. Only booleans the controller
    rejects are judged (`strict`): it reads the others with Go's ParseBool, which accepts "True" and "1" too."""
    shown = repr(value)
    if note.type == "boolean":
        if not note.strict or value in ("true", "false"):
            return None
        return _('{value} is not "true" or "false"').format(value=shown)
    if note.type == "integer" and note.range:
        low, high = note.range
        if not re.fullmatch(r"\d+", value) or not low <= int(value) <= high:
            return _("{value} is not an integer in {low}-{high}").format(value=shown, low=low, high=high)
        return None
    if note.type == "enum":
        if value in note.values:
            return None
        return _("{value} is not one of {values}").format(value=shown, values=", ".join(note.values))
    if note.type == "id" and note.pattern:
        if re.fullmatch(note.pattern, value):
            return None
        return _("{value} does not look like {pattern}").format(value=shown, pattern=note.pattern)
    if note.type == "selector":
        return selector_problem(value)
    if note.type == "json":
        error = json_error(value)
        if error:
            return _("not valid JSON: {error}").format(error=error)
        wrong = list(shape_errors(json.loads(value), note.shape))
        if wrong:
            more = _(" and {n} more").format(n=len(wrong) - 3) if len(wrong) > 3 else ""
            return _("JSON of the wrong shape: {where}").format(where="; ".join(wrong[:3]) + more)
    return None


# --- combinations [S5][S6b][S12][S15] -----------------------------------------------------------------------


@dataclass(frozen=True)
class Combination:
    """A documented rule between annotations: `key` set ("true" when `value` is "true") requires `needs` or
    conflicts with `conflicts`."""

    kind: str
    key: str
    source: str
    needs: str | None = None
    conflicts: tuple[str, ...] = ()
    only_true: bool = True  # the rule applies when the key's value is "true" (else: when it is present)


COMBINATIONS: tuple[Combination, ...] = (
    Combination(
        SERVICE,
        "service.cloud.tencent.com/local-svc-weighted-balance",
        "S12",
        needs="service.kubernetes.io/local-svc-only-bind-node-with-pod",
    ),
    Combination(
        SERVICE,
        "service.cloud.tencent.com/enable-grace-shutdown",
        "S5",
        needs="service.cloud.tencent.com/direct-access",
    ),
    Combination(
        SERVICE,
        "service.cloud.tencent.com/enable-grace-shutdown-tkex",
        "S5",
        needs="service.cloud.tencent.com/direct-access",
    ),
    Combination(
        SERVICE,
        "service.cloud.tencent.com/tke-service-config-auto",
        "S5",
        conflicts=("service.cloud.tencent.com/tke-service-config",),
    ),
    Combination(
        INGRESS,
        "ingress.cloud.tencent.com/tke-service-config-auto",
        "S6",
        conflicts=("ingress.cloud.tencent.com/tke-service-config",),
    ),
    Combination(
        INGRESS,
        "kubernetes.io/ingress.rule-mix-both",
        "S6b",
        conflicts=(
            "kubernetes.io/ingress.rule-mix",
            "ingress.cloud.tencent.com/rewrite-support",
            "ingress.cloud.tencent.com/auto-rewrite",
        ),
    ),
)

# The mixed HTTP/HTTPS rules [S15]: with them, these decide which spec rules are served on which protocol.
HTTP_RULES_KEYS = frozenset({"kubernetes.io/ingress.http-rules", "kubernetes.io/ingress.https-rules"})
