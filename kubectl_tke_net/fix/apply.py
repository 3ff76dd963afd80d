"""The only write path of tke-net: server-side dry run, backup file, then preconditioned patches.

A backup file is two comment lines, then one YAML header object that holds what the action is about to change:

    apiVersion: tke-net/v1
    kind: Backup
    action: kube-proxy                    # the fix action that wrote it
    context: prod                         # the kubeconfig context, and the URL of its API server
    server: https://cls-abc.ccs.tencent-cloud.com
    createdAt: '2026-12-01T09:30:00Z'
    objects:
    - apiVersion: apps/v1                 # each object as it was read ...
      kind: DaemonSet
      namespace: kube-system
      name: kube-proxy
      resourceVersion: '123'
      fields:                             # ... and exactly the fields its patch sets
      - path: [spec, template, spec, containers, {name: kube-proxy}, image]
        before: ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.5
        after: ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.18.4-tke.20

A path is map keys, and `{name: N}` for the element named N of a list. `before` (or `after`) is left out when
the field was not there (an annotation the action added). `fix rollback` sets each field back to `before` where
it still holds `after`; every other field stays as the cluster has it now (`fix.plan.plan_rollback`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import yaml

from kubectl_tke_net.fix.diff import Dumper
from kubectl_tke_net.fix.plan import Change, Plan
from kubectl_tke_net.i18n import _
from kubectl_tke_net.kinds import KINDS, KUBE_SYSTEM, Kind, Obj
from kubectl_tke_net.model import AccessError
from kubectl_tke_net.sources.files import save_backup

DEFAULT_BACKUP_DIR = "~/.kube/tke-net/backups"
POLL_INTERVAL = 2.0
OK = ("dry-run", "applied")
# Indirections so that tests can run --wait without sleeping.
_sleep: Callable[[float], None] = time.sleep
_clock: Callable[[], float] = time.monotonic


class Writer(Protocol):
    """What apply needs of a cluster (`cluster.Cluster`, or a fake in tests)."""

    host: str  # the API server URL, recorded in backups

    def patch(self, path: str, body: Obj, dry_run: bool = False, strategic: bool = False) -> tuple[int, Any]: ...

    def list(self, kind: Kind, namespace: str | None) -> list[Obj]: ...


@dataclass(frozen=True)
class Result:
    """What became of one change: dry-run | applied | conflict | forbidden | failed | not-run."""

    change: Change
    status: str
    message: str = ""
    answer: Obj | None = None

    @property
    def ok(self) -> bool:
        return self.status in OK


@dataclass(frozen=True)
class Outcome:
    results: tuple[Result, ...]
    backup: str | None = None

    @property
    def written(self) -> bool:
        return any(r.status == "applied" for r in self.results)


def _message(payload: Any) -> str:
    if isinstance(payload, dict) and payload.get("message"):
        return str(payload["message"])
    return ""


def _send(cluster: Writer, change: Change, dry_run: bool) -> Result:
    if not change.resource_version:
        return Result(change, "failed", _("it was read without a resourceVersion, so it cannot be written safely"))
    try:
        status, payload = cluster.patch(change.path, change.patch, dry_run=dry_run, strategic=change.strategic)
    except AccessError as exc:
        if dry_run:
            raise
        return Result(
            change,
            "failed",
            _("{error}; the write may or may not have been made: run the action again to see what is left").format(
                error=exc
            ),
        )
    if 200 <= status < 300:
        return Result(change, "dry-run" if dry_run else "applied", answer=payload)
    detail = _message(payload)
    if status == 409:
        return Result(
            change,
            "conflict",
            _(
                "it changed after it was read (resourceVersion {rv}); nothing was "
                "overwritten: run the action again to plan on the current object"
            ).format(rv=change.resource_version),
        )
    if status == 403:
        return Result(change, "forbidden", detail or _("cannot patch {ref}").format(ref=change.ref))
    if status == 404:
        return Result(change, "failed", _("it no longer exists"))
    return Result(
        change,
        "failed",
        _("the API server refused the change ({status}){detail}").format(
            status=status, detail=": " + detail if detail else ""
        ),
    )


class _Path(list[Any]):
    """A field's path, which a backup shows on one line: [spec, template, spec, containers, {name: x}, image]."""


