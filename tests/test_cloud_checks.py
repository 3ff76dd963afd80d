"""TKE401-TKE405 through the CLI, against the fake Tencent Cloud API of tests/tcfake.py (the real SDK signs every
request; the fake checks the signature), on the fixture cluster tests/fixtures/cloud.yaml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLI, Run, fixture, found, self_signed, variant
from tests.tcfake import FakeCloud

CLUSTER = fixture("cloud")
SVC = {
    ("TKE401", "Node/10.0.0.11"),
    ("TKE401", "Node/10.0.0.12"),
    ("TKE403", "Service/shop/direct"),
    ("TKE403", "Service/shop/web"),
    ("TKE405", "Service/shop/internal"),
}
ING = {
    ("TKE401", "Node/10.0.0.11"),  # Ingress shop/tls-ing is public: its backend's NodePort from the Internet
    ("TKE401", "Node/10.0.0.12"),
    ("TKE402", "Ingress/shop/tls-ing"),
    ("TKE403", "Ingress/shop/tls-ing"),
    ("TKE404", "Ingress/shop/ka-ing"),
}
LOOPBACK = {("TKE404", "Ingress/shop/ka-ing"), ("TKE405", "Service/shop/internal")}


def account() -> FakeCloud:
    """Nodes whose shared group opens everything to the VPC, SSH to the world, and drops the rest."""
    return FakeCloud(
        instances={
            "ins-aaaa1111": {"security_groups": ["sg-node0001", "sg-common1"], "bandwidth": 0, "ip": "10.0.0.11"},
            "ins-bbbb2222": {"security_groups": ["sg-common1"], "bandwidth": 10, "ip": "10.0.0.12"},
        },
        policies={
            "sg-node0001": [
                {"Protocol": "UDP", "Port": "30053", "AddressTemplate": {"AddressGroupId": "ipmg-office1"}},
            ],
            "sg-common1": [
                {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "10.0.0.0/8"},
                {"Protocol": "TCP", "Port": "22", "CidrBlock": "0.0.0.0/0"},
                {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
            ],
            "sg-clb00001": [
                {"Protocol": "TCP", "Port": "80", "CidrBlock": "0.0.0.0/0"},
                {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
            ],
        },
        templates={
            "ipm-office01": ["203.0.113.0/24"],
            "ipm-office02": ["198.51.100.1-198.51.100.9"],
            "ipm-snat0001": ["100.127.0.0/16"],
        },
        template_groups={"ipmg-office1": ["ipm-office01", "ipm-office02"]},
        load_balancers={
            "lb-web00001": {"type": "OPEN", "security_groups": []},
            "lb-int00001": {"type": "INTERNAL", "vips": ["10.0.0.50"]},
            "lb-ing00001": {"type": "OPEN", "security_groups": ["sg-clb00001"]},
            "lb-ka000001": {"type": "INTERNAL", "vips": ["10.0.0.60"]},
        },
        account_type="LEGACY",
    )


def use(cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the plugin at the fake with its keys; no proxy of the machine's in between. (tests/conftest.py
    has already cleared the machine's Tencent Cloud variables and given the test a HOME of its own.)"""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", cloud.secret_id)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", cloud.secret_key)
    monkeypatch.setenv("TKE_NET_CLOUD_ENDPOINT", cloud.url)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloud]:
    cloud = account().start()
    use(cloud, monkeypatch)
    yield cloud
    cloud.stop()


def diagnose(cli: CLI, command: str, *extra: str) -> Run:
    return cli(command, "-A", "--snapshot", CLUSTER, "-o", "json", "--cloud", "--select", "TKE4", *extra)


def by_code(run: Run) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in run.json()["findings"]:
        out.setdefault(f["code"], []).append(f)
    return out


