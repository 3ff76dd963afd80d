"""Many clusters (SPEC 9.6): one run per kubeconfig context, side by side, each with its own client; the
FleetReport document and its exit status. No I/O of its own: each cluster's run is a function it is given."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubectl_tke_net.model import AccessError, AuthFailed, TkeNetError, UsageError
from kubectl_tke_net.terminal import escape

OK, UNREACHABLE, FORBIDDEN = "ok", "unreachable", "forbidden"
# Clusters read at once; each cluster also lists its kinds a few at a time (Cluster.parallel_reads).
MAX_WORKERS = 8


@dataclass
class ClusterRun:
    """What one context gave: its status, the one-line error (escaped, never a credential), the report, and the
    exit status it counts for (an unreachable or forbidden cluster counts 3, a usage error such as an unknown
    NAME 2)."""

    context: str
    cluster: str | None
    status: str = OK
    error: str | None = None
    report: dict[str, Any] | None = None
    exit: int = 0
    notes: tuple[str, ...] = ()
    # What the renderers of this cluster's report need besides it (the checks that ran, whether it examined any
    # object); not part of the document.
    extra: dict[str, Any] = field(default_factory=dict)


def failed(context: str, cluster: str | None, exc: TkeNetError) -> ClusterRun:
    """The ClusterRun of a context whose run ended in an error: a refused credential (401) is `forbidden`,
    anything else that kept the API server from answering is `unreachable`; a usage error keeps `ok` (the
    cluster answered) with the error and exit 2."""
    error = escape(exc)
    if isinstance(exc, AuthFailed):
        return ClusterRun(context, cluster, FORBIDDEN, error, None, 3)
    if isinstance(exc, AccessError):
        return ClusterRun(context, cluster, UNREACHABLE, error, None, 3)
    if isinstance(exc, UsageError):
        return ClusterRun(context, cluster, OK, error, None, 2)
    return ClusterRun(context, cluster, OK, error, None, exc.exit_status)


def forbidden(run: ClusterRun, reason: str) -> ClusterRun:
    """The run of a cluster that answered but refused to list the command's own kind (RBAC): its report only
    lists skipped checks, so the cluster is `forbidden` and counts 3, never a success on nothing."""
    run.status, run.error, run.exit = FORBIDDEN, escape(reason), 3
    return run


def run_all(contexts: Sequence[str], one: Callable[[str], ClusterRun]) -> list[ClusterRun]:
    """`one(context)` for every context, side by side, in the order given. `one` catches what it can explain;
    anything else (a bug) becomes the cluster's error instead of ending the others' runs."""
    from concurrent.futures import ThreadPoolExecutor

    def guarded(context: str) -> ClusterRun:
        try:
            return one(context)
        except TkeNetError as exc:
            return failed(context, None, exc)
        except Exception as exc:  # a defect in one cluster's run must not hide the other clusters' results
            return ClusterRun(context, None, OK, escape(f"internal error: {type(exc).__name__}: {exc}"), None, 1)

    workers = max(1, min(MAX_WORKERS, len(contexts)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cluster") as pool:
        return list(pool.map(guarded, contexts))


def document(runs: Sequence[ClusterRun]) -> dict[str, Any]:
    """The FleetReport (SPEC 9.6)."""
    return {
        "apiVersion": "tke-net/v1",
        "kind": "FleetReport",
        "clusters": [
            {"context": r.context, "cluster": r.cluster, "status": r.status, "error": r.error, "report": r.report}
            for r in runs
        ],
    }


def exit_status(runs: Sequence[ClusterRun]) -> int:
    """The highest of the clusters' exit statuses (SPEC 9.6)."""
    return max((r.exit for r in runs), default=0)


def split_contexts(values: Sequence[str]) -> list[str]:
    """--context A --context B,C: the names in order, each once; an empty name is a usage error."""
    names: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip()
            if not name:
                from kubectl_tke_net.i18n import _

                raise UsageError(_("--context has an empty name in {value}").format(value=repr(value)))
            if name not in names:
                names.append(name)
    return names
