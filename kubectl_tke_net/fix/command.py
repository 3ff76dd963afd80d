"""`kubectl tke-net fix ACTION`: checks the flags, plans, shows, applies (--apply), waits, and renders the result."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kubectl_tke_net.facts import Context
from kubectl_tke_net.fix import apply as applier
from kubectl_tke_net.fix.diff import unified
from kubectl_tke_net.fix.plan import RESTORABLE, Change, Options, Plan, Refusal, make_plan
from kubectl_tke_net.i18n import _
from kubectl_tke_net.k8s import Selector
from kubectl_tke_net.kinds import KINDS, Obj, clean
from kubectl_tke_net.model import UsageError
from kubectl_tke_net.snapshot import Snapshot
from kubectl_tke_net.sources.files import documents

# Opens the run's snapshot: in the scope of the flags, or (rollback) in the namespace a backup names, or in
# every namespace (True).
OpenSource = Callable[[str | bool | None], tuple[Snapshot, dict[str, Any]]]


@dataclass(frozen=True)
class FixRequest:
    """What the command line asked `fix` to do, checked (cli builds it; no argparse in here)."""

    action: str
    mode: str  # client | server | apply
    # What the planner takes: names, --version, --all-lb, --force, --host, --service.
    options: Options = field(default_factory=Options)
    wait: float | None = None
    wait_text: str | None = None
    backup_dir: str = applier.DEFAULT_BACKUP_DIR
    selector: str | None = None
    snapshot: bool = False


@dataclass
class Outcome:
    """Everything one run did, in order: changes with their results, refusals, notes, backup files."""

    mode: str
    action: str
    from_snapshot: bool = False
    entries: list[tuple[Change, applier.Result | None]] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    failures: list[Refusal] = field(default_factory=list)  # what --wait did not see happen

    def add(self, plan: Plan, done: applier.Outcome | None) -> None:
        results: list[applier.Result | None] = list(done.results) if done else [None] * len(plan.changes)
        self.entries.extend(zip(plan.changes, results, strict=True))
        self.refused.extend(r for r in plan.refused if r not in self.refused)
        self.notes.extend(n for n in plan.notes if n not in self.notes)
        if done and done.backup:
            self.backups.append(done.backup)

    @property
    def failed(self) -> bool:
        return bool(self.refused or self.failures) or any(r is not None and not r.ok for _change, r in self.entries)


def read_backup(path: str) -> Obj:
    """The Backup header of a file written by --apply (fix.apply describes it). Anything else is a UsageError,
    raised before any cluster is contacted."""
    # The snapshot reader's guards (nesting, alias bombs) protect this file too: it may come from anyone.
    docs = [
        doc
        for doc, _yaml in documents(
            Path(os.path.expanduser(path)),
            _("cannot read backup {path}: {reason}"),
            _("malformed backup {path}: {reason}"),
        )
        if doc is not None
    ]
    doc = docs[0] if len(docs) == 1 else None
    if not (isinstance(doc, dict) and doc.get("apiVersion") == "tke-net/v1" and doc.get("kind") == "Backup"):
        raise UsageError(
            _(
                "{path} is not a tke-net backup (kind Backup, apiVersion tke-net/v1): fix rollback restores only "
                "the files that fix --apply writes"
            ).format(path=path)
        )
    if not isinstance(doc.get("server"), str) or not doc["server"]:
        raise UsageError(_("malformed backup {path}: it names no API server (server)").format(path=path))
    objects = doc.get("objects")
    if not isinstance(objects, list) or not objects:
        raise UsageError(_("backup {path} holds no objects").format(path=path))
    if not all(_saved_object(o) for o in objects):
        raise UsageError(
            _(
                "malformed backup {path}: every object needs apiVersion, kind and name (and any namespace) as "
                "text, and fields, each with a path inside metadata.annotations, metadata.labels, spec or data"
            ).format(path=path)
        )
    return doc


def _saved_object(obj: Any) -> bool:
    if not isinstance(obj, dict) or not isinstance(obj.get("namespace") or "", str):
        return False
    fields = obj.get("fields")
    return (
        all(isinstance(obj.get(key), str) and obj[key] for key in ("apiVersion", "kind", "name"))
        and isinstance(fields, list)
        and all(_saved_field(f) for f in fields)
    )


def _saved_field(entry: Any) -> bool:
    path = entry.get("path") if isinstance(entry, dict) else None
    if not isinstance(path, list) or not path or not isinstance(path[-1], str):
        return False
    steps = all(
        isinstance(s, str) or (isinstance(s, dict) and list(s) == ["name"] and isinstance(s["name"], str)) for s in path
    )
    return steps and any(len(path) > len(p) and tuple(path[: len(p)]) == p for p in RESTORABLE)


def _check_server(request: FixRequest, backup: Obj, cluster: Any) -> None:
    """A backup goes back only to the API server it was taken from, unless --force."""
    saved, current = str(backup["server"]).rstrip("/"), str(cluster.host).rstrip("/")
    if saved != current and not request.options.force:
        raise UsageError(
            _(
                'backup {path} was taken from the API server {saved}, but context "{context}" is {server}; '
                "choose the right --context, or pass --force to restore it there anyway"
            ).format(
                path=request.options.names[0],
                saved=saved,
                context=cluster.target.context or "(in-cluster)",
                server=current,
            )
        )


def _rollback_scope(items: tuple[Obj, ...]) -> str | bool | None:
    """LIST each kind once: in the backup's one namespace, or in all (True) when it spans several."""
    namespaces = {
        i.get("namespace") or ""
        for i in items
        if any(k.kind == i.get("kind") and k.scope == "namespaced" for k in KINDS.values())
    }
    if len(namespaces) == 1:
        return namespaces.pop()
    return True if namespaces else None


