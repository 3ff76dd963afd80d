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
from typing import Any

import pytest

from kubectl_tke_net.checks import catalog as checks
from kubectl_tke_net.checks.probe import ProbeContext
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.probe.plan import RULES_NAMESPACE, make_plan, rules_manifest
from kubectl_tke_net.probe.result import RulesObservation, from_fact, to_fact
from kubectl_tke_net.probe.rules import (
    ADDRESS,
    IPTABLES,
    IPVS,
    NFTABLES,
    NODE_PORT,
    Entry,
    NodeRules,
    decode,
    node_rules,
    parse_iptables,
    parse_ipvsadm,
    parse_kube_ipvs0,
    parse_nft,
)
from kubectl_tke_net.sources.probe import run
from tests.probe_tools import require
from tests.test_probe import FakeApi, ctx_for, succeeded

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


# The `ipvsadm -ln` of a real kube-proxy in IPVS mode, as kubernetes' own documentation prints it
# (kubernetes/kubernetes pkg/proxy/ipvs/README.md, "Check IPVS proxy rules": Services kubernetes 10.0.0.1:443 with
# session affinity, kube-dns 10.0.0.10:53 TCP and UDP). This kernel has no IPVS, so no capture can be made here.
KUBERNETES_DOCS_IPVSADM = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:443 rr persistent 10800
  -> 192.168.0.1:6443             Masq    1      1          0
TCP  10.0.0.10:53 rr
  -> 172.17.0.2:53                Masq    1      0          0
UDP  10.0.0.10:53 rr
  -> 172.17.0.2:53                Masq    1      0          0
