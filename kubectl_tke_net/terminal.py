"""Text from the cluster made safe for a terminal: control characters written as visible escapes.

An Event message, an annotation or a name can carry escape sequences that retitle, recolour or rewrite the
operator's terminal (kubectl fixed the same class, CVE-2021-25743). Every human-readable output passes the text
it did not write itself through `escape`; JSON and YAML escape control characters by themselves.
"""

from __future__ import annotations


def _table() -> dict[int, str]:
    table = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
    table.update({0x1B: "^[", 0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t"})
    # Bidirectional overrides and isolates reorder what follows them on screen ("Trojan Source"); the line and
    # paragraph separators end a line in some terminals.
    for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x2028, 0x2029):
        table[c] = f"\\u{c:04x}"
    return table


_ESCAPES = _table()
_MULTILINE = {c: s for c, s in _ESCAPES.items() if c != 0x0A}


def escape(text: object) -> str:
    """One line of text with every control character escaped (a newline too: `\\n`)."""
    return str(text).translate(_ESCAPES)


def escape_lines(text: str) -> str:
    """Text of several lines whose line breaks are kept and every other control character escaped."""
    return text.translate(_MULTILINE)
