"""A two-node TKE data path on one machine: real kubelet, containerd, kube-proxy, CoreDNS and netfilter; a played CLB.

Real: etcd and kube-apiserver (../controlplane.py, with the ServiceAccount admission plugin),
kube-controller-manager (its EndpointSlice, ServiceAccount, root CA publisher, Job and CronJob controllers), one
kubelet with its own containerd, runc root and cgroup root per node, Pods as runc containers wired by the CNI `ptp`
plugin, kube-proxy per node (iptables or nftables mode), CoreDNS as a Pod serving cluster.local from the API server,
and the kernel's netfilter, conntrack and routing. Pods that mount their service account get the token the kubelet
requests (TokenRequest) and reach the API server in-cluster, through Service default/kubernetes and kube-proxy's
rules. Played: the VPC (a namespace that routes between the nodes and their Pod ranges, as TKE's GlobalRouter
does), the CLBs (an L4 VIP as an iptables DNAT to one chosen node's NodePort without source NAT, an L7 VIP as
l7clb.py), their SNAT switch, the cloud controller (Service and Ingress status written here), the scheduler (the
lab's own Pods are created with their nodeName; `bind` binds a Pod a controller created, as kube-scheduler does)
and the API server's endpoint reconciler (the EndpointSlice of Service default/kubernetes names each node's relay).

Topology, only 198.18.0.0/15 inside namespaces of its own, nothing routed toward the host's interfaces:

    VPC namespace: 198.18.0.1 on a veth to each node; L4 VIP 198.18.1.200, L7 VIP 198.18.1.201 (l7clb.py)
      node 198.18.0.11 (Pods 198.19.1.0/24)      node 198.18.0.12 (Pods 198.19.2.0/24)
    Service range 198.18.128.0/20 (kubernetes 198.18.128.1, kube-dns 198.18.128.10); the API server on the host's
    127.0.0.1, reached from each node through relay.py listening on the node's port 6443 (its 127.0.0.1 for the
    node's own processes, its address for Pods, behind Service default/kubernetes).

Run as a script (`make lab`) it starts the lab for a person and waits for Ctrl-C.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

# tests/e2e: controlplane.py, and this folder as the package datapath (also when run as a script, `make lab`).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controlplane import ControlPlane, ControlPlaneError, _tail
from datapath import image
from datapath.netns import Entered

SERVICE_CIDR = "198.18.128.0/20"
DNS_IP = "198.18.128.10"
POD_CIDR = "198.19.0.0/16"
GATEWAY = "198.18.0.1"
L4_VIP = "198.18.1.200"
L7_VIP = "198.18.1.201"
CLB_SNAT = "198.18.1.254"  # the CLB's own address when SNAT is on
API_PORT = 6443  # the relay's port on each node (127.0.0.1 and the node's address)
NS = "shop"
WEB_NODE_PORT = 30080  # Service web (LoadBalancer, the CLBs forward here)
API_NODE_PORT = 30081  # Service api (NodePort only)
BACKEND_PORT = 8080
INGRESS_HOST = "shop.example.com"
SVC_INTERNAL = "service.kubernetes.io/qcloud-loadbalancer-internal-subnetid"
ING_INTERNAL = "kubernetes.io/ingress.subnetId"
# Global (not per-namespace) sysctls the kubelet sets on start (protectKernelDefaults false): put back at stop.
KERNEL_TUNABLES = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
CGROUP = Path("/sys/fs/cgroup")
HERE = Path(__file__).resolve().parent


class LabError(RuntimeError):
    """The lab could not be built, started or changed."""


@dataclass
class Node:
    name: str  # also its InternalIP, as TKE names nodes
    pod_cidr: str
    veth: str  # the VPC side of its link
    netns: str = ""
    dir: Path = Path()
    cgroup_root: str = ""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)


NODES = (Node("198.18.0.11", "198.19.1.0/24", "v1"), Node("198.18.0.12", "198.19.2.0/24", "v2"))


def _script(name: str) -> str:
    return str(HERE / name)


def run(cmd: list[str], what: str = "", timeout: float = 60, check: bool = True) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LabError(f"{what or cmd[0]} failed: {e}") from e
    if check and done.returncode != 0:
        raise LabError(
            f"{what or ' '.join(cmd)} failed (exit {done.returncode}): {(done.stdout + done.stderr).strip()}"
        )
    return done.stdout


def build_binaries() -> tuple[Path, Path]:
    """(directory of kubelet, kube-proxy and kube-controller-manager; the coredns binary), built once."""
    dirs = []
    for script in (HERE / "nodes" / "build.sh", HERE / "coredns" / "build.sh"):
        lines = run(["bash", str(script)], str(script), timeout=3600).strip().splitlines()
        if not lines:
            raise LabError(f"{script} printed no directory")
        dirs.append(Path(lines[-1]))
    return dirs[0], dirs[1] / "coredns"


def missing_prerequisites() -> str | None:
    """Why this machine cannot run the lab, or None."""
    if sys.platform != "linux":
        return "the data path lab needs Linux network namespaces"
    if os.geteuid() != 0:
        return "the data path lab needs root (network namespaces, containerd, kubelet, iptables)"
    probe = f"tke-net-e2e-check-{secrets.token_hex(3)}"
    try:
        done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"cannot create a network namespace: {e}"
    if done.returncode != 0:
        return f"cannot create a network namespace: {done.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False, timeout=10)
    return None


def missing_packages() -> list[str]:
    tools = {
        "containerd": "containerd",
        "ctr": "containerd",
        "runc": "runc",
        "iptables": "iptables",
        "nft": "nftables",
        "conntrack": "conntrack",
        "unshare": "util-linux",
        "nsenter": "util-linux",
    }
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = {pkg for tool, pkg in tools.items() if shutil.which(tool, path=path) is None}
    if not Path("/usr/lib/cni/ptp").exists():
        missing.add("containernetworking-plugins")
    return sorted(missing)


class Lab:
    """The two nodes, the VPC and CLB namespace, and the Kubernetes pieces on them; `stop` removes everything."""

    def __init__(self, cp: ControlPlane, mode: str = "iptables", log: Callable[[str], None] | None = None) -> None:
        assert mode in ("iptables", "nftables"), mode
        self.cp, self.mode = cp, mode
        self.log = log or (lambda _line: None)
        self.id = secrets.token_hex(3)
        self.tmp = Path()
        self.vpc = ""
        self.nodes = [Node(n.name, n.pod_cidr, n.veth) for n in NODES]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}  # the host's and the VPC's processes
        self.logs: dict[str, Path] = {}
        self.sysctls: dict[str, str] = {}
        self.node_bin = Path()
        self.images = Path()
        self.coredns_image = ""
        self.l7_config = Path()
        self.l7_log = Path()
        self.times: dict[str, float] = {}
        self._made_netns: list[str] = []

    # lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Lab:
        started = time.monotonic()
        try:
            self.node_bin, coredns = build_binaries()
            self.images = image.build(coredns)
            self.coredns_image = image.coredns_tag(coredns)
            self.times["build"] = time.monotonic() - started
            t = time.monotonic()
            self.tmp = Path(tempfile.mkdtemp(prefix=f"tke-net-lab-{self.id}-"))
            self.sysctls = {k: (Path("/proc/sys") / k).read_text() for k in KERNEL_TUNABLES}
            self._network()
            self._write_kubeconfig()
            for node in self.nodes:
                self._start_node_base(node)
            self._start_controller_manager()
            for node in self.nodes:
                self._start_kubelet(node)
            self._wait_nodes_ready()
            for node in self.nodes:
                self.start_kube_proxy(node)
            self._start_l7()
            self._create_objects()
            self.times["bring-up"] = time.monotonic() - t
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        t = time.monotonic()
        errors: list[str] = []

        def attempt(what: str, fn: Callable[[], object]) -> None:
            try:
                fn()
            except Exception as e:  # teardown goes on: every step runs whatever failed before it
                errors.append(f"{what}: {e}")

        attempt("pods", self._delete_pods)
        for node in self.nodes:
            for name in ("kubelet", "kube-proxy"):
                attempt(f"{name} {node.name}", partial(self._stop_proc, node.procs, name))
        attempt("controller-manager", lambda: self._stop_proc(self.procs, "kube-controller-manager"))
        attempt("l7clb", lambda: self._stop_proc(self.procs, "l7clb"))
        for node in self.nodes:
            attempt(f"containerd {node.name}", partial(self._stop_containerd, node))
            attempt(f"relay {node.name}", partial(self._stop_proc, node.procs, "relay"))
        for node in self.nodes:
            attempt(f"cgroups {node.name}", partial(self._remove_cgroups, node.cgroup_root))
        for ns in reversed(self._made_netns):
            attempt(f"netns {ns}", partial(run, ["ip", "netns", "del", ns], timeout=30))
        self._made_netns.clear()
        for key, value in self.sysctls.items():
            attempt(f"sysctl {key}", partial((Path("/proc/sys") / key).write_text, value))
        self.sysctls = {}
        if self.tmp != Path() and self.tmp.exists():
            attempt("files", lambda: shutil.rmtree(self.tmp))
        self.times["teardown"] = time.monotonic() - t
        errors.extend(self.leftovers())
        if errors:
            raise LabError("teardown left something behind:\n" + "\n".join(errors))

    def leftovers(self) -> list[str]:
        """What of the lab is still on the machine: its namespaces, processes, cgroups and files."""
        found = []
        names = run(["ip", "netns", "list"], check=False).split()
        found += [f"network namespace {n}" for n in names if n.startswith(f"tke-net-e2e-{self.id}-")]
        if self.tmp != Path():
            found += [f"process {pid}" for pid in _pids_with(str(self.tmp))]
            if self.tmp.exists():
                found.append(f"folder {self.tmp}")
        for node in self.nodes:
            if node.cgroup_root:
                found += [f"cgroup {d}" for d in CGROUP.glob(f"*/{node.cgroup_root.lstrip('/')}")]
        return found

    # network -----------------------------------------------------------------------------------------

    def _netns_add(self, name: str) -> str:
        run(["ip", "netns", "add", name])
        self._made_netns.append(name)
        return name

    def in_ns(self, ns: str, *cmd: str, check: bool = True, timeout: float = 60) -> str:
        """A short command in namespace ns (nsenter: no remount of /sys as `ip netns exec` does)."""
        return run(["nsenter", f"--net=/run/netns/{ns}", "--", *cmd], " ".join(cmd), timeout=timeout, check=check)

    def _network(self) -> None:
        prefix = f"tke-net-e2e-{self.id}"
        self.vpc = self._netns_add(f"{prefix}-vpc")
        vpc = self.vpc
        for node in self.nodes:
            node.netns = self._netns_add(f"{prefix}-{node.name.rsplit('.', 1)[1]}")
        v = partial(self.in_ns, vpc)
        v("ip", "link", "set", "lo", "up")
        v("ip", "addr", "add", f"{L7_VIP}/32", "dev", "lo")
        v("sysctl", "-qw", "net.ipv4.ip_forward=1")
        for node in self.nodes:
            n = partial(self.in_ns, node.netns)
            v(
                "ip",
                "link",
                "add",
                node.veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                f"/run/netns/{node.netns}",
            )
            v("ip", "addr", "add", f"{GATEWAY}/32", "dev", node.veth)
            v("ip", "link", "set", node.veth, "up")
            v("ip", "route", "add", f"{node.name}/32", "dev", node.veth)
            v("ip", "route", "add", node.pod_cidr, "via", node.name, "dev", node.veth)
            n("ip", "link", "set", "lo", "up")
            n("ip", "addr", "add", f"{node.name}/32", "dev", "eth0")
            n("ip", "link", "set", "eth0", "up")
            n("ip", "route", "add", f"{GATEWAY}/32", "dev", "eth0")
            n("ip", "route", "add", "default", "via", GATEWAY, "dev", "eth0")
            n("sysctl", "-qw", "net.ipv4.ip_forward=1")
            # Stands in for the node's security group: what reaches the node from the VPC, before kube-proxy.
            n("iptables", "-t", "raw", "-N", "TKE-E2E-SG")
            n("iptables", "-t", "raw", "-A", "PREROUTING", "-i", "eth0", "-j", "TKE-E2E-SG")
        # The L7 CLB connects from its clients' addresses (IP_TRANSPARENT): their replies belong to its sockets.
        v("iptables", "-t", "mangle", "-A", "PREROUTING", "-p", "tcp", "-m", "socket", "--transparent",
          "-j", "MARK", "--set-mark", "1")  # fmt: skip
        v("ip", "rule", "add", "fwmark", "1", "lookup", "100")
        v("ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100")
        for table, chain, hook in (("nat", "TKE-CLB-L4", "PREROUTING"), ("nat", "TKE-CLB-SNAT", "POSTROUTING")):
            v("iptables", "-t", table, "-N", chain)
            v("iptables", "-t", table, "-A", hook, "-j", chain)

    # processes ---------------------------------------------------------------------------------------

    def _spawn(self, procs: dict[str, subprocess.Popen[bytes]], name: str, cmd: list[str], log: Path) -> None:
        self.logs[f"{name}@{id(procs)}"] = log
        with open(log, "ab") as f:
            procs[name] = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _node_cmd(self, node: Node, cmd: list[str], setup: str = "") -> list[str]:
        """cmd in the node's network namespace and a mount namespace of its own (the notes' `unshare -m`), after
        the shell commands `setup` (mounts that only this mount namespace sees)."""
        inner = ["sh", "-c", f'{setup} && exec "$@"', "sh", *cmd] if setup else cmd
        return ["unshare", "-m", "--propagation", "slave", "nsenter", f"--net=/run/netns/{node.netns}", "--", *inner]

    @staticmethod
    def _stop_proc(procs: dict[str, subprocess.Popen[bytes]], name: str, timeout: float = 15) -> None:
        proc = procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)

    def _wait(self, what: str, ready: Callable[[], bool], timeout: float, log: Path | None = None,
              proc: subprocess.Popen[bytes] | None = None) -> None:  # fmt: skip
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            if proc is not None and proc.poll() is not None:
                tail = _tail(log) if log else ""
                raise LabError(f"{what}: exited with {proc.returncode}; log tail:\n{tail}")
            try:
                if ready():
                    return
            except (OSError, ValueError, LabError) as e:
                last = str(e)
            if time.monotonic() > deadline:
                tail = _tail(log) if log else ""
                raise LabError(
                    f"{what}: not ready after {timeout:.0f}s (last error: {last or 'none'}); log tail:\n{tail}"
                )
            time.sleep(0.2)

    def _write_kubeconfig(self) -> None:
        """One for the host's processes (the API server's own address), one for the nodes' (their relay)."""
        ca = base64.b64encode(self.cp.ca_file.read_bytes()).decode()
        for name, server in (("host", self.cp.url), ("node", f"https://127.0.0.1:{API_PORT}")):
            config = {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "lab", "cluster": {"server": server, "certificate-authority-data": ca}}],
                "users": [{"name": "admin", "user": {"token": self.cp.admin_token}}],
                "contexts": [{"name": "admin", "context": {"cluster": "lab", "user": "admin"}}],
                "current-context": "admin",
            }
            path = self.tmp / f"kubeconfig-{name}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(config, f)
        (self.tmp / "coredns").mkdir()
        shutil.copy(self.tmp / "kubeconfig-node", self.tmp / "coredns" / "kubeconfig")

    def _start_node_base(self, node: Node) -> None:
        """The relay to the API server and the node's containerd, with the images imported."""
        node.dir = self.tmp / node.name
        for sub in ("containerd", "runc", "cni", "cni-ipam", "kubelet", "pod-logs", "varlog"):
            (node.dir / sub).mkdir(parents=True)
        node.cgroup_root = f"/tke-net-e2e-{self.id}-{node.name.rsplit('.', 1)[1]}"
        port = self.cp.url.rsplit(":", 1)[1]
        relay_log = node.dir / "relay.log"
        self._spawn(
            node.procs,
            "relay",
            [
                sys.executable,
                _script("relay.py"),
                f"/run/netns/{node.netns}",
                "0.0.0.0",  # in the node's own namespace: its 127.0.0.1 (the node's processes) and its address (Pods)
                str(API_PORT),
                "127.0.0.1",
                port,
            ],
            relay_log,
        )
        self._wait(f"relay on {node.name}", lambda: "ready" in relay_log.read_text(), 10, relay_log,
                   node.procs["relay"])  # fmt: skip
        d = node.dir
        (d / "containerd.toml").write_text(
            f"""version = 2
root = "{d}/containerd/root"
state = "{d}/containerd/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{image.BUSYBOX}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{shutil.which("runc") or "/usr/sbin/runc"}"
        Root = "{d}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/cni"
"""
        )
        (d / "cni" / "10-ptp.conflist").write_text(
            json.dumps(
                {
                    "cniVersion": "0.4.0",
                    "name": "tke-net-e2e",
                    "plugins": [
                        {
                            "type": "ptp",
                            "ipMasq": False,
                            "mtu": 1500,
                            "ipam": {
                                "type": "host-local",
                                "ranges": [[{"subnet": node.pod_cidr}]],
                                "routes": [{"dst": "0.0.0.0/0"}],
                                "dataDir": str(d / "cni-ipam"),
                            },
                        }
                    ],
                }
            )
        )
        log = d / "containerd.log"
        # A /run of its own: the Pods' network namespaces and the shims' sockets live and die with it.
        setup = "mount -t tmpfs -o mode=0755 tke-net-lab /run"
        cmd = ["containerd", "--config", str(d / "containerd.toml")]
        self._spawn(node.procs, "containerd", self._node_cmd(node, cmd, setup), log)
        sock = d / "containerd.sock"
        self._wait(
            f"containerd on {node.name}", lambda: self._ctr(node, "version") != "", 30, log, node.procs["containerd"]
        )
        self._ctr(node, "images", "import", "--no-unpack=false", str(self.images), timeout=120)
        assert sock.exists()

    def _ctr(self, node: Node, *args: str, timeout: float = 30, check: bool = True) -> str:
        return run(["ctr", "--address", str(node.dir / "containerd.sock"), "-n", "k8s.io", *args], f"ctr {args[0]}",
                   timeout=timeout, check=check)  # fmt: skip

    def _start_controller_manager(self) -> None:
        """The controllers a Pod's life here needs: EndpointSlices that follow the Pods' real readiness, each
        namespace's default ServiceAccount and kube-root-ca.crt ConfigMap (what the ServiceAccount admission plugin
        and a projected token need), Jobs and CronJobs."""
        log = self.tmp / "kube-controller-manager.log"
        self._spawn(
            self.procs,
            "kube-controller-manager",
            [
                str(self.node_bin / "kube-controller-manager"),
                f"--kubeconfig={self.tmp / 'kubeconfig-host'}",
                "--controllers=endpointslice-controller,serviceaccount-controller,"
                "root-ca-certificate-publisher-controller,job-controller,cronjob-controller",
                f"--root-ca-file={self.cp.ca_file}",
                "--leader-elect=false",
                "--secure-port=0",
                "--use-service-account-credentials=false",
                "--v=1",
            ],
            log,
        )

    def _start_kubelet(self, node: Node) -> None:
        d = node.dir
        _make_cgroups(node.cgroup_root)
        (d / "resolv.conf").write_text("")
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": node.name,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": node.cgroup_root,
            "failCgroupV1": False,
            "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{d / 'containerd.sock'}",
            "clusterDNS": [DNS_IP],
            "clusterDomain": "cluster.local",
            "resolvConf": str(d / "resolv.conf"),
            "podLogsDir": str(d / "pod-logs"),
            "syncFrequency": "5s",
            "nodeStatusUpdateFrequency": "4s",
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "oomScoreAdj": 0,
            "protectKernelDefaults": False,
            "maxPods": 30,
            "registerNode": True,
            "serializeImagePulls": False,
            "shutdownGracePeriod": "0s",
        }
        (d / "kubelet.json").write_text(json.dumps(config))
        log = d / "kubelet.log"
        cmd = [
            str(self.node_bin / "kubelet"),
            f"--config={d / 'kubelet.json'}",
            f"--kubeconfig={self.tmp / 'kubeconfig-node'}",
            f"--root-dir={d / 'kubelet'}",
            f"--hostname-override={node.name}",
            f"--node-ip={node.name}",
            "--v=1",
        ]
        # In containerd's mount namespace, as on a real node: the tmpfs the kubelet mounts for a projected service
        # account token (or a Secret) is what runc bind-mounts into the container; from a mount namespace of its
        # own the container would get the empty folder under it. Its /var/log/containers symlinks go to the lab's
        # files.
        # Its device-plugin socket too: that path is fixed in the kubelet (not under --root-dir), so the lab's kubelets
        # would share one host folder and race for kubelet.sock there ("bind: address already in use").
        mnt = f"/proc/{node.procs['containerd'].pid}/ns/mnt"
        plugins = d / "device-plugins"
        plugins.mkdir(exist_ok=True)
        setup = (
            f"mount --bind {d / 'varlog'} /var/log && mkdir -p /var/lib/kubelet/device-plugins"
            f" && mount --bind {plugins} /var/lib/kubelet/device-plugins"
        )
        inner = ["sh", "-c", f'{setup} && exec "$@"', "sh", *cmd]
        entered = ["nsenter", f"--mount={mnt}", f"--net=/run/netns/{node.netns}", "--", *inner]
        self._spawn(node.procs, "kubelet", entered, log)

    def _wait_nodes_ready(self) -> None:
        def ready() -> bool:
            status, body = self.cp.request("GET", "/api/v1/nodes")
            if status != 200:
                return False
            names = {
                n["metadata"]["name"]
                for n in body["items"]
                if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
            }
            return names >= {n.name for n in self.nodes}

        for node in self.nodes:  # a kubelet that died says why
            if node.procs["kubelet"].poll() is not None:
                raise LabError(f"kubelet on {node.name} exited; log tail:\n{_tail(node.dir / 'kubelet.log')}")
        self._wait("nodes Ready", ready, 60, self.nodes[0].dir / "kubelet.log", self.nodes[0].procs["kubelet"])

    def start_kube_proxy(self, node: Node) -> None:
        d = node.dir
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.tmp / "kubeconfig-node")},
            "hostnameOverride": node.name,
            "mode": self.mode,
            "clusterCIDR": POD_CIDR,
            "detectLocalMode": "ClusterCIDR",
            "healthzBindAddress": "0.0.0.0:10256",
            "metricsBindAddress": "127.0.0.1:10249",
            "oomScoreAdj": 0,
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        }
        (d / "kube-proxy.json").write_text(json.dumps(config))
        log = d / "kube-proxy.log"
        cmd = [str(self.node_bin / "kube-proxy"), f"--config={d / 'kube-proxy.json'}", "--v=1"]
        self._spawn(node.procs, "kube-proxy", self._node_cmd(node, cmd), log)

        def healthy() -> bool:
            with (
                Entered(f"/run/netns/{node.netns}"),
                urllib.request.urlopen(f"http://{node.name}:10256/healthz", timeout=2) as resp,
            ):
                return bool(resp.status == 200)

        self._wait(f"kube-proxy on {node.name}", healthy, 30, log, node.procs["kube-proxy"])

    def stop_kube_proxy(self, node: Node, flush: bool = True) -> None:
        """Stop the node's kube-proxy and, with flush, remove its rules (`kube-proxy --cleanup`)."""
        self._stop_proc(node.procs, "kube-proxy")
        if flush:
            self.in_ns(node.netns, str(self.node_bin / "kube-proxy"), "--cleanup", "--v=0", check=False)

    def _start_l7(self) -> None:
        self.l7_config = self.tmp / "l7clb.json"
        self.l7_log = self.tmp / "l7clb.attempts"
        self.set_l7([n.name for n in self.nodes])
        log = self.tmp / "l7clb.log"
        cmd = ["nsenter", f"--net=/run/netns/{self.vpc}", "--", sys.executable, _script("l7clb.py"),
               str(self.l7_config), str(self.l7_log)]  # fmt: skip
        self._spawn(self.procs, "l7clb", cmd, log)
        self._wait("l7clb", lambda: "ready" in log.read_text(), 10, log, self.procs["l7clb"])

    # teardown helpers --------------------------------------------------------------------------------

    def _delete_pods(self) -> None:
        """Every Pod deleted through the API, so that each kubelet tears its sandboxes down (CNI DEL)."""
        if not any(n.procs.get("kubelet") for n in self.nodes):
            return
        status, body = self.cp.request("GET", "/api/v1/pods")
        if status != 200:
            return
        for pod in body["items"]:
            m = pod["metadata"]
            self.cp.request("DELETE", f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}?gracePeriodSeconds=0")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(not self._ctr(n, "tasks", "ls", "-q", check=False).strip() for n in self.nodes if n.dir != Path()):
                return
            time.sleep(0.3)

    def _stop_containerd(self, node: Node) -> None:
        proc = node.procs.get("containerd")
        if proc is None:
            return
        if proc.poll() is None:
            for task in self._ctr(node, "tasks", "ls", "-q", check=False).split():
                self._ctr(node, "tasks", "kill", "-s", "SIGKILL", task, check=False)
        self._stop_proc(node.procs, "containerd")
        # The shims outlive containerd: found by the lab's own socket path in their command line, stopped by PID.
        address = str(node.dir / "containerd.sock")
        for pid in _pids_with(address):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _pids_with(address) and time.monotonic() < deadline:
            time.sleep(0.1)

    @staticmethod
    def _remove_cgroups(root: str) -> None:
        if not root:
            return
        for hierarchy in CGROUP.iterdir():
            top = hierarchy / root.lstrip("/")
            if not top.is_dir():
                continue
            for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                _rmdir(d)
            _rmdir(top)

    # objects -----------------------------------------------------------------------------------------

    def _create_objects(self) -> None:
        cp = self.cp
        for ns in (NS, "kube-system"):
            status, _ = cp.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
            if status not in (201, 409):
                raise LabError(f"namespace {ns}: {status}")
        self._kubernetes_endpoints()
        for ns in (NS, "kube-system"):  # the ServiceAccount admission plugin refuses Pods until it exists
            self.wait_service_account(ns, "default")
        cp.create("/api/v1/namespaces/kube-system/configmaps", {
            "metadata": {"name": "coredns", "namespace": "kube-system"}, "data": {"Corefile": COREFILE}})  # fmt: skip
        cp.create("/api/v1/namespaces/kube-system/services", {
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
            "spec": {"clusterIP": DNS_IP, "selector": {"k8s-app": "kube-dns"}, "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]},
        })  # fmt: skip
        self.start_coredns()
        self.create_pod(backend_pod("web-1", self.nodes[0].name))
        cp.create(f"/api/v1/namespaces/{NS}/services", {
            "metadata": {"name": "api", "namespace": NS},
            "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [
                {"name": "http", "port": 80, "targetPort": BACKEND_PORT, "nodePort": API_NODE_PORT}]},
        })  # fmt: skip
        cp.create(f"/api/v1/namespaces/{NS}/services", {
            "metadata": {"name": "web", "namespace": NS, "annotations": {SVC_INTERNAL: "subnet-e2e"}},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster", "selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": BACKEND_PORT, "nodePort": WEB_NODE_PORT}]},
        })  # fmt: skip
        self.set_ip_mode("Proxy")
        cp.create(f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses", {
            "metadata": {"name": "shop", "namespace": NS, "annotations": {ING_INTERNAL: "subnet-e2e"}},
            "spec": {"rules": [{"host": INGRESS_HOST, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
        })  # fmt: skip
        self._put_status(f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses/shop",
                         {"loadBalancer": {"ingress": [{"ip": L7_VIP}]}})  # fmt: skip
        self.set_l4(self.nodes[0].name)
        self.wait_endpoints("web", 1)
        self.wait_endpoints("kube-dns", 1, namespace="kube-system")
        self.wait_rules()

    def _kubernetes_endpoints(self) -> None:
        """Service default/kubernetes (the API server makes it) served by each node's relay, as the API server's
        endpoint reconciler would write its own addresses: Pods reach the API server through kube-proxy's rules."""
        path = "/api/v1/namespaces/default/services/kubernetes"
        self._wait("Service default/kubernetes", lambda: self.cp.request("GET", path)[0] == 200, 30)
        labels = {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "tke-net-e2e"}
        self.cp.create("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {
            "metadata": {"name": "kubernetes-lab", "namespace": "default", "labels": labels},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [n.name], "conditions": {"ready": True}} for n in self.nodes],
            "ports": [{"name": "https", "port": API_PORT, "protocol": "TCP"}],
        })  # fmt: skip

    def wait_service_account(self, ns: str, name: str, timeout: float = 30) -> None:
        path = f"/api/v1/namespaces/{ns}/serviceaccounts/{name}"
        self._wait(f"ServiceAccount {ns}/{name}", lambda: self.cp.request("GET", path)[0] == 200, timeout,
                   self.tmp / "kube-controller-manager.log", self.procs.get("kube-controller-manager"))  # fmt: skip

    def bind(self, ns: str, name: str, node: str) -> None:
        """Pod ns/name bound to node as kube-scheduler binds it (POST pods/binding): the played scheduler."""
        self.cp.create(f"/api/v1/namespaces/{ns}/pods/{name}/binding", {
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": ns},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}})  # fmt: skip

    def import_image(self, archive: Path, timeout: float = 300) -> None:
        """An image archive (OCI or docker-archive) into every node's containerd, as `ctr -n k8s.io images import`."""
        for node in self.nodes:
            self._ctr(node, "images", "import", str(archive), timeout=timeout)

    def wait_rules(self) -> None:
        """Until every running kube-proxy has rules for every Service's ClusterIP."""
        status, body = self.cp.request("GET", "/api/v1/services")
        if status != 200:
            raise LabError(f"GET /api/v1/services -> {status}")
        ips = [s["spec"]["clusterIP"] for s in body["items"] if s["spec"].get("clusterIP") not in (None, "None")]
        for node in self.nodes:
            if node.procs.get("kube-proxy") is not None:
                self._wait(f"kube-proxy rules on {node.name} for every Service", partial(self._has_rules, node, ips),
                           30, node.dir / "kube-proxy.log")  # fmt: skip

    def _put_status(self, path: str, status: dict[str, Any]) -> None:
        code, current = self.cp.request("GET", path)
        if code != 200:
            raise LabError(f"GET {path} -> {code}")
        current["status"] = status
        code, body = self.cp.request("PUT", path + "/status", current)
        if code != 200:
            raise LabError(f"PUT {path}/status -> {code}: {body}")

    def set_ip_mode(self, mode: str) -> None:
        """Service web's status as TKE's cloud controller writes it: the L4 VIP, with ipMode Proxy or VIP.

        With VIP every kube-proxy takes the VIP into its rules (traffic to it never leaves the node); with Proxy
        it leaves it to the CLB. Returns once each node's rules say so."""
        self._put_status(f"/api/v1/namespaces/{NS}/services/web",
                         {"loadBalancer": {"ingress": [{"ip": L4_VIP, "ipMode": mode}]}})  # fmt: skip
        for node in self.nodes:
            if node.procs.get("kube-proxy") is not None:
                self._wait(f"kube-proxy rules on {node.name} for ipMode {mode}",
                           partial(self._has_vip, node, mode == "VIP"), 30)  # fmt: skip

    def _has_rules(self, node: Node, addresses: list[str]) -> bool:
        rules = self.rules(node)
        return all(ip in rules for ip in addresses)

    def _has_vip(self, node: Node, wanted: bool) -> bool:
        return (L4_VIP in self.rules(node)) == wanted

    def rules(self, node: Node) -> str:
        """The node's kube-proxy rules as its mode keeps them."""
        if self.mode == "nftables":
            return self.in_ns(node.netns, "nft", "list", "table", "ip", "kube-proxy", check=False)
        return self.in_ns(node.netns, "iptables-save")

    def create_pod(self, pod: dict[str, Any], wait: bool = True, timeout: float = 60) -> dict[str, Any]:
        ns = pod["metadata"].get("namespace", NS)
        self.cp.create(f"/api/v1/namespaces/{ns}/pods", pod)
        return self.wait_pod(ns, pod["metadata"]["name"], timeout) if wait else pod

    def wait_pod(self, ns: str, name: str, timeout: float = 60, phase: str = "Ready") -> dict[str, Any]:
        found: dict[str, Any] = {}

        def ready() -> bool:
            status, pod = self.cp.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
            if status != 200:
                return False
            found.update(pod)
            st = pod.get("status") or {}
            if phase == "Ready":
                return any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions", []))
            return bool(st.get("phase") in ("Succeeded", "Failed"))

        node = next((n for n in self.nodes if n.name == found.get("spec", {}).get("nodeName")), self.nodes[0])
        self._wait(f"Pod {ns}/{name} {phase}", ready, timeout, node.dir / "kubelet.log")
        return found

    def delete_pod(self, ns: str, name: str, timeout: float = 30) -> None:
        self.cp.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}?gracePeriodSeconds=0")
        self._wait(f"Pod {ns}/{name} gone", lambda: self.cp.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")[0]
                   == 404, timeout)  # fmt: skip

    def wait_endpoints(self, service: str, n: int, namespace: str = NS, timeout: float = 60) -> None:
        def ready() -> bool:
            status, body = self.cp.request(
                "GET", f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
                f"?labelSelector=kubernetes.io%2Fservice-name%3D{service}")  # fmt: skip
            if status != 200:
                return False
            eps = [
                e for s in body["items"] for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")
            ]
            return len(eps) == n

        self._wait(f"{n} ready endpoints of {namespace}/{service}", ready, timeout,
                   self.tmp / "kube-controller-manager.log", self.procs.get("kube-controller-manager"))  # fmt: skip

    def start_coredns(self) -> None:
        self.create_pod(coredns_pod(self.coredns_image, self.nodes[0].name, self.tmp / "coredns"))

    # the played cloud --------------------------------------------------------------------------------

    def set_l4(self, node: str, snat: bool = False) -> None:
        """The L4 CLB forwards VIP:80 to `node`'s NodePort, from the client's address (or its own with snat)."""
        v = partial(self.in_ns, self.vpc, "iptables", "-t", "nat")
        v("-F", "TKE-CLB-L4")
        v("-F", "TKE-CLB-SNAT")
        v("-A", "TKE-CLB-L4", "-d", L4_VIP, "-p", "tcp", "--dport", "80", "-j", "DNAT",
          "--to-destination", f"{node}:{WEB_NODE_PORT}")  # fmt: skip
        if snat:
            v("-A", "TKE-CLB-SNAT", "-m", "conntrack", "--ctorigdst", L4_VIP, "-j", "SNAT", "--to-source", CLB_SNAT)
        self.flush_conntrack()

    def set_l7(self, order: list[str], snat: bool = False, timeout: float = 4) -> None:
        """The L7 CLB tries the nodes in `order`, `timeout` seconds each."""
        config = {
            "listen": [L7_VIP, 80],
            "backends": [[n, WEB_NODE_PORT] for n in order],
            "snat": snat,
            "snat_address": CLB_SNAT,
            "timeout": timeout,
        }
        tmp = self.l7_config.with_suffix(".new")
        tmp.write_text(json.dumps(config))
        tmp.replace(self.l7_config)

    def health_checked_nodes(self, service: str) -> list[str]:
        """The nodes a CLB health check keeps for an externalTrafficPolicy Local Service: those whose kube-proxy
        answers 200 on the Service's healthCheckNodePort (it answers 503 without a local endpoint), asked from the
        VPC namespace as the CLB asks."""
        status, svc = self.cp.request("GET", f"/api/v1/namespaces/{NS}/services/{service}")
        if status != 200 or not svc["spec"].get("healthCheckNodePort"):
            raise LabError(f"Service {NS}/{service} has no healthCheckNodePort")
        port = svc["spec"]["healthCheckNodePort"]
        healthy = []
        for node in self.nodes:
            try:
                with (
                    Entered(f"/run/netns/{self.vpc}"),
                    urllib.request.urlopen(f"http://{node.name}:{port}/", timeout=2) as resp,
                ):
                    if resp.status == 200:
                        healthy.append(node.name)
            except OSError:  # 503 (HTTPError) or no answer: the CLB leaves the node out
                pass
        return healthy

    def flush_conntrack(self) -> None:
        """Stale entries skew the next scenario: flushed in every namespace of the lab."""
        for ns in (self.vpc, *(n.netns for n in self.nodes)):
            self.in_ns(ns, "conntrack", "-F", check=False)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    # faults, and the way back --------------------------------------------------------------------------

    def break_dns(self) -> None:
        """CoreDNS scaled to zero: its Pod deleted (no Deployment controller runs here)."""
        self.delete_pod("kube-system", "coredns-0")
        self.wait_endpoints("kube-dns", 0, namespace="kube-system")

    def cut_route(self, node: Node) -> None:
        """The VPC route to the node's Pod range dropped (a blackhole, as a missing GlobalRouter route is)."""
        self.in_ns(self.vpc, "ip", "route", "replace", "blackhole", node.pod_cidr)
        self.flush_conntrack()

    def drop_node_port(self, node: Node, port: int) -> None:
        """The node drops TCP to `port` arriving from the VPC: a security group without 30000-32768."""
        self.in_ns(node.netns, "iptables", "-t", "raw", "-A", "TKE-E2E-SG", "-p", "tcp", "--dport", str(port),
                   "-j", "DROP")  # fmt: skip
        self.flush_conntrack()

    def packets_to_l4_vip(self) -> int:
        """How many connections the L4 CLB forwarded since its rules were last set (the DNAT rule's counter)."""
        out = self.in_ns(self.vpc, "iptables", "-t", "nat", "-L", "TKE-CLB-L4", "-n", "-v", "-x")
        rows = [line.split() for line in out.splitlines() if "DNAT" in line]
        return sum(int(r[0]) for r in rows)

    def reset(self) -> None:
        """Back to the healthy lab: every kube-proxy up, routes and NodePorts open, CoreDNS serving, the CLBs
        without SNAT (L4 to the first node, L7 trying the nodes in order), ipMode Proxy, conntrack flushed."""
        for node in self.nodes:
            if node.procs.get("kube-proxy") is None or node.procs["kube-proxy"].poll() is not None:
                node.procs.pop("kube-proxy", None)
                self.start_kube_proxy(node)
            self.in_ns(node.netns, "iptables", "-t", "raw", "-F", "TKE-E2E-SG")
            self.in_ns(self.vpc, "ip", "route", "replace", node.pod_cidr, "via", node.name, "dev", node.veth)
        if self.cp.request("GET", "/api/v1/namespaces/kube-system/pods/coredns-0")[0] == 404:
            self.start_coredns()
        self.wait_endpoints("kube-dns", 1, namespace="kube-system")
        self.set_ip_mode("Proxy")
        self.set_l7([n.name for n in self.nodes])
        self.set_l4(self.nodes[0].name)
        self.wait_rules()

    # for people ---------------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return self.cp.env()

    def describe(self) -> str:
        return (
            f"nodes {', '.join(n.name for n in self.nodes)} (kube-proxy {self.mode}); "
            f"Service {NS}/web LoadBalancer, L4 CLB {L4_VIP}:80 -> NodePort {WEB_NODE_PORT} of one node, no SNAT; "
            f"Ingress {NS}/shop, L7 CLB {L7_VIP}:80 (4 s per node, then the next); backend Pod web-1 on "
            f"{self.nodes[0].name}"
        )


COREFILE = """.:53 {
    errors
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig /etc/coredns-kube/kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
    reload 2s 1s
    loadbalance
}
"""


def backend_pod(name: str, node: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "web"}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "httpd",
                    "image": image.BUSYBOX,
                    "imagePullPolicy": "Never",
                    "command": ["httpd", "-f", "-p", str(BACKEND_PORT), "-h", "/www"],
                    "ports": [{"name": "http", "containerPort": BACKEND_PORT}],
                    "readinessProbe": {"tcpSocket": {"port": BACKEND_PORT}, "periodSeconds": 1},
                }
            ],
        },
    }


