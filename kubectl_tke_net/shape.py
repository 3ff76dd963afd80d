"""The types the API gives the fields the checks read: hand-edited snapshot files are brought to them or refused.

An API server only ever answers with these types, so the checks may rely on them. A snapshot file is read by
YAML, which also makes dates, numbers and booleans of unquoted text, and may have been edited by hand: `plain`
turns YAML-only values into JSON ones and drops nulls (as Go reads them: a null field is an unset one), and
`problem` names the first field whose type the API would not have accepted (as `kubectl apply` would refuse it).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any, Final

from kubectl_tke_net.i18n import _


class _Map:
    """A map whose values all have one shape (labels, annotations, selectors, ConfigMap data)."""

    def __init__(self, values: Any) -> None:
        self.values = values


class _Any:
    """A subtree kept as it is, with no type demanded (a custom resource whose schema keeps unknown fields)."""


STR: Final = str
INT: Final = int
BOOL: Final = bool
INT_OR_STR: Final = (int, str)
STRINGS: Final = _Map(str)
TEXTS: Final = [str]
ANY: Final = _Any()

_LB_STATUS = {"loadBalancer": {"ingress": [{"ip": STR, "hostname": STR, "ipMode": STR}]}}
_PORTS = [{"name": STR, "containerPort": INT, "protocol": STR, "hostPort": INT}]
_CONTAINER = {
    "name": STR,
    "image": STR,
    "command": TEXTS,
    "args": TEXTS,
    "ports": _PORTS,
    "volumeMounts": [{"name": STR, "mountPath": STR, "subPath": STR}],
}
# A DaemonSet's Pod template: kube-proxy's image, flags, node selector and the mounts of its --config file.
_POD_SPEC = {
    "nodeName": STR,
    "hostNetwork": BOOL,
    "dnsPolicy": STR,
    "nodeSelector": STRINGS,
    "containers": [_CONTAINER],
    "initContainers": [_CONTAINER],
    "readinessGates": [{"conditionType": STR}],
    "volumes": [{"name": STR, "configMap": {"name": STR}}],
}
# A Pod's own spec: what the checks read of a Pod (its containers' ports, node, network, DNS policy, readiness
# gates), not what they read of a template. Every Pod has volumes, mounts and images; a big cluster's Pods are
# most of what a run holds (30,000 Pods: 0.2-0.4 s of decoding and sharing and 1 KB a Pod, README "Performance").
_POD_OWN_SPEC = {
    "nodeName": STR,
    "hostNetwork": BOOL,
    "dnsPolicy": STR,
    "containers": [{"name": STR, "ports": _PORTS}],
    "readinessGates": [{"conditionType": STR}],
}
_CONDITIONS = [{"type": STR, "status": STR}]
_BACKEND = {
    "service": {"name": STR, "port": {"number": INT, "name": STR}},
    "serviceName": STR,
    "servicePort": INT_OR_STR,
}
_TIME = STR
_GW_CONDITIONS = [{"type": STR, "status": STR, "reason": STR, "message": STR}]
_PARENT_REF = {"group": STR, "kind": STR, "namespace": STR, "name": STR, "sectionName": STR, "port": INT}
_ROUTE = {
    "spec": {
        "parentRefs": [_PARENT_REF],
        "hostnames": TEXTS,
        "rules": [
            {"backendRefs": [{"group": STR, "kind": STR, "namespace": STR, "name": STR, "port": INT, "weight": INT}]}
        ],
    },
    "status": {"parents": [{"parentRef": _PARENT_REF, "controllerName": STR, "conditions": _GW_CONDITIONS}]},
}
_CONTAINER_STATE = {"reason": STR}

# The one declaration of what the plugin keeps of each kind: the fields the checks, probes and fixes read, with
# the type the API gives them. Everything else is dropped as soon as an object is read (from a cluster or from
# a file), so it is never held, printed or dumped (SPEC 9.2): no container env, no Secret data, no
# last-applied-configuration. A check that reads a field not declared here sees it missing, and the test that
# runs every fixture with and without this projection fails (tests/test_snapshot.py).
SHAPES: dict[str, dict[str, Any]] = {
    "Service": {
        "spec": {
            "type": STR,
            "selector": STRINGS,
            "clusterIP": STR,
            "externalTrafficPolicy": STR,
            "internalTrafficPolicy": STR,
            "healthCheckNodePort": INT,
            "loadBalancerClass": STR,
            "externalName": STR,
            "ports": [{"name": STR, "port": INT, "targetPort": INT_OR_STR, "protocol": STR, "nodePort": INT}],
        },
        "status": _LB_STATUS,
    },
    "Pod": {
        "spec": _POD_OWN_SPEC,
        "status": {
            "phase": STR,
            "podIP": STR,
            "hostIP": STR,
            "conditions": _CONDITIONS,
            "containerStatuses": [
                {
                    "name": STR,
                    "ready": BOOL,
                    "state": {"waiting": _CONTAINER_STATE, "terminated": _CONTAINER_STATE},
                }
            ],
        },
    },
    "EndpointSlice": {
        "addressType": STR,
        "endpoints": [
            {
                "addresses": TEXTS,
                "conditions": {"ready": BOOL, "serving": BOOL, "terminating": BOOL},
                "nodeName": STR,
                "targetRef": {"kind": STR, "name": STR, "namespace": STR, "uid": STR},
            }
        ],
        "ports": [{"name": STR, "port": INT, "protocol": STR}],
    },
    "Event": {
        "involvedObject": {"kind": STR, "namespace": STR, "name": STR},
        "regarding": {"kind": STR, "namespace": STR, "name": STR},
        "type": STR,
        "reason": STR,
        "message": STR,
        "note": STR,
        "count": INT,
        "firstTimestamp": _TIME,
        "lastTimestamp": _TIME,
        "eventTime": _TIME,
        "series": {"lastObservedTime": _TIME, "count": INT},
        "source": {"component": STR},
        "reportingController": STR,
    },
    "Ingress": {
        "spec": {
            "ingressClassName": STR,
            "defaultBackend": _BACKEND,
            "backend": _BACKEND,
            "rules": [{"host": STR, "http": {"paths": [{"path": STR, "pathType": STR, "backend": _BACKEND}]}}],
            "tls": [{"hosts": TEXTS, "secretName": STR}],
        },
        "status": _LB_STATUS,
    },
    "IngressClass": {"spec": {"controller": STR}},
    "Secret": {"type": STR},
    # A custom resource whose schema may keep unknown fields: the API server may hold anything in it, so the
    # checks read it defensively and nothing is required here.
    "TkeServiceConfig": {"spec": ANY},
    "DaemonSet": {
        "spec": {"template": {"spec": _POD_SPEC}, "updateStrategy": {"type": STR}},
        "status": {
            "observedGeneration": INT,
            "currentNumberScheduled": INT,
            "desiredNumberScheduled": INT,
            "updatedNumberScheduled": INT,
            "numberReady": INT,
            "numberAvailable": INT,
        },
    },
    # Of kube-system's ConfigMaps only those the checks read, and only their keys: see snapshot.configmap_keys.
    "ConfigMap": {"data": STRINGS},
    # TKE604 reads which resources, groups, versions and operations each webhook is called for; never its
    # clientConfig (a CA bundle, a URL).
    "ValidatingWebhookConfiguration": {
        "webhooks": [
            {
                "name": STR,
                "failurePolicy": STR,
                "matchPolicy": STR,
                "rules": [{"apiGroups": TEXTS, "apiVersions": TEXTS, "resources": TEXTS, "operations": TEXTS}],
            }
        ]
    },
    "Node": {
        "spec": {"providerID": STR, "unschedulable": BOOL, "taints": [{"key": STR, "value": STR, "effect": STR}]},
        "status": {"conditions": _CONDITIONS, "addresses": [{"type": STR, "address": STR}]},
    },
    # Gateway API (gateway.networking.k8s.io/v1): what the TKE5xx checks read.
    "GatewayClass": {"spec": {"controllerName": STR}, "status": {"conditions": _GW_CONDITIONS}},
    "Gateway": {
        "spec": {
            "gatewayClassName": STR,
            "listeners": [
                {
                    "name": STR,
                    "hostname": STR,
                    "port": INT,
                    "protocol": STR,
                    "allowedRoutes": {
                        "namespaces": {"from": STR},
                        "kinds": [{"group": STR, "kind": STR}],
                    },
                }
            ],
        },
        "status": {
            "addresses": [{"type": STR, "value": STR}],
            "conditions": _GW_CONDITIONS,
            "listeners": [{"name": STR, "attachedRoutes": INT, "conditions": _GW_CONDITIONS}],
        },
    },
    "HTTPRoute": _ROUTE,
    "GRPCRoute": _ROUTE,
    "ReferenceGrant": {
        "spec": {
            "from": [{"group": STR, "kind": STR, "namespace": STR}],
            "to": [{"group": STR, "kind": STR, "name": STR}],
        }
    },
}
_METADATA = {
    "name": STR,
    "namespace": STR,
    "labels": STRINGS,
    "annotations": STRINGS,
    "resourceVersion": STR,
    "uid": STR,
    "generation": INT,
    "creationTimestamp": _TIME,
    "deletionTimestamp": _TIME,
    "ownerReferences": [{"kind": STR, "name": STR, "controller": BOOL}],
}
# Annotations kept of every object: the whole map of Services and Ingresses (the checks read TKE's annotations
# there, misspelt ones included), and elsewhere only the keys under these prefixes. Never
# kubectl.kubernetes.io/last-applied-configuration: `kubectl apply` writes the whole object into it, a
# Secret's data included.
ALL_ANNOTATIONS = frozenset({"Service", "Ingress"})
ANNOTATION_PREFIXES = (
    "tke.cloud.tencent.com/",
    "eks.tke.cloud.tencent.com/",
    "cloud.tencent.com/",
    "service.cloud.tencent.com/",
    "service.kubernetes.io/",
    "ingress.cloud.tencent.com/",
    "kubernetes.io/ingress",
    "ingressclass.kubernetes.io/",
    "tke-net.kubectl.io/",
    "deprecated.daemonset.template.generation",
)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Of a Secret only its name, namespace, type and the plugin's own suppression annotation (SPEC 9.2).
SECRET_ANNOTATIONS = frozenset({"tke-net.kubectl.io/ignore"})


def keep(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with only the declared fields of its kind (SHAPES), metadata and annotations as above."""
    kind = str(obj.get("kind") or "")
    out: dict[str, Any] = {"apiVersion": obj.get("apiVersion"), "kind": kind}
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        kept = _keep(meta, _METADATA)
        notes = kept.get("annotations")
        if isinstance(notes, dict):
            if kind == "Secret":
                notes = {k: v for k, v in notes.items() if k in SECRET_ANNOTATIONS}
            elif kind in ALL_ANNOTATIONS:
                notes = {k: v for k, v in notes.items() if k != LAST_APPLIED}
            else:
                notes = {k: v for k, v in notes.items() if k.startswith(ANNOTATION_PREFIXES)}
            if notes:
                kept["annotations"] = notes
            else:
                kept.pop("annotations")
        if kind == "Secret":
            kept = {k: kept[k] for k in ("name", "namespace", "annotations") if k in kept}
        out["metadata"] = kept
    elif meta is not None:
        out["metadata"] = meta  # refused by problem() with its reason
    body = _keep(obj, SHAPES.get(kind, {}))
    out.update(body)
    return out


