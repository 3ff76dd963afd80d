"""Turns a `trace` report (the SPEC §4 report with its `trace` path) into text: `FORMATS` maps each -o value of
`trace` to its renderer: a terminal tree, JSON, a Mermaid flowchart, or one self-contained HTML page."""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

from kubectl_tke_net import i18n
from kubectl_tke_net.i18n import N_, _
from kubectl_tke_net.render import _SEVERITY_WORDS, _object, _paint, escaped, render_json, summary_line
from kubectl_tke_net.terminal import escape

STATE_WORDS = {"ok": N_("ok"), "failing": N_("FAILING"), "unknown": N_("unknown")}
_STATE_COLORS = {"ok": "\033[32m", "failing": "\033[31m", "unknown": "\033[33m"}
_RESET = "\033[0m"
_BOLD = "\033[1m"


def _state(state: str, color: bool) -> str:
    word = f"[{_(STATE_WORDS[state])}]"
    return f"{_STATE_COLORS[state]}{word}{_RESET}" if color else word


def _codes(hop: dict[str, Any], color: bool = False) -> str:
    return ", ".join(_paint(c["code"], c["severity"], color) for c in hop["codes"])


def _measured(hop: dict[str, Any]) -> list[str]:
    return [
        _("probe from {node}: {what}: {result}").format(node=m["node"], what=m["what"], result=m["text"])
        for m in hop.get("measured") or []
    ]


def _hop_lines(hop: dict[str, Any]) -> list[str]:
    """What a hop says below its title: details, why it is unknown or failing, what the probe measured."""
    lines = list(hop["details"])
    if hop.get("reason"):
        lines.append(_("why: {reason}").format(reason=hop["reason"]))
    return lines + _measured(hop)


def _heading(doc: dict[str, Any]) -> str:
    t, word = doc["trace"]["target"], STATE_WORDS[doc["trace"]["state"]]
    return _("{kind} {namespace}/{name}: path {state}").format(
        kind=t["kind"], namespace=t["namespace"], name=t["name"], state=_(word)
    )


def _walk(doc: dict[str, Any]) -> Iterator[tuple[dict[str, Any], int, bool]]:
    """Depth-first: each hop, its depth, and whether it was already shown (a hop that several hops lead to)."""
    hops = {h["id"]: h for h in doc["trace"]["hops"]}
    seen: set[str] = set()

    def visit(hop_id: str, depth: int) -> Iterator[tuple[dict[str, Any], int, bool]]:
        hop = hops[hop_id]
        shown = hop_id in seen
        seen.add(hop_id)
        yield hop, depth, shown
        if not shown:
            for child in hop["next"]:
                yield from visit(child, depth + 1)

    for root in doc["trace"]["roots"]:
        yield from visit(root, 0)


# --- tree ------------------------------------------------------------------------------------------------


def tree(doc: dict[str, Any], color: bool) -> str:
    """The path as a terminal tree, then the findings with their remediation and the summary line."""
    doc = escaped(doc)
    hops = {h["id"]: h for h in doc["trace"]["hops"]}
    out = [(_BOLD + _heading(doc) + _RESET) if color else _heading(doc)]
    seen: set[str] = set()

    def visit(hop_id: str, prefix: str, last: bool, top: bool) -> None:
        hop = hops[hop_id]
        shown = hop_id in seen
        seen.add(hop_id)
        branch = "" if top else ("└─ " if last else "├─ ")
        codes = _codes(hop, color)
        line = f"{prefix}{branch}{hop['title']}  {_state(hop['state'], color)}" + (f"  {codes}" if codes else "")
        if shown:
            out.append(line + "  " + _("(shown above)"))
            return
        out.append(line)
        inner = prefix + ("" if top else ("   " if last else "│  "))
        children = hop["next"]
        for text in _hop_lines(hop):
            out.append(f"{inner}{'│' if children else ' '}  {text}")
        for i, child in enumerate(children):
            visit(child, inner, i == len(children) - 1, False)

    for root in doc["trace"]["roots"]:
        visit(root, "", True, True)
    if not doc["trace"]["hops"]:
        out.append(_("(no hop: the object has no port)"))
    out.append("")
    for f in doc["findings"]:
        word = _(_SEVERITY_WORDS.get(f["severity"], f["severity"]))
        out.append(f"{_paint(word, f['severity'], color)} {f['code']} {_object(f)}: {f['message']}")
        out.append("  " + _("fix: {remediation}").format(remediation=f["remediation"]))
    for entry in doc["skipped"]:
        out.append(_("skipped {codes}: {reason}").format(codes=",".join(entry["codes"]), reason=entry["reason"]))
    out.append(summary_line(doc))
    return "\n".join(out) + "\n"


