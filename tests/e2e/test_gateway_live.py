"""Gateway API on the real API server: the published CRDs (sigs.k8s.io/gateway-api, standard channel, fetched through
the Go module proxy), Gateways and routes created with the real kubectl, the controller's status writes played
through the /status subresource. Real: kube-apiserver, etcd, the CRDs' OpenAPI validation, kubectl. Played: Envoy
Gateway (the GatewayClass, Gateway and route conditions it would write) and TKE's service controller (the CLB
address and its Warning event)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane, ControlPlaneError
from gatewayapi import KINDS, FetchError, crd_files
from load import items, load
from test_plugin import _new_lists as new_lists
from test_plugin import offline, plugin

from tests.conftest import found, run_plugin, without_source

CHECKS = Path(__file__).resolve().parents[1] / "checks"
CODES = [f"TKE{n}" for n in range(501, 517)]
GROUP = "gateway.networking.k8s.io"
# What the published CRDs' own validation refuses, so it cannot exist on a live cluster (the checks still judge it
# in snapshots and manifests): a Service backendRef without a port ("Must have port for Service reference").
REFUSED = {("TKE511", "no-port")}


def install_crds(cp: ControlPlane, kubectl: str) -> None:
    """The published CRDs, created with the real kubectl, and waited for until the API server serves them."""
    try:
        files = crd_files()
    except FetchError as exc:
        pytest.fail(f"the Gateway API CRDs could not be fetched: {exc}", pytrace=False)
    # `create`, not `apply`: the last-applied annotation of these CRDs would pass the 256 KiB limit.
    args = [kubectl, "create"] + [a for f in files for a in ("-f", str(f))]
    done = subprocess.run(args, env=cp.env(), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for kind in KINDS:
        done = subprocess.run(
            [kubectl, "wait", "--for=condition=Established", f"crd/{kind}.{GROUP}", "--timeout=60s"],
            env=cp.env(),
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert done.returncode == 0, done.stderr


def _renamed(code: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The object with its namespaces (and every reference to one) prefixed by the fixture's code, so that the
    fixtures share one API server; cluster-scoped names stay (the GatewayClasses agree across fixtures)."""
    obj = yaml.safe_load(yaml.safe_dump(obj))
    prefix = code.lower() + "-"

    def rename(holder: dict[str, Any], key: str = "namespace") -> None:
        if isinstance(holder, dict) and holder.get(key) and holder[key] != "kube-system":
            holder[key] = prefix + holder[key]

    rename(obj.setdefault("metadata", {}))
    rename(obj.get("involvedObject") or {})
    labels = obj["metadata"].get("labels") or {}
    rename(labels, "gateway.envoyproxy.io/owning-gateway-namespace")
    spec = obj.get("spec") or {}
    for ref in spec.get("parentRefs") or []:
        rename(ref)
    for rule in spec.get("rules") or []:
        for backend in rule.get("backendRefs") or []:
            rename(backend)
    for source in spec.get("from") or []:
        rename(source)
    for parent in (obj.get("status") or {}).get("parents") or []:
        rename(parent.get("parentRef") or {})
    if obj.get("kind") == "Event":
        obj["metadata"]["name"] = obj["metadata"]["name"] + "-" + code.lower()
    return obj


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    objs: dict[tuple[str, str, str], dict[str, Any]] = {}
    node_ports = iter(range(30500, 30800))
    for code in CODES:
        docs = list(yaml.safe_load_all((CHECKS / f"{code}.yaml").read_text(encoding="utf-8")))
        for obj in docs[1]["items"]:
            new = _renamed(code, obj)
            if (code, new["metadata"]["name"]) in REFUSED:
                continue
            for port in (new.get("spec") or {}).get("ports") or []:
                if new["kind"] == "Service" and port.get("nodePort"):
                    port["nodePort"] = next(node_ports)  # the fixtures ask for the same one; a server gives each once
            objs.setdefault((new["kind"], new["metadata"].get("namespace", ""), new["metadata"]["name"]), new)
    path = tmp_path_factory.mktemp("gateway") / "gateway-fixtures.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(objs.values())}))
    return path


