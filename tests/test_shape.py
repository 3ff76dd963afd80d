"""Hand-edited snapshot files: YAML-only values made plain, and the first field of the wrong type named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from kubectl_tke_net import shape
from tests.conftest import CLI


def test_plain_turns_yaml_values_into_json_ones_and_drops_nulls() -> None:
    doc = yaml.safe_load("""
kind: Service
metadata:
  name: web
  creationTimestamp: 2024-05-01T10:00:00Z
  labels: {80: web, true: x, app: null}
  annotations: {note: !!binary aGk=}
spec:
  ports: [null, {port: 80, nodePort: null}]
  sets: !!set {b, a}
  day: 2024-05-01
""")
    assert shape.plain(doc) == {
        "kind": "Service",
        "metadata": {
            "name": "web",
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "labels": {"80": "web", "true": "x", "app": ""},
            "annotations": {"note": "aGk="},
        },
        "spec": {"ports": [{"port": 80}], "sets": ["a", "b"], "day": "2024-05-01"},
    }
    assert shape.plain({"t": dt.datetime(2024, 5, 1, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))}) == {
        "t": "2024-05-01T10:00:00Z"
    }


def test_plain_refuses_what_nests_too_deeply() -> None:
    deep: list[object] = []
    for _ in range(shape.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(shape.TooDeep):
        shape.plain({"spec": deep})


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ({"kind": "Service", "metadata": ["web"]}, "metadata is a list, not a mapping"),
        ({"kind": "Service", "metadata": {}}, "metadata.name is missing"),
        ({"kind": "Service", "metadata": {"name": 5}}, "metadata.name is a number (5), not text"),
        (
            {
                "kind": "Service",
                "metadata": {"name": "web", "annotations": {"service.cloud.tencent.com/prevent-loopback": True}},
            },
            "metadata.annotations['service.cloud.tencent.com/prevent-loopback'] is a boolean (true), "
            "not text (quote it)",
        ),
        (
            {"kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": "80"}]}},
            "spec.ports[0].port is text, not a whole number",
        ),
        (
            {"kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": True}]}},
            "spec.ports[0].port is a boolean (true), not a whole number",
        ),
        (
            {"kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"targetPort": [1]}]}},
            "spec.ports[0].targetPort is a list, not a whole number or text",
        ),
        (
            {"kind": "Pod", "metadata": {"name": "p"}, "status": {"conditions": {"type": "Ready"}}},
            "status.conditions is a mapping, not a list",
        ),
        ({"kind": "Ingress", "metadata": {"name": "i"}, "status": "pending"}, "status is text, not a mapping"),
        (
            {"kind": "ConfigMap", "metadata": {"name": "coredns"}, "data": {"Corefile": 1.5}},
            "data['Corefile'] is a number (1.5), not text (quote it)",
        ),
    ],
)
def test_problem_names_the_first_field_of_the_wrong_type(obj: dict[str, object], problem: str) -> None:
    assert shape.problem(obj) == problem


def test_a_custom_resource_may_hold_anything() -> None:
    assert shape.problem({"kind": "TkeServiceConfig", "metadata": {"name": "c"}, "spec": [1, {"a": None}]}) is None


def test_the_snapshot_error_names_file_object_and_field(cli: CLI, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "kind: List\napiVersion: v1\nitems:\n- kind: Service\n  apiVersion: v1\n  metadata:\n"
        "    name: web\n    namespace: app\n"
        "    annotations: {service.cloud.tencent.com/prevent-loopback: true}\n"
    )
    run = cli("svc", "-A", "--snapshot", str(path))
    assert (run.status, run.out) == (2, "")
    assert run.err == (
        f"error: malformed snapshot {path}: Service app/web: metadata.annotations"
        "['service.cloud.tencent.com/prevent-loopback'] is a boolean (true), not text (quote it)\n"
    )


def test_yaml_aliases_within_reason_are_read(cli: CLI, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "kind: List\napiVersion: v1\nitems:\n"
        "- {kind: Service, apiVersion: v1, metadata: {name: a, namespace: app},\n"
        "   spec: &s {type: NodePort, ports: [{port: 80, nodePort: 30080}]}}\n"
        "- {kind: Service, apiVersion: v1, metadata: {name: b, namespace: app}, spec: *s}\n"
    )
    run = cli("svc", "-A", "--snapshot", str(path), "-o", "json", "--select", "TKE113")
    assert run.status == 0, run.err
    assert {f["name"] for f in run.json()["findings"]} == {"a", "b"}
