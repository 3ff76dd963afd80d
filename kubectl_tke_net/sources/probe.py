"""The probe's I/O: creates the probe Pods, watches them by LIST, reads their results, always deletes them, and
adds what they reported to the snapshot as a ProbeResult item before any check runs."""

from __future__ import annotations

import contextlib
import math
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol, runtime_checkable

from kubectl_tke_net.facts import Context
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.i18n import _
from kubectl_tke_net.k8s import meta
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import TkeNetError, Unavailable, UsageError
from kubectl_tke_net.probe import ProbeOptions
from kubectl_tke_net.probe.plan import (
    CONTAINER,
    RULES_CONTAINER,
    RULES_NAMESPACE,
    RUN_LABEL,
    Plan,
    make_plan,
    manifest,
    rules_manifest,
)
from kubectl_tke_net.probe.result import Observation, ProbeRun, RulesObservation, observe, observe_rules, parse, to_fact
from kubectl_tke_net.snapshot import Snapshot

POLL_SECONDS = 1.0
# Waiting states the kubelet does not get out of by itself within a probe's lifetime.
_STUCK = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
}
_PULL = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName"}

Log = Callable[[str], None]


@runtime_checkable
class Api(Protocol):
    """What the probe needs of a cluster (`cluster.Cluster`)."""

    def create(self, path: str, body: Obj) -> tuple[int, Any]: ...

    def delete(self, path: str) -> tuple[int, Any]: ...

    def list_labelled(self, path: str, label_selector: str) -> list[Obj]: ...


def script(name: str = "probe.sh") -> str:
    """probe.sh, the script every probe Pod runs (rules.sh: every --probe-rules Pod)."""
    return resources.files("kubectl_tke_net.probe").joinpath(name).read_text(encoding="utf-8")


def probe(snap: Snapshot, command: str, name: str, options: ProbeOptions, *, log: Log, note: Log, warn: Log) -> Obj:
    """Probe `command` NAME ("service" or "ingress") in the snapshot's namespace and add the ProbeResult to the
    snapshot (also when the probe cannot run: it then says why, and the probe checks are skipped with that).

    `note` gets the plan's notes as soon as the plan is made (what is not tested, and why), before the Pods run.
    """
    namespace = snap.namespace or "default"
    run_id = secrets.token_hex(3)
    target = Ref("Service" if command == "service" else "Ingress", namespace, name)
    try:
        plan = make_plan(
            Context(snap), command, name, namespace, run_id=run_id, requested_nodes=options.nodes, rules=options.rules
        )
    except Unavailable as exc:
        return _record(snap, to_fact(target, run_id, unavailable=exc.reason))
    for line in plan.notes:
        note(line)
    for pod in plan.rules:
        note(
            _(
                "--probe-rules: a privileged hostNetwork Pod {namespace}/{name} on node {node} reads its kube-proxy "
                "rules (iptables-save, nft list ruleset, ipvsadm -Ln) with the node's root mounted read-only; it "
                "changes nothing and is deleted when done"
            ).format(namespace=RULES_NAMESPACE, name=pod.name, node=pod.node)
        )
    if not isinstance(snap.source, Api):
        raise UsageError(_("--probe needs a cluster to run Pods in"))
    try:
        probed = run(snap.source, plan, image=options.image, timeout=options.timeout, log=log, warn=warn)
    except Unavailable as exc:
        return _record(snap, to_fact(plan.target, run_id, unavailable=exc.reason))
    return _record(snap, to_fact(plan.target, run_id, run=probed))


def _record(snap: Snapshot, fact: Obj) -> Obj:
    snap.add_facts(fact)
    return fact


