"""#19's certificate checks on a real API server: TKE115 looks up the TLS Secrets of specify-protocol in a live
LIST (metadata only, so a Secret's type is unknown there and only a snapshot that holds it judges the type), and
TKE406 reads the Ingress's SSL certificates through the real SDK from the signature-checking fake Tencent Cloud
API; the plugin's own dump gives the live findings offline."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane
from load import own_controlplane

from tests.conftest import PLUGIN, run_plugin
from tests.tcfake import FakeCloud

NS = "tls"


def service(name: str, secret: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": NS,
            "annotations": {
                "service.cloud.tencent.com/specify-protocol": json.dumps(
                    {"443": {"protocol": ["TCP_SSL"], "tls": secret}}
                )
            },
        },
        "spec": {"type": "LoadBalancer", "selector": {"app": "tls"}, "ports": [{"port": 443, "targetPort": 8443}]},
    }


def secret(name: str, kind: str, data: dict[str, str]) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": kind,
        "metadata": {"name": name, "namespace": NS},
        "data": encoded,
    }


OBJECTS: list[dict[str, Any]] = [
    service("ssl", "shop-cert"),
    service("ssl-gone", "gone-cert"),
    service("ssl-typed", "typed-cert"),
    secret("shop-cert", "Opaque", {"qcloud_cert_id": "JgTmWHoQ"}),
    secret("typed-cert", "kubernetes.io/tls", {"tls.crt": "certificate", "tls.key": "key", "qcloud_cert_id": "x"}),
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "cert",
            "namespace": NS,
            "annotations": {
                "kubernetes.io/ingress.class": "qcloud",
                "ingress.cloud.tencent.com/certificate": json.dumps(
                    [{"hosts": ["shop.example.com"], "qcloud_cert_id": ["JgTmWHoQ", "Exp1red1"]}]
                ),
            },
        },
        "spec": {
            "defaultBackend": {"service": {"name": "ssl", "port": {"number": 443}}},
        },
    },
]


@pytest.fixture(scope="module")
def cluster(kubectl: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    path = tmp_path_factory.mktemp("tls") / "objects.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": OBJECTS}))
    with own_controlplane(kubectl, path) as cp:
        yield cp


def tke115(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in doc["findings"] if f["code"] == "TKE115"}


def test_specify_protocol_secrets_live_and_from_a_full_snapshot(
    cluster: ControlPlane, kubectl: str, tmp_path: Path
) -> None:
    live = run_plugin("svc", "-n", NS, "-o", "json", "--select", "TKE115", env=cluster.env())
    assert live.status == 1, live.err
    found = tke115(live.json())
    # The live LIST is metadata only: the missing Secret is found, the kubernetes.io/tls one's type is unknown.
    assert set(found) == {"ssl-gone"} and found["ssl-gone"]["severity"] == "error"
    assert "TLS Secret gone-cert does not exist in namespace tls" in found["ssl-gone"]["message"]
    assert live.json()["skipped"] == []
    # kubectl's own output holds the Secrets' type (and data, which the plugin drops): the type is judged there.
    full = subprocess.run(
        [kubectl, "get", "services,secrets", "-n", NS, "-o", "yaml"],
        env=cluster.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    snapshot = tmp_path / "full.yaml"
    snapshot.write_text(full.stdout)
    offline = tke115(
        run_plugin("svc", "-n", NS, "-o", "json", "--select", "TKE115", "--snapshot", str(snapshot)).json()
    )
    assert set(offline) == {"ssl-gone", "ssl-typed"} and offline["ssl-typed"]["severity"] == "warning"
    assert "TLS Secret typed-cert is of type kubernetes.io/tls" in offline["ssl-typed"]["message"]


def test_ingress_certificates_through_the_ssl_api_live_and_from_the_dump(cluster: ControlPlane, tmp_path: Path) -> None:
    fake = FakeCloud(certificates={"JgTmWHoQ": {}, "Exp1red1": {"end": "2021-01-31 23:59:59"}}).start()
    try:
        env = dict(
            cluster.env(),
            TENCENTCLOUD_SECRET_ID=fake.secret_id,
            TENCENTCLOUD_SECRET_KEY=fake.secret_key,
            TENCENTCLOUD_REGION="ap-guangzhou",
            TKE_NET_CLOUD_ENDPOINT=fake.url,
        )
        live = run_plugin("ingress", "-n", NS, "-o", "json", "--select", "TKE406", env=env)
        assert live.status == 1, live.err
        [finding] = live.json()["findings"]
        assert (
            finding["name"] == "cert"
            and "Exp1red1 (hosts shop.example.com) expired at 2021-01-31" in (finding["message"])
        )
        assert "JgTmWHoQ" not in finding["message"]
        assert fake.rejected == [] and [c.action for c in fake.calls] == ["DescribeCertificates"]
        dumped = subprocess.run(
            [str(PLUGIN), "dump", "-n", NS], env=env, capture_output=True, text=True, timeout=120, check=True
        )
        dump = tmp_path / "dump.json"
        dump.write_text(dumped.stdout)
        [facts] = [i for i in json.loads(dumped.stdout)["items"] if i["kind"] == "CloudFacts"]
        assert set(facts["certificates"]) == {"JgTmWHoQ", "Exp1red1"} and "readAt" in facts
        calls = len(fake.calls)
        offline = run_plugin("ingress", "-n", NS, "-o", "json", "--select", "TKE406", "--snapshot", str(dump))
        assert len(fake.calls) == calls  # no key, no call: the dump's facts
        assert {k: v for k, v in offline.json().items() if k != "source"} == {
            k: v for k, v in live.json().items() if k != "source"
        }
    finally:
        fake.stop()
