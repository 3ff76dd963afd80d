"""`lint -f PATH` (SPEC 9.4): manifests before they are applied; -o sarif validated by the SARIF Multitool."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_tke_net import lint
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.kinds import Obj
from tests.conftest import CLI, golden

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).parent / "lint"
GOOD = "tests/lint/good.yaml"  # relative, as a CI job gives them (the tests run from the repository root)
BROKEN = "tests/lint/broken.yaml"
EXAMPLE = "examples/lint/shop.yaml"
SARIF_TOOL = ROOT / "tools" / "sarif" / "node_modules" / "@microsoft" / "sarif-multitool"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def codes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["code"], f["name"]) for f in doc["findings"]}


def skipped(doc: dict[str, Any]) -> dict[str, str]:
    return {code: entry["reason"] for entry in doc["skipped"] for code in entry["codes"]}


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def dump(path: Path, items: list[Obj]) -> str:
    return write(path, yaml.safe_dump({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}))


# --- every static check, from broken manifests -----------------------------------------------------------


def test_every_static_check_fires_on_its_broken_manifest(cli: CLI) -> None:
    run = cli("lint", "-f", BROKEN, "-o", "json")
    assert run.status == 1, run.err
    doc = run.json()
    named = {(f["code"], f["name"]): f for f in doc["findings"]}
    text = (ROOT / BROKEN).read_text(encoding="utf-8").splitlines()
    for code in sorted(lint.STATIC):
        obj = f"{code.lower()}-"
        hits = [f for (c, name), f in named.items() if c == code and name.startswith(obj)]
        assert hits, f"{code}: no finding on its object {obj}* in {BROKEN}"
        line = hits[0]["source"]["line"]
        assert hits[0]["source"]["file"] == BROKEN
        # The item starts on its own `- apiVersion:` line, with its name a few lines below.
        assert text[line - 1].lstrip().startswith("- apiVersion:"), (code, line)
        assert any(f"name: {hits[0]['name']}" in row for row in text[line - 1 : line + 3]), (code, line)
    # The objects are named for the check they break; no other check fires on them except these.
    extra = {(c, n) for c, n in named if not n.startswith(c.lower())}
    assert extra == {("TKE113", "tke108-node-port"), ("TKE211", "tke216-certificate")}


def test_clean_manifests_find_nothing(cli: CLI) -> None:
    run = cli("lint", "-f", GOOD, "-o", "json")
    assert run.status == 0, run.err
    doc = run.json()
    assert doc["findings"] == []
    assert doc["manifests"] == {"paths": [GOOD], "objects": 7}
    table = cli("lint", "-f", GOOD)
    assert "No problems found." in table.out


def test_runtime_checks_are_skipped_with_the_reason_never_fired(cli: CLI, tmp_path: Path) -> None:
    # A LoadBalancer Service that was never applied has no CLB address, no endpoints and no events: none of
    # that may become a finding.
    path = write(
        tmp_path / "lb.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: lb}\n"
        "spec: {type: LoadBalancer, selector: {app: lb}, ports: [{port: 80, targetPort: 8080}]}\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: lb}\n"
        "spec: {template: {metadata: {labels: {app: lb}}, spec: {readinessGates: "
        "[{conditionType: cloud.tencent.com/load-balancer-backendgroup-ready}], "
        "containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}}}\n",
    )
    doc = cli("lint", "-f", path, "-o", "json").json()
    assert not {c for c, _n in codes(doc)} & {"TKE101", "TKE102", "TKE103", "TKE107", "TKE109", "TKE111"}
    reasons = skipped(doc)
    assert "endpoints" in reasons["TKE102"] and "endpoints" in reasons["TKE111"]
    assert "CLB address" in reasons["TKE107"] and "CLB address" in reasons["TKE206"]
    assert "events" in reasons["TKE109"] and "events" in reasons["TKE212"]
    assert "probe" in reasons["TKE124"]
    assert "Tencent Cloud" in reasons["TKE401"]
    assert "--cluster" in reasons["TKE302"] and "--cluster" in reasons["TKE205"] and "--cluster" in reasons["TKE209"]
    assert doc["cluster"]["nodes"] is None and doc["cluster"]["kubeProxy"]["mode"] == "unknown"
    for code in lint.STATIC:
        assert code not in reasons


# --- reading: stdin, Helm output, folders, JSON, namespaces, positions ----------------------------------

HELM = """\
---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    helm.sh/chart: web-0.1.0
spec:
  selector:
    app.kubernetes.io/name: web
  ports:
    - port: 80
      targetPort: http
      name: http
