"""Cluster configuration checks TKE601-TKE604: the cases their fixtures cannot hold (one cluster has one
ip-masq-agent-config, one tke-config, one kube-dns), the rule that tells a TKE cluster, skips, and the narrow
read of kube-dns from kube-system whatever -n says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubectl_tke_net import tke
from kubectl_tke_net.kinds import KINDS, Kind, Obj
from kubectl_tke_net.model import Unavailable
from kubectl_tke_net.snapshot import Snapshot
from tests.conftest import CLI, fixture, found, messages, severities, variant

MASQ = "ConfigMap/kube-system/ip-masq-agent-config"
TKE_CONFIG = "ConfigMap/kube-system/tke-config"
KUBE_DNS = "Service/kube-system/kube-dns"
# messages() and severities() key findings by (code, object name)
MASQ_NAME = ("TKE601", "ip-masq-agent-config")
TKE_CONFIG_NAME = ("TKE602", "tke-config")


def _set_masq(config: str) -> Any:
    def change(doc: dict[str, Any]) -> None:
        for item in doc["items"]:
            if item["kind"] == "ConfigMap" and item["metadata"]["name"] == "ip-masq-agent-config":
                item["data"]["config"] = config

    return change


# --- TKE601 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        "nonMasqueradeCIDRs:\n  - 0.0.0.0/0\nmasqLinkLocal: false\nresyncInterval: 60s\n",  # upstream's YAML form
        '{"nonmasqueradecidrs": ["10.0.0.0/8", "0.0.0.0/0"]}',  # Go's JSON decoding ignores case
        '{"NonMasqueradeCIDRs": ["0.0.0.0/1", "128.0.0.0/1"]}',  # two halves: nothing left to masquerade
    ],
)
def test_tke601_every_form_that_masquerades_nothing(cli: CLI, tmp_path: Path, config: str) -> None:
    run = cli("ingress", "-A", "--snapshot", variant(tmp_path, "healthy", _set_masq(config)), "-o", "json")
    assert found(run) == {("TKE601", MASQ)}
    assert severities(run)[MASQ_NAME] == "error"
    assert "E4007" in messages(run)[MASQ_NAME]


@pytest.mark.parametrize(
    "config",
    [
        "",  # the agent's defaults
        '{"MasqLinkLocal": true}',  # no nonMasqueradeCIDRs: the defaults
        '{"NonMasqueradeCIDRs": ["172.20.0.0/16", "10.0.0.0/8", "::/0"]}',  # IPv6 /0 is not IPv4's
        "nonMasqueradeCIDRs: [0.0.0.0/1]",  # half of the addresses still masqueraded
    ],
)
def test_tke601_configs_that_leave_masquerading_on(cli: CLI, tmp_path: Path, config: str) -> None:
    run = cli("ingress", "-A", "--snapshot", variant(tmp_path, "healthy", _set_masq(config)), "-o", "json")
    assert found(run) == set(), run.out


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ('{"NonMasqueradeCIDRs": ["0.0.0.0/0"', "does not parse at line 1"),
        ("- 0.0.0.0/0", "not a mapping"),
        ('{"NonMasqueradeCIDRs": "0.0.0.0/0"}', "not a list of CIDRs"),
        ('{"NonMasqueradeCIDRs": ["10.0.0.0"]}', "'10.0.0.0' is not a CIDR"),
        ('{"NonMasqueradeCIDRs": ["10.0.0.0/33"]}', "'10.0.0.0/33' is not a CIDR"),
        ("[" * 5000 + "]" * 5000, "nests too deeply"),  # no traceback
    ],
)
def test_tke601_a_config_the_agent_cannot_read_is_a_warning(cli: CLI, tmp_path: Path, config: str, says: str) -> None:
    run = cli("ingress", "-A", "--snapshot", variant(tmp_path, "healthy", _set_masq(config)), "-o", "json")
    assert found(run) == {("TKE601", MASQ)}, run.err
    assert severities(run)[MASQ_NAME] == "warning"
    assert says in messages(run)[MASQ_NAME]


def test_tke601_reads_nothing_but_the_config_key() -> None:
    kept = tke.keep_configmaps(
        [
            {
                "metadata": {"name": "ip-masq-agent-config", "namespace": "kube-system"},
                "data": {"config": "{}", "notes": "secret-ish text"},
            },
            {"metadata": {"name": "unrelated", "namespace": "kube-system"}, "data": {"password": "x"}},
        ],
        [],
    )
    assert kept == [
        {"metadata": {"name": "ip-masq-agent-config", "namespace": "kube-system"}, "data": {"config": "{}"}}
    ]


# --- TKE602 ------------------------------------------------------------------------------------------------


def _drop(kind: str, name: str | None = None) -> Any:
    def change(doc: dict[str, Any]) -> None:
        doc["items"] = [
            i for i in doc["items"] if not (i["kind"] == kind and (name is None or i["metadata"]["name"] == name))
        ]

    return change


def _chain(*changes: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        for one in changes:
            one(doc)

    return change


def test_tke602_a_tke_config_without_the_vpc(cli: CLI, tmp_path: Path) -> None:
    def no_vpc(doc: dict[str, Any]) -> None:
        for item in doc["items"]:
            if item["kind"] == "ConfigMap" and item["metadata"]["name"] == "tke-config":
                item["data"]["TKE_VPC_ID"] = " "

    run = cli("ingress", "-A", "--snapshot", variant(tmp_path, "healthy", no_vpc), "-o", "json")
    assert found(run) == {("TKE602", TKE_CONFIG)}
    message = messages(run)[TKE_CONFIG_NAME]
    assert "TKE_VPC_ID" in message and "E6002" in message and "TKE_REGION" not in message


@pytest.mark.parametrize(
    ("marker", "says"),
    [
        (
            _chain(
                _drop("ConfigMap", "tke-service-controller-config"), _drop("ConfigMap", "tke-ingress-controller-config")
            ),
            "runs the TKE image ccr.ccs.tencentyun.com/tkeimages/",  # kube-proxy or tke-bridge-agent
        ),
        (
            _chain(
                _drop("ConfigMap", "tke-service-controller-config"),
                _drop("ConfigMap", "tke-ingress-controller-config"),
                _drop("DaemonSet"),
            ),
            "node 10.0.1.10 has label cloud.tencent.com/node-instance-id",
        ),
    ],
)
def test_tke602_says_what_makes_it_a_tke_cluster(cli: CLI, tmp_path: Path, marker: Any, says: str) -> None:
    snapshot = variant(tmp_path, "healthy", _chain(marker, _drop("ConfigMap", "tke-config")))
    run = cli("ingress", "-A", "--snapshot", snapshot, "-o", "json", "--select", "TKE602")
    assert found(run) == {("TKE602", TKE_CONFIG)}
    assert says in messages(run)[TKE_CONFIG_NAME]


def test_tke602_leaves_a_cluster_that_is_not_tke_alone(cli: CLI, tmp_path: Path) -> None:
    """The e2e control plane's shape: nodes without TKE's labels, no TKE image, no TKE controller config."""

    def plain(doc: dict[str, Any]) -> None:
        doc["items"] = [
            i
            for i in doc["items"]
            if i["kind"] not in ("DaemonSet", "ConfigMap")
            and not (i["kind"] == "Pod" and i["metadata"]["namespace"] == "kube-system")
            and not (i["kind"] == "Node" and i["metadata"]["name"].startswith("eklet-"))  # a super node is TKE's
        ]
        for node in (i for i in doc["items"] if i["kind"] == "Node"):
            node["metadata"]["labels"] = {"kubernetes.io/hostname": node["metadata"]["name"]}
            node["spec"].pop("providerID", None)

    run = cli("ingress", "-A", "--snapshot", variant(tmp_path, "healthy", plain), "-o", "json", "--select", "TKE602")
    assert (found(run), run.json()["skipped"]) == (set(), [])


def test_tke602_is_skipped_when_nothing_readable_can_tell(cli: CLI, tmp_path: Path) -> None:
    """ConfigMaps readable, no TKE marker among them, nodes and DaemonSets forbidden: unknown, never "fine"."""
    reason = 'forbidden: User "dev" cannot list resource "nodes" in API group "" at the cluster scope'

    def restricted(doc: dict[str, Any]) -> None:
        doc["items"] = [
            i
            for i in doc["items"]
            if i["kind"] not in ("Node", "DaemonSet")
            and not (
                i["kind"] == "ConfigMap"
                and i["metadata"]["name"]
                in ("tke-service-controller-config", "tke-ingress-controller-config", "tke-config")
            )
        ]
        doc["metadata"] = {
            "annotations": {"tke-net.kubectl.io/unavailable": json.dumps({"nodes": reason, "daemonsets": reason})}
        }

    run = cli("ingress", "-A", "--snapshot", variant(tmp_path, "healthy", restricted), "-o", "json")
    assert "TKE602" not in {c for c, _ in found(run)}
    skipped = {code: e["reason"] for e in run.json()["skipped"] for code in e["codes"]}
    assert skipped["TKE602"].startswith("cannot tell whether this is a TKE cluster: forbidden")


def test_tke601_and_tke602_are_skipped_without_kube_system_configmaps(cli: CLI, tmp_path: Path) -> None:
    def forbidden(doc: dict[str, Any]) -> None:
        doc["items"] = [i for i in doc["items"] if i["kind"] != "ConfigMap"]
        doc["metadata"] = {
            "annotations": {"tke-net.kubectl.io/unavailable": json.dumps({"configmaps": "forbidden: no configmaps"})}
        }

    run = cli("ingress", "-A", "--snapshot", variant(tmp_path, "healthy", forbidden), "-o", "json")
    assert found(run) == set()
    skipped = {code: e["reason"] for e in run.json()["skipped"] for code in e["codes"]}
    assert skipped["TKE601"] == skipped["TKE602"] == "forbidden: no configmaps"


# --- TKE603 ------------------------------------------------------------------------------------------------


def test_tke603_is_found_from_an_application_namespace(cli: CLI) -> None:
    """-n shop never lists kube-system's Services, yet kube-dns is read (SPEC 2: cluster-wide facts)."""
    run = cli("svc", "-n", "shop", "--snapshot", "tests/checks/TKE603.yaml", "-o", "json", "--select", "TKE603")
    assert found(run) == {("TKE603", KUBE_DNS)}


