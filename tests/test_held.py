"""SPEC 9.2: only the fields the checks read are kept, printed or dumped; never a Secret's data in any form."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_tke_net import decode, kinds, shape
from kubectl_tke_net.sources import files
from tests.conftest import CLI, FIXTURES, Run, fixture

ROOT = Path(__file__).parent.parent
SCENARIOS = [*sorted(FIXTURES.glob("*.yaml")), ROOT / "examples" / "demo-cluster.yaml"]
SECRET_VALUE = "hunter2-s3cr3t-value"
ENV_VALUE = "postgres://admin:p4ssw0rd@db:5432"
CM_VALUE = "an-unread-configmap-value"
OUTPUTS = ("table", "wide", "json", "yaml", "junit")


@pytest.fixture(autouse=True)
def typed_at_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scenarios are small, below decode.TYPED_AT: here the typed decoders read them all the same, so that
    every comparison below is between the two paths (tests/test_startup.py checks the threshold itself)."""
    monkeypatch.setattr(decode, "TYPED_AT", 0)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
@pytest.mark.parametrize("command", ["svc", "ingress", "loopback"])
def test_the_checks_read_no_field_the_projection_drops(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, path: Path, command: str
) -> None:
    """Every scenario gives the same report from whole objects as from the declared fields (shape.SHAPES): a
    check that reads an undeclared field fails here."""
    projected: Run = cli(command, "-A", "--snapshot", str(path), "-o", "json", "--fail-on", "never")
    monkeypatch.setattr(kinds, "PROJECT", False)
    whole: Run = cli(command, "-A", "--snapshot", str(path), "-o", "json", "--fail-on", "never")
    assert projected.status == whole.status == 0, projected.err + whole.err
    assert projected.json() == whole.json()


GATEWAY_SCENARIOS = [
    ROOT / "examples" / "gateway-cluster.yaml",
    *sorted((ROOT / "tests" / "checks").glob("TKE5*.yaml")),
]


@pytest.mark.parametrize("path", GATEWAY_SCENARIOS, ids=lambda p: p.stem)
def test_the_gateway_checks_read_no_field_the_projection_drops(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, path: Path
) -> None:
    projected: Run = cli("gateway", "-A", "--snapshot", str(path), "-o", "json", "--fail-on", "never")
    monkeypatch.setattr(kinds, "PROJECT", False)
    whole: Run = cli("gateway", "-A", "--snapshot", str(path), "-o", "json", "--fail-on", "never")
    assert projected.status == whole.status == 0, projected.err + whole.err
    assert projected.json()["findings"], "a gateway scenario with nothing to find proves nothing here"
    assert projected.json() == whole.json()