# --- mermaid -----------------------------------------------------------------------------------------------

# Characters that mean something in a Mermaid label (quotes end it, `#...;` is an entity, <> and & are HTML in
# GitHub's renderer, backticks start Markdown strings): written as Mermaid's numeric entity codes, `#34;`.
_MERMAID_SPECIAL = frozenset('"#&<>`\\[]{}|;')
MERMAID_LINES = 4  # detail lines per node: a flowchart is a picture, the tree and html have the rest


def mermaid_text(text: str) -> str:
    """One line of cluster text made safe inside a quoted Mermaid label."""
    return "".join(f"#{ord(c)};" if c in _MERMAID_SPECIAL else c for c in escape(text))


def mermaid(doc: dict[str, Any], _color: bool = False) -> str:
    """A flowchart for Markdown (GitHub renders ```mermaid blocks): one node per hop, coloured by state."""
    t = doc["trace"]["target"]
    out = [
        f"%% kubectl tke-net trace {t['kind']}/{t['namespace']}/{t['name']}".replace("\n", " "),
        "flowchart TD",
    ]
    for hop in doc["trace"]["hops"]:
        lines = _hop_lines(hop)
        shown = lines[:MERMAID_LINES] + (
            [_("and {n} more").format(n=len(lines) - MERMAID_LINES)] if len(lines) > MERMAID_LINES else []
        )
        state = f"{_(STATE_WORDS[hop['state']])}" + (f" {_codes(hop)}" if hop["codes"] else "")
        label = "<br/>".join(
            [f"<b>{mermaid_text(hop['title'])}</b>", *(mermaid_text(line) for line in shown), mermaid_text(state)]
        )
        out.append(f'  {hop["id"]}["{label}"]')
    for hop in doc["trace"]["hops"]:
        out.extend(f"  {hop['id']} --> {child}" for child in hop["next"])
    out += [
        "  classDef ok fill:#e6f4ea,stroke:#1e8e3e,color:#0d3d1a",
        "  classDef failing fill:#fce8e6,stroke:#d93025,stroke-width:2px,color:#5c0f0a",
        "  classDef unknown fill:#fef7e0,stroke:#e37400,stroke-dasharray:4 3,color:#4d2c00",
    ]
    for state in ("ok", "failing", "unknown"):
        ids = [h["id"] for h in doc["trace"]["hops"] if h["state"] == state]
        if ids:
            out.append(f"  class {','.join(ids)} {state}")
    return "\n".join(out) + "\n"


# --- html ------------------------------------------------------------------------------------------------

