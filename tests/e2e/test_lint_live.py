"""`lint --cluster` on the real API server: manifests judged against the Services that exist only in the cluster."""

from __future__ import annotations

from pathlib import Path

import yaml
from controlplane import ControlPlane
from load import load
from test_plugin import offline, plugin

NS = "lint-live"

# In the cluster only: the Service the manifests' Ingress points at (its real port is 8080, named http), and a
# running Pod of web that names its port `http`.
LIVE = [
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "cart", "namespace": NS},
        "spec": {"type": "NodePort", "selector": {"app": "cart"}, "ports": [{"name": "http", "port": 8080}]},
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
    },
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-5d8f7c9b4-x2x9k",
            "namespace": NS,
            "labels": {"app": "web"},
        },
        "spec": {
            "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"name": "http", "containerPort": 80}]}]
        },
    },
]

# The change under review: an Ingress that sends /cart to port 80 of cart (which has only 8080), and a new
# version of the web Service that targets a port name the running Pod does not have.
MANIFEST = f"""\
# Source: shop/templates/ingress.yaml
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
spec:
  defaultBackend:
    service: {{name: web, port: {{number: 80}}}}
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /cart
        pathType: Prefix
        backend:
          service: {{name: cart, port: {{number: 80}}}}
---
# Source: shop/templates/web.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {NS}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: web-http}}]
"""


def test_lint_cluster_judges_a_backend_that_exists_only_in_the_cluster(
    controlplane: ControlPlane, kubectl: str, tmp_path: Path
) -> None:
    live = tmp_path / "live.yaml"
    live.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": LIVE}))
    load(controlplane, kubectl, live)
    manifest = tmp_path / "shop.yaml"
    manifest.write_text(MANIFEST)

    # Alone, the manifests cannot know cart: it is missing.
    alone = offline("lint", "-f", str(manifest), "-n", NS, "-o", "json")
    by_code = {f["code"]: f for f in alone["findings"]}
    assert "cart does not exist" in by_code["TKE201"]["message"]
    assert by_code["TKE201"]["source"] == {"file": str(manifest), "line": 2}

    # Against the cluster, cart is the real one, and its port is wrong.
    run = plugin(controlplane, "lint", "-f", str(manifest), "-n", NS, "--cluster", "-o", "json")
    assert run.status == 1, run.err
    doc = run.json()
    codes = {(f["code"], f["kind"], f["name"]) for f in doc["findings"]}
    assert ("TKE201", "Ingress", "shop") not in codes
    tke202 = next(f for f in doc["findings"] if f["code"] == "TKE202")
    assert "cart" in tke202["message"] and "8080" in tke202["message"], tke202
    assert tke202["source"] == {"file": str(manifest), "line": 2}
    # The manifest's web replaces the live one: its new targetPort web-http is judged against the running Pod.
    assert ("TKE104", "Service", "web") in codes
    assert doc["source"]["context"] and doc["source"]["manifests"] == [str(manifest)]
    # Only the manifests' objects are linted: cart is context, not a finding.
    assert all(f["name"] in ("shop", "web") for f in doc["findings"])

    table = plugin(controlplane, "lint", "-f", str(manifest), "-n", NS, "--cluster")
    assert table.status == 1 and f"{manifest}:2" in table.out and "TKE202" in table.out