"""


def test_ipvsadm_as_kubernetes_documents_it() -> None:
    assert parse_ipvsadm(KUBERNETES_DOCS_IPVSADM) == [
        Entry(ADDRESS, "10.0.0.1", "tcp", 443, ("192.168.0.1:6443",)),  # flags after the scheduler do not matter
        Entry(ADDRESS, "10.0.0.10", "tcp", 53, ("172.17.0.2:53",)),
        Entry(ADDRESS, "10.0.0.10", "udp", 53, ("172.17.0.2:53",)),
    ]


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


# --- the plan, the Pods and their lifecycle ---------------------------------------------------------------------


SVC = Ref(
    "Service", "probe", "web"
)  # tests/fixtures/probe.yaml: ClusterIP 172.16.255.20, CLB 10.0.0.50, NodePort 30080
READY = ("172.20.0.5:8080", "172.20.1.5:8080")


def test_the_plan_has_one_rules_pod_per_probe_node_keeping_the_services_addresses() -> None:
    plan = make_plan(ctx_for(), "service", "web", "probe", run_id="r1", rules=True)
    assert [(r.name, r.node, r.address, r.services) for r in plan.rules] == [
        ("tke-net-rules-r1-0", "10.0.1.10", "10.0.1.10", (SVC,)),
        ("tke-net-rules-r1-1", "10.0.1.12", "10.0.1.12", (SVC,)),
    ]
    assert plan.rules[0].args == ("svc probe/web", "addr 172.16.255.20", "addr 10.0.0.50", "addr 10.0.1.10")
    assert make_plan(ctx_for(), "service", "web", "probe", run_id="r1").rules == ()


def test_the_rules_pod_is_privileged_on_the_host_network_and_mounts_the_node_read_only() -> None:
    plan = make_plan(ctx_for(), "service", "web", "probe", run_id="r1", rules=True)
    pod = rules_manifest(plan, plan.rules[0], "busybox:1.36", 90, "SCRIPT")
    spec = pod["spec"]
    assert pod["metadata"]["namespace"] == RULES_NAMESPACE == "kube-system"
    assert pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-tke-net"
    assert (spec["nodeName"], spec["hostNetwork"], spec["activeDeadlineSeconds"]) == ("10.0.1.10", True, 90)
    assert spec["automountServiceAccountToken"] is False
    [container] = spec["containers"]
    assert container["securityContext"]["privileged"] is True
    assert container["command"] == ["sh", "-c", "SCRIPT", "tke-net-rules"] and container["args"] == list(
        plan.rules[0].args
    )
    assert {"name": "host", "mountPath": "/host", "readOnly": True} in container["volumeMounts"]


def rules_message(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode())).decode()


def test_rules_pods_run_in_kube_system_beside_the_probe_pods_and_are_deleted() -> None:
    ipt = (RULES / "iptables-save.txt").read_text()

    def kubelet(pod: dict[str, Any], polls: int) -> dict[str, Any] | None:
        if pod["metadata"]["namespace"] != RULES_NAMESPACE:
            return succeeded(pod, polls)
        message = rules_message(f"### iptables-save rc=0\n{ipt}\n### nft rc=127\n### end\n")
        return {
            "phase": "Succeeded",
            "containerStatuses": [{"name": "rules", "state": {"terminated": {"exitCode": 0, "message": message}}}],
        }

    api = FakeApi(kubelet)
    plan = make_plan(ctx_for(), "service", "web", "probe", run_id="r1", rules=True)
    logged: list[str] = []  # what -v prints
    probed = run(api, plan, image="busybox:1.36", timeout=5, log=logged.append, warn=logged.append, poll=0.01)
    assert api.pods == {} and probed.failures == ()
    assert "probe: Pod kube-system/tke-net-rules-r1-0 on node 10.0.1.10: rules" in logged
    assert not any("KUBE-" in line or "H4sI" in line for line in logged)  # neither the rules nor the message
    assert [c for c in api.calls if c[0] == "delete"] == [
        ("delete", n) for n in ("tke-net-probe-r1-0", "tke-net-probe-r1-1", "tke-net-rules-r1-0", "tke-net-rules-r1-1")
    ]
    assert [r.rules.mode if r.rules else r.error for r in probed.rules] == [IPTABLES, IPTABLES]
    # What the ProbeResult keeps reads back the same, and holds no rule text.
    fact = to_fact(SVC, "r1", run=probed)
    assert "KUBE-SVC" not in str(fact) and "-A " not in str(fact)
    _target, again, _why = from_fact(fact)
    assert again is not None
    assert [(r.pod.name, r.pod.node, r.rules) for r in again.rules] == [
        (r.pod.name, r.pod.node, r.rules) for r in probed.rules
    ]


def _judged(*rules: RulesObservation, edit: Any = None) -> tuple[list[tuple[str, str]], list[Any]]:
    ctx = ctx_for()
    if edit is not None:
        edit(next(s for s in ctx.snap.list("services") if s["metadata"]["name"] == "web"))
    plan = make_plan(ctx, "service", "web", "probe", run_id="r1", rules=True)
    probed = run(FakeApi(succeeded), plan, image="b", timeout=5, log=lambda _l: None, warn=lambda _l: None, poll=0.01)
    ctx.snap.add_facts(to_fact(SVC, "r1", run=type(probed)(probed.plan, probed.observations, (), rules)))
    result = checks.run(ProbeContext(ctx.snap, "web", None, "Service"), [checks.CHECKS["TKE127"]])
    return [(f.code, f.message) for f in result.findings], result.skipped


def _rules(
    mode: str | None, *entries: Entry, bound: tuple[str, ...] | None = None, node: str = "10.0.1.10"
) -> RulesObservation:
    plan = make_plan(ctx_for(), "service", "web", "probe", run_id="r1", rules=True)
    pod = next(r for r in plan.rules if r.node == node)
    return RulesObservation(pod, NodeRules(mode, entries, bound, ()))


HEALTHY = (
    Entry(ADDRESS, "172.16.255.20", "tcp", 80, READY),
    Entry(NODE_PORT, "", "tcp", 30080, READY),
    Entry(ADDRESS, "10.0.0.50", "tcp", 80, READY),
)


def test_healthy_rules_give_nothing_and_each_fault_is_named() -> None:
    assert _judged(_rules(IPTABLES, *HEALTHY), _rules(NFTABLES, *HEALTHY, node="10.0.1.12")) == ([], [])
    stale = Entry(ADDRESS, "172.16.255.20", "tcp", 80, ("172.20.0.5:8080", "172.20.7.7:8080"))
    [(code, message)], _skipped = _judged(_rules(IPTABLES, stale, *HEALTHY[1:]))
    assert code == "TKE127"
    assert message == (
        "node 10.0.1.10 (iptables): ClusterIP 172.16.255.20:80/TCP leads to 172.20.0.5:8080, 172.20.7.7:8080, "
        "not to the ready endpoints (172.20.0.5:8080, 172.20.1.5:8080)"
    )
    [(_c, message)], _skipped = _judged(_rules(None))
    assert message.startswith("node 10.0.1.10 (no kube-proxy rules): ClusterIP 172.16.255.20:80/TCP has no rule; ")
    assert "NodePort 30080/TCP has no rule" in message and "CLB address 10.0.0.50:80/TCP has no rule" in message


def test_ip_mode_proxy_leaves_the_clb_address_to_the_clb() -> None:
    def proxy(svc: dict[str, Any]) -> None:
        svc["status"]["loadBalancer"]["ingress"][0]["ipMode"] = "Proxy"

    assert _judged(_rules(IPTABLES, *HEALTHY[:2]), edit=proxy) == ([], [])


def test_traffic_policies_local_accept_fewer_endpoints_never_others() -> None:
    def local(svc: dict[str, Any]) -> None:
        svc["spec"].update(externalTrafficPolicy="Local", internalTrafficPolicy="Local")

    mine = ("172.20.0.5:8080",)
    fewer = [Entry(e.kind, e.address, e.protocol, e.port, mine) for e in HEALTHY]
    assert _judged(_rules(IPTABLES, *fewer), edit=local) == ([], [])
    other = Entry(NODE_PORT, "", "tcp", 30080, ("172.20.9.9:8080",))
    [(_c, message)], _s = _judged(_rules(IPTABLES, fewer[0], other, fewer[2]), edit=local)
    assert message.startswith("node 10.0.1.10 (iptables): NodePort 30080/TCP leads to 172.20.9.9:8080")


def test_on_ipvs_the_nodeport_is_on_the_node_address_and_the_clb_address_must_be_bound() -> None:
    ipvs = (
        Entry(ADDRESS, "172.16.255.20", "tcp", 80, READY),
        Entry(ADDRESS, "10.0.1.10", "tcp", 30080, READY),
        Entry(ADDRESS, "10.0.0.50", "tcp", 80, READY),
    )
    assert _judged(_rules(IPVS, *ipvs, bound=("10.0.0.50", "172.16.255.20"))) == ([], [])
    [(_c, message)], _s = _judged(_rules(IPVS, *ipvs, bound=("172.16.255.20",)))
    assert message == (
        "node 10.0.1.10 (ipvs): the CLB address 10.0.0.50 is not bound to kube-ipvs0, so the node's Pods send "
        "traffic for it to the CLB, which can loop it back (the prevent-loopback fix binds it)"
    )


def test_without_rules_tke127_is_skipped_with_why() -> None:
    unreadable = RulesObservation(_rules(IPTABLES).pod, None, "the rules Pod reported something unreadable")
    assert _judged(unreadable)[1][0].reason == "node 10.0.1.10: the rules Pod reported something unreadable"


def test_super_nodes_get_no_rules_pod() -> None:
    from tests.test_probe_super_nodes import SUPER, _ctx

    plan = make_plan(_ctx(), "service", "web", "probe", run_id="r1", rules=True, requested_nodes=["10.0.1.10", SUPER])
    assert [r.node for r in plan.rules] == ["10.0.1.10"]
    assert f"{SUPER} is a super node: its kube-proxy rules are not read" in plan.notes


def test_probe_rules_needs_probe(cli: Any) -> None:
    done = cli("svc", "web", "-n", "probe", "--snapshot", "tests/fixtures/probe.yaml", "--probe-rules")
    assert done.status == 2 and "--probe-rules needs --probe" in done.err


class NoKubeSystem(FakeApi):
    """Pods may be created in the Service's namespace, not in kube-system."""

    def create(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if body["metadata"]["namespace"] == RULES_NAMESPACE:
            self.calls.append(("create", body["metadata"]["name"]))
            return 403, {"message": 'pods is forbidden: User "dev" cannot create resource "pods" in kube-system'}
        return super().create(path, body)


def test_rules_pods_that_may_not_be_created_leave_the_probe_whole() -> None:
    plan = make_plan(ctx_for(), "service", "web", "probe", run_id="r1", rules=True)
    api = NoKubeSystem(succeeded)
    probed = run(api, plan, image="b", timeout=5, log=lambda _l: None, warn=lambda _l: None, poll=0.01)
    assert all(o.ok for o in probed.observations) and probed.failures == () and api.pods == {}
    assert [r.rules for r in probed.rules] == [None, None]
    assert probed.rules[0].error.startswith("forbidden: cannot create the probe Pods: pods is forbidden")
    assert probed.rules[0].error.endswith("kube-system); --probe-rules needs deploy/rbac/probe-rules.yaml")
    ctx = ctx_for()
    ctx.snap.add_facts(to_fact(SVC, "r1", run=probed))
    result = checks.run(ProbeContext(ctx.snap, "web", None, "Service"), checks.selected("probe", (), ()))
    assert [f.code for f in result.findings] == ["TKE125"]  # the probe's own verdict stands
    [skipped] = result.skipped
    assert skipped.codes == ("TKE127",) and "forbidden" in skipped.reason


def test_a_rules_pod_that_fails_is_told_by_tke127_not_by_the_probe() -> None:
    def kubelet(pod: dict[str, Any], polls: int) -> dict[str, Any] | None:
        if pod["metadata"]["namespace"] != RULES_NAMESPACE:
            return succeeded(pod, polls)
        waiting = {"reason": "ImagePullBackOff", "message": "no such image"}
        return {"phase": "Pending", "containerStatuses": [{"name": "rules", "state": {"waiting": waiting}}]}

    plan = make_plan(ctx_for(), "service", "web", "probe", run_id="r1", rules=True)
    probed = run(FakeApi(kubelet), plan, image="b", timeout=5, log=lambda _l: None, warn=lambda _l: None, poll=0.01)
    assert probed.failures == ()
    assert "tke-net-rules-r1-0" in probed.rules[0].error and "ImagePullBackOff" in probed.rules[0].error


def test_without_a_ready_endpoint_rules_may_lead_to_the_serving_ones_that_terminate() -> None:
    def terminating(ctx: ProbeContext) -> None:
        [es] = [e for e in ctx.snap.list("endpointslices") if e["metadata"]["name"] == "web-x7k2p"]
        for ep in es["endpoints"]:
            ep["conditions"] = {"ready": False, "serving": True, "terminating": True}
        for pod in ctx.snap.list("pods"):
            pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]

    ctx = ctx_for()
    terminating(ctx)
    plan = make_plan(ctx, "service", "web", "probe", run_id="r1", rules=True)
    pod = plan.rules[0]

    def verdict(*entries: Entry) -> list[str]:
        c = ctx_for()
        terminating(c)
        probed = run(
            FakeApi(succeeded), plan, image="b", timeout=5, log=lambda _l: None, warn=lambda _l: None, poll=0.01
        )
        rules = (RulesObservation(pod, NodeRules(IPTABLES, entries, None, ())),)
        c.snap.add_facts(to_fact(SVC, "r1", run=type(probed)(probed.plan, probed.observations, (), rules)))
        result = checks.run(ProbeContext(c.snap, "web", None, "Service"), [checks.CHECKS["TKE127"]])
        return [f.message for f in result.findings]

    assert verdict(*HEALTHY) == []  # kube-proxy falls back to them (KEP-1669)
    [message] = verdict(Entry(ADDRESS, "172.16.255.20", "tcp", 80, ("172.20.5.5:8080",)), *HEALTHY[1:])
    assert "leads to 172.20.5.5:8080, not to the ready endpoints (none)" in message