def test_tke603_a_kube_dns_with_an_empty_endpointslice(cli: CLI, tmp_path: Path) -> None:
    def empty(doc: dict[str, Any]) -> None:
        for item in doc["items"]:
            if item["kind"] == "EndpointSlice" and item["metadata"]["name"] == "kube-dns-8xk2m":
                item["endpoints"] = []

    run = cli("svc", "-n", "shop", "--snapshot", variant(tmp_path, "healthy", empty), "-o", "json")
    assert found(run) == {("TKE603", KUBE_DNS)}
    assert "its EndpointSlices list no endpoint" in messages(run)[("TKE603", "kube-dns")]


def _coredns_not_ready(doc: dict[str, Any]) -> None:
    for item in doc["items"]:
        if item["kind"] == "Pod" and item["metadata"]["name"].startswith("coredns-"):
            item["status"]["conditions"] = [{"type": "Ready", "status": "False"}]


def test_tke603_without_endpointslices_judges_the_pods(cli: CLI, tmp_path: Path) -> None:
    """A snapshot without EndpointSlices (kubectl get svc,pods): ready endpoints are the Pods' (SPEC 7)."""
    no_slice = _drop("EndpointSlice", "kube-dns-8xk2m")
    run = cli("svc", "-A", "--snapshot", variant(tmp_path, "healthy", no_slice), "-o", "json", "--select", "TKE603")
    assert (found(run), run.json()["skipped"]) == (set(), [])
    broken = variant(tmp_path, "healthy", _chain(no_slice, _coredns_not_ready))
    run = cli("svc", "-A", "--snapshot", broken, "-o", "json", "--select", "TKE603")
    assert found(run) == {("TKE603", KUBE_DNS)}
    assert "none of its 1 endpoints is ready" in messages(run)[("TKE603", "kube-dns")]
    # -n shop: the Pods of kube-system are not read, so there is nothing to judge by.
    run = cli("svc", "-n", "shop", "--snapshot", broken, "-o", "json", "--select", "TKE603")
    assert found(run) == set()
    assert [e["codes"] for e in run.json()["skipped"]] == [["TKE603"]]
    assert "run with -A or -n kube-system" in run.json()["skipped"][0]["reason"]


