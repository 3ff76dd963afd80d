"""Bad input never crashes: generated objects and snapshot files, through every command that reads a snapshot.

Each run ends in a report (exit 0 or 1) or a clean usage error (exit 2, one line), never an internal error.
Objects the API server could return must give a report; hand-edited ones (wrong types) may give exit 2.
The inputs that once crashed the plugin are kept in tests/fixtures/fuzz/ and replayed by test_corpus.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from kubectl_tke_net import tke
from kubectl_tke_net.cli import main

# Hypothesis keeps caches (not examples: database=None) in a folder; not in the work tree.
set_hypothesis_home_dir(
    os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY") or os.path.join(tempfile.gettempdir(), "tke-net-hypothesis")
)
CORPUS = Path(__file__).parent / "fixtures" / "fuzz"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")
SETTINGS = settings(
    max_examples=int(os.environ.get("TKE_NET_FUZZ_EXAMPLES", "100")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("svc", "-A", "-o", "wide"),
    ("svc", "-A", "-o", "junit", "--fail-on", "info"),
    ("ingress", "-A", "-o", "json"),
    ("loopback", "-A"),
    ("loopback", "-n", "app", "-o", "yaml"),
    ("dump", "-A", "-o", "json"),
    ("fix", "kube-proxy"),
    ("fix", "prevent-loopback", "-A", "--all-lb", "-o", "json"),
    ("fix", "ingress-keepalive", "-A"),
    ("fix", "coredns-rewrite", "--host", "api.example.com", "--service", "web", "-n", "app"),
    ("fix", "rollback", "{path}"),  # the snapshot read as a backup file too
)


def run(path: Path, command: tuple[str, ...]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(
            [str(path) if arg == "{path}" else arg for arg in command] + ["--snapshot", str(path), "--fail-on", "never"]
        )
    return status, out.getvalue(), err.getvalue()


def every_command(path: Path, report_expected: bool) -> None:
    """Run every command on the snapshot: a report, or (unless report_expected) a one-line usage error."""
    for command in COMMANDS:
        status, out, err = run(path, command)
        assert "internal error" not in err and "Traceback" not in err, (command, err)
        # Cluster text never reaches the terminal raw (SPEC 9.2): no control byte but newline and tab.
        assert not CONTROL.search(out + err), (command, CONTROL.findall(out + err)[:5])
        if status == 2 and (not report_expected or "rollback" in command):  # a snapshot is not always a backup
            assert out == "" and err.count("\n") == 1 and err.startswith("error: "), (command, err)
            continue
        assert status in (0, 1), (command, status, err)
        assert out, command
        if "junit" in command:
            import xml.etree.ElementTree as ET

            ET.fromstring(out)
        if "json" in command:
            json.loads(out)


def with_file(text: str | bytes, suffix: str, report_expected: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"snapshot{suffix}"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        try:
            every_command(path, report_expected)
        except AssertionError:
            keep = os.environ.get("TKE_NET_FUZZ_KEEP")  # a folder to keep the failing input in, for the corpus
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                (Path(keep) / f"failed{suffix}").write_bytes(path.read_bytes())
            raise


# --- objects an API server could return: every optional field may be missing, empty or null ------------

NAMESPACES = st.sampled_from(["app", "app", "app", "shop", "kube-system", "default"])
DNS = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
NAMES = st.one_of(
    st.sampled_from(
        ["web", "kube-proxy", "coredns", "server", "api", "tke-service-controller-config", "kube-proxy-config"]
    ),
    st.just("web\x1b]0;owned\x07"),
    DNS,
)
ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "true",
            "True",
            "false",
            " ",
            "1",
            "sg-12345678",
            "sg-12345678,sg-87654321",
            "sg-1,,sg-2",
            "x" * 5000,
            "v1.20.6-tke.3",
            "qcloud",
            "ipvs",
            "日本語",
            "\x00",
            # Terminal escapes (OSC title, CSI clear screen, a bell, C1 CSI, bidi override, a lone CR).
            "\x1b]0;owned\x07",
            "ok\x1b[2J\x1b[Hdone",
            "line\r\nnext\x9b31m\u202e",
        ]
    ),
)
ANNOTATION_KEYS = st.sampled_from(
    [
        tke.SVC_INTERNAL_SUBNET,
        tke.SVC_DIRECT_ACCESS,
        tke.SVC_PASS_TO_TARGET,
        tke.SVC_SECURITY_GROUPS,
        tke.SVC_PREVENT_LOOPBACK,
        tke.SVC_LB_ID,
        tke.ING_CLASS,
        tke.ING_SUBNET,
        tke.ING_DIRECT_ACCESS,
        tke.ING_SECURITY_GROUPS,
        tke.ING_TSC,
        tke.ING_TSC_AUTO,
        tke.POD_NETWORKS,
        tke.IGNORE_ANNOTATION,
        "kubernetes.io/service-name",
        "app",
    ]
)
STRING_MAP = st.dictionaries(st.one_of(ANNOTATION_KEYS, st.text(max_size=10)), ODD_TEXT, max_size=5)
# Mostly labels and selectors that match each other, so that Services find Pods and slices find Services.
LABELS = st.one_of(
    st.sampled_from(
        [{"app": "web"}, {"app": "api"}, {"app": "web", "tier": "x"}, {"kubernetes.io/service-name": "web"}, {}]
    ),
    STRING_MAP,
)
ANNOTATIONS = st.one_of(
    st.dictionaries(
        ANNOTATION_KEYS,
        st.sampled_from(
            ["true", "false", "subnet-1", "qcloud", "sg-12345678", "web-auto-ingress-config", "TKE101,TKE3", ""]
        ),
        max_size=4,
    ),
    STRING_MAP,
)
PORT = st.integers(min_value=1, max_value=65535)
PROTOCOL = st.sampled_from(["TCP", "UDP", "SCTP"])
TIMES = st.sampled_from(
    [
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:00:00.123456Z",
        "",
        "yesterday",
        "2024-13-45T99:99Z",
        "2024-05-01",
        "2024-05-01T10:00:00",
        "2024-05-01T10:00:00+08:00",
    ]
)


def optional(strategy: st.SearchStrategy[Any], *, null: bool = True) -> st.SearchStrategy[Any]:
    """The value, or missing (the key is dropped), or null (as Go writes a nil slice without omitempty)."""
    missing = st.just(_MISSING)
    return st.one_of(strategy, missing, st.none()) if null else st.one_of(strategy, missing)


_MISSING = object()


def obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v is not _MISSING})


def metadata(namespaced: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        name=NAMES,
        namespace=NAMESPACES if namespaced else st.just(_MISSING),
        labels=optional(LABELS),
        annotations=optional(ANNOTATIONS),
        resourceVersion=optional(st.from_regex(r"[0-9]{1,6}", fullmatch=True)),
        uid=optional(st.uuids().map(str)),
        creationTimestamp=optional(TIMES),
        generation=optional(st.integers(0, 9)),
    )


def small_list(strategy: st.SearchStrategy[Any], max_size: int = 4) -> st.SearchStrategy[Any]:
    return optional(st.lists(strategy, max_size=max_size))


TARGET_PORT = st.one_of(PORT, DNS, st.sampled_from(["http", "", "0"]))
SERVICE_PORT = obj(
    name=optional(DNS),
    port=PORT,
    targetPort=optional(TARGET_PORT),
    protocol=optional(PROTOCOL),
    nodePort=optional(st.integers(1, 65535)),
)
LB_STATUS = obj(
    loadBalancer=optional(obj(ingress=small_list(obj(ip=optional(st.ip_addresses().map(str)), hostname=optional(DNS)))))
)
SERVICE = obj(
    apiVersion=st.just("v1"),
    kind=st.just("Service"),
    metadata=metadata(),
    spec=optional(
        obj(
            type=optional(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"])),
            selector=optional(LABELS),
            clusterIP=optional(st.sampled_from(["None", "10.0.0.1", ""])),
            ports=optional(
                st.one_of(st.lists(SERVICE_PORT, max_size=4), st.lists(SERVICE_PORT, min_size=200, max_size=300))
            ),
            externalTrafficPolicy=optional(st.sampled_from(["Local", "Cluster"])),
        )
    ),
    status=optional(LB_STATUS),
)
CONTAINER_PORT = obj(name=optional(DNS), containerPort=PORT, protocol=optional(PROTOCOL))
CONTAINER = obj(
    name=st.one_of(st.just("kube-proxy"), NAMES),
    image=optional(
        st.one_of(
            st.sampled_from(
                [
                    "ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.20.6-tke.3",
                    "kube-proxy:v1.30.0-tke.1",
                    "hyperkube:v1.18.4-tke.20-rc2",
                    "registry:5000/kube-proxy",
                    "img@sha256:abc",
                    ":",
                    "",
                ]
            ),
            st.text(max_size=30),
        )
    ),
    ports=small_list(CONTAINER_PORT),
    command=small_list(
        st.sampled_from(
            [
                "kube-proxy",
                "--proxy-mode=ipvs",
                "--proxy-mode",
                "ipvs",
                "--config=/var/lib/kube-proxy/config.conf",
                "--config",
                "'unbalanced",
            ]
        )
    ),
    args=small_list(st.sampled_from(["--proxy-mode=iptables", "--proxy-mode=ipvs", "--v=2", "--config", '"'])),
    volumeMounts=small_list(
        obj(
            name=NAMES,
            mountPath=st.sampled_from(["/var/lib/kube-proxy", "/", ""]),
            subPath=optional(st.sampled_from(["config.conf", ""])),
        )
    ),
)
CONDITION = obj(
    type=st.sampled_from(["Ready", tke.BACKENDGROUP_GATE, "ContainersReady", ""]),
    status=st.sampled_from(["True", "False", "Unknown", ""]),
)
POD = obj(
    apiVersion=st.just("v1"),
    kind=st.just("Pod"),
    metadata=metadata(),
    spec=optional(
        obj(
            containers=small_list(CONTAINER),
            readinessGates=small_list(obj(conditionType=optional(st.sampled_from([tke.BACKENDGROUP_GATE, "x"])))),
        )
    ),
    status=optional(
        obj(
            phase=optional(st.sampled_from(["Running", "Pending", "Succeeded", "Failed", "Unknown"])),
            conditions=small_list(CONDITION),
            containerStatuses=small_list(
                obj(
                    ready=optional(st.booleans()), state=optional(obj(waiting=optional(obj(reason=optional(ODD_TEXT)))))
                )
            ),
        )
    ),
)
ENDPOINT = obj(
    addresses=small_list(st.ip_addresses().map(str)),
    conditions=optional(obj(ready=optional(st.booleans()))),
    targetRef=optional(obj(kind=st.just("Pod"), name=optional(NAMES), uid=optional(st.uuids().map(str)))),
)
SLICE = obj(
    apiVersion=st.just("discovery.k8s.io/v1"),
    kind=st.just("EndpointSlice"),
    metadata=metadata(),
    addressType=st.just("IPv4"),
    endpoints=small_list(ENDPOINT),
    ports=small_list(obj(name=optional(DNS), port=optional(PORT), protocol=optional(PROTOCOL))),
)
INVOLVED = obj(
    kind=st.sampled_from(["Service", "Ingress", "Pod"]), namespace=optional(NAMESPACES), name=optional(NAMES)
)
EVENT = obj(
    apiVersion=st.just("v1"),
    kind=st.just("Event"),
    metadata=metadata(),
    involvedObject=optional(INVOLVED),
    type=optional(st.sampled_from(["Warning", "Normal"])),
    reason=optional(ODD_TEXT),
    message=optional(ODD_TEXT),
    lastTimestamp=optional(TIMES),
    eventTime=optional(TIMES),
    series=optional(obj(lastObservedTime=optional(TIMES))),
)
BACKEND = obj(
    service=optional(obj(name=optional(NAMES), port=optional(obj(number=optional(PORT), name=optional(DNS))))),
    resource=optional(obj(kind=st.just("Bucket"), name=NAMES)),
)
RULE = obj(
    host=optional(st.one_of(DNS, st.just("*.example.com"))),
    http=optional(
        obj(
            paths=small_list(
                obj(
                    path=optional(st.sampled_from(["/", "/api", ""])),
                    pathType=optional(st.sampled_from(["Prefix", "Exact"])),
                    backend=optional(BACKEND),
                )
            )
        )
    ),
)
INGRESS = obj(
    apiVersion=st.just("networking.k8s.io/v1"),
    kind=st.just("Ingress"),
    metadata=metadata(),
    spec=optional(
        obj(
            ingressClassName=optional(st.sampled_from(["qcloud", "nginx", ""])),
            defaultBackend=optional(BACKEND),
            rules=small_list(RULE),
            tls=small_list(obj(hosts=small_list(DNS), secretName=optional(NAMES))),
        )
    ),
    status=optional(LB_STATUS),
)
INGRESS_CLASS = obj(
    apiVersion=st.just("networking.k8s.io/v1"),
    kind=st.just("IngressClass"),
    metadata=metadata(namespaced=False),
    spec=optional(obj(controller=optional(ODD_TEXT))),
)
SECRET = obj(
    apiVersion=st.just("v1"),
    kind=st.just("Secret"),
    metadata=metadata(),
    type=optional(st.sampled_from(["kubernetes.io/tls", "Opaque"])),
)
# A custom resource with x-kubernetes-preserve-unknown-fields: the API server keeps whatever it is given.
ANY_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
LISTENER = st.one_of(
    obj(
        protocol=optional(st.sampled_from(["HTTP", "HTTPS"])),
        port=optional(PORT),
        keepaliveEnable=optional(st.one_of(st.sampled_from([0, 1, "1", True]), ANY_JSON)),
    ),
    ANY_JSON,
)
TSC = obj(
    apiVersion=st.just("cloud.tencent.com/v1alpha1"),
    kind=st.just("TkeServiceConfig"),
    metadata=metadata(),
    spec=optional(
        st.one_of(
            obj(
                loadBalancer=optional(
                    st.one_of(
                        obj(
                            l7Listeners=optional(st.one_of(st.lists(LISTENER, max_size=3), ANY_JSON)),
                            l4Listeners=optional(ANY_JSON),
                        ),
                        ANY_JSON,
                    )
                )
            ),
            ANY_JSON,
        )
    ),
)
POD_TEMPLATE = obj(
    spec=optional(
        obj(
            containers=small_list(CONTAINER),
            volumes=small_list(obj(name=NAMES, configMap=optional(obj(name=optional(NAMES))))),
        )
    )
)
KUBE_PROXY_META = obj(
    name=st.just("kube-proxy"), namespace=st.just("kube-system"), resourceVersion=optional(st.just("7"))
)
DAEMONSET = obj(
    apiVersion=st.just("apps/v1"),
    kind=st.just("DaemonSet"),
    metadata=st.one_of(KUBE_PROXY_META, metadata()),
    spec=optional(obj(template=optional(POD_TEMPLATE))),
    status=optional(
        obj(observedGeneration=optional(st.integers(0, 5)), desiredNumberScheduled=optional(st.integers(0, 5)))
    ),
)
COREFILE = st.one_of(
    st.sampled_from(
        [
            ".:53 {\n    errors\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n    }\n    reload\n}\n",
            ".:53 {\n    rewrite stop name exact api.example.com web.app.svc.cluster.local\n}\n",
            ".:53 {\n}\n.:53 {\n}\n",
            "{\n",
            "}\n",
            "",
            "# tke-net: begin managed block\n",
        ]
    ),
    st.text(max_size=60),
)
CONFIGMAP = obj(
    apiVersion=st.just("v1"),
    kind=st.just("ConfigMap"),
    metadata=st.one_of(
        obj(
            name=st.sampled_from(["coredns", "kube-proxy-config", tke.SERVICE_CONTROLLER_CONFIG]),
            namespace=st.just("kube-system"),
            resourceVersion=optional(st.just("8")),
        ),
        metadata(),
    ),
    data=optional(
        st.dictionaries(
            st.sampled_from(["Corefile", "config.conf", tke.GLOBAL_ROUTE_DIRECT_ACCESS, "other"]),
            st.one_of(COREFILE, st.sampled_from(["mode: ipvs", "mode: [", "- a", "true", "{}"])),
            max_size=3,
        )
    ),
)
NODE = obj(
    apiVersion=st.just("v1"),
    kind=st.just("Node"),
    metadata=metadata(namespaced=False),
    status=optional(obj(conditions=small_list(CONDITION))),
)
ANY_OBJECT = st.one_of(SERVICE, POD, SLICE, EVENT, INGRESS, INGRESS_CLASS, SECRET, TSC, DAEMONSET, CONFIGMAP, NODE)
# Every kind in most clusters, so that the checks meet each other's objects (a Service and its Pods).
CLUSTERS = st.tuples(
    *(
        st.lists(kind, max_size=3)
        for kind in (SERVICE, POD, SLICE, EVENT, INGRESS, INGRESS_CLASS, SECRET, TSC, DAEMONSET, CONFIGMAP, NODE)
    )
).map(lambda lists: [o for objs in lists for o in objs])
# An empty snapshot is a usage error (SPEC 9.1: no success on nothing): a cluster has at least one object.
CLUSTERS = CLUSTERS.filter(bool)


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}


FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = [
    o
    for name in (
        "services",
        "healthy",
        "loopback",
        "fix-cluster",
        "ingress-backends",
        "ingress-class",
        "ingress-rules",
        "ingress-tls",
    )
    for doc in yaml.safe_load_all((FIXTURES / f"{name}.yaml").read_text())
    if doc
    for o in (doc["items"] if str(doc.get("kind", "")).endswith("List") else [doc])
]


@st.composite
def thinned(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Objects of the fixture clusters with optional parts taken away: keys dropped, values null, lists
    emptied; some lists made huge (hundreds of ports) and some names Unicode."""
    items: list[dict[str, Any]] = json.loads(
        json.dumps(draw(st.lists(st.sampled_from(SEEDS), min_size=1, max_size=25)))
    )
    for _ in range(draw(st.integers(1, 8))):
        target: Any = draw(st.sampled_from(items))
        path: list[Any] = []
        while True:
            if isinstance(target, dict):
                # kind, apiVersion and metadata.name are required: without them it is no API object.
                keys: list[Any] = sorted(
                    k
                    for k in target
                    if ((path or k not in ("kind", "apiVersion")) and not (path == ["metadata"] and k == "name"))
                )
            else:
                keys = list(range(len(target))) if isinstance(target, list) else []
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = target[key]
            if isinstance(child, (dict, list)) and child and draw(st.integers(0, 3)):
                target = child
                path.append(key)
                continue
            how = draw(st.sampled_from(["drop", "null", "empty", "huge", "unicode"]))
            if path == [] and key == "metadata" and how in ("drop", "null", "empty"):
                break
            if how == "drop" and isinstance(target, dict):
                del target[key]
            elif how == "drop":
                target.pop(key)
            elif how == "null":
                target[key] = None
            elif how == "empty" and isinstance(child, (dict, list, str)):
                target[key] = type(child)()
            elif how == "huge" and isinstance(target, list):
                target.extend([json.loads(json.dumps(child)) for _ in range(draw(st.integers(50, 400)))])
            elif how == "unicode" and isinstance(child, str):
                target[key] = draw(st.sampled_from(["wéb", "服务", "ñ-\u200b", "🙂", child + "\u202e"]))
            break
    return items


