"""--lang zh for the Tencent Cloud checks TKE401-TKE405, through the CLI against the fake API of tests/tcfake.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubectl_tke_net import i18n
from tests.conftest import CLI, found
from tests.tcfake import FakeCloud
from tests.test_cloud_checks import SVC, account, by_code, diagnose, use


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloud]:
    """The fake account of tests/test_cloud_checks.py, whatever the machine's locale; English again afterwards."""
    cloud = account().start()
    for name in (*i18n.LOCALE_VARIABLES, "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    use(cloud, monkeypatch)
    yield cloud
    cloud.stop()
    i18n.set_language("en")


def test_cloud_finding_in_chinese_names_the_group_and_the_rule(cli: CLI, fake: FakeCloud) -> None:
    """Message and remediation translated; codes, objects, IDs, the rule's values and the tccli command unchanged."""
    zh = diagnose(cli, "svc", "--lang", "zh")
    en = diagnose(cli, "svc", "--lang", "en")
    assert (zh.status, found(zh), zh.json()["skipped"]) == (en.status, found(en), []) == (1, SVC, [])
    node1 = next(f for f in by_code(zh)["TKE401"] if f["name"] == "10.0.0.11")
    assert node1["message"] == (
        "实例 ins-aaaa1111 的安全组（sg-node0001, sg-common1）没有放通 TCP 30080（来源：公网，"
        "Service shop/web, Ingress shop/tls-ing）：CLB 和客户端无法访问该节点上的这些端口"
    )
    assert node1["remediation"].startswith(
        "在安全组 sg-node0001 的入站规则最前面插入：来源 0.0.0.0/0、协议端口 TCP:30000-32768、策略 允许（例如执行 "
        "tccli vpc CreateSecurityGroupPolicies --cli-unfold-argument --region ap-guangzhou --SecurityGroupId "
        "sg-node0001 --SecurityGroupPolicySet.Ingress.0.PolicyIndex 0 "
    )
    assert node1["severity"] == "error" and node1["docs"].endswith("/docs/checks/zh/TKE401.md")
    english = next(f for f in by_code(en)["TKE401"] if f["name"] == "10.0.0.11")
    assert {k: v for k, v in node1.items() if k not in ("message", "remediation", "docs")} == {
        k: v for k, v in english.items() if k not in ("message", "remediation", "docs")
    }
    assert "传统账户类型（LEGACY" in by_code(zh)["TKE403"][0]["message"]