def test_tke603_no_kube_dns_service_is_no_finding(cli: CLI, tmp_path: Path) -> None:
    run = cli("svc", "-A", "--snapshot", variant(tmp_path, "healthy", _drop("Service", "kube-dns")), "-o", "json")
    assert (found(run), run.json()["skipped"]) == (set(), [])


def test_tke603_dump_of_a_namespace_holds_kube_dns_and_replays_it(cli: CLI, tmp_path: Path) -> None:
    dump = cli("dump", "-n", "shop", "--snapshot", "tests/checks/TKE603.yaml")
    names = {(i["kind"], i["metadata"]["namespace"], i["metadata"]["name"]) for i in json.loads(dump.out)["items"]}
    assert {("Service", "kube-system", "kube-dns"), ("EndpointSlice", "kube-system", "kube-dns-8xk2m")} <= names
    path = tmp_path / "dump.json"
    path.write_text(dump.out)
    live = cli("svc", "-n", "shop", "--snapshot", "tests/checks/TKE603.yaml", "-o", "json").json()
    again = cli("svc", "-n", "shop", "--snapshot", str(path), "-o", "json").json()
    assert again["findings"] == live["findings"] and again["skipped"] == live["skipped"]
    # -A dumps kube-dns once, though both the Services and the narrow read hold it.
    everything = json.loads(cli("dump", "-A", "--snapshot", "tests/checks/TKE603.yaml").out)["items"]
    assert [i["metadata"]["name"] for i in everything if i["kind"] == "Service"].count("kube-dns") == 1


