"""`trace svc/NAME | ing/NAME` (SPEC 9.7): the path model from the facts and the findings of svc/ingress, the tree
against golden files (en, zh), colour only on a TTY, the Mermaid flowchart through mermaid's own parser (Node.js,
offline), and the HTML page in a real headless Chromium (no console error, no request, every hop drawn)."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import browser
from tests.conftest import CLI, PLUGIN, fixture, golden, variant

DEMO = "examples/demo-cluster.yaml"
ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "tests" / "js"
ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots the browser tests keep (gitignored)
ANSI = "\033["


def trace(cli: CLI, *args: str) -> dict[str, Any]:
    run = cli("trace", *args, "-o", "json")
    assert run.status in (0, 1), run.err
    return run.json()


def hops(doc: dict[str, Any], stage: str | None = None) -> list[dict[str, Any]]:
    return [h for h in doc["trace"]["hops"] if stage is None or h["stage"] == stage]


def codes(hop: dict[str, Any]) -> set[str]:
    return {c["code"] for c in hop["codes"]}


# --- the path model ------------------------------------------------------------------------------------------


def test_service_path_every_stage_in_order_with_loopback_on_the_clb(cli: CLI) -> None:
    doc = trace(cli, "svc/api", "-n", "shop", "--snapshot", DEMO)
    assert doc["apiVersion"] == "tke-net/v1" and doc["kind"] == "Report" and doc["command"] == "trace"
    assert doc["trace"]["target"] == {"kind": "Service", "namespace": "shop", "name": "api"}
    by_id = {h["id"]: h for h in hops(doc)}
    # Follow the first link of each hop from the root: the stages come in the order traffic crosses them.
    stages, hop = [], by_id[doc["trace"]["roots"][0]]
    while True:
        stages.append(hop["stage"])
        if not hop["next"]:
            break
        hop = by_id[hop["next"][0]]
    assert stages == ["clb", "service-port", "node-port", "endpointslices", "pods", "nodes"]
    (clb,) = hops(doc, "clb")
    assert clb["title"] == "CLB 10.0.0.50 (internal)"
    assert clb["loopback"] == "exposed" and codes(clb) == {"TKE302"}
    assert clb["state"] == "ok"  # TKE302 is a warning with 3 Ready nodes: a risk, not a broken hop
    assert len(hops(doc, "service-port")) == 2 and len(hops(doc, "node-port")) == 2
    assert all(codes(h) == {"TKE113"} for h in hops(doc, "node-port"))
    assert len(hops(doc, "endpointslices")) == 1  # both ports lead to the one set of endpoints
    assert doc["trace"]["state"] == "ok"
    # Every finding of `svc api` is on the path; the report is the one `svc api -o json` gives, plus the path.
    svc = cli("svc", "api", "-n", "shop", "--snapshot", DEMO, "-o", "json").json()
    assert doc["findings"] == svc["findings"] and doc["summary"] == svc["summary"]
    touched = {(c["code"]) for h in hops(doc) for c in h["codes"]}
    assert touched == {f["code"] for f in doc["findings"]}


def test_a_public_clb_cannot_loop_back_and_direct_access_skips_the_node_port(cli: CLI) -> None:
    doc = trace(cli, "svc/wallet", "-n", "payments", "--snapshot", DEMO)
    (clb,) = hops(doc, "clb")
    assert clb["loopback"] == "not-exposed" and "loopback: not possible (public CLB)" in clb["details"]
    assert "backends: the Pods directly (direct access)" in clb["details"]
    assert not hops(doc, "node-port")
    (slices,) = hops(doc, "endpointslices")
    (pods,) = hops(doc, "pods")
    assert (slices["state"], codes(slices)) == ("failing", {"TKE102"})
    assert (pods["state"], codes(pods)) == ("failing", {"TKE111"})
    assert doc["trace"]["state"] == "failing"


def test_a_code_about_one_port_touches_that_port_only(cli: CLI) -> None:
    doc = trace(cli, "svc/billing", "-n", "payments", "--snapshot", DEMO)
    ports = {h["title"]: h for h in hops(doc, "service-port")}
    metrics = ports["Service port billing:metrics 9102/TCP -> targetPort metrics-http"]
    http = ports["Service port billing:http 80/TCP -> targetPort http"]
    assert (metrics["state"], codes(metrics)) == ("failing", {"TKE104"})
    assert (http["state"], codes(http)) == ("ok", set())


def test_ingress_rules_carry_the_fault_of_their_backend(cli: CLI) -> None:
    doc = trace(cli, "ing/portal", "-n", "edge", "--snapshot", DEMO)
    (clb,) = hops(doc, "clb")
    assert clb["state"] == "failing" and {"TKE205", "TKE206"} <= codes(clb)
    rules = {h["title"]: h for h in hops(doc, "rule")}
    expected = {
        "rule portal.example.com/ (Prefix) -> portal-web:80": ("ok", set()),
        "rule portal.example.com/v2 (Prefix) -> portal-v2:80": ("failing", {"TKE201"}),
        "rule portal.example.com/secure (Prefix) -> portal-web:https": ("failing", {"TKE202"}),
        "rule portal.example.com/api (Prefix) -> portal-api:8080": ("failing", {"TKE203"}),
        "rule portal.example.com/search (Prefix) -> portal-search:80": ("failing", {"TKE204"}),
    }
    assert {title: (h["state"], codes(h)) for title, h in rules.items()} == expected
    assert rules["rule portal.example.com/v2 (Prefix) -> portal-v2:80"]["next"] == []
    # The Service checks run on the Services behind the rules too: TKE102 on portal-search's endpoints.
    search = [h for h in hops(doc, "endpointslices") if h["object"]["name"] == "portal-search"]
    assert [codes(h) for h in search] == [{"TKE102"}]
    assert ("TKE102", "portal-search") in {(f["code"], f["name"]) for f in doc["findings"]}


def test_duplicate_rules_are_hops_of_their_own_both_touched(cli: CLI) -> None:
    doc = trace(cli, "ing/docs", "-n", "edge", "--snapshot", DEMO)
    rules = [(h["title"], codes(h)) for h in hops(doc, "rule")]
    assert rules == [
        ("rule docs.example.com/ (Prefix) -> docs:80", {"TKE208"}),
        ("rule docs.example.com/api-reference (Prefix) -> docs:80", set()),
        ("rule docs.example.com/ (Prefix) -> docs:http", {"TKE208"}),
    ]
    (clb,) = hops(doc, "clb")
    assert clb["title"] == "Ingress class nginx: 10.0.0.71" and "loopback" not in clb  # not a TKE CLB


def test_internal_ingress_loopback_exposure(cli: CLI) -> None:
    doc = trace(cli, "ing/shop-internal", "-n", "shop", "--snapshot", DEMO)
    (clb,) = hops(doc, "clb")
    assert clb["loopback"] == "exposed" and "TKE303" in codes(clb)
    assert clb["details"][0] == "loopback: EXPOSED (TKE303)"


def test_a_kind_not_read_leaves_its_hop_unknown(cli: CLI, tmp_path: Path) -> None:
    def forbid(doc: dict[str, Any]) -> None:
        doc.setdefault("metadata", {}).setdefault("annotations", {})["tke-net.kubectl.io/unavailable"] = json.dumps(
            {"endpointslices": 'forbidden: User "dev" cannot list resource "endpointslices"'}
        )

    run = cli("trace", "svc/web", "-n", "shop", "--snapshot", variant(tmp_path, "healthy", forbid), "-o", "json")
    doc = run.json()
    (slices,) = hops(doc, "endpointslices")
    assert slices["state"] == "unknown" and "not read" in slices["reason"]
    assert doc["trace"]["state"] == "unknown"
    assert any("TKE102" in s["codes"] for s in doc["skipped"])
    # Left out by --select: the hop is not judged, so it is not ok either.
    doc = trace(cli, "svc/web", "-n", "shop", "--snapshot", fixture("healthy"), "--select", "TKE101")
    (slices,) = hops(doc, "endpointslices")
    assert slices["state"] == "unknown" and slices["reason"] == "EndpointSlices were not read"  # nor listed
    (port,) = hops(doc, "service-port")
    assert port["state"] == "unknown" and port["reason"] == "not checked: TKE104"
    (pods,) = hops(doc, "pods")
    assert pods["state"] == "ok"


def test_probe_times_on_the_hops_that_were_tested(cli: CLI, tmp_path: Path) -> None:
    text = Path("tests/checks/TKE124.yaml").read_text(encoding="utf-8").split("\n---\n", 1)[1]
    snap = tmp_path / "probe.yaml"
    snap.write_text(text, encoding="utf-8")
    run = cli("trace", "svc/web", "-n", "probe", "--snapshot", str(snap), "-o", "json")
    assert run.status == 1
    doc = run.json()
    assert doc["trace"]["probed"] is True
    (clb,) = hops(doc, "clb")
    assert "TKE124" in codes(clb) and clb["state"] == "failing"
    measured = {(m["node"], m["ok"], m["ms"]) for m in clb["measured"]}
    assert measured == {("node-a", False, 2010), ("node-c", True, 3)}
    tree = cli("trace", "svc/web", "-n", "probe", "--snapshot", str(snap)).out
    assert "probe from node-a: CLB 10.0.0.50:80: timeout after 2010 ms" in tree
    assert "probe from node-c: CLB 10.0.0.50:80: 3 ms" in tree


def test_name_that_matches_nothing_and_bad_targets(cli: CLI) -> None:
    run = cli("trace", "svc/nope", "-n", "shop", "--snapshot", DEMO)
    assert (run.status, run.out) == (2, "")
    assert run.err == 'error: service "nope" not found in namespace "shop"\n'
    run = cli("trace", "ing/nope", "-n", "edge", "--snapshot", DEMO)
    assert run.status == 2 and run.err == 'error: ingress "nope" not found in namespace "edge"\n'
    for args in (["pod/x"], ["svc"], ["svc/a/b"], ["svc/api", "-A"], ["svc/api", "-l", "app=api"]):
        run = cli("trace", *args, "--snapshot", DEMO)
        assert run.status == 2 and run.err.startswith("error: ") and run.err.count("\n") == 1, (args, run.err)
    run = cli("trace", "svc/api", "-n", "shop", "--snapshot", DEMO, "-o", "table")
    assert run.status == 2 and "invalid choice" in run.err


def test_an_object_that_cannot_be_read_cannot_be_traced(cli: CLI, tmp_path: Path) -> None:
    def forbid(doc: dict[str, Any]) -> None:
        doc.setdefault("metadata", {}).setdefault("annotations", {})["tke-net.kubectl.io/unavailable"] = json.dumps(
            {"services": 'forbidden: User "dev" cannot list resource "services"'}
        )

    run = cli("trace", "svc/web", "-n", "shop", "--snapshot", variant(tmp_path, "healthy", forbid))
    assert (run.status, run.out) == (3, "")
    assert run.err == 'error: cannot trace Service web: forbidden: User "dev" cannot list resource "services"\n'


def test_exit_status_as_for_svc(cli: CLI) -> None:
    assert cli("trace", "svc/api", "-n", "shop", "--snapshot", DEMO).status == 0
    assert cli("trace", "svc/risk", "-n", "payments", "--snapshot", DEMO).status == 1
    assert cli("trace", "svc/risk", "-n", "payments", "--snapshot", DEMO, "--fail-on", "never").status == 0
    assert cli("trace", "svc/api", "-n", "shop", "--snapshot", DEMO, "--fail-on", "warning").status == 1


def test_services_without_pods_in_the_path(cli: CLI) -> None:
    services = fixture("services")
    doc = trace(cli, "svc/external", "-n", "app", "--snapshot", services)
    assert [(h["stage"], h["title"]) for h in hops(doc)] == [
        ("service-port", "Service external: ExternalName db.example.com")
    ]
    doc = trace(cli, "svc/headless-manual", "-n", "app", "--snapshot", services)
    (slices,) = hops(doc, "endpointslices")
    assert slices["state"] == "failing" and not hops(doc, "pods")  # no selector, no EndpointSlice: nowhere to go
    (port,) = hops(doc, "service-port")
    assert port["details"] == ["headless: no ClusterIP, DNS answers with the endpoints"]


def test_healthy_cluster_path_is_ok_everywhere(cli: CLI) -> None:
    doc = trace(cli, "svc/web", "-n", "shop", "--snapshot", fixture("healthy"))
    assert doc["findings"] == [] and doc["trace"]["state"] == "ok"
    assert {h["state"] for h in hops(doc)} == {"ok"}


# --- tree: golden files, colour ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "namespace", "name"),
    [("svc/api", "shop", "trace-svc-api"), ("ing/portal", "edge", "trace-ing-portal")],
)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_tree_golden(cli: CLI, target: str, namespace: str, name: str, lang: str) -> None:
    run = cli("trace", target, "-n", namespace, "--snapshot", DEMO, "--color", "never", "--lang", lang)
    assert run.status in (0, 1) and run.err == ""
    assert ANSI not in run.out
    golden(f"{name}.{lang}.txt", run.out)


def _on_a_tty(*args: str, env: dict[str, str]) -> str:
    """The installed plugin with its stdout on a pseudo-terminal, as a person runs it."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [str(PLUGIN), *args], stdout=follower, stderr=subprocess.PIPE, env=env, timeout=60, check=False
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other end is closed and everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.returncode == 0, proc.stderr
        return b"".join(chunks).decode()
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)