---
# Source: web/templates/empty.yaml
---
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: web
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web
    spec:
      containers:
        - name: web
          image: "nginx:1.27"
          ports:
            - name: web
              containerPort: 80
"""


def test_helm_output_on_stdin(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(HELM.encode())))
    run = cli("lint", "-f", "-", "-n", "prod", "-o", "json")
    assert run.status == 1
    doc = run.json()
    [f] = doc["findings"]
    assert (f["code"], f["namespace"], f["name"]) == ("TKE104", "prod", "web")  # -n for objects without one
    assert f["source"] == {"file": "-", "line": 3}  # the first key after the comment, as the parser saw it
    assert "deployment/web" in f["message"]
    assert doc["manifests"]["objects"] == 2


def test_default_namespace_and_folders_and_json(cli: CLI, tmp_path: Path) -> None:
    write(tmp_path / "chart" / "svc.yaml", HELM.split("---\n# Source: web/templates/empty.yaml", maxsplit=1)[0])
    write(
        tmp_path / "chart" / "sub" / "deploy.json",
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "metadata": {"name": "web"},
                        "spec": {
                            "template": {
                                "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
                                "spec": {
                                    "containers": [{"name": "w", "ports": [{"name": "http", "containerPort": 80}]}]
                                },
                            }
                        },
                    }
                ],
            },
            indent=1,
        ),
    )
    write(tmp_path / "chart" / "README.md", "not a manifest")
    doc = cli("lint", "-f", str(tmp_path / "chart"), "-o", "json").json()
    assert doc["findings"] == [], doc["findings"]  # the JSON Deployment's template declares http
    assert doc["manifests"]["objects"] == 2
    # The Service is in `default`: no namespace and no -n.
    broken = write(tmp_path / "one" / "svc.yaml", HELM.split("---\n# Source: web/templates/empty.yaml", maxsplit=1)[0])
    [f] = cli("lint", "-f", broken, "-o", "json").json()["findings"]
    assert f["namespace"] == "default" and f["code"] == "TKE101"


def test_positions_come_from_the_parser(cli: CLI, tmp_path: Path) -> None:
    # A text search for `name: web` would find the label, the annotation and the port first.
    text = (
        "# name: web\n"
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: web, labels: {name: web}}\n"
        "-   apiVersion: v1\n    kind: Service\n    metadata:\n      annotations: {x: 'name: web'}\n"
        "      name: web\n    spec: {selector: {name: web}, ports: [{name: web, port: 80}]}\n"
    )
    path = write(tmp_path / "list.yaml", text)
    [f] = cli("lint", "-f", path, "-o", "json").json()["findings"]
    assert f["source"] == {"file": path, "line": 8}
    flow = write(
        tmp_path / "flow.json",
        '{"apiVersion": "v1", "kind": "List", "items": [\n {"apiVersion": "v1",\n'
        ' "kind": "ConfigMap", "metadata": {"name": "c"}},\n {"apiVersion": "v1", "kind": "Service",\n'
        ' "metadata": {"name": "s"}, "spec": {"selector": {"a": "b"}, "ports": [{"port": 1}]}}]}\n',
    )
    [f] = cli("lint", "-f", flow, "-o", "json").json()["findings"]
    assert f["source"] == {"file": flow, "line": 4}


def test_duplicates_are_reported_once_with_both_places(cli: CLI, tmp_path: Path) -> None:
    svc = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\n"
        "spec: {selector: {app: %s}, ports: [{port: 80}]}\n"
    )
    first = write(tmp_path / "a.yaml", "# first\n" + svc % "old")
    second = write(tmp_path / "b.yaml", "---\n" + svc % "new")
    run = cli("lint", "-f", first, "-f", second, "-o", "json")
    doc = run.json()
    assert doc["duplicates"] == [
        {
            "kind": "Service",
            "namespace": "shop",
            "name": "api",
            "sources": [{"file": first, "line": 2}, {"file": second, "line": 2}],
        }
    ]
    [f] = doc["findings"]  # linted once: the last definition
    assert "app=new" in f["message"] and f["source"] == {"file": second, "line": 2}
    assert f"Service/shop/api is defined 2 times: {first}:2, {second}:2; the last is linted" in run.err
    table = cli("lint", "-f", first, "-f", second)
    assert f"defined more than once: Service/shop/api at {first}:2, {second}:2 (the last is linted)" in table.out
    # Another kind of the same name is not a duplicate.
    other = write(tmp_path / "c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api, namespace: shop}\n")
    assert len(cli("lint", "-f", first, "-f", other, "-o", "json").json()["duplicates"]) == 0


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("Deployment", {"template": "T"}),
        ("StatefulSet", {"serviceName": "w", "template": "T"}),
        ("DaemonSet", {"template": "T"}),
        ("ReplicaSet", {"template": "T"}),
        ("Job", {"template": "T"}),
        ("CronJob", {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": "T"}}}),
    ],
)
def test_every_workload_template_stands_in_for_pods(cli: CLI, tmp_path: Path, kind: str, spec: dict[str, Any]) -> None:
    template = {
        "metadata": {"labels": {"app": "w"}},
        "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"name": "http", "containerPort": 80}]}]},
    }
    body = json.loads(json.dumps(spec).replace('"T"', json.dumps(template)))
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "w"},
        "spec": {
            "selector": {"app": "w"},
            "ports": [{"name": "a", "port": 80, "targetPort": "http"}, {"name": "b", "port": 81, "targetPort": "grpc"}],
        },
    }
    workload = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w"}, "spec": body}
    path = write(tmp_path / "m.yaml", yaml.safe_dump_all([svc, workload]))
    [f] = cli("lint", "-f", path, "-o", "json").json()["findings"]
    assert f["code"] == "TKE104" and "'grpc'" in f["message"] and f"{kind.lower()}/w" in f["message"]
    assert "'http'" not in f["message"]


def test_host_network_and_readiness_gates_reach_the_checks(cli: CLI, tmp_path: Path) -> None:
    # TKE110 judges hostNetwork templates against the cluster's switch: with a dump.
    manifest = write(
        tmp_path / "m.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: d\n"
        "  annotations: {service.cloud.tencent.com/direct-access: 'true'}\n"
        "spec: {type: LoadBalancer, selector: {app: d}, ports: [{port: 80}]}\n---\n"
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec:\n  template:\n"
        "    metadata: {labels: {app: d}}\n"
        "    spec: {hostNetwork: true, containers: [{name: c, image: x, ports: [{containerPort: 80}]}]}\n",
    )
    snapshot = dump(tmp_path / "dump.yaml", [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}])
    doc = cli("lint", "-f", manifest, "--snapshot", snapshot, "-o", "json").json()
    assert ("TKE110", "d") in codes(doc)
    assert "host network" in next(f["message"] for f in doc["findings"] if f["code"] == "TKE110")


# --- over a dump: the manifests replace the objects they name ----------------------------------------------

KUBE_PROXY = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "kube-proxy",
                        "image": "ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.20.6-tke.3",
                        "args": ["--proxy-mode=ipvs"],
                    }
                ]
            }
        }
    },
}


def cluster_items() -> list[Obj]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "10.0.1.10"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "10.0.1.11"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
        KUBE_PROXY,
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "nginx"},
            "spec": {"controller": "k8s.io/ingress-nginx"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "shop-tls", "namespace": "shop"},
            "type": "kubernetes.io/tls",
        },
        # Only in the cluster: the Service an Ingress of the manifests points at, with its real port.
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "cart", "namespace": "shop"},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "cart"},
                "ports": [{"name": "http", "port": 8080, "nodePort": 30880}],
            },
        },
        # In the cluster and in the manifests: the manifest's version replaces this one.
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "nodePort": 30080}],
            },
        },
        # A running Pod of the Deployment the manifests redefine (through its ReplicaSet): replaced by the template.
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-5d8f7c9b4-x2x9k",
                "namespace": "shop",
                "labels": {"app": "web"},
                "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d8f7c9b4", "controller": True}],
            },
            "spec": {"containers": [{"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running"},
        },
        # A Service of another namespace: not read, not linted.
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "cart", "namespace": "other"},
            "spec": {"selector": {"app": "none"}, "ports": [{"port": 1}]},
        },
    ]


MANIFEST = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: shop}
spec:
  ingressClassName: qcloud
  defaultBackend: {service: {name: web, port: {number: 80}}}
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /cart, pathType: Prefix, backend: {service: {name: cart, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  annotations: {service.kubernetes.io/qcloud-loadbalancer-internal-subnetid: subnet-8kq2vm3d}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: x, ports: [{name: web-http, containerPort: 8080}]}]
"""


