"""What the probe Pods reported (pure): the script's JSON lines read back into results per test, and the
ProbeResult item (tke-net/v1) that keeps a run in the snapshot."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from kubectl_tke_net.findings import Ref
from kubectl_tke_net.i18n import _
from kubectl_tke_net.kinds import FACTS_API, Obj
from kubectl_tke_net.model import UsageError
from kubectl_tke_net.probe import PATHS, SLOW_MS
from kubectl_tke_net.probe.plan import Plan, ProbePod, ProbeTest, RulesPod
from kubectl_tke_net.probe.rules import ADDRESS, NODE_PORT, Entry, NodeRules, decode, node_rules


@dataclass(frozen=True)
class Result:
    """One test's outcome as probe.sh wrote it."""

    ok: bool
    ms: int
    error: str = ""
    status: int | None = None  # HTTP status
    address: str = ""  # what a DNS name resolved to

    def text(self) -> str:
        """ "4 ms", "timeout after 2010 ms", "HTTP 404 in 12 ms"."""
        if self.ok:
            return (
                _("HTTP {status} in {ms} ms").format(status=self.status, ms=self.ms)
                if self.status
                else _("{ms} ms").format(ms=self.ms)
            )
        return _("{error} after {ms} ms").format(error=self.error or _("failed"), ms=self.ms)


@dataclass(frozen=True)
class Observation:
    """A test as run from one probe Pod; result None when the Pod reported nothing for it."""

    pod: ProbePod
    test: ProbeTest
    result: Result | None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    @property
    def failed(self) -> bool:
        return self.result is not None and not self.result.ok

    @property
    def text(self) -> str:
        return self.result.text() if self.result is not None else _("no result")

    @property
    def ms(self) -> int:
        return self.result.ms if self.result is not None else 0

    @property
    def fast(self) -> bool:
        """Answered within SLOW_MS."""
        return self.result is not None and self.result.ok and self.result.ms <= SLOW_MS


@dataclass(frozen=True)
class RulesObservation:
    """What a --probe-rules Pod read on its node: the rules, or why there are none (`error`)."""

    pod: RulesPod
    rules: NodeRules | None
    error: str = ""


@dataclass(frozen=True)
class ProbeRun:
    """Everything the probe Pods reported; `failures` names the Pods that reported nothing, and why."""

    plan: Plan
    observations: tuple[Observation, ...]
    failures: tuple[str, ...] = ()
    rules: tuple[RulesObservation, ...] = ()


def observe_rules(pod: RulesPod, message: str | None) -> RulesObservation:
    """A rules Pod's termination message, parsed; the raw text is never kept."""
    if not message:
        return RulesObservation(pod, None, _("the rules Pod reported nothing"))
    try:
        return RulesObservation(pod, node_rules(decode(message)))
    except ValueError as exc:
        reason = str(exc)
        if reason.startswith("too-large"):
            return RulesObservation(
                pod,
                None,
                _("the rules of the Service on node {node} take {n} bytes, more than a Pod can report").format(
                    node=pod.node, n=reason.rsplit(maxsplit=1)[-1] or "?"
                ),
            )
        return RulesObservation(pod, None, _("the rules Pod reported something unreadable"))


def parse(message: str) -> tuple[dict[int, Result], bool]:
    """Results by test number (1-based, the script's argument order), and whether the end line came.

    The kubelet keeps the last 4096 bytes of the message, so a cut-off first line is skipped.
    """
    results: dict[int, Result] = {}
    complete = False
    for line in message.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        if doc.get("check") == "end":
            complete = True
            continue
        try:
            n = int(doc["n"])
            status = doc.get("status")
            results[n] = Result(
                doc.get("ok") is True,
                int(doc.get("ms") or 0),
                str(doc.get("error") or ""),
                int(status) if status is not None else None,
                str(doc.get("address") or ""),
            )
        except (KeyError, TypeError, ValueError):
            continue
    return results, complete


def observe(pod: ProbePod, message: str | None) -> tuple[Observation, ...]:
    """Every test of the Pod with its result; None for each the message does not answer."""
    results, _complete = parse(message or "")
    return tuple(Observation(pod, test, results.get(i)) for i, test in enumerate(pod.tests, 1))


# --- the ProbeResult item: what a probe run measured, as the snapshot keeps and `dump` writes it -------------

KIND = "ProbeResult"


def _ref_doc(ref: Ref) -> dict[str, str]:
    return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def _observation_doc(o: Observation) -> Obj:
    doc: Obj = {
        "pod": o.pod.name,
        "node": o.pod.node,
        "path": o.test.path,
        "object": _ref_doc(o.test.ref),
        "test": o.test.arg,
        "target": o.test.what,
    }
    if o.test.port:
        doc["port"] = o.test.port
    if o.test.node:
        doc["targetNode"] = o.test.node
    r = o.result
    doc["ok"] = None if r is None else r.ok
    if r is not None:
        doc["ms"] = r.ms
        if r.error:
            doc["error"] = r.error
        if r.status is not None:
            doc["status"] = r.status
        if r.address:
            doc["address"] = r.address
    return doc


