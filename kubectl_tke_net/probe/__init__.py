"""Probes (`svc NAME --probe`, `ingress NAME --probe`): short-lived Pods test the data path from inside the cluster.

plan.py decides what to test from which node (pure), probe.sh tests it inside the Pod, run.py creates, watches
and always deletes the Pods, and checks/probe.py turns the results into TKE120-TKE125 (pure). This module only
checks the flags, so that a run without --probe imports none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubectl_tke_net.i18n import _
from kubectl_tke_net.model import UsageError

if TYPE_CHECKING:
    import argparse

DEFAULT_TIMEOUT = "60s"
# What a test checks: the links of SPEC §7's probe table.
DNS, CLUSTER_IP, ENDPOINT, NODE_PORT, CLB = "dns", "cluster-ip", "endpoint", "node-port", "clb"
SLOW_MS = 3000  # SPEC TKE124: a CLB path that takes longer than this counts as failing


def check_flags(args: argparse.Namespace) -> float | None:
    """The --probe-timeout in seconds when --probe is given, else None; UsageError for what cannot go together."""
    from kubectl_tke_net.sources.cluster import parse_duration

    given = [
        flag
        for dest, flag in (
            ("probe_node", "--probe-node"),
            ("probe_image", "--probe-image"),
            ("probe_timeout", "--probe-timeout"),
        )
        if getattr(args, dest, None)
    ]
    if not getattr(args, "probe", False):
        if given:
            raise UsageError(_("{flag} needs --probe").format(flag=given[0]))
        return None
    noun = "Service" if args.command == "service" else "Ingress"
    if args.snapshot:
        raise UsageError(_("--probe cannot be used with --snapshot: it runs Pods in the cluster"))
    if args.all_namespaces:
        raise UsageError(
            _("--probe cannot be used with --all-namespaces: name one {kind} and its namespace (-n)").format(kind=noun)
        )
    if not args.name:
        raise UsageError(
            _("--probe needs a {kind} NAME: kubectl tke-net {command} NAME --probe").format(
                kind=noun, command=args.command
            )
        )
    try:
        timeout = parse_duration(args.probe_timeout or DEFAULT_TIMEOUT)
    except ValueError as exc:
        raise UsageError(f"--probe-timeout: {exc}") from exc
    if timeout is None:
        raise UsageError(_("--probe-timeout must be more than 0"))
    if args.probe_image is not None and not args.probe_image.strip():
        raise UsageError(_("--probe-image must name an image"))
    return timeout
