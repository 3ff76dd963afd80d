"""Start-up: each command imports only what it needs (STYLE.md: heavy imports after parsing, for the command or
format that needs them). Asserted on the modules a real process has loaded when it ends, never on timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubectl_tke_net import decode
from tests.conftest import fixture

# Run as the plugin runs (its entry point, a process of its own); the modules it loaded, as JSON, on stderr.
PROBE = """
import contextlib, io, json, sys
from kubectl_tke_net.entry import main
try:
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(sys.argv[1:])
except SystemExit as exc:  # --help
    status = exc.code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

# Third-party packages and modules of the plugin that no command needs at start-up.
LIBRARIES = ("msgspec", "yaml", "tabulate", "wcwidth", "urllib3", "prometheus_client", "packaging", "tencentcloud")
REACHING = ("ssl", "kubectl_tke_net.sources.cluster", "kubectl_tke_net.sources.kubeconfig", "kubectl_tke_net.decode")
REPORTING = ("kubectl_tke_net.policyreport", "kubectl_tke_net.metrics", "kubectl_tke_net.fleet")
TRACING = ("kubectl_tke_net.trace", "kubectl_tke_net.render_trace")
DIAGNOSING = ("kubectl_tke_net.checks", "kubectl_tke_net.facts", "kubectl_tke_net.snapshot", "kubectl_tke_net.render")


def loaded(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=False)
    assert done.stderr.strip(), (args, done.stdout)
    out = json.loads(done.stderr.strip().splitlines()[-1])
    assert out["status"] in (0, 1), (args, done.stderr)
    return set(out["modules"])


