"""`kubectl tke-net fix ACTION`: checks the flags, plans, shows, applies (--apply), waits, and renders the result."""

from __future__ import annotations

import argparse
import copy
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubectl_tke_net import render
from kubectl_tke_net.checks.context import Context, Selector
from kubectl_tke_net.fix import apply as applier
from kubectl_tke_net.fix.diff import unified
from kubectl_tke_net.fix.plan import RESTORABLE, ROLLOUT_STATUS, Change, Options, Plan, Refusal, make_plan
from kubectl_tke_net.i18n import _, ngettext
from kubectl_tke_net.model import UsageError
from kubectl_tke_net.snapshot import KINDS, Obj, Snapshot, clean, documents
from kubectl_tke_net.terminal import escape, escape_lines

OpenSource = Callable[[argparse.Namespace], tuple[Any, dict[str, Any]]]
_ONLY_FOR = (
    ("target_version", "--version", ("kube-proxy",)),
    ("all_lb", "--all-lb", ("prevent-loopback",)),
    ("force", "--force", ("prevent-loopback", "rollback")),
    ("host", "--host", ("coredns-rewrite",)),
    ("service", "--service", ("coredns-rewrite",)),
    ("wait", "--wait", ("kube-proxy", "ingress-keepalive")),
)


@dataclass
class Outcome:
    """Everything one run did, in order: changes with their results, refusals, notes, backup files."""

    mode: str
    action: str
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


def _check_flags(args: argparse.Namespace) -> tuple[str, float | None]:
    """The mode (client, server, apply) and the --wait seconds; UsageError for what cannot go together."""
    from kubectl_tke_net.sources.cluster import parse_duration

    action = args.action
    for dest, flag, actions in _ONLY_FOR:
        if getattr(args, dest) and action not in actions:
            raise UsageError(
                _("{flag} is for fix {actions}, not fix {action}").format(
                    flag=flag, actions=" and ".join(actions), action=action
                )
            )
    if action == "rollback" and len(args.names) != 1:
        raise UsageError(_("fix rollback takes one backup FILE"))
    if action in ("kube-proxy", "coredns-rewrite") and args.names:
        raise UsageError(_("fix {action} takes no NAME ({names})").format(action=action, names=" ".join(args.names)))
    if args.all_lb and args.names:
        raise UsageError(_("--all-lb and Service NAMEs cannot be used together"))
    if action == "coredns-rewrite" and not (args.host and args.service):
        raise UsageError(_("fix coredns-rewrite needs --host DOMAIN and --service NAME"))
    if args.all_namespaces and args.namespace:
        raise UsageError(_("--namespace and --all-namespaces cannot be used together"))
    if args.all_namespaces and action in ("coredns-rewrite", "rollback"):
        raise UsageError(_("fix {action} cannot be used with --all-namespaces").format(action=action))
    if action == "rollback" and args.namespace:
        raise UsageError(_("fix rollback restores the objects of FILE in their own namespaces; drop --namespace"))
    if args.apply and args.dry_run == "server":
        raise UsageError(_("--apply already sends every change as a server-side dry run first; drop --dry-run=server"))
    if args.snapshot and (args.apply or args.dry_run == "server"):
        flag = "--apply" if args.apply else "--dry-run=server"
        raise UsageError(_("{flag} needs a cluster; with --snapshot the plan is only shown").format(flag=flag))
    wait = None
    if args.wait:
        if not args.apply:
            raise UsageError(_("--wait waits for what --apply changed; add --apply"))
        try:
            wait = parse_duration(args.wait)
        except ValueError as exc:
            raise UsageError(f"--wait: {exc}") from exc
    mode = "apply" if args.apply else "server" if args.dry_run == "server" else "client"
    return mode, wait


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


def _check_server(args: argparse.Namespace, backup: Obj, cluster: Any) -> None:
    """A backup goes back only to the API server it was taken from, unless --force."""
    saved, current = str(backup["server"]).rstrip("/"), str(cluster.host).rstrip("/")
    if saved != current and not args.force:
        raise UsageError(
            _(
                'backup {path} was taken from the API server {saved}, but context "{context}" is {server}; '
                "choose the right --context, or pass --force to restore it there anyway"
            ).format(path=args.names[0], saved=saved, context=cluster.target.context or "(in-cluster)", server=current)
        )


def _rollback_scope(args: argparse.Namespace, items: tuple[Obj, ...]) -> None:
    """LIST each kind once: in the backup's one namespace, or in all when it spans several."""
    namespaces = {
        i.get("namespace") or ""
        for i in items
        if any(k.kind == i.get("kind") and k.scope == "namespaced" for k in KINDS.values())
    }
    if len(namespaces) == 1:
        args.namespace = namespaces.pop()
    elif namespaces:
        args.all_namespaces = True


def run(args: argparse.Namespace, open_source: OpenSource) -> int:
    mode, wait = _check_flags(args)
    header: Obj = {}
    if args.action == "rollback":
        header = read_backup(args.names[0])
        _rollback_scope(args, tuple(header["objects"]))
    selector = Selector.parse(args.selector) if args.selector else None
    opts = Options(
        names=tuple(args.names) if args.action != "rollback" else (),
        version=args.target_version,
        all_lb=args.all_lb,
        force=args.force,
        host=args.host,
        service=args.service,
        backup=tuple(header.get("objects") or ()),
    )
    snap, source = open_source(args)
    if header and not args.snapshot:
        _check_server(args, header, snap.source)
    plan = make_plan(args.action, Context(snap, None, selector), opts)
    outcome = Outcome(mode, args.action)
    if mode == "client":
        outcome.add(plan, None)
    else:
        cluster = snap.source
        done = applier.apply(cluster, plan, mode, args.backup_dir, source.get("context"))
        outcome.add(plan, done)
        if wait and all(r.ok for r in done.results):
            ctx = _Run(args, cluster, snap.namespace, selector, opts, source.get("context"))
            _wait(ctx, plan, done, wait, outcome)
    _render(args, outcome)
    return 1 if outcome.failed else 0


