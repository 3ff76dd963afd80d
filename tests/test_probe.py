"""Probes without a cluster: the plan, the verdict table (TKE120-TKE125), and the Pod lifecycle against a fake API."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kubectl_tke_net.checks import catalog as checks
from kubectl_tke_net.checks.probe import ProbeContext, judge
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Unavailable, UsageError
from kubectl_tke_net.probe import CLB, CLUSTER_IP, DNS, ENDPOINT, NODE_PORT
from kubectl_tke_net.probe.plan import MAX_TESTS, Plan, ProbePod, ProbeTest, make_plan, manifest
from kubectl_tke_net.probe.result import Observation, ProbeRun, Result, from_fact, parse, to_fact
from kubectl_tke_net.snapshot import open_snapshot
from kubectl_tke_net.sources.probe import run
from tests.conftest import fixture

SVC = Ref("Service", "probe", "web")
ING = Ref("Ingress", "probe", "shop")


def ctx_for(name: str = "probe") -> ProbeContext:
    return ProbeContext(open_snapshot(fixture(name), "probe"))


def args_of(pod: ProbePod) -> list[str]:
    return [t.arg for t in pod.tests]


# --- the plan -------------------------------------------------------------------------------------------


def test_default_nodes_one_with_a_backend_and_one_without() -> None:
    plan = make_plan(ctx_for(), "service", "web", "probe", run_id="r1")
    assert [(p.name, p.node, p.hosts_backend) for p in plan.pods] == [
        ("tke-net-probe-r1-0", "10.0.1.10", True),
        ("tke-net-probe-r1-1", "10.0.1.12", False),
    ]
    assert args_of(plan.pods[0]) == [
        "dns web.probe.svc.cluster.local",
        "tcp 172.16.255.20 80",
        "clb 10.0.0.50 80",
        "tcp 10.0.1.10 30080",  # its own node's NodePort, then the other probe node's
        "tcp 10.0.1.12 30080",
        "tcp 172.20.0.5 8080",
        "tcp 172.20.1.5 8080",
    ]
    assert args_of(plan.pods[1])[3:5] == ["tcp 10.0.1.12 30080", "tcp 10.0.1.10 30080"]
    assert plan.notes == ()
    paths = [(t.path, t.port, t.node) for t in plan.pods[0].tests]
    assert paths == [
        (DNS, "", ""),
        (CLUSTER_IP, "http", ""),
        (CLB, "http", ""),
        (NODE_PORT, "http", "10.0.1.10"),
        (NODE_PORT, "http", "10.0.1.12"),
        (ENDPOINT, "http", "10.0.1.10"),
        (ENDPOINT, "http", "10.0.1.11"),
    ]
    assert plan.pods[0].tests[5].what == "endpoint 172.20.0.5:8080 (web-a on 10.0.1.10)"


def test_probe_node_chooses_the_nodes_and_must_exist() -> None:
    plan = make_plan(ctx_for(), "service", "web", "probe", run_id="r1", requested_nodes=["10.0.1.11"])
    assert [(p.node, p.hosts_backend) for p in plan.pods] == [("10.0.1.11", True)]
    assert "only the first kind" in " ".join(plan.notes)
    with pytest.raises(UsageError, match=r"--probe-node: no node named 10\.0\.9\.9"):
        make_plan(ctx_for(), "service", "web", "probe", run_id="r1", requested_nodes=["10.0.9.9"])


def test_missing_or_external_name_service_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="Service probe/nope not found"):
        make_plan(ctx_for(), "service", "nope", "probe", run_id="r1")
    snap = ctx_for().snap
    snap.list("services").append(
        {
            "kind": "Service",
            "metadata": {"name": "ext", "namespace": "probe"},
            "spec": {"type": "ExternalName", "externalName": "db.example"},
        }
    )
    with pytest.raises(UsageError, match="ExternalName"):
        make_plan(ProbeContext(snap), "service", "ext", "probe", run_id="r1")


def _edited(edit: Callable[[Obj], None], kind: str = "services", name: str = "web") -> ProbeContext:
    ctx = ctx_for()
    edit(next(o for o in ctx.snap.list(kind) if o["metadata"]["name"] == name))
    return ctx


def test_local_traffic_policy_tests_only_nodeports_with_a_backend() -> None:
    ctx = _edited(lambda svc: svc["spec"].update(externalTrafficPolicy="Local"))
    plan = make_plan(ctx, "service", "web", "probe", run_id="r1")
    node_ports = [[t.node for t in p.tests if t.path == NODE_PORT] for p in plan.pods]
    assert node_ports == [["10.0.1.10"], ["10.0.1.10"]]  # 10.0.1.12 hosts no backend: its NodePort is not tested
    assert any("externalTrafficPolicy Local" in n and "10.0.1.12" in n for n in plan.notes)


def test_udp_ports_are_left_out_and_said() -> None:
    ctx = _edited(lambda svc: svc["spec"]["ports"].append({"name": "dns", "port": 53, "protocol": "UDP"}))
    plan = make_plan(ctx, "service", "web", "probe", run_id="r1")
    assert not any(" 53" in a for a in args_of(plan.pods[0]))
    assert "Service/probe/web: dns/UDP not tested (the probe tests TCP only)" in plan.notes


def test_cluster_domain_comes_from_the_corefile() -> None:
    def edit(cm: Obj) -> None:
        cm["data"]["Corefile"] = cm["data"]["Corefile"].replace("cluster.local in-addr", "tke.internal in-addr")

    plan = make_plan(_edited(edit, "configmaps", "coredns"), "service", "web", "probe", run_id="r1")
    assert args_of(plan.pods[0])[0] == "dns web.probe.svc.tke.internal"


def test_endpoints_spread_over_nodes_and_the_budget_holds() -> None:
    def edit(es: Obj) -> None:
        es["endpoints"] = [
            {
                "addresses": [f"172.20.{i % 3}.{i}"],
                "conditions": {"ready": True},
                "nodeName": f"10.0.1.1{i % 3}",
                "targetRef": {"name": f"web-{i}"},
            }
            for i in range(60)
        ]

    ctx = _edited(edit, "endpointslices", "web-x7k2p")
    plan = make_plan(ctx, "service", "web", "probe", run_id="r1")
    endpoints = [t for t in plan.pods[0].tests if t.path == ENDPOINT]
    assert sorted(t.node for t in endpoints) == ["10.0.1.10", "10.0.1.11", "10.0.1.12"]
    assert "Service/probe/web: 3 of the 60 ready endpoints of port http tested" in plan.notes
    many = _edited(
        lambda svc: svc["spec"]["ports"].extend(
            {"name": f"p{i}", "port": 1000 + i, "protocol": "TCP", "nodePort": 31000 + i} for i in range(20)
        )
    )
    plan = make_plan(many, "service", "web", "probe", run_id="r1")
    assert all(len(p.tests) == MAX_TESTS for p in plan.pods)
    assert any("tests left out" in n for n in plan.notes)


def test_ingress_plan_tests_its_backend_ports_and_its_clb_per_host() -> None:
    ctx = _edited(
        lambda ing: ing["spec"].update(
            tls=[{"hosts": ["pay.example.com"], "secretName": "pay-tls"}],
            rules=[
                *ing["spec"]["rules"],
                {
                    "host": "pay.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/pay",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"name": "http"}}},
                            }
                        ]
                    },
                },
            ],
        ),
        "ingresses",
        "shop",
    )
    plan = make_plan(ctx, "ingress", "shop", "probe", run_id="r1")
    assert plan.target == ING
    tests = plan.pods[0].tests
    assert [t.arg for t in tests if t.path == CLB] == [
        "http 10.0.0.60 80 shop.example.com /",
        "https 10.0.0.60 443 pay.example.com /pay",
    ]
    assert all(t.ref == ING for t in tests if t.path == CLB)
    assert {t.ref for t in tests if t.path != CLB} == {SVC}
    # The Service's own CLB is not the Ingress's: only the Ingress's is tested.
    assert not any(t.arg.startswith("clb ") for t in tests)


def test_the_pod_is_pinned_unprivileged_and_carries_the_script() -> None:
    plan = make_plan(ctx_for(), "service", "web", "probe", run_id="r1")
    pod = manifest(plan, plan.pods[0], "ccr.ccs.tencentyun.com/mirror/busybox:1.36", 90, "echo hi")
    spec = pod["spec"]
    assert pod["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "kubectl-tke-net",
        "app.kubernetes.io/name": "tke-net-probe",
        "tke-net.kubectl.io/probe": "r1",
    }
    assert (spec["nodeName"], spec["restartPolicy"], spec["activeDeadlineSeconds"]) == ("10.0.1.10", "Never", 90)
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 65534
    (container,) = spec["containers"]
    assert container["image"] == "ccr.ccs.tencentyun.com/mirror/busybox:1.36"
    assert container["command"] == ["sh", "-c", "echo hi", "tke-net-probe"]
    assert container["args"] == args_of(plan.pods[0])
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"]["requests"] == {"cpu": "10m", "memory": "16Mi"}
    assert container["terminationMessagePath"] == "/dev/termination-log"


# --- the verdict ------------------------------------------------------------------------------------------

A = ProbePod("p-0", "node-a", True, ())  # hosts a backend
C = ProbePod("p-1", "node-c", False, ())

OUTCOMES = {
    "ok": Result(True, 3),
    "slow": Result(True, 4100),
    "timeout": Result(False, 2010, "timeout"),
    "refused": Result(False, 4, "refused"),
    "NXDOMAIN": Result(False, 12, "NXDOMAIN"),
    "none": None,
}


def _tests(pod: ProbePod, keys: dict[str, Any]) -> list[tuple[ProbeTest, str]]:
    other = "node-c" if pod is A else "node-a"
    ip = {"node-a": "10.0.1.10", "node-c": "10.0.1.12"}
    make: dict[str, Callable[[], ProbeTest]] = {
        "dns": lambda: ProbeTest("dns web.probe.svc.cluster.local", DNS, SVC, "DNS web.probe.svc.cluster.local"),
        "cip": lambda: ProbeTest("tcp 172.16.255.20 80", CLUSTER_IP, SVC, "ClusterIP 172.16.255.20:80", "http"),
        "np_own": lambda: ProbeTest(
            f"tcp {ip[pod.node]} 30080", NODE_PORT, SVC, f"NodePort {ip[pod.node]}:30080", "http", pod.node
        ),
        "np_other": lambda: ProbeTest(
            f"tcp {ip[other]} 30080", NODE_PORT, SVC, f"NodePort {ip[other]}:30080", "http", other
        ),
        "clb": lambda: ProbeTest("clb 10.0.0.50 80", CLB, SVC, "CLB 10.0.0.50:80", "http"),
        "http": lambda: ProbeTest(
            "http 10.0.0.60 80 shop.example.com /", CLB, ING, "CLB http://10.0.0.60:80/ Host shop.example.com"
        ),
    }
    found = []
    for key, value in keys.items():
        if key == "eps":
            for i, outcome in enumerate(value):
                found.append(
                    (
                        ProbeTest(
                            f"tcp 172.20.{i}.5 8080",
                            ENDPOINT,
                            SVC,
                            f"endpoint 172.20.{i}.5:8080",
                            "http",
                            "node-a" if i == 0 else "node-b",
                        ),
                        outcome,
                    )
                )
        else:
            found.append((make[key](), value))
    return found


def probe_run(target: Ref = SVC, failures: tuple[str, ...] = (), **pods: dict[str, Any]) -> ProbeRun:
    """probe_run(a={"dns": "ok", "eps": ["ok", "timeout"]}, c={...}): observations per probe Pod."""
    observations = []
    plan_pods = []
    for key, spec in pods.items():
        pod = A if key == "a" else C
        tests = _tests(pod, spec)
        pod = replace(pod, tests=tuple(t for t, _ in tests))
        plan_pods.append(pod)
        observations += [Observation(pod, t, OUTCOMES[o]) for t, o in tests]
    plan = Plan("probe", "r1", target, tuple(plan_pods), ())
    return ProbeRun(plan, tuple(observations), failures)


HEALTHY = {"dns": "ok", "cip": "ok", "np_own": "ok", "np_other": "ok", "clb": "ok", "eps": ["ok", "ok"]}


def h(**changes: Any) -> dict[str, Any]:
    return {**HEALTHY, **changes}


VERDICTS: list[tuple[str, ProbeRun, set[tuple[str, Ref]], list[str]]] = [
    (
        "every path answers",
        probe_run(a=HEALTHY, c=HEALTHY),
        {("TKE125", SVC)},
        ["from node node-a (hosts a backend): DNS web.probe.svc.cluster.local 3 ms, ClusterIP 172.16.255.20:80 3 ms"],
    ),
    (
        "name fails, ClusterIP answers: DNS",
        probe_run(a=HEALTHY, c=h(dns="NXDOMAIN")),
        {("TKE120", SVC)},
        [
            "from node node-c: DNS web.probe.svc.cluster.local does not resolve (NXDOMAIN after 12 ms), but ClusterIP "
            "172.16.255.20:80 answers (3 ms)"
        ],
    ),
    (
        "name and ClusterIP fail, endpoints answer: kube-proxy, not DNS",
        probe_run(a=h(dns="timeout", cip="timeout")),
        {("TKE121", SVC)},
        ["ClusterIP 172.16.255.20:80 does not answer (timeout after 2010 ms), but its ready endpoints do"],
    ),
    (
        "headless: name fails, endpoints answer: DNS",
        probe_run(a={"dns": "NXDOMAIN", "eps": ["ok"]}),
        {("TKE120", SVC)},
        ["but endpoint 172.20.0.5:8080 answers (3 ms)"],
    ),
    (
        "ClusterIP fails on two nodes: one finding, both nodes",
        probe_run(a=h(cip="refused"), c=h(cip="timeout")),
        {("TKE121", SVC)},
        ["from node node-a: ClusterIP", "; from node node-c: ClusterIP"],
    ),
    (
        "an endpoint does not answer: Pod network",
        probe_run(a=h(eps=["ok", "timeout"]), c=HEALTHY),
        {("TKE122", SVC)},
        [
            "from node node-a: 1 of 2 ready endpoints of port http do not answer: endpoint "
            "172.20.1.5:8080 timeout after 2010 ms"
        ],
    ),
    (
        "some endpoints fail and the ClusterIP too: TKE122 only, not TKE121",
        probe_run(a=h(cip="timeout", eps=["ok", "timeout"])),
        {("TKE122", SVC)},
        [],
    ),
    (
        "no endpoint answers: NodePort and ClusterIP failures are its consequence",
        probe_run(a=h(cip="timeout", np_own="timeout", np_other="timeout", eps=["timeout", "refused"])),
        {("TKE122", SVC)},
        ["2 of 2 ready endpoints"],
    ),
    (
        "NodePort of another node fails",
        probe_run(a=h(np_other="timeout"), c=HEALTHY),
        {("TKE123", SVC)},
        [
            "from node node-a: NodePort 10.0.1.12:30080 does not answer (timeout after 2010 ms; node node-c: its "
            "kube-proxy, or its security group)"
        ],
    ),
    (
        "NodePort of its own node fails",
        probe_run(c=h(np_own="refused")),
        {("TKE123", SVC)},
        ["its own node: kube-proxy there"],
    ),
    (
        "CLB fails from the backend node only: loopback",
        probe_run(a=h(clb="timeout"), c=HEALTHY),
        {("TKE124", SVC)},
        [
            "CLB 10.0.0.50:80 fails (timeout after 2010 ms) from node node-a, which hosts a backend, "
            "but answers in 3 ms from node node-c, which does not"
        ],
    ),
    (
        "CLB slow from the backend node: loopback",
        probe_run(a=h(clb="slow"), c=HEALTHY),
        {("TKE124", SVC)},
        ["takes 4100 ms (over 3000 ms) from node node-a"],
    ),
    (
        "CLB fails everywhere: not loopback alone, TKE126",
        probe_run(a=h(clb="timeout"), c=h(clb="timeout")),
        {("TKE126", SVC)},
        ["CLB 10.0.0.50:80 fails from every probed node: fails (timeout after 2010 ms) from node node-a"],
    ),
    (
        # externalTrafficPolicy Cluster: the CLB picks any node, and loops back a client on the node it picks
        # whether or not that node hosts a backend (the real data path showed it: tests/e2e/datapath).
        "CLB fails from the node without a backend only: loopback under externalTrafficPolicy Cluster",
        probe_run(a=HEALTHY, c=h(clb="timeout")),
        {("TKE124", SVC)},
        [
            "fails (timeout after 2010 ms) from node node-c, which hosts no backend, "
            "but answers in 3 ms from node node-a"
        ],
    ),
    ("CLB fails from a single backend node: TKE126", probe_run(a=h(clb="timeout")), {("TKE126", SVC)}, []),
    (
        "Ingress answers after 4 s from the backend node: loopback on the Ingress",
        probe_run(ING, a=h(http="slow"), c=h(http="ok")),
        {("TKE124", ING)},
        ["CLB http://10.0.0.60:80/ Host shop.example.com takes 4100 ms"],
    ),
    ("a test without result: no finding, and not every path answered", probe_run(a=h(np_other="none")), set(), []),
    (
        "DNS, kube-proxy and loopback at once",
        probe_run(a=h(cip="timeout", clb="timeout"), c=h(dns="NXDOMAIN")),
        {("TKE120", SVC), ("TKE121", SVC), ("TKE124", SVC)},
        [],
    ),
]


@pytest.mark.parametrize(("name", "probed", "expected", "phrases"), VERDICTS, ids=[v[0] for v in VERDICTS])
def test_verdict(name: str, probed: ProbeRun, expected: set[tuple[str, Ref]], phrases: list[str]) -> None:
    verdict = judge(probed)
    hits = [(code, hit) for code, found in verdict.hits.items() for hit in found]
    assert {(code, hit.ref) for code, hit in hits} == expected, name
    assert len(hits) == len(expected), "one finding per (code, object)"
    text = " | ".join(hit.message for _code, hit in hits)
    for phrase in phrases:
        assert phrase in text


def test_loopback_remedies_fit_the_object() -> None:
    (service,) = judge(probe_run(a=h(clb="timeout"), c=HEALTHY)).hits["TKE124"]
    (ingress,) = judge(probe_run(ING, a=h(http="slow"), c=h(http="ok"))).hits["TKE124"]
    assert service.remediation.startswith("kubectl tke-net fix prevent-loopback web -n probe --apply")
    assert ingress.remediation.startswith("kubectl tke-net fix ingress-keepalive shop -n probe --apply")


def test_failures_nobody_explains_are_told() -> None:
    # The name fails, and so does the ClusterIP (TKE121 explains that): nothing witnesses the name, so no code
    # explains the DNS failure, and it is told.
    verdict = judge(probe_run(a=h(dns="NXDOMAIN", cip="timeout")))
    assert verdict.unexplained == ["from node node-a: DNS web.probe.svc.cluster.local: fails (NXDOMAIN after 12 ms)"]
    assert judge(probe_run(a=h(clb="timeout"), c=h(clb="timeout"))).unexplained == []  # TKE126 explains it
    assert judge(probe_run(a=h(cip="timeout"))).unexplained == []


def test_under_external_traffic_policy_local_only_a_backend_node_can_loop_back() -> None:
    """The CLB of a Local Service sends only to nodes with a backend: a failure from a node without one is not
    loopback (and the CLB answered from another node, so it is no TKE126 either)."""
    local = frozenset({SVC})
    assert judge(probe_run(a=HEALTHY, c=h(clb="timeout")), local).hits.get("TKE124", []) == []
    assert {r.ref for r in judge(probe_run(a=h(clb="timeout"), c=HEALTHY), local).hits["TKE124"]} == {SVC}


def _run_checks(ctx: ProbeContext) -> checks.Result:
    return checks.run(ctx, checks.selected("probe", (), ()))


def test_a_probe_that_could_not_run_skips_every_probe_check() -> None:
    ctx = ctx_for()
    ctx.snap.add_facts(to_fact(SVC, "r1", unavailable="forbidden: cannot create the probe Pods"))
    result = _run_checks(ctx)
    assert result.findings == []
    assert [(s.codes, s.reason) for s in result.skipped] == [
        (
            ("TKE120", "TKE121", "TKE122", "TKE123", "TKE124", "TKE125", "TKE126", "TKE127"),
            "forbidden: cannot create the probe Pods",
        )
    ]


def test_a_probe_pod_without_results_skips_every_path_answered_only() -> None:
    ctx = ctx_for()
    ctx.snap.add_facts(
        to_fact(
            SVC, "r1", run=probe_run(failures=("probe Pod p-1 on node node-c: ImagePullBackOff",), a=h(cip="timeout"))
        )
    )
    result = _run_checks(ctx)
    assert [(f.code, str(f.ref)) for f in result.findings] == [("TKE121", "Service/probe/web")]
    assert [(s.codes, s.reason) for s in result.skipped] == [
        (("TKE125",), "probe Pod p-1 on node node-c: ImagePullBackOff"),
        (("TKE127",), "kube-proxy rules not read: add --probe-rules to `svc NAME --probe` or `ingress NAME --probe`"),
    ]
    nothing = ctx_for()
    nothing.snap.add_facts(to_fact(SVC, "r1", run=probe_run(failures=("all gone",), a={"dns": "none"})))
    assert [s.codes for s in _run_checks(nothing).skipped] == [
        ("TKE120", "TKE121", "TKE122", "TKE123", "TKE124", "TKE125", "TKE126"),
        ("TKE127",),
    ]


def _said(verdict: Any) -> list[tuple[str, Ref, str, str]]:
    return sorted((code, hit.ref, hit.message, hit.remediation) for code, hits in verdict.hits.items() for hit in hits)


@pytest.mark.parametrize(("name", "probed"), [(v[0], v[1]) for v in VERDICTS], ids=[v[0] for v in VERDICTS])
def test_a_probe_result_item_gives_the_verdict_of_the_run_it_records(name: str, probed: ProbeRun) -> None:
    """What `--snapshot` of a ProbeResult reads back is judged exactly as the live run was."""
    fact = json.loads(json.dumps(to_fact(probed.plan.target, "r1", run=probed)))  # as a file holds it
    assert (fact["apiVersion"], fact["kind"], fact["metadata"]) == (
        "tke-net/v1",
        "ProbeResult",
        {"name": "tke-net-probe-r1", "namespace": "probe"},
    )
    target, again, unavailable = from_fact(fact)
    assert (target, unavailable) == (probed.plan.target, None) and again is not None
    assert again.failures == probed.failures and again.plan.pods == probed.plan.pods
    assert _said(judge(again)) == _said(judge(probed)), name
    assert judge(again).unexplained == judge(probed).unexplained


def test_a_probe_that_could_not_run_is_recorded_with_its_reason() -> None:
    fact = to_fact(SVC, "r1", unavailable="no node to probe from")
    assert fact["probed"] == {"kind": "Service", "namespace": "probe", "name": "web"}
    assert from_fact(fact) == (SVC, None, "no node to probe from")


def test_a_malformed_probe_result_is_a_usage_error(cli: Any, tmp_path: Any) -> None:
    fact = to_fact(SVC, "r1", run=probe_run(a=HEALTHY))
    del fact["observations"][0]["path"]
    path = tmp_path / "probe.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [fact]}))
    done = cli("svc", "-A", "--snapshot", str(path), "--select", "TKE12")
    assert done.status == 2 and done.out == ""
    assert done.err.endswith("error: malformed snapshot: ProbeResult probe/tke-net-probe-r1: no field path\n")


def test_a_snapshot_runs_the_probe_checks_only_for_the_probes_of_its_command_and_scope(cli: Any) -> None:
    """`svc` judges the probes of Services in its scope; other namespaces, names and `ingress` do not see them."""
    path = str(Path(__file__).parent / "checks" / "TKE124.yaml")
    done = cli("svc", "web", "-n", "probe", "--snapshot", path, "--select", "TKE12", "-o", "json")
    assert [(f["code"], f["name"]) for f in done.json()["findings"]] == [("TKE124", "web")]
    done = cli("svc", "api", "-n", "probe", "--snapshot", path, "--select", "TKE12", "-o", "json")
    # Its CLB fails from both probed nodes: TKE126, not loopback.
    assert [(f["code"], f["name"]) for f in done.json()["findings"]] == [("TKE126", "api")]
    for args in (("svc", "-n", "other"), ("ingress", "-A")):
        done = cli(*args, "--snapshot", path, "--select", "TKE124", "-o", "json")
        assert done.status == 2 and "is left to run after --select TKE124" in done.err, (args, done.err)


# --- results and the Pod lifecycle ------------------------------------------------------------------------


def test_parse_skips_what_the_kubelet_cut_off() -> None:
    message = (
        '"check":"tcp","target":"10.0.0.1:80","ok":true,"ms":3}\n'  # the cut-off head of a line
        '{"n":2,"check":"dns","target":"a.b","ok":false,"ms":12,"error":"NXDOMAIN"}\n'
        '{"n":3,"check":"http","target":"10.0.0.2:80","ok":true,"ms":4012,"status":404}\n'
        '{"check":"end","tests":3,"ms":4100}\n'
    )
    results, complete = parse(message)
    assert complete and results == {2: Result(False, 12, "NXDOMAIN"), 3: Result(True, 4012, "", 404)}
    assert parse('{"n":1,"check":"dns","ok":true,"ms":1}')[1] is False


class FakeApi:
    """Pods kept in a dict; `kubelet(pod, polls)` gives a Pod's status at each LIST."""

    def __init__(
        self, kubelet: Callable[[Obj, int], dict[str, Any] | None] | None = None, create_status: int = 201
    ) -> None:
        self.kubelet = kubelet or (lambda _pod, _polls: None)
        self.create_status = create_status
        self.pods: dict[str, Obj] = {}
        self.calls: list[tuple[str, str]] = []
        self.polls = 0

    def create(self, path: str, body: Obj) -> tuple[int, Any]:
        name = body["metadata"]["name"]
        self.calls.append(("create", name))
        if self.create_status >= 400:
            namespace = body["metadata"]["namespace"]
            return self.create_status, {
                "message": f'pods is forbidden: User "viewer" cannot create resource '
                f'"pods" in API group "" in the namespace "{namespace}"'
            }
        self.pods[name] = body
        return self.create_status, body

    def list_labelled(self, path: str, label_selector: str) -> list[Obj]:
        self.calls.append(("list", label_selector))
        self.polls += 1
        out = []
        for pod in self.pods.values():
            status = self.kubelet(pod, self.polls)
            out.append({**pod, "status": status or {"phase": "Pending"}})
        return out

    def delete(self, path: str) -> tuple[int, Any]:
        name = path.rsplit("/", 1)[1]
        self.calls.append(("delete", name))
        return (200, {}) if self.pods.pop(name, None) else (404, {})


