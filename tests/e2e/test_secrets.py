"""Secrets stay secret, on a real API server: every Secret request asks for metadata only (the proxy sees each
request's Accept header and answer, the audit log sees every request the server got), no Secret data and no
bearer token ever reaches stdout, stderr or a backup file, with -v, on success, on errors and on retries."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controlplane import ControlPlane, describe_events
from faultproxy import Fault, FaultProxy
from load import own_controlplane
from test_plugin import plugin

from tests.conftest import FIXTURES

METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
SENTINEL = "PRIVATE-KEY-sentinel-9f8e7d6c"
AGENT = "kubectl-tke-net"


@pytest.fixture(scope="module")
def secrets_cp(kubectl: str) -> Iterator[ControlPlane]:
    """A control plane of its own (fix --apply writes), with TLS Secrets that hold a known private value."""

    def setup(cp: ControlPlane) -> None:
        for ns in ("prod", "web"):
            cp.create(
                f"/api/v1/namespaces/{ns}/secrets",
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "type": "kubernetes.io/tls",
                    "metadata": {"name": "sentinel-tls", "namespace": ns},
                    "data": {
                        "tls.crt": base64.b64encode(b"certificate").decode(),
                        "tls.key": base64.b64encode(SENTINEL.encode()).decode(),
                    },
                    "stringData": {"note": SENTINEL},
                },
            )

    with own_controlplane(kubectl, FIXTURES / "fix-cluster.yaml", FIXTURES / "ingress-tls.yaml", setup=setup) as cp:
        yield cp


def commands(backups: Path) -> list[tuple[str, ...]]:
    return [
        ("svc", "-A"),
        ("svc", "server", "-n", "prod", "-o", "wide"),
        ("ingress", "-A", "-o", "json"),
        ("ingress", "-n", "web", "-o", "junit"),
        ("loopback", "-A", "-o", "yaml"),
        ("dump", "-A"),
        ("dump", "-A", "-o", "yaml"),
        ("fix", "kube-proxy"),
        ("fix", "ingress-keepalive", "-A"),
        ("fix", "prevent-loopback", "-A", "--force"),
        ("fix", "kube-proxy", "--dry-run=server", "-o", "json"),
        ("fix", "prevent-loopback", "-A", "--force", "--apply", "--backup-dir", str(backups)),
        (
            "fix",
            "coredns-rewrite",
            "--host",
            "roc.example.com",
            "--service",
            "server",
            "-n",
            "prod",
            "--apply",
            "--backup-dir",
            str(backups),
        ),
    ]


def secret_texts(cp: ControlPlane) -> list[str]:
    """What must never be printed: the tokens, and the Secret's value in clear and in base64."""
    return [cp.admin_token, cp.viewer_token, SENTINEL, base64.b64encode(SENTINEL.encode()).decode()]


def assert_nothing_leaks(cp: ControlPlane, texts: list[str], where: str) -> None:
    for secret in secret_texts(cp):
        for text in texts:
            assert secret not in text and secret[:16] not in text, f"a secret leaked into {where}"


def plugin_secret_requests(cp: ControlPlane, before: int, at_least: int) -> list[dict[str, Any]]:
    """The plugin's requests on Secrets in the audit log since event number `before` (waiting for them)."""

    def ours() -> list[dict[str, Any]]:
        return [
            e
            for e in cp.audit_events()[before:]
            if e.get("stage") == "ResponseComplete"
            and (e.get("objectRef") or {}).get("resource") == "secrets"
            and str(e.get("userAgent", "")).startswith(AGENT)
        ]

    cp.wait_for_audit(lambda _evs: len(ours()) >= at_least, resource="secrets")
    return ours()


