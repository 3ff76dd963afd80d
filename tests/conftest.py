"""The one copy of each test helper: run the plugin (in-process or as the installed executable), write
snapshots and kubeconfigs, read findings from reports, compare golden files."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml

from kubectl_tke_net.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
GOLDEN_DIFF_LINES = 40  # of a failing golden's diff, shown in the failure; the .new file has all of it
KUBECONFIG_TOKEN = "s3cr3t-token-value"  # of `kubeconfig`: never to be seen in any output
PLUGIN = Path(sys.executable).parent / "kubectl-tke_net"  # the executable `make install` puts in .venv/bin


@dataclass(frozen=True)
class Run:
    """What one run of the plugin did: exit status, stdout, stderr, and (as a process) how long it took."""

    status: int
    out: str
    err: str
    seconds: float = 0.0

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def no_cloud_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keys in the environment or a tccli profile in ~ turn the Tencent Cloud checks on (TKE4xx): no test may
    pick up the machine's; the cloud tests set their own."""
    for name in (
        "TENCENTCLOUD_SECRET_ID",
        "TENCENTCLOUD_SECRET_KEY",
        "TENCENTCLOUD_SESSION_TOKEN",
        "TENCENTCLOUD_REGION",
        "TCCLI_PROFILE",
        "TKE_NET_CLOUD_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


class CLI(Protocol):
    """The type of the `cli` fixture."""

    def __call__(self, *args: str) -> Run: ...


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CLI:
    """cli("svc", "-A", ...) runs the plugin in-process and returns its exit status and output."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args: str) -> Run:
        status = main(list(args))
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


def run_plugin(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """The installed executable in a process of its own (env None: this process's environment)."""
    started = time.monotonic()
    done = subprocess.run([str(PLUGIN), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def fixture(name: str) -> str:
    """The path of the scenario fixture tests/fixtures/NAME.yaml."""
    return str(FIXTURES / f"{name}.yaml")


def variant(tmp_path: Path, name: str, change: Callable[[dict[str, Any]], object]) -> str:
    """A copy of the scenario fixture NAME, its List changed in place by `change`, as a snapshot path."""
    doc = yaml.safe_load(Path(fixture(name)).read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / f"{name}-variant.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(path)


def kubeconfig(tmp_path: Path, server: str = "https://127.0.0.1:1") -> Path:
    """tmp_path/config: one context `dev` (namespace shop) on cluster cls-abc123, user u with a bearer token.
    (tests/stubserver.py's Stub.kubeconfig reaches a stub API server.)"""
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "dev",
                "clusters": [{"name": "cls-abc123", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
                "users": [{"name": "u", "user": {"token": KUBECONFIG_TOKEN}}],
                "contexts": [{"name": "dev", "context": {"cluster": "cls-abc123", "user": "u", "namespace": "shop"}}],
            }
        ),
        encoding="utf-8",
    )
    return path


def self_signed(cert: Path, key: Path, subject: str, days: int = 1, san: str | None = None) -> None:
    """Write a self-signed EC certificate for `subject` (a CN, with subjectAltName `san` if given) and its key."""
    extension = ["-addext", f"subjectAltName={san}"] if san else []
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-days", str(days), "-subj", f"/CN={subject}", *extension, "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )


def ref(kind: str, namespace: str | None, name: str) -> str:
    """How the tests name an object: "Kind/ns/name", or "Kind/name" when it has no namespace."""
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def finding_ref(finding: dict[str, Any]) -> str:
    """The object of a finding of a JSON report, named as `ref` names it."""
    return ref(finding["kind"], finding["namespace"], finding["name"])


def found(report: Run | dict[str, Any]) -> set[tuple[str, str]]:
    """{(code, "Kind/ns/name")} of a JSON report (or of the run that printed it)."""
    doc = _report(report)
    return {(f["code"], finding_ref(f)) for f in doc["findings"]}


def finding(report: Run | dict[str, Any], code: str, obj: str) -> dict[str, Any]:
    """The one finding of `code` on `obj` ("Kind/ns/name") in a JSON report."""
    doc = _report(report)
    matches = [f for f in doc["findings"] if (f["code"], finding_ref(f)) == (code, obj)]
    assert len(matches) == 1, f"{code} on {obj}: {matches}"
    return matches[0]  # type: ignore[no-any-return]


def _report(report: Run | dict[str, Any]) -> dict[str, Any]:
    # Not isinstance(report, Run): pytest imports this file as `conftest`, the tests as `tests.conftest`, so the
    # `cli` fixture's Run is another class than the one a test imports.
    return report if isinstance(report, dict) else report.json()


def messages(run: Run) -> dict[tuple[str, str], str]:
    """{(code, object name): message} of a JSON report."""
    return {(f["code"], f["name"]): f["message"] for f in run.json()["findings"]}


def severities(run: Run) -> dict[tuple[str, str], str]:
    """{(code, object name): severity} of a JSON report."""
    return {(f["code"], f["name"]): f["severity"] for f in run.json()["findings"]}


def without_source(doc: dict[str, Any]) -> dict[str, Any]:
    """A report without `source` (context, cluster, snapshot path): what two runs of the same objects share."""
    return {k: v for k, v in doc.items() if k != "source"}


def golden(name: str, text: str) -> None:
    """Compare `text` with tests/golden/NAME. When it differs, write it to tests/golden/NAME.new and fail with
    a short diff: a person reads the diff and accepts the new text with `mv`; nothing rewrites a golden file."""
    path = GOLDEN / name
    new = path.with_name(path.name + ".new")
    expected = path.read_text(encoding="utf-8") if path.exists() else None
    if text == expected:
        new.unlink(missing_ok=True)  # left by an earlier failing run
        return
    new.write_text(text, encoding="utf-8")
    diff = list(
        difflib.unified_diff(
            (expected or "").splitlines(keepends=True), text.splitlines(keepends=True), str(path), str(new)
        )
    )
    shown = "".join(line if line.endswith("\n") else line + "\n" for line in diff[:GOLDEN_DIFF_LINES])
    if len(diff) > GOLDEN_DIFF_LINES:
        shown += f"... and {len(diff) - GOLDEN_DIFF_LINES} more lines: diff {_shown(path)} {_shown(new)}\n"
    what = "differs from" if expected is not None else "has no golden file"
    pytest.fail(
        f"{name} {what} {_shown(path)}; if the new text is right: mv {_shown(new)} {_shown(path)}\n{shown}",
        pytrace=False,
    )


def _shown(path: Path) -> str:
    """A path as the person who ran pytest can paste it: relative to the current folder when under it."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)
