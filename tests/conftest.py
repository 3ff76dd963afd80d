"""Shared helpers: run the CLI in-process and read findings from fixture clusters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubectl_tke_net.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str

    def json(self) -> dict:  # type: ignore[type-arg]
        return json.loads(self.out)  # type: ignore[no-any-return]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
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


def found(run: Run) -> set[tuple[str, str]]:
    """{(code, "Kind/ns/name")} of a JSON report."""
    doc = run.json()
    return {
        (f["code"], f"{f['kind']}/{f['namespace']}/{f['name']}" if f["namespace"] else f"{f['kind']}/{f['name']}")
        for f in doc["findings"]
    }