@pytest.fixture(scope="module")
def gateway_cluster(kubectl: str, fixtures: Path) -> Iterator[ControlPlane]:
    cp = ControlPlane()
    try:
        try:
            cp.start()
        except ControlPlaneError as exc:
            pytest.fail(f"the e2e control plane could not be started: {exc}", pytrace=False)
        install_crds(cp, kubectl)
        load(cp, kubectl, fixtures)
        yield cp
    finally:
        cp.stop()


def test_gateway_fixtures_give_the_same_findings_live(gateway_cluster: ControlPlane, fixtures: Path) -> None:
    expected = offline("gateway", "-A", "-o", "json", "--snapshot", str(fixtures))
    run = plugin(gateway_cluster, "gateway", "-A", "-o", "json")
    assert run.status == 1, run.err
    live = run.json()
    assert found(live) == found(expected)
    assert live["skipped"] == expected["skipped"] == []
    # Every code but none of the clean objects: the fixtures' own expectations hold live.
    assert {code for code, _obj in found(live)} == set(CODES)
    print(f"gateway -A live: {len(live['findings'])} findings over {len(items(fixtures))} objects, {run.seconds:.2f}s")


def test_each_gateway_kind_is_listed_once(gateway_cluster: ControlPlane) -> None:
    before = len(gateway_cluster.audit_events())
    run = plugin(gateway_cluster, "gateway", "-A", "-o", "json")
    assert run.status == 1, run.err
    lists = new_lists(gateway_cluster, before)
    per_resource: dict[str, int] = {}
    for event in lists:
        resource = event["objectRef"].get("resource", "")
        per_resource[resource] = per_resource.get(resource, 0) + 1
    assert {k: per_resource.get(k) for k in KINDS} == dict.fromkeys(KINDS, 1), per_resource
    assert "ingresses" not in per_resource  # the gateway command reads only what its checks need


def test_a_gateway_name_examines_it_and_its_routes(gateway_cluster: ControlPlane) -> None:
    run = plugin(gateway_cluster, "gateway", "-n", "tke501-gw", "typo", "-o", "json")
    assert run.status == 1, run.err
    assert {(f["code"], f["kind"], f["name"]) for f in run.json()["findings"]} == {("TKE501", "Gateway", "typo")}
    missing = plugin(gateway_cluster, "gateway", "-n", "tke501-gw", "nope")
    assert missing.status == 2 and 'gateway "nope" not found' in missing.err


def test_without_the_crds_the_checks_are_skipped_with_the_reason(controlplane: ControlPlane) -> None:
    run = plugin(controlplane, "gateway", "-A", "-o", "json")
    assert run.status == 0, run.err
    doc = run.json()
    assert doc["findings"] == []
    reasons = " ".join(s["reason"] for s in doc["skipped"])
    assert "gateway.networking.k8s.io/v1" in reasons and "not served" in reasons, doc["skipped"]
    assert sorted(c for s in doc["skipped"] for c in s["codes"]) == CODES


def _list_requests(cp: ControlPlane, before: int) -> list[str]:
    """resource@namespace of each LIST the plugin made since `before` audit events (first pages only)."""
    return [
        f"{e['objectRef'].get('resource', '')}@{e['objectRef'].get('namespace', '')}"
        for e in new_lists(cp, before)
        if "continue=" not in e["requestURI"]
    ]


# Gateways of the fixtures (their namespaces prefixed by the fixture's code): routes refused and accepted, an
# internal CLB behind Envoy Gateway's Service, a cross-namespace backend with and without a ReferenceGrant.
TRACED = [("tke509-gw", "shop"), ("tke515-gw", "internal"), ("tke513-gw", "shop"), ("tke512-gw", "shop")]


