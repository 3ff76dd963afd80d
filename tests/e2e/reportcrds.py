"""The published PolicyReport and OpenReports CRDs, for the e2e control plane: never written by hand.

Fetched at test time through the Go module proxy with `go mod download` (which checks each module zip against
the checksum database), cached outside the repository beside the control plane's binaries, and checked once
more against the module sums pinned here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from controlplane import ControlPlane, ControlPlaneError


@dataclass(frozen=True)
class Module:
    path: str
    version: str
    sum: str  # the module zip's h1: hash (go.sum's)
    folder: str  # where its CRDs are inside the module


KYVERNO = Module(
    "github.com/kyverno/kyverno",
    "v1.19.1",
    "h1:/MkgFii3/VlQfKR1JpC9tVwNNVNQTt2S4U6qCsafsTU=",
    "config/crds/policyreport",
)
OPENREPORTS = Module(
    "github.com/openreports/reports-api", "v0.2.1", "h1:g9KS3yle9Y1elmww4TK9EkD1rl6inIaiIJPX6e+u680=", "config/crd"
)
CACHE = Path(os.environ.get("TKE_NET_E2E_CACHE") or Path.home() / ".cache" / "kubectl-tke-net" / "e2e")


def _go() -> str:
    go = os.environ.get("GO") or ("/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None)
    go = go or shutil.which("go")
    if not go:
        raise ControlPlaneError("the Go toolchain is needed to fetch the report CRDs (set GO=/path/to/go)")
    return go


def crd_files(module: Module) -> list[Path]:
    """The module's CRD files, from the Go module cache (downloaded on first use)."""
    env = dict(
        os.environ,
        GOMODCACHE=str(CACHE / "gomod"),
        GOFLAGS="-modcacherw",  # a cache that can be removed without chmod
        GOTOOLCHAIN="local",
        GO111MODULE="on",
    )
    done = subprocess.run(
        [_go(), "mod", "download", "-json", f"{module.path}@{module.version}"],
        env=env,
        cwd=CACHE if CACHE.is_dir() else None,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        info: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        info = {}
    if done.returncode != 0 or info.get("Error") or not info.get("Dir"):
        raise ControlPlaneError(f"go mod download {module.path}@{module.version}: {info.get('Error') or done.stderr}")
    if info.get("Sum") != module.sum:
        raise ControlPlaneError(f"{module.path}@{module.version}: sum {info.get('Sum')} is not the pinned {module.sum}")
    files = sorted((Path(info["Dir"]) / module.folder).glob("*.yaml"))
    if not files:
        raise ControlPlaneError(f"{module.path}@{module.version} has no CRD in {module.folder}")
    return files


def install(cp: ControlPlane, *modules: Module) -> list[str]:
    """Create the modules' CRDs on the control plane and wait until each is served; their names."""
    CACHE.mkdir(parents=True, exist_ok=True)
    names = []
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    for module in modules:
        for file in crd_files(module):
            for doc in yaml.safe_load_all(file.read_text(encoding="utf-8")):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                cp.create(path, doc)
                names.append(doc["metadata"]["name"])
                _wait_served(cp, doc)
    return names


def _wait_served(cp: ControlPlane, crd: dict[str, Any]) -> None:
    import time

    group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
    version = next(v["name"] for v in crd["spec"]["versions"] if v.get("served"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, disc = cp.request("GET", f"/apis/{group}/{version}")
        if status == 200 and any(r.get("name") == plural for r in (disc or {}).get("resources", [])):
            return
        time.sleep(0.2)
    raise ControlPlaneError(f"CRD {crd['metadata']['name']} not served within 60s")
