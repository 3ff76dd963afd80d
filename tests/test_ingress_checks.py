"""Ingress checks TKE201-TKE211 on fixture clusters: exact findings, what messages say, what is skipped."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_tke_net.checks import catalog as checks
from kubectl_tke_net.model import Severity
from tests.conftest import CLI, finding, fixture, found


def report(cli: CLI, name: str, *flags: str) -> dict[str, Any]:
    return cli("ingress", "-A", "--snapshot", fixture(name), "-o", "json", *flags).json()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("healthy", set(), id="healthy"),
        pytest.param(
            "ingress-backends",
            {
                # storefront (port by number and by name, default backend, several rules per host), direct
                # (ClusterIP backend with direct-access) and the ExternalName / selector-less backends of
                # nginx-backends give nothing; nginx-backends gets the generic codes only, not TKE203.
                ("TKE201", "Ingress/shop/broken-backends"),
                ("TKE202", "Ingress/shop/broken-backends"),
                ("TKE203", "Ingress/shop/broken-backends"),
                ("TKE204", "Ingress/shop/broken-backends"),
                ("TKE201", "Ingress/shop/nginx-backends"),
                ("TKE204", "Ingress/shop/nginx-backends"),
                ("TKE202", "Ingress/shop/old-shape"),
            },
            id="backends",
        ),
        pytest.param(
            "ingress-tls",
            {
                # secure has its Secret; nginx-secure (another class) gets TKE205 but never TKE210/TKE211.
                ("TKE211", "Ingress/web/secure"),
                ("TKE205", "Ingress/web/secure-missing"),
                ("TKE211", "Ingress/web/secure-missing"),
                ("TKE205", "Ingress/web/nginx-secure"),
                ("TKE210", "Ingress/web/sg-typo"),
                ("TKE210", "Ingress/web/sg-too-many"),
            },
            id="tls-and-security-groups",
        ),
        pytest.param(
            "ingress-class",
            {
                # qcloud by annotation and by ingressClassName are CLB Ingresses (TKE206 without an address),
                # ingressClassName qcloud needs no IngressClass object; nginx by either form gets neither TKE203
                # (ClusterIP backend) nor TKE206; only the unknown class gets TKE209.
                ("TKE206", "Ingress/apps/by-annotation"),
                ("TKE206", "Ingress/apps/by-name-qcloud"),
                ("TKE209", "Ingress/apps/typo-class"),
            },
            id="class",
        ),
        pytest.param(
            "ingress-rules",
            {
                ("TKE207", "Ingress/docs/no-default"),
                ("TKE208", "Ingress/docs/dup"),
            },
            id="rules",
        ),
        pytest.param("ingress-restricted", set(), id="restricted"),
    ],
)
def test_findings(cli: CLI, name: str, expected: set[tuple[str, str]]) -> None:
    assert found(cli("ingress", "-A", "--snapshot", fixture(name), "-o", "json")) == expected


@pytest.mark.parametrize(
    ("name", "code", "obj", "says", "not_says"),
    [
        pytest.param(
            "ingress-backends",
            "TKE201",
            "Ingress/shop/broken-backends",
            [
                "Service payments does not exist in namespace shop, only in namespace billing",
                "rule shop.example.com/pay (Prefix)",
                "Service webb does not exist in namespace shop, did you mean web?",
                "rule shop.example.com/account (Prefix)",
            ],
            ["Service api", "Service cart", "Service web "],
            id="201-names-each-missing-service",
        ),
        pytest.param(
            "ingress-backends",
            "TKE202",
            "Ingress/shop/broken-backends",
            [
                "Service api has no port 8080 (its ports: http 80/TCP; 8080 is the targetPort of port 80",
                "rule shop.example.com/v2 (Prefix)",
                "Service api has no port named 'https'",
                "rule shop.example.com/v3 (Prefix)",
            ],
            ["Service web", "Service cart", "payments"],
            id="202-port-by-number-and-name",
        ),
        pytest.param(
            "ingress-backends",
            "TKE202",
            "Ingress/shop/old-shape",
            ["Service api has no port named 'grpc'", "rule old.example.com/"],
            [],
            id="202-v1beta1-shape",
        ),
        pytest.param(
            "ingress-backends",
            "TKE203",
            "Ingress/shop/broken-backends",
            [
                "Service cart is type ClusterIP (used by rule shop.example.com/cart (Prefix))",
                "the CLB forwards to NodePorts",
            ],
            ["Service web", "Service api", "Service orders"],
            id="203-clusterip-backend",
        ),
        pytest.param(
            "ingress-backends",
            "TKE204",
            "Ingress/shop/broken-backends",
            [
                "Service search has no ready endpoint (used by rule shop.example.com/search (Prefix)): "
                "selector app=search matches no Pod in namespace shop",
                "Service orders has no ready endpoint (used by rule shop.example.com/orders (Exact), "
                "rule admin.example.com/orders (Prefix)): 2 of 2 Pods not ready",
                "orders-66d8b-crash (CrashLoopBackOff)",
                "orders-66d8b-gated (readiness gate cloud.tencent.com/load-balancer-backendgroup-ready is not True)",
            ],
            ["Service web", "Service api", "Service cart", "payments"],
            id="204-says-why",
        ),
        pytest.param(
            "ingress-backends",
            "TKE204",
            "Ingress/shop/nginx-backends",
            ["Service orders has no ready endpoint"],
            ["legacy", "manual", "cart"],
            id="204-skips-externalname-and-selectorless",
        ),
        pytest.param(
            "ingress-tls",
            "TKE205",
            "Ingress/web/secure-missing",
            [
                "TLS Secret api-tls does not exist in namespace web (hosts api.example.com, api-v2.example.com)",
                "TLS Secret partner-tls does not exist in namespace web, only in namespace partners",
            ],
            ["site-tls"],
            id="205-clb",
        ),
        pytest.param(
            "ingress-tls",
            "TKE205",
            "Ingress/web/nginx-secure",
            ["TLS Secret blog-tls does not exist in namespace web"],
            ["nginx-tls", "fallback"],
            id="205-other-class",
        ),
        pytest.param(
            "ingress-tls",
            "TKE210",
            "Ingress/web/sg-typo",
            ["ingress.cloud.tencent.com/security-groups is malformed: 'sg-web' is not a security group ID"],
            ["sg-12345678"],
            id="210-bad-id",
        ),
        pytest.param(
            "ingress-tls",
            "TKE210",
            "Ingress/web/sg-too-many",
            ["6 security groups given, at most 5"],
            [],
            id="210-too-many",
        ),
        pytest.param(
            "ingress-tls",
            "TKE211",
            "Ingress/web/secure",
            ["TLS is configured for www.example.com: CLB lb-8xk2m4pq serves HTTPS on 443"],
            [],
            id="211-names-clb",
        ),
        pytest.param(
            "ingress-class",
            "TKE206",
            "Ingress/apps/by-annotation",
            [
                "status.loadBalancer.ingress is empty",
                "newest Warning event: SyncLoadBalancerFailed: Ingress apps/by-annotation: "
                "the existing CLB "
                "lb-342wppll already has listeners",
            ],
            ["not found", "Ensuring", "subnet"],
            id="206-quotes-newest-warning",
        ),
        pytest.param(
            "ingress-class",
            "TKE206",
            "Ingress/apps/by-name-qcloud",
            ["status.loadBalancer.ingress is empty"],
            ["Warning event"],
            id="206-without-events",
        ),
        pytest.param(
            "ingress-class",
            "TKE209",
            "Ingress/apps/typo-class",
            ["IngressClass ngnix does not exist (IngressClasses: nginx)"],
            [],
            id="209",
        ),
        pytest.param(
            "ingress-rules",
            "TKE207",
            "Ingress/docs/no-default",
            [
                "requests matching none of these rules get 404: shop.example.com/ (Prefix) -> web:http; "
                "shop.example.com/api (Prefix) -> api:80; shop.example.com/static (Exact) -> web:80; "
                "*/healthz (ImplementationSpecific) -> web:80"
            ],
            [],
            id="207-lists-rules",
        ),
        pytest.param(
            "ingress-rules",
            "TKE208",
            "Ingress/docs/dup",
            ["shop.example.com/api appears 2 times (-> api:80, web:80)"],
            ["/docs"],
            id="208",
        ),
    ],
)
def test_messages(
    cli: CLI,
    name: str,
    code: str,
    obj: str,
    *,
    says: list[str],
    not_says: list[str],
) -> None:
    message = finding(report(cli, name), code, obj)["message"]
    for text in says:
        assert text in message
    for text in not_says:
        assert text not in message


@pytest.mark.parametrize(
    ("name", "code", "obj", "says"),
    [
        pytest.param(
            "ingress-backends",
            "TKE203",
            "Ingress/shop/broken-backends",
            """kubectl patch service -n shop cart -p '{"spec":{"type":"NodePort"}}'""",
            id="203",
        ),
        pytest.param(
            "ingress-backends",
            "TKE204",
            "Ingress/shop/broken-backends",
            "kubectl tke-net service -n shop search; kubectl tke-net service -n shop orders",
            id="204",
        ),
        pytest.param(
            "ingress-tls",
            "TKE205",
            "Ingress/web/secure-missing",
            "kubectl create secret generic api-tls -n web --from-literal=qcloud_cert_id=CERT_ID",
            id="205-clb",
        ),
        pytest.param(
            "ingress-tls",
            "TKE205",
            "Ingress/web/nginx-secure",
            "kubectl create secret tls blog-tls -n web --cert=tls.crt --key=tls.key",
            id="205-other-class",
        ),
        pytest.param(
            "ingress-tls",
            "TKE211",
            "Ingress/web/secure",
            "security groups sg-12345678,sg-abcdefgh allow inbound TCP 443",
            id="211",
        ),
    ],
)
def test_remediation(cli: CLI, name: str, code: str, obj: str, says: str) -> None:
    assert says in finding(report(cli, name), code, obj)["remediation"]


def test_unreadable_kinds_are_skipped_not_missing(cli: CLI) -> None:
    doc = report(cli, "ingress-restricted")
    assert doc["findings"] == []
    assert sorted((s["codes"], s["reason"]) for s in doc["skipped"]) == [
        (["TKE205"], 'forbidden: User "dev" cannot list resource "secrets" in API group "" in the namespace "shop"'),
        (
            ["TKE209"],
            'forbidden: User "dev" cannot list resource "ingressclasses" '
            'in API group "networking.k8s.io" at the cluster scope',
        ),
    ]


def test_severities_follow_spec(cli: CLI) -> None:
    severities = {
        (f["code"], f["severity"])
        for name in ("ingress-backends", "ingress-tls", "ingress-class", "ingress-rules")
        for f in report(cli, name)["findings"]
    }
    assert severities == {
        ("TKE201", "error"),
        ("TKE202", "error"),
        ("TKE203", "error"),
        ("TKE204", "error"),
        ("TKE205", "error"),
        ("TKE206", "error"),
        ("TKE207", "info"),
        ("TKE208", "warning"),
        ("TKE209", "error"),
        ("TKE210", "error"),
        ("TKE211", "info"),
    }


def test_ignore_annotation_suppresses(cli: CLI) -> None:
    assert report(cli, "ingress-rules")["summary"]["suppressed"] == 1
    unsuppressed = cli("ingress", "-A", "--snapshot", fixture("ingress-rules"), "-o", "json", "--no-suppress")
    assert ("TKE207", "Ingress/docs/quiet") in found(unsuppressed)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ("ingress", "broken-backends", "-n", "shop"),
            {
                ("TKE201", "Ingress/shop/broken-backends"),
                ("TKE202", "Ingress/shop/broken-backends"),
                ("TKE203", "Ingress/shop/broken-backends"),
                ("TKE204", "Ingress/shop/broken-backends"),
            },
            id="one-ingress",
        ),
        pytest.param(
            ("ingress", "-n", "shop"),
            {
                ("TKE201", "Ingress/shop/broken-backends"),
                ("TKE202", "Ingress/shop/broken-backends"),
                ("TKE203", "Ingress/shop/broken-backends"),
                ("TKE204", "Ingress/shop/broken-backends"),
                ("TKE201", "Ingress/shop/nginx-backends"),
                ("TKE204", "Ingress/shop/nginx-backends"),
                ("TKE202", "Ingress/shop/old-shape"),
            },
            id="namespace",
        ),
    ],
)
def test_scope(cli: CLI, args: tuple[str, ...], expected: set[tuple[str, str]]) -> None:
    run = cli(*args, "--snapshot", fixture("ingress-backends"), "-o", "json", "--select", "TKE2")
    assert found(run) == expected


def test_service_command_runs_no_ingress_check(cli) -> None:  # type: ignore[no-untyped-def]
    """SPEC 9.1: --select that leaves the command no check is a usage error, not a clean report."""
    run = cli("service", "-A", "--snapshot", fixture("ingress-backends"), "-o", "json", "--select", "TKE2")
    assert run.status == 2 and run.out == ""
    assert run.err == "error: no check of service is left to run after --select TKE2 (see `kubectl tke-net checks`)\n"


@pytest.mark.parametrize("code", [f"TKE2{n:02d}" for n in range(1, 12)])
def test_registered_with_docs(code: str) -> None:
    checks.load_all()
    chk = checks.CHECKS[code]
    assert chk.commands == frozenset({"ingress"})
    assert chk.severity in Severity
    headings = [line for line in chk.doc.splitlines() if line.startswith("## ")]
    assert headings[0] == "## What it does" and headings[-1] == "## How to fix it" and len(headings) == 3
