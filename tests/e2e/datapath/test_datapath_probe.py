"""`svc NAME --probe` and `ingress NAME --probe` on a real data path, each verdict from a real fault.

The plugin's CLI runs against the lab's real API server; its probe Pods are real containers on the two nodes, and
their packets go through the real kube-proxy rules (iptables and nftables mode), real CoreDNS and the kernel's
routing, conntrack and NAT. The VPC and the CLBs are played by lab.py (see its docstring for what is real).
Each test starts from the healthy lab (fixture `healthy`), breaks one thing, and asserts the plugin's verdict.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from datapath.image import BUSYBOX
from datapath.lab import (
    API_NODE_PORT,
    DNS_IP,
    INGRESS_HOST,
    L4_VIP,
    L7_VIP,
    NS,
    SERVICE_CIDR,
    WEB_NODE_PORT,
    Lab,
    backend_pod,
)
from test_plugin import PLUGIN, Run, found, plugin

N1, N2 = "198.18.0.11", "198.18.0.12"  # N1 hosts the backend web-1; N2 hosts none
PROBE = ("--probe", "--probe-image", BUSYBOX, "--select", "TKE12", "-o", "json")


def probe(lab: Lab, kind: str, name: str) -> tuple[Run, dict[str, Any]]:
    run = plugin(lab.cp, kind, name, "-n", NS, *PROBE)
    assert run.status in (0, 1), run.err
    return run, run.json()


def messages(doc: dict[str, Any]) -> dict[str, str]:
    return {f["code"]: f["message"] for f in doc["findings"]}


def no_probe_pods_left(lab: Lab) -> bool:
    status, body = lab.cp.request("GET", "/api/v1/pods?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dkubectl-tke-net")
    return status == 200 and body["items"] == []


def test_kube_proxy_programs_the_kernel_in_its_mode(healthy: Lab) -> None:
    status, svc = healthy.cp.request("GET", f"/api/v1/namespaces/{NS}/services/api")
    assert status == 200
    for node in healthy.nodes:
        iptables = healthy.in_ns(node.netns, "iptables-save", "-t", "nat")
        nft = healthy.in_ns(node.netns, "nft", "list", "table", "ip", "kube-proxy", check=False)
        ours, other = (nft, iptables) if healthy.mode == "nftables" else (iptables, nft)
        assert svc["spec"]["clusterIP"] in ours and str(API_NODE_PORT) in ours
        assert svc["spec"]["clusterIP"] not in other


# TKE125 and TKE120-TKE123 on Service api (NodePort): no CLB in the way


def test_healthy_path_every_probe_answers(healthy: Lab) -> None:
    run, doc = probe(healthy, "svc", "api")
    assert run.status == 0
    assert found(doc) == {("TKE125", f"Service/{NS}/api")}
    message = messages(doc)["TKE125"]
    assert message.startswith(f"every probed path answered: from node {N1} (hosts a backend): DNS api.{NS}.svc.")
    for path in (
        f"NodePort {N1}:{API_NODE_PORT} (node {N1})",
        f"NodePort {N2}:{API_NODE_PORT} (node {N2})",
        f"(web-1 on {N1})",
        f"; from node {N2}: ",
    ):
        assert path in message
    # The ClusterIP is a real one from the lab's Service range, and the endpoint a real Pod address.
    cluster_ip = message.split("ClusterIP ")[1].split(":")[0]
    assert ipaddress.ip_address(cluster_ip) in ipaddress.ip_network(SERVICE_CIDR)
    assert doc["skipped"] == []
    assert no_probe_pods_left(healthy)


def test_coredns_scaled_to_zero_is_tke120(healthy: Lab) -> None:
    healthy.break_dns()
    run, doc = probe(healthy, "svc", "api")
    assert run.status == 1
    assert found(doc) == {("TKE120", f"Service/{NS}/api")}
    message = messages(doc)["TKE120"]
    for node in (N1, N2):
        assert f"from node {node}: DNS api.{NS}.svc.cluster.local does not resolve (" in message
    assert "but ClusterIP " in message


def test_kube_proxy_stopped_and_flushed_is_tke121(healthy: Lab) -> None:
    healthy.stop_kube_proxy(healthy.node(N2), flush=True)
    healthy.flush_conntrack()
    run, doc = probe(healthy, "svc", "api")
    assert run.status == 1
    said = messages(doc)
    assert ("TKE121", f"Service/{NS}/api") in found(doc), doc
    assert said["TKE121"].startswith(f"from node {N2}: ClusterIP "), said["TKE121"]
    assert "but its ready endpoints do (endpoint " in said["TKE121"]
    assert f"from node {N1}" not in said["TKE121"]
    # N2's NodePort has no rules either, from both nodes (refused: nothing listens there); from N2 itself TKE123
    # names kube-proxy on its own node.
    assert found(doc) == {("TKE121", f"Service/{NS}/api"), ("TKE123", f"Service/{NS}/api")}
    assert f"from node {N2}: NodePort {N2}:{API_NODE_PORT} (node {N2}) does not answer (refused" in said["TKE123"]
    assert "its own node: kube-proxy there" in said["TKE123"]
    assert f"from node {N1}: NodePort {N2}:{API_NODE_PORT} (node {N2}) does not answer (refused" in said["TKE123"]


def test_route_between_the_nodes_cut_is_tke122(healthy: Lab) -> None:
    healthy.cut_route(healthy.node(N1))  # the VPC no longer routes to N1's Pods: N2 cannot reach web-1
    run, doc = probe(healthy, "svc", "api")
    assert run.status == 1
    assert ("TKE122", f"Service/{NS}/api") in found(doc), doc
    message = messages(doc)["TKE122"]
    assert message.startswith(
        f"from node {N2}: 1 of 1 ready endpoints of port http do not answer: endpoint 198.19.1."
    ), message
    assert f"(web-1 on {N1}) timeout after " in message
    assert f"from node {N1}" not in message


def test_node_port_dropped_by_the_node_is_tke123(healthy: Lab) -> None:
    healthy.drop_node_port(healthy.node(N1), API_NODE_PORT)
    run, doc = probe(healthy, "svc", "api")
    assert run.status == 1
    assert found(doc) == {("TKE123", f"Service/{NS}/api")}
    message = messages(doc)["TKE123"]
    assert message.startswith(f"from node {N2}: NodePort {N1}:{API_NODE_PORT} (node {N1}) does not answer (timeout")
    assert f"node {N1}: its kube-proxy, or its security group" in message


# TKE124: the CLB loopback, L4 (Service web) and L7 (Ingress shop)


def test_l4_clb_picks_the_backend_node_loopback_is_tke124(healthy: Lab) -> None:
    healthy.set_l4(N1)
    run, doc = probe(healthy, "svc", "web")
    assert run.status == 1
    assert found(doc) == {("TKE124", f"Service/{NS}/web")}
    message = messages(doc)["TKE124"]
    assert message.startswith(f"CLB {L4_VIP}:80 fails (timeout after "), message
    assert f"from node {N1}, which hosts a backend, but answers in " in message
    assert message.endswith(f"from node {N2}, which does not")


def test_l4_clb_picks_a_node_without_backend_loopback_is_tke124(healthy: Lab) -> None:
    """externalTrafficPolicy Cluster: the CLB forwards to N2, which hosts no backend, and the client there loops
    back all the same. (The plugin once fired TKE124 only for a node that hosts a backend and said "No problems
    found" here; this data path showed it.)"""
    healthy.set_l4(N2)
    run, doc = probe(healthy, "svc", "web")
    assert run.status == 1, f"exit {run.status}: {run.out}\n{run.err}"
    assert ("TKE124", f"Service/{NS}/web") in found(doc), run.err
    message = messages(doc)["TKE124"]
    assert f"CLB {L4_VIP}:80 fails (timeout" in message and f"from node {N2}, which hosts no backend" in message
    assert "but answers in " in message and f"from node {N1}" in message


def test_l4_clb_with_snat_has_no_loopback(healthy: Lab) -> None:
    healthy.set_l4(N1, snat=True)
    run, doc = probe(healthy, "svc", "web")
    assert run.status == 0
    assert found(doc) == {("TKE125", f"Service/{NS}/web")}
    assert healthy.packets_to_l4_vip() >= 2  # both probe Pods went through the CLB


def test_ip_mode_vip_keeps_the_traffic_in_the_node(healthy: Lab) -> None:
    healthy.set_ip_mode("VIP")
    healthy.set_l4(N1)  # the CLB would loop back, but sees no packet: kube-proxy answers the VIP in the node
    run, doc = probe(healthy, "svc", "web")
    assert run.status == 0
    assert found(doc) == {("TKE125", f"Service/{NS}/web")}
    assert healthy.packets_to_l4_vip() == 0


def test_l7_clb_retries_after_4s_loopback_is_tke124(healthy: Lab) -> None:
    healthy.set_l7([N1, N2])  # N1 first: the backend's node, where the probe on N1 loops back
    run, doc = probe(healthy, "ingress", "shop")
    assert run.status == 1
    assert found(doc) == {("TKE124", f"Ingress/{NS}/shop")}
    message = messages(doc)["TKE124"]
    assert message.startswith(f"CLB http://{L7_VIP}:80/ Host {INGRESS_HOST} takes "), message
    assert int(message.split(" takes ")[1].split(" ms")[0]) >= 4000
    assert f"from node {N1}, which hosts a backend, but answers in " in message


def test_l7_clb_first_tries_a_node_without_backend_loopback_is_tke124(healthy: Lab) -> None:
    healthy.set_l7([N2, N1])
    run, doc = probe(healthy, "ingress", "shop")
    assert run.status == 1, f"exit {run.status}: {run.out}\n{run.err}"
    assert ("TKE124", f"Ingress/{NS}/shop") in found(doc), run.err
    message = messages(doc)["TKE124"]
    assert message.startswith(f"CLB http://{L7_VIP}:80/ Host {INGRESS_HOST} takes "), message
    assert int(message.split(" takes ")[1].split(" ms")[0]) >= 4000, message  # the L7 CLB retried after 4 s
    assert f"from node {N2}, which hosts no backend" in message and f"from node {N1}" in message


def test_l7_clb_with_snat_has_no_loopback(healthy: Lab) -> None:
    healthy.set_l7([N1, N2], snat=True)
    run, doc = probe(healthy, "ingress", "shop")
    assert run.status == 0
    assert found(doc) == {("TKE125", f"Ingress/{NS}/shop")}


# fix coredns-rewrite --apply, end to end


def test_coredns_rewrite_applied_resolves_from_a_pod(healthy: Lab) -> None:
    host = f"rewrite-{healthy.mode}.example.com"
    status, svc = healthy.cp.request("GET", f"/api/v1/namespaces/{NS}/services/web")
    assert status == 200
    cluster_ip = svc["spec"]["clusterIP"]
    done = plugin(healthy.cp, "fix", "coredns-rewrite", "--host", host, "--service", "web", "-n", NS, "--apply")
    assert done.status == 0, done.err + done.out
    status, cm = healthy.cp.request("GET", "/api/v1/namespaces/kube-system/configmaps/coredns")
    assert f"rewrite stop name exact {host} web.{NS}.svc.cluster.local" in cm["data"]["Corefile"]
    started = time.monotonic()
    # A real Pod asks the cluster DNS until the name resolves (kubelet updates the ConfigMap volume, CoreDNS's
    # reload plugin picks it up), then fetches the page through it.
    script = (
        "i=0; while [ $i -lt 90 ]; do "
        f"if nslookup {host} {DNS_IP} > /tmp/out 2>&1 && grep -q 'Address:.*{cluster_ip}' /tmp/out; then "
        f"cat /tmp/out > /dev/termination-log; wget -q -O - http://{host}/ >> /dev/termination-log && exit 0; "
        "exit 2; fi; i=$((i+1)); sleep 1; done; cat /tmp/out > /dev/termination-log; exit 1"
    )
    pod: dict[str, Any] = {
        "metadata": {"name": f"dns-check-{healthy.mode}", "namespace": NS},
        "spec": {
            "nodeName": N2,
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {"name": "check", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sh", "-c", script]}
            ],
        },
    }
    healthy.create_pod(pod, wait=False)
    try:
        done_pod = healthy.wait_pod(NS, pod["metadata"]["name"], timeout=120, phase="Finished")
    finally:
        healthy.delete_pod(NS, pod["metadata"]["name"])
    term = done_pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0, term.get("message")
    assert cluster_ip in term["message"] and "tke-net e2e backend" in term["message"], term["message"]
    print(f"rewrite resolved from a Pod {time.monotonic() - started:.1f}s after --apply")
    assert PLUGIN.exists()


# TKE127: --probe-rules reads the nodes' real kube-proxy rules (iptables-save or nft list ruleset, as the lab's mode
# has them) through a real privileged hostNetwork Pod that chroots into the node's root (here: this machine's root,
# in the node's network namespace). No IPVS in this kernel: the IPVS parser is tested on documented output shapes
# (tests/test_probe_rules.py).

RULES = ("--probe", "--probe-rules", "--probe-image", BUSYBOX, "--select", "TKE127", "-o", "json")


def probe_rules(lab: Lab, name: str) -> tuple[Run, dict[str, Any]]:
    run = plugin(lab.cp, "svc", name, "-n", NS, *RULES)
    assert run.status in (0, 1), run.err
    return run, run.json()


def test_probe_rules_on_a_healthy_path_find_nothing(healthy: Lab) -> None:
    run, doc = probe_rules(healthy, "web")
    assert run.status == 0, run.err
    assert doc["findings"] == [] and doc["skipped"] == [], doc
    assert "a privileged hostNetwork Pod kube-system/tke-net-rules-" in run.err  # said before it starts
    dumped = plugin(healthy.cp, "dump", "-n", NS, "--probe", "svc/web", "--probe-rules", "--probe-image", BUSYBOX,
                    "-o", "json")  # fmt: skip
    assert dumped.status == 0, dumped.err
    [fact] = [i for i in dumped.json()["items"] if i["kind"] == "ProbeResult"]
    assert {r["node"]: r["mode"] for r in fact["rules"]} == {N1: healthy.mode, N2: healthy.mode}
    _status, svc = healthy.cp.request("GET", f"/api/v1/namespaces/{NS}/services/web")
    for r in fact["rules"]:
        kinds = {(e["kind"], e["address"], e["port"]) for e in r["entries"]}
        assert ("address", svc["spec"]["clusterIP"], 80) in kinds and ("node-port", "", 30080) in kinds
        assert r["tools"]["ipvsadm"] == 127 and r["kubeIpvs0"] is None  # no ipvsadm, no kube-ipvs0 here
    assert no_probe_pods_left(healthy)
    _status, body = healthy.cp.request("GET", "/api/v1/namespaces/kube-system/pods")
    assert not [p for p in body["items"] if p["metadata"]["name"].startswith("tke-net-rules-")]


def routes_to(lab: Lab, node: str, service: str, ip: str) -> bool:
    """Whether the node's rules load-balance the Service to `ip`, read independently of the plugin's parser: the
    service chain's jump to the endpoint (iptables: KUBE-SVC-* "NS/NAME:PORT -> IP:PORT"; nftables: the service
    chain's vmap to endpoint-*-NS/NAME/...__IP/PORT). An endpoint chain alone is not enough: kube-proxy may write it
    before it sends traffic there (seen in nftables mode)."""
    for line in lab.rules(lab.node(node)).splitlines():
        if line.startswith("-A KUBE-SVC-") and f'"{NS}/{service}:' in line and f"-> {ip}:" in line:
            return True
        if "vmap" in line and f"-{NS}/{service}/" in line and f"__{ip}/" in line:
            return True
    return False


def test_kube_proxy_stopped_before_an_endpoint_change_is_tke127(healthy: Lab) -> None:
    """N2's kube-proxy stops; a second backend becomes ready; N2's real rules still lead to the first one only."""
    healthy.stop_kube_proxy(healthy.node(N2), flush=False)
    pod = backend_pod("web-2", N1)
    ip = healthy.create_pod(pod)["status"]["podIP"]
    try:
        healthy.wait_endpoints("web", 2)
        deadline = time.monotonic() + 30  # until N1's kube-proxy sends Service api's traffic to it too
        while not routes_to(healthy, N1, "api", ip) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert routes_to(healthy, N1, "api", ip)
        assert not routes_to(healthy, N2, "api", ip)  # stopped: N2's rules stay as they were
        run, doc = probe_rules(healthy, "api")
        assert run.status == 1, run.err
        assert found(doc) == {("TKE127", f"Service/{NS}/api")}
        message = messages(doc)["TKE127"]
        assert f"node {N2} ({healthy.mode}): ClusterIP " in message and " leads to 198.19.1." in message, message
        assert f"NodePort {API_NODE_PORT}/TCP leads to" in message
        assert f"node {N1}" not in message
    finally:
        healthy.delete_pod(NS, "web-2")


def test_kube_proxy_rules_flushed_is_tke127(healthy: Lab) -> None:
    healthy.stop_kube_proxy(healthy.node(N2), flush=True)
    run, doc = probe_rules(healthy, "api")
    assert run.status == 1, run.err
    message = messages(doc)["TKE127"]
    assert f"node {N2} (no kube-proxy rules): ClusterIP " in message and " has no rule" in message, message
    assert f"NodePort {API_NODE_PORT}/TCP has no rule" in message
    assert f"node {N1}" not in message


def _set_traffic_policy(lab: Lab, policy: str) -> None:
    path = f"/api/v1/namespaces/{NS}/services/web"
    status, svc = lab.cp.request("GET", path)
    assert status == 200
    svc["spec"]["externalTrafficPolicy"] = policy
    if policy == "Cluster":
        svc["spec"].pop("healthCheckNodePort", None)
    status, body = lab.cp.request("PUT", path, svc)
    assert status == 200, body
    lab.flush_conntrack()


def test_local_traffic_policy_clb_sends_to_the_backend_node_loopback_is_tke124(healthy: Lab) -> None:
    """externalTrafficPolicy Local: the played CLB sends only to the nodes that pass its health check on the real
    kube-proxy's healthCheckNodePort, i.e. N1, the node with the backend; the client there loops back, the client
    on N2 reaches the backend through N1's NodePort. TKE124 names N1, which hosts a backend."""
    _set_traffic_policy(healthy, "Local")
    try:
        deadline = time.monotonic() + 15
        while (picked := healthy.health_checked_nodes("web")) != [N1] and time.monotonic() < deadline:
            time.sleep(0.5)  # kube-proxy serves the health check once it has synced the policy change
        assert picked == [N1]
        healthy.set_l4(N1)
        run, doc = probe(healthy, "svc", "web")
        assert run.status == 1, run.err
        assert found(doc) == {("TKE124", f"Service/{NS}/web")}, doc
        message = messages(doc)["TKE124"]
        assert f"from node {N1}, which hosts a backend, but answers in " in message, message
        assert message.endswith(f"from node {N2}, which does not")
        assert f"NodePort {WEB_NODE_PORT} of {N2} not tested" in run.err  # no local endpoint: drops by design
    finally:
        _set_traffic_policy(healthy, "Cluster")


def host_network_client(lab: Lab, node: str) -> str:
    """A real hostNetwork Pod on `node` connects to the L4 CLB three times; what it saw, one word per attempt."""
    name = f"host-client-{lab.mode}"
    script = (
        f"r=''; for i in 1 2 3; do if nc -w 3 {L4_VIP} 80 -e true </dev/null; then r=\"$r answers\"; "
        'else r="$r fails"; fi; done; echo $r > /dev/termination-log'
    )
    pod: dict[str, Any] = {
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "nodeName": node,
            "hostNetwork": True,
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {"name": "client", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sh", "-c", script]}
            ],
        },
    }
    lab.create_pod(pod, wait=False)
    try:
        done = lab.wait_pod(NS, name, timeout=60, phase="Finished")
    finally:
        lab.delete_pod(NS, name)
    return str(done["status"]["containerStatuses"][0]["state"]["terminated"].get("message", "")).strip()