class _Dumper(Dumper):
    pass


_Dumper.add_representer(
    _Path, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def write_backup(
    changes: list[Change],
    directory: str,
    context: str | None,
    server: str,
    action: str,
    *,
    now: datetime | None = None,
) -> str:
    """The fields about to change, with their values before and after, in a new file (mode 0600); its path."""
    now = now or datetime.now(UTC)
    doc = backup_document(changes, context, server, action, now)
    header = (
        f"# kubectl tke-net fix {action}: the fields it changes, as they were before, "
        f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')}, context {context or '(in-cluster)'}\n"
        "# restore: kubectl tke-net fix rollback FILE [--apply]\n"
    )
    text = header + yaml.dump(
        doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
    )
    return save_backup(text, directory, context, now)


def backup_document(changes: list[Change], context: str | None, server: str, action: str, now: datetime) -> Obj:
    """The Backup header object of the changes (the module docstring describes it)."""
    objects = [
        {
            "apiVersion": c.before.get("apiVersion"),
            "kind": c.kind,
            "namespace": c.namespace,
            "name": c.name,
            "resourceVersion": c.resource_version,
            "fields": [{**f.saved(), "path": _Path(f.path)} for f in c.fields],
        }
        for c in changes
    ]
    return {
        "apiVersion": "tke-net/v1",
        "kind": "Backup",
        "action": action,
        "context": context,
        "server": server,
        "createdAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "objects": objects,
    }


def apply(
    cluster: Writer, plan: Plan, mode: str, backup_dir: str = DEFAULT_BACKUP_DIR, context: str | None = None
) -> Outcome:
    """mode "server": dry-run every change on the server. mode "apply": the same dry run for every change;
    only if all pass, save the backup, then patch each for real and stop at the first failure."""
    checked = tuple(_send(cluster, change, dry_run=True) for change in plan.changes)
    if mode == "server" or not checked:
        return Outcome(checked)
    if not all(r.ok for r in checked):
        held = _("not written: the server-side dry run of another change failed")
        return Outcome(tuple(r if not r.ok else Result(r.change, "not-run", held) for r in checked))
    backup = write_backup(list(plan.changes), backup_dir, context, cluster.host, plan.action)
    results: list[Result] = []
    for change in plan.changes:
        if results and not results[-1].ok:
            results.append(Result(change, "not-run", _("not written: an earlier write failed")))
            continue
        results.append(_send(cluster, change, dry_run=False))
    return Outcome(tuple(results), backup)


# --- --wait ----------------------------------------------------------------------------------------


def _rollout(ds: Obj, generation: int) -> tuple[bool, str]:
    status = ds.get("status") or {}
    observed = int(status.get("observedGeneration") or 0)
    desired = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    done = observed >= generation and updated == desired == available
    return done, _("{updated} of {desired} updated, {available} available").format(
        updated=updated, desired=desired, available=available
    )


def wait_rollout(cluster: Writer, generation: int, timeout: float, log: Callable[[str], None]) -> str | None:
    """Poll the kube-proxy DaemonSet until its rollout is done; None when done, else why not."""
    deadline = _clock() + timeout
    progress = _("no status yet")
    while True:
        for ds in cluster.list(KINDS["daemonsets"], KUBE_SYSTEM):
            if (ds.get("metadata") or {}).get("name") == "kube-proxy":
                done, progress = _rollout(ds, generation)
                if done:
                    log(_("kube-proxy rollout done: {progress}").format(progress=progress))
                    return None
        if _clock() >= deadline:
            return _("the kube-proxy rollout did not finish within --wait ({progress})").format(progress=progress)
        log(_("waiting for the kube-proxy rollout: {progress}").format(progress=progress))
        _sleep(POLL_INTERVAL)


def wait_pending(replan: Callable[[], Plan], timeout: float, log: Callable[[str], None]) -> Plan:
    """Plan again every POLL_INTERVAL until no object is pending (or the time is up); the last plan."""
    deadline = _clock() + timeout
    while True:
        plan = replan()
        if not plan.pending or _clock() >= deadline:
            return plan
        log(_("waiting for {objects}").format(objects=", ".join(plan.pending)))
        _sleep(POLL_INTERVAL)
