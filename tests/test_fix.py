"""`fix`: plans and diffs on fixture clusters (golden), idempotence, and the one write path against a fake API."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_tke_net.facts import Context
from kubectl_tke_net.fix import apply as applier
from kubectl_tke_net.fix.plan import (
    ABSENT,
    BEGIN,
    END,
    Change,
    Field,
    Options,
    Plan,
    changed_fields,
    make_plan,
    object_path,
    patch_of,
    rewrite_corefile,
)
from kubectl_tke_net.kinds import UNAVAILABLE_ANNOTATION
from kubectl_tke_net.snapshot import open_snapshot
from kubectl_tke_net.sources.cluster import Cluster
from kubectl_tke_net.sources.kubeconfig import Target
from tests.conftest import fixture, golden

Obj = dict[str, Any]
CLUSTER = fixture("fix-cluster")
LOOPBACK = fixture("loopback")


def items(path: str) -> list[Obj]:
    return list(yaml.safe_load(Path(path).read_text())["items"])


def write_list(path: Path, objs: list[Obj], metadata: Obj | None = None) -> str:
    doc = {"apiVersion": "v1", "kind": "List", "metadata": metadata or {}, "items": objs}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def find(objs: list[Obj], kind: str, name: str) -> Obj:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def variant(tmp_path: Path, edit: Callable[[list[Obj]], list[Obj] | None], base: str = CLUSTER) -> str:
    """A copy of a fixture cluster, changed by `edit` (in place, or returning the new list)."""
    objs = items(base)
    objs = edit(objs) or objs
    n = len(list(tmp_path.glob("variant-*.yaml")))
    return write_list(tmp_path / f"variant-{n}.yaml", objs)


def merge(target: Any, patch: Any, strategic: bool = False) -> Any:
    """RFC 7386: apply a JSON merge patch, as the API server does. With `strategic`, as a strategic merge patch
    of a built-in kind: a list of named maps (containers) is merged into the elements of the same name."""
    if strategic and isinstance(patch, list) and isinstance(target, list):
        named = all(isinstance(i, dict) and "name" in i for i in [*patch, *target])
        if named:
            merged = [copy.deepcopy(i) for i in target]
            for item in patch:
                index = next((n for n, i in enumerate(merged) if i["name"] == item["name"]), None)
                if index is None:
                    merged.append(copy.deepcopy(item))
                else:
                    merged[index] = merge(merged[index], item, strategic)
            return merged
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value, strategic)
    return out


def patched(change: Change) -> Obj:
    """The object the API server makes of `change.before` and the change's patch."""
    return dict(merge(change.before, change.patch, change.strategic))


def plan_of(path: str, action: str, namespace: str | None = "prod", **opts: Any) -> Plan:
    return make_plan(action, Context(open_snapshot(path, namespace)), Options(**opts))


def cases_text(cli, cases: list[tuple[str, tuple[str, ...]]]) -> str:  # type: ignore[no-untyped-def]
    out = []
    for title, args in cases:
        run = cli("fix", *args)
        assert run.err == "", (title, run.err)
        out.append(f"## {title} (exit {run.status})\n{run.out}")
    return "\n".join(out)


# --- kube-proxy ------------------------------------------------------------------------------------


def test_kube_proxy_plan(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("fix", "kube-proxy", "--snapshot", CLUSTER)
    assert run.status == 0 and run.err == ""
    golden("fix-kube-proxy.diff", run.out)
    doc = cli("fix", "kube-proxy", "--snapshot", CLUSTER, "-o", "json")
    assert doc.status == 0
    golden("fix-kube-proxy.json", doc.out)


def test_kube_proxy_change_touches_only_the_image_tag() -> None:
    plan = plan_of(CLUSTER, "kube-proxy")
    (change,) = plan.changes
    before, after = change.before, change.after
    before_containers = before["spec"]["template"]["spec"]["containers"]
    after_containers = after["spec"]["template"]["spec"]["containers"]
    assert after_containers[0]["image"] == "hkccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.20"
    assert after_containers[0]["args"] == before_containers[0]["args"]
    assert "env" not in before_containers[0]  # never held (SPEC 9.2), so never written either
    assert after_containers[1] == before_containers[1]  # the other container
    assert after["spec"]["template"]["spec"]["initContainers"] == before["spec"]["template"]["spec"]["initContainers"]
    undone = copy.deepcopy(after)
    undone["spec"]["template"]["spec"]["containers"][0]["image"] = before_containers[0]["image"]
    assert undone == before  # nothing else differs


def test_the_kube_proxy_patch_names_the_container_and_carries_the_resource_version() -> None:
    """A strategic merge patch of the one image: never the containers list as the snapshot kept it."""
    (change,) = plan_of(CLUSTER, "kube-proxy").changes
    assert change.strategic
    assert change.patch == {
        "metadata": {"resourceVersion": "1234567"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "kube-proxy", "image": "hkccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.20"}
                    ]
                }
            }
        },
    }
    assert patched(change) == change.after


def test_changed_fields_and_their_patch() -> None:
    before = {
        "a": 1,
        "b": {"c": 2, "d": 3},
        "l": [1, 2],
        "gone": "x",
        "items": [{"name": "x", "v": 1, "keep": [1]}, {"name": "y", "v": 1}],
    }
    after = {
        "a": 1,
        "b": {"c": 2, "d": 4, "e": None},
        "l": [1, 2, 3],
        "new": {"k": "v"},
        "items": [{"name": "x", "v": 2, "keep": [1]}, {"name": "y", "v": 1}],
    }
    fields = changed_fields(before, after, by_name=True)
    assert fields == [
        Field(("b", "d"), 3, 4),
        Field(("b", "e"), ABSENT, None),
        Field(("l",), [1, 2], [1, 2, 3]),
        Field(("gone",), "x", ABSENT),
        Field(("items", {"name": "x"}, "v"), 1, 2),
        Field(("new", "k"), ABSENT, "v"),
    ]
    assert [str(f) for f in fields][-2:] == ["items[name=x].v", "new.k"]
    assert patch_of(fields) == {
        "b": {"d": 4, "e": None},
        "l": [1, 2, 3],
        "gone": None,
        "items": [{"name": "x", "v": 2}],
        "new": {"k": "v"},
    }
    # Without by_name (a CRD: JSON merge patch) a list that differs is one field, sent whole.
    assert changed_fields(before, after, by_name=False)[-2:] == [
        Field(("items",), before["items"], after["items"]),
        Field(("new", "k"), ABSENT, "v"),
    ]
    assert changed_fields(before, before, by_name=True) == []
    # An annotation added where there were none is that one key, not the whole map.
    assert changed_fields({"metadata": {}}, {"metadata": {"annotations": {"k": "v"}}}, True) == [
        Field(("metadata", "annotations", "k"), ABSENT, "v")
    ]


