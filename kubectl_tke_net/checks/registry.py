"""The check registry: `CHECKS`, filled by `@check` in each check module, and what a check returns (`Hit`).

Check modules import this module only; `catalog` imports them (load_all): no ring."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubectl_tke_net import i18n
from kubectl_tke_net.facts import Context
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.model import Severity

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


@dataclass(frozen=True)
class NotJudged:
    """What a check yields for a part of it that could not run (a kind it could not read): the runner lists the
    check in `skipped` with the reason, beside the findings of what it could judge."""

    reason: str


CheckFunc = Callable[[Context], Iterable[Hit | NotJudged]]


@dataclass(frozen=True)
class Check:
    code: str
    severity: Severity
    title: str
    needs: tuple[str, ...]
    commands: frozenset[str]
    func: CheckFunc
    fix: str | None = None  # the `kubectl tke-net fix` action that repairs what it finds
    # What it needs under a command that differs from `needs` (TKE205/TKE303 judge Services under `service`).
    needs_for: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def kinds(self, command: str | None) -> tuple[str, ...]:
        """The kinds it cannot run without under `command` (the diagnose command of the run)."""
        return dict(self.needs_for).get(command or "", self.needs)

    @property
    def doc(self) -> str:
        """The check's user documentation: its function's docstring."""
        return inspect.cleandoc(self.func.__doc__ or "")


CHECKS: dict[str, Check] = {}


def check(
    code: str,
    severity: Severity,
    title: str,
    needs: tuple[str, ...],
    commands: tuple[str, ...],
    *,
    fix: str | None = None,
    needs_for: dict[str, tuple[str, ...]] | None = None,
) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check: `needs` are the kinds it cannot run without (`needs_for`: instead, under a command);
    `commands` run it; `fix` is the fix action that repairs it (the loopback screen's steps, `checks CODE` and
    the docs say so)."""

    def register(func: CheckFunc) -> CheckFunc:
        assert code not in CHECKS, f"duplicate check code {code}"
        per_command = tuple(sorted((needs_for or {}).items()))
        CHECKS[code] = Check(code, severity, title, needs, frozenset(commands), func, fix, per_command)
        return func

    return register
