"""make bench: the plugin against the real kubectl on synthetic clusters in the e2e suite's real control plane."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from controlplane import ControlPlane  # noqa: E402

SOURCE = Path(sys.executable).parent / "kubectl-tke_net"
BINARY = ROOT / "dist" / "kubectl-tke_net"
OUR_AGENT = "kubectl-tke-net"
TIME = shutil.which("time", path="/usr/bin:/bin")
NAMESPACES = 10


# --- loading -------------------------------------------------------------------------------------------


class Client:
    """Keep-alive HTTPS connections to the apiserver, one per thread (loading 100,000 objects)."""

    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        host, port = cp.url.removeprefix("https://").split(":")
        self.addr = (host, int(port))
        self.ctx = ssl.create_default_context(cafile=str(cp.ca_file))
        self.local = threading.local()

    def call(self, method: str, path: str, body: Any) -> Any:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPSConnection(*self.addr, context=self.ctx, timeout=60)
        headers = {
            "Authorization": f"Bearer {self.cp.admin_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        conn.request(method, path, json.dumps(body), headers)
        resp = conn.getresponse()
        data = json.loads(resp.read() or b"null")
        if resp.status not in (200, 201):
            raise RuntimeError(f"{method} {path} -> {resp.status}: {str(data)[:300]}")
        return data


def parallel(work: Iterable[Callable[[], None]], threads: int = 16) -> None:
    jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
    errors: list[BaseException] = []
    for job in work:
        jobs.put(job)

    def worker() -> None:
        while True:
            try:
                job = jobs.get_nowait()
            except queue.Empty:
                return
            try:
                job()  # type: ignore[misc]
            except BaseException as exc:  # reported after the pool stops
                errors.append(exc)
                return

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


def service_objects(i: int) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    ns = f"bench-{i % NAMESPACES}"
    name = f"svc-{i:05d}"
    kind = i % 20  # 10% internal CLB, 5% public CLB, 5% NodePort: 2,000 NodePorts at N=10,000
    annotations: dict[str, str] = {}
    spec: dict[str, Any] = {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    status = None
    if kind in (0, 1, 10):
        spec["type"] = "LoadBalancer"
        if kind in (0, 10):
            annotations["service.kubernetes.io/qcloud-loadbalancer-internal-subnetid"] = "subnet-3swgntkk"
        status = {"loadBalancer": {"ingress": [{"ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"}]}}
    elif kind == 2:
        spec["type"] = "NodePort"
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": spec,
    }
    return ns, svc, status


def load(cp: ControlPlane, n: int) -> float:
    """N Services of mixed types, 3 Pods and an EndpointSlice each, Ingresses for N/5, a kube-proxy DaemonSet."""
    started = time.monotonic()
    client = Client(cp)
    for ns in [f"bench-{k}" for k in range(NAMESPACES)] + ["tiny", "kube-system"]:
        try:
            client.call(
                "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            )
        except RuntimeError as exc:
            if "409" not in str(exc):
                raise
    nodes = [f"10.0.1.{k}" for k in range(10, 13)]
    for node in nodes:
        obj = client.call("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
        obj["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}
        client.call("PUT", f"/api/v1/nodes/{node}/status", obj)
    client.call(
        "POST",
        "/apis/apps/v1/namespaces/kube-system/daemonsets",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                "template": {
                    "metadata": {"labels": {"k8s-app": "kube-proxy"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "kube-proxy",
                                "image": "ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.20.6-tke.3",
                                "args": ["--proxy-mode=ipvs"],
                            }
                        ]
                    },
                },
            },
        },
    )
    for k in range(2):
        client.call(
            "POST",
            "/api/v1/namespaces/tiny/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"tiny-{k}", "namespace": "tiny"},
                "spec": {"ports": [{"port": 80}]},
            },
        )

    def one(i: int) -> Callable[[], None]:
        def job() -> None:
            ns, svc, status = service_objects(i)
            name = svc["metadata"]["name"]
            created = client.call("POST", f"/api/v1/namespaces/{ns}/services", svc)
            if status:
                created["status"] = status
                client.call("PUT", f"/api/v1/namespaces/{ns}/services/{name}/status", created)
            endpoints = []
            for j in range(3):
                pod_name = f"{name}-{j}"
                pod = client.call(
                    "POST",
                    f"/api/v1/namespaces/{ns}/pods",
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {"name": pod_name, "namespace": ns, "labels": {"app": name}},
                        "spec": {
                            "nodeName": nodes[j],
                            "containers": [
                                {
                                    "name": "app",
                                    "image": "nginx:1.27",
                                    "ports": [{"name": "http", "containerPort": 8080}],
                                }
                            ],
                        },
                    },
                )
                ip = f"172.{20 + i // 65536 % 8}.{i // 256 % 256}.{(i % 256 + j * 86) % 256}"
                pod["status"] = {
                    "phase": "Running",
                    "podIP": ip,
                    "podIPs": [{"ip": ip}],
                    "conditions": [{"type": "Ready", "status": "True"}],
                }
                client.call("PUT", f"/api/v1/namespaces/{ns}/pods/{pod_name}/status", pod)
                endpoints.append(
                    {
                        "addresses": [ip],
                        "conditions": {"ready": True},
                        "nodeName": nodes[j],
                        "targetRef": {"kind": "Pod", "namespace": ns, "name": pod_name, "uid": pod["metadata"]["uid"]},
                    }
                )
            client.call(
                "POST",
                f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "name": f"{name}-abcde",
                        "namespace": ns,
                        "labels": {"kubernetes.io/service-name": name},
                    },
                    "addressType": "IPv4",
                    "ports": [{"name": "http", "port": 8080}],
                    "endpoints": endpoints,
                },
            )
            if i % 5 == 0:
                annotations = {"kubernetes.io/ingress.class": "qcloud"}
                if i % 10 == 0:
                    annotations["kubernetes.io/ingress.subnetId"] = "subnet-3swgntkk"
                client.call(
                    "POST",
                    f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
                    {
                        "apiVersion": "networking.k8s.io/v1",
                        "kind": "Ingress",
                        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
                        "spec": {
                            "rules": [
                                {
                                    "host": f"{name}.example.com",
                                    "http": {
                                        "paths": [
                                            {
                                                "path": "/",
                                                "pathType": "Prefix",
                                                "backend": {"service": {"name": name, "port": {"name": "http"}}},
                                            }
                                        ]
                                    },
                                }
                            ]
                        },
                    },
                )

        return job

    parallel(one(i) for i in range(n))
    return time.monotonic() - started


# --- measuring -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_mib: float
    requests: int


def audit_count(cp: ControlPlane, start: int, agent: str) -> tuple[int, int]:
    """(new audit lines, requests among them whose user agent starts with `agent`)."""
    lines = cp.audit_log.read_text().splitlines()
    ours = 0
    for line in lines[start:]:
        event = json.loads(line)
        if event.get("stage") == "ResponseComplete" and str(event.get("userAgent", "")).startswith(agent):
            ours += 1
    return len(lines), ours


def measure(cp: ControlPlane, cmd: list[str], agent: str | None, runs: int) -> list[Sample]:
    samples = []
    for _ in range(runs):
        before = len(cp.audit_log.read_text().splitlines()) if agent else 0
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
            # GNU time's child is forked from a small process, so its peak RSS is the command's own;
            # wait4 on a child of this (large) process would count the pages it inherited.
            wrapped = [TIME, "-f", "%M", "-o", rss.name, *cmd] if TIME else cmd
            started = time.monotonic()
            proc = subprocess.Popen(wrapped, env=cp.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.monotonic() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            err = proc.stderr.read().decode() if proc.stderr else ""
            if proc.returncode not in (0, 1):
                raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err[-500:]}")
            kib = int(rss.read().strip().splitlines()[-1]) if TIME else usage.ru_maxrss
        requests = 0
        if agent:
            time.sleep(0.3)  # audit events are written after the response
            requests = audit_count(cp, before, agent)[1]
        samples.append(Sample(seconds, kib / 1024, requests))
    return samples


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.seconds for s in samples), max(s.rss_mib for s in samples), max(s.requests for s in samples)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated N (default 1000,10000)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (median quoted)")
    args = parser.parse_args()
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"
    plugins = [("source", str(SOURCE))] + ([("binary", str(BINARY))] if BINARY.exists() else [])
    rows: list[tuple[str, ...]] = []
    final: dict[str, str] = {}
    printed = 0
    print(f"{'N':>6}  {'what':<60}  {'seconds':>8}  {'rss_mib':>7}  {'requests':>8}", flush=True)
    for n in [int(x) for x in args.sizes.split(",")]:
        with ControlPlane(startup_timeout=120) as cp:
            loaded = load(cp, n)
            print(f"bench: N={n} loaded in {loaded:.0f}s", file=sys.stderr)
            runs = args.runs
            res: dict[str, Sample] = {}
            res["kubectl get (floor)"] = median(
                measure(
                    cp, [kubectl, "get", "services,endpointslices,pods,ingresses", "-A", "-o", "json"], "kubectl/", runs
                )
            )
            res["kubectl version --client"] = median(measure(cp, [kubectl, "version", "--client"], None, runs))
            res["kubectl get svc -n tiny"] = median(
                measure(cp, [kubectl, "get", "svc", "-n", "tiny"], "kubectl/", runs)
            )
            with tempfile.TemporaryDirectory() as tmp:
                dump = Path(tmp) / "dump.yaml"
                with dump.open("w") as fh:
                    subprocess.run([str(SOURCE), "dump", "-A"], env=cp.env(), stdout=fh, check=True)
                for label, exe in plugins:
                    for command in ("svc", "ingress", "loopback"):
                        res[f"{label} {command} -A"] = median(
                            measure(cp, [exe, command, "-A", "-o", "json"], OUR_AGENT, runs)
                        )
                    res[f"{label} svc -A --snapshot"] = median(
                        measure(cp, [exe, "svc", "-A", "-o", "json", "--snapshot", str(dump)], None, runs)
                    )
                    res[f"{label} --help"] = median(measure(cp, [exe, "--help"], None, runs))
                    res[f"{label} version"] = median(measure(cp, [exe, "version"], None, runs))
                    res[f"{label} svc -n tiny"] = median(measure(cp, [exe, "svc", "-n", "tiny"], OUR_AGENT, runs))
        for what, s in res.items():
            rows.append((str(n), what, f"{s.seconds:.3f}", f"{s.rss_mib:.0f}", str(s.requests or "")))
        floor = res["kubectl get (floor)"].seconds
        version = res["kubectl version --client"].seconds
        tiny = res["kubectl get svc -n tiny"].seconds
        for label, _ in plugins:
            svc, lb = res[f"{label} svc -A"], res[f"{label} loopback -A"]
            rows.append(
                (str(n), f"{label}: svc/floor {svc.seconds:.3f}/{floor:.3f}", f"{svc.seconds / floor:.2f}x", "", "")
            )
            rows.append(
                (str(n), f"{label}: loopback/floor {lb.seconds:.3f}/{floor:.3f}", f"{lb.seconds / floor:.2f}x", "", "")
            )
            for what in ("--help", "version"):
                ours = res[f"{label} {what}"].seconds
                rows.append(
                    (
                        str(n),
                        f"{label}: {what}/kubectl version --client {ours:.3f}/{version:.3f}",
                        f"{ours / version:.2f}x",
                        "",
                        "",
                    )
                )
            ours = res[f"{label} svc -n tiny"].seconds
            rows.append(
                (str(n), f"{label}: svc -n tiny/kubectl get svc {ours:.3f}/{tiny:.3f}", f"{ours / tiny:.2f}x", "", "")
            )
            snap = res[f"{label} svc -A --snapshot"].seconds
            rows.append(
                (
                    str(n),
                    f"{label}: snapshot/live svc -A {snap:.3f}/{svc.seconds:.3f}",
                    f"{snap / svc.seconds:.2f}x",
                    "",
                    "",
                )
            )
        for row in rows[printed:]:
            print(f"{row[0]:>6}  {row[1]:<60}  {row[2]:>8}  {row[3]:>7}  {row[4]:>8}", flush=True)
        printed = len(rows)
        src = res["source svc -A"]
        final = {
            "N": str(n),
            "svc_ratio": f"{src.seconds / floor:.2f}",
            "loopback_ratio": f"{res['source loopback -A'].seconds / floor:.2f}",
            "requests": str(src.requests),
            "rss_mib": f"{src.rss_mib:.0f}",
            "start_ratio": f"{res['source version'].seconds / version:.2f}",
        }
    print("bench: " + " ".join(f"{k}={v}" for k, v in final.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
