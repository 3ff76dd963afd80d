"""Builds the one-file and the one-folder executables in one run and compares their size and start time.

Usage: python packaging/measure_binary.py [--runs N] [--no-build]
Each command runs once to warm the page cache, then N times; the table gives the median (min-max) wall time.
The source install (.venv/bin/kubectl-tke_net, Python's console script) is measured alongside when present.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

import build_binary  # noqa: E402

OUT = ROOT / "build" / "measure"
DEMO = "examples/demo-cluster.yaml"
COMMANDS = {
    "version": ["version"],
    "snapshot svc -A -o json": ["svc", "-A", "--snapshot", DEMO, "-o", "json", "--fail-on", "never"],
}


def tree_size(path: Path) -> tuple[int, int]:
    if path.is_file():
        return path.stat().st_size, 1
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def packed_size(path: Path) -> int:
    """Size of the tar.gz a user would download (what Krew fetches)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(path, arcname=path.name)
    return len(buf.getvalue())


def timings(exe: Path, args: list[str], runs: int) -> list[float]:
    out = []
    for i in range(runs + 1):
        started = time.perf_counter()
        done = subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, check=False)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{exe} {' '.join(args)} failed: {done.stderr.decode(errors='replace')[-500:]}")
        if i:  # the first run only warms the caches
            out.append(elapsed)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--no-build", action="store_true", help="measure the executables of the previous run")
    opts = parser.parse_args(argv)
    onefile, onedir = OUT / "onefile", OUT / "onedir"
    builds = {}
    if not opts.no_build:
        for name, dist, flags in (("one-file", onefile, []), ("one-folder", onedir, ["--onedir"])):
            started = time.monotonic()
            if build_binary.main([*flags, "--distpath", str(dist)]) != 0:
                return 1
            builds[name] = time.monotonic() - started
    targets = {
        "one-file": (onefile / build_binary.NAME, onefile / build_binary.NAME),
        "one-folder": (onedir / build_binary.NAME / build_binary.NAME, onedir / build_binary.NAME),
    }
    source = ROOT / ".venv" / "bin" / build_binary.NAME
    if source.exists():
        targets["source (venv)"] = (source, source)
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {opts.runs} runs after one warm-up\n")
    header = f"{'build':<14} {'size':>9} {'files':>6} {'tar.gz':>9} " + " ".join(
        f"{name + ' median (min-max)':>36}" for name in COMMANDS
    )
    print(header)
    print("-" * len(header))
    for name, (exe, payload) in targets.items():
        size, count = tree_size(payload)
        packed = packed_size(payload) if name != "source (venv)" else 0
        cells = []
        for args in COMMANDS.values():
            t = timings(exe, args, opts.runs)
            cells.append(f"{statistics.median(t) * 1000:7.0f} ms ({min(t) * 1000:.0f}-{max(t) * 1000:.0f})")
        size_text = f"{size / 2**20:7.1f}M" if name != "source (venv)" else f"{'-':>8}"
        packed_text = f"{packed / 2**20:7.1f}M" if packed else f"{'-':>8}"
        print(
            f"{name:<14} {size_text:>9} {count if packed else '-':>6} {packed_text:>9} "
            + " ".join(f"{c:>36}" for c in cells)
        )
    if builds:
        print("\nbuild time: " + ", ".join(f"{k} {v:.0f}s" for k, v in builds.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