def _kube_proxy(
    image: str | None = None, drop: bool = False, ipvs: bool = True, strategy: str | None = None
) -> Callable[[list[Obj]], list[Obj] | None]:
    def edit(objs: list[Obj]) -> list[Obj] | None:
        if drop:
            return [o for o in objs if o["kind"] != "DaemonSet"]
        ds = find(objs, "DaemonSet", "kube-proxy")
        container = ds["spec"]["template"]["spec"]["containers"][0]
        if image:
            container["image"] = image
        if not ipvs:
            container["args"] = [a for a in container["args"] if not a.startswith("--proxy-mode")]
        if strategy:
            ds["spec"]["updateStrategy"] = {"type": strategy}
        return None

    return edit


def test_kube_proxy_refusals_and_nothing_to_do(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = "ccr.ccs.tencentyun.com/tkeimages/hyperkube"
    cases: list[tuple[str, Callable[[list[Obj]], list[Obj] | None], tuple[str, ...]]] = [
        ("no kube-proxy DaemonSet", _kube_proxy(drop=True), ()),
        ("tag is not a TKE version", _kube_proxy(image=f"{repo}:v1.18.4"), ()),
        ("pinned by digest", _kube_proxy(image=f"{repo}@sha256:{'a' * 64}"), ()),
        ("--version is not a TKE version", _kube_proxy(), ("--version", "1.18.4-tke.20")),
        ("--version lower than the current tag", _kube_proxy(), ("--version", "v1.18.4-tke.3")),
        ("--version of another minor", _kube_proxy(), ("--version", "v1.20.6-tke.12")),
        ("1.10: no fixed build exists", _kube_proxy(image=f"{repo}:v1.10.5-tke.20"), ()),
        ("1.13: no fixed build known", _kube_proxy(image=f"{repo}:v1.13.1-tke.2"), ()),
        # No source confirms a loopback fix in any 1.26 build (TKE-FACTS-2 §4.2): unknown, not fixed.
        ("1.26: no fixed build known", _kube_proxy(image=f"{repo}:v1.26.1-tke.1"), ()),
        ("already at the fixed build", _kube_proxy(image=f"{repo}:v1.18.4-tke.20"), ()),
        ("above the fixed build", _kube_proxy(image=f"{repo}:v1.18.4-tke.49-rc1"), ()),
        ("--version equal to the current tag", _kube_proxy(), ("--version", "v1.18.4-tke.5")),
        ("-rc of the fixed build is below it", _kube_proxy(image=f"{repo}:v1.18.4-tke.20-rc1"), ()),
        ("--version above current, still unfixed", _kube_proxy(), ("--version", "v1.18.4-tke.9")),
        ("iptables mode, OnDelete", _kube_proxy(ipvs=False, strategy="OnDelete"), ()),
    ]
    runs = [(title, ("kube-proxy", "--snapshot", variant(tmp_path, edit), *args)) for title, edit, args in cases]
    text = cases_text(cli, runs)
    golden("fix-kube-proxy-cases.txt", text)
    statuses = re.findall(r"^## (.*) \(exit (\d)\)$", text, re.M)
    assert [s for _, s in statuses] == ["1"] * 9 + ["0"] * 6


# --- prevent-loopback ------------------------------------------------------------------------------


def test_prevent_loopback_refused_while_kube_proxy_lacks_the_fix(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("fix", "prevent-loopback", "-n", "prod", "--snapshot", CLUSTER)
    assert run.status == 1
    golden("fix-prevent-loopback-refused.txt", run.out)


def test_prevent_loopback_plans(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("fix", "prevent-loopback", "-n", "prod", "--force", "--snapshot", CLUSTER)
    assert run.status == 0
    golden("fix-prevent-loopback.diff", run.out)
    run = cli("fix", "prevent-loopback", "-n", "prod", "--force", "--all-lb", "--snapshot", CLUSTER, "-o", "json")
    assert run.status == 0
    assert [c["name"] for c in run.json()["changes"]] == ["orders", "storefront"]
    golden("fix-prevent-loopback-all-lb.json", run.out)
    run = cli(
        "fix",
        "prevent-loopback",
        "orders",
        "server",
        "nope",
        "payments",
        "-n",
        "prod",
        "--force",
        "--snapshot",
        CLUSTER,
    )
    assert run.status == 1
    golden("fix-prevent-loopback-named.txt", run.out)


def test_prevent_loopback_kube_proxy_states(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = "ccr.ccs.tencentyun.com/tkeimages/hyperkube"
    forbidden = tmp_path / "forbidden.yaml"
    write_list(
        forbidden,
        [o for o in items(CLUSTER) if o["kind"] != "DaemonSet"],
        {"annotations": {UNAVAILABLE_ANNOTATION: json.dumps({"daemonsets": "forbidden: cannot list daemonsets"})}},
    )
    cases = [
        ("kube-proxy fixed", ("--snapshot", variant(tmp_path, _kube_proxy(image=f"{repo}:v1.18.4-tke.20")))),
        ("kube-proxy on the nodes", ("--snapshot", variant(tmp_path, _kube_proxy(drop=True)))),
        ("kube-proxy tag not TKE", ("--snapshot", variant(tmp_path, _kube_proxy(image=f"{repo}:latest")))),
        ("DaemonSets forbidden", ("--snapshot", str(forbidden))),
        ("DaemonSets forbidden, --force", ("--snapshot", str(forbidden), "--force")),
    ]
    text = cases_text(cli, [(t, ("prevent-loopback", "-n", "prod", *a)) for t, a in cases])
    golden("fix-prevent-loopback-cases.txt", text)
    assert [s for _, s in re.findall(r"^## (.*) \(exit (\d)\)$", text, re.M)] == ["0", "1", "1", "1", "0"]


# --- ingress-keepalive -----------------------------------------------------------------------------


def test_ingress_keepalive_plans(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("fix", "ingress-keepalive", "-n", "prod", "--snapshot", CLUSTER)
    assert run.status == 0
    golden("fix-ingress-keepalive.diff", run.out)
    # loopback.yaml: a partial auto config, a hand-named config that does not exist, a bare internal Ingress.
    run = cli("fix", "ingress-keepalive", "-n", "shop", "--snapshot", LOOPBACK, "-o", "json")
    assert run.status == 1
    doc = run.json()
    assert [(c["kind"], c["name"]) for c in doc["changes"]] == [
        ("TkeServiceConfig", "auto-partial-auto-ingress-config"),
        ("Ingress", "bare"),
    ]
    assert [r["name"] for r in doc["refused"]] == ["named-missing"]
    assert any("100.127.0.0/16" in n for n in doc["notes"]) and any("allow-list" in n for n in doc["notes"])
    golden("fix-ingress-keepalive.json", run.out)


def test_ingress_keepalive_named_and_edge_cases(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def edge(objs: list[Obj]) -> list[Obj]:
        ing = find(objs, "Ingress", "admin")
        ing["metadata"]["annotations"]["ingress.cloud.tencent.com/tke-service-config-auto"] = "false"
        empty = copy.deepcopy(find(objs, "Ingress", "myapp"))
        empty["metadata"]["name"] = "empty"
        config = {
            "apiVersion": "cloud.tencent.com/v1alpha1",
            "kind": "TkeServiceConfig",
            "metadata": {"name": "empty-auto-ingress-config", "namespace": "prod"},
            "spec": {"loadBalancer": {}},
        }
        return [*objs, empty, config]

    no_crd = tmp_path / "no-crd.yaml"
    write_list(
        no_crd,
        [o for o in items(CLUSTER) if o["kind"] != "TkeServiceConfig"],
        {
            "annotations": {
                UNAVAILABLE_ANNOTATION: json.dumps(
                    {
                        "tkeserviceconfigs": "the API cloud.tencent.com/v1alpha1/tkeserviceconfigs is not served by "
                        "this cluster (CRD not installed?)"
                    }
                )
            }
        },
    )
    cases = [
        (
            "named: partial, public, not CLB, missing, done",
            (
                "ingress-keepalive",
                "auto-partial",
                "public",
                "nginx-internal",
                "nope",
                "named-ok",
                "-n",
                "shop",
                "--snapshot",
                LOOPBACK,
            ),
        ),
        (
            "auto is false; auto config without l7Listeners",
            ("ingress-keepalive", "-n", "prod", "--snapshot", variant(tmp_path, edge)),
        ),
        ("TkeServiceConfig CRD not installed", ("ingress-keepalive", "-n", "prod", "--snapshot", str(no_crd))),
    ]
    text = cases_text(cli, [(t, a) for t, a in cases])
    golden("fix-ingress-keepalive-cases.txt", text)
    assert [s for _, s in re.findall(r"^## (.*) \(exit (\d)\)$", text, re.M)] == ["1", "1", "1"]


# --- coredns-rewrite -------------------------------------------------------------------------------

REWRITE = ("coredns-rewrite", "--host", "roc.example.com", "--service", "server", "-n", "prod")


def test_coredns_rewrite_plan(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("fix", *REWRITE, "--snapshot", CLUSTER)
    assert run.status == 0
    golden("fix-coredns-rewrite.diff", run.out)
    run = cli("fix", *REWRITE, "--snapshot", CLUSTER, "-o", "json")
    golden("fix-coredns-rewrite.json", run.out)


def _corefile(edit: Callable[[str], str]) -> Callable[[list[Obj]], None]:
    def change(objs: list[Obj]) -> None:
        cm = find(objs, "ConfigMap", "coredns")
        cm["data"]["Corefile"] = edit(cm["data"]["Corefile"])

    return change


def test_coredns_rewrite_refusals_and_warnings(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def nodelocal(objs: list[Obj]) -> list[Obj]:
        _corefile(lambda c: c.replace("            reload\n", ""))(objs)
        ds = {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "node-local-dns", "namespace": "kube-system"},
            "spec": {},
        }
        return [*objs, ds]

    outside = _corefile(
        lambda c: c.replace(
            "            ready\n",
            "            ready\n            rewrite name ROC.example.com. other.prod.svc.cluster.local\n",
        )
    )
    second_root = _corefile(lambda c: c + "\n.:53 {\n    forward . 8.8.8.8\n}")
    no_root = _corefile(lambda c: c.replace(".:53 {", "example.org:53 {"))
    zone_block = _corefile(lambda c: c + "\nexample.com:53 {\n    forward . 10.0.0.2\n}")
    damaged = _corefile(lambda c: c.replace(".:53 {", ".:53 {\n    " + BEGIN))
    domain = _corefile(lambda c: c.replace("kubernetes cluster.local.", "kubernetes tke.local"))

    def drop_cm(objs: list[Obj]) -> list[Obj]:
        return [o for o in objs if o["kind"] != "ConfigMap"]

    def no_key(objs: list[Obj]) -> None:
        find(objs, "ConfigMap", "coredns")["data"] = {"Corefile.bak": "x"}

    def snap(edit: Callable[[list[Obj]], Any]) -> tuple[str, str]:
        return ("--snapshot", variant(tmp_path, edit))

    base = ("--snapshot", CLUSTER)
    rewrite = ("coredns-rewrite", "--service", "server", "-n", "prod")
    cases = [
        (
            "Service does not exist",
            ("coredns-rewrite", "--host", "roc.example.com", "--service", "nope", "-n", "prod", *base),
        ),
        ("not a DNS name", (*rewrite, "--host", "roc_1.example.com", *base)),
        ("one label", (*rewrite, "--host", "localhost", *base)),
        ("an IP address", (*rewrite, "--host", "10.0.0.1", *base)),
        ("inside the cluster domain", (*rewrite, "--host", "api.svc.cluster.local", *base)),
        ("rewrite outside the managed block", (*rewrite, "--host", "roc.example.com", *snap(outside))),
        ("two root blocks", (*rewrite, "--host", "roc.example.com", *snap(second_root))),
        ("no root block", (*rewrite, "--host", "roc.example.com", *snap(no_root))),
        ("another block serves the domain", (*rewrite, "--host", "api.example.com", *snap(zone_block))),
        ("markers damaged", (*rewrite, "--host", "roc.example.com", *snap(damaged))),
        ("no coredns ConfigMap", (*rewrite, "--host", "roc.example.com", *snap(drop_cm))),
        ("no Corefile key", (*rewrite, "--host", "roc.example.com", *snap(no_key))),
        ("no reload plugin, NodeLocal DNSCache", (*rewrite, "--host", "roc.example.com", *snap(nodelocal))),
        ("cluster domain tke.local, host in upper case", (*rewrite, "--host", "ROC.Example.com.", *snap(domain))),
    ]
    text = cases_text(cli, [(t, a) for t, a in cases])
    golden("fix-coredns-rewrite-cases.txt", text)
    assert [s for _, s in re.findall(r"^## (.*) \(exit (\d)\)$", text, re.M)] == ["1"] * 12 + ["0"] * 2


TKE_COREFILE = """\
        .:53 {
            errors
            kubernetes cluster.local. in-addr.arpa ip6.arpa {
                pods insecure
            }
            forward . /etc/resolv.conf
            reload
        }"""


def test_coredns_rewrite_is_idempotent_and_accumulates() -> None:
    target = "server.prod.svc.cluster.local"
    once, why = rewrite_corefile(TKE_COREFILE, "roc.example.com", target)
    assert why is None and once is not None
    assert once.splitlines()[:4] == [
        "        .:53 {",
        "            " + BEGIN,
        "            rewrite stop name exact roc.example.com server.prod.svc.cluster.local",
        "            " + END,
    ]
    assert rewrite_corefile(once, "roc.example.com", target) == (once, None)
    both, _ = rewrite_corefile(once, "es.example.com", "es.logging.svc.cluster.local")
    assert both is not None and both.count("rewrite stop name exact") == 2
    assert rewrite_corefile(both, "es.example.com", "es.logging.svc.cluster.local") == (both, None)
    moved, _ = rewrite_corefile(both, "roc.example.com", "server2.prod.svc.cluster.local")
    assert moved is not None and "server2.prod" in moved and "exact roc.example.com server.prod" not in moved
    assert moved.count("rewrite stop name exact") == 2
    # Every line outside the managed block is kept as it was.
    outside = [line for line in moved.splitlines() if "rewrite" not in line and "kubectl-tke-net" not in line]
    assert outside == TKE_COREFILE.splitlines()
    # `. {` roots and an empty root block work too; the indentation follows the next line, or the root's + 4.
    assert rewrite_corefile(". {\n  forward . 8.8.8.8\n}\n", "a.example.com", "a.b.svc.cluster.local")[0] == (
        f". {{\n  {BEGIN}\n  rewrite stop name exact a.example.com a.b.svc.cluster.local\n  {END}\n"
        "  forward . 8.8.8.8\n}\n"
    )
    empty, _ = rewrite_corefile(".:53 {\n}", "a.example.com", "t")
    assert empty == f".:53 {{\n    {BEGIN}\n    rewrite stop name exact a.example.com t\n    {END}\n}}"
    assert rewrite_corefile(".:53 {\n  forward . x {\n}", "a.example.com", "t")[0] is None  # unbalanced


# --- rollback --------------------------------------------------------------------------------------


def _fixed(tmp_path: Path, base: str, *plans: Plan) -> str:
    """The snapshot after the plans' changes were made (what a second run would read)."""
    objs = items(base)
    for plan in plans:
        for change in plan.changes:
            objs = [change.after if object_path(o) == change.path else o for o in objs]
    n = len(list(tmp_path.glob("fixed-*.yaml")))
    return write_list(tmp_path / f"fixed-{n}.yaml", objs)


SERVER = "https://cls-test.example.com:6443"


def backup_of(tmp_path: Path, *plans: Plan, server: str = SERVER) -> str:
    changes = [c for p in plans for c in p.changes]
    return applier.write_backup(changes, str(tmp_path / "backups"), "test-ctx", server, plans[0].action)


def backup_header(objects: Any, server: str = SERVER, **extra: Any) -> Obj:
    doc = {"apiVersion": "tke-net/v1", "kind": "Backup", "action": "kube-proxy", "context": "test-ctx"}
    return {**doc, "server": server, "createdAt": "2026-12-01T09:00:00Z", "objects": objects, **extra}


def write_yaml(path: Path, *docs: Any) -> str:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


def test_rollback_plan(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kube_proxy = plan_of(CLUSTER, "kube-proxy")
    lb = plan_of(CLUSTER, "prevent-loopback", force=True)
    fixed = _fixed(tmp_path, CLUSTER, kube_proxy, lb)
    backup = backup_of(tmp_path, kube_proxy, lb)
    run = cli("fix", "rollback", backup, "--snapshot", fixed)
    assert run.status == 0
    golden("fix-rollback.diff", run.out)
    # Rolled back, nothing is left to do; objects gone or of other kinds are refused, not recreated.
    again = cli("fix", "rollback", backup, "--snapshot", CLUSTER, "-o", "json").json()
    assert again["changes"] == [] and again["refused"] == []
    fields = [{"path": ["metadata", "annotations", "a"], "after": "b"}]
    stray = write_yaml(
        tmp_path / "stray.yaml",
        backup_header(
            [
                {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "kube-system", "name": "coredns"},
                {"apiVersion": "v1", "kind": "Service", "namespace": "prod", "name": "gone"},
                {"apiVersion": "v1", "kind": "DaemonSet", "namespace": "kube-system", "name": "kube-proxy"},
            ]
        ),
    )
    doc = yaml.safe_load(Path(stray).read_text())
    write_yaml(Path(stray), {**doc, "objects": [{**o, "fields": fields} for o in doc["objects"]]})
    run = cli("fix", "rollback", stray, "--snapshot", CLUSTER, "-o", "json")
    assert run.status == 1
    assert [(r["kind"], r["name"], r["reason"].split(";")[0]) for r in run.json()["refused"]] == [
        ("Deployment", "coredns", "not a kind tke-net changes"),
        ("Service", "gone", "no longer exists"),
        ("DaemonSet", "kube-proxy", "not a kind tke-net changes"),  # of apiVersion v1: not the one tke-net reads
    ]


def test_the_backup_holds_exactly_the_changed_fields(tmp_path: Path) -> None:
    kube_proxy = plan_of(CLUSTER, "kube-proxy")
    path = Path(backup_of(tmp_path, kube_proxy))
    text = path.read_text()
    assert text.startswith("# kubectl tke-net fix kube-proxy: the fields it changes, as they were before, ")
    assert text.splitlines()[1] == "# restore: kubectl tke-net fix rollback FILE [--apply]"
    assert "  - path: [spec, template, spec, containers, {name: kube-proxy}, image]\n" in text
    doc = yaml.safe_load(text)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc.pop("createdAt"))
    assert doc == {
        "apiVersion": "tke-net/v1",
        "kind": "Backup",
        "action": "kube-proxy",
        "context": "test-ctx",
        "server": SERVER,
        "objects": [
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "namespace": "kube-system",
                "name": "kube-proxy",
                "resourceVersion": "1234567",
                "fields": [
                    {
                        "path": ["spec", "template", "spec", "containers", {"name": "kube-proxy"}, "image"],
                        "before": "hkccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.5",
                        "after": "hkccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.20",
                    }
                ],
            }
        ],
    }
    assert (path.stat().st_mode & 0o777) == 0o600
    # An annotation the action added had no value before: `before` is left out.
    lb = yaml.safe_load(Path(backup_of(tmp_path, plan_of(CLUSTER, "prevent-loopback", force=True))).read_text())
    assert lb["objects"][0]["fields"] == [
        {"path": ["metadata", "annotations", "service.cloud.tencent.com/prevent-loopback"], "after": "true"}
    ]


def test_rollback_never_sends_a_whole_list_of_a_built_in_kind(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = find(items(CLUSTER), "DaemonSet", "kube-proxy")["spec"]["template"]["spec"]["containers"][0]["args"]
    step = ["spec", "template", "spec", "containers", {"name": "kube-proxy"}, "args"]
    saved = {"apiVersion": "apps/v1", "kind": "DaemonSet", "namespace": "kube-system", "name": "kube-proxy"}
    backup = write_yaml(
        tmp_path / "b.yaml", backup_header([{**saved, "fields": [{"path": step, "before": ["--v=2"], "after": args}]}])
    )
    run = cli("fix", "rollback", backup, "--snapshot", CLUSTER, "-o", "json")
    assert run.status == 1 and run.json()["changes"] == []
    assert run.json()["refused"][0]["reason"] == (
        "spec.template.spec.containers[name=kube-proxy].args would have to be sent as a whole list; change it by hand"
    )


# --- idempotence: a plan on the objects already fixed is empty ---------------------------------------


@pytest.mark.parametrize(
    ("action", "args"),
    [
        ("kube-proxy", {}),
        ("prevent-loopback", {"force": True, "all_lb": True}),
        ("ingress-keepalive", {}),
        ("coredns-rewrite", {"host": "roc.example.com", "service": "server"}),
    ],
)
def test_second_plan_on_the_fixed_objects_is_empty(tmp_path: Path, action: str, args: Obj) -> None:
    first = plan_of(CLUSTER, action, **args)
    assert first.changes
    for change in first.changes:
        assert patched(change) == change.after
    second = plan_of(_fixed(tmp_path, CLUSTER, first), action, **args)
    assert second.changes == () and second.refused == ()


# --- flags -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("kube-proxy", "--snapshot", CLUSTER, "--apply"),
        ("kube-proxy", "--snapshot", CLUSTER, "--dry-run=server"),
        ("kube-proxy", "--apply", "--dry-run=server"),
        ("kube-proxy", "--snapshot", CLUSTER, "--wait", "1m"),
        ("kube-proxy", "--snapshot", CLUSTER, "--all-lb"),
        ("kube-proxy", "extra-name", "--snapshot", CLUSTER),
        ("prevent-loopback", "--version", "v1.18.4-tke.20", "--snapshot", CLUSTER),
        ("prevent-loopback", "orders", "--all-lb", "--snapshot", CLUSTER),
        ("coredns-rewrite", "--host", "a.example.com", "--snapshot", CLUSTER),
        ("coredns-rewrite", "--host", "a.example.com", "--service", "server", "-A", "--snapshot", CLUSTER),
        ("coredns-rewrite", "--host", "a.example.com", "--service", "s", "--wait", "1m", "--apply"),
        ("rollback", "--snapshot", CLUSTER),
        ("rollback", "does/not/exist.yaml", "--snapshot", CLUSTER),
        ("ingress-keepalive", "-n", "a", "-A", "--snapshot", CLUSTER),
        ("ingress-keepalive", "--apply", "--wait", "soon"),
        ("unknown-action", "--snapshot", CLUSTER),
        ("kube-proxy", "--dry-run=maybe", "--snapshot", CLUSTER),
    ],
)
def test_usage_errors(cli, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    run = cli("fix", *args)
    assert run.status == 2, run.err
    assert run.out == "" and run.err.count("\n") == 1 and run.err.startswith("error: ")


def test_malformed_backup(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("items: [unclosed\n")
    assert cli("fix", "rollback", str(bad), "--snapshot", CLUSTER).status == 2
    write_yaml(bad, backup_header([{"kind": "Service", "name": "s", "fields": []}]))
    run = cli("fix", "rollback", str(bad), "--snapshot", CLUSTER)
    assert run.status == 2 and "needs apiVersion, kind and name" in run.err


KUBE_PROXY = {"apiVersion": "apps/v1", "kind": "DaemonSet", "namespace": "kube-system", "name": "kube-proxy"}
IMAGE = {
    "path": ["spec", "template", "spec", "containers", {"name": "kube-proxy"}, "image"],
    "before": "a",
    "after": "b",
}


@pytest.mark.parametrize(
    "case",
    [
        ("a plain List (the old backup format)", [{"apiVersion": "v1", "kind": "List", "items": [KUBE_PROXY]}]),
        ("one object", [KUBE_PROXY]),
        ("another kind of tke-net/v1", [{"apiVersion": "tke-net/v1", "kind": "FixPlan", "changes": []}]),
        ("a Backup of another apiVersion", [{**backup_header([KUBE_PROXY]), "apiVersion": "v1"}]),
        ("a header without objects", [{k: v for k, v in backup_header([]).items() if k != "objects"}]),
        ("a header with no object", [backup_header([])]),
        ("a header without server", [{k: v for k, v in backup_header([KUBE_PROXY]).items() if k != "server"}]),
        ("a header and one more document", [backup_header([{**KUBE_PROXY, "fields": [IMAGE]}]), KUBE_PROXY]),
        ("an object without fields", [backup_header([KUBE_PROXY])]),
        ("a field of status", [backup_header([{**KUBE_PROXY, "fields": [{"path": ["status", "x"], "before": 1}]}])]),
        (
            "a field that is a whole spec",
            [backup_header([{**KUBE_PROXY, "fields": [{"path": ["spec"], "before": {}}]}])],
        ),
        (
            "a path that ends in a list element",
            [backup_header([{**KUBE_PROXY, "fields": [{**IMAGE, "path": IMAGE["path"][:-1]}]}])],
        ),
        ("an empty file", []),
    ],
)
def test_rollback_refuses_what_is_not_a_backup_before_contacting_a_cluster(  # type: ignore[no-untyped-def]
    cli, fake: FakeCluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: tuple[str, list[Any]]
) -> None:
    title, docs = case
    made: list[Any] = []

    def cluster(*a: Any, **_k: Any) -> FakeCluster:
        made.append(a)
        return fake

    monkeypatch.setattr("kubectl_tke_net.sources.cluster.Cluster", cluster)
    path = write_yaml(tmp_path / "file.yaml", *docs)
    run = cli(*live(fake, "rollback", path, "--apply"))
    assert (run.status, run.out) == (2, ""), title
    assert run.err.startswith("error: ") and run.err.count("\n") == 1, run.err
    assert made == [] and fake.calls == [] and fake.listed == {}


def test_a_backup_cannot_blow_up_or_crash_the_reader(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A backup may come from anyone: nine of nine of nine... aliases (a billion values) and nesting that would
    crash LibYAML are refused the way a snapshot's are, with one line and exit 2."""
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    bomb.write_text(
        "\n".join(lines) + "\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, "
        "metadata: {name: web, namespace: app}, spec: {selector: *a9}}\n"
    )
    run = cli("fix", "rollback", str(bomb), "--snapshot", CLUSTER)
    assert (run.status, run.out) == (2, "")
    assert run.err.startswith(f"error: malformed backup {bomb}: its YAML aliases (*name) stand for more than")
    deep = tmp_path / "deep.yaml"
    deep.write_text("kind: List\nitems: " + "[" * 20000 + "]" * 20000 + "\n")
    run = cli("fix", "rollback", str(deep), "--snapshot", CLUSTER)
    assert run.status == 2 and run.err.startswith(f"error: malformed backup {deep}: ") and run.err.count("\n") == 1


# --- the write path, against a fake API server -----------------------------------------------------


class FakeCluster:
    """Stands in for cluster.Cluster: objects in memory; PATCH applies the (strategic) merge patch with the API
    server's resourceVersion check. Its `patch` is the real Cluster.patch, so the query and content type are real."""

    patch = Cluster.patch
    FIELD_MANAGER = Cluster.FIELD_MANAGER
    MERGE_PATCH = Cluster.MERGE_PATCH
    STRATEGIC_MERGE_PATCH = Cluster.STRATEGIC_MERGE_PATCH
    host = SERVER

    def __init__(self, objs: list[Obj], backup_dir: Path) -> None:
        self.objects = {object_path(o): copy.deepcopy(o) for o in objs}
        for n, obj in enumerate(self.objects.values()):
            obj["metadata"].setdefault("resourceVersion", str(100 + n))
            obj["metadata"].setdefault("generation", 1)
        self.backup_dir = backup_dir
        self.target = Target("test-ctx", "cls-test", "default")
        self.calls: list[tuple[str, str, Obj, str | None]] = []
        self.bodies: list[Obj] = []
        self.events: list[str] = []
        self.fail: dict[tuple[str, str], tuple[int, str]] = {}  # (dry|write, name) -> (status, message)
        self.on_list: Callable[[str, int], None] = lambda kind, n: None
        self.listed: dict[str, int] = {}

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        *,
        body: Any = None,
        content_type: str | None = None,
        accept: str | None = None,
    ) -> tuple[int, Any]:
        assert method == "PATCH"
        self.calls.append((method, path, dict(query or {}), content_type))
        self.bodies.append(copy.deepcopy(body))
        phase = "dry" if (query or {}).get("dryRun") == "All" else "write"
        if phase == "write" and "backup" not in self.events and any(self.backup_dir.glob("*.yaml")):
            self.events.append("backup")
        self.events.append(f"{phase} {path.rsplit('/', 1)[1]}")
        failure = self.fail.get((phase, path.rsplit("/", 1)[1]))
        if failure:
            return failure[0], {"kind": "Status", "message": failure[1]}
        current = self.objects.get(path)
        if current is None:
            return 404, {"kind": "Status", "message": "not found"}
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            return 409, {"kind": "Status", "message": "the object has been modified"}
        merged = merge(current, body, strategic=content_type == self.STRATEGIC_MERGE_PATCH)
        merged["metadata"]["resourceVersion"] = str(int(current["metadata"]["resourceVersion"]) + 1)
        if merged["metadata"].get("annotations") == {}:
            del merged["metadata"]["annotations"]  # omitempty, as the API server answers
        if merged.get("spec") != current.get("spec"):
            merged["metadata"]["generation"] = current["metadata"]["generation"] + 1
        if phase == "write":
            self.objects[path] = merged
        return 200, copy.deepcopy(merged)

    def list(self, kind: Any, namespace: str | None) -> list[Obj]:
        self.listed[kind.name] = self.listed.get(kind.name, 0) + 1
        self.on_list(kind.name, self.listed[kind.name])
        return [
            copy.deepcopy(o)
            for o in self.objects.values()
            if o["kind"] == kind.kind
            and (namespace is None or kind.scope == "cluster" or o["metadata"].get("namespace") == namespace)
        ]

    def get(self, kind: str, name: str) -> Obj:
        return next(o for o in self.objects.values() if o["kind"] == kind and o["metadata"]["name"] == name)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    cluster = FakeCluster(items(CLUSTER), tmp_path / "backups")
    monkeypatch.setattr("kubectl_tke_net.sources.cluster.Cluster", lambda *a, **k: cluster)
    clock = [0.0]
    monkeypatch.setattr(applier, "_clock", lambda: clock[0])
    monkeypatch.setattr(applier, "_sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    return cluster


def live(fake: FakeCluster, *args: str) -> tuple[str, ...]:
    return ("fix", *args, "--backup-dir", str(fake.backup_dir))


def test_apply_dry_runs_everything_then_backs_up_then_writes(cli, fake: FakeCluster) -> None:  # type: ignore[no-untyped-def]
    run = cli(*live(fake, "ingress-keepalive", "-n", "prod", "--apply", "-o", "json"))
    assert run.status == 0, run.out
    assert fake.events == [
        "dry myapp-auto-ingress-config",
        "dry admin",
        "backup",
        "write myapp-auto-ingress-config",
        "write admin",
    ]
    # The TkeServiceConfig is a CRD (JSON merge patch); the Ingress is built in (strategic merge patch).
    for method, path, query, content_type in fake.calls:
        crd = "/tkeserviceconfigs/" in path
        assert method == "PATCH" and content_type == (
            "application/merge-patch+json" if crd else "application/strategic-merge-patch+json"
        )
        assert query in ({"dryRun": "All", "fieldManager": "kubectl-tke-net"}, {"fieldManager": "kubectl-tke-net"})
    doc = run.json()
    assert doc["applied"] is True and [c["status"] for c in doc["changes"]] == ["applied", "applied"]
    (backup,) = fake.backup_dir.glob("*.yaml")
    assert doc["backup"] == str(backup) and re.fullmatch(r"test-ctx-\d{8}T\d{6}Z\.yaml", backup.name)
    saved = yaml.safe_load(backup.read_text())
    assert (saved["kind"], saved["action"], saved["server"]) == ("Backup", "ingress-keepalive", SERVER)
    assert [o["name"] for o in saved["objects"]] == ["myapp-auto-ingress-config", "admin"]
    (listeners,) = saved["objects"][0]["fields"]
    assert listeners["path"] == ["spec", "loadBalancer", "l7Listeners"]
    assert [lst["keepaliveEnable"] for lst in listeners["before"]] == [0, 0]
    assert all(
        lst["keepaliveEnable"] == 1
        for lst in fake.get("TkeServiceConfig", "myapp-auto-ingress-config")["spec"]["loadBalancer"]["l7Listeners"]
    )
    # A second run has nothing to do.
    again = cli(*live(fake, "ingress-keepalive", "-n", "prod", "--apply", "-o", "json"))
    assert again.status == 0 and again.json()["changes"] == [] and again.json()["backup"] is None


def test_a_conflict_stops_the_writes_and_exits_1(cli, fake: FakeCluster) -> None:  # type: ignore[no-untyped-def]
    fake.fail[("write", "orders")] = (409, "the object has been modified")
    run = cli(*live(fake, "prevent-loopback", "-n", "prod", "--all-lb", "--force", "--apply"))
    assert run.status == 1
    assert fake.events == ["dry orders", "dry storefront", "backup", "write orders"]
    assert "conflict: Service/prod/orders: it changed after it was read (resourceVersion 5002)" in run.out
    assert "not-run: Service/prod/storefront: not written: an earlier write failed" in run.out
    assert "prevent-loopback" not in fake.get("Service", "storefront")["metadata"].get("annotations", {})


def test_a_409_on_the_second_write_leaves_the_rest_unwritten(tmp_path: Path) -> None:
    objs = items(CLUSTER)
    cluster = FakeCluster(objs, tmp_path)
    plan = plan_of(CLUSTER, "prevent-loopback", all_lb=True, force=True)
    third = plan_of(CLUSTER, "kube-proxy").changes[0]
    plan = Plan(plan.action, (*plan.changes, third))
    cluster.fail[("write", "storefront")] = (409, "modified")
    outcome = applier.apply(cluster, plan, "apply", str(tmp_path), "ctx")
    assert [r.status for r in outcome.results] == ["applied", "conflict", "not-run"]
    assert cluster.events == [
        "dry orders",
        "dry storefront",
        "dry kube-proxy",
        "backup",
        "write orders",
        "write storefront",
    ]
    assert outcome.backup is not None and outcome.written


@pytest.mark.parametrize(("status", "word"), [(422, "failed"), (403, "forbidden"), (409, "conflict")])
def test_a_failing_dry_run_writes_nothing_and_no_backup(cli, fake: FakeCluster, status: int, word: str) -> None:  # type: ignore[no-untyped-def]
    fake.fail[("dry", "storefront")] = (status, "denied by the server")
    run = cli(*live(fake, "prevent-loopback", "-n", "prod", "--all-lb", "--force", "--apply", "-o", "json"))
    assert run.status == 1
    assert fake.events == ["dry orders", "dry storefront"]
    assert not fake.backup_dir.exists() or not any(fake.backup_dir.iterdir())
    doc = run.json()
    assert doc["applied"] is False and doc["backup"] is None
    assert [c["status"] for c in doc["changes"]] == ["not-run", word]
    assert [r["name"] for r in doc["refused"]] == ["storefront"] and doc["refused"][0]["reason"].startswith(word)


def test_server_dry_run_diffs_the_answer_and_writes_nothing(cli, fake: FakeCluster) -> None:  # type: ignore[no-untyped-def]
    run = cli(*live(fake, "kube-proxy", "--dry-run=server"))
    assert run.status == 0
    assert fake.events == ["dry kube-proxy"] and not fake.backup_dir.exists()
    assert "+        image: hkccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.20" in run.out
    assert "1 of 1 change accepted by the API server's dry run (dryRun=All); nothing was written." in run.out
    assert fake.get("DaemonSet", "kube-proxy")["spec"]["template"]["spec"]["containers"][0]["image"].endswith("tke.5")


def test_apply_then_rollback(cli, fake: FakeCluster) -> None:  # type: ignore[no-untyped-def]
    run = cli(*live(fake, "kube-proxy", "--apply"))
    assert run.status == 0
    assert "watch the rollout: kubectl -n kube-system rollout status ds/kube-proxy" in run.out
    (backup,) = fake.backup_dir.glob("*.yaml")
    assert f"undo: kubectl tke-net fix rollback {backup} --apply" in run.out
    assert cli(*live(fake, "kube-proxy", "-o", "json")).json()["changes"] == []
    rolled = cli(*live(fake, "rollback", str(backup), "--apply", "-o", "json"))
    assert rolled.status == 0 and [c["status"] for c in rolled.json()["changes"]] == ["applied"]
    image = fake.get("DaemonSet", "kube-proxy")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "hkccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.5"
    assert cli(*live(fake, "rollback", str(backup), "-o", "json")).json()["changes"] == []


def _containers(ds: Obj) -> dict[str, Obj]:
    return {c["name"]: c for c in ds["spec"]["template"]["spec"]["containers"]}


def _controller_edit(fake: FakeCluster, path: str, edit: Callable[[Obj], None]) -> None:
    """An edit by someone else (the DaemonSet controller, a user) after the backup: a new resourceVersion."""
    obj = fake.objects[path]
    edit(obj)
    obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1)


def test_rollback_restores_only_the_fields_the_action_changed(cli, fake: FakeCluster) -> None:  # type: ignore[no-untyped-def]
    ds_path = "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"
    assert cli(*live(fake, "kube-proxy", "--apply")).status == 0
    (backup,) = fake.backup_dir.glob("*.yaml")

    def controller(ds: Obj) -> None:
        ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] = "4"
        ds["metadata"]["labels"]["team"] = "sre"
        containers = _containers(ds)
        containers["kube-proxy"]["resources"] = {"requests": {"cpu": "200m"}}
        containers["conntrack-exporter"]["image"] = "ccr.ccs.tencentyun.com/tkeimages/conntrack-exporter:v0.3.2"

    _controller_edit(fake, ds_path, controller)
    expected = copy.deepcopy(fake.objects[ds_path])
    _containers(expected)["kube-proxy"]["image"] = "hkccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.5"
    rv = fake.objects[ds_path]["metadata"]["resourceVersion"]
    fake.calls.clear()
    fake.bodies.clear()
    run = cli(*live(fake, "rollback", str(backup), "--apply"))
    assert run.status == 0, run.out
    ds = fake.get("DaemonSet", "kube-proxy")
    for key in ("resourceVersion", "generation"):
        ds["metadata"].pop(key), expected["metadata"].pop(key)
    assert ds == expected  # the image is back; the controller's annotation, the label, resources stay
    # Both the dry run and the write sent only the image, by container name, with the resourceVersion read.
    body = {
        "metadata": {"resourceVersion": rv},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "kube-proxy", "image": "hkccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.5"}
                    ]
                }
            }
        },
    }
    assert fake.bodies == [body, body]
    assert [c[3] for c in fake.calls] == ["application/strategic-merge-patch+json"] * 2
    # The rollback saved a backup of its own, of the one field it set back: it can be undone in turn.
    (second,) = [b for b in fake.backup_dir.glob("*.yaml") if b != backup]
    doc = yaml.safe_load(second.read_text())
    assert doc["action"] == "rollback" and [o["name"] for o in doc["objects"]] == ["kube-proxy"]
    assert doc["objects"][0]["fields"][0]["after"].endswith("tke.5")


def test_rollback_leaves_a_field_that_changed_again_since_the_backup(cli, fake: FakeCluster) -> None:  # type: ignore[no-untyped-def]
    ds_path = "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"
    assert cli(*live(fake, "kube-proxy", "--apply")).status == 0
    (backup,) = fake.backup_dir.glob("*.yaml")
    newer = "hkccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.30"
    _controller_edit(fake, ds_path, lambda ds: _containers(ds)["kube-proxy"].__setitem__("image", newer))
    fake.calls.clear()
    run = cli(*live(fake, "rollback", str(backup), "--apply", "-o", "json"))
    assert run.status == 1 and run.json()["changes"] == [] and fake.calls == []
    assert run.json()["refused"][0]["reason"].startswith(
        "spec.template.spec.containers[name=kube-proxy].image changed after the backup was taken"
    )
    assert _containers(fake.get("DaemonSet", "kube-proxy"))["kube-proxy"]["image"] == newer


def test_a_backup_of_another_api_server_is_refused_unless_force(cli, fake: FakeCluster) -> None:  # type: ignore[no-untyped-def]
    assert cli(*live(fake, "kube-proxy", "--apply")).status == 0
    (backup,) = fake.backup_dir.glob("*.yaml")
    backup.write_text(backup.read_text().replace(f"server: {SERVER}", "server: https://cls-other.example.com"))
    fake.calls.clear()
    fake.listed.clear()
    run = cli(*live(fake, "rollback", str(backup), "--apply"))
    assert (run.status, run.out) == (2, "")
    assert run.err == (
        f"error: backup {backup} was taken from the API server https://cls-other.example.com, but context "
        f'"test-ctx" is {SERVER}; choose the right --context, or pass --force to restore it there anyway\n'
    )
    assert fake.calls == [] and fake.listed == {}  # refused before any request
    assert _containers(fake.get("DaemonSet", "kube-proxy"))["kube-proxy"]["image"].endswith("tke.20")
    forced = cli(*live(fake, "rollback", str(backup), "--apply", "--force"))
    assert forced.status == 0, forced.out + forced.err
    assert _containers(fake.get("DaemonSet", "kube-proxy"))["kube-proxy"]["image"].endswith("tke.5")


@pytest.mark.parametrize(
    "args",
    [
        ("kube-proxy",),
        ("prevent-loopback", "-n", "prod", "--all-lb", "--force"),
        ("ingress-keepalive", "-n", "prod"),
        ("coredns-rewrite", "--host", "roc.example.com", "--service", "server", "-n", "prod"),
    ],
)
def test_apply_then_rollback_round_trip(cli, fake: FakeCluster, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    def state() -> dict[str, Obj]:
        out = copy.deepcopy(fake.objects)
        for obj in out.values():
            obj["metadata"].pop("resourceVersion"), obj["metadata"].pop("generation")
        return out

    original = state()
    run = cli(*live(fake, *args, "--apply", "-o", "json"))
    assert run.status == 0 and run.json()["applied"], run.out
    assert state() != original
    rolled = cli(*live(fake, "rollback", run.json()["backup"], "--apply", "-o", "json"))
    assert rolled.status == 0, rolled.out
    assert [c["status"] for c in rolled.json()["changes"]] == ["applied"] * len(run.json()["changes"])
    assert state() == original
    again = cli(*live(fake, "rollback", run.json()["backup"], "-o", "json"))
    assert again.status == 0 and again.json()["changes"] == []


def test_the_server_answer_is_kept_as_the_snapshot_keeps_objects(  # type: ignore[no-untyped-def]
    cli, fake: FakeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubectl_tke_net.fix import command

    cleaned: list[str] = []

    def clean(kind: Any, obj: Obj) -> Obj:
        cleaned.append(kind.kind)
        obj["metadata"]["labels"]["seen-by"] = "clean"
        return obj

    monkeypatch.setattr(command, "clean", clean)
    run = cli(*live(fake, "kube-proxy", "--dry-run=server"))
    assert run.status == 0 and cleaned == ["DaemonSet"]
    assert "+    seen-by: clean\n" in run.out and "+        image: " in run.out


def test_default_backup_dir(cli, fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    run = cli("fix", "kube-proxy", "--apply", "-o", "json")
    assert run.status == 0
    path = Path(run.json()["backup"])
    assert path.parent == tmp_path / "home" / ".kube" / "tke-net" / "backups"
    assert (path.stat().st_mode & 0o777) == 0o600


def _rolled_out(fake: FakeCluster, after: int) -> Callable[[str, int], None]:
    def on_list(kind: str, n: int) -> None:
        if kind == "daemonsets" and n >= after:
            ds = fake.get("DaemonSet", "kube-proxy")
            ds["status"] = {
                "observedGeneration": ds["metadata"]["generation"],
                "desiredNumberScheduled": 2,
                "updatedNumberScheduled": 2,
                "numberAvailable": 2,
            }

    return on_list


def test_wait_for_the_kube_proxy_rollout(cli, fake: FakeCluster) -> None:  # type: ignore[no-untyped-def]
    fake.on_list = _rolled_out(fake, after=4)  # the plan's LIST, then three polls
    run = cli(*live(fake, "kube-proxy", "--apply", "--wait", "1m"))
    assert run.status == 0 and fake.listed["daemonsets"] == 4
    assert "tke-net: waiting for the kube-proxy rollout: 2 of 2 updated, 2 available" in run.err
    assert "tke-net: kube-proxy rollout done" in run.err


def test_wait_for_the_kube_proxy_rollout_times_out(cli, fake: FakeCluster) -> None:  # type: ignore[no-untyped-def]
    run = cli(*live(fake, "kube-proxy", "--apply", "--wait", "10s"))
    assert run.status == 1
    assert "failed: DaemonSet/kube-system/kube-proxy: the kube-proxy rollout did not finish within --wait" in run.out
    assert fake.listed["daemonsets"] == 1 + 6  # the plan, then polls at 0, 2, ..., 10 s


def test_wait_for_the_tke_service_config(cli, fake: FakeCluster) -> None:  # type: ignore[no-untyped-def]
    def controller(kind: str, n: int) -> None:
        if kind == "tkeserviceconfigs" and n == 3:  # the plan's LIST, one poll, then it exists
            config = {
                "apiVersion": "cloud.tencent.com/v1alpha1",
                "kind": "TkeServiceConfig",
                "metadata": {
                    "name": "admin-auto-ingress-config",
                    "namespace": "prod",
                    "resourceVersion": "7000",
                    "generation": 1,
                },
                "spec": {"loadBalancer": {"l7Listeners": [{"protocol": "HTTP", "port": 80}]}},
            }
            fake.objects[object_path(config)] = config

    fake.on_list = controller
    run = cli(*live(fake, "ingress-keepalive", "admin", "-n", "prod", "--apply", "--wait", "1m", "-o", "json"))
    assert run.status == 0, run.out
    doc = run.json()
    assert [(c["name"], c["status"]) for c in doc["changes"]] == [
        ("admin", "applied"),
        ("admin-auto-ingress-config", "applied"),
    ]
    assert len(doc["backups"]) == 2 and doc["backup"] == doc["backups"][0]
    config = fake.get("TkeServiceConfig", "admin-auto-ingress-config")
    assert config["spec"]["loadBalancer"]["l7Listeners"] == [{"protocol": "HTTP", "port": 80, "keepaliveEnable": 1}]
    assert "tke-net: waiting for TkeServiceConfig/prod/admin-auto-ingress-config" in run.err


def test_a_change_read_without_resource_version_is_never_written(tmp_path: Path) -> None:
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}}
    change = Change("Service", "n", "s", object_path(obj), obj, {**obj, "spec": {"type": "ClusterIP"}})
    cluster = FakeCluster([], tmp_path)
    outcome = applier.apply(cluster, Plan("prevent-loopback", (change,)), "apply", str(tmp_path))
    assert [r.status for r in outcome.results] == ["failed"] and cluster.calls == []
    assert "resourceVersion" not in change.patch.get("metadata", {})
