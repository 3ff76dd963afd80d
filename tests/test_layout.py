"""The package's shape: no import cycles between its modules, and I/O imports only in kubectl_tke_net/sources/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "kubectl_tke_net"

# The import rings the package has today, each as the set of its modules (a strongly connected component of the
# import graph). #17 removes them: this list must reach empty, and the test fails when a ring is gone or changed,
# so that it shrinks with each step of the redesign instead of hiding new cycles.
# Empty since the redesign of #17 (k8s.py, facts.py, checks/registry + catalog, entry.py); keep it so.
KNOWN_RINGS: list[frozenset[str]] = []


def module_name(path: Path) -> str:
    """`checks.service` for kubectl_tke_net/checks/service.py, `checks` for its __init__.py, "" for the top."""
    parts = list(path.relative_to(ROOT / PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


def _local(dotted: str) -> str | None:
    """The package-relative name of an absolute module name inside the package, else None."""
    if dotted == PACKAGE:
        return ""
    if dotted.startswith(PACKAGE + "."):
        return dotted[len(PACKAGE) + 1 :]
    return None


def _join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` imports anywhere in its file: top level, inside functions, under
    TYPE_CHECKING (a dependency all the same). `from X import Y` targets module X.Y when that is a module, else X;
    relative imports resolve against the module's own package (a package __init__ is its own package)."""
    is_package = path.name == "__init__.py"
    own_package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _local(alias.name)
                if target is not None:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = own_package.split(".") if own_package else []
                up = node.level - 1
                if up > len(base_parts):
                    raise AssertionError(f"{path}: relative import beyond the package")
                base = ".".join(base_parts[: len(base_parts) - up])
                base = _join(base, node.module) if node.module else base
            else:
                local = _local(node.module or "")
                if local is None:
                    continue
                base = local
            for alias in node.names:
                sub = _join(base, alias.name)
                found.add(sub if sub in known else base)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def rings(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def cycle(edges: dict[str, set[str]], ring: frozenset[str]) -> list[str]:
    """One closed path through a ring, to print: from its first module, breadth-first back to it."""
    start = min(ring)
    parent: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(edges[node] & ring):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if child not in parent:
                parent[child] = node
                queue.append(child)
    raise AssertionError(f"no cycle through {sorted(ring)}")


def _show(name: str) -> str:
    return _join(PACKAGE, name)


def describe(edges: dict[str, set[str]], ring: frozenset[str]) -> str:
    """The ring's modules, one closed path through it, and every import inside it."""
    inside = [f"  {_show(m)} imports {', '.join(map(_show, sorted(edges[m] & ring)))}" for m in sorted(ring)]
    return "\n".join([f"{sorted(ring)}: " + " -> ".join(map(_show, cycle(edges, ring))), *inside])


def test_the_graph_resolves_relative_package_and_lazy_imports() -> None:
    edges = graph()
    assert "facts" in edges["checks.catalog"]  # from kubectl_tke_net.facts import Context
    assert "checks.service" in edges["checks.catalog"]  # inside load_all(): from kubectl_tke_net.checks import service
    assert "i18n" in edges["checks.catalog"]  # from kubectl_tke_net import i18n (a module, not the package)
    assert "checks.registry" in edges["checks.service"]
    assert "" not in edges["checks.catalog"]


def test_rings_finds_direct_and_longer_cycles() -> None:
    edges = {"a": {"b"}, "b": {"a", "c"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(rings(edges), key=sorted) == [frozenset("ab"), frozenset("cde")]
    assert cycle(edges, frozenset("cde")) == ["c", "d", "e", "c"]


def test_no_import_cycles_beyond_the_known_ones() -> None:
    edges = graph()
    found = rings(edges)
    new = [describe(edges, r) for r in found if r not in KNOWN_RINGS]
    assert not new, "import cycles (no two modules may import each other, directly or in a ring):\n" + "\n".join(new)
    gone = [sorted(r) for r in KNOWN_RINGS if r not in found]
    assert not gone, f"these KNOWN_RINGS are gone or changed: update the list in tests/test_layout.py: {gone}"


def test_io_imports_outside_sources_fail_the_lint() -> None:
    """The banned-api table of pyproject.toml is in force: a pure module importing subprocess or urllib3 fails."""
    source = "from __future__ import annotations\n\n\ndef f() -> object:\n    import urllib3\n\n    return urllib3\n"
    for where, expected in (("kubectl_tke_net/render.py", 1), ("kubectl_tke_net/sources/cluster.py", 0)):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--select", "TID251", "--stdin-filename", where, "-"],
            input=source,
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert done.returncode == expected, (where, done.stdout)
        assert ("TID251" in done.stdout) == bool(expected)


def test_build_tools_are_not_installed() -> None:
    """tools/ (docs and catalogue generation) stays in the repository: the wheel's packages are the plugin's only."""
    import tomllib

    from setuptools import find_namespace_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_namespace_packages(where=str(ROOT), include=include)
    assert PACKAGE in packages
    assert all(p == PACKAGE or p.startswith(PACKAGE + ".") for p in packages), packages
    assert not (ROOT / PACKAGE / "docsgen.py").exists() and not (ROOT / PACKAGE / "i18n_catalog.py").exists()
