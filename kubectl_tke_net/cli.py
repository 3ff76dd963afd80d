"""Command line: flags, subcommands, and the mapping of every error to one line and an exit status."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from kubectl_tke_net import __version__, i18n, model
from kubectl_tke_net.i18n import N_, _
from kubectl_tke_net.model import AccessError, Output, Severity, TkeNetError, UsageError
from kubectl_tke_net.terminal import escape

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing for `version` (type checkers take it so)
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from kubectl_tke_net.probe import ProbeOptions

PROG = "kubectl tke-net"
OUTPUTS = ("table", "wide", "json", "yaml", "junit", "sarif", "policyreport", "prometheus")
# The outputs for the engines a cluster already runs (SPEC 9.5): svc, ingress and loopback only.
ENGINE_OUTPUTS = ("policyreport", "prometheus")


def _columns() -> int:
    """shutil.get_terminal_size().columns, as argparse's help asks it, without importing shutil (which brings
    bz2, lzma and zlib): $COLUMNS, else the terminal's width on stdout, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return columns


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, told the width (argparse makes one for every flag added, and would import
    shutil to ask)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2, and, like kubectl, takes flags only
    spelled in full (`--lan zh` would otherwise be read as --lang after the language was chosen from argv)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(_("{message} (see '{prog} --help')").format(message=message, prog=self.prog))


class _ContextAction(argparse.Action):
    """--context NAME, repeatable and comma-separated (SPEC 9.6): every name in `contexts`, the first in `context`."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option: Any = None) -> None:
        from kubectl_tke_net.fleet import split_contexts

        names = split_contexts([*(namespace.contexts or []), str(values)])
        namespace.contexts = names
        namespace.context = names[0]


def _fleet_flags(p: argparse.ArgumentParser) -> None:
    """svc, ingress, loopback: many clusters, and the engines the reports go to (SPEC 9.5, 9.6)."""
    g = p.add_argument_group(_("many clusters and report engines"))
    g.add_argument(
        "--all-contexts",
        action="store_true",
        help=_("every context of the kubeconfig, read side by side (a FleetReport)"),
    )
    g.add_argument(
        "--write-reports",
        action="store_true",
        help=_(
            "create or update the PolicyReports in the cluster (server-side apply, one per namespace and a "
            "ClusterPolicyReport; needs deploy/rbac/write-reports.yaml)"
        ),
    )
    g.add_argument(
        "--report-api",
        choices=("wgpolicyk8s", "openreports"),
        default="wgpolicyk8s",
        metavar="API",
        help=_(
            "wgpolicyk8s (default): wgpolicyk8s.io/v1alpha2 PolicyReport; openreports: openreports.io/v1alpha1 Report"
        ),
    )
    g.add_argument(
        "--metrics-file",
        metavar="PATH",
        help=_("also write the Prometheus metrics to PATH, atomically (node-exporter's textfile collector)"),
    )


def _report_flags(g: Any) -> None:
    """What every command that gives a report takes: the exit status's threshold, the codes, suppression."""
    g.add_argument(
        "--fail-on",
        choices=("error", "warning", "info", "never"),
        default="error",
        metavar="SEV",
        help=_("lowest severity that makes the exit status 1: error (default), warning, info, never"),
    )
    g.add_argument("--select", metavar="CODES", help=_("run only these codes or prefixes (TKE1,TKE302)"))
    g.add_argument("--ignore", metavar="CODES", help=_("leave out these codes or prefixes"))
    g.add_argument(
        "--no-suppress", action="store_true", help=_("ignore the tke-net.kubectl.io/ignore annotation on objects")
    )


def _cluster_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(_("cluster and output"))
    g.add_argument("--kubeconfig", metavar="PATH", help=_("kubeconfig file (default $KUBECONFIG, else ~/.kube/config)"))
    g.add_argument(
        "--context",
        action=_ContextAction,
        metavar="NAME",
        help=_(
            "kubeconfig context (default: the current context); svc, ingress and loopback take several "
            "(--context A --context B, or --context A,B) and read the clusters side by side"
        ),
    )
    p.set_defaults(contexts=[])
    g.add_argument("-n", "--namespace", metavar="NS", help=_("namespace (default: the context's namespace)"))
    g.add_argument("-A", "--all-namespaces", action="store_true", help=_("every namespace"))
    g.add_argument("-l", "--selector", metavar="SEL", help=_("label selector on the objects examined"))
    g.add_argument(
        "-o",
        "--output",
        choices=OUTPUTS,
        default="table",
        metavar="FMT",
        help=_("table (default), wide, json, yaml, or junit, sarif, policyreport, prometheus (svc, ingress, loopback)"),
    )
    g.add_argument("--snapshot", metavar="PATH", help=_("read objects from a file or folder; no cluster is contacted"))
    _report_flags(g)
    g.add_argument(
        "--request-timeout",
        default="30s",
        metavar="DUR",
        help=_("per request, kubectl syntax (30s, 1m, 0 = none); default 30s"),
    )
    g.add_argument("--as", dest="as_user", metavar="USER", help=_("impersonate USER, as kubectl does"))
    g.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        metavar="WHEN",
        help=_("auto (default), always, never"),
    )
    g.add_argument("-v", "--verbose", action="store_true", help=_("progress and API calls on stderr"))


def _probe_flags(p: argparse.ArgumentParser | Any, with_probe: bool = True) -> None:
    g = p.add_argument_group(_("probe (TKE120-TKE125)")) if with_probe else p
    if with_probe:
        g.add_argument(
            "--probe",
            action="store_true",
            help=_(
                "also test the data path from inside the cluster with short-lived Pods (needs NAME, "
                "and create, list and delete on pods); they are deleted when done"
            ),
        )
    g.add_argument(
        "--probe-node",
        action="append",
        metavar="NODE",
        help=_("probe from this node (repeat for more; default: a node that hosts a backend and one that does not)"),
    )
    g.add_argument(
        "--probe-image", metavar="IMAGE", help=_("image with busybox sh, nslookup, nc and wget (default busybox:1.36)")
    )
    g.add_argument("--probe-timeout", metavar="DUR", help=_("how long to wait for the probe Pods (default 60s)"))
    g.add_argument(
        "--probe-rules",
        action="store_true",
        help=_(
            "also read each probe node's kube-proxy rules with a short-lived privileged hostNetwork Pod in "
            "kube-system (TKE127; needs create, list and delete on pods there)"
        ),
    )


def _cloud_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(_("Tencent Cloud (TKE401-TKE406)"))
    on = g.add_mutually_exclusive_group()
    on.add_argument(
        "--cloud",
        dest="cloud",
        action="store_const",
        const=True,
        default=None,
        help=_(
            "also check security groups, CLBs, bandwidth and SSL certificates through read-only Tencent Cloud "
            "API calls (default: on when TENCENTCLOUD_SECRET_ID/KEY or a tccli profile is set, "
            "off with --snapshot)"
        ),
    )
    on.add_argument(
        "--no-cloud",
        dest="cloud",
        action="store_const",
        const=False,
        help=_("no Tencent Cloud API calls, even with credentials"),
    )
    g.add_argument(
        "--region",
        metavar="REGION",
        help=_(
            "Tencent Cloud region, e.g. ap-guangzhou (default: $TENCENTCLOUD_REGION, else the nodes' region labels)"
        ),
    )


def _add_service(p: argparse.ArgumentParser) -> None:
    p.description = _("Diagnose Services: selectors, endpoints, ports, CLB, loopback.")
    p.add_argument("name", nargs="?", metavar="NAME", help=_("only this Service"))
    _cluster_flags(p)
    _probe_flags(p)
    _cloud_flags(p)
    _fleet_flags(p)
    p.set_defaults(func=cmd_diagnose, command="service")