def test_every_secret_request_asks_for_metadata_only(secrets_cp: ControlPlane, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    with FaultProxy(secrets_cp) as proxy:
        config = proxy.kubeconfig(tmp_path / "proxied")
        before = len(secrets_cp.audit_events())
        runs = []
        for args in commands(backups):
            run = plugin(secrets_cp, *args, "-v", "--kubeconfig", str(config))
            assert run.status in (0, 1), (args, run.err)
            runs.append(run)
        backup_files = sorted(backups.glob("*.yaml"))
        assert len(backup_files) == 2
        rollback = plugin(
            secrets_cp,
            "fix",
            "rollback",
            str(backup_files[0]),
            "--apply",
            "-v",
            "--backup-dir",
            str(backups),
            "--kubeconfig",
            str(config),
        )
        assert rollback.status == 0, rollback.err
        runs.append(rollback)
        seen = proxy.requests(path="/secrets$")
    assert len(seen) >= 4, "the commands must read Secrets"
    assert {r.method for r in seen} == {"GET"}
    assert {r.accept for r in seen} == {METADATA_ONLY}, {r.accept for r in seen}
    assert {r.kind for r in seen} == {"PartialObjectMetadataList"}, {r.kind for r in seen}
    assert not any(r.secret_data for r in seen)
    # The audit log: every Secret request the server got came through the proxy, and each was a list.
    ours = plugin_secret_requests(secrets_cp, before, len(seen))
    assert len(ours) == len(seen), describe_events(ours)
    assert {e["verb"] for e in ours} == {"list"}, describe_events(ours)
    assert all("requestObject" not in e for e in ours)
    assert_nothing_leaks(secrets_cp, [r.out for r in runs] + [r.err for r in runs], "the output")
    assert_nothing_leaks(secrets_cp, [p.read_text() for p in backups.iterdir()], "a backup file")


def test_direct_runs_only_list_secrets(secrets_cp: ControlPlane, tmp_path: Path) -> None:
    """Without the proxy in between: the audit log alone shows list (never get or watch) on Secrets."""
    before = len(secrets_cp.audit_events())
    for args in (("ingress", "-A"), ("dump", "-A"), ("svc", "-A")):
        run = plugin(secrets_cp, *args, "-v")
        assert run.status in (0, 1), run.err
        assert_nothing_leaks(secrets_cp, [run.out, run.err], "the output")
    events = plugin_secret_requests(secrets_cp, before, 1)
    assert events and {e["verb"] for e in events} == {"list"}, describe_events(events)


def test_dump_never_holds_secret_data(secrets_cp: ControlPlane) -> None:
    doc: dict[str, Any] = json.loads(plugin(secrets_cp, "dump", "-A").out)
    secrets = [i for i in doc["items"] if i["kind"] == "Secret"]
    assert {s["metadata"]["name"] for s in secrets} >= {"sentinel-tls"}
    assert all(set(s) <= {"apiVersion", "kind", "metadata", "type"} for s in secrets)


def test_token_never_shows_with_v_on_errors_and_retries(secrets_cp: ControlPlane, tmp_path: Path) -> None:
    runs = []
    with FaultProxy(secrets_cp) as proxy:
        proxy.add(
            Fault("status", path="/secrets$", status=503, times=2),
            Fault("reset", path="/pods$", times=1),
            Fault("status", path="/nodes$", status=429, retry_after="0", times=1),
        )
        config = proxy.kubeconfig(tmp_path / "admin")
        runs.append(plugin(secrets_cp, "ingress", "-A", "-v", "--kubeconfig", str(config)))
        runs.append(plugin(secrets_cp, "svc", "-A", "-v", "--kubeconfig", str(config)))
        assert "retry 1 of" in runs[0].err + runs[1].err
        proxy.reset()
        proxy.add(Fault("status", path="/services$", status=500, times=0))
        runs.append(plugin(secrets_cp, "svc", "-A", "-v", "--kubeconfig", str(config), "--request-timeout", "5s"))
        assert runs[-1].status == 3
        viewer = proxy.kubeconfig(tmp_path / "viewer", token=secrets_cp.viewer_token)
        runs.append(plugin(secrets_cp, "ingress", "-A", "-v", "--kubeconfig", str(viewer)))
        runs.append(
            plugin(
                secrets_cp,
                "fix",
                "prevent-loopback",
                "-A",
                "--force",
                "--apply",
                "-v",
                "--backup-dir",
                str(tmp_path),
                "--kubeconfig",
                str(viewer),
            )
        )
        proxy.reset()
        wrong = proxy.kubeconfig(tmp_path / "wrong", token=secrets_cp.admin_token[::-1])
        runs.append(plugin(secrets_cp, "svc", "-v", "--kubeconfig", str(wrong)))
        assert runs[-1].status == 3 and "401 Unauthorized" in runs[-1].err
    assert_nothing_leaks(secrets_cp, [r.out for r in runs] + [r.err for r in runs], "the output")
    assert secrets_cp.admin_token[::-1] not in runs[-1].err


APPLIED_VALUE = "applied-sentinel-5b4a3c2d"
ENV_VALUE = "env-sentinel-postgres-p4ss"
CONFIGMAP_VALUE = "configmap-sentinel-token"


def test_kubectl_apply_never_leaks_through_last_applied_env_or_configmaps(
    secrets_cp: ControlPlane, kubectl: str, tmp_path: Path
) -> None:
    """SPEC 9.2 on the real server: `kubectl apply` writes a Secret's whole body, data included, into the
    last-applied-configuration annotation, which metadata-only reads return; Pod env values and kube-system
    ConfigMaps that no check reads reach the plugin as well. None of them may come out, in any output."""
    manifest = tmp_path / "leaky.yaml"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": "applied-secret", "namespace": "prod"},
                        "stringData": {"password": APPLIED_VALUE},
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {"name": "env-pod", "namespace": "prod", "labels": {"app": "server"}},
                        "spec": {
                            "nodeName": "node-a",
                            "containers": [
                                {
                                    "name": "app",
                                    "image": "busybox",
                                    "env": [{"name": "DATABASE_URL", "value": ENV_VALUE}],
                                }
                            ],
                        },
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "unread-settings", "namespace": "kube-system"},
                        "data": {"token": CONFIGMAP_VALUE},
                    },
                ],
            }
        )
    )
    applied = subprocess.run(
        [kubectl, "apply", "-f", str(manifest)], env=secrets_cp.env(), capture_output=True, text=True, check=False
    )
    assert applied.returncode == 0, applied.stderr
    # The server does hand the value out in the annotation: the test would prove nothing otherwise.
    raw = subprocess.run(
        [kubectl, "get", "secret", "-n", "prod", "applied-secret", "-o", "jsonpath={.metadata.annotations}"],
        env=secrets_cp.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert APPLIED_VALUE in raw.stdout
    values = (APPLIED_VALUE, base64.b64encode(APPLIED_VALUE.encode()).decode(), ENV_VALUE, CONFIGMAP_VALUE)
    runs = []
    for args in (
        ("dump", "-A"),
        ("dump", "-A", "-o", "yaml"),
        *(("svc", "-A", "-o", fmt) for fmt in ("table", "wide", "json", "yaml", "junit")),
        *(("ingress", "-A", "-o", fmt) for fmt in ("table", "wide", "json", "yaml", "junit")),
        ("loopback", "-A", "-o", "wide"),
        ("fix", "coredns-rewrite", "--host", "x.example.com", "--service", "server", "-n", "prod"),
    ):
        run = plugin(secrets_cp, *args, "-v")
        assert run.status in (0, 1), (args, run.err)
        runs.append(run)
        for value in values:
            assert value not in run.out + run.err, (args, value)
    dump = json.loads(runs[0].out)
    names = {(i["kind"], i["metadata"]["name"]) for i in dump["items"]}
    assert ("Secret", "applied-secret") in names and ("Pod", "env-pod") in names
    assert ("ConfigMap", "unread-settings") not in names