def _progress() -> Callable[[str], None]:
    last = [""]

    def log(line: str) -> None:
        if line != last[0]:
            print(f"tke-net: {escape(line)}", file=sys.stderr)
            last[0] = line

    return log


@dataclass(frozen=True)
class _Run:
    """What --wait needs to list and plan again."""

    args: argparse.Namespace
    cluster: Any
    namespace: str | None
    selector: Selector | None
    opts: Options
    context: str | None


def _wait(run: _Run, plan: Plan, done: applier.Outcome, seconds: float, outcome: Outcome) -> None:
    log = _progress()
    if run.args.action == "kube-proxy":
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
        return make_plan(run.args.action, Context(snap, None, run.selector), run.opts)

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
                ).format(kind=kind, ns=ns, name=name, wait=run.args.wait),
            )
        )
    if again.changes:
        outcome.add(again, applier.apply(run.cluster, again, "apply", run.args.backup_dir, run.context))


# --- rendering -------------------------------------------------------------------------------------


def _diff(change: Change, result: applier.Result | None) -> str:
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
            "diff": _diff(change, result),
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


def text(outcome: Outcome, from_snapshot: bool) -> str:
    out: list[str] = [_diff(c, r) for c, r in outcome.entries]
    if outcome.entries:
        out.append("\n")
    for refusal in outcome.refused:
        out.append(_("refused: {ref}: {reason}").format(ref=refusal.ref, reason=refusal.reason) + "\n")
    for change, result in outcome.entries:
        if result is not None and not result.ok:
            out.append(f"{result.status}: {change.ref}: {result.message}\n")
    for failure in outcome.failures:
        out.append(_("failed: {ref}: {reason}").format(ref=failure.ref, reason=failure.reason) + "\n")
    for note in outcome.notes:
        out.append(_("note: {note}").format(note=note) + "\n")
    changes = [c for c, _result in outcome.entries]
    if outcome.mode == "client":
        if not changes:
            out.append(_("Nothing to change.") + "\n")
        else:
            out.append(
                ngettext(
                    "{n} change planned; nothing was written (client-side dry run).",
                    "{n} changes planned; nothing was written (client-side dry run).",
                    len(changes),
                ).format(n=len(changes))
                + "\n"
            )
            out.append(_would(changes, from_snapshot))
    elif outcome.mode == "server":
        accepted = sum(1 for _change, r in outcome.entries if r is not None and r.ok)
        out.append(
            ngettext(
                "{accepted} of {n} change accepted by the API server's dry run (dryRun=All); nothing was written.",
                "{accepted} of {n} changes accepted by the API server's dry run (dryRun=All); nothing was written.",
                len(changes),
            ).format(accepted=accepted, n=len(changes))
            + "\n"
            if changes
            else _("Nothing to change.") + "\n"
        )
    else:
        for path in outcome.backups:
            out.append(_("backup: {path}").format(path=path) + "\n")
        written = [c for c, r in outcome.entries if r is not None and r.status == "applied"]
        if not changes:
            out.append(_("Nothing to change.") + "\n")
        else:
            out.append(
                ngettext("{written} of {n} change applied.", "{written} of {n} changes applied.", len(changes)).format(
                    written=len(written), n=len(changes)
                )
                + "\n"
            )
        for path in outcome.backups:
            out.append(_("undo: {command}").format(command=f"kubectl tke-net fix rollback {path} --apply") + "\n")
        if outcome.action == "kube-proxy" and written:
            out.append(_("watch the rollout: {command}").format(command=ROLLOUT_STATUS) + "\n")
    return "".join(out)


def _would(changes: list[Change], from_snapshot: bool) -> str:
    lines = [
        _("--apply would:") + (_(" (it needs a cluster, not --snapshot)") if from_snapshot else ""),
        _("  1. send every change to the API server as a dry run (dryRun=All) and stop if any is rejected;"),
        _(
            "  2. save the fields that change, with their values before, to a new backup file in\n"
            "     {dir} (--backup-dir);"
        ).format(dir=applier.DEFAULT_BACKUP_DIR),
        _(
            "  3. patch only those fields (strategic merge patch; JSON merge patch for TkeServiceConfig), as field\n"
            "     manager kubectl-tke-net and on the condition that each object still has the resourceVersion\n"
            "     read, so that a concurrent edit is a conflict, never overwritten:"
        ),
    ]
    for change in changes:
        rv = change.resource_version or _("(none in the snapshot)")
        lines.append(f"     PATCH {change.ref} resourceVersion {rv}")
    return "\n".join(lines) + "\n"


def _render(args: argparse.Namespace, outcome: Outcome) -> None:
    if args.output in ("json", "yaml"):
        sys.stdout.write(render.FORMATS[args.output](document(outcome), False))
    else:
        sys.stdout.write(escape_lines(text(outcome, bool(args.snapshot))))
