"""A big run's checks judged in two processes (catalog._side_by_side): the same reports as in one process, the
second process really judging its half, and its checks judged here whenever it fails."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from kubectl_tke_net.checks import catalog
from kubectl_tke_net.checks.registry import CHECKS
from kubectl_tke_net.sources import files, fork
from tests.conftest import CLI, FIXTURES, fixture

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = [*sorted(FIXTURES.glob("*.yaml")), ROOT / "examples" / "demo-cluster.yaml"]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2, reason="a fork needs Linux and two CPUs"
)


@pytest.fixture(autouse=True)
def _alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's earlier tests may leave threads behind (a stub API server's): a fork copies none of them, and
    what it runs here never touches them, so this process counts as running no other thread."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert fork.may_fork()


def _forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The forks made from now on (counted in this process, before each fork)."""
    made: list[int] = []
    real = os.fork

    def fork() -> int:
        made.append(1)
        return real()

    monkeypatch.setattr(os, "fork", fork)
    return made


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_gives_the_same_report_judged_side_by_side(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, path: Path
) -> None:
    serial = {}
    monkeypatch.setattr(catalog, "SIDE_BY_SIDE_AT", 10**12)
    for command in ("svc", "ingress", "loopback"):
        serial[command] = cli(command, "-A", "--snapshot", str(path), "--fail-on", "never", "-o", "json")
    monkeypatch.setattr(catalog, "SIDE_BY_SIDE_AT", 0)
    forks = _forks(monkeypatch)
    for command, alone in serial.items():
        run = cli(command, "-A", "--snapshot", str(path), "--fail-on", "never", "-o", "json")
        assert (run.status, run.out, run.err) == (alone.status, alone.out, alone.err)
    assert forks, "no run was judged side by side: the comparison proves nothing"


def _recording(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, code: str, in_child: Any = None) -> Path:
    """Check `code` writes the pid of the process that judges it to a file (then, in the second process only,
    does `in_child`)."""
    log = tmp_path / f"{code}.pids"
    parent = os.getpid()
    chk = CHECKS[code]
    real = chk.func

    def judged(ctx: Any) -> Any:
        with log.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        if in_child is not None and os.getpid() != parent:
            in_child(ctx)
        return real(ctx)

    monkeypatch.setitem(CHECKS, code, type(chk)(**{**chk.__dict__, "func": judged}))
    return log


def _side_of(code: str, command: str, snapshot: str, cli: CLI, monkeypatch: pytest.MonkeyPatch) -> int:
    """The side (0: this process, 1: the second) that `code` is judged on in this run."""
    sides: list[list[str]] = []
    real = catalog._side_by_side

    def spy(ctx: Any, checks: list[Any], mine: list[int], theirs: list[int]) -> Any:
        sides.extend([[checks[i].code for i in mine], [checks[i].code for i in theirs]])
        return real(ctx, checks, mine, theirs)

    monkeypatch.setattr(catalog, "_side_by_side", spy)
    cli(command, "-A", "--snapshot", snapshot, "--fail-on", "never", "-o", "json")
    monkeypatch.setattr(catalog, "_side_by_side", real)
    assert sides, "the run was not judged side by side"
    return 0 if code in sides[0] else 1


def _theirs(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> str:
    """A check of the demo cluster's svc run that the second process judges."""
    monkeypatch.setattr(catalog, "SIDE_BY_SIDE_AT", 0)
    demo = str(ROOT / "examples" / "demo-cluster.yaml")
    for code in ("TKE102", "TKE103", "TKE104", "TKE105", "TKE106", "TKE107", "TKE108", "TKE109"):
        if _side_of(code, "svc", demo, cli, monkeypatch) == 1:
            return code
    raise AssertionError("none of TKE102-TKE109 is judged by the second process")


def test_the_second_process_judges_its_half(cli: CLI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code = _theirs(cli, monkeypatch)
    log = _recording(monkeypatch, tmp_path, code)
    demo = str(ROOT / "examples" / "demo-cluster.yaml")
    run = cli("svc", "-A", "--snapshot", demo, "--fail-on", "never", "-o", "json")
    assert run.status == 0, run.err
    pids = log.read_text().split()
    assert len(pids) == 1 and int(pids[0]) != os.getpid(), pids  # judged once, over there


def _fails_over_there(ctx: Any) -> None:
    raise RuntimeError("the second process breaks")


def _reads_over_there(ctx: Any) -> None:
    ctx.snap.list("tkeserviceconfigs")  # a kind the svc checks never read: a cluster's is not read over there


@pytest.mark.parametrize("failure", [_fails_over_there, _reads_over_there], ids=["exception", "read"])
def test_the_checks_of_a_second_process_that_fails_are_judged_here(
    cli: CLI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failure: Any
) -> None:
    demo = str(ROOT / "examples" / "demo-cluster.yaml")
    if failure is _reads_over_there:  # as a cluster's source: a file's holds every kind already, and may be read
        monkeypatch.setattr(files.FileSource, "in_memory", False)
    monkeypatch.setattr(catalog, "SIDE_BY_SIDE_AT", 10**12)
    alone = cli("svc", "-A", "--snapshot", demo, "--fail-on", "never", "-o", "json")
    code = _theirs(cli, monkeypatch)
    log = _recording(monkeypatch, tmp_path, code, in_child=failure)
    run = cli("svc", "-A", "--snapshot", demo, "--fail-on", "never", "-o", "json")
    assert (run.status, run.out, run.err) == (alone.status, alone.out, alone.err)
    pids = [int(p) for p in log.read_text().split()]
    assert len(pids) == 2 and pids[0] != os.getpid() and pids[1] == os.getpid(), pids  # tried there, then here


def test_a_small_run_is_judged_in_one_process(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    forks = _forks(monkeypatch)
    run = cli("svc", "-A", "--snapshot", fixture("healthy"), "-o", "json")
    assert run.status == 0, run.err
    assert not forks
