"""The plain data every layer shares: severities, a command's output and the errors (what the checks say,
Ref, Finding and Skip, is in findings.py)."""

from __future__ import annotations

import enum


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


class Output:
    """What a command gives back to main, the one place that writes: its text for stdout (already rendered),
    lines for stderr (notes such as an empty scope), and the exit status.

    A plain class, not a dataclass: `version` and `--help` load this module, and dataclasses imports inspect,
    a fifth of their start-up (tests/test_startup.py)."""

    __slots__ = ("notes", "status", "text")

    def __init__(self, text: str, status: int = 0, notes: tuple[str, ...] = ()) -> None:
        self.text = text
        self.status = status
        self.notes = notes


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


# What a run read and the checks derived from it (cli._hold): held until the process ends, which entry.run ends
# without freeing it object by object.
HELD: list[object] = []