def test_each_command_finds_its_cloud_faults(cli: CLI, fake: FakeCloud) -> None:
    svc = diagnose(cli, "svc")
    assert (svc.status, found(svc), svc.json()["skipped"]) == (1, SVC, [])
    assert found(diagnose(cli, "ingress")) == ING
    assert found(diagnose(cli, "loopback")) == LOOPBACK
    # Every request was signed right, went to the region of the nodes' labels (gz), and the UDP NodePort that the
    # node's own group opens to an address-template group, and the VPC range, raised nothing.
    assert fake.rejected == [] and {c.region for c in fake.calls} == {"ap-guangzhou"}


def test_messages_and_remediation_name_the_group_and_the_rule(cli: CLI, fake: FakeCloud) -> None:
    codes = by_code(diagnose(cli, "svc"))
    node1 = next(f for f in codes["TKE401"] if f["name"] == "10.0.0.11")
    assert "ins-aaaa1111 (sg-node0001, sg-common1)" in node1["message"]
    assert "TCP 30080 from the Internet (Service shop/web, Ingress shop/tls-ing)" in node1["message"]
    assert "UDP" not in node1["message"] and "30090" not in node1["message"]
    assert node1["remediation"].startswith(
        "insert an inbound rule at the top of sg-node0001: ACCEPT TCP 30000-32768 from 0.0.0.0/0"
    )
    assert (
        "tccli vpc CreateSecurityGroupPolicies --cli-unfold-argument --region ap-guangzhou --SecurityGroupId "
        "sg-node0001 --SecurityGroupPolicySet.Ingress.0.PolicyIndex 0"
    ) in node1["remediation"]
    assert "10.0.0.11" in codes["TKE403"][0]["message"] and "10.0.0.12" not in codes["TKE403"][0]["message"]
    assert "and node 10.0.0.11 has no public bandwidth: responses through it fail" in codes["TKE403"][0]["message"]
    assert "100.64.0.0/10" in codes["TKE405"][0]["message"] and "TCP 30090" in codes["TKE405"][0]["message"]
    assert "from 100.64.0.0/10" in codes["TKE405"][0]["remediation"]
    ing = by_code(diagnose(cli, "ingress"))
    assert "lb-ing00001 (sg-clb00001)" in ing["TKE402"][0]["message"] and "TCP 443" in ing["TKE402"][0]["message"]
    assert "ACCEPT TCP 443 from 0.0.0.0/0" in ing["TKE402"][0]["remediation"]
    assert "TCP 30080" in ing["TKE404"][0]["message"] and "100.127.0.0/16" in ing["TKE404"][0]["message"]


def test_calls_are_batched_per_kind(cli: CLI, fake: FakeCloud) -> None:
    diagnose(cli, "loopback")
    actions = fake.actions()
    # Two nodes are CVMs: one DescribeInstances; one policy read per security group (the API takes one);
    # one call per template kind; one DescribeLoadBalancers for both CLBs.
    assert actions.count("DescribeInstances") == 1
    assert sorted(c.params["SecurityGroupId"] for c in fake.calls if c.action == "DescribeSecurityGroupPolicies") == [
        "sg-common1",
        "sg-node0001",
    ]
    assert actions.count("DescribeAddressTemplateGroups") == 1 and actions.count("DescribeAddressTemplates") == 1
    assert actions.count("DescribeLoadBalancers") == 1
    lbs = next(c for c in fake.calls if c.action == "DescribeLoadBalancers").params["LoadBalancerIds"]
    assert sorted(lbs) == ["lb-ing00001", "lb-int00001", "lb-ka000001", "lb-web00001"]


def test_pages_are_followed(cli: CLI, fake: FakeCloud) -> None:
    fake.max_page = 1
    assert found(diagnose(cli, "loopback")) == LOOPBACK
    offsets = [c.params["Offset"] for c in fake.calls if c.action == "DescribeLoadBalancers"]
    assert offsets == [0, 1, 2, 3]
    assert [c.params["Offset"] for c in fake.calls if c.action == "DescribeAddressTemplates"] == ["0", "1"]