def test_snapshot_lints_against_the_dumps_objects(cli: CLI, tmp_path: Path) -> None:
    manifest = write(tmp_path / "shop.yaml", MANIFEST)
    alone = cli("lint", "-f", manifest, "-o", "json").json()
    assert ("TKE201", "shop") in codes(alone)  # cart is not in the manifests
    snapshot = dump(tmp_path / "dump.yaml", cluster_items())
    doc = cli("lint", "-f", manifest, "--snapshot", snapshot, "-o", "json").json()
    found = codes(doc)
    assert ("TKE201", "shop") not in found
    tke202 = next(f for f in doc["findings"] if f["code"] == "TKE202")
    assert "port 80" in tke202["message"] and "8080" in tke202["message"]  # the dump's real port
    # The manifest's web replaces the dump's (internal LoadBalancer now, so TKE302 against the dump's IPVS
    # kube-proxy), and its template replaces the running Pod, which declared `http`: TKE104 from the template.
    assert ("TKE302", "web") in found and ("TKE104", "web") in found
    assert "deployment/web" in next(f["message"] for f in doc["findings"] if f["code"] == "TKE104")
    # Only the manifests' objects are linted: not the kube-proxy DaemonSet, not the dump's other Services.
    assert {f["kind"] for f in doc["findings"]} <= {"Service", "Ingress"}
    assert all(f["namespace"] == "shop" and f["source"]["file"] == manifest for f in doc["findings"])
    assert doc["source"]["snapshot"] == snapshot and doc["cluster"]["nodes"] == 2
    assert doc["cluster"]["kubeProxy"]["mode"] == "ipvs"
    # TKE205 and TKE209 ran against the dump: the Secret exists, qcloud needs no IngressClass.
    assert "TKE205" not in skipped(doc) and "TKE209" not in skipped(doc)
    assert not {c for c, _n in found} & {"TKE205", "TKE209"}


