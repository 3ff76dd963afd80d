"""`svc NAME --probe` and `ingress NAME --probe` on a real API server, with a helper that plays the kubelet.

The helper sees each probe Pod through a LIST, runs the Pod's own command (the real probe.sh under busybox sh)
here against 127.0.0.1 listeners and a local dnsmasq, with each address the plugin asked for routed to a
listener that answers, refuses, hangs or answers late, then writes the Pod's status with the termination
message through the status subresource, as a kubelet does. Needs busybox and dnsmasq (apt-get install -y
busybox dnsmasq-base).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from controlplane import VIEWER_NAMESPACE, ControlPlane
from load import own_controlplane
from test_plugin import plugin

from tests.conftest import FIXTURES, PLUGIN, found, run_plugin
from tests.probe_tools import SCRIPT, Dnsmasq, Full, Http, busybox_bin, free_port, run_script

NS = "probe"
MANAGED = "app.kubernetes.io%2Fmanaged-by%3Dkubectl-tke-net"
CLB_T = 5  # seconds: above the 4 s a "slow" listener takes, as a layer-7 CLB's retry does
ENV = {"PROBE_DNS_TIMEOUT": "1", "PROBE_TCP_TIMEOUT": "1", "PROBE_CLB_TIMEOUT": str(CLB_T)}
NODES = {"10.0.1.10", "10.0.1.11", "10.0.1.12"}
ENDPOINTS = {"172.20.0.5", "172.20.1.5"}
CLBS = {"10.0.0.50", "10.0.0.60"}

# (what the test addresses, the probe Pod's node) -> how it behaves; what is not listed answers.
Scenario = dict[tuple[str, str], str]


class Kubelet:
    """Runs each probe Pod's command here and reports it through /status, unless `answer` is off."""

    def __init__(
        self, cp: ControlPlane, bindir: Path, workdir: Path, dns: Dnsmasq, *, listeners: dict[str, int], cluster_ip: str
    ) -> None:
        self.cp, self.bindir, self.workdir, self.dns = cp, bindir, workdir, dns
        self.listeners, self.cluster_ip = listeners, cluster_ip
        self.scenario: Scenario = {}
        self.answer = True
        self.seen: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def _watch(self) -> None:
        while not self.stopped.is_set():
            status, body = self.cp.request("GET", f"/api/v1/pods?labelSelector={MANAGED}")
            for pod in (body or {}).get("items", []) if status == 200 else []:
                uid = pod["metadata"]["uid"]
                if uid not in self.seen:
                    self.seen[uid] = pod
                    if self.answer:
                        threading.Thread(target=self._play, args=(pod, dict(self.scenario)), daemon=True).start()
            self.stopped.wait(0.1)

    def route(self, scenario: Scenario, node: str, words: list[str]) -> list[str]:
        """The test as the plugin wrote it, pointed at the listener that plays that path from that node."""
        if words[0] == "dns":
            fails = scenario.get(("dns", node)) == "fail"
            return ["dns", "nxdomain.probe.svc.cluster.local" if fails else words[1]]
        host = words[1]
        what = (
            "cip"
            if host == self.cluster_ip
            else f"np:{host}"
            if host in NODES
            else f"ep:{host}"
            if host in ENDPOINTS
            else words[0]
            if host in CLBS
            else "?"
        )
        assert what != "?", words
        return [words[0], "127.0.0.1", str(self.listeners[scenario.get((what, node), "answer")]), *words[3:]]

    def _put_status(self, pod: dict[str, Any], status: dict[str, Any]) -> bool:
        path = f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/{pod['metadata']['name']}"
        code, current = self.cp.request("GET", path)
        if code == 404:
            return False
        current["status"] = status
        code, body = self.cp.request("PUT", path + "/status", current)
        if code != 200:
            self.errors.append(f"PUT {path}/status -> {code}: {body}")
        return code == 200

    def _play(self, pod: dict[str, Any], scenario: Scenario) -> None:
        try:
            container = pod["spec"]["containers"][0]
            node = pod["spec"]["nodeName"]
            started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            base = {
                "name": container["name"],
                "image": container["image"],
                "imageID": "",
                "restartCount": 0,
                "ready": False,
            }
            running = {
                "phase": "Running",
                "hostIP": node,
                "startTime": started,
                "containerStatuses": [{**base, "ready": True, "state": {"running": {"startedAt": started}}}],
            }
            if not self._put_status(pod, running):
                return
            sh, dash_c, script, name = container["command"]
            assert (sh, dash_c, name) == ("sh", "-c", "tke-net-probe"), container["command"]
            tests = [" ".join(self.route(scenario, node, arg.split())) for arg in container["args"]]
            env = {**ENV, "PROBE_DNS_SERVER": "127.0.0.1", "PROBE_DNS_PORT": str(self.dns.port)}
            out = self.workdir / f"{pod['metadata']['name']}.termination-log"
            done, message = run_script(self.bindir, out, tests, env, script=script)
            finished = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            terminated = {
                "exitCode": done.returncode,
                "reason": "Completed",
                "message": message,
                "startedAt": started,
                "finishedAt": finished,
            }
            self._put_status(
                pod,
                {
                    "phase": "Succeeded",
                    "hostIP": node,
                    "startTime": started,
                    "containerStatuses": [{**base, "state": {"terminated": terminated}}],
                },
            )
        except Exception as exc:  # surfaced by the tests through `errors`
            self.errors.append(repr(exc))