def succeeded(pod: Obj, _polls: int) -> dict[str, Any]:
    args = pod["spec"]["containers"][0]["args"]
    message = (
        "".join(json.dumps({"n": i, "check": a.split()[0], "ok": True, "ms": i}) + "\n" for i, a in enumerate(args, 1))
        + json.dumps({"check": "end", "tests": len(args), "ms": 9})
        + "\n"
    )
    return {
        "phase": "Succeeded",
        "containerStatuses": [
            {"name": "probe", "state": {"terminated": {"exitCode": 0, "reason": "Completed", "message": message}}}
        ],
    }


def _plan() -> Plan:
    return make_plan(ctx_for(), "service", "web", "probe", run_id="r1")


def _run(api: FakeApi, timeout: float = 5) -> tuple[ProbeRun, list[str]]:
    warnings: list[str] = []
    probed = run(
        api, _plan(), image="busybox:1.36", timeout=timeout, log=lambda _l: None, warn=warnings.append, poll=0.01
    )
    return probed, warnings


def test_results_are_read_and_the_pods_deleted() -> None:
    api = FakeApi(lambda pod, polls: succeeded(pod, polls) if polls >= 2 else {"phase": "Running"})
    probed, warnings = _run(api)
    assert all(o.ok for o in probed.observations) and probed.failures == () and warnings == []
    assert len(probed.observations) == sum(len(p.tests) for p in probed.plan.pods)
    assert api.pods == {}
    creates = [c for c in api.calls if c[0] == "create"]
    deletes = [c for c in api.calls if c[0] == "delete"]
    assert [n for _, n in creates] == [n for _, n in deletes] == ["tke-net-probe-r1-0", "tke-net-probe-r1-1"]
    assert {s for verb, s in api.calls if verb == "list"} == {"tke-net.kubectl.io/probe=r1"}
    assert judge(probed).hits.keys() == {"TKE125"}


