"""Mixed HTTP/HTTPS rules (`kubernetes.io/ingress.http-rules` / `https-rules`): their backends are walked like
spec.rules backends by TKE201-TKE204, and TKE207/TKE208 see them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import CLI


def _rule(host: str, path: str, service: str, port: int | str) -> dict[str, Any]:
    return {"host": host, "path": path, "backend": {"serviceName": service, "servicePort": port}}


def snapshot(tmp_path: Path) -> str:
    http = [_rule("www.example.com", "/", "web", 80), _rule("www.example.com", "/", "web", "80")]
    https = [_rule("www.example.com", "/", "web", 80), _rule("www.example.com", "/pay", "pay", 80)]
    objects = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {
                    "name": "mixed",
                    "namespace": "shop",
                    "annotations": {
                        "kubernetes.io/ingress.rule-mix": "true",
                        "kubernetes.io/ingress.http-rules": json.dumps(http),
                        "kubernetes.io/ingress.https-rules": json.dumps(https),
                    },
                },
                "spec": {
                    "rules": [
                        {
                            "host": "www.example.com",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                    }
                                ]
                            },
                        }
                    ]
                },
                "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.5"}]}},
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]},
            },
        ],
    }
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(objects), encoding="utf-8")
    return str(path)


def test_mixed_rule_backends_are_walked(cli: CLI, tmp_path: Path) -> None:
    doc = cli("ingress", "-A", "--snapshot", snapshot(tmp_path), "-o", "json", "--select", "TKE201,TKE207,TKE208")
    by_code = {f["code"]: f["message"] for f in doc.json()["findings"]}
    assert "Service pay does not exist in namespace shop" in by_code["TKE201"]
    assert "HTTPS rule www.example.com/pay" in by_code["TKE201"]
    assert "HTTPS www.example.com/pay -> pay:80" in by_code["TKE207"]
    # the same rule in spec.rules and in each annotation is no duplicate; twice in http-rules is.
    assert by_code["TKE208"].startswith("HTTP www.example.com/ appears 2 times (-> web:80, web:80)")
    assert "HTTPS www.example.com/ appears" not in by_code["TKE208"]