def test_colour_only_on_a_tty_and_never_with_no_color() -> None:
    args = ("trace", "svc/api", "-n", "shop", "--snapshot", DEMO)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    tty = _on_a_tty(*args, env=env)
    assert "\033[32m[ok]\033[0m" in tty and "\033[33mTKE302\033[0m" in tty
    assert ANSI not in _on_a_tty(*args, env={**env, "NO_COLOR": "1"})
    assert ANSI not in _on_a_tty(*args, "--color", "never", env=env)
    piped = subprocess.run([str(PLUGIN), *args], capture_output=True, text=True, env=env, timeout=60, check=True)
    assert ANSI not in piped.stdout
    forced = subprocess.run(
        [str(PLUGIN), *args, "--color", "always"], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    assert "\033[32m[ok]\033[0m" in forced.stdout


def test_cluster_text_is_escaped_in_the_tree(cli: CLI, tmp_path: Path) -> None:
    def hostile(doc: dict[str, Any]) -> None:
        for item in doc["items"]:
            if item["kind"] == "Pod":
                item["spec"]["nodeName"] = "node\x1b]0;pwned\x07"

    run = cli("trace", "svc/web", "-n", "shop", "--snapshot", variant(tmp_path, "healthy", hostile))
    assert "\x1b" not in run.out and "\x07" not in run.out and "node^[]0;pwned\\x07" in run.out


# --- mermaid: the real parser --------------------------------------------------------------------------------


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "mermaid").is_dir():
        pytest.fail("the Mermaid parser is not installed: make js-deps (Node.js and npm ci in tests/js)")
    return node


