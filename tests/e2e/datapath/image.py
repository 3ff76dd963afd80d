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
from dataclasses import dataclass
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


def _config(diff_ids: list[str], config: dict[str, object], created_by: list[str]) -> bytes:
    """An image configuration: the container's `config`, the layers' uncompressed digests, one history entry
    per layer; fixed dates, so that the same inputs give the same bytes."""
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{sha}" for sha in diff_ids]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": by} for by in created_by],
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
                config = _config(
                    [_sha(layer) for layer in layers],
                    {"Env": ["PATH=/bin"], "Entrypoint": entrypoint, "Cmd": cmd, "WorkingDir": "/"},
                    ["tests/e2e/datapath/image.py"],
                )
                _add(tar, f"{_sha(config)}.json", data=config, mode=0o644)
                manifest.append(
                    {"Config": f"{_sha(config)}.json", "RepoTags": [tag], "Layers": [f"{_sha(x)}.tar" for x in layers]}
                )
            _add(tar, "manifest.json", data=json.dumps(manifest).encode(), mode=0o644)
        shutil.move(staged, out)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))


# The plugin's own image (deploy/cronjob/Containerfile), for the in-cluster CronJob test ---------------------------
#
# No registry is reachable, so `podman build` cannot pull docker.io/library/debian:bookworm-slim. The base is made
# here instead, as that image is made: mmdebstrap (pinned by `make datapath-deps`) runs Debian's minbase variant of
# bookworm from Debian's mirror, with the files bookworm-slim leaves out left out (debuerreotype's slimming: man
# pages, docs but their copyright files, info, locales) and /usr merged by directory symlinks as debootstrap does
# (usr-is-merged, not usrmerge, which pulls perl in): 88 packages, 78 MB unpacked.
# What the Containerfile adds on top is read from the Containerfile itself (containerfile_steps): its COPY files as
# one layer, its USER and ENTRYPOINT as the image's configuration; an instruction it does not know is an error, so
# the image cannot silently drift from the file.
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_RECIPE = 2  # raise when the mmdebstrap command below changes
SLIM_EXCLUDES = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/groff/*",
    "path-exclude=/usr/share/linda/*",
    "path-exclude=/usr/share/lintian/*",
)
# bookworm-slim's configuration, which the Containerfile inherits (ENTRYPOINT resets the base's CMD ["bash"]).
DEBIAN_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def debian_base(cache: Path = CACHE) -> Path:
    """The root filesystem tarball standing in for debian:bookworm-slim; made once (about 30 s), then cached."""
    out = cache / "images" / f"debian-{DEBIAN_SUITE}-slim-r{BASE_RECIPE}.tar"
    if out.exists():
        return out
    if shutil.which("mmdebstrap") is None:
        raise ImageError("mmdebstrap is needed to make the plugin image's Debian base: make datapath-deps")
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_suffix(".partial")
    cmd = ["mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar", "--quiet"]
    cmd += ["--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr"]  # as debootstrap and debuerreotype: no usrmerge
    cmd += [f"--dpkgopt={o}" for o in SLIM_EXCLUDES]
    try:
        _run([*cmd, DEBIAN_SUITE, str(staged), DEBIAN_MIRROR])
        staged.replace(out)
    finally:
        staged.unlink(missing_ok=True)
    return out


@dataclass(frozen=True)
class Containerfile:
    base: str
    copies: tuple[tuple[str, str], ...]  # (source in the build context, destination in the image)
    user: str
    entrypoint: tuple[str, ...]


def containerfile_steps(path: Path) -> Containerfile:
    """FROM, COPY, USER and ENTRYPOINT (exec form) of a Containerfile; anything else is refused."""
    base, user, entrypoint, copies = "", "", (), []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word, rest = word.upper(), rest.strip()
        if word == "FROM":
            base = rest
        elif word == "COPY" and len(rest.split()) == 2 and not rest.startswith("--"):
            src, dst = rest.split()
            copies.append((src, dst))
        elif word == "USER":
            user = rest
        elif word == "ENTRYPOINT" and rest.startswith("["):
            entrypoint = tuple(json.loads(rest))
        else:
            raise ImageError(f"{path}: the test's image builder does not know `{line}`: teach image.py or drop it")
    if not base or not copies or not entrypoint:
        raise ImageError(f"{path}: FROM, COPY and ENTRYPOINT expected")
    return Containerfile(base, tuple(copies), user, entrypoint)


def _copy_layer(context: Path, copies: tuple[tuple[str, str], ...]) -> bytes:
    """COPY as podman does it without --chown: owned by root, the source's mode, parent folders made."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        made: set[str] = set()
        for src, dst in copies:
            parts = dst.strip("/").split("/")
            for i in range(1, len(parts)):
                folder = "/".join(parts[:i])
                if folder not in made:
                    made.add(folder)
                    _add(tar, folder)
            source = context / src
            _add(tar, "/".join(parts), data=source.read_bytes(), mode=source.stat().st_mode & 0o7777)
    return buf.getvalue()


def plugin_image(containerfile: Path, context: Path, tag: str, cache: Path = CACHE) -> Path:
    """An OCI archive of the image `podman build -f containerfile -t tag context` makes, on debian_base();
    cached by what goes into it (the files copied, the Containerfile, the tag)."""
    steps = containerfile_steps(containerfile)
    if steps.base != "docker.io/library/debian:bookworm-slim":
        raise ImageError(f"{containerfile}: FROM {steps.base}: only debian:bookworm-slim can be made here")
    key = hashlib.sha256(containerfile.read_bytes() + tag.encode() + f"r{BASE_RECIPE}".encode())
    for src, _ in steps.copies:
        key.update((context / src).read_bytes())
    out = cache / "images" / f"kubectl-tke-net-{key.hexdigest()[:16]}.oci.tar"
    if out.exists():
        return out
    for old in out.parent.glob("kubectl-tke-net-*.oci.tar"):  # one plugin image at a time: each is ~150 MB
        old.unlink()
    base = debian_base(cache)
    top = _copy_layer(context, steps.copies)
    base_sha = hashlib.sha256()
    with open(base, "rb") as f:
        while chunk := f.read(1 << 20):
            base_sha.update(chunk)
    layers = [(base_sha.hexdigest(), base.stat().st_size), (_sha(top), len(top))]
    config = _config(
        [sha for sha, _ in layers],
        {"User": steps.user, "Env": [DEBIAN_PATH], "Entrypoint": list(steps.entrypoint)},
        [f"mmdebstrap --variant=minbase {DEBIAN_SUITE}", f"{containerfile.name}: COPY, USER, ENTRYPOINT"],
    )
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": f"sha256:{_sha(config)}", "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": f"sha256:{sha}", "size": size} for sha, size in layers],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": f"sha256:{_sha(manifest)}",
                    "size": len(manifest),
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": tag,
                        "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[-1],
                    },
                }
            ],
        }
    ).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_suffix(".partial")
    try:
        with tarfile.open(staged, "w") as tar:
            _add(tar, "oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}', mode=0o644)
            _add(tar, "index.json", data=index, mode=0o644)
            _add(tar, "blobs")
            _add(tar, "blobs/sha256")
            info = tarfile.TarInfo(f"blobs/sha256/{layers[0][0]}")
            info.size, info.mode = layers[0][1], 0o644
            with open(base, "rb") as f:
                tar.addfile(info, f)
            for blob in (top, config, manifest):
                _add(tar, f"blobs/sha256/{_sha(blob)}", data=blob, mode=0o644)
        staged.replace(out)
    finally:
        staged.unlink(missing_ok=True)
    return out
