"""Generates docs/checks/CODE.md and the README's checks table from the registry (`make docs`; not installed)."""

from __future__ import annotations

import re
from pathlib import Path

from kubectl_tke_net import i18n
from kubectl_tke_net.checks import catalog as checks
from kubectl_tke_net.i18n import _

BEGIN, END = "<!-- checks:begin -->", "<!-- checks:end -->"


def page(code: str) -> str:
    """The docs page of a code in the current language (i18n.set_language)."""
    chk = checks.CHECKS[code]
    commands = ", ".join(f"`{c}`" for c in sorted(chk.commands))
    lang = "" if i18n.language() == "en" else f" --lang {i18n.language()}"
    head = _("# {code}: {title}\n\nSeverity: **{severity}**. Run by: {commands}. `{command}` prints this page.").format(
        code=code,
        title=_(chk.title),
        severity=chk.severity,
        commands=commands,
        command=f"kubectl tke-net checks {code}{lang}",
    )
    return f"{head}\n\n{_(chk.doc)}\n"


def pages(lang: str) -> dict[str, str]:
    """Every code's page in `lang`: docs/checks/CODE.md in English, docs/checks/zh/CODE.md in Chinese."""
    previous = i18n.language()
    i18n.set_language(lang)
    try:
        return {code: page(code) for code in checks.CHECKS}
    finally:
        i18n.set_language(previous)


def table() -> str:
    rows = ["| code | severity | title | run by |", "|---|---|---|---|"]
    for code, chk in sorted(checks.CHECKS.items()):
        rows.append(
            f"| [{code}](docs/checks/{code}.md) | {chk.severity} | {chk.title} | {', '.join(sorted(chk.commands))} |"
        )
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    block = f"{BEGIN}\n{table()}\n{END}"
    return re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _m: block, text, flags=re.S)


def expected(root: Path) -> dict[Path, str]:
    """Every generated file with the content it must have."""
    checks.load_all()
    files = {root / "docs" / "checks" / f"{code}.md": text for code, text in pages("en").items()}
    files |= {root / "docs" / "checks" / "zh" / f"{code}.md": text for code, text in pages("zh").items()}
    readme = root / "README.md"
    files[readme] = readme_with_table(readme.read_text(encoding="utf-8"))
    return files


def main() -> None:
    root = Path.cwd()
    for path, text in expected(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(root)}")


if __name__ == "__main__":
    main()