BOX_W, LINE_H, PAD, GAP_X, GAP_Y = 320, 16, 10, 28, 46
BOX_CHARS = 41  # a line of a box, in narrow-character widths (12px DejaVu Sans Mono: 7.2px each)
BOX_LINES = 6
_FILL = {"ok": "#e6f4ea", "failing": "#fce8e6", "unknown": "#fef7e0"}
_STROKE = {"ok": "#1e8e3e", "failing": "#d93025", "unknown": "#e37400"}


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fit(text: str, limit: int = BOX_CHARS) -> str:
    if _width(text) <= limit:
        return text
    out, used = [], 0
    for c in text:
        w = 2 if unicodedata.east_asian_width(c) in "WF" else 1
        if used + w > limit - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def _levels(doc: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Hops by row: a hop sits one row below the lowest hop that leads to it."""
    hops = doc["trace"]["hops"]
    depth = {h["id"]: 0 for h in hops}
    for _round in range(len(hops)):
        changed = False
        for h in hops:
            for child in h["next"]:
                if depth[child] < depth[h["id"]] + 1:
                    depth[child] = depth[h["id"]] + 1
                    changed = True
        if not changed:
            break
    rows: list[list[dict[str, Any]]] = []
    for h in hops:
        while len(rows) <= depth[h["id"]]:
            rows.append([])
        rows[depth[h["id"]]].append(h)
    return rows


def _box_lines(hop: dict[str, Any]) -> list[str]:
    lines = _hop_lines(hop)
    if len(lines) > BOX_LINES:
        lines = [*lines[: BOX_LINES - 1], _("and {n} more").format(n=len(lines) - BOX_LINES + 1)]
    return lines


def svg(doc: dict[str, Any]) -> str:
    """The path drawn as inline SVG: a box per hop (class `hop`, `data-hop` its id), an arrow per link."""
    rows = _levels(doc)
    place: dict[str, tuple[float, float, float]] = {}  # x, y, height
    heights = [max((float(LINE_H) * (len(_box_lines(h)) + 2) + 2 * PAD for h in row), default=0) for row in rows]
    width = max((len(row) for row in rows), default=1) * (BOX_W + GAP_X) + GAP_X
    y = float(GAP_Y / 2)
    for row, height in zip(rows, heights, strict=True):
        span = len(row) * (BOX_W + GAP_X) - GAP_X
        x = (width - span) / 2
        for h in row:
            place[h["id"]] = (x, y, LINE_H * (len(_box_lines(h)) + 2) + 2 * PAD)
            x += BOX_W + GAP_X
        y += height + GAP_Y
    total_h = int(y - GAP_Y / 2)
    e = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="path" width="{int(width)}" height="{total_h}" '
        f'viewBox="0 0 {int(width)} {total_h}" role="img" aria-label="{e(_heading(doc))}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5f6368"/></marker></defs>',
    ]
    hops = {h["id"]: h for h in doc["trace"]["hops"]}
    for hop in doc["trace"]["hops"]:
        x1, y1, h1 = place[hop["id"]]
        for child in hop["next"]:
            x2, y2, _h2 = place[child]
            sx, sy, ex, ey = x1 + BOX_W / 2, y1 + h1, x2 + BOX_W / 2, y2 - 2
            mid = (sy + ey) / 2
            stroke = _STROKE["failing"] if hops[child]["state"] == "failing" else "#5f6368"
            parts.append(
                f'<path class="link" data-from="{hop["id"]}" data-to="{child}" d="M{sx:.0f},{sy:.0f} '
                f'C{sx:.0f},{mid:.0f} {ex:.0f},{mid:.0f} {ex:.0f},{ey:.0f}" fill="none" stroke="{stroke}" '
                f'stroke-width="1.5" marker-end="url(#arrow)"/>'
            )
    for hop in doc["trace"]["hops"]:
        x, y0, height = place[hop["id"]]
        state = hop["state"]
        full = "\n".join([hop["title"], *_hop_lines(hop), _codes(hop)])
        parts.append(
            f'<g class="hop {state}" data-hop="{hop["id"]}" data-stage="{hop["stage"]}" data-state="{state}">'
            f"<title>{e(full)}</title>"
            f'<rect x="{x:.0f}" y="{y0:.0f}" width="{BOX_W}" height="{height:.0f}" rx="8" fill="{_FILL[state]}" '
            f'stroke="{_STROKE[state]}" stroke-width="{2 if state == "failing" else 1.2}"'
            + (' stroke-dasharray="5 3"' if state == "unknown" else "")
            + "/>"
        )
        ty = y0 + PAD + LINE_H - 3
        parts.append(
            f'<text x="{x + PAD:.0f}" y="{ty:.0f}" class="title">{e(_fit(hop["title"], BOX_CHARS - 2))}</text>'
        )
        for line in _box_lines(hop):
            ty += LINE_H
            parts.append(f'<text x="{x + PAD:.0f}" y="{ty:.0f}" class="detail">{e(_fit(line))}</text>')
        ty += LINE_H
        badge = _(STATE_WORDS[state]) + (f"  {_codes(hop)}" if hop["codes"] else "")
        parts.append(
            f'<text x="{x + PAD:.0f}" y="{ty:.0f}" class="state" fill="{_STROKE[state]}">{e(_fit(badge))}</text>'
        )
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


_CSS = """
body{font:14px/1.45 -apple-system,"Segoe UI","Noto Sans","DejaVu Sans","Noto Sans CJK SC","PingFang SC",
"Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;margin:24px;color:#202124;background:#fff}
h1{font-size:20px;margin:0 0 4px} .meta{color:#5f6368;margin:0 0 16px}
.state-ok{color:#1e8e3e}.state-failing{color:#d93025}.state-unknown{color:#e37400}
.drawing{overflow-x:auto;border:1px solid #dadce0;border-radius:8px;padding:8px;margin-bottom:20px}
svg.path{max-width:100%;height:auto}
svg text{font-family:"DejaVu Sans Mono",Menlo,Consolas,"Noto Sans Mono CJK SC","WenQuanYi Micro Hei Mono",
monospace;font-size:12px;fill:#202124}
svg text.title{font-weight:bold;font-size:12.5px} svg text.state{font-weight:bold}
table{border-collapse:collapse;width:100%} th,td{border-bottom:1px solid #dadce0;padding:6px 8px;text-align:left;
vertical-align:top} th{background:#f1f3f4}
th,td.sev-error,td.sev-warning,td.sev-info{white-space:nowrap}
.sev-error{color:#d93025;font-weight:bold}.sev-warning{color:#b06000;font-weight:bold}.sev-info{color:#1967d2}
code{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace}
"""


def page(doc: dict[str, Any], _color: bool = False) -> str:
    """One self-contained HTML page: the path as inline SVG, the findings with their remediation. It loads
    nothing (its Content-Security-Policy forbids it): it works offline in a VPC and as a ticket attachment."""
    e = html.escape
    doc = escaped(doc)
    source = doc["source"]
    where = (
        _("snapshot {path}").format(path=source["snapshot"])
        if source.get("snapshot")
        else _("context {context}, cluster {cluster}").format(
            context=source.get("context"), cluster=source.get("cluster")
        )
    )
    rows = []
    for f in doc["findings"]:
        word = _(_SEVERITY_WORDS.get(f["severity"], f["severity"]))
        rows.append(
            f'<tr class="finding" data-code="{e(f["code"])}"><td class="sev-{e(f["severity"])}">{e(word)}</td>'
            f'<td><a href="{e(f["docs"])}"><code>{e(f["code"])}</code></a></td><td>{e(_object(f))}</td>'
            f"<td>{e(f['message'])}</td><td>{e(f['remediation'])}</td></tr>"
        )
    findings = (
        "<table><thead><tr>"
        + "".join(f"<th>{e(h)}</th>" for h in (_("SEVERITY"), _("CODE"), _("OBJECT"), _("MESSAGE"), _("REMEDIATION")))
        + "</tr></thead><tbody>"
        + "\n".join(rows)
        + "</tbody></table>"
        if rows
        else "<p>" + e(_("No finding on this path.")) + "</p>"
    )
    skipped = "".join(
        "<li>" + e(_("skipped {codes}: {reason}").format(codes=",".join(s["codes"]), reason=s["reason"])) + "</li>"
        for s in doc["skipped"]
    )
    state = doc["trace"]["state"]
    lang = "zh-CN" if i18n.language() == "zh" else "en"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}"><head><meta charset="utf-8">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(_heading(doc))}</title>\n<style>{_CSS}</style></head>\n<body>\n"
        f'<h1 class="state-{state}">{e(_heading(doc))}</h1>\n'
        f'<p class="meta">kubectl tke-net trace · {e(where)} · {e(summary_line(doc))}</p>\n'
        f'<div class="drawing">\n{svg(doc)}\n</div>\n'
        + "<h2>"
        + e(_("Findings"))
        + f"</h2>\n{findings}\n"
        + (f"<ul>{skipped}</ul>\n" if skipped else "")
        + "</body></html>\n"
    )


Renderer = Callable[[dict[str, Any], bool], str]

FORMATS: dict[str, Renderer] = {
    "tree": tree,
    "json": lambda doc, _color: render_json(doc),
    "mermaid": mermaid,
    "html": page,
}
