"""TKE406 through the CLI, against the signature-checking fake Tencent Cloud API (tests/tcfake.py): the SSL
certificates an Ingress names in ingress.cloud.tencent.com/certificate, read with ssl:DescribeCertificates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLI, Run, found, variant
from tests.tcfake import FakeCloud
from tests.test_cloud_checks import account, offline, same_report, use

CERTIFICATES: dict[str, dict[str, Any]] = {
    "JgTmWHoQ": {"domain": "shop.example.com"},  # a server certificate, issued, valid until 2099
    "Cli3nt01": {"type": "CA", "domain": "clients.example.com"},
    "Exp1red1": {"end": "2020-06-30 23:59:59", "domain": "old.example.com"},
    "Rev1ew01": {"status": 0, "domain": "new.example.com"},
}


def ingress(name: str, certificate: list[dict[str, Any]], cls: str = "qcloud") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "annotations": {
                "kubernetes.io/ingress.class": cls,
                "ingress.cloud.tencent.com/certificate": json.dumps(certificate),
            },
        },
        "spec": {
            "rules": [
                {
                    "host": "shop.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }


def cluster(tmp_path: Path) -> str:
    """The cloud fixture with three Ingresses that name certificates by ID (the annotation replaces spec.tls)."""

    def add(doc: dict[str, Any]) -> None:
        doc["items"] += [
            ingress("cert-ok", [{"hosts": ["shop.example.com"], "qcloud_cert_id": ["JgTmWHoQ"]}]),
            ingress(
                "cert-bad",
                [
                    {"hosts": ["shop.example.com"], "qcloud_cert_id": ["JgTmWHoQ", "G0ne0001"]},
                    {"hosts": ["clients.example.com"], "qcloud_cert_id": ["Cli3nt01"]},
                    {"hosts": ["old.example.com"], "qcloud_cert_id": ["Exp1red1"]},
                    {"hosts": ["new.example.com"], "qcloud_cert_id": ["Rev1ew01"]},
                ],
            ),
            # Another controller's Ingress: the TKE controller never reads its annotation.
            ingress("nginx", [{"hosts": ["shop.example.com"], "qcloud_cert_id": ["G0ne0002"]}], cls="nginx"),
        ]

    return variant(tmp_path, "cloud", add)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloud]:
    cloud = account()
    cloud.certificates = dict(CERTIFICATES)
    cloud.start()
    use(cloud, monkeypatch)
    yield cloud
    cloud.stop()


def run406(cli: CLI, path: str, *extra: str) -> Run:
    return cli("ingress", "-A", "--snapshot", path, "-o", "json", "--cloud", "--select", "TKE406", *extra)


def test_unknown_client_expired_and_unissued_certificates(cli: CLI, fake: FakeCloud, tmp_path: Path) -> None:
    run = run406(cli, cluster(tmp_path))
    doc = run.json()
    assert (run.status, found(run), doc["skipped"]) == (1, {("TKE406", "Ingress/shop/cert-bad")}, [])
    [finding] = doc["findings"]
    message = finding["message"]
    assert "certificate G0ne0001 (hosts shop.example.com) does not exist, or these keys may not read it (E4012)" in (
        message
    )
    assert "certificate Cli3nt01 (hosts clients.example.com) is a client (CA) certificate" in message
    assert "certificate Exp1red1 (hosts old.example.com) expired at 2020-06-30 23:59:59 (Beijing time) (E4039)" in (
        message
    )
    assert "certificate Rev1ew01 (hosts new.example.com) is not issued: status 0 (under review) (E4012)" in message
    assert "JgTmWHoQ" not in message
    # One batched call for every ID of every CLB Ingress (never the nginx one's), signed as the real API wants.
    calls = [c for c in fake.calls if c.action == "DescribeCertificates"]
    assert len(calls) == 1 and fake.rejected == []
    assert sorted(calls[0].params["CertIds"]) == ["Cli3nt01", "Exp1red1", "G0ne0001", "JgTmWHoQ", "Rev1ew01"]
    assert (calls[0].service, calls[0].params["Offset"], calls[0].params["Limit"]) == ("ssl", 0, 100)


def test_zh(cli: CLI, fake: FakeCloud, tmp_path: Path) -> None:
    [finding] = run406(cli, cluster(tmp_path), "--lang", "zh").json()["findings"]
    assert "证书 Exp1red1" in finding["message"] and "E4039" in finding["message"]


def test_a_snapshot_judges_expiry_at_the_time_the_facts_were_read(
    cli: CLI, fake: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = cluster(tmp_path)
    live = run406(cli, path)
    dumped = cli("dump", "-A", "--snapshot", path, "--cloud")
    assert dumped.status == 0, dumped.err
    doc = json.loads(dumped.out)
    [facts] = [i for i in doc["items"] if i["kind"] == "CloudFacts"]
    assert set(facts["certificates"]) == set(CERTIFICATES) and facts["notFound"]["certificates"] == ["G0ne0001"]
    assert facts["readAt"].endswith("+00:00")
    snapshot = tmp_path / "dump.json"
    snapshot.write_text(dumped.out)
    asked = len(fake.calls)
    same_report(live, offline(cli, monkeypatch, "ingress", snapshot, "--select", "TKE406"))
    assert len(fake.calls) == asked  # offline: not one call
    # The clock is the facts' own: read in 2019, the 2020 certificate had not expired yet.
    facts["readAt"] = "2019-01-01T00:00:00+00:00"
    snapshot.write_text(json.dumps(doc))
    [finding] = offline(cli, monkeypatch, "ingress", snapshot, "--select", "TKE406").json()["findings"]
    assert "Exp1red1" not in finding["message"] and "G0ne0001" in finding["message"]


def test_a_valid_certificate_gives_nothing(cli: CLI, fake: FakeCloud, tmp_path: Path) -> None:
    fake.certificates = {"JgTmWHoQ": CERTIFICATES["JgTmWHoQ"]}

    def only_ok(doc: dict[str, Any]) -> None:
        doc["items"].append(ingress("cert-ok", [{"hosts": ["shop.example.com"], "qcloud_cert_id": ["JgTmWHoQ"]}]))

    run = run406(cli, variant(tmp_path, "cloud", only_ok))
    assert (run.status, run.json()["findings"], run.json()["skipped"]) == (0, [], [])


def test_without_the_ssl_permission_it_is_a_skip(cli: CLI, fake: FakeCloud, tmp_path: Path) -> None:
    fake.fail["DescribeCertificates"] = "UnauthorizedOperation"
    run = run406(cli, cluster(tmp_path))
    doc = run.json()
    assert (run.status, doc["findings"]) == (0, [])
    [skip] = doc["skipped"]
    assert skip["codes"] == ["TKE406"] and "ssl:DescribeCertificates" in skip["reason"]
