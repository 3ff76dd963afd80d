"""The release as users get it: the frozen executable, its archive and Krew manifest, judged by the real tools.

`make krew` builds dist/kubectl-tke_net and the archive from the source tree; krew and validate-krew-manifest
are built from sigs.k8s.io/krew (tests/e2e/krew/build.sh, cached like the control plane); kubectl is the one
of the e2e suite. Nothing on these PATHs comes from the source install: what runs is what Krew installed.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane, free_port

from kubectl_tke_net import __version__
from kubectl_tke_net.cli import OUTPUTS
from kubectl_tke_net.complete import complete as source_complete

ROOT = Path(__file__).resolve().parents[2]
KREW_BUILD = Path(__file__).resolve().parent / "krew" / "build.sh"
SOURCE = Path(sys.executable).parent / "kubectl-tke_net"
DEMO = str(ROOT / "examples" / "demo-cluster.yaml")
RELEASE_URL = f"https://github.com/tke-net/kubectl-tke-net/releases/download/v{__version__}/"
NS = "release-e2e"
SYSTEM_PATH = "/usr/bin:/bin"  # no venv: a kubectl-tke_net found on PATH is Krew's


@dataclass(frozen=True)
class Release:
    binary: Path
    archive: Path
    manifest: Path


def run(
    cmd: list[str | Path], env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def tail(proc: subprocess.CompletedProcess[str], lines: int = 30) -> str:
    return "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-lines:])


@pytest.fixture(scope="session")
def release() -> Release:
    """`make krew` from the repository: the executable (rebuilt when a source changed), archive, manifest."""
    done = run(["make", "-C", ROOT, "--no-print-directory", "krew"], timeout=1800)
    if done.returncode != 0:
        pytest.fail(f"make krew failed (exit {done.returncode}):\n{tail(done)}", pytrace=False)
    archive = ROOT / "dist" / f"kubectl-tke_net_{__version__}_linux_amd64.tar.gz"
    for path in (ROOT / "dist" / "kubectl-tke_net", archive, ROOT / "krew" / "tke-net.yaml"):
        assert path.is_file(), f"make krew did not write {path}"
    return Release(ROOT / "dist" / "kubectl-tke_net", archive, ROOT / "krew" / "tke-net.yaml")


@pytest.fixture(scope="session")
def krew_tools() -> Path:
    """Directory with kubectl-krew and validate-krew-manifest, built by krew/build.sh."""
    done = run(["bash", KREW_BUILD], timeout=1800)
    if done.returncode != 0 or not done.stdout.strip():
        pytest.fail(f"{KREW_BUILD} failed (exit {done.returncode}):\n{tail(done)}", pytrace=False)
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def tools_path(tmp_path_factory: pytest.TempPathFactory, kubectl: str, krew_tools: Path) -> Path:
    """kubectl and kubectl-krew, alone in a folder (validate-krew-manifest runs `kubectl krew` from PATH)."""
    tools = tmp_path_factory.mktemp("tools")
    (tools / "kubectl").symlink_to(kubectl)
    (tools / "kubectl-krew").symlink_to(krew_tools / "kubectl-krew")
    return tools


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the executable -------------------------------------------------------------------------------------


def test_binary_help_version_and_snapshot_runs_equal_the_source(release: Release) -> None:
    bare = {"PATH": SYSTEM_PATH, "HOME": os.environ.get("HOME", "/root")}  # no venv, no PYTHON* variables
    version = run([release.binary, "version"], env=bare)
    assert (version.returncode, version.stdout) == (0, f"kubectl tke-net {__version__}\n"), version.stderr
    for args in (
        ["--help"],
        ["svc", "--help"],
        ["svc", "-A", "--snapshot", DEMO, "-o", "json"],
        ["ingress", "-A", "--snapshot", DEMO],
        ["loopback", "-A", "--snapshot", DEMO, "-o", "yaml"],
        ["checks", "TKE303"],
        ["svc", "--bogus"],
    ):
        frozen = run([release.binary, *args], env=dict(bare, NO_COLOR="1"))
        source = run([SOURCE, *args], env=dict(os.environ, NO_COLOR="1"))
        assert (frozen.returncode, frozen.stdout, frozen.stderr) == (source.returncode, source.stdout, source.stderr), (
            args
        )
    doc = json.loads(run([release.binary, "svc", "-A", "--snapshot", DEMO, "-o", "json"]).stdout)
    assert {f["code"] for f in doc["findings"]} >= {"TKE101", "TKE102", "TKE104", "TKE107"}


def test_binary_speaks_chinese_and_carries_the_tencent_cloud_sdk(release: Release) -> None:
    """The compiled catalogue and the lazily imported SDK are in the executable: same output as the source."""
    from tests.tcfake import FakeCloud
    from tests.test_cloud_checks import SVC, account

    bare = {"PATH": SYSTEM_PATH, "HOME": os.environ.get("HOME", "/root"), "NO_COLOR": "1"}
    for args, env in (
        (["loopback", "-A", "--snapshot", DEMO, "--lang", "zh"], {}),
        (["checks", "TKE302"], {"LANG": "zh_CN.UTF-8"}),
        (["svc", "--help"], {"LC_ALL": "zh_CN.UTF-8"}),
    ):
        frozen = run([release.binary, *args], env=dict(bare, **env))
        source = run(
            [SOURCE, *args], env={**os.environ, "NO_COLOR": "1", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "", **env}
        )
        assert (frozen.returncode, frozen.stdout, frozen.stderr) == (source.returncode, source.stdout, source.stderr), (
            args
        )
        assert re.search("[\u4e00-\u9fff]", frozen.stdout), (args, frozen.stdout[:200])
    fake: FakeCloud = account().start()
    try:
        keys = {
            "TENCENTCLOUD_SECRET_ID": fake.secret_id,
            "TENCENTCLOUD_SECRET_KEY": fake.secret_key,
            "TKE_NET_CLOUD_ENDPOINT": fake.url,
        }
        args = ["svc", "-A", "--snapshot", str(ROOT / "tests" / "fixtures" / "cloud.yaml"), "--cloud", "-o", "json"]
        frozen = run([release.binary, *args], env=dict(bare, **keys))
        source = run([SOURCE, *args], env=dict(os.environ, NO_COLOR="1", **keys))
    finally:
        fake.stop()
    assert (frozen.returncode, frozen.stdout, frozen.stderr) == (source.returncode, source.stdout, source.stderr)
    doc = json.loads(frozen.stdout)
    cloud = {
        (f["code"], f"{f['kind']}/{f['namespace'] + '/' if f['namespace'] else ''}{f['name']}")
        for f in doc["findings"]
        if f["code"].startswith("TKE4")
    }
    assert cloud == SVC and fake.rejected == []


def test_binary_carries_the_c_yaml_loader_and_no_test_tools(release: Release) -> None:
    viewer = ROOT / "build" / "release-venv" / "bin" / "pyi-archive_viewer"
    listing = run([viewer, "-r", "-b", release.binary])
    assert listing.returncode == 0, tail(listing)
    names = {line.strip() for line in listing.stdout.splitlines()}
    assert any(n.startswith("yaml/_yaml.") for n in names), "PyYAML's C loader is not in the executable"
    assert {
        "kubectl_tke_net.sources.cluster",
        "kubectl_tke_net.sources.kubeconfig",
        "kubectl_tke_net.complete",
        "urllib3.util.retry",
        "tabulate",
        "packaging.version",
    } <= names
    assert not {
        n for n in names if n.split(".")[0] in ("pytest", "_pytest", "mypy", "ruff", "hypothesis", "kubernetes")
    }
    package = ROOT / "kubectl_tke_net"
    data = {
        p.relative_to(ROOT).as_posix()
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert data - names == set(), "package data missing from the executable"


@pytest.fixture(scope="module")
def live(controlplane: ControlPlane) -> ControlPlane:
    controlplane.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    for name in ("web", "api"):
        controlplane.create(
            f"/api/v1/namespaces/{NS}/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": NS},
                "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80}]},
            },
        )
    controlplane.create(
        f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "site", "namespace": NS},
            "spec": {
                "rules": [
                    {
                        "host": "site.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "gone", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
    )
    return controlplane


def test_binary_live_runs_equal_the_source(release: Release, live: ControlPlane) -> None:
    for args in (["svc", "-n", NS, "-o", "json"], ["ingress", "-n", NS, "-o", "json"], ["loopback", "-A"]):
        frozen = run([release.binary, *args], env=live.env())
        source = run([SOURCE, *args], env=live.env())
        assert (frozen.returncode, frozen.stdout, frozen.stderr) == (source.returncode, source.stdout, source.stderr), (
            args
        )
    doc = json.loads(run([release.binary, "svc", "-n", NS, "-o", "json"], env=live.env()).stdout)
    assert {(f["code"], f["name"]) for f in doc["findings"]} >= {("TKE101", "web"), ("TKE101", "api")}
    assert doc["source"] == {"context": "admin", "cluster": "e2e", "snapshot": None}
    doc = json.loads(run([release.binary, "ingress", "-n", NS, "-o", "json"], env=live.env()).stdout)
    assert ("TKE201", "site") in {(f["code"], f["name"]) for f in doc["findings"]}


# --- Krew -----------------------------------------------------------------------------------------------


def test_manifest_names_the_archive_by_url_and_sha256(release: Release) -> None:
    doc = yaml.safe_load(release.manifest.read_text())
    assert doc["metadata"]["name"] == "tke-net" and doc["spec"]["version"] == f"v{__version__}"
    [platform] = doc["spec"]["platforms"]
    assert platform["selector"] == {"matchLabels": {"os": "linux", "arch": "amd64"}}
    assert platform["uri"] == RELEASE_URL + release.archive.name
    assert platform["sha256"] == sha256(release.archive)
    assert platform["bin"] == "kubectl-tke_net"
    caveats = " ".join(doc["spec"]["caveats"].split())
    assert "secrets (metadata only, never their data)" in caveats and "fix ... --apply" in caveats


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served_dist(release: Release) -> Iterator[str]:
    """http://127.0.0.1:PORT/ serving dist/, standing in for the release download URL."""
    handler = functools.partial(_Quiet, directory=str(release.archive.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def render_manifest(out: Path, release: Release, base_url: str) -> Path:
    manifest = out / "tke-net.yaml"  # validate-krew-manifest wants the file named after the plugin
    done = run(
        [
            sys.executable,
            ROOT / "packaging" / "release.py",
            "manifest",
            release.archive,
            "--base-url",
            base_url,
            "--output",
            manifest,
        ]
    )
    assert done.returncode == 0, tail(done)
    return manifest


def test_validate_krew_manifest_accepts_the_manifest(
    release: Release, krew_tools: Path, tools_path: Path, served_dist: str, tmp_path: Path
) -> None:
    validate = krew_tools / "validate-krew-manifest"
    # The manifest as released (its URL is not served yet): structure, platforms, selectors.
    done = run([validate, "-manifest", release.manifest, "-skip-install"])
    assert done.returncode == 0, tail(done)
    assert "structural validation OK" in done.stderr
    # The same manifest downloading from a local server: validate-krew-manifest installs it with
    # `kubectl krew install` into a temp KREW_ROOT and requires a LICENSE among the installed files.
    manifest = render_manifest(tmp_path, release, served_dist)
    assert manifest.read_text() == release.manifest.read_text().replace(RELEASE_URL, served_dist)
    env = dict(os.environ, PATH=f"{tools_path}{os.pathsep}{SYSTEM_PATH}", KREW_NO_UPGRADE_CHECK="1")
    done = run([validate, "-manifest", manifest], env=env, timeout=300)
    assert done.returncode == 0, tail(done)
    assert "all 1 spec.platforms installed fine" in done.stderr
    # ... and it does check the archive: a wrong sha256 fails.
    manifest.write_text(re.sub(r"sha256: [0-9a-f]{64}", "sha256: " + "0123456789abcdef" * 4, manifest.read_text()))
    done = run([validate, "-manifest", manifest], env=env, timeout=300)
    assert done.returncode != 0 and "checksum does not match" in done.stderr, tail(done)


def test_five_platform_manifest_installs_on_each_platform(
    release: Release, krew_tools: Path, tools_path: Path, tmp_path: Path
) -> None:
    """What the release workflow renders: one manifest from five archives (windows: .exe in a zip)."""
    sys.path.insert(0, str(ROOT / "packaging"))
    import release as packer  # type: ignore[import-not-found]  # packaging/release.py, on sys.path just above

    dist = tmp_path / "dist"
    exe = tmp_path / "kubectl-tke_net.exe"
    shutil.copy(release.binary, exe)
    archives = [
        packer.make_archive(os_name, arch, exe if os_name == "windows" else release.binary, dist)
        for os_name, arch in (
            ("linux", "amd64"),
            ("linux", "arm64"),
            ("darwin", "amd64"),
            ("darwin", "arm64"),
            ("windows", "amd64"),
        )
    ]
    assert archives[0].read_bytes() == release.archive.read_bytes()  # same files, same archive, same sha256
    handler = functools.partial(_Quiet, directory=str(dist))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        manifest = tmp_path / "tke-net.yaml"
        done = run(
            [
                sys.executable,
                ROOT / "packaging" / "release.py",
                "manifest",
                *archives,
                "--base-url",
                f"http://127.0.0.1:{server.server_address[1]}/",
                "--output",
                manifest,
            ]
        )
        assert done.returncode == 0, tail(done)
        platforms = yaml.safe_load(manifest.read_text())["spec"]["platforms"]
        assert [p["bin"] for p in platforms] == ["kubectl-tke_net"] * 4 + ["kubectl-tke_net.exe"]
        assert [p["sha256"] for p in platforms] == [sha256(a) for a in sorted(archives)]
        env = dict(os.environ, PATH=f"{tools_path}{os.pathsep}{SYSTEM_PATH}", KREW_NO_UPGRADE_CHECK="1")
        done = run([krew_tools / "validate-krew-manifest", "-manifest", manifest], env=env, timeout=600)
        assert done.returncode == 0, tail(done)
        assert "all 5 spec.platforms installed fine" in done.stderr
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def krew_root(release: Release, tools_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("krew-root")
    done = run(
        ["kubectl", "krew", "install", f"--manifest={release.manifest}", f"--archive={release.archive}"],
        env=krew_env(root, tools_path),
    )
    assert done.returncode == 0, tail(done)
    assert "Installed plugin: tke-net" in done.stderr
    return root


def krew_env(root: Path, tools_path: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    path = os.pathsep.join([str(root / "bin"), str(tools_path), SYSTEM_PATH])
    return dict(base or os.environ, KREW_ROOT=str(root), KREW_NO_UPGRADE_CHECK="1", PATH=path)


def test_kubectl_runs_the_plugin_krew_installed(release: Release, krew_root: Path, tools_path: Path) -> None:
    env = krew_env(krew_root, tools_path)
    store = krew_root / "store" / "tke-net" / f"v{__version__}"
    assert sorted(p.name for p in store.iterdir()) == ["LICENSE", "kubectl-tke_net", "kubectl_complete-tke_net"]
    assert (krew_root / "bin" / "kubectl-tke_net").resolve() == store / "kubectl-tke_net"
    assert sha256(store / "kubectl-tke_net") == sha256(release.binary)
    listed = run(["kubectl", "plugin", "list"], env=env)
    assert str(krew_root / "bin" / "kubectl-tke_net") in listed.stdout, tail(listed)
    done = run(["kubectl", "tke-net", "version"], env=env)
    assert (done.returncode, done.stdout) == (0, f"kubectl tke-net {__version__}\n"), tail(done)
    done = run(
        [
            "kubectl",
            "tke-net",
            "ingress",
            "portal",
            "-n",
            "edge",
            "--snapshot",
            DEMO,
            "--select",
            "TKE201",
            "-o",
            "json",
        ],
        env=env,
    )
    assert done.returncode == 1 and json.loads(done.stdout)["findings"][0]["code"] == "TKE201", tail(done)


@pytest.fixture(scope="module")
def completion(krew_root: Path, tools_path: Path, release: Release) -> Path:
    """The caveats' one-line step, run as written: link the completion helper into Krew's bin folder."""
    caveats = yaml.safe_load(release.manifest.read_text())["spec"]["caveats"]
    [step] = [line.strip() for line in caveats.splitlines() if line.strip().startswith("ln -sf ")]
    done = run(["sh", "-c", step], env=krew_env(krew_root, tools_path))
    assert done.returncode == 0, tail(done)
    assert (krew_root / "bin" / "kubectl_complete-tke_net").resolve().is_file()
    return krew_root


def complete(env: dict[str, str], *words: str) -> tuple[list[str], str]:
    done = run(["kubectl", "__complete", "tke-net", *words], env=env)
    assert done.returncode == 0, tail(done)
    lines = done.stdout.splitlines()
    assert lines and lines[-1].startswith(":"), done.stdout
    return [line.split("\t")[0] for line in lines[:-1]], lines[-1]


def from_source(*words: str) -> tuple[list[str], str]:
    candidates, directive = source_complete(list(words))
    return [c.split("\t")[0] for c in candidates], f":{directive}"


def test_kubectl_completes_subcommands_and_flags_through_the_helper(completion: Path, tools_path: Path) -> None:
    env = krew_env(completion, tools_path)
    names, directive = complete(env, "")
    assert names[:5] == ["service", "ingress", "gateway", "loopback", "fix"] and {"checks", "version"} <= set(names)
    assert directive == ":4"
    assert (names, directive) == from_source("")  # the frozen helper answers as the source tree does
    assert complete(env, "svc", "--sel") == (["--selector", "--select"], ":4")
    assert complete(env, "svc", "-o", "") == (list(OUTPUTS), ":4")
    assert complete(env, "svc", "-o", "") == from_source("svc", "-o", "")
    assert complete(env, "fix", "") == (
        ["kube-proxy", "prevent-loopback", "ingress-keepalive", "coredns-rewrite", "rollback"],
        ":4",
    )
    assert complete(env, "svc", "--snapshot", "") == ([], ":0")  # file names: the shell's own completion


def test_kubectl_completes_names_from_the_cluster(completion: Path, tools_path: Path, live: ControlPlane) -> None:
    env = krew_env(completion, tools_path, base=live.env())
    names, directive = complete(env, "svc", "")  # the context's namespace: default
    assert "kubernetes" in names and directive == ":4"

    def ours(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if str(e.get("userAgent", "")).startswith("kubectl-tke-net")]

    before = len(ours(live.audit_requests(verb="list")))
    assert complete(env, "svc", "-n", NS, "") == (["api", "web"], ":4")
    assert complete(env, "ingress", "-n", NS, "") == (["site"], ":4")
    assert complete(env, "--context=admin", "svc", "-n", NS, "w") == (["web"], ":4")
    names, _ = complete(env, "svc", "-n", "")
    assert {NS, "default", "kube-system"} <= set(names)
    # One LIST a completion, nothing else.
    events = ours(live.wait_for_audit(lambda evs: len(ours(evs)) >= before + 4, verb="list"))[before:]
    assert [(e["objectRef"]["resource"], e["objectRef"].get("namespace")) for e in events] == [
        ("services", NS),
        ("ingresses", NS),
        ("services", NS),
        ("namespaces", None),
    ]
    # An API server that does not answer completes nothing, quietly and soon.
    config = json.loads(live.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    closed = completion / "closed-kubeconfig"
    closed.write_text(json.dumps(config))
    started = time.monotonic()
    done = run(["kubectl", "__complete", "tke-net", "svc", ""], env=dict(env, KUBECONFIG=str(closed)))
    assert done.stdout == ":4\n" and "Traceback" not in done.stderr and "error" not in done.stderr
    assert time.monotonic() - started < 15


def test_release_workflow_builds_every_platform() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    matrix = workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
    # Each platform's executable is frozen from the same extras as `make binary`'s (the cloud SDK with it).
    install = " ".join(step.get("run", "") for step in workflow["jobs"]["build"]["steps"])
    makefile = (ROOT / "Makefile").read_text()
    extras = re.search(r"RELEASE_VENV\)/bin/pip install -q -c constraints.txt '\.\[([a-z,]+)\]'", makefile)
    assert extras and f"'.[{extras.group(1)}]'" in install, "release.yml installs other extras than make binary"
    assert {(m["os"], m["arch"]) for m in matrix} == {
        ("linux", "amd64"),
        ("linux", "arm64"),
        ("darwin", "amd64"),
        ("darwin", "arm64"),
        ("windows", "amd64"),
    }


def test_custom_index_installs_with_the_real_krew(
    release: Release, tools_path: Path, served_dist: str, tmp_path: Path
) -> None:
    """The custom Krew index the release generates (packaging/release.py index): a git repository on disk with
    plugins/tke-net.yaml, added with `kubectl krew index add` and installed from with the real krew."""
    manifest = render_manifest(tmp_path, release, served_dist)
    index = tmp_path / "krew-index"
    done = run(
        [sys.executable, ROOT / "packaging" / "release.py", "index", "--manifest", manifest, "--output", index, "--git"]
    )
    assert done.returncode == 0, tail(done)
    assert sorted(p.name for p in (index / "plugins").iterdir()) == ["tke-net.yaml"]
    assert (index / "plugins" / "tke-net.yaml").read_text() == manifest.read_text()
    root = tmp_path / "krew-root"
    env = krew_env(root, tools_path)
    done = run(["kubectl", "krew", "index", "add", "tke-net", index], env=env)
    assert done.returncode == 0, tail(done)
    listed = run(["kubectl", "krew", "index", "list"], env=env)
    assert listed.returncode == 0 and listed.stdout.split()[2:] == ["tke-net", str(index)], tail(listed)
    done = run(["kubectl", "krew", "install", "tke-net/tke-net"], env=env, timeout=300)
    assert done.returncode == 0 and "Installed plugin: tke-net" in done.stderr, tail(done)
    assert "default" not in run(["kubectl", "krew", "index", "list"], env=env).stdout  # no other index was added
    done = run(["kubectl", "tke-net", "version"], env=env)
    assert (done.returncode, done.stdout) == (0, f"kubectl tke-net {__version__}\n"), tail(done)
    installed = run(["kubectl", "krew", "list"], env=env)
    assert "tke-net/tke-net" in installed.stdout, tail(installed)