def _top(fake: FakeCloud, sg: str, **rule: object) -> None:
    fake.policies[sg].insert(0, dict(rule))


def test_tke401_negative_when_the_range_is_open(cli: CLI, fake: FakeCloud) -> None:
    _top(fake, "sg-node0001", Protocol="TCP", Port="30080,30443", CidrBlock="0.0.0.0/0")
    assert {f for f in found(diagnose(cli, "svc")) if f[0] == "TKE401"} == {("TKE401", "Node/10.0.0.12")}
    _top(fake, "sg-common1", Protocol="TCP", Port="30000-32768", CidrBlock="0.0.0.0/0")
    assert not {f for f in found(diagnose(cli, "svc")) if f[0] == "TKE401"}


def test_tke401_drop_before_accept_in_an_earlier_group(cli: CLI, fake: FakeCloud) -> None:
    _top(fake, "sg-common1", Protocol="TCP", Port="30000-32768", CidrBlock="0.0.0.0/0")
    _top(fake, "sg-node0001", Protocol="TCP", Port="30080", CidrBlock="0.0.0.0/0", Action="DROP")
    assert {f for f in found(diagnose(cli, "svc")) if f[0] == "TKE401"} == {("TKE401", "Node/10.0.0.11")}


def test_tke401_negative_with_pass_to_target(cli: CLI, fake: FakeCloud) -> None:
    fake.load_balancers["lb-web00001"]["pass_to_target"] = True
    # The public Ingress tls-ing in front of Service web still sends the Internet to its NodePort.
    codes = by_code(diagnose(cli, "svc"))
    assert all(
        "(Ingress shop/tls-ing)" in f["message"] and "Service shop/web" not in f["message"] for f in codes["TKE401"]
    )
    fake.load_balancers["lb-ing00001"]["pass_to_target"] = True
    assert not {f for f in found(diagnose(cli, "svc")) if f[0] == "TKE401"}


def test_tke401_udp_needs_udp(cli: CLI, fake: FakeCloud) -> None:
    fake.policies["sg-common1"][0] = {"Protocol": "TCP", "Port": "ALL", "CidrBlock": "10.0.0.0/8"}
    fake.policies["sg-node0001"] = []
    _top(fake, "sg-common1", Protocol="TCP", Port="30000-32768", CidrBlock="0.0.0.0/0")
    codes = by_code(diagnose(cli, "svc"))
    assert {f["name"] for f in codes["TKE401"]} == {"10.0.0.11", "10.0.0.12"}
    assert all("UDP 30053 from the VPC (Service shop/dns)" in f["message"] for f in codes["TKE401"])
    assert "ACCEPT UDP 30000-32768 from 10.0.0.0/8" in codes["TKE401"][0]["remediation"]


def test_tke402_negative_when_443_is_open(cli: CLI, fake: FakeCloud) -> None:
    _top(fake, "sg-clb00001", Protocol="TCP", Port="80,443", CidrBlock="0.0.0.0/0")
    assert ("TKE402", "Ingress/shop/tls-ing") not in found(diagnose(cli, "ingress"))
    fake.load_balancers["lb-ing00001"]["security_groups"] = []
    fake.policies["sg-clb00001"] = []
    assert ("TKE402", "Ingress/shop/tls-ing") not in found(diagnose(cli, "ingress"))


def test_tke403_negative_on_a_standard_account(cli: CLI, fake: FakeCloud) -> None:
    fake.account_type = "STANDARD"
    assert not {f for f in found(diagnose(cli, "svc")) if f[0] == "TKE403"}
    fake.account_type = "LEGACY"
    fake.instances["ins-aaaa1111"]["bandwidth"] = 5
    assert not {f for f in found(diagnose(cli, "svc")) if f[0] == "TKE403"}


