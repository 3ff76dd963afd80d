"""Shared helpers: run the CLI in-process and read findings from fixture clusters."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from kubectl_tke_net.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
GOLDEN_DIFF_LINES = 40  # of a failing golden's diff, shown in the failure; the .new file has all of it


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str

    def json(self) -> dict:  # type: ignore[type-arg]
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


def fixture(name: str) -> str:
    return str(FIXTURES / f"{name}.yaml")


def ref(kind: str, namespace: str | None, name: str) -> str:
    """How the tests name an object: "Kind/ns/name", or "Kind/name" when it has no namespace."""
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def finding_ref(finding: dict[str, Any]) -> str:
    """The object of a finding of a JSON report, named as `ref` names it."""
    return ref(finding["kind"], finding["namespace"], finding["name"])


def found(run: Run) -> set[tuple[str, str]]:
    """{(code, "Kind/ns/name")} of a JSON report."""
    return {(f["code"], finding_ref(f)) for f in run.json()["findings"]}


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
