"""Issue 16 / SPEC 9.1-9.2: cluster text is escaped, nothing is called fine that was not looked at, errors point
at the place to fix."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CLI, Run, fixture

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\r\x9b1m"


def _write(tmp_path: Path, items: list[dict[str, Any]], name: str = "cluster.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}), encoding="utf-8")
    return str(path)


def _service(name: str = "web", namespace: str = "app", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 80}], **spec},
    }


def _event(message: str, involved: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{involved}.1", "namespace": "app"},
        "involvedObject": {"kind": "Service", "namespace": "app", "name": involved},
        "type": "Warning",
        "reason": "SyncLoadBalancerFailed",
        "message": message,
        "lastTimestamp": "2026-11-30T10:00:00Z",
    }


# --- cluster text is escaped ------------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["table", "wide", "junit"])
def test_event_escape_sequences_never_reach_the_terminal(cli: CLI, tmp_path: Path, output: str) -> None:
    lb = _service(type="LoadBalancer")
    path = _write(tmp_path, [lb, _event("quota exceeded " + ESCAPES)])
    run: Run = cli("svc", "-n", "app", "--snapshot", path, "-o", output, "-v")
    assert run.status == 1
    for raw in ("\x1b", "\x07", "\r", "\x9b"):
        assert raw not in run.out + run.err
    # (An event's white space, the CR too, is folded into single spaces.)
    assert "quota exceeded ^[]0;owned\\x07^[[2J^[[31mred \\x9b1m" in run.out


def test_names_with_escapes_are_escaped_in_errors_and_fix_diffs(cli: CLI, tmp_path: Path) -> None:
    name = "web\x1b]0;owned\x07"
    path = _write(tmp_path, [_service()])
    run: Run = cli("svc", name, "-n", "app", "--snapshot", path)
    assert run.status == 2 and run.err == 'error: service "web^[]0;owned\\x07" not found in namespace "app"\n'
    internal = _service(name, type="LoadBalancer")
    internal["metadata"]["annotations"] = {"service.kubernetes.io/qcloud-loadbalancer-internal-subnetid": "subnet-1"}
    path = _write(tmp_path, [internal], "fix.yaml")
    run = cli("fix", "prevent-loopback", "-n", "app", "--force", "--snapshot", path)
    assert "\x1b" not in run.out + run.err and "\x07" not in run.out + run.err
    assert "web^[]0;owned\\x07" in run.out


def test_json_and_yaml_carry_the_text_as_it_is(cli: CLI, tmp_path: Path) -> None:
    """Machine formats escape control characters by their own rules, so a script gets the real text back."""
    path = _write(tmp_path, [_service(type="LoadBalancer"), _event("bad " + ESCAPES)])
    for output in ("json", "yaml"):
        run: Run = cli("svc", "-n", "app", "--snapshot", path, "-o", output)
        assert "\x1b" not in run.out
        doc = json.loads(run.out) if output == "json" else yaml.safe_load(run.out)
        assert any(" ".join(ESCAPES.split()) in f["message"] for f in doc["findings"])


# --- no success on nothing (SPEC 9.1) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("svc", "nope", "-n", "app"), 'error: service "nope" not found in namespace "app"\n'),
        (("svc", "nope", "-A"), 'error: service "nope" not found in any namespace\n'),
        (("ingress", "nope", "-n", "app"), 'error: ingress "nope" not found in namespace "app"\n'),
        (
            ("svc", "web", "-n", "app", "-l", "tier=db"),
            'error: service "web" not found in namespace "app" matching -l tier=db\n',
        ),
    ],
)
def test_a_name_that_matches_nothing_is_an_error(cli: CLI, tmp_path: Path, args: tuple[str, ...], line: str) -> None:
    path = _write(tmp_path, [_service()])
    run: Run = cli(*args, "--snapshot", path)
    assert (run.status, run.out, run.err) == (2, "", line)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("svc", "-n", "empty"), 'No Services found in namespace "empty".\n'),
        (("svc", "-n", "app", "-l", "tier=db"), 'No Services found in namespace "app" matching -l tier=db.\n'),
        (("ingress", "-A"), "No Ingresses found in any namespace.\n"),
        (("loopback", "-n", "empty"), 'No Services or Ingresses found in namespace "empty".\n'),
    ],
)
def test_an_empty_scope_is_said_and_never_called_fine(
    cli: CLI, tmp_path: Path, args: tuple[str, ...], line: str
) -> None:
    path = _write(tmp_path, [_service()])
    for output in ("table", "wide"):
        run: Run = cli(*args, "--snapshot", path, "-o", output)
        assert run.status == 0 and run.err == line
        assert "No problems found" not in run.out
    run = cli(*args, "--snapshot", path, "-o", "json")
    assert run.status == 0 and run.err == line
    assert {f["code"] for f in run.json()["findings"]} <= {"TKE305"}  # cluster-wide: no kube-proxy DaemonSet


@pytest.mark.parametrize(
    ("items", "line"),
    [
        ([], "holds no object the checks read (it needs"),
        (
            [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}] * 2,
            "holds no object the checks read, only objects of other kinds: Deployment (2)",
        ),
    ],
)
def test_a_snapshot_without_objects_is_a_usage_error(
    cli: CLI, tmp_path: Path, items: list[dict[str, Any]], line: str
) -> None:
    path = _write(tmp_path, items)
    for command in ("svc", "ingress", "loopback", "dump"):
        run: Run = cli(command, "-A", "--snapshot", path)
        assert run.status == 2 and run.out == "" and line in run.err and run.err.count("\n") == 1
    (tmp_path / "empty.yaml").write_text("")
    assert cli("svc", "--snapshot", str(tmp_path / "empty.yaml")).status == 2


@pytest.mark.parametrize(
    "args",
    [
        ("svc", "--select", "TKE2"),
        ("ingress", "--select", "TKE1"),
        ("loopback", "--ignore", "TKE3"),  # the cloud checks would be left, but they are off
        ("svc", "--select", "TKE12"),  # probe codes without --probe
    ],
)
def test_select_and_ignore_that_leave_nothing_are_usage_errors(cli: CLI, args: tuple[str, ...]) -> None:
    run: Run = cli(*args, "-A", "--snapshot", fixture("services"))
    assert run.status == 2 and run.out == "" and "is left to run after" in run.err


@pytest.mark.parametrize("value", ["99999999999h", "25h", "0.0001s"])
def test_request_timeout_out_of_range(cli: CLI, value: str) -> None:
    run: Run = cli("svc", "--request-timeout", value, "--snapshot", fixture("services"))
    assert run.status == 2 and "out of range" in run.err and "internal error" not in run.err
    assert cli("svc", "-A", "--request-timeout", "24h", "--snapshot", fixture("services")).status == 1


def _loopback_cluster(tmp_path: Path, daemonset: bool, internal: bool) -> str:
    svc = _service(type="LoadBalancer")
    if internal:
        svc["metadata"]["annotations"] = {"service.kubernetes.io/qcloud-loadbalancer-internal-subnetid": "subnet-1"}
    items = [svc, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}]
    if daemonset:
        items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "kube-proxy",
                                    "image": "ccr.ccs.tencentyun.com/tkeimages/kube-proxy:v1.30.0-tke.2",
                                    "args": ["--proxy-mode=ipvs"],
                                }
                            ]
                        }
                    }
                },
            }
        )
    return _write(tmp_path, items)


@pytest.mark.parametrize(
    ("daemonset", "internal", "verdict"),
    [(False, True, "unknown"), (False, False, "not-exposed"), (True, True, "exposed"), (True, False, "not-exposed")],
)
def test_loopback_verdict(cli: CLI, tmp_path: Path, daemonset: bool, internal: bool, verdict: str) -> None:
    path = _loopback_cluster(tmp_path, daemonset, internal)
    doc = cli("loopback", "-A", "--snapshot", path, "-o", "json").json()
    assert doc["loopback"]["verdict"] == verdict and doc["loopback"]["reason"]
    table: Run = cli("loopback", "-A", "--snapshot", path)
    first = table.out.splitlines()[0]
    if verdict == "unknown":
        assert first.startswith("Verdict: UNKNOWN: the kube-proxy mode cannot be known")
        assert "no CLB loopback exposure" not in table.out
    else:
        assert (
            first
            == {
                "exposed": "Verdict: EXPOSED to CLB loopback",
                "not-exposed": "Verdict: no CLB loopback exposure found",
            }[verdict]
        )


# --- errors a person can act on ---------------------------------------------------------------------------


def test_yaml_and_json_parse_errors_name_line_and_column(cli: CLI, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: List\nitems:\n- kind: Service\n  metadata: {name: a\n  bad: [\n")
    run: Run = cli("svc", "--snapshot", str(bad))
    assert (
        run.status == 2
        and run.err == f"error: malformed snapshot {bad}: line 6, column 6: did not find expected ',' or '}}'\n"
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "List",\n "items": [1 2]}')
    run = cli("svc", "--snapshot", str(bad))
    assert run.err == f"error: malformed snapshot {bad}: not valid JSON: line 2, column 14: Expecting ',' delimiter\n"


def test_snapshot_from_stdin(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    text = Path(fixture("services")).read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    piped: Run = cli("svc", "-A", "--snapshot", "-", "-o", "json")
    from_file: Run = cli("svc", "-A", "--snapshot", fixture("services"), "-o", "json")
    assert piped.status == 1 and piped.json()["findings"] == from_file.json()["findings"]


def test_json_keeps_the_whole_event_and_the_table_cuts_it(cli: CLI, tmp_path: Path) -> None:
    long = "CreateLoadBalancer failed: " + "x" * 1000 + " RequestId=end-of-message"
    path = _write(tmp_path, [_service(type="LoadBalancer"), _event(long)])
    doc = cli("svc", "-n", "app", "--snapshot", path, "-o", "json").json()
    [tke107] = [f for f in doc["findings"] if f["code"] == "TKE107"]
    assert tke107["message"].endswith("RequestId=end-of-message")
    assert "RequestId=end-of-message" in cli("svc", "-n", "app", "--snapshot", path, "-o", "wide").out
    table: Run = cli("svc", "-n", "app", "--snapshot", path)
    assert "RequestId=end-of-message" not in table.out and "…" in table.out


def test_the_table_ends_with_a_hint_when_there_are_findings(cli: CLI, tmp_path: Path) -> None:
    run: Run = cli("svc", "-A", "--snapshot", fixture("services"))
    assert (
        run.out.splitlines()[-1] == "hint: -o wide adds the remediation; kubectl tke-net checks TKE101 explains a code"
    )
    wide: Run = cli("svc", "-A", "--snapshot", fixture("services"), "-o", "wide")
    assert wide.out.splitlines()[-1] == "hint: kubectl tke-net checks TKE101 explains a code"
    healthy: Run = cli("svc", "-A", "--snapshot", fixture("healthy"))
    assert "hint:" not in healthy.out and json.dumps(healthy.out)
