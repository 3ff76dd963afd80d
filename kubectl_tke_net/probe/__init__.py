"""Probes (`svc NAME --probe`, `ingress NAME --probe`): short-lived Pods test the data path from inside the cluster.

plan.py decides what to test from which node (pure), probe.sh tests it inside the Pod, sources/probe.py creates,
watches and always deletes the Pods and adds what they reported to the snapshot as a ProbeResult (result.py
writes and reads that item, pure), and checks/probe.py turns ProbeResults into TKE120-TKE127 (pure). With
--probe-rules, rules.sh reads each probe node's kube-proxy rules in a privileged hostNetwork Pod and rules.py parses
them (pure). This module holds what they share, so that a run without --probe imports none of the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMEOUT = "60s"
DEFAULT_IMAGE = "busybox:1.36"
# What a test checks: the links of SPEC §7's probe table.
DNS, CLUSTER_IP, ENDPOINT, NODE_PORT, CLB = "dns", "cluster-ip", "endpoint", "node-port", "clb"
PATHS = (DNS, CLUSTER_IP, ENDPOINT, NODE_PORT, CLB)
SLOW_MS = 3000  # SPEC TKE124: a CLB path that takes longer than this counts as failing


@dataclass(frozen=True)
class ProbeOptions:
    """What the command line asks of a probe run (--probe-node, --probe-image, --probe-timeout, --probe-rules),
    checked."""

    nodes: tuple[str, ...] = ()  # probe from these nodes; none: choose (plan.choose_nodes)
    image: str = DEFAULT_IMAGE
    timeout: float = 60.0  # seconds to wait for the probe Pods
    rules: bool = False  # --probe-rules: also read each probe node's kube-proxy rules (TKE127)
