"""The check catalogue: which checks a run takes (--select, --ignore, the command) and the runner that turns
their hits into findings, suppressions and skips."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from kubectl_tke_net import i18n
from kubectl_tke_net.checks.registry import CHECKS, Check, Hit, NotJudged, docs_url
from kubectl_tke_net.facts import Context
from kubectl_tke_net.findings import Finding, Ref, Skip
from kubectl_tke_net.k8s import annotations_of, meta, ref
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Unavailable, UsageError
from kubectl_tke_net.tke import IGNORE_ANNOTATION

__all__ = ["CHECKS", "Check", "Result", "docs_url", "load_all", "parse_codes", "run", "selected"]


def load_all() -> None:
    """Import the modules that register checks."""
    from kubectl_tke_net.checks import (  # noqa: F401
        annotations,
        cloud,
        cluster,
        gateway,
        ingress,
        loopback,
        probe,
        service,
        supernode,
    )


_CODE = re.compile(r"TKE\d{1,3}")


def parse_codes(text: str, flag: str) -> tuple[str, ...]:
    """Comma-separated codes or prefixes (`TKE3`); an unknown one is a usage error."""
    load_all()
    codes = tuple(c.strip().upper() for c in text.split(",") if c.strip())
    for code in codes:
        if not _CODE.fullmatch(code) or not any(known.startswith(code) for known in CHECKS):
            raise UsageError(
                i18n._("{flag}: unknown check code {code} (see `kubectl tke-net checks`)").format(
                    flag=flag, code=repr(code)
                )
            )
    return codes


def _matches(code: str, patterns: Iterable[str]) -> bool:
    return any(code.startswith(p) for p in patterns)


def selected(command: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> list[Check]:
    load_all()
    return [
        c
        for code, c in sorted(CHECKS.items())
        if command in c.commands and (not select or _matches(code, select)) and not _matches(code, ignore)
    ]


@dataclass(frozen=True)
class Result:
    findings: list[Finding]
    skipped: list[Skip]
    suppressed: int


def _ignored_codes(obj_annotations: dict[str, str]) -> tuple[str, ...]:
    value = obj_annotations.get(IGNORE_ANNOTATION, "")
    return tuple(c.strip().upper() for c in value.split(",") if c.strip())


def _may_suppress(objs: list[Obj], refs: set[Ref]) -> dict[Ref, Obj]:
    """The object of each of these refs that carries the ignore annotation, as `{ref(o): o for o in objs}` would
    map it (the last one listed of a ref wins); the others cannot suppress anything. Only the annotated objects,
    and those named as they are, are given a Ref: not every Pod of a big snapshot."""
    annotated = []
    for obj in objs:
        notes = meta(obj).get("annotations")
        if isinstance(notes, dict) and IGNORE_ANNOTATION in notes:
            annotated.append(obj)
    wanted = {r for o in annotated if (r := ref(o)) in refs}
    if not wanted:
        return {}
    names = {r.name for r in wanted}
    found: dict[Ref, Obj] = {}
    for obj in objs:
        if (meta(obj).get("name") or "") in names and (r := ref(obj)) in wanted:
            found[r] = obj
    return found


def run(ctx: Context, checks: list[Check], suppress: bool = True) -> Result:
    findings: list[Finding] = []
    skipped: dict[str, list[str]] = {}
    for chk, judged in zip(checks, _judge_all(ctx, checks), strict=True):
        if isinstance(judged, str):  # a kind it needs cannot be read
            skipped.setdefault(judged, []).append(chk.code)
            continue
        hits = [hit for hit in judged if isinstance(hit, Hit)]
        for part in dict.fromkeys(r.reason for r in judged if isinstance(r, NotJudged)):
            skipped.setdefault(part, []).append(chk.code)
        findings.extend(
            Finding(chk.code, hit.severity or chk.severity, hit.ref, hit.message, hit.remediation, docs_url(chk.code))
            for hit in hits
        )
    suppressed = 0
    if suppress:
        objects = _may_suppress(ctx.snap.annotated(IGNORE_ANNOTATION), {f.ref for f in findings})
        kept = []
        for finding in findings:
            obj = objects.get(finding.ref)
            if obj is not None and _matches(finding.code, _ignored_codes(annotations_of(obj))):
                suppressed += 1
            else:
                kept.append(finding)
        findings = kept
    findings.sort(key=Finding.sort_key)
    skips = [Skip(tuple(codes), reason) for reason, codes in skipped.items()]
    return Result(findings, skips, suppressed)


# --- judging ----------------------------------------------------------------------------------------------

# What one check gave: its hits and parts not judged, or the reason it could not run (a kind it needs cannot be
# read).
_Judged = list[Hit | NotJudged] | str


def _judge(ctx: Context, chk: Check) -> _Judged:
    try:
        for name in chk.kinds(ctx.command):
            ctx.snap.list(name)
        return list(chk.func(ctx))
    except Unavailable as exc:
        return exc.reason


# A big run's checks are judged in two processes, on Linux: once the last page is read the API server has
# nothing left to do, and one core would sit idle while a single interpreter works through every check (N=10,000
# Services: 1.5-1.6 s after the last page, 1.1-1.3 s in two processes, README "Performance"). The second process
# is a fork of this one, so it holds every object already (copy on write) and reads nothing. Below this many
# objects in the kinds the checks read, a fork costs more than it saves; tests set it to 0.
SIDE_BY_SIDE_AT = 10_000


def _judge_all(ctx: Context, checks: list[Check]) -> list[_Judged]:
    """Every check's outcome, in order: in this process, or for a big run half of them in a forked second one."""
    from kubectl_tke_net.sources import fork

    if len(checks) < 2 or not fork.may_fork():
        return [_judge(ctx, chk) for chk in checks]
    # Every kind is read here first (as the checks would read it, each once), so that the second process has
    # nothing left to read: it must never use this one's connections.
    weights = []
    for chk in checks:
        weight = 0
        for name in chk.kinds(ctx.command):
            with contextlib.suppress(Unavailable):
                weight += len(ctx.snap.list(name))
        weights.append(weight)
    if sum(weights) < SIDE_BY_SIDE_AT:
        return [_judge(ctx, chk) for chk in checks]
    # Longest first, each to the side with less so far: the sides take about as long as each other when a
    # check's time grows with the objects of its kinds, as nearly all do. This process takes the first.
    sides: tuple[list[int], list[int]] = ([], [])
    loads = [0, 0]
    for i in sorted(range(len(checks)), key=lambda i: -weights[i]):
        side = 0 if loads[0] <= loads[1] else 1
        sides[side].append(i)
        loads[side] += weights[i] + 1
    return _side_by_side(ctx, checks, sorted(sides[0]), sorted(sides[1]))