def parse_mermaid(text: str) -> dict[str, Any]:
    done = subprocess.run(
        [_node(), str(JS / "mermaid-parse.mjs")], input=text, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _weird_ingress(doc: dict[str, Any]) -> None:
    """An Ingress whose path holds every character that means something to Mermaid, HTML or Markdown."""
    doc["items"].append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "odd", "namespace": "shop"},
            "spec": {
                "rules": [
                    {
                        "host": "odd.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": '/a"b#c<d>&e;f|g`h[i]{j}\\k<script>x</script>#35;',
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        }
    )


@pytest.mark.parametrize(
    "args",
    [
        ("svc/api", "-n", "shop"),
        ("ing/portal", "-n", "edge"),
        ("ing/shop-internal", "-n", "shop"),
        ("svc/billing", "-n", "payments"),
        ("ing/portal", "-n", "edge", "--lang", "zh"),
    ],
)
def test_mermaid_parses_with_mermaid(cli: CLI, args: tuple[str, ...]) -> None:
    text = cli("trace", *args, "--snapshot", DEMO, "-o", "mermaid").out
    doc = trace(cli, *args, "--snapshot", DEMO)
    parsed = parse_mermaid(text)
    assert parsed["ok"], parsed
    assert parsed["diagramType"] == "flowchart-v2"
    assert set(parsed["nodes"]) == {h["id"] for h in hops(doc)}
    assert sorted(map(tuple, parsed["edges"])) == sorted((h["id"], n) for h in hops(doc) for n in h["next"])
    for hop in hops(doc):
        assert hop["title"] in parsed["nodes"][hop["id"]]


def test_mermaid_labels_escaped(cli: CLI, tmp_path: Path) -> None:
    snap = variant(tmp_path, "healthy", _weird_ingress)
    text = cli("trace", "ing/odd", "-n", "shop", "--snapshot", snap, "-o", "mermaid").out
    assert "<script>" not in text
    parsed = parse_mermaid(text)
    assert parsed["ok"], parsed
    raw = '/a"b#c<d>&e;f|g`h[i]{j}\\k<script>x</script>#35;'
    assert any(raw in label for label in parsed["nodes"].values()), parsed["nodes"]
    # The parser refuses what we would write unescaped: the test's parser is strict enough to catch it.
    assert not parse_mermaid('flowchart TD\n  h1["' + raw + '"]\n')["ok"]


# --- html: a real browser ------------------------------------------------------------------------------------


def _browser() -> None:
    if browser.executable() is None:
        pytest.fail("no headless Chromium: make browser-deps (Debian's chromium-headless-shell)")


DRAWN = """(() => {
  const hops = [...document.querySelectorAll('svg.path g.hop')].map(g => {
    const box = g.querySelector('rect').getBBox();
    return {id: g.dataset.hop, state: g.dataset.state, width: box.width, height: box.height,
            text: [...g.querySelectorAll('text')].map(t => t.textContent),
            full: g.querySelector('title').textContent};
  });
  const links = [...document.querySelectorAll('svg.path path.link')].map(p => [p.dataset.from, p.dataset.to]);
  const findings = [...document.querySelectorAll('tr.finding')].map(r => r.dataset.code);
  return {hops, links, findings, scripts: document.querySelectorAll('script').length,
          title: document.title, external: [...document.querySelectorAll('[src],link[href]')].length};
})()"""


@pytest.mark.parametrize(
    ("args", "shot", "width"),
    [
        (("ing/portal", "-n", "edge"), "trace-ing-portal.png", 1800),  # docs/trace-portal.png is this one
        (("svc/api", "-n", "shop"), "trace-svc-api.png", 1400),
        (("svc/wallet", "-n", "payments", "--lang", "zh"), "trace-svc-wallet.zh.png", 1400),
    ],
)
def test_html_in_a_real_browser(cli: CLI, tmp_path: Path, args: tuple[str, ...], shot: str, width: int) -> None:
    _browser()
    run = cli("trace", *args, "--snapshot", DEMO, "-o", "html")
    assert run.status in (0, 1) and run.err == ""
    page_file = tmp_path / "trace.html"
    page_file.write_text(run.out, encoding="utf-8")
    doc = trace(cli, *args, "--snapshot", DEMO)
    page = browser.load(page_file, DRAWN, ARTIFACTS / shot, width=width)
    assert page.errors == [], page.errors
    assert page.requests == [page_file.resolve().as_uri()]  # nothing but the file itself: works offline
    drawn = page.value
    assert drawn["scripts"] == 0 and drawn["external"] == 0
    assert [(h["id"], h["state"]) for h in drawn["hops"]] == [(h["id"], h["state"]) for h in hops(doc)]
    assert all(h["width"] > 100 and h["height"] > 20 for h in drawn["hops"])
    for hop in drawn["hops"]:
        title = next(h["title"] for h in hops(doc) if h["id"] == hop["id"])
        assert hop["text"][0] == title or hop["text"][0].endswith("…")
    assert sorted(map(tuple, drawn["links"])) == sorted((h["id"], n) for h in hops(doc) for n in h["next"])
    assert drawn["findings"] == [f["code"] for f in doc["findings"]]
    assert (ARTIFACTS / shot).stat().st_size > 10_000


def test_html_escapes_cluster_text(cli: CLI, tmp_path: Path) -> None:
    _browser()
    snap = variant(tmp_path, "healthy", _weird_ingress)
    run = cli("trace", "ing/odd", "-n", "shop", "--snapshot", snap, "-o", "html")
    page_file = tmp_path / "odd.html"
    page_file.write_text(run.out, encoding="utf-8")
    page = browser.load(page_file, DRAWN)
    assert page.errors == [] and page.value["scripts"] == 0
    raw = '/a"b#c<d>&e;f|g`h[i]{j}\\k<script>x</script>#35;'
    assert any(raw in h["full"] for h in page.value["hops"])  # shown as text (the box's tooltip), never run


def test_demo_is_documented_with_a_real_trace() -> None:
    """The README shows the tree of the demo as the plugin prints it, and the HTML page's screenshot."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    done = subprocess.run(
        [str(PLUGIN), "trace", "ing/portal", "-n", "edge", "--snapshot", DEMO, "--color", "never"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "LANG": "C.UTF-8"},
    )
    tree = done.stdout.split("\n\n", 1)[0]
    assert tree in readme
    assert (ROOT / "docs" / "trace-portal.png").stat().st_size > 10_000
    assert "docs/trace-portal.png" in readme


# --- what it holds (SPEC 9.2) --------------------------------------------------------------------------------


def _demo_targets() -> list[tuple[str, str]]:
    import yaml

    doc = yaml.safe_load(Path(ROOT / DEMO).read_text(encoding="utf-8"))
    kinds = {"Service": "svc", "Ingress": "ing"}
    return [
        (f"{kinds[o['kind']]}/{o['metadata']['name']}", o["metadata"]["namespace"])
        for o in doc["items"]
        if o["kind"] in kinds and o["metadata"]["namespace"] != "default"
    ]


def test_the_path_reads_no_field_the_projection_drops(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Service and Ingress of the demo gives the same trace from whole objects as from the fields
    shape.SHAPES declares: the path model reads only what the checks keep."""
    from kubectl_tke_net import kinds

    targets = _demo_targets()
    assert len(targets) > 20
    projected = [cli("trace", t, "-n", ns, "--snapshot", DEMO, "-o", "json").out for t, ns in targets]
    monkeypatch.setattr(kinds, "PROJECT", False)
    whole = [cli("trace", t, "-n", ns, "--snapshot", DEMO, "-o", "json").out for t, ns in targets]
    for (target, ns), a, b in zip(targets, projected, whole, strict=True):
        assert json.loads(a) == json.loads(b), (target, ns)


@pytest.mark.parametrize("output", ["tree", "json", "mermaid", "html"])
def test_no_secret_env_or_unread_configmap_value_in_any_trace(cli: CLI, tmp_path: Path, output: str) -> None:
    from tests.test_held import CM_VALUE, ENV_VALUE, SECRET_VALUE, _leaky

    snap = str(_leaky(tmp_path))
    for target in ("svc/web", "ing/web"):
        run = cli("trace", target, "-n", "app", "--snapshot", snap, "-o", output)
        assert run.status in (0, 1) and run.out, run.err
        for value in (SECRET_VALUE, ENV_VALUE, CM_VALUE, "aHVudGVyMg=="):
            assert value not in run.out, (target, output, value)


# --- the browser harness and mermaid's own renderer -------------------------------------------------------------


def test_the_browser_harness_sees_errors_and_requests(tmp_path: Path) -> None:
    """What the HTML tests assert is absent is seen when present: a console error, an exception, a request."""
    _browser()
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><script>console.error('boom'); throw new Error('bad');</script>"
        '<img src="missing.png"></body></html>',
        encoding="utf-8",
    )
    page = browser.load(bad, "document.querySelectorAll('script').length")
    assert page.value == 1
    assert "console.error: boom" in page.errors
    assert any(e.startswith("exception: ") and "bad" in e for e in page.errors)
    assert page.requests == [bad.resolve().as_uri(), (tmp_path / "missing.png").resolve().as_uri()]
    assert any("ERR_FILE_NOT_FOUND" in e for e in page.errors)  # the failed load is an error too
    with pytest.raises(RuntimeError, match="ERR_FILE_NOT_FOUND"):
        browser.load(tmp_path / "missing.html", "1")


