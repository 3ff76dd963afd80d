"""-o junit: a test case per (check, object), failures at or above --fail-on, passing and skipped checks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import CLI, fixture, golden


def cases(xml: str) -> list[ET.Element]:
    return list(ET.fromstring(xml).iter("testcase"))


def test_golden_with_failures_and_passing_findings(cli: CLI) -> None:
    run = cli("svc", "-A", "--snapshot", "tests/fixtures/services.yaml", "-o", "junit", "--fail-on", "warning")
    assert run.status == 1 and run.err == ""
    golden("services.junit", run.out)


def test_golden_with_skipped_checks(cli: CLI) -> None:
    run = cli("ingress", "-A", "--snapshot", "tests/fixtures/ingress-restricted.yaml", "-o", "junit")
    assert run.status == 0 and run.err == ""
    golden("ingress-restricted.junit", run.out)


@pytest.mark.parametrize("fail_on", ["error", "warning", "info", "never"])
def test_one_case_per_check_and_object_failing_at_or_above_fail_on(cli: CLI, fail_on: str) -> None:
    args = ("svc", "-A", "--snapshot", fixture("services"), "--fail-on", fail_on)
    doc = cli(*args, "-o", "json").json()
    xml = cli(*args, "-o", "junit")
    assert xml.status == cli(*args).status
    rank = {"error": 3, "warning": 2, "info": 1, "never": 4}
    found = {(f["code"], f"{f['kind']}/{f['namespace']}/{f['name']}"): f["severity"] for f in doc["findings"]}
    checks = cli("checks", "-o", "json").json()["checks"]
    ran = {c["code"] for c in checks if "service" in c["commands"]}
    skipped = {code for entry in doc["skipped"] for code in entry["codes"]}
    per_object, passing, skipped_cases = {}, set(), set()
    for case in cases(xml.out):
        code = case.get("classname", "").rsplit(".", 1)[-1]
        if (code, case.get("name")) in found:
            per_object[(code, case.get("name"))] = case.find("failure") is not None
        elif case.find("skipped") is not None:
            skipped_cases.add(code)
        else:
            assert case.find("failure") is None
            passing.add(code)
    assert set(per_object) == set(found)
    assert {k for k, failed in per_object.items() if failed} == {
        k for k, sev in found.items() if rank[sev] >= rank[fail_on]
    }
    assert skipped_cases == skipped
    assert passing == ran - {code for code, _ in found} - skipped
    root = ET.fromstring(xml.out)
    assert root.get("tests") == str(len(cases(xml.out)))
    assert root.get("failures") == str(sum(per_object.values()))


def test_select_limits_the_cases(cli: CLI) -> None:
    run = cli("svc", "-A", "--snapshot", fixture("healthy"), "-o", "junit", "--select", "TKE101,TKE102")
    assert run.status == 0
    assert [(c.get("classname"), c.find("failure")) for c in cases(run.out)] == [
        ("tke-net.service.TKE101", None),
        ("tke-net.service.TKE102", None),
    ]


def test_characters_xml_cannot_carry_are_replaced() -> None:
    from kubectl_tke_net.render import junit

    report = {
        "command": "service",
        "source": {"context": "a\x00b", "cluster": None, "snapshot": None},
        "findings": [
            {
                "code": "TKE109",
                "severity": "warning",
                "kind": "Service",
                "namespace": "n",
                "name": "s",
                "message": "bad \x1b[31m event \ud800 & <tag>",
                "remediation": "r",
                "docs": "d",
            }
        ],
        "skipped": [{"codes": ["TKE110"], "reason": 'forbidden: "quotes" \x07'}],
    }
    root = ET.fromstring(junit(report, [("TKE109", "events"), ("TKE110", "direct")], "warning"))
    [failure] = root.iter("failure")
    # Control characters are escaped as on a terminal (^[ for ESC); what XML cannot carry at all is replaced.
    assert failure.get("message") == "bad ^[[31m event \ufffd & <tag>"
    [skipped] = root.iter("skipped")
    assert skipped.get("message") == 'forbidden: "quotes" \\x07'


@pytest.mark.parametrize("args", [("fix", "kube-proxy"), ("dump", "-A")])
def test_junit_is_for_diagnoses_only(cli: CLI, args: tuple[str, ...]) -> None:
    run = cli(*args, "--snapshot", fixture("services"), "-o", "junit")
    assert run.status == 2 and run.out == "" and run.err.startswith("error: -o junit is for svc, ingress and loopback")


def test_a_partly_skipped_check_keeps_its_failures(cli: CLI, tmp_path: Path) -> None:
    """TKE115 without the right to list Secrets: its specify-protocol part is skipped, its static part still found
    an error, and the JUnit report must fail on it (a skipped case alone would let a CI gate pass)."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "apiVersion: v1\nkind: List\nmetadata:\n  annotations:\n"
        '    tke-net.kubectl.io/unavailable: \'{"secrets": "forbidden: cannot list secrets"}\'\n'
        "items:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: ssl\n    namespace: shop\n"
        "    annotations:\n"
        '      service.cloud.tencent.com/specify-protocol: \'{"443":{"protocol":["TCP_SSL"],"tls":"c"}}\'\n'
        "      service.kubernetes.io/service.extensiveParameters: '{ Vip: 1 }'\n"
        "  spec: {type: LoadBalancer, ports: [{port: 443}]}\n",
        encoding="utf-8",
    )
    run = cli("svc", "-n", "shop", "--snapshot", str(path), "--select", "TKE115", "-o", "junit")
    assert run.status == 1
    root = ET.fromstring(run.out)
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("2", "1", "1")
    [failed] = [c for c in cases(run.out) if c.find("failure") is not None]
    assert failed.get("name") == "Service/shop/ssl"