def _leaky(tmp_path: Path) -> Path:
    """A cluster whose objects carry what must never come out: Secret data (also in last-applied), env values,
    a kube-system ConfigMap no check reads, and an unread key of one that is read."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls-web", "namespace": "app", "labels": {"app": "web"}},
        "type": "kubernetes.io/tls",
        "data": {"tls.key": "aHVudGVyMg=="},
        "stringData": {"password": SECRET_VALUE},
    }
    secret["metadata"]["annotations"] = {  # type: ignore[index]
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(secret),
        "tke-net.kubectl.io/ignore": "TKE205",
        "note": SECRET_VALUE,
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1",
            "namespace": "app",
            "labels": {"app": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": ENV_VALUE},
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx",
                    "env": [{"name": "DATABASE_URL", "value": ENV_VALUE}],
                    "envFrom": [{"secretRef": {"name": "tls-web"}}],
                    "ports": [{"containerPort": 80}],
                }
            ]
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"selector": {"app": "nope"}, "ports": [{"port": 80, "targetPort": 80}]},
    }
    configmaps = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "app-settings", "namespace": "kube-system"},
            "data": {"token": CM_VALUE},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": ".:53 {\n    forward . /etc/resolv.conf\n}\n", "extra": CM_VALUE},
        },
    ]
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {
            "tls": [{"secretName": "tls-web"}],
            "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
        },
    }
    path = tmp_path / "leaky.yaml"
    items = [secret, pod, service, ingress, *configmaps]
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("command", ["svc", "ingress", "loopback"])
def test_no_secret_env_or_unread_configmap_value_in_any_output(
    cli: CLI, tmp_path: Path, command: str, output: str
) -> None:
    path = _leaky(tmp_path)
    run: Run = cli(command, "-A", "--snapshot", str(path), "-o", output, "-v", "--fail-on", "never")
    for value in (SECRET_VALUE, ENV_VALUE, CM_VALUE, "aHVudGVyMg=="):
        assert value not in run.out + run.err


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_dump_keeps_only_the_declared_fields(cli: CLI, tmp_path: Path, output: str) -> None:
    path = _leaky(tmp_path)
    run: Run = cli("dump", "-A", "--snapshot", str(path), "-o", output, "-v")
    assert run.status == 0, run.err
    for value in (SECRET_VALUE, ENV_VALUE, CM_VALUE, "aHVudGVyMg==", "last-applied", "stringData", "envFrom"):
        assert value not in run.out
    items = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load(run.out)["items"]}
    assert items[("Secret", "tls-web")] == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls-web", "namespace": "app", "annotations": {"tke-net.kubectl.io/ignore": "TKE205"}},
        "type": "kubernetes.io/tls",
    }
    assert items[("ConfigMap", "coredns")]["data"] == {"Corefile": ".:53 {\n    forward . /etc/resolv.conf\n}\n"}
    assert ("ConfigMap", "app-settings") not in items
    # A Pod keeps its containers' names and ports only: the image is read of DaemonSet templates, not of Pods.
    assert items[("Pod", "web-1")]["spec"]["containers"] == [{"name": "web", "ports": [{"containerPort": 80}]}]


def test_the_kube_proxy_config_map_is_kept_with_its_config_key_only(cli: CLI) -> None:
    """The ConfigMap kube-proxy's --config comes from is read for the mode: kept, but only that key."""
    run: Run = cli("dump", "-A", "--snapshot", fixture("loopback"))
    assert run.status == 0, run.err
    maps = {o["metadata"]["name"]: o.get("data") for o in json.loads(run.out)["items"] if o["kind"] == "ConfigMap"}
    assert set(maps) <= {"coredns", "tke-service-controller-config", "kube-proxy", "kube-proxy-config"}


def test_tke_net_facts_items_are_kept_and_dumped(cli: CLI, tmp_path: Path) -> None:
    """tke-net/v1 items (cloud facts, probe results) travel with a snapshot: read from a file, written by dump."""
    fact = {"apiVersion": "tke-net/v1", "kind": "ProbeResult", "metadata": {"name": "web"}, "observations": []}
    path = tmp_path / "facts.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [fact]}))
    run: Run = cli("dump", "-A", "--snapshot", str(path))
    assert run.status == 0, run.err
    assert json.loads(run.out)["items"] == [fact]


def _as_json_list(path: Path) -> dict[str, Any]:
    """A scenario as one JSON List (as `kubectl get -o json` or `dump` write it), YAML-only values made JSON."""
    items: list[Any] = []
    for parsed in yaml.safe_load_all(path.read_text()):
        doc = shape.plain(parsed)
        if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            items.extend(doc["items"])
            meta = doc.get("metadata")
        elif doc is not None:
            items.append(doc)
            meta = None
    out: dict[str, Any] = {"apiVersion": "v1", "items": items, "kind": "List"}
    if meta:
        out["metadata"] = meta
    return out


