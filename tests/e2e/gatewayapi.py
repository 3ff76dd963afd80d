"""The Gateway API CRDs as the project publishes them: the standard channel of the `sigs.k8s.io/gateway-api` Go
module, fetched through the Go module proxy at test time (never hand-written), checked against the module's
pinned h1 hash (what go.sum would hold) and cached outside the repository like the control plane's binaries."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import urllib.request
import zipfile
from pathlib import Path

MODULE = "sigs.k8s.io/gateway-api"
VERSION = "v1.6.3"  # v1.7 needs a newer Go than these machines have; its CRDs are v1 for every kind read here
# dirhash h1 of the module zip, as `go mod download` would check it against go.sum.
H1 = "h1:lKpJa5bGlraC/QeACvCpsHLdmO6y0iKfzVl6gzaFEYc="
KINDS = ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants")
CACHE = Path(os.environ.get("TKE_NET_E2E_CACHE") or Path.home() / ".cache" / "kubectl-tke-net" / "e2e")


class FetchError(Exception):
    pass


def _h1(archive: zipfile.ZipFile) -> str:
    names = sorted(n for n in archive.namelist() if not n.endswith("/"))
    lines = "".join(f"{hashlib.sha256(archive.read(n)).hexdigest()}  {n}\n" for n in names)
    return "h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()


def crd_files(timeout: float = 120) -> list[Path]:
    """The standard-channel CRD files of the kinds the plugin reads, downloaded once and cached."""
    folder = CACHE / f"gateway-api-{VERSION}"
    wanted = [folder / f"gateway.networking.k8s.io_{kind}.yaml" for kind in KINDS]
    if all(p.is_file() for p in wanted):
        return wanted
    proxy = (os.environ.get("GOPROXY") or "https://proxy.golang.org").split(",")[0].split("|")[0]
    if proxy in ("direct", "off"):
        proxy = "https://proxy.golang.org"
    url = f"{proxy.rstrip('/')}/{MODULE}/@v/{VERSION}.zip"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            body = answer.read()
    except OSError as exc:
        raise FetchError(f"cannot download {url}: {exc}") from exc
    archive = zipfile.ZipFile(io.BytesIO(body))
    got = _h1(archive)
    if got != H1:
        raise FetchError(f"{MODULE}@{VERSION}: hash {got} is not the pinned {H1}")
    folder.mkdir(parents=True, exist_ok=True)
    for path in wanted:
        member = f"{MODULE}@{VERSION}/config/crd/standard/{path.name}"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(archive.read(member))
        tmp.replace(path)
    return wanted