def test_forbidden_create_is_unavailable_and_creates_nothing() -> None:
    api = FakeApi(create_status=403)
    with pytest.raises(
        Unavailable,
        match=r"forbidden: cannot create the probe Pods: pods is forbidden: User "
        r'"viewer" cannot create .* \(the probe needs create, list and delete on '
        r"pods in namespace probe\)",
    ):
        _run(api)
    assert api.calls == [("create", "tke-net-probe-r1-0")]


def test_timeout_reports_the_pods_and_deletes_them() -> None:
    api = FakeApi(
        lambda pod, _polls: {
            "phase": "Pending",
            "containerStatuses": [{"name": "probe", "state": {"waiting": {"reason": "ContainerCreating"}}}],
        }
    )
    probed, _warnings = _run(api, timeout=0.1)
    assert api.pods == {}
    assert all(o.result is None for o in probed.observations)
    assert probed.failures == tuple(
        f"probe Pod tke-net-probe-r1-{i} on node {node} did not finish within 0.1s (Pending, ContainerCreating); "
        "raise --probe-timeout, or check the node"
        for i, node in ((0, "10.0.1.10"), (1, "10.0.1.12"))
    )


def test_image_that_cannot_be_pulled_fails_fast_with_the_way_out() -> None:
    api = FakeApi(
        lambda pod, _polls: {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "probe",
                    "state": {
                        "waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "busybox:1.36"'}
                    },
                }
            ],
        }
    )
    probed, _warnings = _run(api, timeout=30)
    assert api.pods == {}
    assert 'ImagePullBackOff: Back-off pulling image "busybox:1.36"; mirror the image' in probed.failures[0]
    assert "--probe-image" in probed.failures[0]