@pytest.mark.parametrize("layout", ["pretty-stream", "compact-whole"])
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_the_typed_decoder_reads_every_scenario_as_json_loads_and_clean_do(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: Path, layout: str
) -> None:
    """Every scenario, as a JSON snapshot, gives the same reports and the same dump through the typed decoders
    (decode.py, generated from shape.SHAPES) as through json.loads + kinds.clean, read as a stream of blocks
    (pretty-printed, as kubectl writes it) and in one go (compact)."""
    doc = _as_json_list(path)
    snapshot = tmp_path / "snapshot.json"
    if layout == "pretty-stream":
        snapshot.write_text(json.dumps(doc, indent=4))
        monkeypatch.setattr(files, "WHOLE_AT", 0)
        monkeypatch.setattr(files, "_BLOCK", 256)  # many blocks, items cut across them
    else:
        snapshot.write_text(json.dumps(doc, separators=(",", ":")))
    typed: list[str] = []
    real_typed = decode.typed

    def counting(kind: kinds.Kind, raw: Any) -> Any:
        obj = real_typed(kind, raw)
        if obj is not None:
            typed.append(kind.kind)
        return obj

    monkeypatch.setattr(decode, "typed", counting)
    blocks: list[int] = []
    real_batch = files._batch

    def batch(buf: bytes, stop: int, pages: int, file: Path, source: files.FileSource, *, end: bytes) -> None:
        blocks.append(pages)
        real_batch(buf, stop, pages, file, source, end=end)

    monkeypatch.setattr(files, "_batch", batch)
    reports = {}
    for command in ("svc", "ingress", "loopback", "dump"):
        args = [command, "-A", "--snapshot", str(snapshot)] + ([] if command == "dump" else ["--fail-on", "never"])
        reports[command] = cli(*args, "-o", "json")
    assert typed, "the typed decoder read nothing: the comparison below would prove nothing"
    assert (len(set(blocks)) > 1) == (layout == "pretty-stream")  # read as a stream of blocks, or whole
    monkeypatch.setattr(decode, "TYPED", False)
    for command, fast in reports.items():
        args = [command, "-A", "--snapshot", str(snapshot)] + ([] if command == "dump" else ["--fail-on", "never"])
        plain = cli(*args, "-o", "json")
        assert fast.status == plain.status == 0, fast.err + plain.err
        assert fast.err == plain.err
        assert fast.out == plain.out  # the same findings; for dump, the same objects, fields in the same order