def watcher_pod(name: str, node: str) -> dict[str, Any]:
    """A client that connects to the L4 CLB every 2 s and logs what happens."""
    loop = (
        f"while true; do if nc -w 3 {L4_VIP} 80 -e true </dev/null; then r=answers; else r=fails; fi; "
        f'echo "$(date +%T) from {node}: CLB {L4_VIP}:80 $r"; sleep 2; done'
    )
    return {
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "client"}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {"name": "client", "image": image.BUSYBOX, "imagePullPolicy": "Never", "command": ["sh", "-c", loop]}
            ],
        },
    }


def coredns_pod(coredns_image: str, node: str, kubeconfig_dir: Path) -> dict[str, Any]:
    """CoreDNS on the node's network (hostNetwork): it reaches the API server through the node's relay."""
    return {
        "metadata": {"name": "coredns-0", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
        "spec": {
            "nodeName": node,
            "hostNetwork": True,
            "dnsPolicy": "Default",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "coredns",
                    "image": coredns_image,
                    "imagePullPolicy": "Never",
                    "args": ["-conf", "/etc/coredns/Corefile"],
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/coredns", "readOnly": True},
                        {"name": "kubeconfig", "mountPath": "/etc/coredns-kube", "readOnly": True},
                    ],
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 1},
                }
            ],
            "volumes": [
                {"name": "config", "configMap": {"name": "coredns"}},
                {"name": "kubeconfig", "hostPath": {"path": str(kubeconfig_dir), "type": "Directory"}},
            ],
        },
    }