@pytest.fixture(scope="module")
def cp(kubectl: str) -> Iterator[ControlPlane]:
    """A control plane of its own: the probe fixture adds nodes, which other modules count."""
    with own_controlplane(kubectl, FIXTURES / "probe.yaml") as cp:
        yield cp


@pytest.fixture(scope="module")
def kubelet(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubelet]:
    status, svc = cp.request("GET", f"/api/v1/namespaces/{NS}/services/web")
    assert status == 200, svc
    cluster_ip = svc["spec"]["clusterIP"]
    servers = {"answer": Http(200), "slow": Http(200, delay=4), "silent": Http(None)}
    full = Full()
    listeners = {name: s.port for name, s in servers.items()} | {"full": full.port, "refuse": free_port()}
    work = tmp_path_factory.mktemp("kubelet")
    dns = Dnsmasq(work / "dnsmasq.log", {f"web.{NS}.svc.cluster.local": cluster_ip})
    helper = Kubelet(cp, busybox_bin(work / "bin"), work, dns, listeners=listeners, cluster_ip=cluster_ip)
    yield helper
    helper.stop()
    dns.close()
    full.close()
    for s in servers.values():
        s.close()


@pytest.fixture
def helper(kubelet: Kubelet) -> Iterator[Kubelet]:
    kubelet.scenario, kubelet.answer = {}, True
    yield kubelet
    assert kubelet.errors == []


def probe_pods(cp: ControlPlane) -> list[str]:
    status, body = cp.request("GET", f"/api/v1/pods?labelSelector={MANAGED}")
    assert status == 200, body
    return [p["metadata"]["name"] for p in body["items"]]


def messages(doc: dict[str, Any]) -> dict[str, str]:
    return {f["code"]: f["message"] for f in doc["findings"]}


def test_probe_pods_run_the_packaged_script(cp: ControlPlane, helper: Kubelet) -> None:
    before = len(helper.seen)
    run = plugin(cp, "svc", "web", "-n", NS, "--probe", "--select", "TKE12", "-o", "json")
    assert run.status == 0, run.err
    pods = list(helper.seen.values())[before:]
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["10.0.1.10", "10.0.1.12"]
    for pod in pods:
        container = pod["spec"]["containers"][0]
        assert container["command"] == ["sh", "-c", SCRIPT.read_text(), "tke-net-probe"]
        assert container["image"] == "busybox:1.36"
        assert pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-tke-net"
        assert pod["spec"]["restartPolicy"] == "Never" and pod["spec"]["activeDeadlineSeconds"] == 90


def test_healthy_service_every_path_answers_and_the_pods_are_gone(cp: ControlPlane, helper: Kubelet) -> None:
    run = plugin(cp, "svc", "web", "-n", NS, "--probe", "--select", "TKE12", "-o", "json")
    assert run.status == 0, run.err
    doc = run.json()
    assert found(doc) == {("TKE125", f"Service/{NS}/web")}
    message = messages(doc)["TKE125"]
    assert message.startswith(
        f"every probed path answered: from node 10.0.1.10 (hosts a backend): DNS web.{NS}.svc.cluster.local "
    )
    for path in (
        "ClusterIP ",
        "CLB 10.0.0.50:80 ",
        "NodePort 10.0.1.12:30080 (node 10.0.1.12) ",
        "endpoint 172.20.1.5:8080 (web-b on 10.0.1.11) ",
        "; from node 10.0.1.12: ",
    ):
        assert path in message
    assert doc["skipped"] == []
    assert probe_pods(cp) == []