@SETTINGS
@given(thinned(), st.sampled_from([".yaml", ".json"]))
def test_fixture_objects_with_parts_missing_give_a_report(items: list[dict[str, Any]], suffix: str) -> None:
    doc = as_list(items)
    text = json.dumps(doc) if suffix == ".json" else yaml.safe_dump(doc, allow_unicode=True)
    with_file(text, suffix, report_expected=True)


@SETTINGS
@given(CLUSTERS, st.sampled_from([".yaml", ".json"]))
def test_objects_the_api_could_return_give_a_report(items: list[dict[str, Any]], suffix: str) -> None:
    doc = as_list(items)
    text = json.dumps(doc) if suffix == ".json" else yaml.safe_dump(doc, allow_unicode=True)
    with_file(text, suffix, report_expected=True)


# --- hand-edited snapshots: any field may hold any JSON value -----------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> list[dict[str, Any]]:
    """API-valid objects with a few values anywhere replaced by a value of another type (a number, a list,
    null, a mapping, a string)."""
    items = draw(st.lists(ANY_OBJECT, min_size=1, max_size=6))
    for _ in range(draw(st.integers(1, 4))):
        target: Any = draw(st.sampled_from(items))
        path: list[Any] = []
        while isinstance(target, (dict, list)) and target and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(target) if isinstance(target, dict) else range(len(target))))
            path.append(key)
            if not isinstance(target[key], (dict, list)) or not target[key]:
                break
            target = target[key]
        value = draw(
            st.one_of(
                st.integers(),
                st.floats(allow_nan=False),
                st.booleans(),
                st.none(),
                st.lists(st.integers(), max_size=2),
                st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                st.text(max_size=5),
            )
        )
        if isinstance(target, dict) and target:
            target[draw(st.sampled_from(sorted(target)))] = value
        elif isinstance(target, list) and target:
            target[draw(st.integers(0, len(target) - 1))] = value
    return items


