"""TKE401-TKE405 on a live cluster: Tencent Cloud keys in the environment turn them on (no --cloud), the real SDK
signs every call to the fake Tencent Cloud API of tests/tcfake.py, and the live report equals the report of the
plugin's own dump with --cloud, as every other check's does."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controlplane import ControlPlane
from load import own_controlplane

from tests.conftest import FIXTURES, PLUGIN, found, run_plugin
from tests.tcfake import FakeCloud
from tests.test_cloud_checks import LOOPBACK, SVC, account

CLOUD = ("TKE401", "TKE402", "TKE403", "TKE404", "TKE405")


@pytest.fixture(scope="module")
def cluster(kubectl: str) -> Iterator[ControlPlane]:
    """A control plane of its own: the fixture's Nodes would change the node count other modules report."""
    with own_controlplane(kubectl, FIXTURES / "cloud.yaml") as cp:
        yield cp


@pytest.fixture
def fake() -> Iterator[FakeCloud]:
    cloud = account().start()
    yield cloud
    cloud.stop()


def run(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    done = run_plugin(*args, "-o", "json", env=env)
    assert done.status in (0, 1), done.err
    return done.status, done.json(), done.err


def keyed(cp: ControlPlane, fake: FakeCloud) -> dict[str, str]:
    return dict(
        cp.env(),
        TENCENTCLOUD_SECRET_ID=fake.secret_id,
        TENCENTCLOUD_SECRET_KEY=fake.secret_key,
        TKE_NET_CLOUD_ENDPOINT=fake.url,
    )


def cloud_found(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(code, obj) for code, obj in found(doc) if code in CLOUD}


def test_keys_in_the_environment_turn_the_checks_on_for_live_runs(
    cluster: ControlPlane, fake: FakeCloud, tmp_path: Path
) -> None:
    status, doc, err = run(keyed(cluster, fake), "svc", "-A", "-v")
    assert status == 1 and cloud_found(doc) == SVC
    assert not any(code in CLOUD for skip in doc["skipped"] for code in skip["codes"])
    assert fake.rejected == [] and {c.region for c in fake.calls} == {"ap-guangzhou"}  # from the nodes' labels
    assert fake.secret_key not in err and "credentials from environment" in err
    _status, doc, _err = run(keyed(cluster, fake), "loopback", "-A")
    assert cloud_found(doc) == LOOPBACK
    # The same objects dumped, then read offline with --cloud: the same report but for its source.
    dump = tmp_path / "cloud-dump.json"
    dumped = subprocess.run(
        [str(PLUGIN), "dump", "-A"], env=cluster.env(), capture_output=True, text=True, timeout=120, check=True
    )
    dump.write_text(dumped.stdout)
    for command in ("svc", "ingress", "loopback"):
        live = run(keyed(cluster, fake), command, "-A")
        offline = run(keyed(cluster, fake), command, "-A", "--snapshot", str(dump), "--cloud")
        assert live[0] == offline[0], command
        assert {k: v for k, v in live[1].items() if k != "source"} == {
            k: v for k, v in offline[1].items() if k != "source"
        }, command


def test_without_keys_or_with_no_cloud_nothing_is_asked(cluster: ControlPlane, fake: FakeCloud) -> None:
    _status, plain, _err = run(cluster.env(), "svc", "-A")
    _status, refused, _err = run(keyed(cluster, fake), "svc", "-A", "--no-cloud")
    assert plain == refused and cloud_found(plain) == set()
    assert not any(code in CLOUD for skip in plain["skipped"] for code in skip["codes"])
    assert fake.calls == []


def test_a_live_dump_carries_the_cloud_facts_and_reproduces_the_findings_offline(
    cluster: ControlPlane, fake: FakeCloud, tmp_path: Path
) -> None:
    """dump with the keys writes the CloudFacts it read up front; --snapshot of it, without keys and without the
    API, gives the live run's report."""
    done = run_plugin("dump", "-A", env=keyed(cluster, fake))
    assert done.status == 0, done.err
    items = done.json()["items"]
    [facts] = [i for i in items if i["kind"] == "CloudFacts"]
    assert facts["apiVersion"] == "tke-net/v1" and facts["region"] == "ap-guangzhou" and facts["errors"] == {}
    assert fake.secret_id not in done.out and fake.secret_key not in done.out
    dump = tmp_path / "cloud-facts-dump.json"
    dump.write_text(done.out)
    live = {command: run(keyed(cluster, fake), command, "-A") for command in ("svc", "ingress", "loopback")}
    asked = len(fake.calls)
    for command, (status, doc, _err) in live.items():
        off_status, off_doc, _off_err = run(
            {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, command, "-A", "--snapshot", str(dump)
        )
        assert status == off_status, command
        assert {k: v for k, v in doc.items() if k != "source"} == {k: v for k, v in off_doc.items() if k != "source"}, (
            command
        )
    assert cloud_found(live["svc"][1]) == SVC and cloud_found(live["loopback"][1]) == LOOPBACK
    assert len(fake.calls) == asked  # offline: no call
