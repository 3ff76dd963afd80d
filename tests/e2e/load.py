"""Loads fixture clusters into the real control plane: objects through kubectl, status as the controllers would."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane, ControlPlaneError

_PATHS = {
    "Node": "/api/v1/nodes",
    "Namespace": "/api/v1/namespaces",
    "Service": "/api/v1/namespaces/{ns}/services",
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "Ingress": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    # Gateway API (tests/e2e/test_gateway_live.py installs the CRDs): the status its controller would write.
    "GatewayClass": "/apis/gateway.networking.k8s.io/v1/gatewayclasses",
    "Gateway": "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/gateways",
    "HTTPRoute": "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes",
    "GRPCRoute": "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/grpcroutes",
}


def items(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    out: list[dict[str, Any]] = []
    for doc in docs:
        out.extend(doc["items"] if str(doc.get("kind", "")).endswith("List") else [doc])
    return out


def _for_server(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as a client may create it: no server-set fields, a single-stack Service."""
    obj = json.loads(json.dumps(obj))
    meta = obj.setdefault("metadata", {})
    for field in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
        meta.pop(field, None)
    if obj.get("kind") == "Secret" and obj.get("type") == "kubernetes.io/tls" and not obj.get("data"):
        obj["data"] = {"tls.crt": "", "tls.key": ""}  # fixtures keep metadata only; the API requires the keys
    if obj.get("kind") == "Service":
        spec = obj.get("spec", {})
        spec.pop("ipFamilies", None)
        if spec.get("clusterIP") != "None":  # the fixtures' addresses are TKE's, not this server's range
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
    return obj


def load(cp: ControlPlane, kubectl: str, *paths: Path) -> list[dict[str, Any]]:
    """Create every object of the fixture files with `kubectl create`, then write their status subresource."""
    objs = [_for_server(o) for p in paths for o in items(p)]
    namespaces = sorted({o["metadata"]["namespace"] for o in objs if o["metadata"].get("namespace")})
    for ns in namespaces:
        status, _ = cp.request(
            "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        )
        if status not in (201, 409):
            raise ControlPlaneError(f"cannot create namespace {ns}: {status}")
    assert cp.tmp is not None
    manifest = cp.tmp / f"load-{len(list(cp.tmp.glob('load-*')))}.yaml"
    # Status is not part of a create (the server drops it); the controllers' part is written below.
    bare = [{k: v for k, v in o.items() if k != "status"} for o in objs]
    manifest.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": bare}))
    done = subprocess.run(
        [kubectl, "create", "-f", str(manifest)], env=cp.env(), capture_output=True, text=True, timeout=120, check=False
    )
    failed = [
        line
        for line in done.stderr.splitlines()
        if line.strip() and "AlreadyExists" not in line and not line.startswith("Warning:")
    ]
    if failed:
        raise ControlPlaneError("kubectl create failed:\n" + "\n".join(failed[:10]))
    for obj in objs:
        if obj.get("status") and obj["kind"] in _PATHS:
            set_status(cp, obj)
    return objs


def set_status(cp: ControlPlane, obj: dict[str, Any]) -> None:
    """PUT the fixture's status through the /status subresource, as the kubelet or cloud controller does."""
    base = _PATHS[obj["kind"]].format(ns=obj["metadata"].get("namespace", ""))
    path = f"{base}/{obj['metadata']['name']}"
    status, current = cp.request("GET", path)
    if status != 200:
        raise ControlPlaneError(f"GET {path} -> {status}")
    current["status"] = obj["status"]
    status, body = cp.request("PUT", path + "/status", current)
    if status != 200:
        raise ControlPlaneError(f"PUT {path}/status -> {status}: {body}")


def create_many(cp: ControlPlane, path: str, objs: list[dict[str, Any]], workers: int = 8) -> None:
    """Create many objects through the REST API in parallel (bulk setup, not what is under test)."""

    def one(obj: dict[str, Any]) -> None:
        cp.create(path, obj)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, objs))


@contextlib.contextmanager
def own_controlplane(
    kubectl: str, *paths: Path, setup: Callable[[ControlPlane], None] | None = None
) -> Iterator[ControlPlane]:
    """A control plane of a test module's own (it writes, or adds what other modules count); always stopped."""
    cp = ControlPlane()
    try:
        try:
            cp.start()
            load(cp, kubectl, *paths)
            if setup is not None:
                setup(cp)
        except ControlPlaneError as exc:
            pytest.fail(f"the e2e control plane could not be started: {exc}", pytrace=False)
        yield cp
    finally:
        cp.stop()