def run(request: FixRequest, open_source: OpenSource, log: Callable[[str], None]) -> Outcome:
    """Plan the action on the run's snapshot; show it, dry-run it on the server or apply it (and --wait)."""
    header: Obj = {}
    scope: str | bool | None = None
    if request.action == "rollback":
        header = read_backup(request.options.names[0])
        scope = _rollback_scope(tuple(header["objects"]))
    selector = Selector.parse(request.selector) if request.selector else None
    opts = request.options
    if header:  # rollback: FILE is no object name; the planner restores what the backup holds
        opts = replace(opts, names=(), backup=tuple(header["objects"]))
    snap, source = open_source(scope)
    if header and not request.snapshot:
        _check_server(request, header, snap.source)
    plan = make_plan(request.action, Context(snap, None, selector), opts)
    outcome = Outcome(request.mode, request.action, request.snapshot)
    if request.mode == "client":
        outcome.add(plan, None)
    else:
        cluster: Any = snap.source  # a live run's source is the cluster (--snapshot runs stay client-side)
        done = applier.apply(cluster, plan, request.mode, request.backup_dir, source.get("context"))
        outcome.add(plan, done)
        if request.wait and all(r.ok for r in done.results):
            ctx = _Run(request, cluster, snap.namespace, selector, opts, source.get("context"), log)
            _wait(ctx, plan, done, request.wait, outcome)
    return outcome


@dataclass(frozen=True)
class _Run:
    """What --wait needs to list and plan again."""

    request: FixRequest
    cluster: Any
    namespace: str | None
    selector: Selector | None
    opts: Options
    context: str | None
    log: Callable[[str], None]


def _wait(run: _Run, plan: Plan, done: applier.Outcome, seconds: float, outcome: Outcome) -> None:
    log = run.log
    if run.request.action == "kube-proxy":
        written = [r for r in done.results if r.status == "applied"]
        if written:
            generation = int(((written[0].answer or {}).get("metadata") or {}).get("generation") or 0)
            why = applier.wait_rollout(run.cluster, generation, seconds, log)
            if why:
                outcome.failures.append(Refusal("DaemonSet", "kube-system", "kube-proxy", why))
        return
    if not plan.pending:
        return

    def replan() -> Plan:
        snap = Snapshot(run.cluster, run.namespace)
        return make_plan(run.request.action, Context(snap, None, run.selector), run.opts)

    again = applier.wait_pending(replan, seconds, log)
    for pending in again.pending:
        kind, ns, name = pending.split("/", 2)
        outcome.failures.append(
            Refusal(
                kind,
                ns,
                name,
                _(
                    "{kind} {ns}/{name} was not filled in by TKE's controller "
                    "within --wait {wait}; run the action again later"
                ).format(kind=kind, ns=ns, name=name, wait=run.request.wait_text),
            )
        )
    if again.changes:
        outcome.add(again, applier.apply(run.cluster, again, "apply", run.request.backup_dir, run.context))


# --- rendering -------------------------------------------------------------------------------------


def diff_of(change: Change, result: applier.Result | None) -> str:
    after = change.after
    if result is not None and result.ok and isinstance(result.answer, dict):
        # The server's answer, kept as the snapshot keeps objects, so that only the change shows.
        kind = next(k for k in KINDS.values() if k.kind == change.kind)
        after = clean(kind, copy.deepcopy(result.answer))
    return unified(change.ref, change.before, after)


def document(outcome: Outcome) -> Obj:
    changes = []
    for change, result in outcome.entries:
        entry: Obj = {
            "kind": change.kind,
            "namespace": change.namespace,
            "name": change.name,
            "diff": diff_of(change, result),
            "patch": change.patch,
            "patchType": "strategic" if change.strategic else "merge",
            "status": result.status if result else "planned",
        }
        if result is not None and result.message:
            entry["message"] = result.message
        changes.append(entry)
    refused = [
        {"kind": r.kind, "namespace": r.namespace, "name": r.name, "reason": r.reason}
        for r in outcome.refused + outcome.failures
    ]
    refused += [
        {"kind": c.kind, "namespace": c.namespace, "name": c.name, "reason": f"{r.status}: {r.message}"}
        for c, r in outcome.entries
        if r is not None and r.status in ("conflict", "forbidden", "failed")
    ]
    doc: Obj = {
        "apiVersion": "tke-net/v1",
        "kind": "FixPlan",
        "action": outcome.action,
        "mode": outcome.mode,
        "changes": changes,
        "refused": refused,
        "applied": any(r is not None and r.status == "applied" for _change, r in outcome.entries),
        "backup": outcome.backups[0] if outcome.backups else None,
        "notes": outcome.notes,
    }
    if len(outcome.backups) > 1:  # --wait applied a second round (ingress-keepalive)
        doc["backups"] = outcome.backups
    return doc