def test_cluster_checks_with_a_dump(cli: CLI, tmp_path: Path) -> None:
    manifest = write(
        tmp_path / "m.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: tke209\n  namespace: shop\n"
        "  annotations: {kubernetes.io/ingress.subnetId: subnet-8kq2vm3d}\n"
        "spec:\n  ingressClassName: traefik\n  tls: [{hosts: [a.example.com], secretName: gone-tls}]\n"
        "  defaultBackend: {service: {name: cart, port: {number: 8080}}}\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: tke303\n  namespace: shop\n"
        "  annotations: {kubernetes.io/ingress.subnetId: subnet-8kq2vm3d}\n"
        "spec:\n  defaultBackend: {service: {name: cart, port: {number: 8080}}}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: tke304\n  namespace: shop\n"
        "  annotations: {service.kubernetes.io/qcloud-loadbalancer-internal-subnetid: subnet-8kq2vm3d,\n"
        "                service.cloud.tencent.com/prevent-loopback: 'true'}\n"
        "spec: {type: LoadBalancer, selector: {app: cart}, ports: [{port: 80}]}\n",
    )
    doc = cli("lint", "-f", manifest, "--snapshot", dump(tmp_path / "d.yaml", cluster_items()), "-o", "json").json()
    found = codes(doc)
    assert {("TKE209", "tke209"), ("TKE205", "tke209"), ("TKE303", "tke303"), ("TKE304", "tke304")} <= found


