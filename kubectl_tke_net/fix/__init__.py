"""`kubectl tke-net fix`: plan (pure) -> diff (pure) -> apply (the only write path), and the command around them."""

ACTIONS = ("kube-proxy", "prevent-loopback", "ingress-keepalive", "coredns-rewrite", "rollback")
