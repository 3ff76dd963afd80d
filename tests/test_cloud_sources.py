"""TKE401 and TKE402 judge the traffic the CLB really sends (TKE-FACTS-2 §7.1-7.4), through the CLI against the
signature-checking fake Tencent Cloud API (tests/tcfake.py), on tests/fixtures/cloud-sources.yaml: the Internet
client behind a public CLB Ingress, the VPC clients of an internal L4 CLB, direct access to container ports and
super-node Pods, and the Ingress's listeners from listen-ports and the certificate annotation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, Run, finding, fixture, found
from tests.tcfake import FakeCloud
from tests.test_cloud_checks import by_code, use

CLUSTER = fixture("cloud-sources")
NODES = {("TKE401", "Node/10.0.1.1"), ("TKE401", "Node/10.0.1.2")}


def account() -> FakeCloud:
    """Both nodes in one group that opens everything to the VPC and drops the rest; a super-node Pod's own
    group that opens only 80; CLB groups that open 80 and 443."""
    return FakeCloud(
        instances={
            "ins-cccc3333": {"security_groups": ["sg-vpc00001"], "bandwidth": 10, "ip": "10.0.1.1"},
            "ins-dddd4444": {"security_groups": ["sg-vpc00001"], "bandwidth": 10, "ip": "10.0.1.2"},
        },
        policies={
            "sg-vpc00001": [
                {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "10.0.0.0/8"},
                {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
            ],
            "sg-pod00001": [
                {"Protocol": "TCP", "Port": "80", "CidrBlock": "0.0.0.0/0"},
                {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
            ],
            "sg-clblp001": [
                {"Protocol": "TCP", "Port": "80,443", "CidrBlock": "0.0.0.0/0"},
                {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
            ],
            "sg-clbct001": [
                {"Protocol": "TCP", "Port": "80", "CidrBlock": "0.0.0.0/0"},
                {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
            ],
        },
        load_balancers={
            "lb-pub00001": {"type": "OPEN"},
            "lb-inti0001": {"type": "INTERNAL", "vips": ["10.0.1.60"]},
            "lb-int00002": {"type": "INTERNAL", "vips": ["10.0.1.50"]},
            "lb-dir00001": {"type": "OPEN"},
            "lb-eks00001": {"type": "OPEN"},
            "lb-cni00001": {"type": "OPEN"},
            "lb-lp000001": {"type": "OPEN", "security_groups": ["sg-clblp001"]},
            "lb-ct000001": {"type": "OPEN", "security_groups": ["sg-clbct001"]},
        },
    )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloud]:
    cloud = account().start()
    use(cloud, monkeypatch)
    yield cloud
    cloud.stop()


def diagnose(cli: CLI, command: str, *extra: str) -> Run:
    return cli(command, "-A", "--snapshot", CLUSTER, "-o", "json", "--cloud", "--select", "TKE401,TKE402", *extra)


def _top(fake: FakeCloud, sg: str, **rule: object) -> None:
    fake.policies[sg].insert(0, dict(rule))


def test_a_public_ingress_passes_the_internet_client_to_its_backends_node_ports(cli: CLI, fake: FakeCloud) -> None:
    """§7.1: a node group that allows the NodePorts only from the VPC passed TKE401 while the Ingress gave 504."""
    svc = by_code(diagnose(cli, "svc"))
    assert {("TKE401", f"{f['kind']}/{f['name']}") for f in svc["TKE401"] if f["kind"] == "Node"} == {
        ("TKE401", "Node/10.0.1.1"),
        ("TKE401", "Node/10.0.1.2"),
    }
    for node in (f for f in svc["TKE401"] if f["kind"] == "Node"):
        assert (
            "TCP 31080 from the Internet (Ingress shop/public-ing, Ingress shop/ports-ing, Ingress shop/cert-ing)"
            in (node["message"])
        )
        assert "ACCEPT TCP 30000-32768 from 0.0.0.0/0" in node["remediation"]
        assert "31090" not in node["message"]  # the internal Services' VPC clients get through
    # Under `ingress` TKE401 judges the Ingresses in scope, and only them.
    run = cli(
        "ingress", "public-ing", "-n", "shop", "--snapshot", CLUSTER, "-o", "json", "--cloud", "--select", "TKE401"
    )
    assert found(run) == NODES and run.status == 1
    assert all(
        "(Ingress shop/public-ing)" in f["message"] and "8081" not in f["message"] for f in run.json()["findings"]
    )
    assert fake.rejected == []
    # Opened to the world, the NodePort range is fine for every Ingress.
    _top(fake, "sg-vpc00001", Protocol="TCP", Port="30000-32768", CidrBlock="0.0.0.0/0")
    run = cli("ingress", "-A", "--snapshot", CLUSTER, "-o", "json", "--cloud", "--select", "TKE401")
    assert (found(run), run.json()["skipped"]) == (set(), [])


def test_keepalive_leaves_an_ingress_to_tke404(cli: CLI, fake: FakeCloud, tmp_path: Path) -> None:
    """With CLB keep-alive the CLB SNATs from 100.127.0.0/16 (TKE404's business), not the client's address."""
    import yaml

    doc = yaml.safe_load(Path(CLUSTER).read_text())
    for item in doc["items"]:
        if item["kind"] == "Ingress" and item["metadata"]["name"] != "int-ing":
            item["metadata"]["annotations"]["ingress.cloud.tencent.com/tke-service-config"] = "ka"
    doc["items"].append(
        {
            "apiVersion": "cloud.tencent.com/v1alpha1",
            "kind": "TkeServiceConfig",
            "metadata": {"name": "ka", "namespace": "shop"},
            "spec": {"loadBalancer": {"l7Listeners": [{"protocol": "HTTP", "port": 80, "keepaliveEnable": 1}]}},
        }
    )
    path = tmp_path / "ka.yaml"
    path.write_text(yaml.safe_dump(doc))
    run = cli("ingress", "-A", "--snapshot", str(path), "-o", "json", "--cloud", "--select", "TKE401")
    assert found(run) == set() and run.json()["skipped"] == []


def test_an_internal_l4_clb_passes_its_clients_addresses(cli: CLI, fake: FakeCloud) -> None:
    """§7.2: a group that lets only the CLB's VIP through passes its health checks and drops every client."""
    fake.policies["sg-vpc00001"] = [
        {"Protocol": "TCP", "Port": "ALL", "CidrBlock": "10.0.1.50"},
        {"Protocol": "TCP", "Port": "31080,8081", "CidrBlock": "0.0.0.0/0"},
        {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
    ]
    run = diagnose(cli, "svc", "--select", "TKE401")
    nodes = [f for f in run.json()["findings"] if f["kind"] == "Node"]
    assert {f["name"] for f in nodes} == {"10.0.1.1", "10.0.1.2"}
    for node in nodes:
        assert "TCP 31090 from its clients in the VPC (Service shop/intl)" in node["message"]
        assert "from the CLB address" not in node["message"]
        assert "ACCEPT TCP 30000-32768 from 10.0.0.0/8" in node["remediation"]
    # The VPC's own range (the cluster's, say) is enough: not all of the private ranges are asked for.
    _top(fake, "sg-vpc00001", Protocol="TCP", Port="31090", CidrBlock="10.0.0.0/16")
    assert not [f for f in diagnose(cli, "svc", "--select", "TKE401").json()["findings"] if f["kind"] == "Node"]


def test_direct_access_to_globalrouter_pods_needs_the_container_port_on_their_node(cli: CLI, fake: FakeCloud) -> None:
    """§7.3: direct access is not a pass: the CLB reaches the Pod's container port through its node's group."""
    _top(fake, "sg-vpc00001", Protocol="TCP", Port="30000-32768", CidrBlock="0.0.0.0/0")
    run = diagnose(cli, "svc", "--select", "TKE401")
    [node] = [f for f in run.json()["findings"] if f["kind"] == "Node"]
    assert node["name"] == "10.0.1.1"  # the node that hosts gr-1; 10.0.1.2 hosts none of its Pods
    assert "TCP 8081 from the Internet (Service shop/gr-direct)" in node["message"]  # the named targetPort `web`
    assert "31070" not in node["message"]  # not its NodePort
    assert "ACCEPT TCP 8081 from 0.0.0.0/0" in node["remediation"]
    _top(fake, "sg-vpc00001", Protocol="TCP", Port="8081", CidrBlock="0.0.0.0/0")
    assert not [f for f in diagnose(cli, "svc", "--select", "TKE401").json()["findings"] if f["kind"] == "Node"]


def test_a_super_node_pod_is_judged_by_its_own_security_group(cli: CLI, fake: FakeCloud) -> None:
    """§3.2: super-node Pods are bound to eks.tke.cloud.tencent.com/security-group-id, not to a node's group."""
    run = diagnose(cli, "svc", "--select", "TKE401")
    pod = finding(run, "TKE401", "Pod/shop/eks-1")
    assert pod["severity"] == "error"
    assert "super-node Pod eks-1 (sg-pod00001)" in pod["message"]
    assert "TCP 8080 from the Internet (Service shop/eks-direct)" in pod["message"]
    assert (
        "--SecurityGroupId sg-pod00001" in pod["remediation"] and "ACCEPT TCP 8080 from 0.0.0.0/0" in pod["remediation"]
    )
    assert "sg-pod00001" in [
        c.params["SecurityGroupId"] for c in fake.calls if c.action == "DescribeSecurityGroupPolicies"
    ]
    _top(fake, "sg-pod00001", Protocol="TCP", Port="8080", CidrBlock="0.0.0.0/0")
    assert ("TKE401", "Pod/shop/eks-1") not in found(diagnose(cli, "svc", "--select", "TKE401"))


def test_what_the_plugin_cannot_read_is_said_never_fine(cli: CLI, fake: FakeCloud) -> None:
    """A VPC-CNI Pod's ENI group and a super-node Pod's default group are not read: info with the reason."""
    run = diagnose(cli, "svc", "--select", "TKE401")
    unknown = finding(run, "TKE401", "Service/shop/cni-direct")
    assert unknown["severity"] == "info"
    assert "cannot judge the security groups of its direct-access Pods" in unknown["message"]
    assert "VPC-CNI Pod cni-1: the security group of its ENI is not read by the plugin" in unknown["message"]
    assert "super-node Pod eks-2 has no eks.tke.cloud.tencent.com/security-group-id" in unknown["message"]
    assert "TCP 8080 from the Internet (Service shop/cni-direct)" in unknown["message"]
    assert unknown["remediation"] == (
        "check that the security group bound to those Pods allows: ACCEPT TCP 8080 from 0.0.0.0/0"
    )


def test_tke402_listener_ports_from_listen_ports_and_the_certificate_annotation(cli: CLI, fake: FakeCloud) -> None:
    """§7.4: listen-ports moves HTTPS to 8443; the certificate annotation makes an Ingress HTTPS without spec.tls."""
    codes = by_code(diagnose(cli, "ingress", "--select", "TKE402"))
    by_name = {f["name"]: f for f in codes["TKE402"]}
    assert set(by_name) == {"ports-ing", "cert-ing"}
    assert "lb-lp000001 (sg-clblp001)" in by_name["ports-ing"]["message"]
    assert "through to TCP 8443" in by_name["ports-ing"]["message"]
    assert "ACCEPT TCP 8443 from 0.0.0.0/0" in by_name["ports-ing"]["remediation"]
    assert "through to TCP 443" in by_name["cert-ing"]["message"]
    _top(fake, "sg-clblp001", Protocol="TCP", Port="8443", CidrBlock="0.0.0.0/0")
    _top(fake, "sg-clbct001", Protocol="TCP", Port="443", CidrBlock="0.0.0.0/0")
    assert not by_code(diagnose(cli, "ingress", "--select", "TKE402")).get("TKE402")


def test_a_dump_gives_the_same_findings_offline(
    cli: CLI, fake: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The super-node Pod's group is read up front with the nodes' and kept in the dump's CloudFacts."""
    dump = cli("dump", "-A", "--snapshot", CLUSTER, "--cloud")
    assert dump.status == 0, dump.err
    path = tmp_path / "dump.json"
    path.write_text(dump.out)
    [facts] = [i for i in json.loads(path.read_text())["items"] if i["kind"] == "CloudFacts"]
    assert "sg-pod00001" in facts["securityGroups"]
    live = {c: cli(c, "-A", "--snapshot", CLUSTER, "-o", "json", "--cloud") for c in ("svc", "ingress")}
    asked = len(fake.calls)
    for name in ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TKE_NET_CLOUD_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for command, run in live.items():
        off = cli(command, "-A", "--snapshot", str(path), "-o", "json")
        strip = {k: v for k, v in run.json().items() if k != "source"}
        assert strip == {k: v for k, v in off.json().items() if k != "source"}
        assert any(f["code"] == "TKE401" for f in off.json()["findings"])
    assert len(fake.calls) == asked


def test_in_chinese(cli: CLI, fake: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """--lang zh: the new sources, the super-node Pod's group and what cannot be judged are translated."""
    from kubectl_tke_net import i18n

    for name in (*i18n.LOCALE_VARIABLES, "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    try:
        zh = diagnose(cli, "svc", "--select", "TKE401", "--lang", "zh")
    finally:
        i18n.set_language("en")
    pod = finding(zh, "TKE401", "Pod/shop/eks-1")
    assert pod["message"].startswith("超级节点 Pod eks-1 的安全组（sg-pod00001）没有放通 TCP 8080")
    unknown = finding(zh, "TKE401", "Service/shop/cni-direct")
    assert unknown["message"].startswith(
        "无法判断其直连 Pod 的安全组（VPC-CNI Pod cni-1：插件不读取其弹性网卡（ENI）的安全组"
    )
    assert unknown["remediation"].startswith("请确认这些 Pod 绑定的安全组放通：")
    node = finding(zh, "TKE401", "Node/10.0.1.1")
    assert "CLB 和客户端无法访问该节点上的这些端口" in node["message"]
