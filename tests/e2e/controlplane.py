"""A real etcd and kube-apiserver on 127.0.0.1 for the end-to-end tests, built by controlplane/build.sh."""

from __future__ import annotations

import atexit
import base64
import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "controlplane" / "build.sh"
BIN_ENV = "TKE_NET_E2E_BIN"

VIEWER_NAMESPACE = "team-a"

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Request
  resources:
  - group: ""
    resources: ["secrets"]
- level: Metadata
"""

_LISTENER_ITEMS = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
    "properties": {"keepaliveEnable": {"type": "integer"}},
}

TKE_SERVICE_CONFIG_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "tkeserviceconfigs.cloud.tencent.com"},
    "spec": {
        "group": "cloud.tencent.com",
        "scope": "Namespaced",
        "names": {
            "kind": "TkeServiceConfig",
            "listKind": "TkeServiceConfigList",
            "plural": "tkeserviceconfigs",
            "singular": "tkeserviceconfig",
        },
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                                "properties": {
                                    "loadBalancer": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                        "properties": {
                                            "l4Listeners": {"type": "array", "items": _LISTENER_ITEMS},
                                            "l7Listeners": {"type": "array", "items": _LISTENER_ITEMS},
                                        },
                                    }
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


class ControlPlaneError(RuntimeError):
    """The control plane could not be built, started or set up."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    return "\n".join(text.splitlines()[-lines:])


def _run(cmd: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, **kwargs)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ControlPlaneError(f"{what} failed: {e}") from e
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip().splitlines()[-40:]
        raise ControlPlaneError(f"{what} failed (exit {proc.returncode}):\n" + "\n".join(out))
    return proc


def find_binaries(build_timeout: float = 3600) -> Path:
    """Directory holding kube-apiserver and etcd: $TKE_NET_E2E_BIN, else the output of build.sh."""
    env_dir = os.environ.get(BIN_ENV)
    if env_dir:
        bin_dir = Path(env_dir)
    else:
        proc = _run(["bash", str(BUILD_SCRIPT)], f"{BUILD_SCRIPT}", timeout=build_timeout)
        lines = proc.stdout.strip().splitlines()
        if not lines:
            raise ControlPlaneError(f"{BUILD_SCRIPT} printed no directory")
        bin_dir = Path(lines[-1])
    for name in ("kube-apiserver", "etcd"):
        if not os.access(bin_dir / name, os.X_OK):
            source = f"${BIN_ENV}" if env_dir else str(BUILD_SCRIPT)
            raise ControlPlaneError(f"{bin_dir / name} (from {source}) is missing or not executable")
    return bin_dir


