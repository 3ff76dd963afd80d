"""Entry point for `python -m kubectl_tke_net` and the frozen binary."""

from kubectl_tke_net.entry import run

run()