def _add_ingress(p: argparse.ArgumentParser) -> None:
    p.description = _("Diagnose Ingresses: backends, ports, endpoints, TLS, CLB, keep-alive.")
    p.add_argument("name", nargs="?", metavar="NAME", help=_("only this Ingress"))
    _cluster_flags(p)
    _probe_flags(p)
    _cloud_flags(p)
    _fleet_flags(p)
    p.set_defaults(func=cmd_diagnose, command="ingress")


def _add_gateway(p: argparse.ArgumentParser) -> None:
    p.description = _(
        "Diagnose Gateways (gateway.networking.k8s.io/v1): class, CLB address, listeners, HTTPRoutes and "
        "GRPCRoutes, backends, ReferenceGrants, and the loopback and NodePorts of the Gateway's CLB."
    )
    p.add_argument("name", nargs="?", metavar="NAME", help=_("only this Gateway (and the routes attached to it)"))
    _cluster_flags(p)
    _fleet_flags(p)
    p.set_defaults(func=cmd_diagnose, command="gateway", cloud=False)


def _add_loopback(p: argparse.ArgumentParser) -> None:
    p.description = _("Is the cluster exposed to the CLB loopback problem, where, and how to fix it.")
    _cluster_flags(p)
    _cloud_flags(p)
    _fleet_flags(p)
    p.set_defaults(func=cmd_diagnose, command="loopback", name=None)


TRACE_OUTPUTS = ("tree", "json", "mermaid", "html")


def _add_trace(p: argparse.ArgumentParser) -> None:
    p.description = (
        _(
            "Draw the path from the CLB (address, listeners or host/path rules) through the Service port, "
            "NodePort, EndpointSlices and Pods to the nodes, each hop ok, failing or unknown with the codes of "
            "the findings that touch it (the checks of svc NAME or ingress NAME, on the same facts). "
            "-o tree (default), json, mermaid (a flowchart for Markdown) or html (one self-contained page)."
        )
        + " "
        + _(
            "gw/NAME: the Gateway's CLB (its addresses and Envoy Gateway's LoadBalancer Service), each listener, "
            "the HTTPRoutes and GRPCRoutes attached to it and their backendRefs, then each backend Service's "
            "path; the Gateway is in the -n namespace, its routes and Services are read in every namespace "
            "(the checks of gateway NAME, and the Service checks of its backends)."
        )
    )
    p.add_argument(
        "target",
        metavar="svc/NAME|ing/NAME|gw/NAME",
        help=_("the Service (svc/NAME), Ingress (ing/NAME) or Gateway (gw/NAME)"),
    )
    _cluster_flags(p)
    p.add_argument(
        "-o",
        "--output",
        choices=TRACE_OUTPUTS,
        default="tree",
        metavar="FMT",
        help=_("tree (default), json, mermaid or html"),
    )
    _probe_flags(p)
    _cloud_flags(p)
    p.set_defaults(func=cmd_trace, command="trace")


def _add_fix(p: argparse.ArgumentParser) -> None:
    from kubectl_tke_net.fix import ACTIONS

    p.description = _(
        "Plan a remedy and show it as a diff (default: nothing is written). --apply checks every "
        "change with a server-side dry run, saves a backup, then patches each object with its "
        "resourceVersion as a precondition. Actions: kube-proxy [--version vX.Y.Z-tke.N]; "
        "prevent-loopback [NAME...] [--all-lb] [--force]; ingress-keepalive [NAME...]; "
        "coredns-rewrite --host DOMAIN --service NAME [-n NS]; rollback FILE [--force] (sets back only "
        "the fields the action changed, and only on the API server the backup was taken from)."
    )
    p.add_argument("action", choices=ACTIONS, metavar="ACTION", help=", ".join(ACTIONS))
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=_("Services or Ingresses (default: all in scope); for rollback: the backup FILE"),
    )
    g = p.add_argument_group(_("fix"))
    g.add_argument(
        "--version",
        dest="target_version",
        metavar="vX.Y.Z-tke.N",
        help=_("kube-proxy: this tag instead of the first loopback-fixed build of its minor"),
    )
    g.add_argument(
        "--all-lb", action="store_true", help=_("prevent-loopback: every LoadBalancer Service, not only internal ones")
    )
    g.add_argument(
        "--force",
        action="store_true",
        help=_(
            "prevent-loopback: even while kube-proxy lacks the fix; rollback: even to another API server than "
            "the backup's"
        ),
    )
    g.add_argument("--host", metavar="DOMAIN", help=_("coredns-rewrite: the domain to resolve to the Service"))
    g.add_argument("--service", metavar="NAME", help=_("coredns-rewrite: the Service (in -n NS)"))
    g.add_argument(
        "--dry-run",
        choices=("client", "server", "none"),
        default="client",
        metavar="MODE",
        help=_(
            "client (default): diff computed locally; server: diff of the API server's answer to a "
            "dryRun=All patch; none: no dry run of its own (only --apply writes)"
        ),
    )
    g.add_argument(
        "--apply",
        action="store_true",
        help=_("write the changes (after a server-side dry run of each and a backup file)"),
    )
    g.add_argument(
        "--wait",
        metavar="DUR",
        help=_(
            "with --apply: wait for the kube-proxy rollout, or for the "
            "TkeServiceConfig the controller creates (ingress-keepalive)"
        ),
    )
    g.add_argument(
        "--backup-dir",
        default="~/.kube/tke-net/backups",
        metavar="DIR",
        help=_("where --apply saves the objects before changing them (default ~/.kube/tke-net/backups)"),
    )
    _cluster_flags(p)
    p.set_defaults(func=cmd_fix, command="fix")


def _add_dump(p: argparse.ArgumentParser) -> None:
    p.description = _(
        "Write every object the checks read as one v1 List, Secret data removed. "
        "JSON by default (it is also YAML, and parses a hundred times faster on "
        "large clusters); -o yaml for block YAML."
    )
    _cluster_flags(p)
    _cloud_flags(p)
    g = p.add_argument_group(_("probe (TKE120-TKE125)"))
    g.add_argument(
        "--probe",
        metavar="TYPE/NAME",
        help=_(
            "also probe svc/NAME or ingress/NAME as `svc NAME --probe` does and write its ProbeResult, so that "
            "--snapshot of the dump gives its TKE120-TKE125 (runs short-lived Pods)"
        ),
    )
    _probe_flags(g, with_probe=False)
    p.set_defaults(func=cmd_dump, command="dump", output="json")


