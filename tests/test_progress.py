"""The progress line of a long read: on stderr only, drawn in place on a terminal, every few seconds with -v."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubectl_tke_net import render
from kubectl_tke_net.sources import files
from tests.conftest import CLI, Run, fixture


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_one_line_is_drawn_in_place_and_cleared(capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    shown = render.Progress(terminal=True, verbose=False, clock=clock)
    shown.page("pods", 500, 1)  # at once: nothing yet (a quick run shows nothing)
    clock.now += 0.5
    shown.page("services", 500, 1)
    clock.now += 1.0
    shown.page("pods", 500, 2)
    shown.end()
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "\r\x1b[Ktke-net: read pods 1 page, services 1 page: 1,000 objects in 0.5s"
        "\r\x1b[Ktke-net: read pods 2 pages, services 1 page: 1,500 objects in 1.5s"
        "\r\x1b[K"
    )


def test_elsewhere_with_v_a_line_every_few_seconds_and_one_at_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    shown = render.Progress(terminal=False, verbose=True, clock=clock)
    for n in range(1, 13):
        clock.now += 1.0
        shown.page("pods", 500, n)
    shown.end()
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "tke-net: read pods 5 pages: 2,500 objects in 5.0s",
        "tke-net: read pods 10 pages: 5,000 objects in 10.0s",
        "tke-net: read pods 12 pages: 6,000 objects in 12.0s",
    ]


def test_a_log_line_clears_the_progress_line_first(capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    render._Shown.progress = shown = render.Progress(terminal=True, verbose=True, clock=clock)
    try:
        clock.now += 1
        shown.page("pods", 500, 1)
        render.progress(repeats=True)("GET /api/v1/pods -> 200")
    finally:
        render.end_progress()
    err = capsys.readouterr().err
    assert "objects in 1.0s\r\x1b[Ktke-net: GET /api/v1/pods -> 200\n" in err


def test_nothing_without_a_terminal_or_v(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert render.start_progress(False) is None


def test_a_snapshot_read_with_v_says_how_far_it_got_on_stderr_only(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(files, "_PER_PAGE", 2)
    dump: Run = cli("dump", "-A", "--snapshot", fixture("services"))
    path = tmp_path / "dump.json"
    path.write_text(dump.out)
    run: Run = cli("svc", "-A", "--snapshot", str(path), "-o", "json", "-v", "--fail-on", "never")
    assert run.status == 0, run.err
    items = len(json.loads(dump.out)["items"])
    pages = (items + 1) // 2
    assert f"tke-net: read dump.json {pages} pages: {items} objects in " in run.err
    assert json.loads(run.out)["kind"] == "Report"