def test_tke404_negative_when_the_snat_range_is_allowed(cli: CLI, fake: FakeCloud) -> None:
    for sg in ("sg-node0001", "sg-common1"):
        _top(fake, sg, Protocol="TCP", Port="ALL", AddressTemplate={"AddressId": "ipm-snat0001"})
    assert ("TKE404", "Ingress/shop/ka-ing") not in found(diagnose(cli, "ingress"))


def test_tke404_only_part_of_the_range_is_not_enough(cli: CLI, fake: FakeCloud) -> None:
    _top(fake, "sg-common1", Protocol="TCP", Port="30080", CidrBlock="100.127.0.0/17")
    assert ("TKE404", "Ingress/shop/ka-ing") in found(diagnose(cli, "ingress"))


def test_tke405_negative_when_health_checks_are_allowed(cli: CLI, fake: FakeCloud) -> None:
    _top(fake, "sg-common1", Protocol="TCP", Port="30090", CidrBlock="100.64.0.0/10")
    assert found(diagnose(cli, "loopback")) == {("TKE404", "Ingress/shop/ka-ing")}


def test_a_security_group_source_means_no_verdict(cli: CLI, fake: FakeCloud) -> None:
    _top(fake, "sg-common1", Protocol="TCP", Port="30090", SecurityGroupId="sg-clb00001")
    assert ("TKE405", "Service/shop/internal") not in found(diagnose(cli, "loopback"))


@pytest.mark.parametrize(
    ("action", "code", "words"),
    [
        (
            "DescribeSecurityGroupPolicies",
            "UnauthorizedOperation",
            "the CAM policy needs vpc:DescribeSecurityGroupPolicies",
        ),
        ("DescribeInstances", "RequestLimitExceeded", "rate limited"),
    ],
)
def test_api_errors_skip_the_checks_that_needed_the_data(
    cli: CLI,
    fake: FakeCloud,
    action: str,
    code: str,
    words: str,
) -> None:
    fake.fail[action] = code
    run = cli("svc", "-A", "--snapshot", CLUSTER, "-o", "json", "--cloud")
    doc = run.json()
    cloud_skips = [s for s in doc["skipped"] if any(c.startswith("TKE4") for c in s["codes"])]
    assert len(cloud_skips) == 1 and words in cloud_skips[0]["reason"] and code in cloud_skips[0]["reason"]
    skipped = set(cloud_skips[0]["codes"])
    assert {"TKE401", "TKE405"} <= skipped
    # The Kubernetes checks are untouched, and so is the exit status they give.
    base = cli("svc", "-A", "--snapshot", CLUSTER, "-o", "json")
    assert {f for f in found(run) if not f[0].startswith("TKE4")} == found(base)
    if action == "DescribeSecurityGroupPolicies":
        assert ("TKE403", "Service/shop/web") in found(run)  # needs no security group
    assert run.status == base.status


def test_a_timeout_is_a_skip(cli: CLI, fake: FakeCloud) -> None:
    fake.slow.add("DescribeNetworkAccountType")
    run = diagnose(cli, "svc", "--request-timeout", "1s")
    skips = run.json()["skipped"]
    assert [s["codes"] for s in skips] == [["TKE403"]]
    assert "cannot reach the Tencent Cloud API" in skips[0]["reason"]
    assert found(run) == {f for f in SVC if f[0] != "TKE403"}


def test_a_wrong_key_gets_the_signature_error(cli: CLI, fake: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "wrongSecretKey000000000000000000000")
    run = diagnose(cli, "svc", "-v")
    assert found(run) == set()
    reasons = {s["reason"] for s in run.json()["skipped"]}
    assert len(reasons) == 1 and "AuthFailure.SignatureFailure" in reasons.pop()
    assert fake.rejected and set(fake.rejected) == {"AuthFailure.SignatureFailure"} and fake.calls == []
    assert "wrongSecretKey" not in run.out + run.err


