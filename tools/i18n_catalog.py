"""Build-time tooling for the message catalogues: extract, update, check and compile (needs Babel; not part of the
installed package: at run time kubectl_tke_net.i18n reads the compiled .mo with the standard library's gettext).

    python -m tools.i18n_catalog update    # `make i18n`: re-extract, merge into every .po
    python -m tools.i18n_catalog check     # what tests/test_i18n.py asserts: complete and not stale
    python -m tools.i18n_catalog compile [BUILD_LIB]   # .po -> .mo (in place, or under BUILD_LIB)

Messages are the arguments of `_()`, `N_()` and `ngettext()` in the package and in tools/docsgen.py (the docs
pages' Chinese header), and the docstring of every check
(a function decorated with `@check(...)`), taken whole and cleaned as `inspect.cleandoc` does, since that is the
text `kubectl tke-net checks CODE` looks up.
"""

from __future__ import annotations

import ast
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kubectl_tke_net"
DOMAIN = "kubectl-tke-net"
LOCALE_DIR = PACKAGE / "locale"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
# The runtime module that defines _() is not user-visible text.
SKIP = {PACKAGE / "i18n.py"}
# str.format fields and, for argparse's own messages, %-format fields.
_PLACEHOLDER = re.compile(r"\{[^{}\s]*\}|%\(\w+\)[a-z]|%[sdr]")

Message = str | tuple[str, str]


def po_files() -> list[Path]:
    return sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def _check_docstrings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name) and deco.func.id == "check":
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    yield node.lineno, doc


def extract() -> list[tuple[Message, str, int]]:
    """(message, file relative to the repository, line) for every translatable string of the package and the docs."""
    from babel.messages.extract import extract_python

    found: list[tuple[Message, str, int]] = []
    for path in [*sorted(PACKAGE.rglob("*.py")), ROOT / "tools" / "docsgen.py"]:
        if path in SKIP:
            continue
        rel = path.relative_to(ROOT).as_posix()
        source = path.read_bytes()
        for lineno, func, message, _comments in extract_python(io.BytesIO(source), KEYWORDS, [], {}):
            if func == "ngettext" and isinstance(message, tuple):
                if len(message) >= 2 and all(isinstance(m, str) and m for m in message[:2]):
                    found.append(((str(message[0]), str(message[1])), rel, lineno))
            elif func in ("_", "N_") and isinstance(message, str) and message:
                found.append((message, rel, lineno))
        for lineno, doc in _check_docstrings(ast.parse(source)):
            found.append((doc, rel, lineno))
    return found


def template() -> Any:
    """A Babel Catalog of the extracted messages (the .pot that is never written)."""
    from babel.messages.catalog import Catalog

    catalog = Catalog(domain=DOMAIN, project="kubectl-tke-net", fuzzy=False)
    for message, rel, lineno in extract():
        catalog.add(message, locations=[(rel, lineno)])
    return catalog


def _read(path: Path) -> Any:
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        return read_po(f, domain=DOMAIN)


def _write(path: Path, catalog: Any) -> None:
    from babel.messages.pofile import write_po

    buf = io.BytesIO()
    write_po(buf, catalog, width=116, include_lineno=False, ignore_obsolete=True, omit_header=False)
    path.write_bytes(buf.getvalue())


def update() -> list[Path]:
    """Merge the extracted messages into every .po: new ones get an empty msgstr, gone ones are dropped."""
    tmpl = template()
    for path in po_files():
        catalog = _read(path)
        catalog.update(tmpl, no_fuzzy_matching=True, update_header_comment=False)
        _write(path, catalog)
    return po_files()


def placeholders(text: str) -> list[str]:
    """The `{name}` and `%(name)s` fields of a text, sorted (`{{`/`}}`/`%%` are literal, not fields)."""
    return sorted(_PLACEHOLDER.findall(text.replace("{{", "").replace("}}", "").replace("%%", "")))


def problems(path: Path) -> list[str]:
    """Why the catalogue at `path` is not complete: missing, untranslated, fuzzy, stale, placeholders differ."""
    catalog = _read(path)
    wanted: dict[str, tuple[Message, str, int]] = {}
    for message, rel, lineno in extract():
        key = message[0] if isinstance(message, tuple) else message
        wanted.setdefault(key, (message, rel, lineno))
    out = []
    have = {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in catalog if m.id}
    for key, (message, rel, lineno) in wanted.items():
        where = f"{rel}:{lineno}"
        entry = have.get(key)
        if entry is None:
            out.append(f"{where}: missing from {path.name}: {key[:70]!r}")
            continue
        strings = list(entry.string) if isinstance(entry.string, tuple) else [entry.string]
        ids = list(message) if isinstance(message, tuple) else [message]
        if isinstance(message, tuple) != isinstance(entry.id, tuple):
            out.append(f"{where}: plural form differs between code and {path.name}: {key[:70]!r}")
        if entry.fuzzy:
            out.append(f"{where}: fuzzy: {key[:70]!r}")
        if not all(s.strip() for s in strings):
            out.append(f"{where}: not translated: {key[:70]!r}")
            continue
        for s in strings:
            if placeholders(s) != placeholders(ids[-1]) and placeholders(s) != placeholders(ids[0]):
                out.append(f"{where}: placeholders differ: {placeholders(ids[0])} vs {placeholders(s)} in {key[:60]!r}")
    for key in have:
        if key not in wanted:
            out.append(f"{path.name}: stale entry (no longer in the code): {key[:70]!r}")
    out += [f"{path.name}: stale (obsolete) entry: {str(m.id)[:70]!r}" for m in catalog.obsolete.values()]
    return out


def compile_all(build_lib: Path | None = None) -> list[Path]:
    """Write LC_MESSAGES/kubectl-tke-net.mo beside each .po, or under BUILD_LIB/kubectl_tke_net/locale."""
    from babel.messages.mofile import write_mo

    written = []
    for po in po_files():
        rel = po.relative_to(LOCALE_DIR).with_suffix(".mo")
        target = (build_lib / "kubectl_tke_net" / "locale" / rel) if build_lib else LOCALE_DIR / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        write_mo(buf, _read(po), use_fuzzy=False)
        if not target.exists() or target.read_bytes() != buf.getvalue():
            target.write_bytes(buf.getvalue())
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "update":
        for path in update():
            print(f"updated {path.relative_to(ROOT)}")
        return 0
    if command == "check":
        found = [p for path in po_files() for p in problems(path)]
        for line in found:
            print(line)
        return 1 if found else 0
    if command == "compile":
        for path in compile_all(Path(argv[1]) if len(argv) > 1 else None):
            print(f"compiled {path}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
