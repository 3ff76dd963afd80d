"""The check registry (`CHECKS`, filled by `@check`) and the runner that turns hits into findings."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubectl_tke_net import i18n
from kubectl_tke_net.facts import Context
from kubectl_tke_net.k8s import annotations_of, ref
from kubectl_tke_net.model import Finding, Ref, Severity, Skip, Unavailable, UsageError
from kubectl_tke_net.tke import IGNORE_ANNOTATION

HOMEPAGE = "https://github.com/tke-net/kubectl-tke-net"


def docs_url(code: str, lang: str | None = None) -> str:
    """The docs page of a code, in the run's language (docs/checks/zh/CODE.md for zh) unless `lang` is given."""
    lang = lang or i18n.language()
    return f"{HOMEPAGE}/blob/main/docs/checks/{'' if lang == 'en' else lang + '/'}{code}.md"


@dataclass(frozen=True)
class Hit:
    """What a check reports about one object; the registry adds code, default severity and docs."""

    ref: Ref
    message: str
    remediation: str
    severity: Severity | None = None


CheckFunc = Callable[[Context], Iterable[Hit]]


@dataclass(frozen=True)
class Check:
    code: str
    severity: Severity
    title: str
    needs: tuple[str, ...]
    commands: frozenset[str]
    func: CheckFunc

    @property
    def doc(self) -> str:
        """The check's user documentation: its function's docstring."""
        return inspect.cleandoc(self.func.__doc__ or "")


CHECKS: dict[str, Check] = {}


def check(
    code: str, severity: Severity, title: str, needs: tuple[str, ...], commands: tuple[str, ...]
) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check: `needs` are the kinds it cannot run without; `commands` run it."""

    def register(func: CheckFunc) -> CheckFunc:
        assert code not in CHECKS, f"duplicate check code {code}"
        CHECKS[code] = Check(code, severity, title, needs, frozenset(commands), func)
        return func

    return register


def load_all() -> None:
    """Import the modules that register checks."""
    from kubectl_tke_net.checks import cloud, ingress, loopback, probe, service  # noqa: F401


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


def run(ctx: Context, checks: list[Check], suppress: bool = True) -> Result:
    findings: list[Finding] = []
    skipped: dict[str, list[str]] = {}
    for chk in checks:
        try:
            for name in chk.needs:
                ctx.snap.list(name)
            hits = list(chk.func(ctx))
        except Unavailable as exc:
            skipped.setdefault(exc.reason, []).append(chk.code)
            continue
        findings.extend(
            Finding(chk.code, hit.severity or chk.severity, hit.ref, hit.message, hit.remediation, docs_url(chk.code))
            for hit in hits
        )
    suppressed = 0
    if suppress:
        objects = {ref(o): o for o in ctx.snap.loaded()}
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