def run(
    api: Api, plan: Plan, *, image: str, timeout: float, log: Log, warn: Log, poll: float = POLL_SECONDS
) -> ProbeRun:
    """Create the plan's Pods (and its --probe-rules Pods), wait for them up to `timeout` seconds, and delete them
    whatever happens.

    Ctrl-C and SIGTERM end the wait through the same `finally`; while the Pods are deleted both are held
    back, so that a second Ctrl-C cannot leave Pods behind. A Pod left behind all the same (the plugin
    was killed) ends itself through activeDeadlineSeconds.
    """
    deadline = math.ceil(timeout) + 30
    text = script()
    wanted: list[_Pod] = [
        _Pod(
            plan.namespace, p.name, p.node, manifest(plan, p, image, deadline, text), _reported, f"{len(p.tests)} tests"
        )
        for p in plan.pods
    ]
    if plan.rules:
        rules_text = script("rules.sh")
        wanted += [
            _Pod(RULES_NAMESPACE, r.name, r.node, rules_manifest(plan, r, image, deadline, rules_text), bool, "rules")
            for r in plan.rules
        ]
    sent: list[_Pod] = []
    refused: dict[str, str] = {}  # rules Pods that could not be created, and why
    with _terminate_as_interrupt():
        try:
            for pod in wanted:
                sent.append(pod)
                status, body = api.create(_pods(pod.namespace), pod.manifest)
                if status >= 400:
                    sent.remove(pod)
                    if pod.what != "rules":
                        raise Unavailable("pods", _create_error(status, body, pod.namespace))
                    # A rules Pod that may not be created leaves the probe itself whole: TKE127 says why.
                    refused[pod.name] = _("{error}; --probe-rules needs deploy/rbac/probe-rules.yaml").format(
                        error=_create_error(status, body, pod.namespace)
                    )
                    continue
                log(f"probe: Pod {pod.namespace}/{pod.name} on node {pod.node}: {pod.what}")
            messages, failed = _wait(api, plan, sent, timeout, log, poll=poll)
        finally:
            if sent:
                _delete(api, plan, sent, log, warn)
    observations: list[Observation] = []
    for probe_pod in plan.pods:
        observations.extend(observe(probe_pod, messages.get(probe_pod.name)))
    rules: list[RulesObservation] = []
    for r in plan.rules:
        why = refused.get(r.name) or failed.get(r.name)
        rules.append(RulesObservation(r, None, why) if why else observe_rules(r, messages.get(r.name)))
    failures = [text for name, text in failed.items() if name not in {r.name for r in plan.rules}]
    return ProbeRun(plan, tuple(observations), tuple(failures), tuple(rules))


@dataclass(frozen=True)
class _Pod:
    namespace: str
    name: str
    node: str
    manifest: Obj
    complete: Callable[[str], bool]  # whether a termination message is the whole report
    what: str  # for -v: "7 tests", "rules"


def _reported(message: str) -> bool:
    return parse(message)[1]


