"""--probe-rules without a cluster: rules.sh under busybox, the parsers of kube-proxy's rules, and TKE127's judgement.

Test data, and where it comes from:
- tests/fixtures/rules/iptables-save.txt and nft-ruleset.txt: REAL output of `iptables-save` and `nft list ruleset`
  on node 198.18.0.12 of the data path lab (tests/e2e/datapath), kube-proxy v1.34.4 in iptables and nftables mode,
  Service shop/web (LoadBalancer, ipMode VIP, CLB address 198.18.1.200, two ready endpoints) and shop/api.
- IPVS: this kernel has no IPVS (CONFIG_IP_VS unset), so `ipvsadm -Ln` and `ip addr show kube-ipvs0` below are
  NOT captured here: they are written in the shapes documented by kubernetes/kubernetes pkg/proxy/ipvs/README.md
  ("ipvsadm -ln" and "ip addr" of a node with kube-ipvs0) and ipvsadm(8), with TKE-like addresses.
"""

from __future__ import annotations

import base64
import gzip
import os
from pathlib import Path

import pytest

from kubectl_tke_net.probe.rules import (
    ADDRESS,
    IPTABLES,
    IPVS,
    NFTABLES,
    NODE_PORT,
    Entry,
    decode,
    node_rules,
    parse_iptables,
    parse_ipvsadm,
    parse_kube_ipvs0,
    parse_nft,
)
from tests.probe_tools import require

RULES = Path(__file__).parent / "fixtures" / "rules"
SCRIPT = Path(__file__).parent.parent / "kubectl_tke_net" / "probe" / "rules.sh"
WEB_IPT, WEB_NFT, VIP = "198.18.141.205", "198.18.137.197", "198.18.1.200"
WEB_ENDPOINTS = ("198.19.1.2:8080", "198.19.2.2:8080")

IPVSADM = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.1.10:30080 rr
  -> 172.20.0.5:8080              Masq    1      0          0
  -> 172.20.1.5:8080              Masq    1      0          0
TCP  10.0.0.50:80 rr
  -> 172.20.0.5:8080              Masq    1      0          0
  -> 172.20.1.5:8080              Masq    1      0          0
TCP  172.16.255.20:80 rr
  -> 172.20.0.5:8080              Masq    1      0          0
  -> 172.20.1.5:8080              Masq    1      0          0
  -> 172.20.2.9:8080              Masq    0      0          3
UDP  172.16.255.10:53 rr
  -> 172.20.0.2:53                Masq    1      0          0
"""
KUBE_IPVS0 = """73: kube-ipvs0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN group default
    link/ether 1a:ce:f5:5f:c1:4d brd ff:ff:ff:ff:ff:ff
    inet 172.16.255.20/32 scope global kube-ipvs0
       valid_lft forever preferred_lft forever
    inet 172.16.255.10/32 scope global kube-ipvs0
       valid_lft forever preferred_lft forever
