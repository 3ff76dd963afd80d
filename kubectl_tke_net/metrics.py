"""Reports as Prometheus metrics (SPEC 9.5), in the text exposition format written by the official client
library: for node-exporter's textfile collector (--metrics-file) or any scraper. Pure: the text only."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Scan:
    """One cluster's part of the metrics: its `cluster` label, whether it was scanned, and its report."""

    cluster: str
    scanned: bool
    report: dict[str, Any] | None


def cluster_label(source: dict[str, Any]) -> str:
    """The `cluster` label: the kubeconfig's cluster name, else the context's, else "" (in-cluster)."""
    return str(source.get("cluster") or source.get("context") or "")


def exposition(scans: Sequence[Scan], now: float) -> str:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.registry import Collector

    class Reports(Collector):
        def collect(self) -> Iterator[GaugeMetricFamily]:
            findings = GaugeMetricFamily(
                "tke_net_findings",
                "A finding of kubectl tke-net: 1 for each (code, object) found",
                labels=["code", "severity", "namespace", "kind", "name", "cluster"],
            )
            summary = GaugeMetricFamily(
                "tke_net_summary", "Findings of the run by severity", labels=["severity", "cluster"]
            )
            fixed = GaugeMetricFamily(
                "tke_net_kube_proxy_loopback_fixed",
                "1 when kube-proxy has the CLB loopback fix, 0 when it lacks it (absent when unknown)",
                labels=["cluster"],
            )
            scanned = GaugeMetricFamily(
                "tke_net_cluster_scanned",
                "1 when the cluster was read, 0 when it was unreachable or its credentials were refused",
                labels=["cluster"],
            )
            for scan in scans:
                scanned.add_metric([scan.cluster], 1.0 if scan.scanned else 0.0)
                if scan.report is None:
                    continue
                for f in scan.report["findings"]:
                    findings.add_metric(
                        [f["code"], f["severity"], f["namespace"], f["kind"], f["name"], scan.cluster], 1.0
                    )
                for severity in SEVERITIES:
                    summary.add_metric([severity, scan.cluster], float(scan.report["summary"][severity]))
                proxy = (scan.report.get("cluster") or {}).get("kubeProxy") or {}
                if proxy.get("loopbackFixed") is not None:
                    fixed.add_metric([scan.cluster], 1.0 if proxy["loopbackFixed"] else 0.0)
            stamp = GaugeMetricFamily("tke_net_run_timestamp_seconds", "When the run ended, in Unix seconds")
            stamp.add_metric([], now)
            yield from (findings, summary, fixed, scanned, stamp)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Reports())
    return generate_latest(registry).decode("utf-8")
