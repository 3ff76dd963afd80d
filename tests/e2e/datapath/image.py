"""The data path's container images, built here: no registry is reachable from this machine.

busybox-static comes from Debian (`apt-get download` and `dpkg -x`: installing it would remove the `busybox` package
the probe-script tests use) and CoreDNS from coredns/build.sh. Both go into one docker-archive tarball that
`ctr -n k8s.io images import` loads into each node's containerd:

- BUSYBOX: the probe image (`--probe-image`), the pause image (its default command sleeps) and the backends'
  image (`httpd`);
- COREDNS: the same busybox layer with /bin/coredns on top.

Run as a script it prints the tarball's path (built once, cached beside the binaries, keyed by both versions).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

CACHE = Path(os.environ.get("TKE_NET_E2E_CACHE") or Path.home() / ".cache" / "kubectl-tke-net" / "e2e")
# Debian bookworm's busybox-static; its version is checked against the one downloaded.
BUSYBOX_PACKAGE = "busybox-static"
BUSYBOX_VERSION = "1:1.35.0-4+deb12u1+b1"
BUSYBOX = "tke-net-e2e.local/busybox:1.35.0"
COREDNS_TAG = "tke-net-e2e.local/coredns"
RECIPE = 2  # raise when what build() puts in the images changes: the cached tarball's name carries it
SLEEP = ["/bin/sleep", "2147483647"]  # the pause container's command: containerd stops it with SIGKILL
INDEX_HTML = b"tke-net e2e backend\n"


class ImageError(RuntimeError):
    pass


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise ImageError(f"{' '.join(cmd)} failed (exit {done.returncode}): {(done.stdout + done.stderr).strip()}")
    return done.stdout


def _fetch_busybox(work: Path) -> Path:
    """busybox-static unpacked under work/root; the pinned version when Debian still serves it, else the current."""
    last = ""
    for spec in (f"{BUSYBOX_PACKAGE}={BUSYBOX_VERSION}", BUSYBOX_PACKAGE):
        try:
            _run(["apt-get", "download", "-q", spec], cwd=work)
            break
        except ImageError as e:
            last = str(e)
    else:
        raise ImageError(f"cannot download {BUSYBOX_PACKAGE} (run `make datapath-deps` as root first): {last}")
    (deb,) = work.glob("*.deb")
    version = _run(["dpkg-deb", "-f", str(deb), "Version"]).strip()
    if version != BUSYBOX_VERSION:
        print(f"image.py: {BUSYBOX_PACKAGE} {BUSYBOX_VERSION} is gone from Debian; using {version}", file=sys.stderr)
    _run(["dpkg", "-x", str(deb), str(work / "root")])
    return work / "root" / "bin" / "busybox"


def _add(
    tar: tarfile.TarFile, name: str, *, data: bytes | None = None, link: str | None = None, mode: int = 0o755
) -> None:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.mode = 0, 0, 0, mode
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
        tar.addfile(info)
    elif data is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _busybox_layer(busybox: Path) -> bytes:
    applets = _run([str(busybox), "--list"]).split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d in ("bin", "etc", "tmp", "www", "proc", "sys", "dev"):
            _add(tar, d, mode=0o1777 if d == "tmp" else 0o755)
        _add(tar, "bin/busybox", data=busybox.read_bytes())
        for applet in applets:
            if applet != "busybox":
                _add(tar, f"bin/{applet}", link="busybox")
        _add(
            tar, "etc/passwd", data=b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", mode=0o644
        )
        _add(tar, "etc/group", data=b"root:x:0:\nnogroup:x:65534:\n", mode=0o644)
        _add(tar, "www/index.html", data=INDEX_HTML, mode=0o644)
    return buf.getvalue()


def _file_layer(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        _add(tar, name, data=data)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _config(layers: list[bytes], cmd: list[str], entrypoint: list[str] | None) -> bytes:
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": {"Env": ["PATH=/bin"], "Entrypoint": entrypoint, "Cmd": cmd, "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{_sha(layer)}" for layer in layers]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "tests/e2e/datapath/image.py"}],
        },
        sort_keys=True,
    ).encode()


def coredns_tag(coredns: Path) -> str:
    return f"{COREDNS_TAG}:{coredns.parent.name.removeprefix('coredns-')}"


def build(coredns: Path, cache: Path = CACHE) -> Path:
    """The docker-archive tarball of BUSYBOX and coredns_tag(coredns); built once."""
    out = (
        cache / "images" / f"busybox-{BUSYBOX_VERSION.rsplit(':', maxsplit=1)[-1]}-{coredns.parent.name}-r{RECIPE}.tar"
    )
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        work = Path(tmp)
        busybox = _fetch_busybox(work)
        base = _busybox_layer(busybox)
        dns = _file_layer("bin/coredns", coredns.read_bytes())
        images = [
            (BUSYBOX, [base], None, SLEEP),
            (coredns_tag(coredns), [base, dns], ["/bin/coredns"], ["-conf", "/etc/coredns/Corefile"]),
        ]
        staged = work / "archive.tar"
        with tarfile.open(staged, "w") as tar:
            manifest = []
            for layer in (base, dns):
                _add(tar, f"{_sha(layer)}.tar", data=layer, mode=0o644)
            for tag, layers, entrypoint, cmd in images:
                config = _config(layers, cmd, entrypoint)
                _add(tar, f"{_sha(config)}.json", data=config, mode=0o644)
                manifest.append(
                    {"Config": f"{_sha(config)}.json", "RepoTags": [tag], "Layers": [f"{_sha(x)}.tar" for x in layers]}
                )
            _add(tar, "manifest.json", data=json.dumps(manifest).encode(), mode=0o644)
        shutil.move(staged, out)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
