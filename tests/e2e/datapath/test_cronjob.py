"""deploy/cronjob/ run for real: the plugin's image on the lab's kubelet, in-cluster, writing its PolicyReports.

What is real: the release executable (`make binary`, dist/kubectl-tke_net) in an image made from
deploy/cronjob/Containerfile and imported into each node's containerd with `ctr -n k8s.io images import`; the
manifests applied with the real kubectl exactly as a user applies them (deploy/rbac/read-only.yaml,
deploy/rbac/write-reports.yaml, deploy/cronjob/), only the CronJob's image (the local tag), imagePullPolicy (Never:
no registry) and its textfile volume overridden, the last with the hostPath its comment gives for node-exporter (a
folder of the lab, owned by uid 65532): the default emptyDir goes with the Pod, and after the Job completed the
metrics file was no longer there to read back; the Job made from the CronJob by `kubectl create job
--from=cronjob/tke-net`; kube-controller-manager's Job controller creating its Pod, the ServiceAccount admission
plugin adding the projected service account volume, kube-controller-manager's root CA publisher the kube-root-ca.crt
it needs, the real kubelet requesting the token (TokenRequest) and running the container under runc with the
manifest's security context (uid 65532, read-only root filesystem, no capabilities); the plugin's in-cluster
configuration (KUBERNETES_SERVICE_HOST/PORT, the token and CA files), its connections through the `kubernetes`
Service's ClusterIP and the real kube-proxy's iptables rules, RBAC deciding every request as
system:serviceaccount:tke-net:tke-net, and the published PolicyReport CRDs (reportcrds.py) storing what it applied.

What is played: the scheduler (the Job's Pod is bound with POST pods/NAME/binding, as kube-scheduler binds it), the
API server's endpoint reconciler (the `kubernetes` Service's EndpointSlice names each node's relay to the API
server, lab.py), and the cron schedule (the Job is made on demand; the CronJob controller runs but its hourly
schedule is not waited for).

How the image differs from `podman build -f deploy/cronjob/Containerfile .` (image.py): the base is not the pulled
docker.io/library/debian:bookworm-slim (no registry here) but Debian bookworm's minbase made by mmdebstrap from
Debian's mirror with debuerreotype's slimming excludes and merged /usr (88 packages, 78 MB: bookworm-slim is made
from minbase by debuerreotype too, but it cannot be pulled here to compare file by file), at the versions the
mirror serves today rather than those of the tag's last rebuild, as one layer without the tag's metadata; the
COPY steps, USER and ENTRYPOINT are read from the Containerfile and written as one layer and the image config by
image.py (no buildah: no build cache, no per-instruction layers, no history beyond two entries, epoch timestamps).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import reportcrds
import yaml
from controlplane import ControlPlaneError
from datapath import image
from datapath.lab import Lab, LabError
from prometheus_client.parser import text_string_to_metric_families
from test_plugin import ROOT, plugin

TAG = "tke-net-e2e.local/kubectl-tke-net:0.1.0"
NAMESPACE, ACCOUNT, JOB = "tke-net", "tke-net", "tke-net-now"
USER = f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
REPORTS = "/apis/wgpolicyk8s.io/v1alpha2"
METRICS = "tke-net.prom"  # in the CronJob's /textfile volume
# A second namespace with a finding of its own (TKE101: a selector that matches no Pod), beside the lab's shop.
BROKEN_NS = "orders"
TIMEOUT = 180
BUILD_TIMES: dict[str, float] = {}  # the image fixture's, shown with the lab's (conftest's summary line)


def _run(cmd: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 120) -> str:
    done = subprocess.run(cmd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(cmd[:4])} ... failed (exit {done.returncode}): {done.stderr.strip()}"
    return done.stdout


@pytest.fixture(scope="module")
def plugin_image() -> Path:
    """The OCI archive of deploy/cronjob/Containerfile over `make binary`'s executable (both rebuilt only when
    their inputs changed)."""
    started = time.monotonic()
    done = subprocess.run(
        ["make", "-C", str(ROOT), "--no-print-directory", "binary"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        pytest.fail(f"make binary failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}", False)
    binary = time.monotonic() - started
    try:
        archive = image.plugin_image(ROOT / "deploy" / "cronjob" / "Containerfile", ROOT, TAG)
    except image.ImageError as e:
        pytest.fail(f"the plugin's image could not be made: {e}", False)
    BUILD_TIMES.update({"make binary": binary, "image": time.monotonic() - started - binary})
    return archive


def _manifests(textfile: Path) -> str:
    """deploy/cronjob/ as a user applies it, but the CronJob's image (the local tag, never pulled) and its textfile
    volume: the hostPath folder its comment gives for node-exporter's textfile collector (here a folder of the lab),
    since the default emptyDir goes with the Pod (the kubelet removes a finished Pod's volumes)."""
    docs = []
    for path in sorted((ROOT / "deploy" / "cronjob").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc["kind"] == "CronJob":
                pod = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
                (container,) = pod["containers"]
                container["image"], container["imagePullPolicy"] = TAG, "Never"
                (volume,) = [v for v in pod["volumes"] if v["name"] == "textfile"]
                assert volume == {"name": "textfile", "emptyDir": {"sizeLimit": "1Mi"}}, volume
                pod["volumes"] = [
                    v
                    if v is not volume
                    else {"name": "textfile", "hostPath": {"path": str(textfile), "type": "Directory"}}
                    for v in pod["volumes"]
                ]
            if doc:
                docs.append(doc)
    return yaml.safe_dump_all(docs)


def _get(lab: Lab, path: str) -> Any:
    status, body = lab.cp.request("GET", path)
    assert status == 200, f"GET {path} -> {status}: {body}"
    return body


def _cluster_ip_connections(lab: Lab, node_netns: str) -> int:
    """New connections to the `kubernetes` Service's ClusterIP that the node's kube-proxy rules saw (iptables)."""
    out = lab.in_ns(node_netns, "iptables", "-t", "nat", "-L", "KUBE-SERVICES", "-n", "-v", "-x")
    rows = [line.split() for line in out.splitlines() if "default/kubernetes:https cluster IP" in line]
    assert rows, f"no kube-proxy rule for default/kubernetes:\n{out}"
    return sum(int(r[0]) for r in rows)


def _empty_dir(lab: Lab, pod: dict[str, Any], volume: str) -> Path:
    """Where the Pod's node keeps an emptyDir volume of the Pod."""
    node = next(n for n in lab.nodes if n.name == pod["spec"]["nodeName"])
    uid: str = pod["metadata"]["uid"]
    return node.dir / "kubelet" / "pods" / uid / "volumes" / "kubernetes.io~empty-dir" / volume


def _run_job(lab: Lab, node: str, deadline: float, seen: set[Path]) -> dict[str, Any]:
    """The played scheduler binds the Job's Pods to `node` until the Job is Complete; its Pod, as it ended. `seen`
    gets the emptyDir folders (volume tmp) of the Pods found on their node while they ran."""
    selector = f"?labelSelector=batch.kubernetes.io%2Fjob-name%3D{JOB}"
    while True:
        for pod in _get(lab, f"/api/v1/namespaces/{NAMESPACE}/pods{selector}")["items"]:
            if not pod["spec"].get("nodeName"):
                lab.bind(NAMESPACE, pod["metadata"]["name"], node)
            elif pod["status"].get("phase") == "Running" and _empty_dir(lab, pod, "tmp").is_dir():
                seen.add(_empty_dir(lab, pod, "tmp"))
        job = _get(lab, f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{JOB}")
        conditions = {c["type"]: c for c in (job.get("status") or {}).get("conditions") or [] if c["status"] == "True"}
        pods = _get(lab, f"/api/v1/namespaces/{NAMESPACE}/pods{selector}")["items"]
        if "Complete" in conditions:
            (done,) = [p for p in pods if p["status"].get("phase") == "Succeeded"]
            return dict(done)
        if "Failed" in conditions or time.monotonic() > deadline:
            logs = "\n".join(_pod_log(lab, p) for p in pods)
            states = [p["status"].get("containerStatuses") or p["status"].get("conditions") for p in pods]
            pytest.fail(f"Job {JOB}: {conditions or 'not complete in time'}; Pods: {states}\nlogs:\n{logs}", False)
        time.sleep(0.2)


def _pod_log(lab: Lab, pod: dict[str, Any]) -> str:
    """The container's log as the node's kubelet wrote it (CRI format: time, stream, tag, line)."""
    m = pod["metadata"]
    node = next((n for n in lab.nodes if n.name == pod["spec"].get("nodeName")), None)
    if node is None:
        return f"(Pod {m['name']} was never bound)"
    files = sorted((node.dir / "pod-logs").glob(f"{m['namespace']}_{m['name']}_{m['uid']}/*/*.log"))
    lines = [line.split(" ", 3)[-1] for f in files for line in f.read_text(errors="replace").splitlines()]
    return "\n".join(lines)


def _ours(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r for r in items if (r["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "kubectl-tke-net"
    ]


def _results(report: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {
        (r["policy"], r["resources"][0]["kind"], r["resources"][0].get("namespace", ""), r["resources"][0]["name"])
        for r in report["results"]
        if r["result"] != "skip"
    }


@pytest.mark.parametrize("lab", ["iptables"], indirect=True)
def test_cronjob_writes_the_reports_of_svc_all_in_cluster(lab: Lab, kubectl: str, plugin_image: Path) -> None:
    started = time.monotonic()
    env = lab.env()
    try:
        lab.import_image(plugin_image)
        reportcrds.install(lab.cp, reportcrds.KYVERNO)
    except (LabError, ControlPlaneError) as e:
        pytest.fail(f"setting the lab up for the CronJob failed: {e}", False)
    imported = time.monotonic() - started
    lab.cp.create("/api/v1/namespaces", {"metadata": {"name": BROKEN_NS}})
    lab.cp.create(f"/api/v1/namespaces/{BROKEN_NS}/services", {
        "metadata": {"name": "ledger", "namespace": BROKEN_NS},
        "spec": {"selector": {"app": "ledger"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    })  # fmt: skip

    textfile = lab.tmp / "textfile_collector"  # writable by uid 65532, as the manifest's comment asks
    textfile.mkdir()
    os.chown(textfile, 65532, 65532)
    rbac = ROOT / "deploy" / "rbac"
    _run([kubectl, "apply", "-f", str(rbac / "read-only.yaml"), "-f", str(rbac / "write-reports.yaml"), "-f", "-"],
         env, _manifests(textfile))  # fmt: skip
    node = lab.nodes[1]
    before = _cluster_ip_connections(lab, node.netns)
    t = time.monotonic()
    _run([kubectl, "create", "job", "-n", NAMESPACE, f"--from=cronjob/{ACCOUNT}", JOB], env)
    seen: set[Path] = set()
    pod = _run_job(lab, node.name, time.monotonic() + TIMEOUT, seen)
    job_seconds = time.monotonic() - t
    log = _pod_log(lab, pod)

    # The Pod the Job controller made from the CronJob: the manifests' image, user and volumes, the projected
    # token the admission plugin added, on the node the played scheduler bound it to.
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert (container["image"], container["imagePullPolicy"], spec["serviceAccountName"]) == (TAG, "Never", ACCOUNT)
    assert spec["nodeName"] == node.name
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsUser"] == 65532
    projected = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert projected and any("serviceAccountToken" in s for s in projected[0]["projected"]["sources"])
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0, log
    assert "reports: applied" in log, log

    # In-cluster: every request came with the Pod's bound token (TokenRequest, by the kubelet), through the
    # `kubernetes` Service's ClusterIP and the node's kube-proxy rules.
    assert _cluster_ip_connections(lab, node.netns) > before
    events = lab.cp.wait_for_audit(bool, verb="patch", resource="policyreports", user=USER)
    assert events, "no PolicyReport was applied by the CronJob's service account"
    reads = lab.cp.audit_requests(user=USER)
    assert {e["verb"] for e in reads} <= {"list", "patch", "create", "delete"}, {e["verb"] for e in reads}
    assert {(e["user"].get("extra") or {}).get("authentication.kubernetes.io/pod-name", [""])[0] for e in reads} == {
        pod["metadata"]["name"]
    }
    assert all((e.get("responseStatus") or {}).get("code", 200) < 400 for e in reads), [
        (e["verb"], e["objectRef"], e["responseStatus"]) for e in reads if e["responseStatus"].get("code", 200) >= 400
    ]

    # The same findings as `svc -A` run from outside, against the same cluster.
    outside = plugin(lab.cp, "svc", "-A", "-o", "json", "--no-cloud", "--fail-on", "never")
    assert outside.status == 0, outside.err
    report = outside.json()
    findings = {(f["code"], f["kind"], f["namespace"], f["name"]) for f in report["findings"]}
    namespaces = {f[2] for f in findings if f[2]}
    assert {"shop", BROKEN_NS} <= namespaces, findings
    assert ("TKE101", "Service", BROKEN_NS, "ledger") in findings
    reports = {r["metadata"]["namespace"]: r for r in _ours(_get(lab, f"{REPORTS}/policyreports")["items"])}
    assert set(reports) == namespaces
    for ns, r in reports.items():
        assert r["metadata"]["name"] == "tke-net-service"
        assert {x["source"] for x in r["results"]} == {"kubectl-tke-net"}
        assert {m["manager"] for m in r["metadata"]["managedFields"]} == {"kubectl-tke-net"}
        assert _results(r) == {f for f in findings if f[2] == ns}, ns
    (cluster,) = _ours(_get(lab, f"{REPORTS}/clusterpolicyreports")["items"])
    assert _results(cluster) == {f for f in findings if not f[2]}
    skipped = {(r["policy"], r["message"]) for r in cluster["results"] if r["result"] == "skip"}
    assert skipped == {(code, s["reason"]) for s in report["skipped"] for code in s["codes"]}

    # Why not the default emptyDir: the kubelet tears a finished Pod's emptyDir volumes down (the Pod's tmp, seen on
    # the node while it ran, is gone once it has completed), so a metrics file there would be gone with it.
    tmp = _empty_dir(lab, pod, "tmp")
    assert tmp in seen, f"the Pod's emptyDir {tmp} was never seen while it ran"
    deadline = time.monotonic() + 30
    while tmp.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not tmp.exists(), f"{tmp} still there 30 s after the Job completed"

    # The metrics file, read back from the textfile folder on the Pod's node, where node-exporter would read it.
    families = {f.name: f for f in text_string_to_metric_families((textfile / METRICS).read_text())}
    samples = families["tke_net_findings"].samples
    assert {(s.labels["code"], s.labels["kind"], s.labels["namespace"], s.labels["name"]) for s in samples} == findings
    assert families["tke_net_run_timestamp_seconds"].samples[0].value > 0

    lab.times.update(BUILD_TIMES)
    lab.times.update(
        {"import+CRDs": imported, "Job created to Complete": job_seconds, "test": time.monotonic() - started}
    )
    # What the README's "Run it in the cluster" shows (pytest -s prints it).
    listed = _run([kubectl, "get", "policyreports", "-A", "-l", "app.kubernetes.io/managed-by=kubectl-tke-net"], env)
    print(f"\n$ kubectl create job -n {NAMESPACE} --from=cronjob/{ACCOUNT} {JOB}\n(the Pod's log)\n{log}")
    print(f"$ kubectl get policyreports -A -l app.kubernetes.io/managed-by=kubectl-tke-net\n{listed}")