class ControlPlane:
    """etcd and kube-apiserver; token users `admin` (system:masters) and `viewer` (read-only in team-a)."""

    def __init__(
        self,
        bin_dir: Path | str | None = None,
        startup_timeout: float = 60.0,
        client_certs: bool = False,
        service_cidr: str = "10.0.0.0/16",
        service_accounts: bool = False,
    ):
        """client_certs: also accept client certificates signed by the CA (--client-ca-file), and make one for
        user `cert-admin` in group system:masters (`client_cert`, `client_key`). service_cidr: the Services'
        ClusterIP range (--service-cluster-ip-range). service_accounts: the ServiceAccount admission plugin on,
        as in a real cluster (it mounts the projected token a kubelet requests; a Pod's service account must
        exist, which kube-controller-manager's serviceaccount controller sees to): for a control plane with a
        kube-controller-manager and kubelets (tests/e2e/datapath)."""
        self.bin_dir = Path(bin_dir) if bin_dir else None
        self.service_cidr = service_cidr
        self.service_accounts = service_accounts
        self.client_certs = client_certs
        self.client_cert = Path()
        self.client_key = Path()
        self.startup_timeout = startup_timeout
        self.tmp: Path | None = None
        self.url = ""
        self.kubeconfig = Path()
        self.audit_log = Path()
        self.ca_file = Path()
        # The API server's serving certificate (signed by ca_file, for 127.0.0.1 and localhost) and its key: the
        # fault proxy serves TLS with them too.
        self.serving_cert = Path()
        self.serving_key = Path()
        self.admin_token = secrets.token_urlsafe(32)
        self.viewer_token = secrets.token_urlsafe(32)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, Path] = {}
        self._ssl: ssl.SSLContext | None = None

    def __repr__(self) -> str:  # never shows the tokens
        return f"ControlPlane(url={self.url!r}, kubeconfig={str(self.kubeconfig)!r})"

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # lifecycle

    def start(self) -> ControlPlane:
        atexit.register(self.stop)
        try:
            if self.bin_dir is None:
                self.bin_dir = find_binaries()
            self.tmp = Path(tempfile.mkdtemp(prefix="tke-net-e2e-"))
            certs = self.tmp / "certs"
            certs.mkdir()
            self._make_certs(certs)
            etcd_url = self._start_etcd()
            self._start_apiserver(etcd_url, certs)
            self._write_kubeconfig()
            self._bootstrap()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        # The apiserver goes first so that it does not log etcd errors while shutting down.
        for proc in reversed(self._procs.values()):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=15)
        self._procs.clear()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        atexit.unregister(self.stop)

    @property
    def kubernetes_service_ip(self) -> str:
        """The ClusterIP of Service default/kubernetes: the first address of the Service range."""
        return str(ipaddress.ip_network(self.service_cidr)[1])

    def env(self) -> dict[str, str]:
        """Environment for a kubectl child process: this kubeconfig, a private discovery cache, and a HOME of its
        own (no tccli profile or Tencent Cloud keys of the machine turn the cloud checks on)."""
        assert self.tmp is not None, "control plane not started"
        home = self.tmp / "home"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENTCLOUD_", "TCCLI_"))}
        return dict(env, KUBECONFIG=str(self.kubeconfig), KUBECACHEDIR=str(self.tmp / "kubecache"), HOME=str(home))

    # REST helpers (used for setup; usable by tests)

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None, timeout: float = 10
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token or self.admin_token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def create(self, path: str, obj: dict[str, Any]) -> Any:
        status, body = self.request("POST", path, obj)
        if status not in (200, 201):
            raise ControlPlaneError(f"POST {path} -> {status}: {body}")
        return body

    # audit log

    def audit_events(self) -> list[dict[str, Any]]:
        try:
            lines = self.audit_log.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def audit_requests(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        user: str | None = None,
    ) -> list[dict[str, Any]]:
        """Completed requests in the audit log matching every given field."""
        out = []
        for ev in self.audit_events():
            ref = ev.get("objectRef") or {}
            if ev.get("stage") != "ResponseComplete":
                continue
            if verb is not None and ev.get("verb") != verb:
                continue
            if resource is not None and ref.get("resource") != resource:
                continue
            if namespace is not None and ref.get("namespace") != namespace:
                continue
            if user is not None and (ev.get("user") or {}).get("username") != user:
                continue
            out.append(ev)
        return out

    def wait_for_audit(
        self,
        predicate: Callable[[list[dict[str, Any]]], bool],
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        user: str | None = None,
        timeout: float = 10,
    ) -> list[dict[str, Any]]:
        """Poll audit_requests(...) until predicate holds: events are written after the response."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.audit_requests(verb=verb, resource=resource, namespace=namespace, user=user)
            if predicate(events) or time.monotonic() > deadline:
                return events
            time.sleep(0.1)

    # internals

    def _make_certs(self, d: Path) -> None:
        def openssl(what: str, args: str) -> None:
            _run(["openssl", *args.split()], f"openssl ({what})", cwd=d)

        ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        openssl(
            "CA",
            f"req -x509 {ec} -keyout ca.key -out ca.crt -days 2 -subj /CN=tke-net-e2e-ca"
            " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
        )
        openssl("serving key", f"req -new {ec} -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver")
        (d / "apiserver.ext").write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            # Also the names and the address in-cluster clients use: the `kubernetes` Service's ClusterIP (the first
            # of the range), as a real API server's certificate has them.
            f"subjectAltName=IP:127.0.0.1,DNS:localhost,IP:{self.kubernetes_service_ip},DNS:kubernetes,"
            "DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid,issuer\n"
        )
        openssl(
            "serving certificate",
            "x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2"
            " -extfile apiserver.ext -out apiserver.crt",
        )
        if self.client_certs:
            openssl(
                "client key", f"req -new {ec} -keyout client.key -out client.csr -subj /O=system:masters/CN=cert-admin"
            )
            (d / "client.ext").write_text(
                "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
            )
            openssl(
                "client certificate",
                "x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
                " -days 2 -extfile client.ext -out client.crt",
            )
            self.client_cert, self.client_key = d / "client.crt", d / "client.key"
        openssl("service-account key", "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key")
        openssl("service-account public key", "pkey -in sa.key -pubout -out sa.pub")
        self.ca_file = d / "ca.crt"
        self.serving_cert, self.serving_key = d / "apiserver.crt", d / "apiserver.key"
        self._ssl = ssl.create_default_context(cafile=str(self.ca_file))

    def _spawn(self, name: str, cmd: list[str | Path]) -> subprocess.Popen[bytes]:
        assert self.tmp is not None
        log = self.tmp / f"{name}.log"
        self._logs[name] = log
        with open(log, "wb") as f:
            proc = subprocess.Popen(
                [str(c) for c in cmd],
                stdin=subprocess.DEVNULL,
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs[name] = proc
        return proc

    def _wait(self, name: str, ready: Callable[[], bool], timeout: float, what: str = "ready") -> None:
        proc = self._procs[name]
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            if proc.poll() is not None:
                raise ControlPlaneError(
                    f"{name} exited with code {proc.returncode} during startup; log tail:\n{_tail(self._logs[name])}"
                )
            try:
                if ready():
                    return
            except (OSError, ValueError) as e:
                last_error = str(e)
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"{name} not {what} after {timeout:.0f}s (last error: {last_error or 'none'}); "
                    f"log tail:\n{_tail(self._logs[name])}"
                )
            time.sleep(0.2)

    def _start_etcd(self) -> str:
        assert self.tmp is not None and self.bin_dir is not None
        client, peer = free_port(), free_port()
        client_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        self._spawn(
            "etcd",
            [
                self.bin_dir / "etcd",
                "--name=e2e",
                f"--data-dir={self.tmp / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=e2e={peer_url}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )

        def healthy() -> bool:
            with urllib.request.urlopen(client_url + "/health", timeout=2) as resp:
                return bool(json.loads(resp.read()).get("health") == "true")

        self._wait("etcd", healthy, self.startup_timeout)
        return client_url

    def _start_apiserver(self, etcd_url: str, certs: Path) -> None:
        assert self.tmp is not None and self.bin_dir is not None
        port = free_port()
        self.url = f"https://127.0.0.1:{port}"
        tokens = self.tmp / "tokens.csv"
        tokens.write_text(
            f'{self.admin_token},admin,admin-uid,"system:masters"\n{self.viewer_token},viewer,viewer-uid\n'
        )
        tokens.chmod(0o600)
        policy = self.tmp / "audit-policy.yaml"
        policy.write_text(AUDIT_POLICY)
        self.audit_log = self.tmp / "audit.log"
        self._spawn(
            "kube-apiserver",
            [
                self.bin_dir / "kube-apiserver",
                f"--etcd-servers={etcd_url}",
                f"--cert-dir={certs}",
                f"--tls-cert-file={certs / 'apiserver.crt'}",
                f"--tls-private-key-file={certs / 'apiserver.key'}",
                f"--secure-port={port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--service-cluster-ip-range={self.service_cidr}",
                # Wider than the default 30000-32767, as a TKE cluster may be: lets TKE108 be tested live.
                "--service-node-port-range=30000-32999",
                "--allow-privileged=true",
                # The lease reconciler would retry forever: Endpoints may not hold a loopback address.
                "--endpoint-reconciler-type=none",
                "--authorization-mode=RBAC",
                *([] if self.service_accounts else ["--disable-admission-plugins=ServiceAccount"]),
                f"--service-account-issuer={self.url}/",
                f"--service-account-key-file={certs / 'sa.pub'}",
                f"--service-account-signing-key-file={certs / 'sa.key'}",
                f"--token-auth-file={tokens}",
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                *([f"--client-ca-file={certs / 'ca.crt'}"] if self.client_certs else []),
            ],
        )

        def ready() -> bool:
            status, _ = self.request("GET", "/readyz", timeout=2)
            return status == 200

        self._wait("kube-apiserver", ready, self.startup_timeout)

    def _write_kubeconfig(self) -> None:
        assert self.tmp is not None
        ca = base64.b64encode(self.ca_file.read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "e2e", "cluster": {"server": self.url, "certificate-authority-data": ca}}],
            "users": [
                {"name": "admin", "user": {"token": self.admin_token}},
                {"name": "viewer", "user": {"token": self.viewer_token}},
            ],
            "contexts": [
                {"name": "admin", "context": {"cluster": "e2e", "user": "admin"}},
                {
                    "name": "viewer",
                    "context": {"cluster": "e2e", "user": "viewer", "namespace": VIEWER_NAMESPACE},
                },
            ],
            "current-context": "admin",
            "preferences": {},
        }
        self.kubeconfig = self.tmp / "kubeconfig"
        fd = os.open(self.kubeconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(config, f, indent=2)  # JSON is valid kubeconfig YAML

    def _bootstrap(self) -> None:
        self.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": VIEWER_NAMESPACE}},
        )
        self.create(
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "e2e-read-only"},
                "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}],
            },
        )
        self.create(
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{VIEWER_NAMESPACE}/rolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "viewer-read-only", "namespace": VIEWER_NAMESPACE},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "e2e-read-only",
                },
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}],
            },
        )
        crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        self.create(crd_path, TKE_SERVICE_CONFIG_CRD)
        name = TKE_SERVICE_CONFIG_CRD["metadata"]["name"]

        def established() -> bool:
            status, crd = self.request("GET", f"{crd_path}/{name}")
            conds = ((crd.get("status") or {}).get("conditions") or []) if status == 200 else []
            if not any(c["type"] == "Established" and c["status"] == "True" for c in conds):
                return False
            status, disc = self.request("GET", "/apis/cloud.tencent.com/v1alpha1")
            resources = disc.get("resources", []) if status == 200 and isinstance(disc, dict) else []
            return any(r.get("name") == "tkeserviceconfigs" for r in resources)

        self._wait("kube-apiserver", established, self.startup_timeout, what=f"serving CRD {name}")


def describe_events(events: Iterable[dict[str, Any]]) -> list[str]:
    """Short `verb resource namespace user code` lines for assertion messages."""
    return [
        f"{e.get('verb')} {(e.get('objectRef') or {}).get('resource')} "
        f"{(e.get('objectRef') or {}).get('namespace')} {(e.get('user') or {}).get('username')} "
        f"{(e.get('responseStatus') or {}).get('code')}"
        for e in events
    ]