def heavy(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The modules (or packages, with their submodules) of `names` among `modules`."""
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.fixture(scope="module")
def small_json(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A scenario as a JSON snapshot (`dump`'s format), far below decode.TYPED_AT."""
    path = tmp_path_factory.mktemp("startup") / "services.json"
    path.write_text(json.dumps(yaml.safe_load(Path(fixture("services")).read_text(encoding="utf-8"))))
    assert path.stat().st_size < decode.TYPED_AT
    return str(path)


@pytest.mark.parametrize("args", [["version"], ["version", "--lang", "zh"], ["--help"], ["svc", "--help"]])
def test_version_and_help_import_no_library_and_no_diagnosis(args: list[str]) -> None:
    modules = loaded(*args)
    assert heavy(modules, LIBRARIES + REACHING + REPORTING + TRACING + DIAGNOSING) == []
    assert "kubectl_tke_net.cli" in modules  # the probe sees what the run loaded


@pytest.mark.parametrize("args", [["version"], ["version", "--lang", "zh"], ["--help"], ["svc", "--help"]])
def test_version_and_help_import_no_dataclasses(args: list[str]) -> None:
    """dataclasses imports inspect (ast, dis, tokenize): about 10 of the 45 ms `version` took with it. model.py
    (Output, the errors) and cli.py hold no dataclass; findings.py (Ref, Finding, Skip) is loaded by the checks."""
    assert heavy(loaded(*args), ("dataclasses", "inspect", "kubectl_tke_net.findings")) == []


def test_a_diagnosis_loads_dataclasses(small_json: str) -> None:
    """The other side: a run that checks something builds its findings from findings.py's dataclasses."""
    modules = loaded("svc", "-A", "--snapshot", small_json, "--fail-on", "never")
    assert {"dataclasses", "kubectl_tke_net.findings"} <= modules


def test_version_builds_no_other_command() -> None:
    """`version` parses with its own flags only: not even the fix actions are imported for the fix parser."""
    assert "kubectl_tke_net.fix" not in loaded("version")
    assert "kubectl_tke_net.fix" in loaded("--help")  # every command's flags are built for the help


def test_checks_imports_the_catalogue_and_no_reading_or_decoding() -> None:
    modules = loaded("checks")
    assert "kubectl_tke_net.checks.catalog" in modules and "tabulate" in modules  # it prints the catalogue
    assert heavy(modules, ("msgspec", "yaml", "urllib3", "prometheus_client", *REACHING, *REPORTING, *TRACING)) == []


def test_a_small_json_snapshot_is_read_without_msgspec_or_yaml(small_json: str) -> None:
    modules = loaded("svc", "-A", "--snapshot", small_json, "--fail-on", "never")
    assert "kubectl_tke_net.checks.service" in modules  # the checks ran
    assert "tabulate" in modules  # it has findings to lay out
    assert heavy(modules, ("msgspec", "yaml", "urllib3", "ssl", "prometheus_client", *REPORTING, *TRACING)) == []


def test_the_format_and_the_size_that_need_a_library_import_it(small_json: str, tmp_path: Path) -> None:
    """The other side of the tests above: each library comes in when the run needs it, so they can fail."""
    assert "yaml" in loaded("svc", "-A", "--snapshot", small_json, "-o", "yaml", "--fail-on", "never")
    prometheus = loaded("svc", "-A", "--snapshot", small_json, "-o", "prometheus", "--fail-on", "never")
    assert "prometheus_client" in prometheus and "kubectl_tke_net.metrics" in prometheus
    doc = json.loads(Path(small_json).read_text(encoding="utf-8"))
    big = tmp_path / "big.json"
    # The same objects, padded to the threshold with objects of a kind the checks do not read.
    filler = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "x" * 1000}}
    doc["items"] += [filler] * (decode.TYPED_AT // 1000 + 1)
    big.write_text(json.dumps(doc))
    assert "msgspec" in loaded("svc", "-A", "--snapshot", str(big), "--fail-on", "never")


def test_a_list_page_below_the_threshold_is_read_without_msgspec() -> None:
    """LIST pages: a small one through json.loads + kinds.clean, a large one through the typed decoders; the
    same objects either way (tests/test_held.py compares the two paths on every scenario)."""
    code = """
import json, sys
from kubectl_tke_net import decode, kinds
item = {"metadata": {"name": "web", "namespace": "shop", "managedFields": [{"manager": "m" * 100}]}, "spec": {}}
n = int(sys.argv[1])
body = json.dumps({"kind": "ServiceList", "metadata": {}, "items": [item] * n}).encode()
doc = decode.page(kinds.BY_KIND["Service"])(body)
assert len(doc["items"]) == n and "managedFields" not in doc["items"][0]["metadata"]
print(len(body) >= decode.TYPED_AT, "msgspec" in sys.modules)
"""
    for n, expected in ((3, "False False"), (decode.TYPED_AT // 150 + 1, "True True")):
        done = subprocess.run([sys.executable, "-c", code, str(n)], capture_output=True, text=True, check=False)
        assert done.stdout.split() == expected.split(), (n, done.stdout, done.stderr)


def test_once_msgspec_is_loaded_a_medium_page_is_typed_too() -> None:
    """After a body of decode.TYPED_AT or more, a page of decode.TYPED_AFTER or more takes the typed decoders
    (their import is paid); below TYPED_AFTER, and before any large body, the standard library."""
    code = """
import json, sys
from kubectl_tke_net import decode, kinds
def page(kind, size):
    item = {"metadata": {"name": "x", "namespace": "shop", "annotations": {"a": "b" * 1000}}}
    return json.dumps({"kind": "List", "metadata": {}, "items": [item] * (size // 1000 + 1)}).encode()
def typed_kinds():
    return decode._decoder.cache_info().currsize
decode.page(kinds.BY_KIND["Pod"])(page("Pod", decode.TYPED_AFTER))
print(typed_kinds(), end=" ")
decode.page(kinds.BY_KIND["Service"])(page("Service", decode.TYPED_AT))
decode.page(kinds.BY_KIND["Pod"])(page("Pod", decode.TYPED_AFTER // 2))
print(typed_kinds(), end=" ")
decode.page(kinds.BY_KIND["Pod"])(page("Pod", decode.TYPED_AFTER))
print(typed_kinds())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.split() == ["0", "1", "2"], (done.stdout, done.stderr)
