"""Many clusters (SPEC 9.6) against stub API servers: each cluster its own client and credentials, per-cluster
status, the FleetReport, the summary table, the exit status, and a hung cluster that costs one request timeout."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kubectl_tke_net.kinds import KINDS
from tests.conftest import CLI, FIXTURES
from tests.stubserver import Answer, Stub, serve

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def cluster_route(snapshot: Path, delay: float = 0.0) -> Any:
    """A route that answers each kind's LIST with the snapshot's objects of that kind (namespace-filtered)."""
    doc = yaml.safe_load(snapshot.read_text(encoding="utf-8"))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for item in doc["items"]:
        by_kind.setdefault(item["kind"], []).append(item)

    def route(method: str, path: str) -> Answer | None:
        url = urlsplit(path)
        for kind in KINDS.values():
            base = kind.base_path
            if url.path == f"{base}/{kind.name}":
                items = by_kind.get(kind.kind, [])
            elif url.path.startswith(f"{base}/namespaces/") and url.path.endswith(f"/{kind.name}"):
                ns = url.path[len(f"{base}/namespaces/") : -len(f"/{kind.name}")]
                items = [i for i in by_kind.get(kind.kind, []) if i["metadata"].get("namespace") == ns]
            else:
                continue
            return Answer(200, {"kind": "List", "metadata": {}, "items": items}, delay=delay)
        return Answer(404, {"kind": "Status", "message": "not found"}, delay=delay)

    return route


def fleet_kubeconfig(path: Path, stubs: dict[str, Stub | str]) -> Path:
    """One context per entry, named as the key, each with a cluster and a user (and token) of its own."""
    clusters, users, contexts = [], [], []
    for name, stub in stubs.items():
        cluster = stub.cluster() if isinstance(stub, Stub) else {"server": stub}
        clusters.append({"name": f"cls-{name}", "cluster": cluster})
        users.append({"name": f"user-{name}", "user": {"token": f"token-of-{name}"}})
        contexts.append({"name": name, "context": {"cluster": f"cls-{name}", "user": f"user-{name}"}})
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": next(iter(stubs)),
                "clusters": clusters,
                "users": users,
                "contexts": contexts,
            }
        ),
        encoding="utf-8",
    )
    return path


FORBIDDEN = Answer(
    403,
    {
        "kind": "Status",
        "status": "Failure",
        "reason": "Forbidden",
        "code": 403,
        "message": 'services is forbidden: User "d" cannot list resource "services" in API group "" at the '
        "cluster scope",
    },
)


@contextlib.contextmanager
def four_clusters() -> Iterator[dict[str, Stub]]:
    """healthy (no finding), demo (findings), hung (answers nothing in time), denied (403 to every LIST)."""
    with (
        serve(route=cluster_route(FIXTURES / "healthy.yaml")) as healthy,
        serve(route=cluster_route(EXAMPLES / "demo-cluster.yaml")) as demo,
        serve(route=cluster_route(FIXTURES / "healthy.yaml", delay=20)) as hung,
        serve(default=FORBIDDEN) as denied,
    ):
        yield {"healthy": healthy, "demo": demo, "hung": hung, "denied": denied}


def by_context(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["context"]: c for c in doc["clusters"]}


def test_clusters_side_by_side_each_with_its_own_status(cli: CLI, tmp_path: Path) -> None:
    with four_clusters() as stubs:
        config = fleet_kubeconfig(tmp_path / "config", dict(stubs))
        started = time.monotonic()
        run = cli(
            "svc", "-A", "--kubeconfig", str(config), "--context", "healthy,demo", "--context", "hung",
            "--context", "denied", "--request-timeout", "1s", "-o", "json",
        )  # fmt: skip
        seconds = time.monotonic() - started
        seen = {name: [h.get("Authorization") for _m, _p, h in stub.seen] for name, stub in stubs.items()}
    doc = run.json()
    assert doc["apiVersion"] == "tke-net/v1" and doc["kind"] == "FleetReport"
    assert [c["context"] for c in doc["clusters"]] == ["healthy", "demo", "hung", "denied"]
    clusters = by_context(doc)
    assert {k: c["status"] for k, c in clusters.items()} == {
        "healthy": "ok",
        "demo": "ok",
        "hung": "unreachable",
        "denied": "forbidden",
    }
    assert clusters["healthy"]["cluster"] == "cls-healthy" and clusters["hung"]["cluster"] == "cls-hung"
    assert clusters["healthy"]["error"] is None and clusters["healthy"]["report"]["findings"] == []
    assert clusters["healthy"]["report"]["source"]["context"] == "healthy"
    demo = clusters["demo"]["report"]
    assert demo["summary"]["error"] >= 1 and {f["code"] for f in demo["findings"]} >= {"TKE102"}
    hung = clusters["hung"]
    assert hung["report"] is None and "did not answer within the request timeout" in hung["error"]
    assert "\n" not in hung["error"]
    assert "cannot list resource" in clusters["denied"]["error"]
    # An unreachable (or forbidden) cluster counts 3: the highest of the clusters'.
    assert run.status == 3
    # The hung cluster cost one request timeout, not one per kind, and did not hold the others.
    assert seconds < 6, seconds
    # Each cluster was sent its own context's token, never another's.
    for name, headers in seen.items():
        assert headers and set(headers) == {f"Bearer token-of-{name}"}, (name, set(headers))
    for name in stubs:
        assert f"token-of-{name}" not in run.out + run.err


def test_table_has_a_section_per_cluster_and_a_summary(cli: CLI, tmp_path: Path) -> None:
    with four_clusters() as stubs:
        config = fleet_kubeconfig(tmp_path / "config", dict(stubs))
        run = cli("svc", "-A", "--kubeconfig", str(config), "--all-contexts", "--request-timeout", "1s")
    assert run.status == 3
    out = run.out
    for name, status in (("healthy", "ok"), ("demo", "ok"), ("hung", "unreachable"), ("denied", "forbidden")):
        assert f"=== context {name} (cluster cls-{name}): {status} ===" in out
    assert "TKE102" in out.split("=== context demo")[1].split("=== context hung")[0]
    summary = out.split("Summary:\n", 1)[1].splitlines()
    assert summary[0].split()[:6] == ["CONTEXT", "CLUSTER", "STATUS", "ERRORS", "WARNINGS", "INFO"]
    rows = {line.split()[0]: line.split() for line in summary[1:]}
    assert rows["healthy"][1:6] == ["cls-healthy", "ok", "0", "0", "0"]
    assert rows["hung"][1:6] == ["cls-hung", "unreachable", "-", "-", "-"]
    assert rows["denied"][2] == "forbidden"
    assert int(rows["demo"][3]) >= 1


def test_exit_status_is_the_highest_of_the_clusters(cli: CLI, tmp_path: Path) -> None:
    with (
        serve(route=cluster_route(FIXTURES / "healthy.yaml")) as healthy,
        serve(route=cluster_route(EXAMPLES / "demo-cluster.yaml")) as demo,
    ):
        config = fleet_kubeconfig(tmp_path / "config", {"healthy": healthy, "demo": demo})
        both = cli("svc", "-A", "--kubeconfig", str(config), "--all-contexts", "-o", "json")
        never = cli("svc", "-A", "--kubeconfig", str(config), "--all-contexts", "--fail-on", "never", "-o", "json")
        one = cli("svc", "-A", "--kubeconfig", str(config), "--context", "healthy", "-o", "json")
    assert both.status == 1 and never.status == 0
    assert [c["status"] for c in both.json()["clusters"]] == ["ok", "ok"]
    assert one.status == 0 and one.json()["kind"] == "Report"  # one --context: the plain report, as before


def test_refused_credentials_are_forbidden(cli: CLI, tmp_path: Path) -> None:
    unauthorized = Answer(401, {"kind": "Status", "code": 401, "message": "Unauthorized"})
    with serve(default=unauthorized) as refused, serve(route=cluster_route(FIXTURES / "healthy.yaml")) as healthy:
        config = fleet_kubeconfig(tmp_path / "config", {"refused": refused, "healthy": healthy})
        run = cli("loopback", "-A", "--kubeconfig", str(config), "--context", "refused,healthy", "-o", "json")
    clusters = by_context(run.json())
    assert clusters["refused"]["status"] == "forbidden" and "401" in clusters["refused"]["error"]
    assert clusters["healthy"]["status"] == "ok"
    assert clusters["healthy"]["report"]["loopback"]["verdict"] == "not-exposed"
    assert run.status == 3


def test_unreachable_address_and_an_escaped_error(cli: CLI, tmp_path: Path) -> None:
    with serve(route=cluster_route(FIXTURES / "healthy.yaml")) as healthy:
        config = fleet_kubeconfig(tmp_path / "config", {"healthy": healthy, "gone": "https://127.0.0.1:1"})
        run = cli("ingress", "-A", "--kubeconfig", str(config), "--all-contexts", "-o", "yaml")
    doc = yaml.safe_load(run.out)
    clusters = by_context(doc)
    assert clusters["gone"]["status"] == "unreachable" and "127.0.0.1:1" in clusters["gone"]["error"]
    assert clusters["healthy"]["status"] == "ok"
    assert run.status == 3


def test_prometheus_of_a_fleet_parses_with_the_official_parser(cli: CLI, tmp_path: Path) -> None:
    with (
        serve(route=cluster_route(FIXTURES / "healthy.yaml")) as healthy,
        serve(route=cluster_route(EXAMPLES / "demo-cluster.yaml")) as demo,
    ):
        config = fleet_kubeconfig(
            tmp_path / "config", {"healthy": healthy, "demo": demo, "gone": "https://127.0.0.1:1"}
        )
        metrics = tmp_path / "tke-net.prom"
        run = cli(
            "svc", "-A", "--kubeconfig", str(config), "--all-contexts", "-o", "prometheus",
            "--metrics-file", str(metrics),
        )  # fmt: skip
    assert run.status == 3
    assert metrics.read_text(encoding="utf-8").replace(" ", "")[:200] == run.out.replace(" ", "")[:200]
    families = {f.name: f for f in text_string_to_metric_families(run.out)}
    scanned = {s.labels["cluster"]: s.value for s in families["tke_net_cluster_scanned"].samples}
    assert scanned == {"cls-healthy": 1.0, "cls-demo": 1.0, "cls-gone": 0.0}
    findings = families["tke_net_findings"].samples
    assert findings and {s.labels["cluster"] for s in findings} == {"cls-demo"}
    summary = {(s.labels["cluster"], s.labels["severity"]): s.value for s in families["tke_net_summary"].samples}
    assert summary[("cls-healthy", "error")] == 0.0 and summary[("cls-demo", "error")] >= 1.0


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (("--context", "a", "--all-contexts"), 2, "--context and --all-contexts cannot be used together"),
        (("--context", "a,b", "--snapshot", "x.yaml"), 2, "several contexts cannot be used with --snapshot"),
        (("--context", "a,b", "-o", "junit"), 2, "-o junit reports one cluster"),
        (("--context", "a,b", "-o", "policyreport"), 2, "use --write-reports"),
        (("--context", "a,", "-o", "json"), 2, "--context has an empty name"),
        (("--context", "a,nosuch"), 3, 'context "nosuch" not found'),
    ],
)
def test_fleet_usage_errors(cli: CLI, tmp_path: Path, args: tuple[str, ...], status: int, says: str) -> None:
    config = fleet_kubeconfig(tmp_path / "config", {"a": "https://127.0.0.1:1", "b": "https://127.0.0.1:1"})
    run = cli("svc", "-A", "--kubeconfig", str(config), *args)
    assert run.status == status and says in run.err, run.err
    assert run.out == "" and len(run.err.strip().splitlines()) == 1


def test_several_contexts_are_only_for_the_diagnosing_commands(cli: CLI, tmp_path: Path) -> None:
    config = fleet_kubeconfig(tmp_path / "config", {"a": "https://127.0.0.1:1", "b": "https://127.0.0.1:1"})
    run = cli("dump", "-A", "--kubeconfig", str(config), "--context", "a,b")
    assert run.status == 2 and "dump reads one cluster" in run.err
