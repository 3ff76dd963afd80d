"""What the checks say: the objects they talk about (Ref), their findings, and the checks that could not run."""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_tke_net.model import Severity


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
