"""The check catalogue: which checks a run takes (--select, --ignore, the command) and the runner that turns
their hits into findings, suppressions and skips."""

from __future__ import annotations

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
    for chk in checks:
        try:
            for name in chk.kinds(ctx.command):
                ctx.snap.list(name)
            results = list(chk.func(ctx))
        except Unavailable as exc:
            skipped.setdefault(exc.reason, []).append(chk.code)
            continue
        hits = [hit for hit in results if isinstance(hit, Hit)]
        for part in dict.fromkeys(r.reason for r in results if isinstance(r, NotJudged)):
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