MERMAID_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><script src="{script}"></script></head>
<body><div id="out"></div><script>
mermaid.initialize({{startOnLoad: false, securityLevel: "strict"}});
window.rendered = mermaid.render("trace", {text}).then(
  r => {{ document.getElementById("out").innerHTML = r.svg; return "ok"; }},
  e => {{ console.error(String(e)); return String(e); }});
</script></body></html>"""


def test_mermaid_renders_in_a_real_browser(cli: CLI, tmp_path: Path) -> None:
    """GitHub draws ```mermaid blocks with mermaid in the browser: the same package draws every hop here."""
    _browser()
    _node()
    args = ("ing/portal", "-n", "edge", "--snapshot", DEMO)
    text = cli("trace", *args, "-o", "mermaid").out
    page_file = tmp_path / "mermaid.html"
    script = (JS / "node_modules" / "mermaid" / "dist" / "mermaid.min.js").as_uri()
    page_file.write_text(MERMAID_PAGE.format(script=script, text=json.dumps(text)), encoding="utf-8")
    page = browser.load(
        page_file,
        "(async () => [await window.rendered, [...document.querySelectorAll('#out svg g.node')].map(g => g.id)])()",
        ARTIFACTS / "trace-ing-portal.mermaid.png",
        width=1800,
    )
    assert page.errors == [], page.errors
    status, nodes = page.value
    assert status == "ok"
    ids = [h["id"] for h in hops(trace(cli, *args))]
    assert len(nodes) == len(ids) and all(any(n.endswith(f"-{i}-{k}") for n in nodes) for k, i in enumerate(ids))