"""


def web(entries: list[Entry], address: str) -> set[tuple[str, str, int, tuple[str, ...]]]:
    return {(e.kind, e.address, e.port, e.endpoints) for e in entries if e.address in (address, VIP, "")}


def test_real_iptables_save_gives_the_services_addresses_nodeports_and_endpoints() -> None:
    ok, entries = parse_iptables((RULES / "iptables-save.txt").read_text())
    assert ok
    assert web(entries, WEB_IPT) >= {
        (ADDRESS, WEB_IPT, 80, WEB_ENDPOINTS),
        (ADDRESS, VIP, 80, WEB_ENDPOINTS),  # ipMode VIP: kube-proxy takes the CLB address into the node
        (NODE_PORT, "", 30080, WEB_ENDPOINTS),
    }
    # The API server Service has no endpoint in the lab: its REJECT rule in the filter table is an entry without.
    assert Entry(ADDRESS, "198.18.128.1", "tcp", 443, ()) in entries
    assert not any(e.address.startswith("127.") for e in entries)


def test_real_nft_ruleset_gives_the_same_facts() -> None:
    ok, entries = parse_nft((RULES / "nft-ruleset.txt").read_text())
    assert ok
    assert web(entries, WEB_NFT) >= {
        (ADDRESS, WEB_NFT, 80, WEB_ENDPOINTS),
        (ADDRESS, VIP, 80, WEB_ENDPOINTS),
        (NODE_PORT, "", 30080, WEB_ENDPOINTS),
    }
    assert Entry(ADDRESS, "198.18.128.1", "tcp", 443, ()) in entries
    assert parse_nft((RULES / "iptables-save.txt").read_text()) == (False, [])


def test_ipvsadm_and_kube_ipvs0_in_their_documented_shapes() -> None:
    entries = parse_ipvsadm(IPVSADM)
    assert Entry(ADDRESS, "10.0.1.10", "tcp", 30080, ("172.20.0.5:8080", "172.20.1.5:8080")) in entries
    # weight 0 (a terminating endpoint) is not an endpoint traffic goes to
    assert Entry(ADDRESS, "172.16.255.20", "tcp", 80, ("172.20.0.5:8080", "172.20.1.5:8080")) in entries
    assert Entry(ADDRESS, "172.16.255.10", "udp", 53, ("172.20.0.2:53",)) in entries
    assert parse_kube_ipvs0(KUBE_IPVS0) == ("172.16.255.10", "172.16.255.20")  # the CLB 10.0.0.50 is not bound
    assert parse_kube_ipvs0('Device "kube-ipvs0" does not exist.') is None


def test_the_mode_follows_what_the_node_has() -> None:
    ipt = (RULES / "iptables-save.txt").read_text()
    nft = (RULES / "nft-ruleset.txt").read_text()
    text = f"### iptables-save rc=0\n{ipt}\n### nft rc=0\n{nft}\n### ipvsadm rc=127\n### kube-ipvs0 rc=1\n### end\n"
    assert node_rules(text).mode == NFTABLES  # the iptables file is another node's: here nft has kube-proxy's
    assert node_rules(f"### iptables-save rc=0\n{ipt}\n### end\n").mode == IPTABLES
    ipvs = node_rules(f"### ipvsadm rc=0\n{IPVSADM}### kube-ipvs0 rc=0\n{KUBE_IPVS0}### end\n")
    assert (ipvs.mode, ipvs.bound) == (IPVS, ("172.16.255.10", "172.16.255.20"))
    assert node_rules("### iptables-save rc=127\n### nft rc=127\n### end\n").mode is None


def test_a_message_that_is_not_a_rules_report_is_refused() -> None:
    with pytest.raises(ValueError, match="unreadable"):
        decode("not base64 at all!")
    with pytest.raises(ValueError, match="too-large 123456"):
        decode("too-large 123456")
    bomb = base64.b64encode(gzip.compress(b"x" * 10_000_000)).decode()
    assert len(decode(bomb)) == 4_000_000  # bounded, whatever the Pod sends


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """A PATH of busybox applets and a fake node whose iptables-save and nft print the real captured rules."""
    busybox = require("busybox")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for applet in ("sh", "awk", "head", "wc", "gzip", "base64", "cat", "echo"):
        (bindir / applet).symlink_to(busybox)
    for name, data in (("iptables-save", "iptables-save.txt"), ("nft", "nft-ruleset.txt")):
        tool = bindir / name
        tool.write_text(f"#!{busybox} sh\ncat {RULES / data}\n")
        tool.chmod(0o755)
    return bindir


def _run_script(tools: Path, tmp_path: Path, *args: str) -> str:
    import subprocess

    out = tmp_path / "message"
    env = {"PATH": str(tools), "RULES_ROOT": "-", "RULES_OUT": str(out), "RULES_TMP": str(tmp_path)}
    done = subprocess.run(
        [str(tools / "sh"), "-c", SCRIPT.read_text(), "tke-net-rules", *args],
        env={**env, "HOME": os.environ.get("HOME", "/")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out.read_text()


def test_the_script_keeps_the_services_rules_within_a_termination_message(tools: Path, tmp_path: Path) -> None:
    message = _run_script(tools, tmp_path, "svc shop/web", f"addr {WEB_NFT}", f"addr {WEB_IPT}", f"addr {VIP}")
    assert len(message) <= 4096  # what the kubelet keeps of a termination message
    text = decode(message)
    assert "shop/api" not in text and "kube-dns" not in text  # only what was asked about
    rules = node_rules(text)
    assert rules.mode == NFTABLES and dict(rules.tools)["ipvsadm"] == 127  # no ipvsadm on this "node"
    assert set(rules.entries) == {
        Entry(ADDRESS, WEB_NFT, "tcp", 80, WEB_ENDPOINTS),
        Entry(ADDRESS, VIP, "tcp", 80, WEB_ENDPOINTS),
        Entry(NODE_PORT, "", "tcp", 30080, WEB_ENDPOINTS),
    }
    # What it kept of iptables-save parses as the whole file does, for this Service.
    kept_ipt = text.split("### iptables-save rc=0\n")[1].split("### nft")[0]
    full = parse_iptables((RULES / "iptables-save.txt").read_text())[1]
    assert set(parse_iptables(kept_ipt)[1]) == {e for e in full if e.address in (WEB_IPT, VIP) or e.port == 30080}
    assert parse_iptables(kept_ipt)[0]  # the KUBE-SERVICES chain is kept: the node runs kube-proxy's chains


def test_the_script_says_too_large_rather_than_cut_the_rules(tools: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    lines = [
        f'-A KUBE-SEP-X{i:06d} -p tcp -m comment --comment "shop/web:http" -m tcp -j DNAT --to-destination '
        f"10.{i // 65536}.{i // 256 % 256}.{i % 256}:8080"
        for i in range(20000)
    ]
    big.write_text("*nat\n" + "\n".join(lines) + "\nCOMMIT\n")
    (tools / "iptables-save").write_text(f"#!{require('busybox')} sh\ncat {big}\n")
    message = _run_script(tools, tmp_path, "svc shop/web")
    assert message.startswith("too-large ")
    with pytest.raises(ValueError, match="too-large"):
        decode(message)
