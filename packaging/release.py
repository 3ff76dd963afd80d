"""Release archives and the Krew manifest: `archive` packs one platform's build, `manifest` renders the template.

  python packaging/release.py archive [--os OS] [--arch ARCH]
      dist/kubectl-tke_net_<version>_<os>_<arch>.tar.gz (.zip for windows) holding the executable, the
      completion helper kubectl_complete-tke_net and LICENSE; prints its path and sha256.
  python packaging/release.py manifest [ARCHIVE...] [--base-url URL] [--output krew/tke-net.yaml]
      krew/tke-net.yaml from krew/tke-net.yaml.tmpl, one platform per archive (default: every archive of this
      version in dist/), each with the archive's sha256 and its release URL.

Standard library only, so that any Python 3.11 runs it (the release workflow's jobs too).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import platform
import re
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
TEMPLATE = ROOT / "krew" / "tke-net.yaml.tmpl"
MANIFEST = ROOT / "krew" / "tke-net.yaml"
HOMEPAGE = "https://github.com/tke-net/kubectl-tke-net"
RELEASES = HOMEPAGE + "/releases/download/v{version}"
PLUGIN = "kubectl-tke_net"
HELPER = "kubectl_complete-tke_net"
# Krew's supported platforms (validate-krew-manifest's list); the release workflow builds five of them.
OSES = ("linux", "darwin", "windows")
ARCHES = ("amd64", "arm64", "386", "arm", "ppc64le")
ARCHIVE_NAME = re.compile(
    rf"^{PLUGIN}_(?P<version>[0-9][^_]*)_(?P<os>{'|'.join(OSES)})_(?P<arch>{'|'.join(ARCHES)})\.(?:tar\.gz|zip)$"
)
# Archive members get a fixed time so that the same files give the same archive (and sha256).
EPOCH = 315532800  # 1980-01-01, the earliest time a zip entry can hold


class ReleaseError(Exception):
    pass


def version() -> str:
    text = (ROOT / "kubectl_tke_net" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if not match:
        raise ReleaseError("no __version__ in kubectl_tke_net/__init__.py")
    return match.group(1)


def host_platform() -> tuple[str, str]:
    system = {"linux": "linux", "darwin": "darwin", "win32": "windows"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return system, arch


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()  # lowercase, as Krew requires


def archive_members(os_name: str, binary: Path | None = None) -> list[tuple[str, Path, int]]:
    """(name in the archive, source file, mode) for one platform's archive."""
    exe = ".exe" if os_name == "windows" else ""
    helper = ROOT / "packaging" / (HELPER + (".cmd" if os_name == "windows" else ""))
    members = [
        (PLUGIN + exe, binary or DIST / (PLUGIN + exe), 0o755),
        (helper.name, helper, 0o755),
        ("LICENSE", ROOT / "LICENSE", 0o644),
    ]
    for name, path, _mode in members:
        if not path.is_file():
            raise ReleaseError(f"{path} does not exist (for {name}; run `make binary` first?)")
    return members


def make_archive(os_name: str, arch: str, binary: Path | None = None, dist: Path = DIST) -> Path:
    members = archive_members(os_name, binary)
    dist.mkdir(parents=True, exist_ok=True)
    suffix = "zip" if os_name == "windows" else "tar.gz"
    out = dist / f"{PLUGIN}_{version()}_{os_name}_{arch}.{suffix}"
    tmp = out.with_name(out.name + ".tmp")
    if suffix == "zip":
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, path, mode in members:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    else:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for name, path, mode in members:
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = path.stat().st_size, mode, EPOCH
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(path, "rb") as fh:
                    tf.addfile(info, fh)
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=EPOCH) as gz:
            gz.write(buf.getvalue())
    tmp.replace(out)
    return out