def test_ctrl_c_while_waiting_deletes_the_pods() -> None:
    def interrupted(_pod: Obj, polls: int) -> dict[str, Any]:
        if polls >= 3:
            raise KeyboardInterrupt
        return {"phase": "Running"}

    api = FakeApi(interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(api)
    assert api.pods == {}
    assert [c for c in api.calls if c[0] == "delete"] == [
        ("delete", "tke-net-probe-r1-0"),
        ("delete", "tke-net-probe-r1-1"),
    ]


def test_a_pod_that_cannot_be_deleted_is_named_with_the_command() -> None:
    api = FakeApi(succeeded)
    api.delete = lambda path: (403, {"message": "forbidden"})  # type: ignore[method-assign]
    _probed, warnings = _run(api)
    assert warnings[0].startswith(
        "cannot delete probe Pod probe/tke-net-probe-r1-0: 403 forbidden; "
        "kubectl delete pod -n probe -l tke-net.kubectl.io/probe=r1"
    )
    assert warnings[-1] == (
        "probe Pods left behind: tke-net-probe-r1-0, tke-net-probe-r1-1; "
        "kubectl delete pod -n probe -l tke-net.kubectl.io/probe=r1"
    )


# --- flags ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["svc", "web", "--probe", "--snapshot", fixture("probe")], "--probe cannot be used with --snapshot"),
        (["svc", "web", "--probe-node", "10.0.1.10"], "--probe-node needs --probe"),
        (["ingress", "shop", "--probe-timeout", "5s"], "--probe-timeout needs --probe"),
        (["svc", "--probe"], "--probe needs a Service NAME: kubectl tke-net service NAME --probe"),
        (["ingress", "shop", "--probe", "-A"], "--probe cannot be used with --all-namespaces"),
        (["svc", "web", "--probe", "--probe-timeout", "soon"], "--probe-timeout: invalid duration 'soon'"),
        (["svc", "web", "--probe", "--probe-timeout", "0"], "--probe-timeout must be more than 0"),
        (["dump", "--probe", "web"], "--probe takes svc/NAME or ingress/NAME, not 'web'"),
        (["dump", "--probe", "deploy/web"], "--probe takes svc/NAME or ingress/NAME, not 'deploy/web'"),
        (["dump", "--probe", "ing/shop", "--snapshot", fixture("probe")], "--probe cannot be used with --snapshot"),
        (["dump", "--probe", "svc/web", "-A"], "--probe cannot be used with --all-namespaces"),
        (["dump", "--probe-timeout", "5s"], "--probe-timeout needs --probe"),
    ],
)
def test_probe_flag_misuse_is_a_usage_error(cli: Any, args: list[str], message: str) -> None:
    done = cli(*args)
    assert done.status == 2 and done.out == ""
    assert done.err.startswith(f"error: {message}") and done.err.count("\n") == 1, done.err


def test_loopback_has_no_probe(cli: Any) -> None:
    done = cli("loopback", "--probe")
    assert done.status == 2 and "unrecognized arguments: --probe" in done.err
