"""Security-group evaluation (first match wins, groups in bound order), credentials, region, and batching of the
Tencent Cloud reads in kubectl_tke_net.sources.cloud."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubectl_tke_net.cloudrules import (
    HEALTH_CHECKS,
    INTERNET,
    Addresses,
    SecurityGroup,
    evaluate,
    instance_id,
    parse_ports,
    parse_rule,
)
from kubectl_tke_net.model import Unavailable
from kubectl_tke_net.sources.cloud import CloudReader, Credentials, SdkApi, find_credentials, region_of_nodes
from tests.tcfake import FakeCloud

A = Addresses.parse


def group(gid: str, *rules: dict[str, Any], templates: dict[str, Addresses] | None = None) -> SecurityGroup:
    return SecurityGroup(
        gid,
        tuple(
            parse_rule(gid, {"PolicyIndex": i, "Action": "ACCEPT", **r}, templates or {}) for i, r in enumerate(rules)
        ),
    )


def allowed(groups: list[SecurityGroup], protocol: str, port: int, source: str) -> bool:
    verdict = evaluate(groups, protocol, port, A([source]))
    return verdict.accepted.covers(A([source]))


def test_drop_before_accept_and_accept_before_drop() -> None:
    drop_first = group(
        "sg-1",
        {"Protocol": "TCP", "Port": "80", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
        {"Protocol": "TCP", "Port": "80", "CidrBlock": "0.0.0.0/0"},
    )
    accept_first = group(
        "sg-1",
        {"Protocol": "TCP", "Port": "80", "CidrBlock": "0.0.0.0/0"},
        {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
    )
    assert not allowed([drop_first], "TCP", 80, "1.2.3.4")
    assert allowed([accept_first], "TCP", 80, "1.2.3.4")
    assert not allowed([accept_first], "TCP", 81, "1.2.3.4")


def test_order_is_policy_index_not_list_order() -> None:
    sg = SecurityGroup(
        "sg-1",
        (
            parse_rule(
                "sg-1",
                {"PolicyIndex": 1, "Protocol": "TCP", "Port": "80", "CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"},
                {},
            ),
            parse_rule(
                "sg-1",
                {"PolicyIndex": 0, "Protocol": "TCP", "Port": "80", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
                {},
            ),
        ),
    )
    assert not allowed([sg], "TCP", 80, "8.8.8.8")


def test_port_lists_ranges_and_all() -> None:
    assert parse_ports("ALL") is None and parse_ports("all") is None
    assert parse_ports("80,443") == ((80, 80), (443, 443))
    assert parse_ports("30000-32768") == ((30000, 32768),)
    with pytest.raises(ValueError):
        parse_ports("http")
    sg = group(
        "sg-1",
        {"Protocol": "TCP", "Port": "80,443", "CidrBlock": "0.0.0.0/0"},
        {"Protocol": "UDP", "Port": "30000-32768", "CidrBlock": "0.0.0.0/0"},
        {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "10.0.0.0/8"},
    )
    assert allowed([sg], "TCP", 443, "1.1.1.1") and not allowed([sg], "TCP", 444, "1.1.1.1")
    assert allowed([sg], "UDP", 32768, "1.1.1.1") and not allowed([sg], "TCP", 30080, "1.1.1.1")
    assert allowed([sg], "TCP", 30080, "10.1.2.3") and allowed([sg], "UDP", 9, "10.1.2.3")


def test_nothing_matching_is_denied() -> None:
    sg = group("sg-1", {"Protocol": "TCP", "Port": "22", "CidrBlock": "0.0.0.0/0"})
    verdict = evaluate([sg], "TCP", 80, INTERNET)
    assert not verdict.allowed and verdict.refused == INTERNET and verdict.deciding == ()
    assert not evaluate([], "TCP", 80, INTERNET).allowed


def test_several_groups_in_bound_order() -> None:
    first = group("sg-a", {"Protocol": "TCP", "Port": "30080", "CidrBlock": "0.0.0.0/0", "Action": "DROP"})
    second = group("sg-b", {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0"})
    assert not allowed([first, second], "TCP", 30080, "1.2.3.4")
    assert allowed([second, first], "TCP", 30080, "1.2.3.4")
    assert allowed([first, second], "TCP", 30081, "1.2.3.4")


def test_partial_sources() -> None:
    sg = group(
        "sg-1",
        {"Protocol": "TCP", "Port": "ALL", "CidrBlock": "100.64.0.0/11"},
        {"Protocol": "TCP", "Port": "ALL", "CidrBlock": "100.96.0.0/12", "Action": "DROP"},
        {"Protocol": "TCP", "Port": "ALL", "CidrBlock": "100.64.0.0/10"},
    )
    verdict = evaluate([sg], "TCP", 30090, HEALTH_CHECKS)
    assert verdict.allowed and not verdict.accepted.covers(HEALTH_CHECKS)
    assert verdict.refused == A(["100.96.0.0/12"])
    assert [r.index for r in verdict.deciding] == [0, 1, 2]


def test_address_templates_and_groups() -> None:
    templates = {"ipm-1": A(["203.0.113.0/24"]), "ipm-2": A(["198.51.100.1-198.51.100.9"])}
    templates["ipmg-1"] = templates["ipm-1"] | templates["ipm-2"]
    sg = group(
        "sg-1",
        {"Protocol": "TCP", "Port": "443", "AddressTemplate": {"AddressId": "ipm-1"}},
        {"Protocol": "TCP", "Port": "80", "AddressTemplate": {"AddressGroupId": "ipmg-1"}},
        templates=templates,
    )
    assert allowed([sg], "TCP", 443, "203.0.113.7") and not allowed([sg], "TCP", 443, "198.51.100.5")
    assert allowed([sg], "TCP", 80, "198.51.100.9") and not allowed([sg], "TCP", 80, "198.51.100.10")
    unresolved = group("sg-1", {"Protocol": "TCP", "Port": "80", "AddressTemplate": {"AddressId": "ipm-9"}})
    verdict = evaluate([unresolved], "TCP", 80, INTERNET)
    assert verdict.uncertain and "could not be read" in (verdict.uncertain[0].opaque or "")


def test_ipv6_rules_do_not_open_ipv4() -> None:
    sg = group(
        "sg-1",
        {"Protocol": "TCP", "Port": "443", "Ipv6CidrBlock": "::/0"},
        {"Protocol": "TCP", "Port": "80", "Ipv6CidrBlock": "2402:4e00::/32", "Action": "DROP"},
        {"Protocol": "TCP", "Port": "80", "Ipv6CidrBlock": "::/0"},
    )
    assert allowed([sg], "TCP", 443, "2001:db8::1") and not allowed([sg], "TCP", 443, "1.2.3.4")
    assert not allowed([sg], "TCP", 80, "2402:4e00::5") and allowed([sg], "TCP", 80, "2001:db8::1")


def test_udp_and_icmp() -> None:
    sg = group(
        "sg-1",
        {"Protocol": "TCP", "Port": "ALL", "CidrBlock": "0.0.0.0/0"},
        {"Protocol": "ICMP", "Port": "", "CidrBlock": "0.0.0.0/0"},
    )
    assert not allowed([sg], "UDP", 30053, "1.1.1.1") and allowed([sg], "TCP", 30053, "1.1.1.1")


def test_security_group_sources_are_not_judged() -> None:
    sg = group(
        "sg-1",
        {"Protocol": "TCP", "Port": "80", "SecurityGroupId": "sg-2"},
        {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
    )
    verdict = evaluate([sg], "TCP", 80, INTERNET)
    assert not verdict.allowed and [r.source for r in verdict.uncertain] == ["sg-2"]


def test_a_rule_that_cannot_match_leaves_no_doubt() -> None:
    """SSH from a bastion's security group, or an unreadable template on another port or protocol, says nothing
    about a NodePort: the DROP after them decides."""
    sg = group(
        "sg-1",
        {"Protocol": "TCP", "Port": "22", "SecurityGroupId": "sg-bastion"},
        {"Protocol": "UDP", "Port": "ALL", "AddressTemplate": {"AddressId": "ipm-9"}},
        {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
    )
    verdict = evaluate([sg], "TCP", 30080, INTERNET)
    assert not verdict.allowed and verdict.uncertain == () and [r.index for r in verdict.deciding] == [2]
    assert [r.source for r in evaluate([sg], "TCP", 22, INTERNET).uncertain] == ["sg-bastion"]
    assert [r.source for r in evaluate([sg], "UDP", 53, INTERNET).uncertain] == ["ipm-9"]


def test_credentials(tmp_path: Path) -> None:
    env = {"TENCENTCLOUD_SECRET_ID": "AKIDx", "TENCENTCLOUD_SECRET_KEY": "key", "TENCENTCLOUD_SESSION_TOKEN": "tok"}
    creds = find_credentials(env, tmp_path)
    assert creds == Credentials("AKIDx", "key", "tok", "environment")
    assert "key" not in repr(creds) and "tok" not in repr(creds)
    assert find_credentials({}, tmp_path) is None
    (tmp_path / ".tccli").mkdir()
    (tmp_path / ".tccli" / "prod.credential").write_text(json.dumps({"secretId": "AKIDp", "secretKey": "k2"}))
    assert find_credentials({}, tmp_path) is None
    assert find_credentials({"TCCLI_PROFILE": "prod"}, tmp_path) == Credentials("AKIDp", "k2", None, "tccli")
    (tmp_path / ".tccli" / "default.credential").write_text("not json")
    assert find_credentials({}, tmp_path) is None


def test_region_and_instance_of_nodes() -> None:
    def node(labels: dict[str, str], provider: str = "") -> dict[str, Any]:
        return {"metadata": {"labels": labels}, "spec": {"providerID": provider}}

    assert (
        region_of_nodes(
            [node({"topology.kubernetes.io/region": "cd", "topology.com.tencent.cloud.csi.cbs/zone": "ap-chengdu-1"})]
        )
        == "ap-chengdu"
    )
    assert region_of_nodes([node({"failure-domain.beta.kubernetes.io/region": "gz"})]) == "ap-guangzhou"
    assert region_of_nodes([node({"topology.kubernetes.io/region": "ap-tokyo"})]) == "ap-tokyo"
    assert region_of_nodes([node({})]) is None
    # A short name we cannot map is not sent as a region (every call would fail unclearly): --region it is.
    assert region_of_nodes([node({"topology.kubernetes.io/region": "xyz"})]) is None
    assert (
        region_of_nodes([node({"topology.kubernetes.io/region": "xyz"}), node({"topology.kubernetes.io/region": "sh"})])
        == "ap-shanghai"
    )
    assert instance_id(node({"cloud.tencent.com/node-instance-id": "ins-f5wpfrc5"})) == "ins-f5wpfrc5"
    assert instance_id(node({}, "qcloud:///800002/ins-abcd1234")) == "ins-abcd1234"
    assert instance_id(node({}, "aws:///us-east-1a/i-0123")) is None


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloud]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    cloud = FakeCloud().start()
    yield cloud
    cloud.stop()


def facts_for(fake: FakeCloud, key: str | None = None) -> CloudReader:
    creds = Credentials(fake.secret_id, key or fake.secret_key)
    return CloudReader(SdkApi(creds, "ap-guangzhou", 10, fake.url), "ap-guangzhou")


def test_instances_are_read_a_hundred_at_a_time(fake: FakeCloud) -> None:
    fake.instances = {f"ins-{i:08d}": {"security_groups": ["sg-1"], "bandwidth": i % 2} for i in range(150)}
    facts = facts_for(fake)
    got = facts.instances([*fake.instances, "ins-gone0000"])
    assert len(got) == 150 and got["ins-00000001"].bandwidth_out == 1
    assert [len(c.params["InstanceIds"]) for c in fake.calls] == [100, 51]
    facts.instances(["ins-00000003"])  # kept: no new call
    assert len(fake.calls) == 2


def test_load_balancers_are_read_twenty_at_a_time(fake: FakeCloud) -> None:
    fake.load_balancers = {f"lb-{i:08d}": {"security_groups": ["sg-1"]} for i in range(25)}
    got = facts_for(fake).load_balancers(fake.load_balancers)
    assert len(got) == 25 and [len(c.params["LoadBalancerIds"]) for c in fake.calls] == [20, 5]


def test_the_fake_checks_the_signature(fake: FakeCloud) -> None:
    facts = facts_for(fake, key="wrong")
    with pytest.raises(Unavailable) as exc:
        facts.account_type()
    assert "AuthFailure.SignatureFailure" in exc.value.reason and "wrong" not in exc.value.reason
    assert fake.rejected == ["AuthFailure.SignatureFailure"] and fake.calls == []
    assert facts_for(fake).account_type() == "STANDARD"


def test_the_sdk_is_imported_only_for_cloud_runs(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom kubectl_tke_net.cli import main\ntry:\n    main(sys.argv[1:])\n"
        "finally:\n    print('tencentcloud' in sys.modules, file=sys.stderr)"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for args in (
        ["version"],
        ["--help"],
        ["svc", "--help"],
        ["checks", "TKE401"],
        ["svc", "-A", "--snapshot", "tests/fixtures/cloud.yaml"],
        ["svc", "-A", "--snapshot", "tests/fixtures/cloud.yaml", "--cloud"],
    ):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False, env=env)
        assert done.stderr.strip().endswith("False"), (args, done.stderr)
