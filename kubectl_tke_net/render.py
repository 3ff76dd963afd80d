"""Turns a report document into text: `FORMATS` maps each -o value to its renderer."""

from __future__ import annotations

import functools
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kubectl_tke_net.i18n import N_, _, ngettext
from kubectl_tke_net.terminal import escape, escape_lines

_COLORS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_RESET = "\033[0m"


def _paint(text: str, severity: str, color: bool) -> str:
    return f"{_COLORS[severity]}{text}{_RESET}" if color and severity in _COLORS else text


# The severity column of table/wide: words of the run's language; -o json/yaml/junit keep error/warning/info.
_SEVERITY_WORDS = {"error": N_("ERROR"), "warning": N_("WARNING"), "info": N_("INFO")}


def summary_line(report: dict[str, Any]) -> str:
    s = report["summary"]
    line = _("{errors}, {warnings}, {info} ({suppressed} suppressed)").format(
        errors=ngettext("{n} error", "{n} errors", s["error"]).format(n=s["error"]),
        warnings=ngettext("{n} warning", "{n} warnings", s["warning"]).format(n=s["warning"]),
        info=_("{n} info").format(n=s["info"]),
        suppressed=s["suppressed"],
    )
    skipped = sum(len(entry["codes"]) for entry in report["skipped"])
    if skipped:
        line += ngettext("; {n} check skipped", "; {n} checks skipped", skipped).format(n=skipped)
    return line


def _object(finding: dict[str, Any]) -> str:
    ns = finding["namespace"]
    return f"{finding['kind']}/{ns}/{finding['name']}" if ns else f"{finding['kind']}/{finding['name']}"


MESSAGE_WIDTH = 400  # characters of a MESSAGE cell in `table`; wide, json and yaml show the whole text


def _place(source: dict[str, Any] | None) -> str:
    if not source:
        return "-"
    return f"{source['file']}:{source['line']}" if source.get("line") else str(source["file"])


def _cut(text: str) -> str:
    return text if len(text) <= MESSAGE_WIDTH else text[: MESSAGE_WIDTH - 1] + "…"