class _ReadInSecondProcess(BaseException):
    """A read asked for in the forked process: it gives up, and this process judges its checks itself."""


class _NoReads:
    """The source of the forked process's snapshot, unless its own reads nothing (in_memory): it refuses to read
    (the kinds the checks need were read before the fork; one read of a cluster would use this process's
    connections)."""

    def list(self, kind: object, namespace: object) -> list[Obj]:
        raise _ReadInSecondProcess


def _side_by_side(ctx: Context, checks: list[Check], mine: list[int], theirs: list[int]) -> list[_Judged]:
    """The checks of `mine` judged here while a fork of this process judges those of `theirs`. Whatever goes wrong
    over there (an exception, a read, a signal), its checks are judged here instead: the outcome is the same
    either way, only slower."""
    from kubectl_tke_net.sources import fork

    def there() -> list[tuple[int, _Judged]]:
        if not getattr(ctx.snap.source, "in_memory", False):
            ctx.snap.source = _NoReads()
        return [(i, _judge(ctx, checks[i])) for i in theirs]

    outcomes, sent = fork.side_by_side(lambda: {i: _judge(ctx, checks[i]) for i in mine}, there)
    if sent is None or [i for i, _judged in sent] != theirs:
        sent = [(i, _judge(ctx, checks[i])) for i in theirs]
    outcomes.update(sent)
    return [outcomes[i] for i in range(len(checks))]