def _keep(value: Any, shape: Any) -> Any:
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return value
        # In the object's own order, so that dumps and diffs read as `kubectl get -o yaml` does.
        return {key: _keep(item, shape[key]) for key, item in value.items() if key in shape}
    if isinstance(shape, list):
        if not isinstance(value, list):
            return value
        return [_keep(item, shape[0]) for item in value]
    return value


MAX_DEPTH = 64  # Kubernetes objects nest a dozen levels; deeper is junk, and would exhaust Python's stack later


def too_deep() -> str:
    return _("it nests more than {n} levels deep").format(n=MAX_DEPTH)


class TooDeep(ValueError):
    pass


def plain(value: Any, in_strings: bool = False, depth: int = 0) -> Any:
    """The value as JSON would have it: YAML dates as RFC 3339 text, binary as base64, sets as lists, keys as
    text; nulls dropped from mappings and lists, except in string maps, where Go reads a null as "".
    TooDeep when it nests more than MAX_DEPTH levels."""
    if depth > MAX_DEPTH and isinstance(value, (dict, list, tuple)):
        raise TooDeep(too_deep())
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = key if isinstance(key, str) else _text(key)
            if item is None:
                if in_strings:
                    out[name] = ""
                continue
            out[name] = plain(item, name in _STRING_MAPS, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [plain(item, False, depth + 1) for item in value if item is not None]
    if isinstance(value, (set, frozenset)):
        return sorted(_text(item) for item in value)
    if isinstance(value, (dt.datetime, dt.date, bytes)):
        return _text(value)
    return value


_STRING_MAPS = frozenset({"labels", "annotations", "selector", "data"})


def prune(value: Any, in_strings: bool = False, depth: int = 0) -> None:
    """What `plain` does, in place and faster, for what JSON can hold (nothing but nulls to change)."""
    if depth > MAX_DEPTH:
        raise TooDeep(too_deep())
    if type(value) is dict:
        if None in value.values():
            for key in [k for k, v in value.items() if v is None]:
                if in_strings:
                    value[key] = ""
                else:
                    del value[key]
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                prune(item, key in _STRING_MAPS, depth + 1)
    elif type(value) is list:
        if None in value:
            value[:] = [item for item in value if item is not None]
        for item in value:
            if type(item) is dict or type(item) is list:
                prune(item, False, depth + 1)


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return str(value.isoformat()) + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def expanded_size(doc: Any, limit: int) -> bool:
    """Whether the document, with every YAML alias written out, stays within `limit` values. An alias shares
    its anchor's value, so the sizes of shared values are counted once and multiplied, never walked again."""
    sizes: dict[int, int] = {}

    def size(value: Any) -> int:
        if not isinstance(value, (dict, list)):
            return 1
        known = sizes.get(id(value))
        if known is None:
            children = value.values() if isinstance(value, dict) else value
            known = sizes[id(value)] = 1 + sum(size(child) for child in children)
        return known

    return size(doc) <= limit


def problem(obj: dict[str, Any]) -> str | None:
    """What in the object has a type the API would not give it (`metadata.labels.app is a number, not text`)."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return _("metadata is missing") if meta is None else _not("metadata", meta, _("a mapping"))
    if not meta.get("name") or not isinstance(meta.get("name"), str):
        return _("metadata.name is missing") if not meta.get("name") else _not("metadata.name", meta["name"], _("text"))
    return _check(meta, _METADATA, "metadata") or _check(obj, SHAPES.get(str(obj.get("kind")), {}), "")


def _check(value: Any, shape: Any, where: str) -> str | None:
    if isinstance(shape, _Any):
        return None
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return _not(where, value, _("a mapping"))
        for key, sub in shape.items():
            if key in value:
                found = _check(value[key], sub, f"{where}.{key}" if where else key)
                if found:
                    return found
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return _not(where, value, _("a list"))
        for i, item in enumerate(value):
            found = _check(item, shape[0], f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(shape, _Map):
        if not isinstance(value, dict):
            return _not(where, value, _("a mapping"))
        for key, item in value.items():
            found = _check(item, shape.values, f"{where}[{key!r}]")
            if found:
                hint = _(" (quote it)") if isinstance(item, (bool, int, float)) and shape.values is str else ""
                return found + hint
        return None
    types = shape if isinstance(shape, tuple) else (shape,)
    if isinstance(value, bool) and bool not in types:
        return _not(where, value, _names(types))
    if not isinstance(value, types):
        return _not(where, value, _names(types))
    return None


def _not(where: str, value: Any, expected: str) -> str:
    return _("{where} is {value}, not {expected}").format(where=where, value=_a(value), expected=expected)


def _a(value: Any) -> str:
    if isinstance(value, bool):
        return _("a boolean ({value})").format(value=str(value).lower())
    if isinstance(value, (int, float)):
        return _("a number ({value})").format(value=value)
    if isinstance(value, str):
        return _("text")
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, dict):
        return _("a mapping")
    return type(value).__name__


def _names(types: tuple[type, ...]) -> str:
    words = {str: _("text"), int: _("a whole number"), bool: _("a boolean")}
    return _(" or ").join(words.get(t, t.__name__) for t in types)
