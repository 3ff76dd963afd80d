"""`kubectl-tke_net __complete`: cobra's format, subcommands, flags, values, names from a snapshot, quiet errors."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from kubectl_tke_net.cli import OUTPUTS
from kubectl_tke_net.complete import complete
from kubectl_tke_net.entry import main
from tests.conftest import kubeconfig

DEMO = str(Path(__file__).resolve().parents[1] / "examples" / "demo-cluster.yaml")


def names(*words: str) -> tuple[list[str], int]:
    candidates, directive = complete(list(words))
    return [c.split("\t")[0] for c in candidates], directive


def test_output_is_cobras_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["__complete", "svc", "-o", "ya"]) == 0
    assert capsys.readouterr() == ("yaml\n:4\n", "")
    assert main(["__complete", ""]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "service\tdiagnose Services (TKE1xx, TKE302-TKE304)"
    assert lines[-1] == ":4" and all(line.count("\t") == 1 for line in lines[:-1])


def test_subcommands_and_aliases() -> None:
    commands, directive = names("")
    assert commands[:5] == ["service", "ingress", "gateway", "loopback", "fix"] and directive == 4
    assert {"dump", "checks", "version"} <= set(commands) and not {"svc", "ing"} & set(commands)
    assert names("s") == (["service"], 4)
    assert names("sv") == (["svc"], 4)
    assert names("i") == (["ingress"], 4)
    assert names("--v") == (["--version"], 4)


def test_trace_targets() -> None:
    assert names("trace", "") == (["svc/", "ing/", "gw/"], 4 | 2)  # no space after the slash
    assert names("trace", "i") == (["ing/"], 6)
    assert names("trace", "g") == (["gw/"], 6)
    gateways = str(Path(DEMO).with_name("gateway-cluster.yaml"))
    assert names("trace", "-n", "gateway", "--snapshot", gateways, "gw/") == (["gw/partner-gw", "gw/shop-gw"], 4)
    assert names("trace", "-n", "gateway", "--snapshot", gateways, "gateway/sh") == (["gateway/shop-gw"], 4)
    assert names("trace", "-n", "shop", "--snapshot", DEMO, "svc/ap") == (["svc/api"], 4)
    assert names("trace", "-n", "edge", "--snapshot", DEMO, "ing/po") == (["ing/portal"], 4)
    assert names("trace", "-n", "edge", "--snapshot", DEMO, "pod/x") == ([], 4)


def test_flags_of_the_subcommand_not_yet_given() -> None:
    assert names("svc", "--sel") == (["--selector", "--select"], 4)
    assert names("svc", "-A", "--all") == (["--all-contexts"], 4)  # --all-namespaces is given
    assert "-n" in names("ingress", "-")[0] and "--namespace" in names("ingress", "-")[0]
    assert all(flag.startswith("--") for flag in names("loopback", "--")[0])
    assert names("fix", "--app") == (["--apply"], 4)


def test_flag_values() -> None:
    assert names("svc", "-o", "") == (list(OUTPUTS), 4)
    assert names("checks", "-o", "") == (["table", "json", "yaml"], 4)
    assert names("svc", "--output=y") == (["--output=yaml"], 4)
    assert names("svc", "--fail-on", "w") == (["warning"], 4)
    assert names("svc", "--snapshot", "") == ([], 0)  # the shell completes file names
    assert names("fix", "--backup-dir", "") == ([], 16)
    assert names("svc", "--select", "TKE30")[0] == [f"TKE30{i}" for i in range(1, 7)]
    assert names("svc", "--ignore", "TKE101,TKE10")[0] == [f"TKE101,TKE10{i}" for i in range(2, 10)]
    assert names("svc", "--request-timeout", "") == ([], 4)


def test_positionals() -> None:
    assert names("fix", "") == (
        ["kube-proxy", "prevent-loopback", "ingress-keepalive", "coredns-rewrite", "rollback"],
        4,
    )
    assert names("fix", "rollback", "") == ([], 0)
    assert names("checks", "TKE30") == ([f"TKE30{i}" for i in range(1, 7)], 4)
    candidates, _ = complete(["checks", "tke101"])
    assert candidates == ["TKE101\tselector matches no Pod"]
    assert names("checks", "e400")[0] == [f"E400{i}" for i in (0, 1, 3, 4, 5, 6, 7, 8, 9)]
    candidates, _ = complete(["checks", "E4009"])
    assert candidates == ["E4009\tthe account is in arrears / a spec.tls entry has no secretName"]
    assert names("version", "") == ([], 4)


def test_names_from_a_snapshot() -> None:
    assert names("svc", "--snapshot", DEMO, "-n", "") == (["default", "edge", "kube-system", "payments", "shop"], 4)
    assert names("ing", "-n", "edge", "--snapshot", DEMO, "") == (["docs", "old", "portal", "promo"], 4)
    assert names("svc", "--snapshot", DEMO, "-n", "payments", "l") == (["ledger", "legacy"], 4)
    assert names("svc", "--snapshot", DEMO, "-n", "payments", "risk", "") == ([], 4)  # NAME already given
    prevent = names("fix", "prevent-loopback", "--snapshot", DEMO, "-npayments", "risk", "")[0]
    assert "risk" not in prevent and "ledger" in prevent
    assert "portal-web" in names("fix", "coredns-rewrite", "--snapshot", DEMO, "-n", "edge", "--service", "")[0]
    assert names("svc", "--snapshot", "/nonexistent.yaml", "-A", "") == ([], 4)


def test_contexts_from_the_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text(json.dumps({"contexts": [{"name": "prod", "context": {}}, {"name": "dev", "context": {}}]}))
    monkeypatch.setenv("KUBECONFIG", str(config))
    assert names("svc", "--context", "") == (["dev", "prod"], 4)
    monkeypatch.delenv("KUBECONFIG")
    assert names("svc", "--kubeconfig", str(config), "--context", "p") == (["prod"], 4)


def test_unreachable_cluster_completes_nothing_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, f"https://127.0.0.1:{port}")))
    started = time.monotonic()
    assert main(["__complete", "svc", ""]) == 0
    assert main(["__complete", "svc", "-n", ""]) == 0
    assert capsys.readouterr() == (":4\n:4\n", "")
    assert time.monotonic() - started < 10
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert main(["__complete", "ingress", ""]) == 0
    assert capsys.readouterr() == (":4\n", "")
