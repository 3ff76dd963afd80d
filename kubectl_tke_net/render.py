"""Turns a report document into text: `FORMATS` maps each -o value to its renderer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml
from tabulate import tabulate

_COLORS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_RESET = "\033[0m"


def _paint(text: str, severity: str, color: bool) -> str:
    return f"{_COLORS[severity]}{text}{_RESET}" if color and severity in _COLORS else text


def _plural(count: int, word: str) -> str:
    if word == "info":
        return f"{count} info"
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(report: dict[str, Any]) -> str:
    s = report["summary"]
    line = (f"{_plural(s['error'], 'error')}, {_plural(s['warning'], 'warning')}, {_plural(s['info'], 'info')}"
            f" ({s['suppressed']} suppressed)")
    skipped = sum(len(entry["codes"]) for entry in report["skipped"])
    if skipped:
        line += f"; {skipped} check{'s' if skipped > 1 else ''} skipped"
    return line


def _object(finding: dict[str, Any]) -> str:
    ns = finding["namespace"]
    return f"{finding['kind']}/{ns}/{finding['name']}" if ns else f"{finding['kind']}/{finding['name']}"


def findings_table(report: dict[str, Any], wide: bool, color: bool) -> str:
    headers = ["SEVERITY", "CODE", "OBJECT", "MESSAGE"] + (["REMEDIATION"] if wide else [])
    rows = []
    for f in report["findings"]:
        row = [_paint(f["severity"].upper(), f["severity"], color), f["code"], _object(f), f["message"]]
        rows.append([*row, f["remediation"]] if wide else row)
    lines = [tabulate(rows, headers, tablefmt="plain")] if rows else ["No problems found."]
    for entry in report["skipped"]:
        lines.append(f"skipped {','.join(entry['codes'])}: {entry['reason']}")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_yaml(doc: dict[str, Any]) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(doc, Dumper=dumper, sort_keys=False, allow_unicode=True, width=1 << 16))


Renderer = Callable[[dict[str, Any], bool], str]

FORMATS: dict[str, Renderer] = {
    "table": lambda doc, color: findings_table(doc, wide=False, color=color),
    "wide": lambda doc, color: findings_table(doc, wide=True, color=color),
    "json": lambda doc, _color: render_json(doc),
    "yaml": lambda doc, _color: render_yaml(doc),
}
