"""TKE1xx on fixture clusters: each code fires on the right objects and nowhere else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLI, fixture, found, messages, variant

SERVICES = {
    ("TKE101", "Service/app/orphan"),
    ("TKE101", "Service/app/batch"),
    ("TKE102", "Service/app/down"),
    ("TKE103", "Service/app/partial"),
    ("TKE103", "Service/app/direct"),
    ("TKE104", "Service/app/named"),
    ("TKE105", "Service/app/named"),
    ("TKE106", "Service/app/dns"),
    ("TKE107", "Service/app/nolb"),
    ("TKE108", "Service/app/legacy"),
    ("TKE109", "Service/app/nolb"),
    ("TKE110", "Service/app/direct"),
    ("TKE111", "Service/app/direct"),
    ("TKE112", "Service/app/direct"),
    ("TKE113", "Service/app/nolb"),
    ("TKE113", "Service/app/legacy"),
}


def test_every_service_problem_on_its_object(cli: CLI) -> None:
    run = cli("svc", "-A", "--snapshot", fixture("services"), "-o", "json")
    assert run.status == 1
    assert found(run) == SERVICES


# The healthy clusters: kube-proxy in IPVS mode on GlobalRouter with a super node behind a Service, a self-installed
# Cilium that keeps kube-proxy scheduled nowhere, and DataPlaneV2 without kube-proxy (TKE-FACTS-2 s3.1).
HEALTHY = {"healthy": "ipvs", "healthy-cilium": "cilium", "healthy-dpv2": "cilium"}


@pytest.mark.parametrize("name", sorted(HEALTHY))
@pytest.mark.parametrize("command", ["svc", "ingress", "loopback"])
def test_healthy_cluster_has_no_finding(cli: CLI, command: str, name: str) -> None:
    run = cli(command, "-A", "--snapshot", fixture(name), "-o", "json")
    assert (run.status, run.json()["findings"], run.json()["skipped"], run.err) == (0, [], [], "")
    assert run.json()["cluster"]["kubeProxy"]["mode"] == HEALTHY[name]


def test_messages_explain_the_cause(cli: CLI) -> None:
    msgs = messages(cli("svc", "-A", "--snapshot", fixture("services"), "-o", "json"))
    assert "exist in namespace other" in msgs[("TKE101", "orphan")]
    assert "only 1 terminated Pod: batch-done" in msgs[("TKE101", "batch")]
    assert "down-1 (CrashLoopBackOff)" in msgs[("TKE102", "down")]
    # Two EndpointSlices (IPv4 + IPv6) of the same two Pods count as two endpoints.
    assert msgs[("TKE103", "partial")].startswith("1 of 2 endpoints ready")
    assert "'http'" in msgs[("TKE104", "named")] and "named-2" in msgs[("TKE104", "named")]
    assert "targetPort 9090" in msgs[("TKE105", "named")]
    assert "UDP but targets a TCP" in msgs[("TKE106", "dns")]
    assert "subnet-00000000 not exist" in msgs[("TKE107", "nolb")]
    # TKE109 leaves out the reason TKE107 quoted, and lists each other reason once.
    assert msgs[("TKE109", "nolb")] == "1 Warning event reason: EnsureLoadBalancerFailed: quota exceeded"
    assert "32769" in msgs[("TKE108", "legacy")] and "30053" not in msgs[("TKE108", "legacy")]
    assert "TCP 32769, UDP 30053" in msgs[("TKE113", "legacy")]
    assert "direct-gr" in msgs[("TKE110", "direct")] and "direct-eni" not in msgs[("TKE110", "direct")]
    assert "direct-eni" in msgs[("TKE111", "direct")]
    assert "'sg-bad'" in msgs[("TKE112", "direct")]


def test_suppression_annotation_and_no_suppress(cli: CLI) -> None:
    run = cli("svc", "-A", "--snapshot", fixture("services"), "-o", "json")
    assert run.json()["summary"]["suppressed"] == 1
    run = cli("svc", "-A", "--snapshot", fixture("services"), "-o", "json", "--no-suppress")
    assert ("TKE101", "Service/app/quiet") in found(run)
    assert run.json()["summary"]["suppressed"] == 0


def test_name_namespace_and_selector_scope(cli: CLI) -> None:
    run = cli("svc", "named", "-n", "app", "--snapshot", fixture("services"), "-o", "json")
    assert found(run) == {("TKE104", "Service/app/named"), ("TKE105", "Service/app/named")}
    run = cli("svc", "-n", "other", "--snapshot", fixture("services"), "-o", "json")
    assert found(run) == set()


def test_select_and_ignore_by_code_and_prefix(cli: CLI) -> None:
    run = cli("svc", "-A", "--snapshot", fixture("services"), "-o", "json", "--select", "TKE10")
    assert {c for c, _ in found(run)} == {
        "TKE101",
        "TKE102",
        "TKE103",
        "TKE104",
        "TKE105",
        "TKE106",
        "TKE107",
        "TKE108",
        "TKE109",
    }
    # Ignoring every check of the command leaves nothing to run: a usage error (SPEC 9.1), not a clean report.
    # (svc runs TKE1xx, TKE302-TKE304, TKE603 and TKE605: cluster DNS, and the super-node Pod configuration)
    run = cli("svc", "-A", "--snapshot", fixture("services"), "-o", "json", "--ignore", "TKE1,TKE3,TKE6")
    assert run.status == 2 and run.out == "" and "is left to run" in run.err


def test_pods_without_endpointslices_use_pod_readiness(cli: CLI, tmp_path: Path) -> None:
    def without_slices(doc: dict[str, Any]) -> None:
        doc["items"] = [i for i in doc["items"] if i["kind"] != "EndpointSlice"]
        for item in doc["items"]:
            if item["kind"] == "Pod" and item["metadata"]["name"] == "web-7d9f8-fghij":
                item["status"]["conditions"] = [{"type": "Ready", "status": "False"}]

    run = cli("svc", "-A", "--snapshot", variant(tmp_path, "healthy", without_slices), "-o", "json")
    assert found(run) == {("TKE103", "Service/shop/web")}