def test_secret_keys_are_never_printed(cli: CLI, fake: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.token = "sessionToken0000000000000000000000000000"
    monkeypatch.setenv("TENCENTCLOUD_SESSION_TOKEN", fake.token)
    fake.fail["DescribeInstances"] = "UnauthorizedOperation"
    for output in ("json", "wide"):
        run = cli("svc", "-A", "--snapshot", CLUSTER, "-o", output, "--cloud", "-v")
        assert "tencent cloud: cvm:DescribeInstances" in run.err  # -v shows the calls...
        assert fake.secret_key not in run.out + run.err and fake.token not in run.out + run.err  # ...never the keys
    assert fake.rejected == []


def test_tccli_credentials_and_region_flag(
    cli: CLI,
    fake: FakeCloud,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("TENCENTCLOUD_SECRET_ID")
    monkeypatch.delenv("TENCENTCLOUD_SECRET_KEY")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".tccli").mkdir()
    (tmp_path / ".tccli" / "default.credential").write_text(
        json.dumps({"secretId": fake.secret_id, "secretKey": fake.secret_key})
    )
    assert found(diagnose(cli, "svc", "--region", "ap-shanghai")) == SVC
    assert {c.region for c in fake.calls} == {"ap-shanghai"}


def test_without_credentials_nothing_changes(cli: CLI, fake: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = cli("svc", "-A", "--snapshot", CLUSTER)
    # A snapshot run is offline unless --cloud asks: credentials in the environment change nothing.
    assert cli("svc", "-A", "--snapshot", CLUSTER) == plain
    assert (
        cli("svc", "-A", "--snapshot", CLUSTER, "--no-cloud", "--select", "TKE1,TKE4").out
        == cli("svc", "-A", "--snapshot", CLUSTER, "--select", "TKE1").out
    )
    monkeypatch.delenv("TENCENTCLOUD_SECRET_ID")
    monkeypatch.delenv("TENCENTCLOUD_SECRET_KEY")
    assert cli("svc", "-A", "--snapshot", CLUSTER) == plain
    assert "TKE4" not in cli("svc", "-A", "--snapshot", CLUSTER, "-o", "json").out
    assert fake.calls == [] and fake.rejected == []


def test_cloud_without_credentials_is_a_skip(cli: CLI, fake: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENCENTCLOUD_SECRET_ID")
    run = diagnose(cli, "svc")
    assert run.status == 0 and found(run) == set()
    [skip] = run.json()["skipped"]
    assert skip["codes"] == ["TKE401", "TKE403", "TKE405"]
    assert skip["reason"].startswith("no Tencent Cloud credentials: set TENCENTCLOUD_SECRET_ID")


def test_region_unknown_is_a_skip(cli: CLI, fake: FakeCloud, tmp_path: Path) -> None:
    text = (
        Path(CLUSTER)
        .read_text()
        .replace("topology.kubernetes.io/region: gz", "a: b")
        .replace("failure-domain.beta.kubernetes.io/region: gz", "c: d")
    )
    path = tmp_path / "noregion.yaml"
    path.write_text(text)
    run = cli("svc", "-A", "--snapshot", str(path), "-o", "json", "--cloud", "--select", "TKE4")
    assert "region unknown: pass --region" in run.json()["skipped"][0]["reason"]


def test_cloud_and_no_cloud_together_is_a_usage_error(cli: CLI, fake: FakeCloud) -> None:
    run = cli("svc", "-A", "--snapshot", CLUSTER, "--cloud", "--no-cloud")
    assert run.status == 2 and run.err.startswith("error: argument --no-cloud: not allowed with argument --cloud")


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "api.crt", folder / "api.key"
    self_signed(cert, key, "127.0.0.1", san="IP:127.0.0.1")
    return str(cert), str(key)


def test_https_as_in_production_trusting_the_ca_the_environment_names(
    cli: CLI, fake: FakeCloud, tls_files: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real API is HTTPS: the SDK's TLS path, verified; REQUESTS_CA_BUNDLE (or SSL_CERT_FILE) names the CA
    to trust instead of certifi's, as behind a TLS-inspecting proxy; an untrusted server is a skip, not a crash."""
    secure = account().start(tls=tls_files)
    try:
        monkeypatch.setenv("TKE_NET_CLOUD_ENDPOINT", secure.url)
        assert secure.url.startswith("https://")
        for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
            monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
            monkeypatch.setenv(variable, tls_files[0])
            run = diagnose(cli, "svc")
            assert (run.status, found(run), run.json()["skipped"]) == (1, SVC, []), variable
        asked = len(secure.calls)
        assert asked and secure.rejected == []
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        run = diagnose(cli, "svc")
        assert run.status == 0 and found(run) == set() and "Traceback" not in run.err
        skipped = run.json()["skipped"]
        assert {code for skip in skipped for code in skip["codes"]} == SVC_CODES
        assert all(
            "TLS certificate is not trusted" in skip["reason"] and "REQUESTS_CA_BUNDLE" in skip["reason"]
            for skip in skipped
        ), skipped
        assert len(secure.calls) == asked  # the handshake failed: nothing reached the API
    finally:
        secure.stop()
    assert fake.calls == []


SVC_CODES = {code for code, _obj in SVC}


def test_malformed_l7_listeners_do_not_crash_tke404(cli: CLI, fake: FakeCloud, tmp_path: Path) -> None:
    def strings(doc: dict[str, Any]) -> None:
        config = next(i for i in doc["items"] if i["metadata"]["name"] == "ka-ing-auto-ingress-config")
        config["spec"]["loadBalancer"]["l7Listeners"] = ["HTTP:80"]

    run = cli(
        "ingress", "-A", "--snapshot", variant(tmp_path, "cloud", strings), "-o", "json", "--cloud", "--select", "TKE4"
    )
    assert "Traceback" not in run.err and run.err == ""
    assert found(run) == ING - {("TKE404", "Ingress/shop/ka-ing")}  # keep-alive not on: nothing to judge


# --- CloudFacts: read up front, dumped, and read back offline --------------------------------------------------


COMMANDS = ("svc", "ingress", "loopback")


def dump_with_cloud(cli: CLI, tmp_path: Path, *extra: str) -> Path:
    run = cli("dump", "-A", "--snapshot", CLUSTER, "--cloud", *extra)
    assert run.status == 0, run.err
    path = tmp_path / "dump.json"
    path.write_text(run.out)
    return path


def offline(cli: CLI, monkeypatch: pytest.MonkeyPatch, command: str, snapshot: Path, *extra: str) -> Run:
    """A run of the dump with no credentials and no Tencent Cloud API to reach."""
    for name in ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TKE_NET_CLOUD_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return cli(command, "-A", "--snapshot", str(snapshot), "-o", "json", *extra)


def same_report(live: Run, off: Run) -> None:
    assert live.status == off.status
    assert {k: v for k, v in live.json().items() if k != "source"} == {
        k: v for k, v in off.json().items() if k != "source"
    }


def test_dump_writes_the_cloud_facts_and_a_snapshot_of_it_gives_the_same_findings(
    cli: CLI, fake: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = dump_with_cloud(cli, tmp_path)
    [facts] = [i for i in json.loads(path.read_text())["items"] if i["kind"] == "CloudFacts"]
    assert (facts["apiVersion"], facts["metadata"], facts["region"]) == (
        "tke-net/v1",
        {"name": "ap-guangzhou"},
        "ap-guangzhou",
    )
    assert set(facts["instances"]) == {"ins-aaaa1111", "ins-bbbb2222"} and facts["networkAccountType"] == "LEGACY"
    assert set(facts["securityGroups"]) == {"sg-node0001", "sg-common1", "sg-clb00001"} and facts["errors"] == {}
    live = {
        command: cli(command, "-A", "--snapshot", CLUSTER, "-o", "json", "--cloud")
        for command in ("svc", "ingress", "loopback")
    }
    asked = len(fake.calls)
    for command, run in live.items():
        off = offline(cli, monkeypatch, command, path)
        same_report(run, off)
        # On when the snapshot holds CloudFacts, with or without --cloud; --no-cloud turns them off.
        same_report(run, offline(cli, monkeypatch, command, path, "--cloud"))
        assert not any(
            f["code"].startswith("TKE4")
            for f in offline(cli, monkeypatch, command, path, "--no-cloud").json()["findings"]
        )
    assert found(live["svc"]) >= SVC and found(live["ingress"]) >= ING and found(live["loopback"]) >= LOOPBACK
    assert len(fake.calls) == asked and fake.rejected == []  # offline: not one call


def test_a_dump_holds_no_credential(cli: CLI, fake: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.token = "sessionToken0000000000000000000000000000"
    monkeypatch.setenv("TENCENTCLOUD_SESSION_TOKEN", fake.token)
    fake.fail["DescribeInstances"] = "UnauthorizedOperation"
    for output in ("json", "yaml"):
        text = dump_with_cloud(cli, tmp_path, "-o", output).read_text()
        assert "CloudFacts" in text and "cvm:DescribeInstances" in text
        for secret in (fake.secret_id, fake.secret_key, fake.token):
            assert secret not in text


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("DescribeSecurityGroupPolicies", "UnauthorizedOperation"),
        ("DescribeInstances", "RequestLimitExceeded"),
        ("DescribeLoadBalancers", "AuthFailure.SecretIdNotFound"),
        ("DescribeNetworkAccountType", "UnauthorizedOperation"),
    ],
)
def test_a_snapshot_skips_what_the_live_run_could_not_read(
    cli: CLI, fake: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, action: str, code: str
) -> None:
    fake.fail[action] = code
    path = dump_with_cloud(cli, tmp_path)
    [facts] = [i for i in json.loads(path.read_text())["items"] if i["kind"] == "CloudFacts"]
    assert code in json.dumps(facts["errors"])
    live = {command: cli(command, "-A", "--snapshot", CLUSTER, "-o", "json", "--cloud") for command in COMMANDS}
    assert all(run.json()["skipped"] for run in live.values())
    for command, run in live.items():
        same_report(run, offline(cli, monkeypatch, command, path))


def test_no_credentials_is_kept_as_a_skip(
    cli: CLI, fake: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TENCENTCLOUD_SECRET_ID")
    path = dump_with_cloud(cli, tmp_path)
    live = diagnose(cli, "svc")
    off = offline(cli, monkeypatch, "svc", path, "--select", "TKE4")
    same_report(live, off)
    assert off.json()["skipped"][0]["reason"].startswith("no Tencent Cloud credentials")
    assert fake.calls == []


def test_without_the_cloud_a_dump_is_what_it_was(cli: CLI, fake: FakeCloud) -> None:
    for args in (("--no-cloud",), ()):  # a --snapshot run is offline unless --cloud asks
        run = cli("dump", "-A", "--snapshot", CLUSTER, *args)
        assert run.status == 0 and "CloudFacts" not in run.out
    assert fake.calls == []


def test_facts_a_snapshot_lacks_are_a_skip_not_a_guess(
    cli: CLI, fake: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = dump_with_cloud(cli, tmp_path)
    doc = json.loads(path.read_text())
    [facts] = [i for i in doc["items"] if i["kind"] == "CloudFacts"]
    del facts["instances"]["ins-bbbb2222"]
    path.write_text(json.dumps(doc))
    run = offline(cli, monkeypatch, "svc", path, "--select", "TKE401")
    [skip] = run.json()["skipped"]
    assert skip["codes"] == ["TKE401"] and "do not hold ins-bbbb2222" in skip["reason"]
