"""The plain data every layer shares: severities, object references, findings, skips and errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True, order=True)
class Ref:
    """An object the checks talk about; namespace is "" for cluster-scoped kinds."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    ref: Ref
    message: str
    remediation: str
    docs: str

    def sort_key(self) -> tuple[int, str, str, str, str]:
        return (-self.severity, self.ref.namespace, self.ref.kind, self.ref.name, self.code)


@dataclass(frozen=True)
class Skip:
    """Checks that could not run, and why (RBAC, a CRD that is not installed, ...)."""

    codes: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Output:
    """What a command gives back to main, the one place that writes: its text for stdout (already rendered),
    lines for stderr (notes such as an empty scope), and the exit status."""

    text: str
    status: int = 0
    notes: tuple[str, ...] = ()


class TkeNetError(Exception):
    """An error that ends the run with one line on stderr and `exit_status`."""

    exit_status = 1


class UsageError(TkeNetError):
    exit_status = 2


class AccessError(TkeNetError):
    exit_status = 3


class AuthFailed(AccessError):
    """The API server refused the credentials (401): reached, but not readable with them (a fleet's `forbidden`)."""


class Unavailable(Exception):
    """A kind that cannot be read (forbidden, or its API is not served); its checks are skipped."""

    def __init__(self, kind: str, reason: str, served: bool = True) -> None:
        super().__init__(reason)
        self.kind = kind
        self.served = served  # False: the API server does not serve the kind at all (a CRD not installed)
        self.reason = reason
