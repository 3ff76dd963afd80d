"""Generates docs/checks/CODE.md and the README's checks table from the registry (`make docs`)."""

from __future__ import annotations

import re
from pathlib import Path

from kubectl_tke_net import checks

BEGIN, END = "<!-- checks:begin -->", "<!-- checks:end -->"


def page(code: str) -> str:
    chk = checks.CHECKS[code]
    commands = ", ".join(f"`{c}`" for c in sorted(chk.commands))
    return (f"# {code}: {chk.title}\n\nSeverity: **{chk.severity}**. Run by: {commands}. "
            f"`kubectl tke-net checks {code}` prints this page.\n\n{chk.doc}\n")


def table() -> str:
    rows = ["| code | severity | title | run by |", "|---|---|---|---|"]
    for code, chk in sorted(checks.CHECKS.items()):
        rows.append(f"| [{code}](docs/checks/{code}.md) | {chk.severity} | {chk.title} | "
                    f"{', '.join(sorted(chk.commands))} |")
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    block = f"{BEGIN}\n{table()}\n{END}"
    return re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _m: block, text, flags=re.S)


def expected(root: Path) -> dict[Path, str]:
    """Every generated file with the content it must have."""
    checks.load_all()
    files = {root / "docs" / "checks" / f"{code}.md": page(code) for code in checks.CHECKS}
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