class _Recorder:
    """A source that answers from a List and records each LIST it is asked for (kind, namespace, selectors)."""

    parallel_reads = 1

    def __init__(self, objects: list[Obj]) -> None:
        self.objects = objects
        self.calls: list[tuple[str, str | None, str | None, str | None]] = []

    def list(self, kind: Kind, namespace: str | None) -> list[Obj]:
        self.calls.append((kind.plural, namespace, kind.field_selector, kind.label_selector))
        if kind.plural == "validatingwebhookconfigurations":
            raise Unavailable(kind.name, "forbidden")
        return [
            json.loads(json.dumps(o))
            for o in self.objects
            if o["kind"] == kind.kind and (namespace is None or o["metadata"].get("namespace") == namespace)
        ]


def _healthy() -> list[Obj]:
    import yaml

    items: list[Obj] = yaml.safe_load(Path(fixture("healthy")).read_text())["items"]
    return items


def test_the_narrow_read_asks_the_api_for_kube_dns_only() -> None:
    source = _Recorder(_healthy())
    snap = Snapshot(source, "shop")
    assert [s["metadata"]["name"] for s in snap.list("kube-dns")] == ["kube-dns"]
    assert [s["metadata"]["name"] for s in snap.list("kube-dns-endpointslices")] == ["kube-dns-8xk2m"]
    assert source.calls == [
        ("services", "kube-system", "metadata.name=kube-dns", None),
        ("endpointslices", "kube-system", None, "kubernetes.io/service-name=kube-dns"),
    ]
    assert KINDS["kube-dns"].path("kube-system") == "/api/v1/namespaces/kube-system/services"


@pytest.mark.parametrize("namespace", [None, "kube-system"])
def test_the_narrow_read_is_no_second_list_when_the_scope_holds_kube_system(namespace: str | None) -> None:
    source = _Recorder(_healthy())
    snap = Snapshot(source, namespace)
    snap.prefetch(["services", "kube-dns", "kube-dns-endpointslices", "endpointslices"])
    assert [s["metadata"]["name"] for s in snap.list("kube-dns")] == ["kube-dns"]
    assert len(snap.list("kube-dns-endpointslices")) == 1
    assert sorted(c[0] for c in source.calls) == ["endpointslices", "services"]


# --- TKE604 ------------------------------------------------------------------------------------------------


def _webhook(labels: dict[str, str], versions: list[str], name: str = "validate.nginx.ingress.kubernetes.io") -> Obj:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "nginx-admission", "labels": labels},
        "webhooks": [
            {
                "name": name,
                "rules": [
                    {
                        "apiGroups": ["networking.k8s.io"],
                        "apiVersions": versions,
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["ingresses"],
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("labels", "versions", "fires"),
    [
        ({"helm.sh/chart": "ingress-nginx-3.35.0"}, ["v1"], True),  # chart 3.x: controller 0.4x
        ({"helm.sh/chart": "nginx-ingress-1.41.3"}, ["*"], True),  # the old stable chart, every version
        ({"app.kubernetes.io/version": "v0.49.3"}, ["v1", "v1beta1"], True),
        ({"helm.sh/chart": "ingress-nginx-4.0.1"}, ["v1"], False),  # chart 4.x: controller 1.x
        ({"app.kubernetes.io/version": "1.9.4"}, ["v1"], False),
        ({"app.kubernetes.io/name": "ingress-nginx"}, ["v1"], False),  # no version: not judged
        ({"app.kubernetes.io/version": "0.35.0"}, ["v1beta1"], False),  # the documented fix
    ],
)
def test_tke604_versions_and_rules(
    cli: CLI, tmp_path: Path, labels: dict[str, str], versions: list[str], fires: bool
) -> None:
    def add(doc: dict[str, Any]) -> None:
        doc["items"].append(_webhook(labels, versions))

    run = cli("ingress", "-A", "--snapshot", variant(tmp_path, "healthy", add), "-o", "json", "--select", "TKE604")
    want = {("TKE604", "ValidatingWebhookConfiguration/nginx-admission")} if fires else set()
    assert found(run) == want


def test_tke604_another_webhook_of_an_old_version_is_not_nginx(cli: CLI, tmp_path: Path) -> None:
    def add(doc: dict[str, Any]) -> None:
        doc["items"].append(_webhook({"app.kubernetes.io/version": "0.9.0"}, ["v1"], name="policy.example.com"))

    run = cli("ingress", "-A", "--snapshot", variant(tmp_path, "healthy", add), "-o", "json", "--select", "TKE604")
    assert found(run) == set()


def test_tke604_keeps_no_client_config(cli: CLI) -> None:
    items = json.loads(cli("dump", "-A", "--snapshot", "tests/checks/TKE604.yaml").out)["items"]
    hooks = [w for i in items if i["kind"] == "ValidatingWebhookConfiguration" for w in i["webhooks"]]
    assert hooks and all(set(w) <= {"name", "failurePolicy", "matchPolicy", "rules"} for w in hooks)