@dataclass(frozen=True)
class Platform:
    os: str
    arch: str
    archive: Path
    sha256: str

    def entry(self, base_url: str) -> str:
        exe = ".exe" if self.os == "windows" else ""
        helper = HELPER + (".cmd" if self.os == "windows" else "")
        files = "".join(f"    - from: {name}\n      to: .\n" for name in (PLUGIN + exe, helper, "LICENSE"))
        return (
            "  - selector:\n"
            "      matchLabels:\n"
            f"        os: {self.os}\n"
            f"        arch: {self.arch}\n"
            f"    uri: {base_url.rstrip('/')}/{self.archive.name}\n"
            f"    sha256: {self.sha256}\n"
            "    files:\n"
            f"{files}"
            f"    bin: {PLUGIN}{exe}\n"
        )


def platforms(archives: list[Path]) -> list[Platform]:
    want = version()
    found: dict[tuple[str, str], Platform] = {}
    for path in archives:
        match = ARCHIVE_NAME.match(path.name)
        if not match:
            raise ReleaseError(f"{path.name}: not a release archive name ({PLUGIN}_<version>_<os>_<arch>.tar.gz)")
        if match["version"] != want:
            raise ReleaseError(f"{path.name}: version {match['version']}, but the package is {want}")
        key = (match["os"], match["arch"])
        if key in found:
            raise ReleaseError(f"two archives for {key[0]}/{key[1]}: {found[key].archive.name}, {path.name}")
        found[key] = Platform(key[0], key[1], path, sha256(path))
    if not found:
        raise ReleaseError(f"no release archive of version {want} (run `make krew`)")
    return [found[k] for k in sorted(found)]


def render(archives: list[Path], base_url: str | None = None, template: Path = TEMPLATE) -> str:
    ver = version()
    values = {
        "version": ver,
        "homepage": HOMEPAGE,
        "platforms": "".join(p.entry(base_url or RELEASES.format(version=ver)) for p in platforms(archives)),
    }

    def fill(match: re.Match[str]) -> str:
        if match[1] not in values:
            raise ReleaseError(f"{template.name}: unknown placeholder {match[0]}")
        return values[match[1]]

    lines = template.read_text(encoding="utf-8").splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)  # the template's own notes
    body = re.sub(r"\{\{ *(\w+) *\}\}", fill, "".join(lines)).rstrip() + "\n"
    return f"# Generated by packaging/release.py from {template.name}; do not edit.\n{body}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    host_os, host_arch = host_platform()
    p = sub.add_parser("archive", help="pack dist/ executable, completion helper and LICENSE")
    p.add_argument("--os", default=host_os, choices=OSES)
    p.add_argument("--arch", default=host_arch, choices=ARCHES)
    p.add_argument("--binary", type=Path, help="the executable (default dist/kubectl-tke_net[.exe])")
    p = sub.add_parser("manifest", help="render krew/tke-net.yaml from release archives")
    p.add_argument("archives", nargs="*", type=Path, help="default: every archive of this version in dist/")
    p.add_argument("--base-url", help=f"where the archives are downloaded from (default {RELEASES})")
    p.add_argument("--output", type=Path, default=MANIFEST, help="default krew/tke-net.yaml; - for stdout")
    p.add_argument("--template", type=Path, default=TEMPLATE)
    opts = parser.parse_args(argv)
    try:
        if opts.command == "archive":
            out = make_archive(opts.os, opts.arch, opts.binary)
            print(f"{out} sha256:{sha256(out)}")
            return 0
        archives = opts.archives or sorted(
            p for p in DIST.glob(f"{PLUGIN}_{version()}_*") if ARCHIVE_NAME.match(p.name)
        )
        text = render(archives, opts.base_url, opts.template)
    except (ReleaseError, OSError) as exc:
        print(f"release.py: error: {exc}", file=sys.stderr)
        return 1
    if str(opts.output) == "-":
        sys.stdout.write(text)
    else:
        opts.output.parent.mkdir(parents=True, exist_ok=True)
        opts.output.write_text(text, encoding="utf-8")
        print(f"{opts.output} ({len(archives)} platform{'s' if len(archives) != 1 else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
