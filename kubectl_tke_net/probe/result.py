"""What the probe Pods reported (pure): the script's JSON lines read back into results per test."""

from __future__ import annotations

import json
from dataclasses import dataclass

from kubectl_tke_net.i18n import _
from kubectl_tke_net.probe import SLOW_MS
from kubectl_tke_net.probe.plan import Plan, ProbePod, ProbeTest


@dataclass(frozen=True)
class Result:
    """One test's outcome as probe.sh wrote it."""

    ok: bool
    ms: int
    error: str = ""
    status: int | None = None  # HTTP status
    address: str = ""  # what a DNS name resolved to

    def text(self) -> str:
        """ "4 ms", "timeout after 2010 ms", "HTTP 404 in 12 ms"."""
        if self.ok:
            return (
                _("HTTP {status} in {ms} ms").format(status=self.status, ms=self.ms)
                if self.status
                else _("{ms} ms").format(ms=self.ms)
            )
        return _("{error} after {ms} ms").format(error=self.error or _("failed"), ms=self.ms)


@dataclass(frozen=True)
class Observation:
    """A test as run from one probe Pod; result None when the Pod reported nothing for it."""

    pod: ProbePod
    test: ProbeTest
    result: Result | None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    @property
    def failed(self) -> bool:
        return self.result is not None and not self.result.ok

    @property
    def text(self) -> str:
        return self.result.text() if self.result is not None else _("no result")

    @property
    def ms(self) -> int:
        return self.result.ms if self.result is not None else 0

    @property
    def fast(self) -> bool:
        """Answered within SLOW_MS."""
        return self.result is not None and self.result.ok and self.result.ms <= SLOW_MS


@dataclass(frozen=True)
class ProbeRun:
    """Everything the probe Pods reported; `failures` names the Pods that reported nothing, and why."""

    plan: Plan
    observations: tuple[Observation, ...]
    failures: tuple[str, ...] = ()


def parse(message: str) -> tuple[dict[int, Result], bool]:
    """Results by test number (1-based, the script's argument order), and whether the end line came.

    The kubelet keeps the last 4096 bytes of the message, so a cut-off first line is skipped.
    """
    results: dict[int, Result] = {}
    complete = False
    for line in message.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        if doc.get("check") == "end":
            complete = True
            continue
        try:
            n = int(doc["n"])
            status = doc.get("status")
            results[n] = Result(
                doc.get("ok") is True,
                int(doc.get("ms") or 0),
                str(doc.get("error") or ""),
                int(status) if status is not None else None,
                str(doc.get("address") or ""),
            )
        except (KeyError, TypeError, ValueError):
            continue
    return results, complete


def observe(pod: ProbePod, message: str | None) -> tuple[Observation, ...]:
    """Every test of the Pod with its result; None for each the message does not answer."""
    results, _complete = parse(message or "")
    return tuple(Observation(pod, test, results.get(i)) for i, test in enumerate(pod.tests, 1))
