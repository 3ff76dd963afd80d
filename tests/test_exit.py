"""The executable's end (entry.run): the status and the output of main(), the exit handlers run, and what the run
read is held to the end and never freed object by object (30,000 Pods: 0.2 s of CPU after the output)."""

from __future__ import annotations

import base64
import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubectl_tke_net.entry import main
from tests.conftest import fixture
from tests.stubserver import tls_files


def executable(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The plugin as the console script and the frozen binary run it: `python -m kubectl_tke_net`."""
    return subprocess.run(
        [sys.executable, "-m", "kubectl_tke_net", *args], capture_output=True, text=True, check=False, env=env
    )


def in_process(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            status = main(list(args))
    except SystemExit as exc:  # --help
        status = int(exc.code or 0)
    return status, out.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ["version"],
        ["--help"],
        ["svc", "--no-such-flag"],
        ["svc", "-A", "--snapshot", fixture("services"), "-o", "json"],
        ["svc", "-A", "--snapshot", fixture("services"), "--fail-on", "never"],
        ["svc", "-A", "--snapshot", fixture("healthy")],
        ["svc", "-A", "--snapshot", "/no/such/snapshot.yaml"],
    ],
)
def test_the_executable_ends_with_mains_status_and_its_whole_output(args: list[str]) -> None:
    done = executable(*args)
    status, text = in_process(*args)
    assert (done.returncode, done.stdout) == (status, text)
    assert "Traceback" not in done.stderr


def test_a_long_output_into_a_pipe_is_written_whole_before_the_end() -> None:
    """The end flushes stdout itself: a pipe gets every byte, as Python's own end would write them."""
    args = ["dump", "-A", "--snapshot", fixture("services"), "-o", "json"]
    status, text = in_process(*args)
    done = executable(*args)
    assert status == done.returncode == 0
    assert len(text) > 10_000 and done.stdout == text


# A Snapshot that says on stderr when it is freed; then the executable's own end.
FREED = """
import sys
from kubectl_tke_net import snapshot
class Said(snapshot.Snapshot):
    def __del__(self):
        print("freed", file=sys.stderr, flush=True)
snapshot.Snapshot = Said
from kubectl_tke_net import entry, model
let_go = sys.argv[2:3] == ["--let-go"]
sys.argv[1:] = ["svc", "-A", "--snapshot", sys.argv[1], "-o", "json"]
if let_go:
    entry.main(sys.argv[1:])
    model.HELD.clear()
    print("let go", file=sys.stderr, flush=True)
    raise SystemExit(0)
entry.run()
"""


def test_what_a_run_read_is_held_to_the_end_and_not_freed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FREED, fixture("services")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stderr  # services.yaml has errors
    assert '"kind": "Report"' in done.stdout
    assert "freed" not in done.stderr


def test_what_is_held_is_freed_when_let_go() -> None:
    """The other side: the same Snapshot is freed as soon as nothing holds it (so the test above can fail)."""
    done = subprocess.run(
        [sys.executable, "-c", FREED, fixture("services"), "--let-go"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-2:] == ["freed", "let go"]


# The private files kubeconfig makes for inline TLS data, named on stderr as they are made.
MADE = """
import sys
from kubectl_tke_net.sources import kubeconfig
made = kubeconfig._private_file
def said(content):
    path = made(content)
    print("made", path, file=sys.stderr, flush=True)
    return path
kubeconfig._private_file = said
from kubectl_tke_net import entry
sys.argv[1:] = ["svc", "-A", "--request-timeout", "2s"]
entry.run()
"""


def test_the_exit_handlers_still_run_inline_tls_files_are_removed(tmp_path: Path) -> None:
    """The end runs after every other exit handler: the private files of inline TLS data (kubeconfig) go."""
    cert, _key = tls_files()
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": "https://127.0.0.1:1",
                            "certificate-authority-data": base64.b64encode(Path(cert).read_bytes()).decode(),
                        },
                    }
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "dev",
            }
        )
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}
    done = subprocess.run(
        [sys.executable, "-c", MADE], capture_output=True, text=True, check=False, env=env, cwd=Path.cwd()
    )
    assert done.returncode == 3, done.stderr  # 127.0.0.1:1 refuses: an access error
    made = [line.split(" ", 1)[1] for line in done.stderr.splitlines() if line.startswith("made ")]
    assert made, done.stderr
    assert [path for path in made if Path(path).exists()] == []