def to_fact(target: Ref, run_id: str, *, run: ProbeRun | None = None, unavailable: str | None = None) -> Obj:
    """The ProbeResult of a run of the probe of `target`: its plan, every observation, and the Pods that reported
    nothing (`failures`); or, when the probe could not run at all, why (`unavailable`)."""
    doc: Obj = {
        "apiVersion": FACTS_API,
        "kind": KIND,
        "metadata": {"name": f"tke-net-probe-{run_id}", "namespace": target.namespace},
        "probed": _ref_doc(target),
    }
    if run is not None:
        doc["pods"] = [{"name": p.name, "node": p.node, "hostsBackend": p.hosts_backend} for p in run.plan.pods]
        doc["notes"] = list(run.plan.notes)
        doc["observations"] = [_observation_doc(o) for o in run.observations]
        doc["failures"] = list(run.failures)
        if run.rules:
            doc["rules"] = [_rules_doc(r) for r in run.rules]
    if unavailable is not None:
        doc["unavailable"] = unavailable
    return doc


def _rules_doc(r: RulesObservation) -> Obj:
    doc: Obj = {
        "pod": r.pod.name,
        "node": r.pod.node,
        "nodeAddress": r.pod.address,
        "services": [_ref_doc(s) for s in r.pod.services],
    }
    if r.rules is None:
        doc["error"] = r.error
        return doc
    doc["mode"] = r.rules.mode
    doc["tools"] = dict(r.rules.tools)
    doc["entries"] = [
        {"kind": e.kind, "address": e.address, "protocol": e.protocol, "port": e.port, "endpoints": list(e.endpoints)}
        for e in r.rules.entries
    ]
    doc["kubeIpvs0"] = None if r.rules.bound is None else list(r.rules.bound)
    return doc


def _rules_of(doc: Obj) -> RulesObservation:
    pod = RulesPod(
        str(doc["pod"]),
        str(doc["node"]),
        _text(doc.get("nodeAddress")),
        tuple(_ref(s) for s in doc.get("services") or []),
        (),
    )
    if doc.get("error") is not None or "mode" not in doc:
        return RulesObservation(pod, None, _text(doc.get("error")))
    entries = []
    for e in doc.get("entries") or []:
        kind = str(e["kind"])
        if kind not in (ADDRESS, NODE_PORT):
            raise ValueError(_("unknown rules entry kind {kind}").format(kind=repr(kind)))
        entries.append(
            Entry(
                kind,
                _text(e.get("address")),
                str(e["protocol"]),
                int(e["port"]),
                tuple(str(x) for x in e.get("endpoints") or []),
            )
        )
    bound = doc.get("kubeIpvs0")
    mode = doc.get("mode")
    rules = NodeRules(
        None if mode is None else str(mode),
        tuple(entries),
        None if bound is None else tuple(str(a) for a in bound),
        tuple((str(k), int(v)) for k, v in (doc.get("tools") or {}).items()),
    )
    return RulesObservation(pod, rules)


def _ref(doc: Any) -> Ref:
    if not isinstance(doc, dict):
        raise ValueError(_("an object reference must be a map of kind, namespace and name"))
    return Ref(str(doc["kind"]), str(doc.get("namespace") or ""), str(doc["name"]))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _decode(doc: Obj) -> tuple[Ref, ProbeRun | None, str | None]:
    target = _ref(doc["probed"])
    unavailable = doc.get("unavailable")
    if unavailable is not None:
        return target, None, str(unavailable)
    pods = {
        str(p["name"]): ProbePod(str(p["name"]), str(p["node"]), p.get("hostsBackend") is True, ())
        for p in doc.get("pods") or []
    }
    tests: dict[str, list[ProbeTest]] = {name: [] for name in pods}
    found: list[tuple[str, ProbeTest, Result | None]] = []
    for o in doc.get("observations") or []:
        pod = str(o["pod"])
        if pod not in pods:
            raise ValueError(_("observation of probe Pod {pod}, which is not among its pods").format(pod=pod))
        path = str(o["path"])
        if path not in PATHS:
            raise ValueError(_("unknown path {path}").format(path=repr(path)))
        test = ProbeTest(
            _text(o.get("test")),
            path,
            _ref(o["object"]),
            _text(o.get("target")),
            _text(o.get("port")),
            _text(o.get("targetNode")),
        )
        ok = o.get("ok")
        status = o.get("status")
        result = (
            None
            if ok is None
            else Result(
                ok is True,
                int(o.get("ms") or 0),
                _text(o.get("error")),
                int(status) if status is not None else None,
                _text(o.get("address")),
            )
        )
        tests[pod].append(test)
        found.append((pod, test, result))
    full = {name: replace(pod, tests=tuple(tests[name])) for name, pod in pods.items()}
    rules = tuple(_rules_of(r) for r in doc.get("rules") or [])
    plan = Plan(
        target.namespace,
        str((doc.get("metadata") or {}).get("name") or ""),
        target,
        tuple(full.values()),
        tuple(str(n) for n in doc.get("notes") or []),
        tuple(r.pod for r in rules),
    )
    observations = tuple(Observation(full[pod], test, result) for pod, test, result in found)
    failures = tuple(str(f) for f in doc.get("failures") or [])
    return target, ProbeRun(plan, observations, failures, rules), None


def from_fact(doc: Obj) -> tuple[Ref, ProbeRun | None, str | None]:
    """A ProbeResult read back: (the object probed, the run or None, why it could not run or None).

    A snapshot file may hold one written by hand: what does not fit is a UsageError that names it."""
    try:
        return _decode(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        found = doc.get("metadata")
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        name = "/".join(str(meta[k]) for k in ("namespace", "name") if meta.get(k)) or _("(no name)")
        reason = _("no field {field}").format(field=exc.args[0]) if isinstance(exc, KeyError) else str(exc)
        raise UsageError(
            _("malformed snapshot: ProbeResult {name}: {reason}").format(name=name, reason=reason)
        ) from None