def test_a_host_network_client_loops_back_where_the_probe_says(healthy: Lab) -> None:
    """A hostNetwork client on N1 (a real Pod on the node's network; the probe Pods themselves are ordinary Pods):
    with the CLB picking N1 every attempt fails (the reply comes from the NodePort address; the kernel logs a
    martian source, as DATAPATH-NOTES saw), with the CLB picking N2 every attempt answers. TKE124 names the failing
    node either way."""
    healthy.set_l4(N1)
    assert host_network_client(healthy, N1) == "fails fails fails"
    run, doc = probe(healthy, "svc", "web")
    assert found(doc) == {("TKE124", f"Service/{NS}/web")}, doc
    assert "fails (timeout after " in messages(doc)["TKE124"]
    assert f"from node {N1}, which hosts a backend" in messages(doc)["TKE124"]

    healthy.set_l4(N2)
    assert host_network_client(healthy, N1) == "answers answers answers"
    run, doc = probe(healthy, "svc", "web")
    assert run.status == 1, run.err
    assert found(doc) == {("TKE124", f"Service/{NS}/web")}, doc
    message = messages(doc)["TKE124"]
    assert f"from node {N2}, which hosts no backend" in message and "answers in " in message
    assert f"from node {N1}" in message.split("but answers in ")[1]
