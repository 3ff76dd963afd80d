"""Kubeconfig credentials against the real API server: exec plugins, client certificates from files and from data,
insecure-skip-tls-verify, several files in $KUBECONFIG; and exit 3 with what to fix when they do not work."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controlplane import ControlPlane, ControlPlaneError

from tests.conftest import Run, run_plugin, self_signed


@pytest.fixture(scope="module")
def certs() -> Iterator[ControlPlane]:
    """A control plane of its own that also accepts client certificates signed by its CA."""
    cp = ControlPlane(client_certs=True)
    try:
        cp.start()
    except ControlPlaneError as exc:
        cp.stop()
        pytest.fail(f"the e2e control plane could not be started: {exc}", pytrace=False)
    yield cp
    cp.stop()


def run(cp: ControlPlane, *args: str, kubeconfig: str) -> Run:
    return run_plugin(*args, env=dict(cp.env(), KUBECONFIG=kubeconfig))


def kubeconfig(
    path: Path,
    cluster: dict[str, Any] | None,
    user: dict[str, Any] | None,
    context: dict[str, Any] | None = None,
    current: bool = True,
) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "live", "cluster": cluster}] if cluster is not None else [],
        "users": [{"name": "me", "user": user}] if user is not None else [],
        "contexts": [{"name": "live", "context": context or {"cluster": "live", "user": "me"}}],
    }
    if current:
        doc["current-context"] = "live"
    path.write_text(json.dumps(doc))
    return path


def verified(cp: ControlPlane) -> dict[str, Any]:
    return {"server": cp.url, "certificate-authority": str(cp.ca_file)}


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def users_seen(cp: ControlPlane, before: int) -> set[str]:
    time.sleep(0.5)  # audit events are written after the response
    return {
        e["user"]["username"]
        for e in cp.audit_events()[before:]
        if str(e.get("userAgent", "")).startswith("kubectl-tke-net") and e.get("stage") == "ResponseComplete"
    }


def works(cp: ControlPlane, config: Path, user: str) -> None:
    before = len(cp.audit_events())
    result = run(cp, "loopback", "-A", "-o", "json", kubeconfig=str(config))
    assert result.status in (0, 1), result.err
    doc = result.json()
    assert not [s for s in doc["skipped"] if "forbidden" in s["reason"]] and doc["source"]["context"] == "live"
    assert users_seen(cp, before) == {user}


def test_exec_credential_plugin(certs: ControlPlane, tmp_path: Path) -> None:
    script = tmp_path / "get-token"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": certs.admin_token},
    }
    script.write_text(
        f"#!{sys.executable}\nimport json, os\n"
        "assert json.loads(os.environ['KUBERNETES_EXEC_INFO'])['kind'] == 'ExecCredential'\n"
        f"print(json.dumps({credential!r}))\n"
    )
    script.chmod(0o700)
    user = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(script), "interactiveMode": "Never"}
    }
    works(certs, kubeconfig(tmp_path / "config", verified(certs), user), "admin")


def test_exec_plugin_that_fails_exits_3(certs: ControlPlane, tmp_path: Path) -> None:
    script = tmp_path / "get-token"
    script.write_text("#!/bin/sh\necho 'please log in first' >&2\nexit 1\n")
    script.chmod(0o700)
    user = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(script), "interactiveMode": "Never"}
    }
    result = run(certs, "svc", kubeconfig=str(kubeconfig(tmp_path / "config", verified(certs), user)))
    assert result.status == 3 and result.err.count("\n") == 1
    assert result.err.startswith(
        f'error: user "me": the exec credential plugin "{script}" failed: exec: process '
        "returned 1. please log in first; run it by hand"
    )


def test_client_certificate_from_files(certs: ControlPlane, tmp_path: Path) -> None:
    user = {"client-certificate": str(certs.client_cert), "client-key": str(certs.client_key)}
    works(certs, kubeconfig(tmp_path / "config", verified(certs), user), "cert-admin")


def test_client_certificate_from_data(certs: ControlPlane, tmp_path: Path) -> None:
    cluster = {"server": certs.url, "certificate-authority-data": b64(certs.ca_file)}
    user = {"client-certificate-data": b64(certs.client_cert), "client-key-data": b64(certs.client_key)}
    works(certs, kubeconfig(tmp_path / "config", cluster, user), "cert-admin")


def test_relative_certificate_paths_are_relative_to_the_kubeconfig(certs: ControlPlane, tmp_path: Path) -> None:
    for source, name in ((certs.ca_file, "ca.crt"), (certs.client_cert, "me.crt"), (certs.client_key, "me.key")):
        (tmp_path / name).write_bytes(source.read_bytes())
    config = kubeconfig(
        tmp_path / "config",
        {"server": certs.url, "certificate-authority": "ca.crt"},
        {"client-certificate": "me.crt", "client-key": "me.key"},
    )
    works(certs, config, "cert-admin")


def test_a_certificate_the_server_does_not_trust_is_401_exit_3(certs: ControlPlane, tmp_path: Path) -> None:
    key, crt = tmp_path / "self.key", tmp_path / "self.crt"
    self_signed(crt, key, "mallory")
    user = {"client-certificate": str(crt), "client-key": str(key)}
    result = run(certs, "svc", kubeconfig=str(kubeconfig(tmp_path / "config", verified(certs), user)))
    assert result.status == 3 and result.err.count("\n") == 1
    assert result.err.startswith(f"error: authentication to {certs.url} failed (401 Unauthorized)")


def test_insecure_skip_tls_verify(certs: ControlPlane, tmp_path: Path) -> None:
    cluster = {"server": certs.url, "insecure-skip-tls-verify": True}
    works(certs, kubeconfig(tmp_path / "config", cluster, {"token": certs.admin_token}), "admin")


def test_without_the_ca_the_server_is_not_trusted(certs: ControlPlane, tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "config", {"server": certs.url}, {"token": certs.admin_token})
    result = run(certs, "svc", kubeconfig=str(config))
    assert result.status == 3 and result.err.count("\n") == 1
    assert result.err.startswith(f"error: TLS connection to {certs.url} failed: ")
    assert "certificate verify failed" in result.err and "certificate-authority" in result.err
    assert certs.admin_token not in result.err


def test_several_files_in_kubeconfig(certs: ControlPlane, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    contexts = kubeconfig(tmp_path / "contexts", None, None)
    clusters = kubeconfig(tmp_path / "a" / "clusters", verified(certs), None, current=False)
    users = kubeconfig(tmp_path / "b" / "users", None, {"token": certs.admin_token}, current=False)
    before = len(certs.audit_events())
    result = run(
        certs,
        "loopback",
        "-o",
        "json",
        kubeconfig=os.pathsep.join(str(p) for p in (contexts, tmp_path / "missing", clusters, users)),
    )
    assert result.status in (0, 1), result.err
    assert users_seen(certs, before) == {"admin"}


def test_a_context_pointing_at_a_missing_cluster_or_user(certs: ControlPlane, tmp_path: Path) -> None:
    config = kubeconfig(
        tmp_path / "config",
        verified(certs),
        {"token": certs.admin_token},
        context={"cluster": "elsewhere", "user": "me"},
    )
    result = run(certs, "svc", kubeconfig=str(config))
    assert (result.status, result.err.count("\n")) == (3, 1)
    assert 'names cluster "elsewhere", which is not in' in result.err
    config = kubeconfig(
        tmp_path / "config",
        verified(certs),
        {"token": certs.admin_token},
        context={"cluster": "live", "user": "nobody"},
    )
    result = run(certs, "svc", kubeconfig=str(config))
    assert (result.status, result.err.count("\n")) == (3, 1) and 'names user "nobody"' in result.err
    config = kubeconfig(tmp_path / "config", verified(certs), {"token": certs.admin_token}, current=False)
    result = run(certs, "svc", kubeconfig=str(config))
    assert (result.status, result.err.count("\n")) == (3, 1) and "no current context" in result.err
    assert certs.admin_token not in result.err