def _pods(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods"


def _create_error(status: int, body: Any, namespace: str) -> str:
    message = body.get("message") if isinstance(body, dict) else None
    if status == 403:
        # "forbidden: " and the API server's message stay as sent; the rest is ours.
        return "forbidden: " + _(
            "cannot create the probe Pods: {message} (the probe needs create, list and delete "
            "on pods in namespace {namespace})"
        ).format(message=message or _("no right to create pods"), namespace=namespace)
    return _("cannot create the probe Pods: {status} {message}").format(status=status, message=message or "").rstrip()


def _selector(plan: Plan) -> str:
    return f"{RUN_LABEL}={plan.run_id}"


def _wait(
    api: Api, plan: Plan, pods: list[_Pod], timeout: float, log: Log, *, poll: float
) -> tuple[dict[str, str], dict[str, str]]:
    """Poll a LIST of this run's Pods until each has finished or cannot; (termination messages, failures), each by
    Pod name."""
    end = time.monotonic() + timeout
    pending = {p.name: p for p in pods}
    messages: dict[str, str] = {}
    failures: dict[str, str] = {}
    last: dict[str, Obj] = {}
    namespaces = list(dict.fromkeys(p.namespace for p in pods))
    while True:
        found = {
            str(meta(o).get("name")): o for ns in namespaces for o in api.list_labelled(_pods(ns), _selector(plan))
        }
        for name, pod in list(pending.items()):
            obj = found.get(name)
            if obj is None:
                failures[name] = _("probe Pod {name} on node {node} disappeared before it finished").format(
                    name=name, node=pod.node
                )
                del pending[name]
                continue
            last[name] = obj
            done, message, problem = _state(obj, pod.complete)
            if not done:
                continue
            del pending[name]
            if message:
                messages[name] = message
            if problem:
                failures[name] = _("probe Pod {name} on node {node}: {problem}").format(
                    name=name, node=pod.node, problem=problem
                )
            log(f"probe: Pod {name} finished: {_phase(obj)}")
        if not pending:
            return messages, failures
        left = end - time.monotonic()
        if left <= 0:
            for name, pod in pending.items():
                failures[name] = _(
                    "probe Pod {name} on node {node} did not finish within {timeout}s "
                    "({phase}); raise --probe-timeout, or check the node"
                ).format(name=name, node=pod.node, timeout=f"{timeout:g}", phase=_phase(last.get(name, {})))
            return messages, failures
        time.sleep(min(poll, left))


def _container_status(obj: Obj) -> dict[str, Any]:
    for cs in (obj.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") in (CONTAINER, RULES_CONTAINER):
            return cs  # type: ignore[no-any-return]
    return {}


def _phase(obj: Obj) -> str:
    status = obj.get("status") or {}
    state = _container_status(obj).get("state") or {}
    detail = (state.get("waiting") or state.get("terminated") or {}).get("reason") or status.get("reason")
    return f"{status.get('phase') or 'Pending'}" + (f", {detail}" if detail else "")


def _state(obj: Obj, complete: Callable[[str], bool] = _reported) -> tuple[bool, str | None, str | None]:
    """(finished, termination message, what went wrong) of a probe Pod."""
    status = obj.get("status") or {}
    state = _container_status(obj).get("state") or {}
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        terminated = state.get("terminated") or {}
        message = terminated.get("message")
        if message and complete(message):
            return True, message, None
        why = terminated.get("reason") or status.get("reason") or phase
        extra = f": {status.get('message')}" if status.get("message") else ""
        return True, message, _("{phase} ({why}) before reporting every test").format(phase=phase, why=f"{why}{extra}")
    waiting = state.get("waiting") or {}
    if waiting.get("reason") in _STUCK:
        problem = f"{waiting['reason']}: " + str(waiting.get("message") or _("no detail"))
        if waiting["reason"] in _PULL:
            problem += _(
                "; mirror the image to a registry the nodes can reach (e.g. ccr.ccs.tencentyun.com) and "
                "pass --probe-image"
            )
        return True, None, problem
    return False, None, None


def _delete(api: Api, plan: Plan, pods: list[_Pod], log: Log, warn: Log) -> None:
    """Delete the Pods at once (grace period 0: a probe has nothing to finish), then check none is left."""
    namespaces = list(dict.fromkeys(p.namespace for p in pods))
    command = " && ".join(f"kubectl delete pod -n {ns} -l {_selector(plan)}" for ns in namespaces)
    with _signals_held():
        try:
            for pod in pods:
                status, body = api.delete(f"{_pods(pod.namespace)}/{pod.name}")
                if status in (200, 202, 404):
                    log(f"probe: Pod {pod.namespace}/{pod.name} deleted ({status})")
                else:
                    message = body.get("message") if isinstance(body, dict) else ""
                    warn(
                        _("cannot delete probe Pod {namespace}/{name}: {status} {message}; {command}").format(
                            namespace=pod.namespace, name=pod.name, status=status, message=message, command=command
                        )
                    )
            left = [
                str(meta(o).get("name"))
                for ns in namespaces
                for o in api.list_labelled(_pods(ns), _selector(plan))
                if not meta(o).get("deletionTimestamp")
            ]
        except (TkeNetError, Unavailable) as exc:
            warn(_("probe Pods may be left behind ({reason}); {command}").format(reason=exc, command=command))
            return
    if left:
        warn(_("probe Pods left behind: {pods}; {command}").format(pods=", ".join(left), command=command))


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the probe as Ctrl-C does, through the `finally` that deletes the Pods."""
    if not _on_main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done, then interrupt as usual."""
    if not _on_main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, _frame: object) -> None:
        caught.append(signum)

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if caught:
            raise KeyboardInterrupt
