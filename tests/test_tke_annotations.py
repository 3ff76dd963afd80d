"""The annotation catalogue: "did you mean" across prefixes and case, value types, JSON positions and shapes."""

from __future__ import annotations

import pytest

from kubectl_tke_net import tke_annotations as notes
from kubectl_tke_net import tke_errors
from kubectl_tke_net.checks.annotations import rule_problems


@pytest.mark.parametrize(
    ("kind", "key", "near"),
    [
        (
            "Service",
            "service.kubernetes.io/qcloud-loadbalancer-internal-subnetId",
            "service.kubernetes.io/qcloud-loadbalancer-internal-subnetid",
        ),
        (
            "Service",
            "service.cloud.tencent.com/qcloud-loadbalancer-internal-subnetid",
            "service.kubernetes.io/qcloud-loadbalancer-internal-subnetid",
        ),
        (
            "Service",
            "service.kubernetes.io/loadbalancer-internal-subnetid",
            "service.kubernetes.io/qcloud-loadbalancer-internal-subnetid",
        ),
        ("Service", "service.cloud.tencent.com/loadbalance-id", "service.kubernetes.io/loadbalance-id"),
        ("Service", "service.kubernetes.io/tke-exist-lbid", "service.kubernetes.io/tke-existed-lbid"),
        ("Service", "service.cloud.tencent.com/prevent-loopbak", "service.cloud.tencent.com/prevent-loopback"),
        ("Ingress", "kubernetes.io/ingress.subnetid", "kubernetes.io/ingress.subnetId"),
        ("Ingress", "kubernetes.io/ingress.subnet-id", "kubernetes.io/ingress.subnetId"),
        ("Ingress", "ingress.cloud.tencent.com/subnetId", "kubernetes.io/ingress.subnetId"),
        ("Ingress", "kubernetes.io/ingress.existedLbId", "kubernetes.io/ingress.existLbId"),
        ("Ingress", "kubernetes.io/ingress.allow-http", None),
        ("Service", "service.cloud.tencent.com/sync-begin-tim", "service.cloud.tencent.com/sync-begin-time"),
    ],
)
def test_did_you_mean(kind: str, key: str, near: str | None) -> None:
    assert not notes.known(kind, key)
    assert notes.closest(kind, key) == near


def test_keys_are_known_per_kind() -> None:
    assert notes.known("Ingress", "kubernetes.io/ingress.subnetId")
    assert not notes.known("Service", "kubernetes.io/ingress.subnetId")
    assert {a.key for a in notes.ANNOTATIONS} >= notes.INTERNAL_KEYS
    assert len(notes.BY_KEY) == sum(len(a.kinds) for a in notes.ANNOTATIONS), "a key defined twice"


def test_every_code_named_by_an_annotation_is_in_the_error_catalogue() -> None:
    for a in notes.ANNOTATIONS:
        if a.code:
            assert all(tke_errors.lookup(kind, a.code) for kind in a.kinds), a.key
        assert a.type in ("string", "boolean", "integer", "enum", "json", "id", "selector", "read-only"), a.key
        assert not a.strict or a.code, f"{a.key}: a strict boolean names the code the controller gives"


def _problem(kind: str, key: str, value: str) -> str | None:
    return notes.value_problem(notes.BY_KEY[(kind, key)], value)


def test_json_errors_name_the_position() -> None:
    # imroc/tke-guide codeblock/nginx-service-vip.yaml: an unquoted key.
    problem = _problem("Service", "service.kubernetes.io/service.extensiveParameters", '{ Vip: "1.1.1.1" }')
    assert problem is not None and "line 1 column 3" in problem
    assert _problem("Service", "service.kubernetes.io/service.extensiveParameters", '["a"]') == (
        "JSON of the wrong shape: $: array, expected object"
    )
    assert _problem("Service", "service.kubernetes.io/service.extensiveParameters", '{"VipIsp":"CMCC"}') is None


def test_json_shapes() -> None:
    rules = "kubernetes.io/ingress.http-rules"
    good = '[{"host":"a.example.com","path":"/","backend":{"serviceName":"web","servicePort":80}}]'
    assert _problem("Ingress", rules, good) is None
    assert _problem("Ingress", rules, '{"host":"a"}') == "JSON of the wrong shape: $: object, expected array"
    bad = '[{"path":"/"},{"backend":{"serviceName":1,"servicePort":true}},{},{}]'
    assert _problem("Ingress", rules, bad) == (
        "JSON of the wrong shape: $[0]: missing 'backend'; $[1].backend.serviceName: number, expected string; "
        "$[1].backend.servicePort: boolean, expected string or integer and 2 more"
    )
    protocol = "service.cloud.tencent.com/specify-protocol"
    assert _problem("Service", protocol, '{"80":{"protocol":["TCP_SSL"],"tls":"cert-secret"}}') is None
    assert _problem("Service", protocol, '{"80":{"tls":"x"}}') == "JSON of the wrong shape: $.80: missing 'protocol'"


@pytest.mark.parametrize(
    ("key", "value", "bad"),
    [
        ("kubernetes.io/ingress.rule-mix", "True", True),
        ("kubernetes.io/ingress.rule-mix", "false", False),
        ("ingress.cloud.tencent.com/auto-rewrite", "True", False),  # the controller reads it with ParseBool
        ("kubernetes.io/ingress.internetMaxBandwidthOut", "0", True),
        ("kubernetes.io/ingress.internetMaxBandwidthOut", "2048", False),
        ("kubernetes.io/ingress.internetChargeType", "traffic_postpaid_by_hour", True),
        ("kubernetes.io/ingress.existLbId", "lb-12345678", False),
        ("kubernetes.io/ingress.existLbId", "12345678", True),
    ],
)
def test_scalar_values(key: str, value: str, bad: bool) -> None:
    assert (_problem("Ingress", key, value) is not None) == bad


def test_rules_wildcard_certificates_cover_one_label() -> None:
    ing = {
        "spec": {
            "tls": [{"hosts": ["*.example.com"], "secretName": "w"}],
            "rules": [
                {"host": h, "http": {"paths": [{"path": "/", "backend": {}}]}}
                for h in ("a.example.com", "a.b.example.com", "example.com")
            ],
        }
    }
    assert rule_problems(ing) == [
        "under TLS, host a.b.example.com, example.com has no certificate: no spec.tls entry covers it (E4040)"
    ]


@pytest.mark.parametrize("region", ["ap-guangzhou", "na-siliconvalley", "eu-frankfurt", "ap-shanghai-fsi"])
def test_region_ids_outside_asia_pacific_are_region_ids(region: str) -> None:
    assert _problem("Ingress", "ingress.cloud.tencent.com/cross-region-id", region) is None
    assert _problem("Service", "service.cloud.tencent.com/cross-region-id", region) is None
