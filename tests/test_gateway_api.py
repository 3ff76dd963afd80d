"""Gateway API's matching rules as the TKE5xx checks apply them: hostnames, listeners a parentRef selects, which
routes a listener allows, ReferenceGrants."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_tke_net import gateway_api as gw


@pytest.mark.parametrize(
    ("listener", "hosts", "match"),
    [
        (None, ["anything.example.org"], True),  # a listener without hostname accepts every host
        ("shop.example.com", [], True),  # a route without hostnames takes the listener's
        ("*.example.com", ["shop.example.com"], True),
        ("*.example.com", ["a.b.example.com"], True),  # a wildcard covers one label or more
        ("*.example.com", ["example.com"], False),  # but never the apex
        ("*.example.com", ["shop.example.org"], False),
        ("shop.example.com", ["*.example.com"], True),  # wildcards on the route's side too
        ("*.example.com", ["*.shop.example.com"], True),
        ("shop.example.com", ["api.example.com", "shop.example.com"], True),
        ("shop.example.com", ["xshop.example.com"], False),
        ("*.example.com", ["badexample.com"], False),
    ],
)
def test_hostnames_intersect(listener: str | None, hosts: list[str], match: bool) -> None:
    assert gw.hostnames_intersect(listener, hosts) is match


def _gateway(listeners: list[dict[str, Any]], ns: str = "gw") -> dict[str, Any]:
    return {"kind": "Gateway", "metadata": {"name": "shop", "namespace": ns}, "spec": {"listeners": listeners}}


def _route(ns: str = "app", kind: str = "HTTPRoute", **ref: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": "r", "namespace": ns},
        "spec": {"parentRefs": [{"name": "shop", "namespace": "gw", **ref}]},
    }


def test_parent_refs_default_to_the_routes_namespace_and_skip_other_kinds() -> None:
    route = {
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "app"},
        "spec": {
            "parentRefs": [
                {"name": "shop"},
                {"name": "mesh", "kind": "Service", "group": ""},  # GAMMA: a Service parent is not a Gateway
                {"name": "edge", "namespace": "gw", "sectionName": "https", "port": 443},
            ]
        },
    }
    refs = gw.parent_refs(route)
    assert [(r.namespace, r.name, r.section, r.port) for r in refs] == [
        ("app", "shop", None, None),
        ("gw", "edge", "https", 443),
    ]


def test_selected_listeners_by_section_and_port() -> None:
    gateway = _gateway([{"name": "http", "port": 80}, {"name": "https", "port": 443}])
    (ref,) = gw.parent_refs(_route(sectionName="https"))
    assert [lst["name"] for lst in gw.selected_listeners(gateway, ref)] == ["https"]
    (ref,) = gw.parent_refs(_route(port=80))
    assert [lst["name"] for lst in gw.selected_listeners(gateway, ref)] == ["http"]
    (ref,) = gw.parent_refs(_route(sectionName="https", port=80))
    assert gw.selected_listeners(gateway, ref) == []


@pytest.mark.parametrize(
    ("allowed", "route_ns", "kind", "verdict"),
    [
        (None, "gw", "HTTPRoute", True),  # from: Same is the default
        (None, "app", "HTTPRoute", False),
        ({"namespaces": {"from": "All"}}, "app", "HTTPRoute", True),
        ({"namespaces": {"from": "Selector", "selector": {"matchLabels": {"a": "b"}}}}, "app", "HTTPRoute", None),
        ({"namespaces": {"from": "All"}, "kinds": [{"kind": "GRPCRoute"}]}, "app", "HTTPRoute", False),
        ({"namespaces": {"from": "All"}, "kinds": [{"kind": "GRPCRoute"}]}, "app", "GRPCRoute", True),
        (
            {"namespaces": {"from": "All"}, "kinds": [{"group": "other.io", "kind": "HTTPRoute"}]},
            "app",
            "HTTPRoute",
            False,
        ),
    ],
)
def test_allows(allowed: dict[str, Any] | None, route_ns: str, kind: str, verdict: bool | None) -> None:
    listener: dict[str, Any] = {"name": "l", "port": 80}
    if allowed is not None:
        listener["allowedRoutes"] = allowed
    assert gw.allows(listener, _gateway([listener]), _route(ns=route_ns, kind=kind)) is verdict


def test_reference_grants() -> None:
    route = {"kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "app"}, "spec": {}}
    backend = gw.BackendRef("shared", "db", 5432, 0)

    def grant(ns: str, src: dict[str, str], to: dict[str, str]) -> dict[str, Any]:
        return {"metadata": {"name": "g", "namespace": ns}, "spec": {"from": [src], "to": [to]}}

    src = {"group": gw.GROUP, "kind": "HTTPRoute", "namespace": "app"}
    assert gw.granted([grant("shared", src, {"group": "", "kind": "Service"})], route, backend)
    assert gw.granted([grant("shared", src, {"group": "", "kind": "Service", "name": "db"})], route, backend)
    assert not gw.granted([grant("shared", src, {"group": "", "kind": "Service", "name": "cache"})], route, backend)
    assert not gw.granted([grant("other", src, {"group": "", "kind": "Service"})], route, backend)  # wrong namespace
    assert not gw.granted(
        [grant("shared", {**src, "kind": "GRPCRoute"}, {"group": "", "kind": "Service"})], route, backend
    )
    assert not gw.granted(
        [grant("shared", {**src, "namespace": "web"}, {"group": "", "kind": "Service"})], route, backend
    )
    assert not gw.granted([], route, backend)
