"""The command line: exact renderings, exit statuses, flags, snapshots and docs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.conftest import CLI, fixture, golden, kubeconfig, without_source


@pytest.mark.parametrize("fmt", ["table", "wide", "json", "yaml"])
def test_renderings(cli: CLI, fmt: str) -> None:
    run = cli("svc", "-A", "--snapshot", "tests/fixtures/services.yaml", "-o", fmt)
    assert run.status == 1 and run.err == ""
    golden(f"services.{fmt}", run.out)


def test_json_and_yaml_are_the_same_document(cli: CLI) -> None:
    as_json = cli("svc", "-A", "--snapshot", fixture("services"), "-o", "json").json()
    as_yaml = yaml.safe_load(cli("svc", "-A", "--snapshot", fixture("services"), "-o", "yaml").out)
    assert as_json == as_yaml
    assert list(as_json) == ["apiVersion", "kind", "command", "source", "cluster", "findings", "skipped", "summary"]


def test_a_golden_that_differs_writes_new_and_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.conftest.GOLDEN", tmp_path)
    (tmp_path / "x.txt").write_text("one\ntwo\n", encoding="utf-8")
    with pytest.raises(pytest.fail.Exception) as failed:
        golden("x.txt", "one\nthree\n")
    assert (tmp_path / "x.txt").read_text(encoding="utf-8") == "one\ntwo\n"
    assert (tmp_path / "x.txt.new").read_text(encoding="utf-8") == "one\nthree\n"
    assert f"mv {tmp_path}/x.txt.new {tmp_path}/x.txt" in str(failed.value)
    assert "-two\n+three\n" in str(failed.value)
    golden("x.txt", "one\ntwo\n")
    assert not (tmp_path / "x.txt.new").exists()


@pytest.mark.parametrize(("fail_on", "status"), [("error", 1), ("warning", 1), ("info", 1), ("never", 0)])
def test_fail_on(cli: CLI, fail_on: str, status: int) -> None:
    assert cli("svc", "-A", "--snapshot", fixture("services"), "--fail-on", fail_on).status == status


def test_fail_on_threshold_above_the_worst_finding(cli: CLI) -> None:
    # Only TKE113 (info) remains: exit 0 by default, 1 with --fail-on info.
    args = ("svc", "-A", "--snapshot", fixture("services"), "--select", "TKE113")
    assert cli(*args).status == 0
    assert cli(*args, "--fail-on", "info").status == 1


@pytest.mark.parametrize(
    "args",
    [
        ("svc", "--bogus"),
        ("svc", "-o", "xml", "--snapshot", "tests/fixtures/healthy.yaml"),
        ("svc", "--select", "TKE999", "--snapshot", "tests/fixtures/healthy.yaml"),
        ("svc", "--ignore", "FOO", "--snapshot", "tests/fixtures/healthy.yaml"),
        ("svc", "--snapshot", "does/not/exist.yaml"),
        ("svc", "-l", "a in (b", "--snapshot", "tests/fixtures/healthy.yaml"),
        ("svc", "-A", "-n", "x", "--snapshot", "tests/fixtures/healthy.yaml"),
        ("svc", "--snapshot", "tests/fixtures/healthy.yaml", "--context", "prod"),
        ("checks", "TKE999"),
        ("nonsense",),
    ],
)
def test_usage_errors_exit_2_with_one_line(cli: CLI, args: tuple[str, ...]) -> None:
    run = cli(*args)
    assert run.status == 2
    assert run.out == "" and run.err.count("\n") == 1 and run.err.startswith("error: ")


def test_malformed_snapshot(cli: CLI, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("items: [unclosed\n")
    run = cli("svc", "--snapshot", str(bad))
    assert run.status == 2 and "malformed snapshot" in run.err and "Traceback" not in run.err


def test_access_errors_exit_3(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    run = cli("svc")
    assert run.status == 3 and run.err.startswith("error: no kubeconfig found")
    config = kubeconfig(tmp_path)
    run = cli("svc", "--kubeconfig", str(config), "--context", "prod")
    assert (run.status, run.err) == (3, f'error: context "prod" not found in {config}\n')
    run = cli("svc", "--kubeconfig", str(config), "--request-timeout", "2s", "-v")
    assert run.status == 3 and run.err.splitlines()[-1].startswith(
        "error: cannot reach the API server at https://127.0.0.1:1"
    )
    assert "s3cr3t" not in run.err + run.out


def test_kubeconfig_list_is_merged(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = kubeconfig(tmp_path)
    other = tmp_path / "other"
    prod = {"name": "prod", "context": {"cluster": "cls-abc123", "user": "u"}}
    other.write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": [prod]})
    )
    monkeypatch.setenv("KUBECONFIG", f"{other}{os.pathsep}{config}")
    run = cli("svc", "--context", "prod", "--request-timeout", "1s")
    # The context comes from one file, its cluster and user from the other: it gets as far as the network.
    assert run.status == 3 and "cannot reach the API server at https://127.0.0.1:1" in run.err


def test_color(cli: CLI) -> None:
    assert "\033[31mERROR" in cli("svc", "-A", "--snapshot", fixture("services"), "--color", "always").out
    assert "\033[" not in cli("svc", "-A", "--snapshot", fixture("services")).out


def test_checks_catalogue_and_page(cli: CLI) -> None:
    run = cli("checks")
    assert run.status == 0 and run.out.splitlines()[0].split() == ["CODE", "SEVERITY", "COMMANDS", "TITLE"]
    page = cli("checks", "tke302").out
    assert page.startswith("TKE302 (warning): internal LoadBalancer Service without prevent-loopback\n")
    assert "## Why it breaks traffic" in page and page.endswith("/docs/checks/TKE302.md\n")


def test_version(cli: CLI) -> None:
    from kubectl_tke_net import __version__

    assert cli("version").out == f"kubectl tke-net {__version__}\n"


def test_dump_then_snapshot_gives_the_same_report(cli: CLI, tmp_path: Path) -> None:
    dumped = cli("dump", "-A", "--snapshot", fixture("services"))
    assert dumped.status == 0
    path = tmp_path / "dump.yaml"
    path.write_text(dumped.out)
    first = cli("svc", "-A", "--snapshot", fixture("services"), "-o", "json").json()
    second = cli("svc", "-A", "--snapshot", str(path), "-o", "json").json()
    assert without_source(first) == without_source(second)


def test_dump_never_keeps_secret_data(cli: CLI, tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/tls",
                "metadata": {"name": "tls", "namespace": "shop"},
                "data": {"tls.key": "UFJJVkFURQ=="},
                "stringData": {"x": "PRIVATE"},
            }
        )
    )
    out = cli("dump", "-A", "--snapshot", str(path)).out
    assert '"name": "tls"' in out and "UFJJVkFURQ" not in out and "PRIVATE" not in out


def test_docs_are_generated_from_the_checks() -> None:
    from tools import docsgen

    stale = [
        str(p)
        for p, text in docsgen.expected(Path.cwd()).items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run `make docs`"


def test_kubernetes_is_imported_only_to_reach_a_cluster() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom kubectl_tke_net.cli import main\ntry:\n    main(sys.argv[1:])\n"
        "finally:\n    print('kubernetes' in sys.modules, file=sys.stderr)"
    )
    for args in (
        ["version"],
        ["--help"],
        ["checks", "TKE101"],
        ["svc", "-A", "--snapshot", "tests/fixtures/services.yaml"],
    ):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
        assert done.stderr.strip().endswith("False"), (args, done.stderr)


def test_python_dash_m_is_the_plugin() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubectl_tke_net",
            "svc",
            "-A",
            "--snapshot",
            "tests/fixtures/services.yaml",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and '"kind": "Report"' in done.stdout
