"""SPEC 9.2: only the fields the checks read are kept, printed or dumped; never a Secret's data in any form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubectl_tke_net import kinds
from tests.conftest import CLI, FIXTURES, Run, fixture

ROOT = Path(__file__).parent.parent
SCENARIOS = [*sorted(FIXTURES.glob("*.yaml")), ROOT / "examples" / "demo-cluster.yaml"]
SECRET_VALUE = "hunter2-s3cr3t-value"
ENV_VALUE = "postgres://admin:p4ssw0rd@db:5432"
CM_VALUE = "an-unread-configmap-value"
OUTPUTS = ("table", "wide", "json", "yaml", "junit")


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
@pytest.mark.parametrize("command", ["svc", "ingress", "loopback"])
def test_the_checks_read_no_field_the_projection_drops(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, path: Path, command: str
) -> None:
    """Every scenario gives the same report from whole objects as from the declared fields (shape.SHAPES): a
    check that reads an undeclared field fails here."""
    projected: Run = cli(command, "-A", "--snapshot", str(path), "-o", "json", "--fail-on", "never")
    monkeypatch.setattr(kinds, "PROJECT", False)
    whole: Run = cli(command, "-A", "--snapshot", str(path), "-o", "json", "--fail-on", "never")
    assert projected.status == whole.status == 0, projected.err + whole.err
    assert projected.json() == whole.json()


GATEWAY_SCENARIOS = [
    ROOT / "examples" / "gateway-cluster.yaml",
    *sorted((ROOT / "tests" / "checks").glob("TKE5*.yaml")),
]


@pytest.mark.parametrize("path", GATEWAY_SCENARIOS, ids=lambda p: p.stem)
def test_the_gateway_checks_read_no_field_the_projection_drops(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, path: Path
) -> None:
    projected: Run = cli("gateway", "-A", "--snapshot", str(path), "-o", "json", "--fail-on", "never")
    monkeypatch.setattr(kinds, "PROJECT", False)
    whole: Run = cli("gateway", "-A", "--snapshot", str(path), "-o", "json", "--fail-on", "never")
    assert projected.status == whole.status == 0, projected.err + whole.err
    assert projected.json()["findings"], "a gateway scenario with nothing to find proves nothing here"
    assert projected.json() == whole.json()


def _leaky(tmp_path: Path) -> Path:
    """A cluster whose objects carry what must never come out: Secret data (also in last-applied), env values,
    a kube-system ConfigMap no check reads, and an unread key of one that is read."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls-web", "namespace": "app", "labels": {"app": "web"}},
        "type": "kubernetes.io/tls",
        "data": {"tls.key": "aHVudGVyMg=="},
        "stringData": {"password": SECRET_VALUE},
    }
    secret["metadata"]["annotations"] = {  # type: ignore[index]
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(secret),
        "tke-net.kubectl.io/ignore": "TKE205",
        "note": SECRET_VALUE,
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1",
            "namespace": "app",
            "labels": {"app": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": ENV_VALUE},
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx",
                    "env": [{"name": "DATABASE_URL", "value": ENV_VALUE}],
                    "envFrom": [{"secretRef": {"name": "tls-web"}}],
                    "ports": [{"containerPort": 80}],
                }
            ]
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"selector": {"app": "nope"}, "ports": [{"port": 80, "targetPort": 80}]},
    }
    configmaps = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "app-settings", "namespace": "kube-system"},
            "data": {"token": CM_VALUE},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": ".:53 {\n    forward . /etc/resolv.conf\n}\n", "extra": CM_VALUE},
        },
    ]
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {
            "tls": [{"secretName": "tls-web"}],
            "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
        },
    }
    path = tmp_path / "leaky.yaml"
    items = [secret, pod, service, ingress, *configmaps]
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("command", ["svc", "ingress", "loopback"])
def test_no_secret_env_or_unread_configmap_value_in_any_output(
    cli: CLI, tmp_path: Path, command: str, output: str
) -> None:
    path = _leaky(tmp_path)
    run: Run = cli(command, "-A", "--snapshot", str(path), "-o", output, "-v", "--fail-on", "never")
    for value in (SECRET_VALUE, ENV_VALUE, CM_VALUE, "aHVudGVyMg=="):
        assert value not in run.out + run.err


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_dump_keeps_only_the_declared_fields(cli: CLI, tmp_path: Path, output: str) -> None:
    path = _leaky(tmp_path)
    run: Run = cli("dump", "-A", "--snapshot", str(path), "-o", output, "-v")
    assert run.status == 0, run.err
    for value in (SECRET_VALUE, ENV_VALUE, CM_VALUE, "aHVudGVyMg==", "last-applied", "stringData", "envFrom"):
        assert value not in run.out
    items = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load(run.out)["items"]}
    assert items[("Secret", "tls-web")] == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls-web", "namespace": "app", "annotations": {"tke-net.kubectl.io/ignore": "TKE205"}},
        "type": "kubernetes.io/tls",
    }
    assert items[("ConfigMap", "coredns")]["data"] == {"Corefile": ".:53 {\n    forward . /etc/resolv.conf\n}\n"}
    assert ("ConfigMap", "app-settings") not in items
    assert items[("Pod", "web-1")]["spec"]["containers"] == [
        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}
    ]


def test_the_kube_proxy_config_map_is_kept_with_its_config_key_only(cli: CLI) -> None:
    """The ConfigMap kube-proxy's --config comes from is read for the mode: kept, but only that key."""
    run: Run = cli("dump", "-A", "--snapshot", fixture("loopback"))
    assert run.status == 0, run.err
    maps = {o["metadata"]["name"]: o.get("data") for o in json.loads(run.out)["items"] if o["kind"] == "ConfigMap"}
    assert set(maps) <= {"coredns", "tke-service-controller-config", "kube-proxy", "kube-proxy-config"}


def test_tke_net_facts_items_are_kept_and_dumped(cli: CLI, tmp_path: Path) -> None:
    """tke-net/v1 items (cloud facts, probe results) travel with a snapshot: read from a file, written by dump."""
    fact = {"apiVersion": "tke-net/v1", "kind": "ProbeResult", "metadata": {"name": "web"}, "observations": []}
    path = tmp_path / "facts.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [fact]}))
    run: Run = cli("dump", "-A", "--snapshot", str(path))
    assert run.status == 0, run.err
    assert json.loads(run.out)["items"] == [fact]