def test_broken_links_give_their_codes(cp: ControlPlane, helper: Kubelet) -> None:
    helper.scenario = {
        ("dns", "10.0.1.12"): "fail",  # the name fails from 10.0.1.12, its ClusterIP answers there: DNS
        ("cip", "10.0.1.10"): "refuse",  # the ClusterIP fails from 10.0.1.10, the endpoints answer: kube-proxy
        ("ep:172.20.1.5", "10.0.1.12"): "full",  # a Pod on 10.0.1.11 cannot be reached from 10.0.1.12
        ("np:10.0.1.12", "10.0.1.10"): "refuse",  # the NodePort of 10.0.1.12 fails from 10.0.1.10
        ("clb", "10.0.1.10"): "full",  # the CLB hangs from the node with a backend, answers from the other
    }
    run = plugin(cp, "svc", "web", "-n", NS, "--probe", "--select", "TKE12", "-o", "json")
    assert run.status == 1, run.err
    doc = run.json()
    assert found(doc) == {(code, f"Service/{NS}/web") for code in ("TKE120", "TKE121", "TKE122", "TKE123", "TKE124")}
    said = messages(doc)
    assert said["TKE120"].startswith(
        f"from node 10.0.1.12: DNS web.{NS}.svc.cluster.local does not resolve (NXDOMAIN after "
    )
    assert said["TKE121"].startswith("from node 10.0.1.10: ClusterIP ") and "(refused after " in said["TKE121"]
    assert said["TKE122"].startswith(
        "from node 10.0.1.12: 1 of 2 ready endpoints of port http do not answer: "
        "endpoint 172.20.1.5:8080 (web-b on 10.0.1.11) timeout after "
    )
    assert said["TKE123"].startswith(
        "from node 10.0.1.10: NodePort 10.0.1.12:30080 (node 10.0.1.12) does not answer (refused after "
    )
    assert said["TKE124"].startswith("CLB 10.0.0.50:80 fails (timeout after ")
    assert "from node 10.0.1.10, which hosts a backend, but answers in " in said["TKE124"]
    assert probe_pods(cp) == []


def test_ingress_answering_late_from_a_backend_node_is_loopback(cp: ControlPlane, helper: Kubelet) -> None:
    helper.scenario = {("http", "10.0.1.10"): "slow"}
    run = plugin(cp, "ingress", "shop", "-n", NS, "--probe", "--select", "TKE12", "-o", "json")
    assert run.status == 1, run.err
    doc = run.json()
    assert found(doc) == {("TKE124", f"Ingress/{NS}/shop")}
    message = messages(doc)["TKE124"]
    assert message.startswith("CLB http://10.0.0.60:80/ Host shop.example.com takes ")
    assert int(message.split(" takes ")[1].split(" ms")[0]) >= 4000
    assert "(over 3000 ms) from node 10.0.1.10, which hosts a backend, but answers in " in message
    assert probe_pods(cp) == []


def test_probe_with_the_other_checks_and_the_table(cp: ControlPlane, helper: Kubelet) -> None:
    run = plugin(cp, "svc", "web", "-n", NS, "--probe")
    assert run.status == 0, run.err
    assert "TKE125" in run.out and "every probed path answered" in run.out
    assert "TKE113" in run.out  # the static checks run as well
    assert run.out.endswith(
        "0 errors, 0 warnings, 2 info (0 suppressed); 1 check skipped\n"
        "hint: -o wide adds the remediation; kubectl tke-net checks TKE113 explains a code\n"
    )


