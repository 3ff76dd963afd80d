"""`kubectl tke-net fix`: plan (pure) -> diff (pure) -> apply (the only write path), and the command around them."""

from __future__ import annotations

from kubectl_tke_net.i18n import N_

ACTIONS = ("kube-proxy", "prevent-loopback", "ingress-keepalive", "coredns-rewrite", "rollback")

# How each action is run from a report (`fix=` of a check names the action), in the order to run them, and what
# to know before: the loopback screen's "Fix, in this order" and `checks CODE` come from here.
STEPS: dict[str, tuple[str, str]] = {
    "kube-proxy": (
        "kubectl tke-net fix kube-proxy --apply",
        N_("then: kubectl -n kube-system rollout status ds/kube-proxy"),
    ),
    "prevent-loopback": ("kubectl tke-net fix prevent-loopback [-n NS | -A] --apply", N_("needs the fixed kube-proxy")),
    "ingress-keepalive": (
        "kubectl tke-net fix ingress-keepalive [-n NS | -A] --apply",
        N_("needs the CLB L7 SNAT/keep-alive ticket and 100.127.0.0/16 allowed in the node security group"),
    ),
}


def steps(actions: set[str]) -> list[tuple[str, str]]:
    """(command, note) of each of these actions, in the order they must run."""
    return [STEPS[action] for action in ACTIONS if action in actions and action in STEPS]