def _add_lint(p: argparse.ArgumentParser) -> None:
    p.description = _(
        "Check Kubernetes manifests (YAML or JSON, Helm output as it is) for TKE networking mistakes before "
        "they are applied: selectors and named targetPorts against the Pod templates of Deployments, "
        "StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs, Ingress backends, TKE annotations. "
        "No cluster is contacted unless --cluster; with --cluster or --snapshot DUMP the manifests replace "
        "the objects they name there. Checks that need a running cluster are listed as skipped."
    )
    p.add_argument(
        "-f",
        "--filename",
        dest="filenames",
        action="append",
        default=[],
        metavar="PATH",
        help=_("a manifest file, a folder (read recursively) or - for standard input; repeatable"),
    )
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help=_("more manifests, as with -f (how pre-commit passes the files)")
    )
    g = p.add_argument_group(_("cluster and output"))
    g.add_argument(
        "-n", "--namespace", metavar="NS", help=_("namespace of the objects that name none (default: default)")
    )
    where = g.add_mutually_exclusive_group()
    where.add_argument(
        "--snapshot", metavar="DUMP", help=_("lint against the objects of a dump (kubectl tke-net dump) instead")
    )
    where.add_argument(
        "--cluster",
        action="store_true",
        help=_("lint against the live objects of the namespaces the manifests touch (reads the cluster)"),
    )
    g.add_argument(
        "-o",
        "--output",
        choices=OUTPUTS,
        default="table",
        metavar="FMT",
        help=_("table (default), wide, json, yaml, junit or sarif"),
    )
    _report_flags(g)
    g.add_argument("--kubeconfig", metavar="PATH", help=_("kubeconfig file (default $KUBECONFIG, else ~/.kube/config)"))
    g.add_argument("--context", metavar="NAME", help=_("kubeconfig context (default: the current context)"))
    g.add_argument("--as", dest="as_user", metavar="USER", help=_("impersonate USER, as kubectl does"))
    g.add_argument(
        "--request-timeout",
        default="30s",
        metavar="DUR",
        help=_("per request, kubectl syntax (30s, 1m, 0 = none); default 30s"),
    )
    g.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        metavar="WHEN",
        help=_("auto (default), always, never"),
    )
    g.add_argument("-v", "--verbose", action="store_true", help=_("progress and API calls on stderr"))
    p.set_defaults(func=cmd_lint, command="lint", all_namespaces=False, selector=None, name=None)


def _add_checks(p: argparse.ArgumentParser) -> None:
    p.description = _("List the checks, or explain one.")
    p.add_argument(
        "code",
        nargs="?",
        metavar="CODE",
        help=_("a check code (TKE302), or an error code of TKE's controllers (E4009) to explain what an event said"),
    )
    p.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table", metavar="FMT")
    p.set_defaults(func=cmd_checks, command="checks")