@pytest.mark.parametrize(("namespace", "name"), TRACED)
def test_trace_gw_live_equals_the_trace_of_its_own_dump(
    gateway_cluster: ControlPlane, tmp_path: Path, namespace: str, name: str
) -> None:
    live = plugin(gateway_cluster, "trace", f"gw/{name}", "-n", namespace, "-o", "json")
    assert live.status in (0, 1), live.err
    doc = live.json()
    assert doc["trace"]["target"] == {"kind": "Gateway", "namespace": namespace, "name": name}
    assert {"clb", "listener"} <= {h["stage"] for h in doc["trace"]["hops"]}
    dump = plugin(gateway_cluster, "dump", "-A")
    assert dump.status == 0, dump.err
    (tmp_path / "dump.yaml").write_text(dump.out)
    snap = offline("trace", f"gw/{name}", "-n", namespace, "-o", "json", "--snapshot", str(tmp_path / "dump.yaml"))
    assert without_source(doc) == without_source(snap)
    for output in ("tree", "mermaid"):  # html names its source (the context, or the snapshot) in its header
        again = plugin(gateway_cluster, "trace", f"gw/{name}", "-n", namespace, "-o", output)
        shown = run_plugin(
            "trace", f"gw/{name}", "-n", namespace, "-o", output, "--snapshot", str(tmp_path / "dump.yaml")
        )
        assert (again.status, again.out) == (shown.status, shown.out)
    print(
        f"trace gw/{name} -n {namespace} live: {len(doc['trace']['hops'])} hops, state {doc['trace']['state']}, "
        f"{len(doc['findings'])} findings, {live.seconds:.2f}s"
    )


def test_trace_gw_lists_each_kind_once_and_what_gateway_lists(gateway_cluster: ControlPlane) -> None:
    before = len(gateway_cluster.audit_events())
    run = plugin(gateway_cluster, "gateway", "shop", "-A", "-o", "json")
    assert run.status == 1, run.err
    diagnosis = _list_requests(gateway_cluster, before)
    before = len(gateway_cluster.audit_events())
    run = plugin(gateway_cluster, "trace", "gw/shop", "-n", "tke509-gw", "-o", "json")
    assert run.status == 1, run.err
    traced = _list_requests(gateway_cluster, before)
    assert len(traced) == len(set(traced)), traced  # each kind once
    per_resource: dict[str, int] = {}
    for entry in traced:
        resource = entry.split("@")[0]
        per_resource[resource] = per_resource.get(resource, 0) + 1
    assert {k: per_resource.get(k) for k in KINDS} == dict.fromkeys(KINDS, 1), per_resource
    # Every namespace (the routes, Envoy's Service and the backends are elsewhere than the Gateway), nothing more
    # than `gateway NAME -A` lists: the Service checks of the backends read only what is already held.
    assert all(entry.endswith(("@", "@kube-system")) for entry in traced), traced
    assert sorted(traced) == sorted(diagnosis), (traced, diagnosis)
    assert "ingresses" not in per_resource
    print(f"trace gw/shop: {len(traced)} LIST requests ({', '.join(sorted(traced))}), {run.seconds:.2f}s")


def test_trace_gw_name_that_matches_nothing(gateway_cluster: ControlPlane) -> None:
    run = plugin(gateway_cluster, "trace", "gw/nope", "-n", "tke509-gw")
    assert (run.status, run.out) == (2, "")
    assert run.err == 'error: gateway "nope" not found in namespace "tke509-gw"\n'


def test_trace_gw_without_the_crds_is_one_line(controlplane: ControlPlane) -> None:
    bare = plugin(controlplane, "trace", "gw/shop", "-n", "default")
    assert (bare.status, bare.out) == (3, "")
    assert bare.err.startswith("error: cannot trace Gateway shop: ") and bare.err.count("\n") == 1
    assert "gateway.networking.k8s.io/v1" in bare.err and "not served" in bare.err
