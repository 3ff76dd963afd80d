"""Issue 19 against a real kube-apiserver: a super node, its Pods (hostIP == podIP), EndpointSlices on it and the
tke-bridge-agent DaemonSet, created as a client would create them. The server's defaults (externalTrafficPolicy,
allocated ClusterIPs, dnsPolicy ClusterFirst) and the objects' shapes after it stored them must not change what
the super-node checks find. Each cluster gets a control plane of its own (fixtures share node names and kube-system
objects): about 5 minutes each on the shared 2-core machine, so only TKE117 runs here for now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane
from load import own_controlplane

from tests.conftest import found, run_plugin, without_source

CHECKS = Path(__file__).resolve().parents[1] / "checks"


def _objects(path: Path, tmp_path: Path) -> Path:
    """The objects of a fixture: a tests/checks/ file without its CheckFixture header."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "List"]
    out = tmp_path / path.name
    out.write_text(yaml.safe_dump_all(docs))
    return out


def _report(cp: ControlPlane | None, *args: str) -> dict[str, Any]:
    run = run_plugin(*args, "-o", "json", "--fail-on", "never", env=cp.env() if cp else None, timeout=120)
    assert run.status == 0, run.err
    return run.json()


@pytest.mark.parametrize(
    ("source", "command", "expected"),
    [
        # Next candidates: TKE605.yaml (a dnsPolicy the server defaults) and tests/fixtures/healthy.yaml.
        (CHECKS / "TKE117.yaml", "svc", {("TKE117", "Service/app/web"), ("TKE117", "Service/app/mixed")}),
    ],
    ids=lambda v: v.stem if isinstance(v, Path) else None,
)
def test_live_cluster_finds_what_its_snapshot_finds(
    kubectl: str, tmp_path: Path, source: Path, command: str, expected: set[tuple[str, str]]
) -> None:
    path = _objects(source, tmp_path)
    codes = ",".join(sorted({code for code, _obj in expected})) or "TKE1,TKE3,TKE6"
    offline = _report(None, command, "-A", "--snapshot", str(path), "--select", codes)
    with own_controlplane(kubectl, path) as cp:
        live = _report(cp, command, "-A", "--select", codes)
        dump = run_plugin("dump", "-A", env=cp.env(), timeout=120)
    assert dump.status == 0, dump.err
    (tmp_path / "dump.json").write_text(dump.out)
    again = _report(None, command, "-A", "--snapshot", str(tmp_path / "dump.json"), "--select", codes)
    assert found(live) == found(offline) == expected
    assert [f["message"] for f in live["findings"]] == [f["message"] for f in offline["findings"]]
    assert without_source(again) == without_source(live)
    assert live["skipped"] == []
