"""Freezes the plugin with PyInstaller: one file dist/kubectl-tke_net (shipped), or one folder (measured only).

Usage: python packaging/build_binary.py [--onedir] [--distpath DIR]
The executable needs no Python on the target machine; it carries the interpreter, the package, PyYAML with its
C loader, msgspec, tabulate, packaging, urllib3 (with PySocks), and the Tencent Cloud
SDK (common, cvm, vpc, clb, ssl) for the cloud checks.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "kubectl-tke_net"
ENTRY = ROOT / "kubectl_tke_net" / "__main__.py"

# sources/cluster.py and cli.py import these inside functions, after argument parsing (so that --help and version do
# not pay for them); PyInstaller's analysis finds most such imports, these are declared so that it cannot miss
# the ones a live run needs.
HIDDEN_IMPORTS = (
    "urllib3",
    "urllib3.util.retry",
    "urllib3.contrib.socks",  # a socks5:// proxy-url; it imports PySocks (`socks`)
    "socks",
    "yaml",
    "msgspec",
    "msgspec.json",
    "tabulate",
    "packaging.version",
    "kubectl_tke_net.sources.cluster",
    "kubectl_tke_net.sources.kubeconfig",
    "kubectl_tke_net.complete",
    # The Tencent Cloud SDK, which kubectl_tke_net.sources.cloud imports only for runs with the cloud checks (TKE4xx).
    "kubectl_tke_net.sources.cloud",
    "tencentcloud.common.credential",
    "tencentcloud.common.profile.client_profile",
    "tencentcloud.common.profile.http_profile",
    "tencentcloud.common.exception.tencent_cloud_sdk_exception",
    "tencentcloud.cvm.v20170312.cvm_client",
    "tencentcloud.vpc.v20170312.vpc_client",
    "tencentcloud.clb.v20180317.clb_client",
    "tencentcloud.ssl.v20191205.ssl_client",
    "certifi",
)
# Standard-library pieces nothing here imports at run time; leaving them out keeps the file smaller.
EXCLUDES = ("tkinter", "pydoc_data", "lib2to3", "idlelib", "ensurepip", "venv")


def pyinstaller_args(onedir: bool, distpath: Path) -> list[str]:
    work = ROOT / "build" / "pyinstaller" / ("onedir" if onedir else "onefile")
    args = [
        str(ENTRY),
        "--name",
        NAME,
        "--onedir" if onedir else "--onefile",
        "--distpath",
        str(distpath),
        "--workpath",
        str(work),
        "--specpath",
        str(work),
        "--paths",
        str(ROOT),
        "--noconfirm",
        "--console",
        "--log-level",
        "WARN",
    ]
    if sys.platform.startswith("linux"):  # on macOS stripping would void the ad-hoc signature arm64 needs
        args.append("--strip")
    # Files the package reads at run time: probe/probe.sh through importlib.resources, the compiled message
    # catalogues locale/*/LC_MESSAGES/*.mo through gettext.
    args += ["--collect-data", "kubectl_tke_net"]
    for module in HIDDEN_IMPORTS:
        args += ["--hidden-import", module]
    # PyYAML's C loader (what --snapshot and kubeconfig parsing use when present) is an extension module.
    if importlib.util.find_spec("yaml._yaml") is not None:
        args += ["--hidden-import", "yaml._yaml"]
    for module in EXCLUDES:
        args += ["--exclude-module", module]
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onedir", action="store_true", help="one folder instead of one file")
    parser.add_argument("--distpath", type=Path, help="output folder (default dist, or dist/onedir with --onedir)")
    opts = parser.parse_args(argv)
    distpath = opts.distpath or (ROOT / "dist" / "onedir" if opts.onedir else ROOT / "dist")
    started = time.monotonic()
    # The message catalogues (--lang zh) are build output: compile them so --collect-data bundles the .mo.
    subprocess.run([sys.executable, "-m", "tools.i18n_catalog", "compile"], cwd=ROOT, check=True)
    cmd = [sys.executable, "-m", "PyInstaller", *pyinstaller_args(opts.onedir, distpath)]
    done = subprocess.run(cmd, cwd=ROOT, check=False)
    if done.returncode != 0:
        print(f"build_binary: PyInstaller failed (exit {done.returncode})", file=sys.stderr)
        return done.returncode
    exe = distpath / NAME / NAME if opts.onedir else distpath / NAME
    if sys.platform == "win32":
        exe = exe.with_suffix(".exe")
    check = subprocess.run([str(exe), "version"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        print(f"build_binary: {exe} version failed: {check.stderr.strip()}", file=sys.stderr)
        return 1
    print(f"build_binary: {exe} ({check.stdout.strip()}) in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