def tabulate(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """The plain table of tabulate, imported only when there are rows to lay out (it and wcwidth, which it
    measures wide characters with, take longer to import than a small run takes to read its cluster)."""
    from tabulate import tabulate as lay_out

    return str(lay_out(rows, headers, tablefmt="plain"))


def findings_table(report: dict[str, Any], wide: bool, color: bool, examined: bool = True) -> str:
    """The findings as rows, the checks skipped, the summary and a hint for the next step. `examined` False:
    the scope held no object of the command's kind (said on stderr), so the table claims no success."""
    placed = "manifests" in report  # lint: each finding's file and line
    headers = [_("SEVERITY"), _("CODE"), _("OBJECT")] + ([_("SOURCE")] if placed else []) + [_("MESSAGE")]
    headers += [_("REMEDIATION")] if wide else []
    rows = []
    for f in report["findings"]:
        word = _(_SEVERITY_WORDS.get(f["severity"], f["severity"]))
        row = [_paint(word, f["severity"], color), f["code"], _object(f)]
        row += [_place(f.get("source"))] if placed else []
        row.append(f["message"] if wide else _cut(f["message"]))
        rows.append([*row, f["remediation"]] if wide else row)
    lines = [tabulate(rows, headers)] if rows else [_("No problems found.")] if examined else []
    for dup in report.get("duplicates") or []:
        places = ", ".join(_place(p) for p in dup["sources"])
        lines.append(
            _("defined more than once: {object} at {places} (the last is linted)").format(
                object=_object(dup), places=places
            )
        )
    for entry in report["skipped"]:
        lines.append(_("skipped {codes}: {reason}").format(codes=",".join(entry["codes"]), reason=entry["reason"]))
    lines.append(summary_line(report))
    if rows:
        code = report["findings"][0]["code"]
        hint = (
            _("hint: kubectl tke-net checks {code} explains a code")
            if wide
            else _("hint: -o wide adds the remediation; kubectl tke-net checks {code} explains a code")
        )
        lines.append(hint.format(code=code))
    return "\n".join(lines) + "\n"


_MITIGATIONS = (
    N_("call Services by DNS name from inside the cluster (NAME.NS.svc.cluster.local), never by CLB address"),
    N_("kubectl tke-net fix coredns-rewrite --host DOMAIN --service NAME -n NS: resolve a fixed domain to the Service"),
    N_("externalTrafficPolicy: Local plus anti-affinity between clients and servers"),
)


def loopback_verdict(report: dict[str, Any]) -> str:
    """The opening lines of `loopback`: mode, version, whether it is fixed, and what is exposed."""
    proxy = report["cluster"]["kubeProxy"]
    codes = exposure(report["findings"])
    if proxy["mode"] == "unknown":
        kube_proxy = _("kube-proxy: mode unknown (no kube-proxy DaemonSet in kube-system)")
    elif proxy["mode"] == "cilium":
        kube_proxy = _("kube-proxy: replaced by Cilium (ConfigMap kube-system/cilium-config)")
    else:
        fixed = {True: _("has the loopback fix"), False: _("LACKS the loopback fix"), None: _("loopback fix unknown")}
        target = (
            _(" (fixed from {version})").format(version=proxy["minFixed"])
            if proxy["minFixed"] and not proxy["loopbackFixed"]
            else ""
        )
        kube_proxy = _("kube-proxy: {mode} mode, {version}, {fixed}{target}").format(
            mode=proxy["mode"],
            version=proxy["version"] or _("no version tag"),
            fixed=fixed[proxy["loopbackFixed"]],
            target=target,
        )
    services = len(codes.get("TKE302", set()) | codes.get("TKE304", set()))
    ingresses = len(codes.get("TKE303", set()))
    state = report.get("loopback") or {"verdict": "exposed" if codes else "not-exposed", "reason": ""}
    verdict = {
        "exposed": _("EXPOSED to CLB loopback"),
        "not-exposed": _("no CLB loopback exposure found"),
        "unknown": _("UNKNOWN: {reason}").format(reason=state["reason"]),
    }[state["verdict"]]
    return (
        "\n".join(
            [
                _("Verdict: {verdict}").format(verdict=verdict),
                f"  {kube_proxy}",
                "  "
                + _("exposed: {services}, {ingresses}").format(
                    services=ngettext(
                        "{n} internal LoadBalancer Service", "{n} internal LoadBalancer Services", services
                    ).format(n=services),
                    ingresses=ngettext("{n} internal Ingress", "{n} internal Ingresses", ingresses).format(n=ingresses),
                ),
            ]
        )
        + "\n\n"
    )


EXPOSURE_CODES = ("TKE301", "TKE302", "TKE303", "TKE304")


def exposure(findings: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The objects of each finding that exposes the cluster to loopback, by code."""
    codes: dict[str, set[str]] = {}
    for f in findings:
        if f["code"] in EXPOSURE_CODES:
            codes.setdefault(f["code"], set()).add(_object(f))
    return codes


def loopback_footer(report: dict[str, Any]) -> str:
    from kubectl_tke_net import fix
    from kubectl_tke_net.checks.registry import CHECKS

    present = {f["code"] for f in report["findings"]}
    steps = fix.steps({CHECKS[code].fix or "" for code in present if code in CHECKS})
    lines = []
    if steps:
        lines.append("\n" + _("Fix, in this order:"))
        lines += [f"  {i}. {cmd}  ({_(note)})" for i, (cmd, note) in enumerate(steps, 1)]
    lines.append("\n" + _("Mitigations that need no fix:"))
    lines += [f"  - {_(m)}" for m in _MITIGATIONS]
    return "\n".join(lines) + "\n"


def check_page(doc: dict[str, Any], fmt: str) -> str:
    """`checks CODE`: what it means, why, how to fix (with the fix action that repairs it), and its docs page."""
    if fmt != "table":
        return FORMATS[fmt](doc, False)
    from kubectl_tke_net import fix

    lines = [f"{doc['code']} ({doc['severity']}): {doc['title']}", "", doc["doc"], ""]
    for command, note in fix.steps({doc["fix"]} if doc.get("fix") else set()):
        lines.append(_("fix: {command}  ({note})").format(command=command, note=_(note)))
    lines.append(_("docs: {url}").format(url=doc["docs"]))
    return "\n".join(lines) + "\n"


def error_code_page(doc: dict[str, Any], fmt: str) -> str:
    """`checks E4009`: what a TKE controller code means for each kind of object, what to do, and the source."""
    if fmt != "table":
        return FORMATS[fmt](doc, False)
    lines = []
    for entry in doc["entries"]:
        lines += [
            _("{code} ({kind}): {meaning}").format(code=doc["code"], kind=entry["kind"], meaning=entry["meaning"]),
            _("  what to do: {fix}").format(fix=entry["fix"]),
            _("  source: {source}").format(source=entry["source"]),
        ]
    return "\n".join(lines) + "\n"


def catalogue(items: list[dict[str, Any]], fmt: str) -> str:
    """`checks`: every code with its severity, commands and title."""
    if fmt != "table":
        return FORMATS[fmt]({"checks": items}, False)
    rows = [(i["code"], i["severity"], ",".join(i["commands"]), i["title"]) for i in items]
    return tabulate(rows, [_("CODE"), _("SEVERITY"), _("COMMANDS"), _("TITLE")]) + "\n"


def progress(prefix: str = "tke-net: ", repeats: bool = False) -> Callable[[str], None]:
    """The one writer of progress lines (-v, fix --wait, probe): stderr, one write per line (lists run side by
    side), escaped; a line that repeats the last one is left out unless `repeats` (-v shows every request).
    A reading's progress line on a terminal (Progress) is cleared first and drawn again on its next page."""
    last = [""]

    def log(line: str) -> None:
        if repeats or line != last[0]:
            with _stderr:
                if _Shown.progress is not None:
                    _Shown.progress.clear()
                sys.stderr.write(f"{prefix}{escape(line)}\n")
            last[0] = line

    return log


_stderr = threading.Lock()


class _Shown:
    progress: Progress | None = None  # the run's reading progress, while it is shown


class Progress:
    """The progress of a long read: the kinds (or files) and pages read so far, the objects, the time.

    On a terminal: one line on stderr, drawn again in place at most ten times a second and cleared when the
    reading ends (`end_progress`). Elsewhere with -v: a line every EVERY seconds, and one when it ends. Else
    nothing; never anything on stdout.
    """

    EVERY = 5.0
    REDRAW = 0.1

    def __init__(self, terminal: bool, verbose: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.terminal, self.verbose, self.clock = terminal, verbose, clock
        self.started = self.last = clock()
        self.pages: dict[str, int] = {}
        self.objects = 0
        self.drawn = False

    def page(self, what: str, objects: int, pages: int) -> None:
        """Told by a source of each page (LIST page, block of a snapshot file) it read."""
        with _stderr:
            self.pages[what] = pages
            self.objects += objects
            now = self.clock()
            if self.terminal and now - self.last >= self.REDRAW:
                sys.stderr.write("\r\x1b[K" + self.line(now))
                sys.stderr.flush()
                self.drawn, self.last = True, now
            elif not self.terminal and self.verbose and now - self.last >= self.EVERY:
                sys.stderr.write(self.line(now) + "\n")
                self.last = now

    def line(self, now: float) -> str:
        read = ", ".join(
            ngettext("{what} {n} page", "{what} {n} pages", n).format(what=escape(what), n=n)
            for what, n in self.pages.items()
        )
        return "tke-net: " + _("read {read}: {objects} objects in {seconds}s").format(
            read=read, objects=f"{self.objects:,}", seconds=f"{now - self.started:.1f}"
        )

    def clear(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\x1b[K")
            self.drawn = False

    def end(self) -> None:
        with _stderr:
            self.clear()
            if self.verbose and self.pages:
                sys.stderr.write(self.line(self.clock()) + "\n")
            self.pages = {}


def start_progress(verbose: bool) -> Progress | None:
    """The run's reading progress (Progress), or None when there is nobody to show it to."""
    terminal = sys.stderr.isatty()
    if not (terminal or verbose):
        return None
    _Shown.progress = Progress(terminal, verbose)
    return _Shown.progress


def end_progress() -> None:
    """The reading is over (the report is about to be written, or an error): clear the line, or sum it up."""
    if _Shown.progress is not None:
        _Shown.progress.end()
        _Shown.progress = None


def escaped(value: Any) -> Any:
    """The document with every text escaped for a terminal (names, messages and reasons come from the cluster)."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {key: escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [escaped(item) for item in value]
    return value


def table(report: dict[str, Any], wide: bool, color: bool, examined: bool = True) -> str:
    report = escaped(report)
    text = findings_table(report, wide, color, examined)
    if report["command"] == "loopback":
        return loopback_verdict(report) + text + loopback_footer(report)
    return text


_STATUS_WORDS = {"ok": N_("ok"), "unreachable": N_("unreachable"), "forbidden": N_("forbidden")}


def fleet_table(doc: dict[str, Any], wide: bool, color: bool, examined: dict[str, bool]) -> str:
    """A FleetReport for a person (SPEC 9.6): one section per cluster (its own table, or the error that kept it
    from being read), then a summary row per cluster."""
    doc = escaped(doc)
    parts = []
    rows = []
    for entry in doc["clusters"]:
        status = _(_STATUS_WORDS.get(entry["status"], entry["status"]))
        heading = _("=== context {context} (cluster {cluster}): {status} ===").format(
            context=entry["context"], cluster=entry["cluster"] or "-", status=status
        )
        report = entry["report"]
        body = ""
        if entry["error"]:
            body = "error: " + entry["error"] + "\n"
        if report is not None and entry["status"] == "ok":
            body += table(report, wide, color, examined.get(entry["context"], True))
        parts.append(f"{heading}\n{body}")
        s = report["summary"] if report is not None else None
        detail = entry["error"] or ((report.get("loopback") or {}).get("verdict", "") if report else "")
        rows.append(
            (
                entry["context"],
                entry["cluster"] or "-",
                status,
                s["error"] if s else "-",
                s["warning"] if s else "-",
                s["info"] if s else "-",
                _cut(detail) if not wide else detail,
            )
        )
    headers = [_("CONTEXT"), _("CLUSTER"), _("STATUS"), _("ERRORS"), _("WARNINGS"), _("INFO"), _("DETAIL")]
    summary = tabulate(rows, headers)
    return "\n".join(parts) + "\n" + _("Summary:") + "\n" + summary + "\n"


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


@functools.cache
def _yaml_dumper() -> Any:
    import yaml

    class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
        """No anchors: equal parts of Pods are one object in memory (decode.py), each written out in full."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    return Dumper


def render_yaml(doc: dict[str, Any]) -> str:
    import yaml

    return str(yaml.dump(doc, Dumper=_yaml_dumper(), sort_keys=False, allow_unicode=True, width=1 << 16))


# Characters XML 1.0 cannot carry, even escaped; a message quoting an odd event must not break the file.
# Compiled by junit() only: its character ranges take about 5 ms to compile, more than a small run's checks.
_NOT_XML = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
_FAILS_AT = {"error": 3, "warning": 2, "info": 1, "never": 4}
_RANK = {"error": 3, "warning": 2, "info": 1}


def junit(report: dict[str, Any], ran: Sequence[tuple[str, str]] = (), fail_on: str = "error") -> str:
    """JUnit XML for CI: a test case per (check, object) found, failed when at or above `fail_on`; a passing test
    case per check that ran (`ran`: code and title) without a finding; a skipped one per check that could not run.
    Without `ran`, the checks are those the report names."""
    import xml.etree.ElementTree as ET

    not_xml = re.compile(_NOT_XML)

    def text(value: object) -> str:
        return not_xml.sub("\ufffd", escape_lines(str(value)))

    threshold = _FAILS_AT[fail_on]
    titles = dict(ran)
    by_code: dict[str, list[dict[str, Any]]] = {}
    for finding in report["findings"]:
        by_code.setdefault(finding["code"], []).append(finding)
    skipped = {code: entry["reason"] for entry in report["skipped"] for code in entry["codes"]}
    codes = sorted(set(titles) | set(by_code) | set(skipped))
    command = report["command"]
    suite = ET.Element("testsuite", name=f"kubectl tke-net {command}")
    source = {k: v for k, v in report["source"].items() if v is not None}
    if source:
        props = ET.SubElement(suite, "properties")
        for key, value in source.items():
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value  # lint's manifests
            ET.SubElement(props, "property", name=key, value=text(shown))
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for code in codes:
        classname = f"tke-net.{command}.{code}"
        if code in skipped:
            case = ET.SubElement(suite, "testcase", classname=classname, name=text(titles.get(code, code)))
            ET.SubElement(case, "skipped", message=text(skipped[code]))
            counts["tests"] += 1
            counts["skipped"] += 1
            if code not in by_code:
                continue  # else a part of the check could not run (NotJudged): what it found is reported too
        elif code not in by_code:
            ET.SubElement(suite, "testcase", classname=classname, name=text(titles.get(code, code)))
            counts["tests"] += 1
            continue
        for f in by_code[code]:
            case = ET.SubElement(suite, "testcase", classname=classname, name=text(_object(f)))
            detail = (
                f"{f['code']} {f['severity']} {_object(f)}\n{f['message']}\n"
                f"remediation: {f['remediation']}\ndocs: {f['docs']}"
            )
            counts["tests"] += 1
            if _RANK[f["severity"]] >= threshold:
                failure = ET.SubElement(case, "failure", message=text(f["message"]), type=f["severity"])
                failure.text = text(detail)
                counts["failures"] += 1
            else:
                ET.SubElement(case, "system-out").text = text(detail)
    attrs = {key: str(value) for key, value in counts.items()}
    suite.attrib = {"name": suite.attrib["name"], **attrs, "errors": "0"}
    root = ET.Element("testsuites", {"name": "kubectl tke-net", **attrs, "errors": "0"})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# SARIF levels of the severities; a code-scanning UI shows error, warning and note.
_SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _uri(path: str) -> str:
    """A file as a SARIF artifact URI: relative paths as relative references (to the repository root, where
    CI runs), absolute ones as file: URIs; standard input as `-`."""
    from pathlib import PurePath, PurePosixPath
    from urllib.parse import quote

    pure = PurePath(path)
    if pure.is_absolute():
        return str(PurePosixPath(pure.as_posix()).as_uri()) if pure.as_posix().startswith("/") else pure.as_uri()
    return quote(pure.as_posix().removeprefix("./"))


def _sentence(text: str) -> str:
    text = text.strip()
    if text.endswith((".", "?", "!", "。", "？", "！")):
        return text
    return text + ("。" if re.search("[\u3000-\u9fff\uff00-\uffef]", text) else ".")  # a Chinese sentence


def sarif(report: dict[str, Any], ran: Sequence[Any] = ()) -> str:
    """SARIF 2.1.0 (SPEC 9.5) for code-scanning UIs: one rule per check that ran or was skipped (its title, its
    documentation as help, its docs page), one result per finding, located at the finding's file and line
    (lint) and by its object (`Service/NS/NAME`, always); the checks that could not run as notifications."""
    from kubectl_tke_net import __version__
    from kubectl_tke_net.checks.registry import CHECKS, HOMEPAGE, docs_url

    skipped = {code: entry["reason"] for entry in report["skipped"] for code in entry["codes"]}
    codes = sorted({c.code for c in ran} | {f["code"] for f in report["findings"]} | set(skipped))
    rules = []
    for code in codes:
        chk = CHECKS.get(code)
        rule: dict[str, Any] = {"id": code, "helpUri": docs_url(code)}
        if chk is not None:
            title, doc = _(chk.title), _(chk.doc)
            rule["name"] = "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", chk.title))
            rule["shortDescription"] = {"text": _sentence(title)}
            rule["fullDescription"] = {"text": _sentence(doc.split("\n\n")[1] if doc.count("\n\n") else doc)}
            rule["help"] = {"text": doc, "markdown": doc}
            rule["defaultConfiguration"] = {"level": _SARIF_LEVELS[str(chk.severity)]}
            rule["properties"] = {"tags": ["kubernetes", "tke", "networking"], "commands": sorted(chk.commands)}
        rules.append(rule)
    index = {code: i for i, code in enumerate(codes)}
    results = []
    for f in report["findings"]:
        logical = {"fullyQualifiedName": _object(f), "name": f["name"], "kind": "object"}
        location: dict[str, Any] = {"logicalLocations": [logical]}
        source = f.get("source")
        if source:
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(source["file"])}}
            if source.get("line"):
                physical["region"] = {"startLine": source["line"]}
            location["physicalLocation"] = physical
        results.append(
            {
                "ruleId": f["code"],
                "ruleIndex": index[f["code"]],
                "level": _SARIF_LEVELS[f["severity"]],
                "message": {"text": _sentence(f"{_object(f)}: {f['message']}")},
                "locations": [location],
                "partialFingerprints": {"objectRef/v1": f"{f['code']}:{_object(f)}"},
                "properties": {"remediation": f["remediation"], "docs": f["docs"]},
            }
        )
    notifications = [
        {
            "level": "note",
            "message": {
                "text": _sentence(_("skipped {codes}: {reason}").format(codes=",".join(e["codes"]), reason=e["reason"]))
            },
            "associatedRule": {"id": e["codes"][0], "index": index[e["codes"][0]]},
        }
        for e in report["skipped"]
        if e["codes"] and e["codes"][0] in index
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "kubectl-tke-net",
                "fullName": "kubectl tke-net",
                "informationUri": HOMEPAGE,
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
        "results": results,
        "properties": {"command": report["command"], "summary": report["summary"]},
    }
    if any(f.get("source") for f in report["findings"]):
        run["columnKind"] = "unicodeCodePoints"
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


Renderer = Callable[[dict[str, Any], bool], str]

FORMATS: dict[str, Renderer] = {
    "table": lambda doc, color: table(doc, wide=False, color=color),
    "wide": lambda doc, color: table(doc, wide=True, color=color),
    "json": lambda doc, _color: render_json(doc),
    "yaml": lambda doc, _color: render_yaml(doc),
}


# --- fix ------------------------------------------------------------------------------------------------

if TYPE_CHECKING:  # the fix modules load only for `fix`
    from kubectl_tke_net.fix.command import Outcome
    from kubectl_tke_net.fix.plan import Change


def fix_output(outcome: Outcome, fmt: str) -> str:
    """A fix run: its FixPlan document (json, yaml) or the text a person reads, escaped for a terminal."""
    from kubectl_tke_net.fix.command import document

    if fmt in ("json", "yaml"):
        return FORMATS[fmt](document(outcome), False)
    return escape_lines(fix_text(outcome))


def fix_text(outcome: Outcome) -> str:
    """What `fix` prints: the diffs, refusals, notes, and what was (or --apply would be) done."""
    from kubectl_tke_net.fix.command import diff_of
    from kubectl_tke_net.fix.plan import ROLLOUT_STATUS

    from_snapshot = outcome.from_snapshot
    out: list[str] = [diff_of(c, r) for c, r in outcome.entries]
    if outcome.entries:
        out.append("\n")
    for refusal in outcome.refused:
        out.append(_("refused: {ref}: {reason}").format(ref=refusal.ref, reason=refusal.reason) + "\n")
    for change, result in outcome.entries:
        if result is not None and not result.ok:
            out.append(f"{result.status}: {change.ref}: {result.message}\n")
    for failure in outcome.failures:
        out.append(_("failed: {ref}: {reason}").format(ref=failure.ref, reason=failure.reason) + "\n")
    for note in outcome.notes:
        out.append(_("note: {note}").format(note=note) + "\n")
    changes = [c for c, _result in outcome.entries]
    if outcome.mode == "client":
        if not changes:
            out.append(_("Nothing to change.") + "\n")
        else:
            out.append(
                ngettext(
                    "{n} change planned; nothing was written (client-side dry run).",
                    "{n} changes planned; nothing was written (client-side dry run).",
                    len(changes),
                ).format(n=len(changes))
                + "\n"
            )
            out.append(_would(changes, from_snapshot))
    elif outcome.mode == "server":
        accepted = sum(1 for _change, r in outcome.entries if r is not None and r.ok)
        out.append(
            ngettext(
                "{accepted} of {n} change accepted by the API server's dry run (dryRun=All); nothing was written.",
                "{accepted} of {n} changes accepted by the API server's dry run (dryRun=All); nothing was written.",
                len(changes),
            ).format(accepted=accepted, n=len(changes))
            + "\n"
            if changes
            else _("Nothing to change.") + "\n"
        )
    else:
        for path in outcome.backups:
            out.append(_("backup: {path}").format(path=path) + "\n")
        written = [c for c, r in outcome.entries if r is not None and r.status == "applied"]
        if not changes:
            out.append(_("Nothing to change.") + "\n")
        else:
            out.append(
                ngettext("{written} of {n} change applied.", "{written} of {n} changes applied.", len(changes)).format(
                    written=len(written), n=len(changes)
                )
                + "\n"
            )
        for path in outcome.backups:
            out.append(_("undo: {command}").format(command=f"kubectl tke-net fix rollback {path} --apply") + "\n")
        if outcome.action == "kube-proxy" and written:
            out.append(_("watch the rollout: {command}").format(command=ROLLOUT_STATUS) + "\n")
    return "".join(out)


def _would(changes: list[Change], from_snapshot: bool) -> str:
    from kubectl_tke_net.fix.apply import DEFAULT_BACKUP_DIR

    lines = [
        _("--apply would:") + (_(" (it needs a cluster, not --snapshot)") if from_snapshot else ""),
        _("  1. send every change to the API server as a dry run (dryRun=All) and stop if any is rejected;"),
        _(
            "  2. save the fields that change, with their values before, to a new backup file in\n"
            "     {dir} (--backup-dir);"
        ).format(dir=DEFAULT_BACKUP_DIR),
        _(
            "  3. patch only those fields (strategic merge patch; JSON merge patch for TkeServiceConfig), as field\n"
            "     manager kubectl-tke-net and on the condition that each object still has the resourceVersion\n"
            "     read, so that a concurrent edit is a conflict, never overwritten:"
        ),
    ]
    for change in changes:
        rv = change.resource_version or _("(none in the snapshot)")
        lines.append(f"     PATCH {change.ref} resourceVersion {rv}")
    return "\n".join(lines) + "\n"
