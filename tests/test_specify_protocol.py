"""Issue 19: TKE106 respects service.cloud.tencent.com/specify-protocol (TKE-FACTS-2 §2.1, §7.5): a TCP Service port
whose CLB listener is UDP too reaches a UDP container port (direct mode), so it is no mismatch."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import CLI, Run


def _cluster(tmp_path: Path, annotation: str | None) -> str:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "dns",
            "namespace": "app",
            "annotations": {"service.cloud.tencent.com/direct-access": "true"},
        },
        "spec": {"type": "LoadBalancer", "selector": {"app": "dns"}, "ports": [{"port": 53, "targetPort": 53}]},
    }
    if annotation is not None:
        svc["metadata"]["annotations"]["service.cloud.tencent.com/specify-protocol"] = annotation  # type: ignore[index]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "dns-1", "namespace": "app", "labels": {"app": "dns"}},
        "spec": {"containers": [{"name": "dns", "ports": [{"containerPort": 53, "protocol": "UDP"}]}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [svc, pod]}))
    return str(path)


@pytest.mark.parametrize(
    ("annotation", "fires"),
    [
        (None, True),
        ('{"53":{"protocol":["TCP","UDP"]}}', False),
        ('{"53":{"protocol":["UDP"]}}', False),
        ('{"53":{"protocol":["TCP_SSL"],"tls":"cert-secret"}}', True),  # TCP_SSL runs on TCP
        ('{"80":{"protocol":["UDP"]}}', True),  # another port
        ("{not json", True),  # malformed: TKE115 says so, TKE106 judges without it
    ],
)
def test_specify_protocol_sets_the_listener_protocols(
    cli: CLI, tmp_path: Path, annotation: str | None, fires: bool
) -> None:
    run: Run = cli("svc", "-n", "app", "--snapshot", _cluster(tmp_path, annotation), "--select", "TKE106", "-o", "json")
    assert bool(run.json()["findings"]) is fires
