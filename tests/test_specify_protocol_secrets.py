"""TKE115's TLS Secrets of service.cloud.tencent.com/specify-protocol (TKE-FACTS-2 s7 item 6, [S8]): judged where
the Secrets can be read, listed in `skipped` (the static part still running) where they cannot: RBAC, lint alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import CLI

HERE = Path(__file__).parent

# A TCP_SSL Service naming a Secret that does not exist, beside one whose JSON is malformed (the static part).
SERVICES = """\
apiVersion: v1
kind: Service
metadata:
  name: ssl
  namespace: shop
  annotations:
    service.cloud.tencent.com/specify-protocol: '{"443":{"protocol":["TCP_SSL"],"tls":"shop-cert"}}'
spec:
  type: LoadBalancer
  selector: {app: shop}
  ports: [{port: 443, targetPort: 8443}]
---
apiVersion: v1
kind: Service
metadata:
  name: vip
  namespace: shop
  annotations:
    service.kubernetes.io/service.extensiveParameters: '{ Vip: "1.1.1.1" }'
spec:
  type: LoadBalancer
  selector: {app: shop}
  ports: [{port: 80}]
"""
SECRET: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "shop-cert", "namespace": "shop"},
    "type": "Opaque",
}


def tke115(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in doc["findings"] if f["code"] == "TKE115"}


def skipped(doc: dict[str, Any]) -> dict[str, str]:
    return {code: entry["reason"] for entry in doc["skipped"] for code in entry["codes"]}


def write_list(path: Path, items: list[dict[str, Any]], annotations: dict[str, str] | None = None) -> str:
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {"annotations": annotations or {}}, "items": items}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(path)


def objects() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(SERVICES))


def test_missing_secret_is_an_error_with_the_command_that_creates_it(cli: CLI, tmp_path: Path) -> None:
    run = cli("svc", "-n", "shop", "--snapshot", write_list(tmp_path / "s.yaml", objects()), "-o", "json")
    found = tke115(run.json())
    assert found["ssl"]["severity"] == "error"
    assert "port 443: TLS Secret shop-cert does not exist in namespace shop" in found["ssl"]["message"]
    assert (
        "kubectl create secret generic shop-cert -n shop --from-literal=qcloud_cert_id=CERT_ID"
        in found["ssl"]["remediation"]
    )
    assert "TKE115" not in skipped(run.json())
    path = write_list(tmp_path / "t.yaml", [*objects(), SECRET])
    assert set(tke115(cli("svc", "-n", "shop", "--snapshot", path, "-o", "json").json())) == {"vip"}


def test_a_secret_without_a_type_is_not_judged_by_type(cli: CLI, tmp_path: Path) -> None:
    """A live run lists Secrets as metadata only (no type): the Secret exists, its type is unknown, no finding."""
    untyped = {k: v for k, v in SECRET.items() if k != "type"}
    run = cli("svc", "-n", "shop", "--snapshot", write_list(tmp_path / "s.yaml", [*objects(), untyped]), "-o", "json")
    assert set(tke115(run.json())) == {"vip"}


def test_secrets_forbidden_leaves_the_static_part_and_says_what_was_not_judged(cli: CLI, tmp_path: Path) -> None:
    forbidden = {"tke-net.kubectl.io/unavailable": '{"secrets": "forbidden: cannot list secrets in namespace shop"}'}
    path = write_list(tmp_path / "s.yaml", objects(), forbidden)
    run = cli("svc", "-n", "shop", "--snapshot", path, "-o", "json", "--select", "TKE115")
    doc = run.json()
    assert set(tke115(doc)) == {"vip"}  # the static part ran; no Secret is called missing
    assert skipped(doc)["TKE115"] == (
        "the TLS Secrets named in service.cloud.tencent.com/specify-protocol are not judged (the rest of TKE115 "
        "ran): forbidden: cannot list secrets in namespace shop"
    )
    assert run.status == 1
    # Without a tls entry nothing is left unjudged, so nothing is said.
    plain = write_list(tmp_path / "p.yaml", objects()[1:], forbidden)
    assert "TKE115" not in skipped(cli("svc", "-n", "shop", "--snapshot", plain, "-o", "json").json())


def test_lint_alone_does_not_judge_the_secrets_but_runs_the_rest(cli: CLI, tmp_path: Path) -> None:
    manifest = tmp_path / "shop.yaml"
    manifest.write_text(SERVICES + "---\n" + yaml.safe_dump(SECRET), encoding="utf-8")
    doc = cli("lint", "-f", str(manifest), "-o", "json").json()
    assert set(tke115(doc)) == {"vip"}
    assert "TLS Secrets are seldom in manifests" in skipped(doc)["TKE115"]
    assert "specify-protocol are not judged (the rest of TKE115 ran)" in skipped(doc)["TKE115"]


def test_lint_over_a_dump_judges_them(cli: CLI, tmp_path: Path) -> None:
    manifest = tmp_path / "shop.yaml"
    manifest.write_text(SERVICES, encoding="utf-8")
    dump = write_list(tmp_path / "dump.yaml", [{**SECRET, "type": "kubernetes.io/tls"}])
    doc = cli("lint", "-f", str(manifest), "--snapshot", dump, "-o", "json").json()
    found = tke115(doc)
    assert found["ssl"]["severity"] == "warning"
    assert "TLS Secret shop-cert is of type kubernetes.io/tls" in found["ssl"]["message"]
    assert "TKE115" not in skipped(doc)