@SETTINGS
@given(mutated(), st.sampled_from([".yaml", ".json"]))
def test_hand_edited_objects_give_a_report_or_exit_2(items: list[dict[str, Any]], suffix: str) -> None:
    doc = as_list(items)
    text = json.dumps(doc) if suffix == ".json" else yaml.safe_dump(doc, allow_unicode=True)
    with_file(text, suffix, report_expected=False)


# --- malformed files ------------------------------------------------------------------------------


@st.composite
def malformed(draw: st.DrawFn) -> tuple[str | bytes, str]:
    items = draw(st.lists(ANY_OBJECT, max_size=4))
    suffix = draw(st.sampled_from([".yaml", ".json", ".yml"]))
    text = json.dumps(as_list(items)) if suffix == ".json" else yaml.safe_dump(as_list(items), allow_unicode=True)
    how = draw(
        st.sampled_from(
            [
                "truncated",
                "junk",
                "binary",
                "not-a-list",
                "wrong-kind",
                "nested",
                "documents",
                "items-not-a-list",
                "anchors",
                "bom",
                "yaml-types",
            ]
        )
    )
    if how == "truncated":
        return text[: draw(st.integers(0, max(len(text) - 1, 0)))], suffix
    if how == "junk":
        return draw(st.text(max_size=200)), suffix
    if how == "binary":
        return draw(st.binary(max_size=200)), suffix
    if how == "not-a-list":
        return json.dumps(draw(st.one_of(ANY_JSON, st.lists(ANY_OBJECT, max_size=2)))), suffix
    if how == "wrong-kind":
        kind = draw(st.sampled_from(["ServiceList", "Deployment", "List", "", "Secret", "Status", "PodList"]))
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": kind,
                "items": draw(st.one_of(ANY_JSON, st.just(items))),
                "metadata": draw(ANY_JSON),
            }
        ), suffix
    if how == "nested":
        depth = draw(st.sampled_from([50, 500, 5000, 50000]))
        inner = draw(
            st.sampled_from(
                [
                    "[" * depth + "]" * depth,
                    '{"a":' * depth + "1" + "}" * depth,
                    "- " * depth + "x",
                    "items:\n" + "".join(" " * i + "- \n" for i in range(min(depth, 2000))),
                ]
            )
        )
        return (
            '{"apiVersion": "v1", "kind": "List", "items": [' + inner + "]}"
            if inner[0] in "[{" and draw(st.booleans())
            else inner
        ), suffix
    if how == "documents":
        docs = [yaml.safe_dump(i) for i in items] + [draw(st.sampled_from(["", "---", "null", "42", "[1, 2]"]))]
        return "\n---\n".join(docs), ".yaml"
    if how == "items-not-a-list":
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": draw(ANY_JSON)}), suffix
    if how == "anchors":
        layers = draw(st.integers(1, 12))
        bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
            f"*a{i - 1}]\n"
            for i in range(1, layers)
        )
        return (
            bomb + f"kind: List\napiVersion: v1\nitems: [{{kind: Service, apiVersion: v1, metadata: {{name: s, "
            f"namespace: app}}, spec: {{ports: *a{layers - 1}}}}}]\n"
        ), ".yaml"
    if how == "bom":
        return "\ufeff" + text, suffix
    # YAML-only types: timestamps, binary, sets, non-string keys, ordered maps.
    value = draw(st.sampled_from(["true", "2024-01-01", "!!binary aGk=", "1e3", "~", "[a]", "{a: 1}", "!!set {a}"]))
    return (
        f"kind: List\napiVersion: v1\nitems:\n- kind: Service\n  apiVersion: v1\n  metadata:\n    name: s\n"
        f"    namespace: app\n    creationTimestamp: 2024-05-01T10:00:00Z\n    annotations:\n"
        f"      {draw(ANNOTATION_KEYS)}: {value}\n"
        f"    labels: {{80: web, true: x, null: y}}\n  spec:\n    selector: !!omap [{{app: web}}]\n"
        f"    ports: [{{port: 80, targetPort: 2024-01-01}}]\n"
    ), ".yaml"


@SETTINGS
@given(malformed())
def test_malformed_snapshot_files_give_a_report_or_exit_2(case: tuple[str | bytes, str]) -> None:
    text, suffix = case
    with_file(text, suffix, report_expected=False)


# --- the corpus: inputs that once crashed a command ---------------------------------------------------

CORPUS_FILES = sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name != "README.md") if CORPUS.is_dir() else []


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_corpus(path: Path) -> None:
    every_command(path, report_expected=path.name.startswith("api-"))