@pytest.mark.parametrize("path", SCENARIOS + sorted((ROOT / "tests" / "checks").glob("*.yaml")), ids=lambda p: p.stem)
def test_list_pages_decode_as_json_loads_and_clean_do(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Every object of every scenario and check fixture (so every kind and field of shape.SHAPES that a check
    reads), served as a LIST page of its kind (items without kind and apiVersion, as the API server sends them),
    decodes to what json.loads + kinds.clean make of it."""
    by_kind: dict[str, list[Any]] = {}
    for item in _as_json_list(path)["items"]:
        kind = kinds.BY_KIND.get(str(item.get("kind")))
        if kind is not None:
            by_kind.setdefault(kind.name, []).append({k: v for k, v in item.items() if k not in ("kind", "apiVersion")})
    assert by_kind
    for name, items in by_kind.items():
        body = json.dumps({"kind": "List", "metadata": {"continue": "t1"}, "items": items}).encode()
        decoder = decode.page(kinds.KINDS[name])
        fast = decoder(body)
        monkeypatch.setattr(decode, "TYPED", False)
        plain = decoder(body)
        monkeypatch.setattr(decode, "TYPED", True)
        assert fast["metadata"] == plain["metadata"] == {"continue": "t1"}
        assert json.dumps(fast["items"]) == json.dumps(plain["items"]), name  # equal, and in the same order


def _pod(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"nodeName": "10.0.0.1", "containers": [{"name": "web", "ports": [{"containerPort": 80}]}]},
        "status": {
            "phase": "Running",
            "podIP": f"172.16.0.{len(name)}",
            "conditions": [{"type": "Ready", "status": "True"}],
        },
        **extra,
    }


@pytest.mark.parametrize("layout", ["stream", "whole"])
def test_items_written_as_kubectl_writes_them_are_read_without_decoding_their_heads(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, layout: str
) -> None:
    """The kind is read from an item's first bytes (apiVersion, then kind: the API server's and kubectl's order),
    not by decoding the whole item once more for it; an item that puts its fields otherwise is still read."""
    if layout == "stream":
        monkeypatch.setattr(files, "WHOLE_AT", 0)
        monkeypatch.setattr(files, "_BLOCK", 256)
    monkeypatch.setattr(decode, "TYPED_AT", 0)
    heads: list[Any] = []
    real_head = decode.head

    def head(raw: Any) -> Any:
        heads.append(raw)
        return real_head(raw)

    monkeypatch.setattr(decode, "head", head)
    odd = {
        "kind": "Pod",
        "apiVersion": "v1",
        **{k: v for k, v in _pod("odd").items() if k not in ("kind", "apiVersion")},
    }
    path = tmp_path / "pods.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [_pod("a"), _pod("b"), odd]}, indent=4))
    run: Run = cli("dump", "-A", "--snapshot", str(path), "-o", "json")
    assert run.status == 0, run.err
    assert [o["metadata"]["name"] for o in json.loads(run.out)["items"]] == ["a", "b", "odd"]
    assert len(heads) == 1  # the odd one only


@pytest.mark.parametrize("layout", ["stream", "whole"])
def test_an_item_that_names_a_second_kind_is_read_as_json_reads_it(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, layout: str
) -> None:
    """JSON's last "kind" counts (json.loads, msgspec, Go): an item whose first bytes say Pod and which says
    Service further on is a Service, as the standard reading makes it."""
    if layout == "stream":
        monkeypatch.setattr(files, "WHOLE_AT", 0)
        monkeypatch.setattr(files, "_BLOCK", 256)
    monkeypatch.setattr(decode, "TYPED_AT", 0)
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": [_pod("a"), _pod("b")]}, indent=4)
    at = text.rindex('\n            "status": {') + 13  # the second Pod's own status
    path = tmp_path / "two-kinds.json"
    path.write_text(text[:at] + '"kind": "Service",\n            ' + text[at:])
    fast = cli("dump", "-A", "--snapshot", str(path), "-o", "json")
    monkeypatch.setattr(decode, "TYPED", False)
    plain = cli("dump", "-A", "--snapshot", str(path), "-o", "json")
    assert fast.status == plain.status == 0, fast.err + plain.err
    assert fast.out == plain.out
    assert sorted(o["kind"] for o in json.loads(fast.out)["items"]) == ["Pod", "Service"]


def test_an_item_indented_otherwise_is_not_cut_where_it_seems_to_end(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Items are cut where a closing brace stands at the items' indentation before a comma; one whose insides
    stand there too (indented by hand) cannot be decoded in pieces, and the file is read the standard way."""
    monkeypatch.setattr(files, "WHOLE_AT", 0)
    monkeypatch.setattr(files, "_BLOCK", 256)
    monkeypatch.setattr(decode, "TYPED_AT", 0)
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": [_pod("a"), _pod("b"), _pod("c")]}, indent=4)
    flat = text.replace('\n            },\n            "spec"', '\n        },\n            "spec"', 1)
    assert flat != text
    path = tmp_path / "hand.json"
    path.write_text(flat)
    fast = cli("dump", "-A", "--snapshot", str(path), "-o", "json")
    assert fast.status == 0, fast.err
    assert [o["metadata"]["name"] for o in json.loads(fast.out)["items"]] == ["a", "b", "c"]
    monkeypatch.setattr(decode, "TYPED", False)
    assert cli("dump", "-A", "--snapshot", str(path), "-o", "json").out == fast.out


def test_a_page_ends_while_another_thread_makes_a_kinds_sharer(monkeypatch: pytest.MonkeyPatch) -> None:
    """forget() at the end of one list's page while another list's first page makes its kind's sharer (lists are
    read side by side): a live N=10,000 run ended once in "dictionary changed size during iteration"."""

    class Meanwhile(dict[tuple[Any, ...], Any]):
        def clear(self) -> None:
            super().clear()
            decode._SHARED_PARTS.setdefault("NewKind", {})  # what decode._sharer does for a kind's first page

    monkeypatch.setattr(decode, "_SHARED_PARTS", {"Pod": Meanwhile({("k",): 1}), "Node": {("k",): 2}})
    decode.forget()
    assert decode._SHARED_PARTS["Pod"] == {} and decode._SHARED_PARTS["Node"] == {}
    assert "NewKind" in decode._SHARED_PARTS


def test_text_that_objects_repeat_is_held_once() -> None:
    """Equal short text of the objects of one page is one string (memory: README "Performance"); the fields no
    two objects share are not looked up for it, and an ANY subtree is shared as a whole walk."""
    waiting = [{"name": "web", "ready": False, "state": {"waiting": {"reason": "ContainerCreating"}}}]
    pods = [_pod(n) for n in ("a", "bb")]
    for pod in pods:
        pod["status"]["containerStatuses"] = waiting
    body = json.dumps({"kind": "PodList", "metadata": {}, "items": pods}).encode()
    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as patch:
        patch.setattr(decode, "TYPED_AT", 0)
        a, b = decode.page(kinds.BY_KIND["Pod"])(body)["items"]
    assert a["metadata"]["namespace"] is b["metadata"]["namespace"]
    assert a["metadata"]["labels"]["app"] is b["metadata"]["labels"]["app"]
    assert a["spec"]["nodeName"] is b["spec"]["nodeName"]
    assert a["spec"]["containers"][0]["name"] is b["spec"]["containers"][0]["name"]
    assert a["status"]["conditions"][0]["status"] is b["status"]["conditions"][0]["status"]
    # Pods are never written (decode._READ_ONLY): their equal flat parts are one dict.
    assert a["status"]["conditions"][0] is b["status"]["conditions"][0]
    assert a["spec"]["containers"][0]["ports"][0] is b["spec"]["containers"][0]["ports"][0]
    assert a["status"]["containerStatuses"][0] is b["status"]["containerStatuses"][0]  # a part made of parts
    assert a["status"]["containerStatuses"] is b["status"]["containerStatuses"]
    # A Pod keeps no volume or mount (shape._POD_OWN_SPEC), so its containers are equal to its siblings': shared.
    assert a["spec"]["containers"] is b["spec"]["containers"]
    assert a["spec"]["containers"][0]["ports"] is b["spec"]["containers"][0]["ports"]
    # Not a spec: in a real cluster it names the Pod's node, rarely its sibling's (decode._PER_POD_PARTS).
    assert a["spec"] is not b["spec"]
    assert a["status"] is not b["status"]  # not where it holds what no two Pods share (its address)
    assert a["metadata"]["labels"] is b["metadata"]["labels"]
    assert a["status"]["conditions"] is b["status"]["conditions"]  # and a list of such parts
    assert a == {**b, "metadata": {**b["metadata"], "name": "a"}, "status": {**b["status"], "podIP": "172.16.0.1"}}
    config = {
        "metadata": {"name": "c", "namespace": "shop"},
        "spec": {"loadBalancer": {"l7Listeners": [{"protocol": "HTTP"}]}},
    }
    port = {"name": "http", "port": 80, "protocol": "TCP"}
    services = [{"metadata": {"name": n, "namespace": "shop"}, "spec": {"ports": [dict(port)]}} for n in "ab"]
    body = json.dumps({"kind": "ServiceList", "metadata": {}, "items": services}).encode()
    with monkeypatch.context() as patch:
        patch.setattr(decode, "TYPED_AT", 0)
        x, y = decode.page(kinds.BY_KIND["Service"])(body)["items"]
    # A fix may write a Service: its parts are its own, only their text is shared.
    assert x["spec"]["ports"][0] == y["spec"]["ports"][0] and x["spec"]["ports"][0] is not y["spec"]["ports"][0]
    assert x["spec"]["ports"][0]["protocol"] is y["spec"]["ports"][0]["protocol"]
    body = json.dumps(
        {"kind": "List", "metadata": {}, "items": [config, {**config, "metadata": {"name": "d"}}]}
    ).encode()
    with monkeypatch.context() as patch:
        patch.setattr(decode, "TYPED_AT", 0)
        c, d = decode.page(kinds.BY_KIND["TkeServiceConfig"])(body)["items"]
    assert (
        c["spec"]["loadBalancer"]["l7Listeners"][0]["protocol"]
        is d["spec"]["loadBalancer"]["l7Listeners"][0]["protocol"]
    )


@pytest.mark.parametrize("output", ["yaml", "json"])
def test_a_dump_writes_shared_parts_out_in_full(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, output: str
) -> None:
    """Equal parts of Pods are one object in memory; a dump writes each in full (no YAML anchors or aliases),
    exactly as the standard reading's dump of the same file."""
    monkeypatch.setattr(decode, "TYPED_AT", 0)
    path = tmp_path / "pods.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [_pod("a"), _pod("b")]}, indent=4))
    fast = cli("dump", "-A", "--snapshot", str(path), "-o", output)
    monkeypatch.setattr(decode, "TYPED", False)
    plain = cli("dump", "-A", "--snapshot", str(path), "-o", output)
    assert fast.status == plain.status == 0, fast.err + plain.err
    assert fast.out == plain.out
    assert "&id" not in fast.out and "*id" not in fast.out
    assert fast.out.count("Ready") == 2  # each Pod's condition, written out


def test_parts_that_differ_anywhere_inside_are_not_shared() -> None:
    """A part made of parts is found by its parts' identities: a Pod whose container differs from another's only
    in a port deep inside keeps its own container, spec and ports, each with its own value."""
    pods = [_pod(n) for n in ("a", "b", "c")]
    pods[1]["spec"]["containers"][0]["ports"][0]["containerPort"] = 81
    pods[2]["spec"]["containers"][0]["ports"].append({"containerPort": 80})
    body = json.dumps({"kind": "PodList", "metadata": {}, "items": pods}).encode()
    with pytest.MonkeyPatch().context() as patch:
        patch.setattr(decode, "TYPED_AT", 0)
        a, b, c = decode.page(kinds.BY_KIND["Pod"])(body)["items"]
    assert a["spec"] is not b["spec"] and a["spec"] is not c["spec"] and b["spec"] is not c["spec"]
    assert [p["containerPort"] for p in a["spec"]["containers"][0]["ports"]] == [80]
    assert [p["containerPort"] for p in b["spec"]["containers"][0]["ports"]] == [81]
    assert [p["containerPort"] for p in c["spec"]["containers"][0]["ports"]] == [80, 80]
    assert a["spec"]["containers"][0]["ports"][0] is c["spec"]["containers"][0]["ports"][1]  # equal flat parts
    assert [o["spec"] for o in (a, b, c)] == [kinds.clean(kinds.BY_KIND["Pod"], p)["spec"] for p in pods]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_no_command_changes_an_object_whose_equal_parts_are_shared(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: Path
) -> None:
    """Equal flat parts of Pods, Nodes and EndpointSlices are one dict (decode._READ_ONLY): that holds only while
    nothing writes to them. Every command a scenario can be run through, checks, trace and fix plans, leaves
    every such object exactly as it was read."""
    doc = _as_json_list(path)
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps(doc, indent=4))
    monkeypatch.setattr(decode, "TYPED_AT", 0)
    read: list[tuple[Any, Any]] = []
    real_finish = decode.finish

    def finish(kind: kinds.Kind, obj: Any) -> Any:
        out = real_finish(kind, obj)
        if kind.kind in decode._READ_ONLY:
            read.append((out, copy.deepcopy(out)))
        return out

    monkeypatch.setattr(decode, "finish", finish)
    services = [o for o in doc["items"] if o.get("kind") == "Service" and o.get("metadata", {}).get("namespace")]
    runs = [["svc", "-A"], ["ingress", "-A"], ["gateway", "-A"], ["loopback", "-A"], ["fix", "prevent-loopback", "-A"]]
    runs += [["fix", "kube-proxy"], ["fix", "ingress-keepalive", "-A"]]
    runs += [["trace", f"svc/{s['metadata']['name']}", "-n", s["metadata"]["namespace"]] for s in services[:3]]
    runs += [["lint", str(ROOT / "examples" / "lint")]]
    for args in runs:
        cli(*args, "--snapshot", str(snapshot), "-o", "json")
    if not any(o.get("kind") in decode._READ_ONLY for o in doc["items"]):
        pytest.skip("no Pod, Node or EndpointSlice in this scenario")
    assert read, "nothing was read through the typed decoders: the comparison below would prove nothing"
    for now, then in read:
        assert now == then