def test_no_answer_times_out_skips_the_probe_checks_and_deletes_the_pods(cp: ControlPlane, helper: Kubelet) -> None:
    helper.answer = False
    run = plugin(cp, "svc", "web", "-n", NS, "--probe", "--probe-timeout", "3s", "--select", "TKE12", "-o", "json")
    assert run.status == 0, run.err
    doc = run.json()
    assert doc["findings"] == []
    (skipped,) = doc["skipped"]
    assert skipped["codes"] == ["TKE120", "TKE121", "TKE122", "TKE123", "TKE124", "TKE125", "TKE126"]
    assert "did not finish within 3s (Pending); raise --probe-timeout, or check the node" in skipped["reason"]
    assert run.seconds < 30
    assert probe_pods(cp) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_plugin_deletes_the_pods(cp: ControlPlane, helper: Kubelet, signum: int) -> None:
    helper.answer = False
    proc = subprocess.Popen(
        [str(PLUGIN), "svc", "web", "-n", NS, "--probe", "--probe-timeout", "60s"],
        env=cp.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(probe_pods(cp)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(probe_pods(cp)) == 2
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and err.endswith("error: interrupted\n"), err
    assert out == ""
    assert probe_pods(cp) == []


def test_user_who_may_not_create_pods_gets_the_probe_checks_skipped(cp: ControlPlane, helper: Kubelet) -> None:
    cp.create(
        f"/api/v1/namespaces/{VIEWER_NAMESPACE}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": VIEWER_NAMESPACE},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )
    run = plugin(cp, "svc", "web", "--context", "viewer", "--probe", "--probe-node", "10.0.1.10", "-o", "json")
    assert run.status == 1, run.err  # TKE101: the checks that can run still run
    doc = run.json()
    assert found(doc) == {("TKE101", f"Service/{VIEWER_NAMESPACE}/web")}
    probe_skip = [s for s in doc["skipped"] if "TKE120" in s["codes"]]
    assert probe_skip == [
        {
            "codes": ["TKE120", "TKE121", "TKE122", "TKE123", "TKE124", "TKE125", "TKE126"],
            "reason": probe_skip[0]["reason"],
        }
    ]
    reason = probe_skip[0]["reason"]
    assert reason.startswith(
        'forbidden: cannot create the probe Pods: pods is forbidden: User "viewer" cannot create resource "pods"'
    )
    assert reason.endswith(f"(the probe needs create, list and delete on pods in namespace {VIEWER_NAMESPACE})")
    assert probe_pods(cp) == []


def test_watching_is_a_list_never_a_get_per_pod(cp: ControlPlane, helper: Kubelet) -> None:
    before = len(cp.audit_events())
    run = plugin(cp, "svc", "web", "-n", NS, "--probe", "--select", "TKE12", "-o", "json")
    assert run.status == 0, run.err
    time.sleep(0.5)  # audit events are written after the response
    calls = [
        e
        for e in cp.audit_events()[before:]
        if e.get("stage") == "ResponseComplete"
        and str(e.get("userAgent", "")).startswith("kubectl-tke-net")
        and (e.get("objectRef") or {}).get("resource") == "pods"
    ]
    verbs: dict[str, int] = {}
    for e in calls:
        verbs[e["verb"]] = verbs.get(e["verb"], 0) + 1
    assert verbs.get("get", 0) == 0, verbs
    assert verbs["create"] == 2 and verbs["delete"] == 2
    labelled = [e for e in calls if e["verb"] == "list" and "labelSelector=" in e["requestURI"]]
    assert labelled and all("tke-net.kubectl.io%2Fprobe%3D" in e["requestURI"] for e in labelled)
    assert len(labelled) <= run.seconds + 3  # about one LIST a second


def _timeless(doc: dict[str, Any]) -> dict[str, Any]:
    """A report without its source and its timings (each probe measures anew), for comparing two runs."""
    text = re.sub(r"\b\d+ ms\b", "N ms", json.dumps({k: v for k, v in doc.items() if k != "source"}))
    return json.loads(text)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("command", "name"), [("svc", "web"), ("ingress", "shop")])
def test_snapshot_of_a_probe_dump_gives_the_findings_of_the_live_probe(
    cp: ControlPlane, helper: Kubelet, tmp_path: Path, command: str, name: str
) -> None:
    """`dump --probe TYPE/NAME` records the objects and the ProbeResult; `--snapshot` of it, with no cluster and no
    --probe, gives the report of the live `--probe` run (TKE120-TKE125 included), its timings apart."""
    helper.scenario = {
        ("dns", "10.0.1.12"): "fail",
        ("cip", "10.0.1.10"): "refuse",
        ("ep:172.20.1.5", "10.0.1.12"): "full",
        ("np:10.0.1.12", "10.0.1.10"): "refuse",
        ("clb", "10.0.1.10"): "full",
        ("http", "10.0.1.10"): "slow",
    }
    live = plugin(cp, command, name, "-n", NS, "--probe", "-o", "json")
    assert live.status == 1, live.err
    dump = plugin(cp, "dump", "-n", NS, "--probe", f"{command}/{name}")
    assert dump.status == 0, dump.err
    assert probe_pods(cp) == []
    (tmp_path / "dump.json").write_text(dump.out)
    (fact,) = [o for o in json.loads(dump.out)["items"] if o["kind"] == "ProbeResult"]
    kind = "Service" if command == "svc" else "Ingress"
    assert fact["probed"] == {"kind": kind, "namespace": NS, "name": name}
    assert {o["path"] for o in fact["observations"]} >= {"dns", "cluster-ip", "endpoint", "node-port", "clb"}
    replay = run_plugin(command, name, "-n", NS, "--snapshot", str(tmp_path / "dump.json"), "-o", "json")
    assert replay.status == live.status and replay.err == "", replay.err
    assert {f["code"] for f in replay.json()["findings"]} >= {"TKE122", "TKE124"}
    assert _timeless(replay.json()) == _timeless(live.json())
