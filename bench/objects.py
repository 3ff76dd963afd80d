"""Realistic objects for `make bench`: Pods, Services, nodes, Ingresses as real clusters hold them.

A Pod as a Deployment's ReplicaSet makes it and the kubelet reports it: 5 labels, 4 annotations (one a JSON
string), an ownerReference, one container with 12 env vars, resources, readiness and liveness probes, 2
volumeMounts, 2 tolerations, a configMap and a projected service-account volume (named per Pod, as the
ServiceAccount admission names it), and a status with 5 conditions and a containerStatuses entry (its containerID
per Pod). `managed_fields` writes the managedFields the API server adds for the manager that created an object
and the kubelet that wrote its status, in the API server's own form (fieldsV1).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

IMAGE = "ccr.ccs.tencentyun.com/bench/web-frontend:v2.31.4"
TIME = "2026-11-30T08:15:42Z"
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand's, for generated names


def suffix(name: str) -> str:
    """Five characters as the API server's name generator picks them (its alphabet, no vowels), fixed per name:
    the ServiceAccount admission names each Pod's token volume `kube-api-access-` and such a suffix."""
    digest = hashlib.sha256(name.encode()).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:5])


def pod_spec_status(name: str, app: str, node: str, ip: str, host_ip: str) -> tuple[dict[str, Any], dict[str, Any]]:
    token_volume = "kube-api-access-" + suffix(name)  # one per Pod, as in a real cluster
    env = [{"name": f"APP_SETTING_{k:02d}", "value": f"value-{k}-for-{app}-in-production"} for k in range(10)]
    env += [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{app}-db", "key": "password"}}},
    ]
    probe = {
        "failureThreshold": 3,
        "periodSeconds": 10,
        "successThreshold": 1,
        "timeoutSeconds": 1,
    }
    spec = {
        "containers": [
            {
                "name": "web",
                "image": IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "env": env,
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "resources": {
                    "limits": {"cpu": "1", "memory": "512Mi"},
                    "requests": {"cpu": "250m", "memory": "256Mi"},
                },
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, **probe},
                "livenessProbe": {
                    "tcpSocket": {"port": 8080},
                    "initialDelaySeconds": 15,
                    **probe,
                },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/web", "readOnly": True},
                    {
                        "name": token_volume,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                        "readOnly": True,
                    },
                ],
            }
        ],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "nodeName": node,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
        ],
        "volumes": [
            {"name": "config", "configMap": {"name": f"{app}-config", "defaultMode": 420}},
            {
                "name": token_volume,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    }
                                ]
                            }
                        },
                    ],
                },
            },
        ],
    }
    status = {
        "conditions": [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": TIME}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "containerStatuses": [
            {
                "containerID": "containerd://" + hashlib.sha256(name.encode()).hexdigest(),  # one per container
                "image": IMAGE,
                "imageID": "ccr.ccs.tencentyun.com/bench/web-frontend@sha256:" + "9b1d" * 16,
                "lastState": {},
                "name": "web",
                "ready": True,
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": TIME}},
            }
        ],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "qosClass": "Burstable",
        "startTime": TIME,
    }
    return spec, status


def pod_metadata(name: str, ns: str, app: str, rs: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ns,
        "labels": {
            "app": app,
            "pod-template-hash": "7d9f8b6c5d",
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/part-of": "bench-shop",
            "tier": "frontend",
        },
        "annotations": {
            "kubectl.kubernetes.io/restartedAt": TIME,
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "9102",
            "tke.cloud.tencent.com/networks-status": json.dumps(
                [{"name": "tke-bridge", "interface": "eth0", "ips": ["172.16.0.1"], "default": True}]
            ),
        },
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": rs,
                "uid": "4a7c1d2e-8b3f-4e6a-9c5d-1f2e3a4b5c6d",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }


def _fields(value: Any) -> Any:
    """fieldsV1 of an object's own fields, as the API server writes them ("f:name": {}, lists by key)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[f"f:{key}"] = _fields(item)
        return out
    if isinstance(value, list):
        out = {}
        for item in value:
            if isinstance(item, dict):
                key = (
                    {"name": item["name"]}
                    if "name" in item
                    else {"type": item["type"]}
                    if "type" in item
                    else {"ip": item["ip"]}
                    if "ip" in item
                    else None
                )
                label = f"k:{json.dumps(key, separators=(',', ':'))}" if key else "v:" + json.dumps(item)[:40]
                out[label] = {".": {}, **_fields(item)}
        return out
    return {}


def managed_fields(obj: dict[str, Any], manager: str, status_manager: str | None) -> list[dict[str, Any]]:
    meta = {k: v for k, v in obj["metadata"].items() if k in ("labels", "annotations", "ownerReferences")}
    entries = [
        {
            "apiVersion": obj.get("apiVersion", "v1"),
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": _fields(meta), "f:spec": _fields(obj.get("spec", {}))},
            "manager": manager,
            "operation": "Update",
            "time": TIME,
        }
    ]
    if status_manager and obj.get("status"):
        entries.append(
            {
                "apiVersion": obj.get("apiVersion", "v1"),
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:status": _fields(obj["status"])},
                "manager": status_manager,
                "operation": "Update",
                "subresource": "status",
                "time": TIME,
            }
        )
    return entries


def pod(i: int, j: int, ns: str, app: str, *, node: str, ip: str, host_ip: str) -> dict[str, Any]:
    """One whole Pod as the API server serves it (uid, resourceVersion, managedFields)."""
    name = f"{app}-7d9f8b6c5d-{j:05d}"
    spec, status = pod_spec_status(name, app, node, ip, host_ip)
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_metadata(name, ns, app, f"{app}-7d9f8b6c5d"),
        "spec": spec,
        "status": status,
    }
    obj["metadata"].update(
        {
            "creationTimestamp": TIME,
            "generateName": f"{app}-7d9f8b6c5d-",
            "resourceVersion": str(100000 + i),
            "uid": f"0c{i:06x}-1d2e-4f3a-8b4c-5d6e7f8a9b0c",
            "managedFields": managed_fields(obj, "kube-controller-manager", "kubelet"),
        }
    )
    return obj


def service(i: int, ns: str, name: str) -> dict[str, Any]:
    """A Service of mixed type (10% internal CLB, 5% public CLB, 5% NodePort), as served."""
    kind = i % 20
    annotations: dict[str, str] = {}
    spec: dict[str, Any] = {
        "clusterIP": f"10.96.{i // 256 % 256}.{i % 256}",
        "clusterIPs": [f"10.96.{i // 256 % 256}.{i % 256}"],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
        "selector": {"app": name},
        "sessionAffinity": "None",
        "type": "ClusterIP",
    }
    status: dict[str, Any] = {"loadBalancer": {}}
    if kind in (0, 1, 10):
        spec["type"] = "LoadBalancer"
        spec["externalTrafficPolicy"] = "Cluster"
        spec["ports"][0]["nodePort"] = 30000 + i % 2000
        if kind in (0, 10):
            annotations["service.kubernetes.io/qcloud-loadbalancer-internal-subnetid"] = "subnet-3swgntkk"
        status = {"loadBalancer": {"ingress": [{"ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"}]}}
    elif kind == 2:
        spec["type"] = "NodePort"
        spec["externalTrafficPolicy"] = "Cluster"
        spec["ports"][0]["nodePort"] = 30000 + i % 2000
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}, "annotations": annotations},
        "spec": spec,
        "status": status,
    }
    obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}
    )
    obj["metadata"].update(
        {
            "creationTimestamp": TIME,
            "resourceVersion": str(200000 + i),
            "uid": f"1c{i:06x}-1d2e-4f3a-8b4c-5d6e7f8a9b0c",
            "managedFields": managed_fields(obj, "kubectl-client-side-apply", "tke-service-controller"),
        }
    )
    return obj


def node(k: int) -> dict[str, Any]:
    name = f"10.0.{k // 250}.{k % 250 + 2}"
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "node.kubernetes.io/instance-type": "SA5.2XLARGE16",
                "topology.kubernetes.io/zone": "ap-guangzhou-3",
                "topology.kubernetes.io/region": "gz",
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "tke.cloud.tencent.com/cni-ip-pool": "default"},
            "creationTimestamp": TIME,
            "resourceVersion": str(300000 + k),
            "uid": f"2c{k:06x}-1d2e-4f3a-8b4c-5d6e7f8a9b0c",
        },
        "spec": {"podCIDR": f"172.{16 + k // 256 % 16}.{k % 256}.0/24", "providerID": f"qcloud:///100003/ins-{k:08x}"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": name}, {"type": "Hostname", "address": name}],
            "allocatable": {"cpu": "7900m", "memory": "28Gi", "pods": "61"},
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "61"},
            "conditions": [
                {
                    "type": t,
                    "status": "True" if t == "Ready" else "False",
                    "lastHeartbeatTime": TIME,
                    "lastTransitionTime": TIME,
                    "reason": f"Kubelet{t}",
                    "message": f"kubelet reports {t}",
                }
                for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
            ],
            "nodeInfo": {
                "kernelVersion": "5.4.241-1-tlinux4-0017.10",
                "kubeletVersion": "v1.30.0-tke.4",
                "containerRuntimeVersion": "containerd://1.6.9-tke.8",
                "osImage": "TencentOS Server 3.1",
                "architecture": "amd64",
                "operatingSystem": "linux",
            },
            "images": [
                {"names": [f"ccr.ccs.tencentyun.com/bench/image-{m}@sha256:{'ab' * 32}"], "sizeBytes": 1000000 * m}
                for m in range(8)
            ],
        },
    }
    obj["metadata"]["managedFields"] = managed_fields(obj, "kubelet", "kubelet")
    return obj


def ingress(i: int, ns: str, name: str) -> dict[str, Any]:
    annotations = {"kubernetes.io/ingress.class": "qcloud"}
    if i % 10 == 0:
        annotations["kubernetes.io/ingress.subnetId"] = "subnet-3swgntkk"
    obj: dict[str, Any] = {
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
        "status": {"loadBalancer": {"ingress": [{"ip": f"119.28.{i // 256 % 256}.{i % 256}"}]}},
    }
    obj["metadata"].update(
        {
            "creationTimestamp": TIME,
            "generation": 1,
            "resourceVersion": str(400000 + i),
            "uid": f"3c{i:06x}-1d2e-4f3a-8b4c-5d6e7f8a9b0c",
            "managedFields": managed_fields(obj, "kubectl-client-side-apply", "l7-lb-controller"),
        }
    )
    return obj