def test_replaced_pods() -> None:
    workloads = {Ref("Deployment", "a", "web"), Ref("CronJob", "a", "report"), Ref("StatefulSet", "a", "db")}

    def pod(kind: str, name: str, ns: str = "a") -> Obj:
        return {"metadata": {"namespace": ns, "ownerReferences": [{"kind": kind, "name": name}]}}

    assert lint.replaced_pod(pod("ReplicaSet", "web-5d8f7c9b4"), workloads)
    assert lint.replaced_pod(pod("Job", "report-29012345"), workloads)
    assert lint.replaced_pod(pod("StatefulSet", "db"), workloads)
    assert not lint.replaced_pod(pod("ReplicaSet", "web-5d8f7c9b4", "b"), workloads)
    assert not lint.replaced_pod(pod("ReplicaSet", "webapp-5d8f7c9b4"), workloads)
    assert not lint.replaced_pod(pod("ReplicaSet", "web"), workloads)


# --- errors --------------------------------------------------------------------------------------------


def test_errors_are_one_line_and_exit_2(cli: CLI, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nkind: [\n")
    run = cli("lint", "-f", bad)
    assert run.status == 2 and run.err.startswith(f"error: malformed manifest {bad}: line 6")
    typed = write(
        tmp_path / "typed.yaml", "\n\napiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: x}]}\n"
    )
    run = cli("lint", "-f", typed)
    assert run.status == 2 and f"malformed manifest {typed}:3: Service: spec.ports[0].port is text" in run.err
    template = write(
        tmp_path / "tpl.yaml",
        "kind: Deployment\nmetadata: {name: d}\n"
        "spec: {template: {spec: {containers: [{ports: [{containerPort: '80'}]}]}}}\n",
    )
    run = cli("lint", "-f", template)
    assert run.status == 2 and f"{template}:1: Deployment d: its Pod template: spec.containers[0]" in run.err
    listed = write(tmp_path / "listed.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n- a\n")
    run = cli("lint", "-f", listed)
    assert run.status == 2 and f"malformed manifest {listed}:5: a document: not a Kubernetes object (list)" in run.err
    empty = write(tmp_path / "empty.yaml", "# nothing\n---\n")
    run = cli("lint", "-f", empty)
    assert run.status == 2 and "hold no Kubernetes object" in run.err
    assert cli("lint", "-f", str(tmp_path / "missing.yaml")).status == 2
    assert cli("lint", "-f", GOOD, "--context", "prod").status == 2  # no cluster without --cluster
    assert cli("lint", "-f", GOOD, "--snapshot", GOOD, "--cluster").status == 2
    assert cli("lint").status == 2
    assert cli("lint", "-f", GOOD, "--select", "TKE12").status == 2  # probes only: nothing lint can run
    for run in (cli("lint", "-f", bad), cli("lint", "-f", empty)):
        assert "Traceback" not in run.err and run.err.count("\n") == 1


def test_nothing_to_lint_is_said(cli: CLI, tmp_path: Path) -> None:
    path = write(tmp_path / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    run = cli("lint", "-f", path)
    assert run.status == 0 and "No Services or Ingresses found in the manifests." in run.err
    assert "No problems found" not in run.out


def test_suppression_and_fail_on(cli: CLI, tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations: {tke-net.kubectl.io/ignore: TKE101}\n"
        "spec: {selector: {a: b}, ports: [{port: 80, nodePort: 30001}], type: NodePort}\n",
    )
    doc = cli("lint", "-f", path, "-o", "json").json()
    assert codes(doc) == {("TKE113", "s")} and doc["summary"]["suppressed"] == 1
    assert cli("lint", "-f", path).status == 0
    assert cli("lint", "-f", path, "--fail-on", "info").status == 1
    assert codes(cli("lint", "-f", path, "--no-suppress", "-o", "json").json()) == {("TKE101", "s"), ("TKE113", "s")}


# --- outputs -------------------------------------------------------------------------------------------


def test_goldens(cli: CLI) -> None:
    golden("lint-shop.table", cli("lint", "-f", EXAMPLE, "-n", "shop").out)
    golden("lint-shop.wide", cli("lint", "-f", EXAMPLE, "-n", "shop", "-o", "wide").out)
    golden("lint-shop.json", cli("lint", "-f", EXAMPLE, "-n", "shop", "-o", "json").out)
    golden("lint-shop.sarif", version_free(cli("lint", "-f", EXAMPLE, "-n", "shop", "-o", "sarif").out))
    golden("lint-shop.junit", cli("lint", "-f", EXAMPLE, "-n", "shop", "-o", "junit").out)


def version_free(text: str) -> str:
    return re.sub(r'"(semanticVersion|version)": "\d[^"]*"', r'"\1": "VERSION"', text).replace(
        '"version": "VERSION",\n  "runs"', '"version": "2.1.0",\n  "runs"'
    )


def test_sarif_shape(cli: CLI) -> None:
    doc = json.loads(cli("lint", "-f", BROKEN, "-o", "sarif").out)
    assert doc["version"] == "2.1.0"
    [run] = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert {r["ruleId"] for r in results} >= lint.STATIC
    levels = {r["ruleId"]: r["level"] for r in results}
    assert (levels["TKE104"], levels["TKE116"], levels["TKE105"]) == ("error", "warning", "note")
    for result in results:
        rule = rules[result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        assert rule["helpUri"].endswith(f"/docs/checks/{rule['id']}.md")
        assert "## How to fix it" in rule["help"]["markdown"]
        [location] = result["locations"]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == BROKEN
        assert location["physicalLocation"]["region"]["startLine"] >= 6
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any("TKE107" in n["message"]["text"] for n in notes)


def test_sarif_of_a_live_style_report_uses_the_object(cli: CLI) -> None:
    doc = json.loads(cli("svc", "-A", "--snapshot", str(ROOT / "tests/fixtures/services.yaml"), "-o", "sarif").out)
    result = doc["runs"][0]["results"][0]
    assert "physicalLocation" not in result["locations"][0]
    assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].startswith("Service/")


def test_junit(cli: CLI) -> None:
    root = ET.fromstring(cli("lint", "-f", BROKEN, "-o", "junit").out)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "kubectl tke-net lint"
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    assert cases[("tke-net.lint.TKE104", "Service/lint/tke104-named-port")].find("failure") is not None
    assert cases[("tke-net.lint.TKE107", "LoadBalancer without CLB address")].find("skipped") is not None


def multitool() -> Path:
    """The SARIF Multitool's native executable that `make sarif-deps` installed (npm, pinned)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip(
            "Node.js is not installed: the SARIF Multitool (npm) cannot run; install node and `make sarif-deps`"
        )
    if not SARIF_TOOL.is_dir():
        pytest.fail("the SARIF Multitool is missing: run `make sarif-deps` (npm ci in tools/sarif)")
    found = subprocess.run(
        [node, "-p", "require('@microsoft/sarif-multitool')"],
        cwd=ROOT / "tools" / "sarif",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(found)


def validate(tool: Path, log: Path) -> list[str]:
    """The errors and warnings the Multitool's `validate` finds in a SARIF file (its schema and its rules, the
    GitHub code-scanning ones included)."""
    checked = log.with_suffix(".validation.sarif")
    # The policy turns off SARIF2006, the one rule that makes network requests (to each URI in the file);
    # a proxy on a closed local port keeps anything else from leaving the machine.
    env = {
        **os.environ,
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "DOTNET_CLI_TELEMETRY_OPTOUT": "1",
    }
    policy = str(HERE.parent / "sarif" / "validation.xml")
    command = [str(tool), "validate", str(log), "-o", str(checked), "-c", policy, "--rule-kind", "Sarif;Gh"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert checked.exists(), done.stdout + done.stderr
    report = json.loads(checked.read_text(encoding="utf-8-sig"))
    return [
        f"{r['ruleId']}: {r['message'].get('text') or r['message'].get('arguments')}"
        for run in report["runs"]
        for r in run.get("results", [])
        if r.get("level", "warning") in ("error", "warning")
    ]


def test_the_multitool_finds_a_broken_log(tmp_path: Path) -> None:
    tool = multitool()
    log = tmp_path / "broken.sarif"
    log.write_text(json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [{}]}]}))
    problems = validate(tool, log)
    assert any(p.startswith("SARIF1") or "JSON" in p for p in problems), problems


@pytest.mark.parametrize(
    "args",
    [
        ("lint", "-f", BROKEN),
        ("lint", "-f", EXAMPLE, "-n", "shop"),
        ("lint", "-f", EXAMPLE, "-n", "shop", "--lang", "zh"),
        ("lint", "-f", GOOD),
        ("svc", "-A", "--snapshot", "tests/fixtures/services.yaml"),
    ],
)
def test_sarif_passes_the_multitool(cli: CLI, tmp_path: Path, args: tuple[str, ...]) -> None:
    tool = multitool()
    log = tmp_path / "out.sarif"
    log.write_text(cli(*args, "-o", "sarif").out, encoding="utf-8")
    assert validate(tool, log) == []


def test_readme_shows_a_real_run(cli: CLI) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "$ kubectl tke-net lint -f examples/lint/shop.yaml -n shop\n"
    shown = readme.split(command, 1)[1].split("```", 1)[0]
    assert shown == cli("lint", "-f", EXAMPLE, "-n", "shop").out
    assert "helm template shop ./charts/shop -n shop -f values-prod.yaml | kubectl tke-net lint -f - -n shop" in readme


def test_paths_as_arguments_and_the_pre_commit_hook(cli: CLI) -> None:
    both = cli("lint", GOOD, "-f", EXAMPLE, "-n", "shop", "-o", "json").json()
    assert both["manifests"]["paths"] == [EXAMPLE, GOOD]
    assert cli("lint").status == 2
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "tke-net-lint" and hook["language"] == "python"
    program, command = hook["entry"].split()
    scripts = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'{program} = "' in scripts and command == "lint"  # a console script of the package, then its files


def test_the_workflow_example_lints_the_example(cli: CLI) -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "lint-example.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["tke-net-lint"]["steps"]
    runs = [step.get("run", "") for step in steps]
    assert any("cp examples/lint/shop.yaml rendered.yaml" in r for r in runs)
    assert any("-o sarif" in r for r in runs)
    assert any(str(step.get("uses", "")).startswith("github/codeql-action/upload-sarif@") for step in steps)


def test_sarif_is_refused_where_there_is_no_report(cli: CLI) -> None:
    for command in (["fix", "kube-proxy"], ["dump"]):
        run = cli(*command, "--snapshot", "tests/fixtures/services.yaml", "-o", "sarif")
        assert run.status == 2 and "-o sarif is for svc, ingress, loopback and lint" in run.err


def test_a_kube_proxy_upgrade_manifest_is_judged_over_a_dump(cli: CLI, tmp_path: Path) -> None:
    old = write(tmp_path / "kube-proxy.yaml", yaml.safe_dump(KUBE_PROXY))
    snapshot = dump(tmp_path / "d.yaml", cluster_items()[:2])
    doc = cli("lint", "-f", old, "--snapshot", snapshot, "--select", "TKE3", "-o", "json").json()
    assert codes(doc) == {("TKE301", "kube-proxy")}
    assert doc["findings"][0]["source"] == {"file": old, "line": 1}
    fixed = json.loads(json.dumps(KUBE_PROXY))
    fixed["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.20.6-tke.12"
    )
    new = write(tmp_path / "fixed.yaml", yaml.safe_dump(fixed))
    run = cli("lint", "-f", new, "--snapshot", snapshot, "--select", "TKE3", "-o", "json")
    assert run.status == 0 and run.json()["findings"] == []