def _pids_with(text: str) -> list[int]:
    """PIDs whose command line contains text (the lab's own unique paths)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _make_cgroups(root: str) -> None:
    """The kubelet's cgroupRoot in every cgroup v1 hierarchy (it must exist); cpuset needs its cpus and mems."""
    for hierarchy in CGROUP.iterdir():
        if hierarchy.name == "unified" or not (hierarchy / "cgroup.procs").exists():
            continue
        top = hierarchy / root.lstrip("/")
        top.mkdir(exist_ok=True)
        if hierarchy.name == "cpuset":
            for f in ("cpuset.cpus", "cpuset.mems"):
                (top / f).write_text((hierarchy / f).read_text())


def _rmdir(d: Path) -> None:
    for _ in range(50):
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)  # a process that was just killed may still be leaving the cgroup
    d.rmdir()


@contextlib.contextmanager
def lab_cluster(mode: str = "iptables", log: Callable[[str], None] | None = None) -> Iterator[Lab]:
    """A control plane of its own (Service range 198.18.128.0/20) and the lab on it; everything stopped after."""
    cp = ControlPlane(service_cidr=SERVICE_CIDR, service_accounts=True)

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (a CI timeout) goes through the same teardown as Ctrl-C

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, interrupt) if main else None
    try:
        cp.start()
        with Lab(cp, mode, log) as lab:
            yield lab
    finally:
        cp.stop()
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description="A two-node TKE data path lab with a CLB that loops back")
    parser.add_argument("--mode", choices=["iptables", "nftables"], default="iptables")
    args = parser.parse_args()
    why = missing_prerequisites()
    if why:
        print(f"make lab: {why}", file=sys.stderr)
        return 1
    missing = missing_packages()
    if missing:
        print(f"make lab: missing Debian packages: {' '.join(missing)} (make datapath-deps)", file=sys.stderr)
        return 1
    stop = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    started = time.monotonic()
    print("make lab: building or reusing the binaries, then starting the lab ...", flush=True)
    try:
        with lab_cluster(args.mode) as lab:
            signal.signal(signal.SIGTERM, on_signal)  # from here on: leave the wait loop, then tear down
            signal.signal(signal.SIGINT, on_signal)
            client = lab.nodes[0]
            lab.create_pod(watcher_pod("client", client.name))
            logs = sorted((client.dir / "pod-logs").glob(f"{NS}_client_*/client/*.log"))
            venv = Path(sys.executable).parent
            print(
                f"make lab: up in {time.monotonic() - started:.0f}s: {lab.describe()}.\n"
                f"  Client Pod {NS}/client on {client.name}; the L4 CLB forwards to {client.name}'s NodePort: a "
                f"loopback.\n  What the client sees, every 2 s: tail -f {logs[0] if logs else '(its log)'}\n\n"
                f"  export KUBECONFIG={lab.cp.kubeconfig} PATH={venv}:$PATH\n"
                f"  kubectl get nodes,pods,svc,ingress -A -o wide\n"
                f"  kubectl tke-net loopback -n {NS}\n"
                f"  kubectl tke-net svc web -n {NS} --probe --probe-image {image.BUSYBOX}\n"
                f"  kubectl tke-net ingress shop -n {NS} --probe --probe-image {image.BUSYBOX}\n\n"
                "  (kubectl logs and exec do not work here: the API server cannot reach the kubelets.)\n"
                f"make lab: Ctrl-C (or kill {os.getpid()}) stops it and removes everything.",
                flush=True,
            )
            while not stop:
                time.sleep(0.5)
            print("make lab: stopping ...", flush=True)
    except (LabError, ControlPlaneError) as e:
        print(f"make lab: {e}", file=sys.stderr)
        return 1
    print("make lab: stopped; nothing left behind", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