def test_what_the_typed_decoder_refuses_is_read_and_refused_as_before(cli: CLI, tmp_path: Path) -> None:
    """A null, a number where text is declared, no name: the object is read the standard way, with its message."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a", "labels": {"x": None}}}
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "a", "labels": {"x": 5}}}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [pod]}, indent=2))
    run: Run = cli("dump", "-A", "--snapshot", str(path))
    assert run.status == 0, run.err
    assert json.loads(run.out)["items"][0]["metadata"]["labels"] == {"x": ""}  # Go reads a null string as ""
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [pod, bad]}, indent=2))
    run = cli("svc", "-A", "--snapshot", str(path))
    assert run.status == 2
    assert "Service a/s: metadata.labels['x'] is a number (5), not text (quote it)" in run.err


@pytest.mark.parametrize("layout", ["stream", "whole"])
def test_a_snapshot_that_is_not_valid_json_further_on_is_refused_as_before(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, layout: str
) -> None:
    if layout == "stream":
        monkeypatch.setattr(files, "WHOLE_AT", 0)
        monkeypatch.setattr(files, "_BLOCK", 64)
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "a"}, "spec": {}}
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": [svc] * 20}, indent=2)
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) * 3 // 4])
    run: Run = cli("svc", "-A", "--snapshot", str(path))
    assert run.status == 2 and "not valid JSON: line" in run.err, run.err
    path.write_bytes(text.replace('"s"', '"\xff"', 1).encode("latin-1"))
    run = cli("svc", "-A", "--snapshot", str(path))
    assert run.status == 2 and "cannot read snapshot" in run.err and "utf-8" in run.err, run.err
