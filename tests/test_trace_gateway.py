"""`trace gw/NAME` (issue #25): the Gateway's CLB, its listeners, the routes attached to them, their backendRefs and
the Services' paths behind them, from the facts and findings of `gateway NAME` (and the Service checks of its
backends); goldens for tree, json and mermaid, mermaid's own parser, the HTML page in a real headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import browser
from tests.conftest import CLI, PLUGIN, golden
from tests.test_trace import ARTIFACTS, DRAWN, _browser, codes, hops, parse_mermaid, trace

GATEWAYS = "examples/gateway-cluster.yaml"
CHECKS = Path(__file__).resolve().parent / "checks"


def check_fixture(tmp_path: Path, code: str) -> str:
    """The objects of tests/checks/CODE.yaml (its second document) as a snapshot."""
    docs = list(yaml.safe_load_all((CHECKS / f"{code}.yaml").read_text(encoding="utf-8")))
    path = tmp_path / f"{code}.yaml"
    path.write_text(yaml.safe_dump(docs[1]), encoding="utf-8")
    return str(path)


def titled(doc: dict[str, Any], stage: str) -> dict[str, dict[str, Any]]:
    return {h["title"]: h for h in hops(doc, stage)}


def below(doc: dict[str, Any], hop: dict[str, Any]) -> list[dict[str, Any]]:
    by_id = {h["id"]: h for h in hops(doc)}
    return [by_id[n] for n in hop["next"]]


# --- the path model ------------------------------------------------------------------------------------------


def test_gateway_path_from_the_clb_through_listeners_and_routes_to_the_nodes(cli: CLI) -> None:
    doc = trace(cli, "gw/shop-gw", "-n", "gateway", "--snapshot", GATEWAYS)
    assert doc["command"] == "trace"
    assert doc["trace"]["target"] == {"kind": "Gateway", "namespace": "gateway", "name": "shop-gw"}
    (clb,) = hops(doc, "clb")
    assert clb["title"] == "CLB 198.18.10.8 (internal)" and doc["trace"]["roots"] == [clb["id"]]
    assert "its Service envoy-gateway-system/envoy-gateway-shop-gw-8d3a1f2c" in clb["details"]
    assert "listener TCP:80 -> NodePort 31080" in clb["details"]
    assert clb["loopback"] == "exposed" and codes(clb) == {"TKE515", "TKE516"} and clb["state"] == "ok"
    (proxy,) = below(doc, clb)  # the CLB's backends: the Envoy Pods behind the Gateway's Service
    assert proxy["stage"] == "proxy" and proxy["state"] == "ok"
    assert proxy["title"] == "Envoy proxy Pods of envoy-gateway-shop-gw-8d3a1f2c: 2 of 2 ready"
    (listener,) = below(doc, proxy)
    assert listener["title"] == "listener http HTTP:80 *.shop.example.com" and listener["stage"] == "listener"
    routes = {h["title"]: h for h in below(doc, listener)}
    assert {t: (h["state"], codes(h)) for t, h in routes.items()} == {
        "HTTPRoute admin/console: admin.example.net": ("failing", {"TKE514"}),
        "HTTPRoute payments/checkout: pay.shop.example.com": ("failing", {"TKE506"}),
        "HTTPRoute shop/storefront: www.shop.example.com": ("ok", set()),
    }
    backends = titled(doc, "backend")
    assert {t: (h["state"], codes(h)) for t, h in backends.items()} == {
        "rule 1 -> console:8080": ("failing", {"TKE511"}),  # a port the Service does not have: nothing behind it
        "rule 1 -> shop/catalog:80": ("failing", {"TKE513"}),
        "rule 1 -> storefront:80": ("ok", set()),
    }
    assert backends["rule 1 -> console:8080"]["next"] == []
    # Envoy sends to the endpoints itself: the backend Service's path has no NodePort.
    stages, hop = [], backends["rule 1 -> storefront:80"]
    while hop["next"]:
        hop = below(doc, hop)[0]
        stages.append(hop["stage"])
    assert stages == ["service-port", "endpointslices", "pods", "nodes"]
    assert doc["trace"]["state"] == "failing"
    # The findings are those of `gateway shop-gw` read across namespaces, each on the path.
    gateway = cli("gateway", "shop-gw", "-A", "--snapshot", GATEWAYS, "-o", "json").json()
    assert doc["findings"] == gateway["findings"] and doc["summary"] == gateway["summary"]
    assert {c["code"] for h in hops(doc) for c in h["codes"]} == {f["code"] for f in doc["findings"]}


@pytest.mark.parametrize("target", ["gateway/shop-gw", "gateways/shop-gw", "GW/shop-gw"])
def test_the_kind_is_spelled_as_kubectl_spells_it(cli: CLI, target: str) -> None:
    expected = cli("trace", "gw/shop-gw", "-n", "gateway", "--snapshot", GATEWAYS, "-o", "json").out
    assert cli("trace", target, "-n", "gateway", "--snapshot", GATEWAYS, "-o", "json").out == expected


def test_a_gateway_without_address_is_failing_at_its_clb(cli: CLI) -> None:
    run = cli("trace", "gw/partner-gw", "-n", "gateway", "--snapshot", GATEWAYS, "-o", "json")
    assert run.status == 1
    doc = run.json()
    (clb,) = hops(doc, "clb")
    assert clb["title"] == "CLB without address (internal)"
    assert (clb["state"], codes(clb)) == ("failing", {"TKE503", "TKE516"})
    assert clb["reason"] == "no address in status.addresses"
    assert clb["loopback"] == "not-exposed"  # its Service has prevent-loopback and kube-proxy has the fix
    (listener,) = hops(doc, "listener")
    assert listener["next"] == [] and "routes from namespaces: Same" in listener["details"]


def test_envoy_proxy_pods_not_ready_fail_the_path_behind_the_clb(cli: CLI, tmp_path: Path) -> None:
    doc = yaml.safe_load(Path(GATEWAYS).read_text(encoding="utf-8"))
    for obj in doc["items"]:
        if obj["kind"] == "Pod" and obj["metadata"]["namespace"] == "envoy-gateway-system":
            obj["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    snap = tmp_path / "envoy-down.yaml"
    snap.write_text(yaml.safe_dump(doc), encoding="utf-8")
    traced = trace(cli, "gw/shop-gw", "-n", "gateway", "--snapshot", str(snap))
    (proxy,) = hops(traced, "proxy")
    assert proxy["state"] == "failing"
    assert proxy["reason"] == "no Envoy proxy Pod is ready: the CLB has no healthy backend"
    assert traced["trace"]["state"] == "failing"
    # Without the Pods read (left out by --select), the proxy is not known either way.
    left_out = trace(cli, "gw/shop-gw", "-n", "gateway", "--snapshot", str(snap), "--select", "TKE515")
    (proxy,) = hops(left_out, "proxy")
    assert (proxy["state"], proxy["reason"]) == ("unknown", "Pods were not read")


def test_refused_routes_hang_under_the_listeners_they_tried(cli: CLI, tmp_path: Path) -> None:
    doc = trace(cli, "gw/shop", "-n", "gw", "--snapshot", check_fixture(tmp_path, "TKE509"))
    listeners = titled(doc, "listener")
    under = {
        title: sorted((h["title"], h["state"], tuple(sorted(codes(h)))) for h in below(doc, hop))
        for title, hop in listeners.items()
    }
    assert under == {
        "listener same HTTP:80 (every host)": [
            ("HTTPRoute app/other-namespace: every host", "failing", ("TKE509",)),
            ("HTTPRoute gw/same-namespace: every host", "ok", ()),
        ],
        "listener grpc-only HTTP:8080 (every host)": [
            ("GRPCRoute app/grpc: every host", "ok", ()),
            ("HTTPRoute app/wrong-kind: every host", "failing", ("TKE509",)),
        ],
        # from: Selector: the plugin does not read Namespaces, so the route is neither ok nor refused.
        "listener labelled HTTP:9090 (every host)": [("HTTPRoute app/selector: every host", "unknown", ())],
    }
    refused = titled(doc, "route")["HTTPRoute app/other-namespace: every host"]
    assert refused["reason"] == "no listener of the Gateway accepts the route"
    assert "listener same: its allowedRoutes do not admit HTTPRoute from namespace app" in refused["details"]
    assert {h["state"] for h in hops(doc, "nodes")} == {"ok"}


def test_a_route_a_listener_surely_takes_is_ok_beside_a_selector_listener(cli: CLI, tmp_path: Path) -> None:
    doc = yaml.safe_load(Path(GATEWAYS).read_text(encoding="utf-8"))
    shop = next(o for o in doc["items"] if o["kind"] == "Gateway" and o["metadata"]["name"] == "shop-gw")
    shop["spec"]["listeners"].append(
        {
            "name": "picked",
            "port": 8080,
            "protocol": "HTTP",
            "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "shop"}}}},
        }
    )
    snap = tmp_path / "selector.yaml"
    snap.write_text(yaml.safe_dump(doc), encoding="utf-8")
    trace_doc = trace(cli, "gw/shop-gw", "-n", "gateway", "--snapshot", str(snap))
    listeners = {h["title"]: h for h in hops(trace_doc, "listener")}
    (storefront,) = [h for h in hops(trace_doc, "route") if h["title"].startswith("HTTPRoute shop/storefront")]
    for title in ("listener http HTTP:80 *.shop.example.com", "listener picked HTTP:8080 (every host)"):
        assert storefront["id"] in listeners[title]["next"]
    assert storefront["state"] == "ok"  # the http listener takes it whatever the selector says


def test_a_route_whose_listener_does_not_exist_hangs_under_the_clb(cli: CLI, tmp_path: Path) -> None:
    doc = trace(cli, "gw/shop", "-n", "gw", "--snapshot", check_fixture(tmp_path, "TKE508"))
    (clb,) = hops(doc, "clb")
    under_clb = [h for h in below(doc, clb) if h["stage"] == "route"]
    assert under_clb and all(h["state"] == "failing" and "TKE508" in codes(h) for h in under_clb)
    assert all(any("no such listener" in d for d in h["details"]) for h in under_clb)


def test_a_listener_not_programmed_carries_tke504(cli: CLI, tmp_path: Path) -> None:
    doc = trace(cli, "gw/badcert", "-n", "gw", "--snapshot", check_fixture(tmp_path, "TKE504"))
    listeners = titled(doc, "listener")
    https = next(h for t, h in listeners.items() if t.startswith("listener https "))
    assert (https["state"], codes(https)) == ("failing", {"TKE504"})
    assert any(d.startswith("ResolvedRefs False (InvalidCertificateRef") for d in https["details"])
    (clb,) = hops(doc, "clb")
    assert "TKE504" not in codes(clb)  # the listener's condition, not the Gateway's
    others = [h for t, h in listeners.items() if h is not https]
    assert all(codes(h) == set() for h in others)


def test_the_backend_services_get_the_service_checks(cli: CLI, tmp_path: Path) -> None:
    doc = trace(cli, "gw/shop", "-n", "gw", "--snapshot", check_fixture(tmp_path, "TKE512"))
    backends = titled(doc, "backend")
    assert codes(backends["rule 1 -> api:80"]) == {"TKE512"} and codes(backends["rule 1 -> lost:80"]) == {"TKE512"}
    slices = {h["object"]["name"]: h for h in hops(doc, "endpointslices")}
    pods = {h["object"]["name"]: h for h in hops(doc, "pods")}
    assert (slices["api"]["state"], codes(slices["api"])) == ("failing", {"TKE102"})
    assert (pods["lost"]["state"], codes(pods["lost"])) == ("failing", {"TKE101"})
    assert {(f["code"], f["kind"], f["namespace"], f["name"]) for f in doc["findings"]} >= {
        ("TKE102", "Service", "app", "api"),
        ("TKE101", "Service", "app", "lost"),
        ("TKE512", "HTTPRoute", "app", "to-api"),
    }


def test_cross_namespace_backend_with_a_grant_is_ok(cli: CLI, tmp_path: Path) -> None:
    doc = trace(cli, "gw/shop", "-n", "gw", "--snapshot", check_fixture(tmp_path, "TKE513"))
    backends = {(h["object"]["name"], h["title"]): (h["state"], codes(h)) for h in hops(doc, "backend")}
    assert backends[("not-granted", "rule 1 -> shared/other:80")] == ("failing", {"TKE513"})
    assert backends[("granted", "rule 1 -> shared/granted:80")] == ("ok", set())


def test_only_the_gateway_of_the_namespace_is_examined(cli: CLI, tmp_path: Path) -> None:
    """A Gateway of the same name in another namespace is neither traced nor judged."""
    doc = yaml.safe_load(Path(GATEWAYS).read_text(encoding="utf-8"))
    twin = next(o for o in doc["items"] if o["kind"] == "Gateway" and o["metadata"]["name"] == "partner-gw")
    twin = json.loads(json.dumps(twin))
    twin["metadata"]["namespace"] = "elsewhere"
    twin["spec"]["gatewayClassName"] = "missing"  # TKE501 if it were examined
    doc["items"].append(twin)
    snap = tmp_path / "twins.yaml"
    snap.write_text(yaml.safe_dump(doc), encoding="utf-8")
    run = cli("trace", "gw/partner-gw", "-n", "gateway", "--snapshot", str(snap), "-o", "json")
    assert {(f["code"], f["namespace"]) for f in run.json()["findings"]} == {
        ("TKE503", "gateway"),
        ("TKE516", "gateway"),
    }


# --- what cannot be traced -----------------------------------------------------------------------------------


def test_a_gateway_name_that_matches_nothing(cli: CLI) -> None:
    run = cli("trace", "gw/nope", "-n", "gateway", "--snapshot", GATEWAYS)
    assert (run.status, run.out) == (2, "")
    assert run.err == 'error: gateway "nope" not found in namespace "gateway"\n'
    run = cli("trace", "gw/shop-gw", "-n", "shop", "--snapshot", GATEWAYS)  # its routes are there, not it
    assert run.status == 2 and run.err == 'error: gateway "shop-gw" not found in namespace "shop"\n'


def test_without_the_gateway_api_nothing_can_be_traced(cli: CLI, tmp_path: Path) -> None:
    doc = yaml.safe_load(Path(GATEWAYS).read_text(encoding="utf-8"))
    doc["items"] = [o for o in doc["items"] if not o["apiVersion"].startswith("gateway.networking.k8s.io/")]
    reason = "the API gateway.networking.k8s.io/v1 is not served by this cluster (CRD not installed?)"
    doc.setdefault("metadata", {}).setdefault("annotations", {})["tke-net.kubectl.io/unavailable"] = json.dumps(
        dict.fromkeys(("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants"), reason)
    )
    snap = tmp_path / "no-crds.yaml"
    snap.write_text(yaml.safe_dump(doc), encoding="utf-8")
    run = cli("trace", "gw/shop-gw", "-n", "gateway", "--snapshot", str(snap))
    assert (run.status, run.out) == (3, "")
    assert run.err == f"error: cannot trace Gateway shop-gw: {reason}\n"
    # `gateway` itself lists its checks as skipped with the same reason (exit 0): there is nothing to judge.
    gateway = cli("gateway", "-A", "--snapshot", str(snap), "-o", "json")
    assert gateway.status == 0 and reason in {s["reason"] for s in gateway.json()["skipped"]}


def test_probe_and_cloud_are_for_services_and_ingresses(cli: CLI) -> None:
    for flag in ("--probe", "--cloud"):
        run = cli("trace", "gw/shop-gw", "-n", "gateway", "--snapshot", GATEWAYS, flag)
        assert run.status == 2 and run.err.startswith(f"error: {flag} is for trace svc/NAME and ing/NAME")
        assert run.err.count("\n") == 1


def test_bad_targets_name_the_three_kinds(cli: CLI) -> None:
    run = cli("trace", "route/x", "-n", "gateway", "--snapshot", GATEWAYS)
    assert run.status == 2 and run.err == "error: trace takes svc/NAME, ing/NAME or gw/NAME, not 'route/x'\n"


def test_left_out_checks_leave_their_hops_unknown(cli: CLI) -> None:
    doc = trace(cli, "gw/shop-gw", "-n", "gateway", "--snapshot", GATEWAYS, "--select", "TKE503,TKE504")
    # Nothing but the Gateways was listed: the CLB behind it and the backends are not known, the routes not judged.
    assert {h["stage"] for h in hops(doc) if h["state"] == "unknown"} == {"clb", "route", "backend"}
    (clb,) = hops(doc, "clb")
    assert clb["reason"] == "Services were not read: the CLB behind the Gateway is not known"
    assert clb["loopback"] == "unknown"
    assert {h["reason"] for h in hops(doc, "backend")} == {"Services were not read"}
    assert all(h["state"] == "ok" for h in hops(doc, "listener"))
    (route,) = [h for h in hops(doc, "route") if h["title"].startswith("HTTPRoute shop/")]
    assert route["reason"] == "not checked: TKE505, TKE509, TKE514"


# --- outputs: goldens, mermaid's parser, a real browser -----------------------------------------------------

CASES = {
    "gateway-shop-gw": (GATEWAYS, ("gw/shop-gw", "-n", "gateway")),
    "gateway-tke509": ("TKE509", ("gw/shop", "-n", "gw")),
}


def _case(tmp_path: Path, name: str) -> tuple[str, ...]:
    source, args = CASES[name]
    snap = source if source.endswith(".yaml") else check_fixture(tmp_path, source)
    return (*args, "--snapshot", snap)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize(("output", "suffix"), [("tree", "txt"), ("json", "json"), ("mermaid", "mmd")])
def test_golden(cli: CLI, tmp_path: Path, name: str, output: str, suffix: str) -> None:
    run = cli("trace", *_case(tmp_path, name), "-o", output, "--color", "never")
    assert run.status == 1 and run.err == ""
    text = run.out
    if output == "json":  # the snapshot's path is the test's own temporary file
        doc = json.loads(text)
        doc["source"]["snapshot"] = Path(doc["source"]["snapshot"]).name
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    golden(f"trace-{name}.en.{suffix}", text)


def test_tree_golden_in_chinese(cli: CLI) -> None:
    run = cli("trace", "gw/shop-gw", "-n", "gateway", "--snapshot", GATEWAYS, "--color", "never", "--lang", "zh")
    assert run.status == 1 and run.err == ""
    golden("trace-gateway-shop-gw.zh.txt", run.out)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_mermaid_parses_with_mermaid(cli: CLI, tmp_path: Path, name: str, lang: str) -> None:
    args = (*_case(tmp_path, name), "--lang", lang)
    parsed = parse_mermaid(cli("trace", *args, "-o", "mermaid").out)
    assert parsed["ok"], parsed
    assert parsed["diagramType"] == "flowchart-v2"
    doc = trace(cli, *args)
    assert set(parsed["nodes"]) == {h["id"] for h in hops(doc)}
    assert sorted(map(tuple, parsed["edges"])) == sorted((h["id"], n) for h in hops(doc) for n in h["next"])
    for hop in hops(doc):
        assert hop["title"] in parsed["nodes"][hop["id"]]


@pytest.mark.parametrize(("name", "shot"), [("gateway-shop-gw", "trace-gw-shop-gw.png"), ("gateway-tke509", None)])
def test_html_in_a_real_browser(cli: CLI, tmp_path: Path, name: str, shot: str | None) -> None:
    _browser()
    args = _case(tmp_path, name)
    run = cli("trace", *args, "-o", "html")
    assert run.status == 1 and run.err == ""
    page_file = tmp_path / "trace.html"
    page_file.write_text(run.out, encoding="utf-8")
    doc = trace(cli, *args)
    page = browser.load(page_file, DRAWN, ARTIFACTS / shot if shot else None, width=1800)
    assert page.errors == [], page.errors
    assert page.requests == [page_file.resolve().as_uri()]
    drawn = page.value
    assert drawn["scripts"] == 0 and drawn["external"] == 0
    assert [(h["id"], h["state"]) for h in drawn["hops"]] == [(h["id"], h["state"]) for h in hops(doc)]
    assert all(h["width"] > 100 and h["height"] > 20 for h in drawn["hops"])
    assert sorted(map(tuple, drawn["links"])) == sorted((h["id"], n) for h in hops(doc) for n in h["next"])
    assert drawn["findings"] == [f["code"] for f in doc["findings"]]


def test_the_path_reads_no_field_the_projection_drops(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubectl_tke_net import kinds

    cases = [_case(tmp_path, name) for name in sorted(CASES)] + [
        ("gw/partner-gw", "-n", "gateway", "--snapshot", GATEWAYS),
        ("gw/shop", "-n", "gw", "--snapshot", check_fixture(tmp_path, "TKE512")),
        ("gw/badcert", "-n", "gw", "--snapshot", check_fixture(tmp_path, "TKE504")),
    ]
    projected = [cli("trace", *args, "-o", "json").out for args in cases]
    monkeypatch.setattr(kinds, "PROJECT", False)
    whole = [cli("trace", *args, "-o", "json").out for args in cases]
    for args, a, b in zip(cases, projected, whole, strict=True):
        assert json.loads(a) == json.loads(b), args


def test_readme_shows_a_real_gateway_trace() -> None:
    done = subprocess.run(
        [str(PLUGIN), "trace", "gw/shop-gw", "-n", "gateway", "--snapshot", GATEWAYS, "--color", "never"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "LANG": "C.UTF-8"},
    )
    assert done.returncode == 1, done.stderr
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    command = f"$ kubectl tke-net trace gw/shop-gw -n gateway --snapshot {GATEWAYS}\n"
    assert command + done.stdout.split("\n\n", 1)[0] + "\n" in readme
    assert done.stdout.rstrip("\n").splitlines()[-1] in readme
    # The page's screenshot is test_html_in_a_real_browser's (tests/artifacts/trace-gw-shop-gw.png), copied.
    assert "docs/trace-gw-shop-gw.png" in readme
    assert (Path(__file__).resolve().parents[1] / "docs" / "trace-gw-shop-gw.png").stat().st_size > 10_000