def _add_version(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table", metavar="FMT")
    p.set_defaults(func=cmd_version, command="version")


# Every command, in the order --help lists them: name, aliases, help (translated when the parser is made), the
# function that adds its flags, and its parser's conflict_handler.
COMMANDS: tuple[tuple[str, tuple[str, ...], str, Callable[[argparse.ArgumentParser], None], str], ...] = (
    ("service", ("svc",), N_("diagnose Services (TKE1xx, TKE302-TKE304)"), _add_service, "error"),
    ("ingress", ("ing",), N_("diagnose Ingresses (TKE2xx, TKE303)"), _add_ingress, "error"),
    ("gateway", ("gw",), N_("diagnose Gateway API Gateways and their routes (TKE5xx)"), _add_gateway, "error"),
    ("loopback", (), N_("CLB loopback risk, cluster-wide view (TKE3xx)"), _add_loopback, "error"),
    ("fix", (), N_("plan, show and (with --apply) apply a remedy"), _add_fix, "error"),
    ("lint", (), N_("check manifests before they are applied (files, folders, - for stdin)"), _add_lint, "error"),
    ("dump", (), N_("write the objects the checks read as one List (the --snapshot format)"), _add_dump, "error"),
    ("checks", (), N_("the check catalogue; with CODE: what it means and how to fix it"), _add_checks, "error"),
    ("version", (), N_("print the version"), _add_version, "error"),
    (
        "trace",
        (),
        N_("the traffic path of one Service, Ingress or Gateway, CLB to node, with the broken hop marked"),
        _add_trace,
        "resolve",  # -o of the cluster flags, replaced by the formats of trace
    ),
)


def build_parser(command: str | None = None) -> Parser:
    """The command line's parser. Given `command` (a name or alias, see command_word), only that command's
    flags are added: the others are listed, with their help, but a run of one command does not pay for
    building the flags of ten (`version` and small runs start sooner; the parse is the same)."""
    parser = Parser(
        prog=PROG,
        description=_(
            "Diagnose and fix Service and Ingress networking on TKE (Tencent "
            "Kubernetes Engine): CLB, endpoints, security groups, CLB loopback."
        ),
    )
    # Python 3.11's version action has its help as a plain default, never looked up: pass it translated.
    parser.add_argument(
        "--version", action="version", version=f"{PROG} {__version__}", help=_("show program's version number and exit")
    )
    sub = parser.add_subparsers(metavar="COMMAND", parser_class=Parser)
    built = [parser]
    for name, aliases, text, add, conflicts in COMMANDS:
        p = sub.add_parser(name, aliases=list(aliases), help=_(text), conflict_handler=conflicts)
        if command is None or command == name or command in aliases:
            add(p)
            built.append(p)
    # --lang on every parser built; main() reads it from argv before building them, so that the help is translated.
    for p in built:
        p.add_argument(
            "--lang",
            choices=i18n.LANGUAGES,
            metavar="LANG",
            help=_(
                "en or zh (Simplified Chinese) for messages and help; default from LC_ALL, "
                "LC_MESSAGES or LANG (zh_* gives zh), else en"
            ),
        )
    return parser


def command_word(argv: Sequence[str]) -> str | None:
    """The command a command line runs: its first word that is not a top-level option (--lang takes a value);
    None when it has none, or names no command (then every command's flags are built, for the error)."""
    words = iter(argv)
    for word in words:
        if word == "--lang":
            next(words, None)
        elif word == "--":
            return None
        elif not word.startswith("-"):
            known = any(word == name or word in aliases for name, aliases, *_rest in COMMANDS)
            return word if known else None
    return None


# argparse's own words in help and usage errors: translated through the same catalogue (see main).
ARGPARSE_MESSAGES = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("show program's version number and exit"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("expected one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("invalid %(type)s value: %(value)r"),
)


# --- commands ------------------------------------------------------------------------------------------


def _log(args: argparse.Namespace) -> Callable[[str], None] | None:
    if not args.verbose:
        return None
    from kubectl_tke_net import render

    return render.progress(getattr(args, "log_prefix", "tke-net: "), repeats=True)


def _progress(args: argparse.Namespace) -> Callable[[str, int, int], None] | None:
    """The reading's progress line (render.Progress): on a terminal, or every few seconds with -v."""
    from kubectl_tke_net import render

    shown = render.start_progress(bool(getattr(args, "verbose", False)))
    return shown.page if shown is not None else None


def open_source(args: argparse.Namespace, fail_fast: bool = False) -> tuple[Any, dict[str, Any]]:
    """A Snapshot for the run's scope and the report's `source`, from --snapshot or the kubeconfig. fail_fast
    (a fleet's cluster): after the first read the server could not answer, the others fail at once."""
    from kubectl_tke_net.snapshot import Snapshot, open_snapshot
    from kubectl_tke_net.sources.cluster import Cluster, parse_duration

    if len(getattr(args, "contexts", None) or ()) > 1:
        raise UsageError(
            _("several --context values are for svc, ingress and loopback; {command} reads one cluster").format(
                command=args.command
            )
        )

    try:
        timeout = parse_duration(args.request_timeout)
    except ValueError as exc:
        raise UsageError(f"--request-timeout: {exc}") from exc
    if args.snapshot:
        for flag, value in (("--kubeconfig", args.kubeconfig), ("--context", args.context), ("--as", args.as_user)):
            if value:
                raise UsageError(_("{flag} cannot be used with --snapshot (no cluster is contacted)").format(flag=flag))
        namespace = None if args.all_namespaces else (args.namespace or "default")
        snap = open_snapshot(args.snapshot, _read_scope(args, namespace), _progress(args))
        from kubectl_tke_net import render

        render.end_progress()  # a snapshot is read whole when it is opened
        return snap, {"context": None, "cluster": None, "snapshot": args.snapshot}
    cluster = Cluster(args.kubeconfig, args.context, timeout, args.as_user, _log(args))
    cluster.fail_fast = fail_fast
    shown = None if fail_fast else _progress(args)  # a fleet's clusters read side by side: no shared line
    if shown is not None:
        cluster.progress = shown  # type: ignore[assignment,method-assign]
    namespace = None if args.all_namespaces else (args.namespace or cluster.target.namespace)
    source = {"context": cluster.target.context, "cluster": cluster.target.cluster, "snapshot": None}
    return Snapshot(cluster, _read_scope(args, namespace)), source


def _read_scope(args: argparse.Namespace, namespace: str | None) -> str | None:
    """The namespace to read. trace gw/NAME (`across`) examines the Gateway of `namespace` but reads its
    routes, Services and backends in every namespace."""
    if getattr(args, "across", False):
        args.examined_namespace = namespace
        return None
    return namespace


def _color(args: argparse.Namespace) -> bool:
    if args.color == "always":
        return True
    if args.color == "never" or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def _cloud(
    args: argparse.Namespace, ctx: Any, chosen: list[Any], select: tuple[str, ...], ignore: tuple[str, ...]
) -> list[Any]:
    """Add the Tencent Cloud checks (TKE4xx, registered for "<command> --cloud") with the CloudFacts they read,
    when they are on: the snapshot's own (no credentials, no network), else read up front from the API and added
    to the snapshot (`dump` writes them); otherwise the run is exactly what it was without them."""
    from kubectl_tke_net.checks import catalog as checks

    commands = ("service", "ingress", "loopback") if args.command == "dump" else (args.command,)
    extra = [c for command in commands for c in checks.selected(f"{command} --cloud", select, ignore)]
    extra = list({c.code: c for c in extra}.values())
    if not extra or args.cloud is False:
        return chosen
    from kubectl_tke_net.checks.cloud import wants
    from kubectl_tke_net.cloudrules import KIND, CloudView, pick
    from kubectl_tke_net.model import Unavailable
    from kubectl_tke_net.sources.cluster import parse_duration

    scope = {"service": ("services",), "ingress": ("ingresses",)}.get(args.command, ("services", "ingresses"))
    doc = pick(ctx.snap.facts(KIND), args.region)
    if doc is None:
        from kubectl_tke_net.sources import cloud
        from kubectl_tke_net.sources.cluster import parse_duration

        try:
            timeout = parse_duration(args.request_timeout)
        except ValueError as exc:
            raise UsageError(f"--request-timeout: {exc}") from exc

        def nodes() -> list[Any]:
            try:
                return list(ctx.snap.list("nodes"))
            except Unavailable:
                return []

        reader = cloud.open_reader(
            cloud_flag=args.cloud,
            region_flag=args.region,
            snapshot=bool(args.snapshot),
            select=select,
            nodes=nodes,
            timeout=timeout,
            log=_log(args),
        )
        if reader is None:
            return chosen
        ctx.snap.prefetch([kind for c in chosen + extra for kind in c.kinds(ctx.command)])
        doc = reader.fill(lambda view: wants(ctx, extra, view))
        ctx.snap.add_facts(doc)
    ctx.cloud = CloudView(doc, scope)
    return chosen + extra


_KIND_WORDS = {"service": "service", "ingress": "ingress", "gateway": "gateway"}
# The kinds whose objects a command examines (SPEC 9.1: a run that examines none says so).
_EXAMINED = {"service": ("services",), "ingress": ("ingresses",), "gateway": ("gateways",)}


def _examined(ctx: Any, args: argparse.Namespace) -> str | None:
    """Whether the run has objects of its command's kind in scope (SPEC 9.1): a NAME that matches none is a usage
    error; an empty namespace gives the note to say on stderr (the table then claims nothing). None when there
    are objects, or when the kind cannot be read (its checks are then listed in `skipped`)."""
    from kubectl_tke_net.model import Unavailable

    kinds = _EXAMINED.get(args.command, ("services", "ingresses"))
    try:
        found = sum(len(getattr(ctx, kind)) for kind in kinds)
    except Unavailable:
        return None
    if found:
        return None
    namespace = ctx.namespace or ctx.snap.namespace
    where = _("in any namespace") if namespace is None else _('in namespace "{ns}"').format(ns=namespace)
    if args.selector:
        where += " " + _("matching -l {selector}").format(selector=args.selector)
    if args.name:
        raise UsageError(
            _('{kind} "{name}" not found {where}').format(kind=_KIND_WORDS[args.command], name=args.name, where=where)
        )
    nothing = {
        "service": _("No Services found {where}."),
        "ingress": _("No Ingresses found {where}."),
        "gateway": _("No Gateways found {where}."),
        "loopback": _("No Services or Ingresses found {where}."),
    }[args.command]
    return nothing.format(where=where)


def _nothing_left(args: argparse.Namespace) -> UsageError:
    flags = " ".join(f"{f} {v}" for f, v in (("--select", args.select), ("--ignore", args.ignore)) if v)
    return UsageError(
        _("no check of {command} is left to run after {flags} (see `kubectl tke-net checks`)").format(
            flags=flags, command=args.command
        )
    )


def _probe_options(args: argparse.Namespace, command: str, name: str | None, on: bool) -> ProbeOptions | None:
    """The probe's options when `on` (--probe), else None; UsageError for flags that cannot go together."""
    from kubectl_tke_net.probe import DEFAULT_IMAGE, DEFAULT_TIMEOUT, ProbeOptions
    from kubectl_tke_net.sources.cluster import parse_duration

    given = [
        flag
        for dest, flag in (
            ("probe_node", "--probe-node"),
            ("probe_image", "--probe-image"),
            ("probe_timeout", "--probe-timeout"),
            ("probe_rules", "--probe-rules"),
        )
        if getattr(args, dest, None)
    ]
    if not on:
        if given:
            raise UsageError(_("{flag} needs --probe").format(flag=given[0]))
        return None
    noun = "Service" if command == "service" else "Ingress"
    if args.snapshot:
        raise UsageError(_("--probe cannot be used with --snapshot: it runs Pods in the cluster"))
    if args.all_namespaces:
        raise UsageError(
            _("--probe cannot be used with --all-namespaces: name one {kind} and its namespace (-n)").format(kind=noun)
        )
    if not name:
        raise UsageError(
            _("--probe needs a {kind} NAME: kubectl tke-net {command} NAME --probe").format(kind=noun, command=command)
        )
    try:
        timeout = parse_duration(args.probe_timeout or DEFAULT_TIMEOUT)
    except ValueError as exc:
        raise UsageError(f"--probe-timeout: {exc}") from exc
    if timeout is None:
        raise UsageError(_("--probe-timeout must be more than 0"))
    if args.probe_image is not None and not args.probe_image.strip():
        raise UsageError(_("--probe-image must name an image"))
    return ProbeOptions(
        tuple(args.probe_node or ()),
        args.probe_image or DEFAULT_IMAGE,
        timeout,
        bool(getattr(args, "probe_rules", False)),
    )


def _probe(args: argparse.Namespace, snap: Any, command: str, name: str, options: ProbeOptions) -> None:
    """Run the probe; its ProbeResult goes into the snapshot. Notes and warnings on stderr as it goes."""
    from kubectl_tke_net import render
    from kubectl_tke_net.checks.probe import unexplained
    from kubectl_tke_net.sources.probe import probe

    note = render.progress("note: probe: ", repeats=True)
    warn = render.progress("warning: ", repeats=True)

    fact = probe(snap, command, name, options, log=_log(args) or (lambda _line: None), note=note, warn=warn)
    for line in unexplained(fact):
        note(line)


_PROBE_TYPES = {"svc": "service", "service": "service", "services": "service"} | {
    "ing": "ingress",
    "ingress": "ingress",
    "ingresses": "ingress",
}


def _probe_target(text: str) -> tuple[str, str]:
    """`dump --probe TYPE/NAME`: the command whose probe to run ("service" or "ingress") and the NAME."""
    kind, slash, name = text.partition("/")
    command = _PROBE_TYPES.get(kind.lower())
    if not slash or command is None or not name or "/" in name:
        raise UsageError(_("--probe takes svc/NAME or ingress/NAME, not {value}").format(value=repr(text)))
    return command, name


class _Diagnosis:
    """One cluster's (or snapshot's) run of svc, ingress or loopback: the report and what its renderers need.

    A plain class: a dataclass here would import dataclasses (and inspect) into every `version` (model.Output)."""

    __slots__ = ("chosen", "ctx", "doc", "empty", "failing", "result", "source", "suppress")

    def __init__(
        self,
        *,
        doc: dict[str, Any],
        chosen: list[Any],
        empty: str | None,  # the note that the scope held no object of the command's kind
        failing: bool,
        ctx: Any,
        source: dict[str, Any],  # what report.build was given: `trace` builds its own report from the same facts
        result: Any,
        suppress: bool,
    ) -> None:
        self.doc = doc
        self.chosen = chosen
        self.empty = empty
        self.failing = failing
        self.ctx = ctx
        self.source = source
        self.result = result
        self.suppress = suppress


def _diagnose_request(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...], Any, Any]:
    """The checked flags of svc, ingress, loopback: (select, ignore, selector, probe options); UsageError first,
    before any cluster is contacted."""
    from kubectl_tke_net.checks import catalog as checks
    from kubectl_tke_net.k8s import Selector

    select = checks.parse_codes(args.select, "--select") if args.select else ()
    ignore = checks.parse_codes(args.ignore, "--ignore") if args.ignore else ()
    selector = Selector.parse(args.selector) if args.selector else None
    if args.all_namespaces and args.namespace:
        raise UsageError(_("--namespace and --all-namespaces cannot be used together"))
    probe = None
    if args.command in ("service", "ingress"):
        probe = _probe_options(args, args.command, args.name, on=args.probe)
    possible = checks.selected(args.command, select, ignore) + checks.selected(
        f"{args.command} --cloud", select, ignore
    )
    if args.command in ("service", "ingress") and (
        probe is not None or args.snapshot
    ):  # a snapshot may hold ProbeResults
        possible += checks.selected("probe", select, ignore)
    if not possible:  # before any cluster is contacted
        raise _nothing_left(args)
    return select, ignore, selector, probe


def _hold(obj: object) -> None:
    """What this run read (and the checks derived from it) kept to the end of the process (model.HELD), which
    entry.run ends without freeing it object by object; the run before it in this process is let go."""
    model.HELD[:] = [obj]


def _diagnose(args: argparse.Namespace, request: tuple[Any, ...], fail_fast: bool = False) -> _Diagnosis:
    from kubectl_tke_net import report
    from kubectl_tke_net.checks import catalog as checks
    from kubectl_tke_net.facts import Context

    select, ignore, selector, probe = request
    snap, source = open_source(args, fail_fast=fail_fast)
    ctx = Context(snap, args.name, selector, getattr(args, "examined_namespace", None))
    _hold(ctx)
    chosen = checks.selected(args.command, select, ignore)
    if args.command in ("service", "ingress") and (probes := checks.selected("probe", select, ignore)):
        from kubectl_tke_net.checks.probe import ProbeContext, probe_results

        if probe is not None:
            _probe(args, snap, args.command, args.name, probe)
        kind = "Service" if args.command == "service" else "Ingress"
        if found := probe_results(snap, kind, args.name):  # this run's probe, or the ProbeResults of a --snapshot
            ctx = ProbeContext(snap, args.name, selector, kind)
            # TKE127 judges what --probe-rules read: not listed as skipped in every probe run without it.
            rules = any(f.get("rules") for f in found) or (probe is not None and probe.rules) or "TKE127" in select
            chosen += [c for c in probes if rules or c.code != "TKE127"]
    ctx.command = args.command
    chosen = _cloud(args, ctx, chosen, select, ignore)
    if not chosen:  # only Tencent Cloud checks were left, and they are off
        raise _nothing_left(args)
    snap.prefetch([kind for c in chosen for kind in c.kinds(args.command)] + list(report.FACT_KINDS))
    empty = _examined(ctx, args)
    result = checks.run(ctx, chosen, suppress=not args.no_suppress)
    doc = report.build(args.command, source, ctx, result)
    failing = args.fail_on != "never" and any(f.severity >= Severity.parse(args.fail_on) for f in result.findings)
    return _Diagnosis(
        doc=doc,
        chosen=chosen,
        empty=empty,
        failing=failing,
        ctx=ctx,
        source=source,
        result=result,
        suppress=not args.no_suppress,
    )


def cmd_diagnose(args: argparse.Namespace) -> Output:
    request = _diagnose_request(args)
    _engine_flags_check(args)
    contexts = _fleet_contexts(args)
    if contexts is not None:
        return _cmd_fleet(args, request, contexts)
    run = _diagnose(args, request)
    doc, chosen, empty = run.doc, run.chosen, run.empty
    notes = (empty,) if empty else ()
    written = _engines(args, doc, run.ctx)
    text = _engine_output(args, doc) if args.output in ENGINE_OUTPUTS else _render(args, doc, chosen, empty is None)
    return Output(text, 1 if run.failing else 0, notes + written)


def _engine_flags_check(args: argparse.Namespace) -> None:
    """--write-reports, --report-api, --metrics-file: what cannot go together, before any cluster is contacted."""
    if args.write_reports and args.snapshot:
        raise UsageError(_("--write-reports needs a cluster; with --snapshot use -o policyreport"))
    if args.report_api != "wgpolicyk8s" and not (args.write_reports or args.output == "policyreport"):
        raise UsageError(_("--report-api is for -o policyreport and --write-reports"))


def _policy_reports(args: argparse.Namespace, doc: dict[str, Any]) -> list[dict[str, Any]]:
    import time

    from kubectl_tke_net import policyreport

    return policyreport.build(doc, policyreport.APIS[args.report_api], time.time())


def _write_reports(args: argparse.Namespace, doc: dict[str, Any], ctx: Any) -> str:
    """--write-reports for one cluster; the line that says what was written (stderr)."""
    from kubectl_tke_net import policyreport
    from kubectl_tke_net.sources import reports

    api = policyreport.APIS[args.report_api]
    done = reports.write(ctx.snap.source, _policy_reports(args, doc), api, args.command, ctx.snap.namespace)
    line = _("reports: applied {applied}").format(applied=", ".join(done.applied))
    if done.removed:
        line += "; " + _("removed {removed} (no finding there now)").format(removed=", ".join(done.removed))
    return line


def _scans(runs: list[Any]) -> list[Any]:
    """The metrics' clusters: the `cluster` label is the kubeconfig's cluster name, or the context's where two
    contexts of the run name the same cluster (their series would be one otherwise)."""
    from kubectl_tke_net.metrics import Scan, cluster_label

    labels = [cluster_label({"cluster": r.cluster, "context": r.context}) for r in runs]
    scans = []
    for run, label in zip(runs, labels, strict=True):
        name = run.context if labels.count(label) > 1 else label
        scans.append(Scan(name, run.status == "ok" and run.report is not None, run.report))
    return scans


def _metrics(args: argparse.Namespace, scans: list[Any]) -> str:
    import time

    from kubectl_tke_net import metrics

    return metrics.exposition(scans, time.time())


def _single_scans(doc: dict[str, Any]) -> list[Any]:
    from kubectl_tke_net.metrics import Scan, cluster_label

    return [Scan(cluster_label(doc["source"]), True, doc)]


def _engines(args: argparse.Namespace, doc: dict[str, Any], ctx: Any) -> tuple[str, ...]:
    """One cluster's (or snapshot's) reports to the engines: --write-reports, then --metrics-file."""
    notes = []
    if args.write_reports:
        notes.append(_write_reports(args, doc, ctx))
    if args.metrics_file:
        from kubectl_tke_net.sources.files import write_atomic

        write_atomic(args.metrics_file, _metrics(args, _single_scans(doc)))
    return tuple(notes)


def _engine_output(args: argparse.Namespace, doc: dict[str, Any]) -> str:
    """-o policyreport (a v1 List of the reports, YAML) or -o prometheus, of one cluster's report."""
    from kubectl_tke_net import policyreport, render

    if args.output == "policyreport":
        return render.render_yaml(policyreport.as_list(_policy_reports(args, doc)))
    return _metrics(args, _single_scans(doc))


def _fleet_contexts(args: argparse.Namespace) -> list[str] | None:
    """The contexts of a fleet run (several --context, or --all-contexts), else None; UsageError or AccessError
    (an unknown context) before any cluster is contacted."""
    from kubectl_tke_net.sources import kubeconfig

    contexts = list(args.contexts or ())
    if not args.all_contexts and len(contexts) < 2:
        return None
    if args.all_contexts and contexts:
        raise UsageError(_("--context and --all-contexts cannot be used together"))
    if args.snapshot:
        raise UsageError(_("several contexts cannot be used with --snapshot (no cluster is contacted)"))
    if getattr(args, "probe", False):
        raise UsageError(_("--probe tests one {kind} in one cluster; name one --context").format(kind=args.command))
    if args.output == "junit":
        raise UsageError(_("-o junit reports one cluster; with several contexts use -o json (a FleetReport)"))
    if args.output == "policyreport":
        raise UsageError(_("-o policyreport prints one cluster's reports; with several contexts use --write-reports"))
    known = kubeconfig.context_names(args.kubeconfig)
    if args.all_contexts:
        if not known:
            raise AccessError(
                _("--all-contexts: no context in {paths}").format(
                    paths=os.pathsep.join(kubeconfig.paths(args.kubeconfig))
                )
            )
        return known
    for name in contexts:
        if name not in known:
            raise AccessError(
                _('context "{name}" not found in {where}').format(
                    name=name, where=os.pathsep.join(kubeconfig.paths(args.kubeconfig))
                )
            )
    return contexts


# The kinds a command examines: a cluster whose credentials cannot list them is `forbidden` in a fleet.
_OWN_KINDS = {"service": ("services",), "ingress": ("ingresses",), "loopback": ("services", "ingresses")}


def _cmd_fleet(args: argparse.Namespace, request: tuple[Any, ...], contexts: list[str]) -> Output:
    """SPEC 9.6: every context read side by side, each with its own client (its own kubeconfig credentials,
    connection pool and fail-fast state), so that a hung cluster costs its own --request-timeout only."""
    from kubectl_tke_net import fleet, render
    from kubectl_tke_net.model import Unavailable
    from kubectl_tke_net.sources import kubeconfig

    def one(context: str) -> fleet.ClusterRun:
        sub = argparse.Namespace(
            **{**vars(args), "context": context, "contexts": [context], "log_prefix": f"tke-net [{context}]: "}
        )
        try:
            run = _diagnose(sub, request, fail_fast=True)
        except TkeNetError as exc:
            return fleet.failed(context, kubeconfig.context_cluster(args.kubeconfig, context), exc)
        done = fleet.ClusterRun(
            context,
            run.doc["source"]["cluster"],
            report=run.doc,
            exit=1 if run.failing else 0,
            notes=(run.empty,) if run.empty else (),
            extra={"chosen": run.chosen, "examined": run.empty is None, "ctx": run.ctx},
        )
        for kind in _OWN_KINDS[args.command]:
            try:
                run.ctx.snap.list(kind)
            except Unavailable as exc:
                if exc.reason.startswith("forbidden"):
                    return fleet.forbidden(done, exc.reason)
        if args.write_reports:
            try:
                done.notes += (_write_reports(sub, run.doc, run.ctx),)
            except TkeNetError as exc:  # read, but the reports could not be written: said, and counted
                done.error, done.exit = escape(exc), max(done.exit, exc.exit_status)
        return done

    runs = fleet.run_all(contexts, one)
    notes = tuple(f"{r.context}: {note}" for r in runs for note in r.notes)
    if args.metrics_file:
        from kubectl_tke_net.sources.files import write_atomic

        write_atomic(args.metrics_file, _metrics(args, _scans(runs)))
    if args.output in ("table", "wide"):
        text = render.fleet_table(
            fleet.document(runs),
            wide=args.output == "wide",
            color=_color(args),
            examined={r.context: bool(r.extra.get("examined", True)) for r in runs},
        )
    elif args.output == "prometheus":
        text = _metrics(args, _scans(runs))
    else:
        text = render.FORMATS[args.output](fleet.document(runs), _color(args))
    return Output(text, fleet.exit_status(runs), notes)


def _render(args: argparse.Namespace, doc: dict[str, Any], chosen: list[Any], examined: bool) -> str:
    from kubectl_tke_net import render

    if args.output == "junit":
        return render.junit(doc, [(c.code, c.title) for c in chosen], args.fail_on)
    if args.output == "sarif":
        return render.sarif(doc, chosen)
    if args.output in ("table", "wide"):
        return render.table(doc, wide=args.output == "wide", color=_color(args), examined=examined)
    return render.FORMATS[args.output](doc, _color(args))


def cmd_lint(args: argparse.Namespace) -> Output:
    from kubectl_tke_net import lint, report
    from kubectl_tke_net.checks import catalog as checks
    from kubectl_tke_net.checks.catalog import Result
    from kubectl_tke_net.snapshot import Snapshot, open_snapshot
    from kubectl_tke_net.sources import manifests as reader
    from kubectl_tke_net.sources.cluster import Cluster, parse_duration

    select = checks.parse_codes(args.select, "--select") if args.select else ()
    ignore = checks.parse_codes(args.ignore, "--ignore") if args.ignore else ()
    try:
        timeout = parse_duration(args.request_timeout)
    except ValueError as exc:
        raise UsageError(f"--request-timeout: {exc}") from exc
    if not args.cluster:
        for flag, value in (("--kubeconfig", args.kubeconfig), ("--context", args.context), ("--as", args.as_user)):
            if value:
                raise UsageError(_("{flag} needs --cluster: lint reads no cluster without it").format(flag=flag))
    paths = [*args.filenames, *args.paths]
    if not paths:
        raise UsageError(_("lint needs the manifests: -f PATH (a file, a folder, or - for standard input)"))
    chosen, skipped = lint.plan(select, ignore, with_cluster=bool(args.cluster or args.snapshot))
    if not chosen:
        raise _nothing_left(args)
    found = reader.read(paths, args.namespace or "default")  # before any cluster is contacted
    source: dict[str, Any] = {"context": None, "cluster": None, "snapshot": args.snapshot, "manifests": found.paths}
    base: Any = lint.ManifestSource(found)
    if args.snapshot:
        base = lint.OverlaySource(open_snapshot(args.snapshot, None).source, found)
    elif args.cluster:
        cluster = Cluster(args.kubeconfig, args.context, timeout, args.as_user, _log(args))
        source.update(context=cluster.target.context, cluster=cluster.target.cluster)
        base = lint.OverlaySource(cluster, found)
    snap = Snapshot(base, None)
    ctx = lint.LintContext(snap, found)
    snap.prefetch([kind for c in chosen for kind in c.needs] + list(report.FACT_KINDS))
    ran = checks.run(ctx, chosen, suppress=False)
    findings, suppressed = lint.only_manifests(ran.findings, found, snap.loaded(), not args.no_suppress)
    result = Result(findings, [*ran.skipped, *skipped], suppressed)
    doc = lint.annotate(report.build("lint", source, ctx, result), findings, found)
    notes = [
        "warning: "
        + _("{object} is defined {n} times: {places}; the last is linted").format(
            object=ref, n=len(places), places=", ".join(str(p) for p in places)
        )
        for ref, places in sorted(found.duplicates.items())
    ]
    examined = found.examined() > 0
    if not examined:
        notes.append(_("No Services or Ingresses found in the manifests."))
    listed = chosen + [checks.CHECKS[code] for skip in skipped for code in skip.codes]  # JUnit and SARIF name them
    text = _render(args, doc, listed, examined)
    failing = args.fail_on != "never" and any(f.severity >= Severity.parse(args.fail_on) for f in findings)
    return Output(text, 1 if failing else 0, tuple(notes))


_TRACE_TYPES = _PROBE_TYPES | {"gw": "gateway", "gateway": "gateway", "gateways": "gateway"}


def _trace_target(text: str) -> tuple[str, str]:
    """`trace TYPE/NAME`: the command whose checks judge the path ("service", "ingress" or "gateway") and the
    NAME."""
    kind, slash, name = text.partition("/")
    command = _TRACE_TYPES.get(kind.lower())
    if not slash or command is None or not name or "/" in name:
        raise UsageError(_("trace takes svc/NAME, ing/NAME or gw/NAME, not {value}").format(value=repr(text)))
    return command, name


def _gateway_backend_checks(
    diagnosis: _Diagnosis, gateway: Any, select: tuple[str, ...], ignore: tuple[str, ...]
) -> Any:
    """`trace gw/NAME`: the Service checks on the backend Services of the routes attached to the Gateway, each
    in its own namespace, on the facts the Gateway's checks read (as `_backend_checks` for an Ingress)."""
    from kubectl_tke_net import gateway_api as gw
    from kubectl_tke_net.checks import catalog as checks
    from kubectl_tke_net.facts import Context

    snap, ctx = diagnosis.ctx.snap, diagnosis.ctx
    if snap.held("services") is None:
        return [], []
    chosen = [
        c
        for c in checks.selected("service", select, ignore)
        if all(snap.held(k) is not None for k in c.kinds("service"))
    ]
    keys = sorted({(b.namespace, b.name) for r in ctx.routes for b in gw.backend_refs(r)} & set(ctx.services_by_key))
    results = []
    for namespace, name in keys:
        one = Context(snap, name, None, namespace)
        one.command = "service"
        results.append(checks.run(one, chosen, suppress=not diagnosis.suppress))
    return chosen if keys else [], results


def _backend_checks(diagnosis: _Diagnosis, ing: Any, select: tuple[str, ...], ignore: tuple[str, ...]) -> Any:
    """`trace ing/NAME`: the Service checks on the Services behind the Ingress, on the facts the Ingress's checks
    read (a check that needs a kind they did not read is left out, and its hops are then unknown)."""
    from kubectl_tke_net.checks import catalog as checks
    from kubectl_tke_net.facts import Context
    from kubectl_tke_net.k8s import backends, meta

    snap = diagnosis.ctx.snap
    chosen = [
        c
        for c in checks.selected("service", select, ignore)
        if all(snap.held(k) is not None for k in c.kinds("service"))
    ]
    namespace = meta(ing).get("namespace", "")
    names = sorted(
        {b.service for b in backends(ing)}
        & {meta(s).get("name") for s in snap.held("services") or [] if meta(s).get("namespace", "") == namespace}
    )
    results = []
    for name in names:
        ctx = Context(snap, name)
        ctx.command = "service"
        results.append(checks.run(ctx, chosen, suppress=not diagnosis.suppress))
    return chosen if names else [], results


def cmd_trace(args: argparse.Namespace) -> Output:
    from kubectl_tke_net import render_trace, report, trace
    from kubectl_tke_net.checks import catalog as checks
    from kubectl_tke_net.checks.probe import probe_results
    from kubectl_tke_net.findings import Finding
    from kubectl_tke_net.k8s import meta
    from kubectl_tke_net.model import AccessError, Unavailable
    from kubectl_tke_net.probe.result import from_fact

    command, name = _trace_target(args.target)
    if args.all_namespaces:
        raise UsageError(_("trace follows one object: give its namespace with -n, not --all-namespaces"))
    if args.selector:
        raise UsageError(_("trace follows the one object it names; -l does not apply"))
    extra_args: dict[str, Any] = {}
    if command == "gateway":
        for flag, given in (("--probe", args.probe), ("--cloud", args.cloud is True)):
            if given:
                raise UsageError(
                    _("{flag} is for trace svc/NAME and ing/NAME; a Gateway's checks have none").format(flag=flag)
                )
        # The Gateway is in the run's namespace; its routes, its Service and their backends may be anywhere.
        extra_args = {"across": True, "cloud": False}
    run = argparse.Namespace(**{**vars(args), "command": command, "name": name, "output": "json", **extra_args})
    diagnosis = _diagnose(run, _diagnose_request(run))
    ctx, result = diagnosis.ctx, diagnosis.result
    kind = {"service": "Service", "ingress": "Ingress", "gateway": "Gateway"}[command]
    try:
        objs = getattr(ctx, {"service": "services", "ingress": "ingresses", "gateway": "gateways"}[command])
    except Unavailable as exc:  # nothing to draw: the object itself cannot be read
        raise AccessError(
            _("cannot trace {kind} {name}: {reason}").format(kind=kind, name=name, reason=exc.reason)
        ) from None
    obj = next(o for o in objs if meta(o).get("name") == name)  # _diagnose said "not found" otherwise
    findings, skipped, suppressed = list(result.findings), list(result.skipped), result.suppressed
    ran = {c.code for c in diagnosis.chosen}
    if command == "ingress":
        select = checks.parse_codes(args.select, "--select") if args.select else ()
        ignore = checks.parse_codes(args.ignore, "--ignore") if args.ignore else ()
        extra, results = _backend_checks(diagnosis, obj, select, ignore)
        ran |= {c.code for c in extra}
        for r in results:
            findings += [f for f in r.findings if f not in findings]
            skipped += [s for s in r.skipped if s not in skipped]
            suppressed += r.suppressed
    if command == "gateway":
        select = checks.parse_codes(args.select, "--select") if args.select else ()
        ignore = checks.parse_codes(args.ignore, "--ignore") if args.ignore else ()
        extra, results = _gateway_backend_checks(diagnosis, obj, select, ignore)
        ran |= {c.code for c in extra}
        for r in results:
            findings += [f for f in r.findings if f not in findings]
            skipped += [s for s in r.skipped if s not in skipped]
            suppressed += r.suppressed
    findings.sort(key=Finding.sort_key)
    if command == "gateway":
        path = trace.trace_gateway(ctx, obj, findings=findings, skipped=skipped, ran=ran)
    else:
        runs = []
        for fact in probe_results(ctx.snap, kind, name):
            _target, probe_run, _why = from_fact(fact)
            if probe_run is not None:
                runs.append(probe_run)
        build = trace.trace_service if command == "service" else trace.trace_ingress
        path = build(ctx, obj, findings=findings, skipped=skipped, ran=ran, probe_runs=runs)
    merged = checks.Result(findings, skipped, suppressed)
    doc = report.build("trace", diagnosis.source, ctx, merged)
    doc["trace"] = path.as_dict()
    text = render_trace.FORMATS[args.output](doc, _color(args))
    failing = args.fail_on != "never" and any(f.severity >= Severity.parse(args.fail_on) for f in findings)
    return Output(text, 1 if failing else 0)


_ONLY_FOR = (
    ("target_version", "--version", ("kube-proxy",)),
    ("all_lb", "--all-lb", ("prevent-loopback",)),
    ("force", "--force", ("prevent-loopback", "rollback")),
    ("host", "--host", ("coredns-rewrite",)),
    ("service", "--service", ("coredns-rewrite",)),
    ("wait", "--wait", ("kube-proxy", "ingress-keepalive")),
)


def _fix_request(args: argparse.Namespace) -> Any:
    """The checked `fix` request; UsageError for what cannot go together."""
    from kubectl_tke_net.fix.command import FixRequest
    from kubectl_tke_net.fix.plan import Options
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
    options = Options(
        names=tuple(args.names),
        version=args.target_version,
        all_lb=args.all_lb,
        force=args.force,
        host=args.host,
        service=args.service,
    )
    return FixRequest(
        action=action,
        mode="apply" if args.apply else "server" if args.dry_run == "server" else "client",
        options=options,
        wait=wait,
        wait_text=args.wait,
        backup_dir=args.backup_dir,
        selector=args.selector,
        snapshot=bool(args.snapshot),
    )


def cmd_fix(args: argparse.Namespace) -> Output:
    from kubectl_tke_net import render
    from kubectl_tke_net.fix import command

    if args.output == "junit":
        raise UsageError(_("-o junit is for svc, ingress and loopback; fix prints table, wide, json or yaml"))
    if args.output == "sarif":
        raise UsageError(_("-o sarif is for svc, ingress, loopback and lint; fix prints table, wide, json or yaml"))
    if args.output in ENGINE_OUTPUTS:
        raise UsageError(_("-o {fmt} is for svc, ingress and loopback").format(fmt=args.output))
    request = _fix_request(args)

    def open_scope(scope: str | bool | None) -> tuple[Any, dict[str, Any]]:
        if scope is None:
            return open_source(args)
        return open_source(
            argparse.Namespace(
                **{**vars(args), "namespace": None if scope is True else scope, "all_namespaces": scope is True}
            )
        )

    outcome = command.run(request, open_scope, render.progress())
    return Output(render.fix_output(outcome, args.output), 1 if outcome.failed else 0)


def cmd_dump(args: argparse.Namespace) -> Output:
    from kubectl_tke_net import render
    from kubectl_tke_net.kinds import KINDS
    from kubectl_tke_net.model import Unavailable

    if args.all_namespaces and args.namespace:
        raise UsageError(_("--namespace and --all-namespaces cannot be used together"))
    if args.output == "junit":
        raise UsageError(_("-o junit is for svc, ingress and loopback; dump writes yaml or json"))
    if args.output == "sarif":
        raise UsageError(_("-o sarif is for svc, ingress, loopback and lint; dump writes yaml or json"))
    if args.output in ENGINE_OUTPUTS:
        raise UsageError(_("-o {fmt} is for svc, ingress and loopback").format(fmt=args.output))
    command, name = _probe_target(args.probe) if args.probe is not None else ("service", None)
    probe = _probe_options(args, command, name, on=args.probe is not None)
    snap, _source = open_source(args)
    _hold(snap)
    if probe is not None and name is not None:
        _probe(args, snap, command, name, probe)
    snap.prefetch(KINDS)
    from kubectl_tke_net.facts import Context

    _cloud(args, Context(snap), [], (), ())  # with the cloud on, the Tencent Cloud facts of every command's checks
    warnings = []
    for name in KINDS:
        try:
            snap.list(name)
        except Unavailable as exc:
            # A kind whose API is not served (the Gateway API on a cluster without it) has nothing to dump: the
            # List's metadata says so for the checks, without a warning on every run.
            if exc.served:
                warnings.append("warning: " + _("{name} not dumped: {reason}").format(name=name, reason=exc.reason))
    fmt = "yaml" if args.output == "yaml" else "json"
    return Output(render.FORMATS[fmt](snap.dump(), False), 0, tuple(warnings))


def _error_code_doc(code: str) -> dict[str, Any]:
    """`checks E4009`: the controller code's entry for each kind it is defined for, in the run's language."""
    from kubectl_tke_net import tke_errors

    rows = tke_errors.entries(code)
    if not rows:
        raise UsageError(
            _("unknown TKE controller error code {code} (not in the catalogue of TKE's documented codes)").format(
                code=repr(code)
            )
        )
    lang = 1 if i18n.language() == "zh" else 0
    return {
        "code": code,
        "entries": [
            {"kind": r.kind, "meaning": r.meaning[lang], "fix": r.fix[lang], "source": tke_errors.SOURCES[r.source]}
            for r in rows
        ],
    }


def cmd_checks(args: argparse.Namespace) -> Output:
    from kubectl_tke_net import render, tke_errors
    from kubectl_tke_net.checks import catalog as checks

    checks.load_all()
    if args.code:
        code = args.code.upper()
        if tke_errors.is_code(code):
            return Output(render.error_code_page(_error_code_doc(code), args.output))
        if code not in checks.CHECKS:
            raise UsageError(_("unknown check code {code} (see `kubectl tke-net checks`)").format(code=repr(args.code)))
        chk = checks.CHECKS[code]
        doc = {
            "code": code,
            "severity": str(chk.severity),
            "title": _(chk.title),
            "commands": sorted(chk.commands),
            "doc": _(chk.doc),
            "fix": chk.fix,
            "docs": checks.docs_url(code, i18n.language()),
        }
        return Output(render.check_page(doc, args.output))
    items = [
        {"code": c.code, "severity": str(c.severity), "commands": sorted(c.commands), "title": _(c.title)}
        for c in sorted(checks.CHECKS.values(), key=lambda c: c.code)
    ]
    return Output(render.catalogue(items, args.output))


def cmd_version(args: argparse.Namespace) -> Output:
    if args.output == "table":
        return Output(f"{PROG} {__version__}\n")
    from kubectl_tke_net import render

    return Output(render.FORMATS[args.output]({"version": __version__}, False))


def _utf8_output() -> None:
    """Write UTF-8 whatever the locale says, as kubectl does: a pipe on Windows (cp1252) or PYTHONIOENCODING=ascii
    would otherwise turn the first Chinese character (--lang zh) or non-ASCII name into an encoding error."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")


def _end_progress() -> None:
    if "kubectl_tke_net.render" in sys.modules:
        from kubectl_tke_net import render

        render.end_progress()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in argv or "--verbose" in argv
    _utf8_output()
    try:
        i18n.set_language(i18n.resolve(argv))
    except i18n.CatalogMissing as exc:
        print(f"warning: {exc}; using English", file=sys.stderr)
    # argparse's own words (ARGPARSE_MESSAGES) through our catalogue; in English they come out unchanged.
    argparse._ = i18n._  # type: ignore[attr-defined]
    argparse.ngettext = i18n.ngettext  # type: ignore[attr-defined]
    try:
        args = build_parser(command_word(argv)).parse_args(argv)
        if not hasattr(args, "func"):
            build_parser().print_help(sys.stderr)
            return 2
        try:
            out: Output = args.func(args)
        finally:
            _end_progress()
        for note in out.notes:
            print(escape(note), file=sys.stderr)
        sys.stdout.write(out.text)
        return out.status
    except TkeNetError as exc:
        print(f"error: {escape(exc)}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("error: " + _("interrupted"), file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (head, less) went away: not an error worth a line.
        sys.stderr.close()
        return 0
    except Exception as exc:
        if verbose:
            raise
        line = _("internal error: {type}: {reason} (run with -v for details)").format(
            type=type(exc).__name__, reason=exc
        )
        print("error: " + escape(line), file=sys.stderr)
        return 1
