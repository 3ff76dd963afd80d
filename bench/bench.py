"""make bench: the plugin against the real kubectl on synthetic clusters in the e2e suite's real control plane."""

from __future__ import annotations

import argparse
import compileall
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

sys.path.insert(0, str(ROOT / "bench"))
import objects  # noqa: E402

SOURCE = Path(sys.executable).parent / "kubectl-tke_net"
BINARY = ROOT / "dist" / "kubectl-tke_net"
OUR_AGENT = "kubectl-tke-net"
TIME = shutil.which("time", path="/usr/bin:/bin")
NAMESPACES = 10
START_RUNS = 15


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


def _served(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as a client sends it: without what the API server sets (uid, managedFields, ...)."""
    meta = {
        k: v
        for k, v in obj["metadata"].items()
        if k not in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation")
    }
    return {**obj, "metadata": meta}


def load(cp: ControlPlane, n: int) -> float:
    """N Services of mixed types with 3 realistic Pods (bench/objects.py) and an EndpointSlice each, an Ingress
    for every fifth, 3 nodes and a kube-proxy DaemonSet. The API server writes the managedFields itself."""
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
    nodes = []
    for k in range(3):
        node = _served(objects.node(k))
        status = node.pop("status")
        obj = client.call("POST", "/api/v1/nodes", node)
        obj["status"] = status
        client.call("PUT", f"/api/v1/nodes/{node['metadata']['name']}/status", obj)
        nodes.append(node["metadata"]["name"])
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
            ns, name = f"bench-{i % NAMESPACES}", f"svc-{i:05d}"
            svc = _served(objects.service(i, ns, name))
            status = svc.pop("status")
            for key in ("clusterIP", "clusterIPs"):
                svc["spec"].pop(key)  # the API server assigns them, and the NodePorts
            for port in svc["spec"]["ports"]:
                port.pop("nodePort", None)
            created = client.call("POST", f"/api/v1/namespaces/{ns}/services", svc)
            if status.get("loadBalancer"):
                created["status"] = status
                client.call("PUT", f"/api/v1/namespaces/{ns}/services/{name}/status", created)
            endpoints = []
            for j in range(3):
                ip = f"172.{20 + i // 65536 % 8}.{i // 256 % 256}.{(i % 256 + j * 86) % 256}"
                pod = _served(objects.pod(i * 3 + j, j, ns, name, node=nodes[j], ip=ip, host_ip=nodes[j]))
                pod_status = pod.pop("status")
                pod_name = pod["metadata"]["name"]
                created = client.call("POST", f"/api/v1/namespaces/{ns}/pods", pod)
                created["status"] = pod_status
                client.call("PUT", f"/api/v1/namespaces/{ns}/pods/{pod_name}/status", created)
                endpoints.append(
                    {
                        "addresses": [ip],
                        "conditions": {"ready": True, "serving": True, "terminating": False},
                        "nodeName": nodes[j],
                        "targetRef": {
                            "kind": "Pod",
                            "namespace": ns,
                            "name": pod_name,
                            "uid": created["metadata"]["uid"],
                        },
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
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                    "endpoints": endpoints,
                },
            )
            if i % 5 == 0:
                ing = _served(objects.ingress(i, ns, name))
                ing_status = ing.pop("status")
                created = client.call("POST", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", ing)
                created["status"] = ing_status
                client.call("PUT", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/{name}/status", created)

        return job

    parallel(one(i) for i in range(n))
    return time.monotonic() - started


# --- the snapshot-only point ------------------------------------------------------------------------


def write_snapshot(path: Path, pods: int, services: int, nodes: int, ingresses: int) -> int:
    """A cluster in `kubectl get pods,services,nodes,ingresses -A -o json` form (4-space indentation, items
    without managedFields, which kubectl leaves out): the bytes written."""
    per_service = max(pods // max(services, 1), 1)
    node_names = [objects.node(k)["metadata"]["name"] for k in range(nodes)]
    pad = "\n        "

    def items() -> Iterable[dict[str, Any]]:
        for i in range(pods):
            svc = i // per_service % services
            ip = f"172.{16 + i // 65536 % 16}.{i // 256 % 256}.{i % 256}"
            node = node_names[i % nodes]
            obj = objects.pod(
                i, i % per_service, f"bench-{svc % NAMESPACES}", f"svc-{svc:05d}", node=node, ip=ip, host_ip=node
            )
            yield obj
        for i in range(services):
            yield objects.service(i, f"bench-{i % NAMESPACES}", f"svc-{i:05d}")
        for k in range(nodes):
            yield objects.node(k)
        for i in range(ingresses):
            svc = i * max(services // max(ingresses, 1), 1)
            yield objects.ingress(svc, f"bench-{svc % NAMESPACES}", f"svc-{svc:05d}")

    with path.open("w") as fh:
        fh.write('{\n    "apiVersion": "v1",\n    "items": [')
        for n, obj in enumerate(items()):
            obj["metadata"].pop("managedFields", None)
            fh.write(("," if n else "") + pad + json.dumps(obj, indent=4).replace("\n", pad))
        fh.write('\n    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n')
    return path.stat().st_size


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


def list_paths(cp: ControlPlane, start: int, agent: str) -> list[str]:
    """The LISTs a run sent (first pages: path and query without limit and continue), from the audit log."""
    paths = []
    for line in cp.audit_log.read_text().splitlines()[start:]:
        event = json.loads(line)
        if event.get("stage") != "ResponseComplete" or not str(event.get("userAgent", "")).startswith(agent):
            continue
        uri = str(event.get("requestURI", ""))
        path, _, query = uri.partition("?")
        kept = [q for q in query.split("&") if q and not q.startswith(("limit=", "continue="))]
        if event.get("verb") == "list" and "continue=" not in query:
            paths.append(path + ("?" + "&".join(kept) if kept else ""))
    return paths


def _once(env: dict[str, str], cmd: list[str], cp: ControlPlane | None, agent: str) -> Sample:
    """One run: its time, peak RSS (GNU time) and requests (the audit log)."""
    before = len(cp.audit_log.read_text().splitlines()) if cp and agent else 0
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        # GNU time's child is forked from a small process, so its peak RSS is the command's own;
        # wait4 on a child of this (large) process would count the pages it inherited.
        wrapped = [TIME, "-f", "%M", "-o", rss.name, *cmd] if TIME else cmd
        started = time.monotonic()
        proc = subprocess.Popen(wrapped, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err[-500:]}")
        kib = int(rss.read().strip().splitlines()[-1]) if TIME else usage.ru_maxrss
    requests = 0
    if cp and agent:
        time.sleep(0.3)  # audit events are written after the response
        requests = audit_count(cp, before, agent)[1]
    return Sample(seconds, kib / 1024, requests)


def _combined(samples: list[Sample]) -> Sample:
    """The median time of the runs, their largest peak RSS and requests."""
    return Sample(
        statistics.median(s.seconds for s in samples), max(s.rss_mib for s in samples), max(s.requests for s in samples)
    )


def measure(env: dict[str, str], cmd: list[str], runs: int, cp: ControlPlane | None = None, agent: str = "") -> Sample:
    """The median time of `runs` runs, their largest peak RSS (GNU time) and requests (the audit log)."""
    return _combined([_once(env, cmd, cp, agent) for _ in range(runs)])


def paired(
    env: dict[str, str],
    ours: list[str],
    theirs: list[str],
    runs: int,
    *,
    cp: ControlPlane | None,
    agents: tuple[str, str],
) -> tuple[Sample, Sample]:
    """Ours and theirs, the two sides of a ratio, run in turn (ABBA), `runs` times each: both meet the API server
    in the same state (its caches and heap grow as the bench goes on, kubectl's runs in between take gigabytes)
    and the machine under the same load, so the ratio does not take the drift of either."""
    sides: tuple[list[Sample], list[Sample]] = ([], [])
    for n in range(runs):
        # ABBA...: neither side always runs just after the other.
        for side in (0, 1) if n % 2 == 0 else (1, 0):
            sides[side].append(_once(env, (ours, theirs)[side], cp, agents[side]))
    return _combined(sides[0]), _combined(sides[1])


def row(n: str, what: str, s: Sample | str) -> None:
    if isinstance(s, Sample):
        print(f"{n:>7}  {what:<66}  {s.seconds:>8.3f}  {s.rss_mib:>7.0f}  {s.requests or '':>8}", flush=True)
    else:
        print(f"{n:>7}  {what:<66}  {s:>8}", flush=True)


def ratio(n: str, what: str, ours: Sample, theirs: Sample) -> float:
    value = ours.seconds / theirs.seconds
    row(n, f"{what} {ours.seconds:.3f}/{theirs.seconds:.3f}", f"{value:.2f}x")
    return value


def cluster_point(n: int, runs: int, kubectl: str, final: dict[str, str]) -> None:
    from kubectl_tke_net.sources.cluster import PAGE_SIZE

    with ControlPlane(startup_timeout=120) as cp:
        loaded = load(cp, n)
        print(f"bench: N={n} loaded in {loaded:.0f}s", file=sys.stderr)
        env, tag = cp.env(), str(n)
        token = cp.tmp / "floor-token" if cp.tmp else Path()
        token.write_text(cp.admin_token)
        res: dict[str, Sample] = {}
        floors: dict[str, Sample] = {}
        ours: dict[str, Sample] = {}
        for command in ("svc", "loopback"):
            # The plugin's own LISTs of this command, then the same paged GETs with nothing done to the bodies,
            # the two in turn.
            before = len(cp.audit_log.read_text().splitlines())
            mine = [str(SOURCE), command, "-A", "-o", "json"]
            measure(env, mine, 1, cp, OUR_AGENT)
            paths = list_paths(cp, before, OUR_AGENT)
            floor = [sys.executable, str(ROOT / "bench" / "floor.py"), cp.url, str(cp.ca_file), str(token)]
            floor += [str(PAGE_SIZE), "4", *paths]
            ours[command], floors[command] = paired(env, mine, floor, runs, cp=cp, agents=(OUR_AGENT, "bench-floor"))
            res[f"transfer floor of {command} -A ({len(paths)} lists, page size {PAGE_SIZE})"] = floors[command]
            res[f"{command} -A -o json"] = ours[command]
        res["kubectl get services,endpointslices,pods,ingresses -A -o json"] = kget = measure(
            env, [kubectl, "get", "services,endpointslices,pods,ingresses", "-A", "-o", "json"], runs, cp, "kubectl/"
        )
        # Start-up: 40-50 ms a run, where a median of 3 moves by a tenth; in turn, 15 runs a side at least.
        ours["version"], kver = paired(
            env,
            [str(SOURCE), "version"],
            [kubectl, "version", "--client"],
            max(runs, START_RUNS),
            cp=None,
            agents=("", ""),
        )
        res["kubectl version --client"] = kver
        res["kubectl get svc -n tiny"] = ktiny = measure(
            env, [kubectl, "get", "svc", "-n", "tiny"], runs, cp, "kubectl/"
        )
        with tempfile.TemporaryDirectory() as tmp:
            dump = Path(tmp) / "dump.json"
            with dump.open("w") as fh:
                subprocess.run([str(SOURCE), "dump", "-A"], env=env, stdout=fh, check=True)
            ours["ingress"] = measure(env, [str(SOURCE), "ingress", "-A", "-o", "json"], runs, cp, OUR_AGENT)
            res["ingress -A -o json"] = ours["ingress"]
            ours["snapshot"] = measure(env, [str(SOURCE), "svc", "-A", "-o", "json", "--snapshot", str(dump)], runs)
            res[f"svc -A -o json --snapshot of its dump ({dump.stat().st_size / 1e6:.0f} MB)"] = ours["snapshot"]
            res["version"] = ours["version"]
            ours["--help"] = res["--help"] = measure(env, [str(SOURCE), "--help"], runs)
            ours["tiny"] = res["svc -n tiny"] = measure(env, [str(SOURCE), "svc", "-n", "tiny"], runs, cp, OUR_AGENT)
        for what, sample in res.items():
            row(tag, what, sample)
        floor_ratio = ratio(tag, "svc -A / its transfer floor", ours["svc"], floors["svc"])
        kubectl_ratio = ratio(tag, "svc -A / kubectl get", ours["svc"], kget)
        loopback_ratio = ratio(tag, "loopback -A / its transfer floor", ours["loopback"], floors["loopback"])
        start_ratio = ratio(tag, "version / kubectl version --client", ours["version"], kver)
        ratio(tag, "--help / kubectl version --client", ours["--help"], kver)
        ratio(tag, "svc -n tiny / kubectl get svc -n tiny", ours["tiny"], ktiny)
        ratio(tag, "svc -A --snapshot of the dump / live svc -A", ours["snapshot"], ours["svc"])
        final.update(
            N=str(n),
            floor_ratio=f"{floor_ratio:.2f}",
            kubectl_ratio=f"{kubectl_ratio:.2f}",
            loopback_floor_ratio=f"{loopback_ratio:.2f}",
            rss_mib=f"{ours['svc'].rss_mib:.0f}",
            start_ratio=f"{start_ratio:.2f}",
            requests=str(ours["svc"].requests),
        )


def snapshot_point(pods: int, runs: int, final: dict[str, str]) -> None:
    services, nodes, ingresses = 10_000, 5_000, 2_000
    tag = f"{pods // 1000}k"
    with tempfile.TemporaryDirectory(prefix="tke-net-bench-") as tmp:
        path = Path(tmp) / "cluster.json"
        started = time.monotonic()
        size = write_snapshot(path, pods, services, nodes, ingresses)
        print(
            f"bench: {pods:,} Pods, {services:,} Services, {nodes:,} nodes, {ingresses:,} Ingresses: "
            f"{size / 1e6:.0f} MB written in {time.monotonic() - started:.0f}s",
            file=sys.stderr,
        )
        env = dict(os.environ)
        loads = measure(env, [sys.executable, "-c", "import json, sys; json.load(open(sys.argv[1]))", str(path)], runs)
        ours = measure(env, [str(SOURCE), "svc", "-A", "-o", "json", "--snapshot", str(path)], runs)
        row(tag, f"json.load of the snapshot file ({size / 1e6:.0f} MB)", loads)
        row(tag, "svc -A -o json --snapshot of it", ours)
        value = ratio(tag, "svc -A --snapshot / json.load of the same file", ours, loads)
    final.update(snapshot150k_ratio=f"{value:.2f}", snapshot150k_rss_mib=f"{ours.rss_mib:.0f}")


KEYS = (
    "N",
    "floor_ratio",
    "kubectl_ratio",
    "loopback_floor_ratio",
    "rss_mib",
    "snapshot150k_ratio",
    "snapshot150k_rss_mib",
    "start_ratio",
    "requests",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated N, or none (default 1000,10000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (median quoted)")
    parser.add_argument("--snapshot-pods", type=int, default=150_000, help="Pods of the snapshot-only point (0: none)")
    args = parser.parse_args()
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"
    # The package's bytecode, as an installed wheel (compiled by pip) and the one-file binary carry it: an
    # editable install where PYTHONDONTWRITEBYTECODE is set would compile every module on every run, and the
    # start-up figures would time the compiler (about 15 ms of `version`).
    compileall.compile_dir(str(ROOT / "kubectl_tke_net"), quiet=1)
    final: dict[str, str] = {}
    print(f"{'N':>7}  {'what':<66}  {'seconds':>8}  {'rss_mib':>7}  {'requests':>8}", flush=True)
    for n in [int(x) for x in args.sizes.split(",") if x.strip() and x != "none"]:
        cluster_point(n, args.runs, kubectl, final)
    if args.snapshot_pods:
        snapshot_point(args.snapshot_pods, args.runs, final)
    print("bench: " + " ".join(f"{k}={final.get(k, 'n/a')}" for k in KEYS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
