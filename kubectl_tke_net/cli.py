"""Command line: flags, subcommands, and the mapping of every error to one line and an exit status."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from kubectl_tke_net import __version__
from kubectl_tke_net.model import Severity, TkeNetError, UsageError

PROG = "kubectl tke-net"
OUTPUTS = ("table", "wide", "json", "yaml", "junit")


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _cluster_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster and output")
    g.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
    g.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current context)")
    g.add_argument("-n", "--namespace", metavar="NS", help="namespace (default: the context's namespace)")
    g.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    g.add_argument("-l", "--selector", metavar="SEL", help="label selector on the objects examined")
    g.add_argument("-o", "--output", choices=OUTPUTS, default="table", metavar="FMT",
                   help="table (default), wide, json, yaml, or junit (svc, ingress, loopback)")
    g.add_argument("--snapshot", metavar="PATH", help="read objects from a file or folder; no cluster is contacted")
    g.add_argument("--fail-on", choices=("error", "warning", "info", "never"), default="error", metavar="SEV",
                   help="lowest severity that makes the exit status 1: error (default), warning, info, never")
    g.add_argument("--select", metavar="CODES", help="run only these codes or prefixes (TKE1,TKE302)")
    g.add_argument("--ignore", metavar="CODES", help="leave out these codes or prefixes")
    g.add_argument("--no-suppress", action="store_true",
                   help="ignore the tke-net.kubectl.io/ignore annotation on objects")
    g.add_argument("--request-timeout", default="30s", metavar="DUR",
                   help="per request, kubectl syntax (30s, 1m, 0 = none); default 30s")
    g.add_argument("--as", dest="as_user", metavar="USER", help="impersonate USER, as kubectl does")
    g.add_argument("--color", choices=("auto", "always", "never"), default="auto", metavar="WHEN",
                   help="auto (default), always, never")
    g.add_argument("-v", "--verbose", action="store_true", help="progress and API calls on stderr")


def _probe_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("probe (TKE120-TKE125)")
    g.add_argument("--probe", action="store_true",
                   help="also test the data path from inside the cluster with short-lived Pods (needs NAME, "
                        "and create, list and delete on pods); they are deleted when done")
    g.add_argument("--probe-node", action="append", metavar="NODE",
                   help="probe from this node (repeat for more; default: a node that hosts a backend and one "
                        "that does not)")
    g.add_argument("--probe-image", metavar="IMAGE",
                   help="image with busybox sh, nslookup, nc and wget (default busybox:1.36)")
    g.add_argument("--probe-timeout", metavar="DUR", help="how long to wait for the probe Pods (default 60s)")


def _add_service(sub: Any) -> None:
    p = sub.add_parser("service", aliases=["svc"], help="diagnose Services (TKE1xx, TKE302-TKE304)",
                       description="Diagnose Services: selectors, endpoints, ports, CLB, loopback.")
    p.add_argument("name", nargs="?", metavar="NAME", help="only this Service")
    _cluster_flags(p)
    _probe_flags(p)
    p.set_defaults(func=cmd_diagnose, command="service")


def _add_ingress(sub: Any) -> None:
    p = sub.add_parser("ingress", aliases=["ing"], help="diagnose Ingresses (TKE2xx, TKE303)",
                       description="Diagnose Ingresses: backends, ports, endpoints, TLS, CLB, keep-alive.")
    p.add_argument("name", nargs="?", metavar="NAME", help="only this Ingress")
    _cluster_flags(p)
    _probe_flags(p)
    p.set_defaults(func=cmd_diagnose, command="ingress")


def _add_loopback(sub: Any) -> None:
    p = sub.add_parser("loopback", help="CLB loopback risk, cluster-wide view (TKE3xx)",
                       description="Is the cluster exposed to the CLB loopback problem, where, and how to fix it.")
    _cluster_flags(p)
    p.set_defaults(func=cmd_diagnose, command="loopback", name=None)


def _add_fix(sub: Any) -> None:
    from kubectl_tke_net.fix import ACTIONS

    p = sub.add_parser(
        "fix", help="plan, show and (with --apply) apply a remedy",
        description="Plan a remedy and show it as a diff (default: nothing is written). --apply checks every "
                    "change with a server-side dry run, saves a backup, then patches each object with its "
                    "resourceVersion as a precondition. Actions: kube-proxy [--version vX.Y.Z-tke.N]; "
                    "prevent-loopback [NAME...] [--all-lb] [--force]; ingress-keepalive [NAME...]; "
                    "coredns-rewrite --host DOMAIN --service NAME [-n NS]; rollback FILE.")
    p.add_argument("action", choices=ACTIONS, metavar="ACTION", help=", ".join(ACTIONS))
    p.add_argument("names", nargs="*", metavar="NAME", help="Services or Ingresses (default: all in scope); "
                                                             "for rollback: the backup FILE")
    g = p.add_argument_group("fix")
    g.add_argument("--version", dest="target_version", metavar="vX.Y.Z-tke.N",
                   help="kube-proxy: this tag instead of the first loopback-fixed build of its minor")
    g.add_argument("--all-lb", action="store_true", help="prevent-loopback: every LoadBalancer Service, "
                                                         "not only internal ones")
    g.add_argument("--force", action="store_true", help="prevent-loopback: even while kube-proxy lacks the fix")
    g.add_argument("--host", metavar="DOMAIN", help="coredns-rewrite: the domain to resolve to the Service")
    g.add_argument("--service", metavar="NAME", help="coredns-rewrite: the Service (in -n NS)")
    g.add_argument("--dry-run", choices=("client", "server", "none"), default="client", metavar="MODE",
                   help="client (default): diff computed locally; server: diff of the API server's answer to a "
                        "dryRun=All patch; none: no dry run of its own (only --apply writes)")
    g.add_argument("--apply", action="store_true", help="write the changes (after a server-side dry run of "
                                                        "each and a backup file)")
    g.add_argument("--wait", metavar="DUR", help="with --apply: wait for the kube-proxy rollout, or for the "
                                                 "TkeServiceConfig the controller creates (ingress-keepalive)")
    g.add_argument("--backup-dir", default="~/.kube/tke-net/backups", metavar="DIR",
                   help="where --apply saves the objects before changing them (default ~/.kube/tke-net/backups)")
    _cluster_flags(p)
    p.set_defaults(func=cmd_fix, command="fix")


def _add_dump(sub: Any) -> None:
    p = sub.add_parser("dump", help="write the objects the checks read as one List (the --snapshot format)",
                       description="Write every object the checks read as one v1 List, Secret data removed. "
                                   "JSON by default (it is also YAML, and parses a hundred times faster on "
                                   "large clusters); -o yaml for block YAML.")
    _cluster_flags(p)
    p.set_defaults(func=cmd_dump, command="dump", output="json")


def _add_checks(sub: Any) -> None:
    p = sub.add_parser("checks", help="the check catalogue; with CODE: what it means and how to fix it",
                       description="List the checks, or explain one.")
    p.add_argument("code", nargs="?", metavar="CODE")
    p.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table", metavar="FMT")
    p.set_defaults(func=cmd_checks, command="checks")


def _add_version(sub: Any) -> None:
    p = sub.add_parser("version", help="print the version")
    p.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table", metavar="FMT")
    p.set_defaults(func=cmd_version, command="version")


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description="Diagnose and fix Service and Ingress networking on TKE (Tencent "
                                           "Kubernetes Engine): CLB, endpoints, security groups, CLB loopback.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND", parser_class=Parser)
    for add in (_add_service, _add_ingress, _add_loopback, _add_fix, _add_dump, _add_checks, _add_version):
        add(sub)
    return parser


# --- commands ------------------------------------------------------------------------------------------

def _log(args: argparse.Namespace) -> Callable[[str], None] | None:
    if not args.verbose:
        return None

    def log(line: str) -> None:
        print(f"tke-net: {line}", file=sys.stderr)

    return log


def open_source(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """A Snapshot for the run's scope and the report's `source`, from --snapshot or the kubeconfig."""
    from kubectl_tke_net.snapshot import Snapshot, open_snapshot

    if args.snapshot:
        for flag, value in (("--kubeconfig", args.kubeconfig), ("--context", args.context), ("--as", args.as_user)):
            if value:
                raise UsageError(f"{flag} cannot be used with --snapshot (no cluster is contacted)")
        namespace = None if args.all_namespaces else (args.namespace or "default")
        return open_snapshot(args.snapshot, namespace), {"context": None, "cluster": None, "snapshot": args.snapshot}
    from kubectl_tke_net.cluster import Cluster, parse_duration

    try:
        timeout = parse_duration(args.request_timeout)
    except ValueError as exc:
        raise UsageError(f"--request-timeout: {exc}") from exc
    cluster = Cluster(args.kubeconfig, args.context, timeout, args.as_user, _log(args))
    namespace = None if args.all_namespaces else (args.namespace or cluster.target.namespace)
    source = {"context": cluster.target.context, "cluster": cluster.target.cluster, "snapshot": None}
    return Snapshot(cluster, namespace), source


def _color(args: argparse.Namespace) -> bool:
    if args.color == "always":
        return True
    if args.color == "never" or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def cmd_diagnose(args: argparse.Namespace) -> int:
    from kubectl_tke_net import checks, render, report
    from kubectl_tke_net.checks.context import Context, Selector

    select = checks.parse_codes(args.select, "--select") if args.select else ()
    ignore = checks.parse_codes(args.ignore, "--ignore") if args.ignore else ()
    selector = Selector.parse(args.selector) if args.selector else None
    if args.all_namespaces and args.namespace:
        raise UsageError("--namespace and --all-namespaces cannot be used together")
    probe_timeout = None
    if args.command != "loopback":
        from kubectl_tke_net.probe import check_flags

        probe_timeout = check_flags(args)
    snap, source = open_source(args)
    ctx = Context(snap, args.name, selector)
    chosen = checks.selected(args.command, select, ignore)
    if probe_timeout is not None and (probes := checks.selected("probe", select, ignore)):
        from kubectl_tke_net.probe.run import probe_context

        ctx = probe_context(args, snap, selector, probe_timeout, _log(args))
        chosen += probes
    result = checks.run(ctx, chosen, suppress=not args.no_suppress)
    doc = report.build(args.command, source, ctx, result)
    if args.output == "junit":
        sys.stdout.write(render.junit(doc, [(c.code, c.title) for c in chosen], args.fail_on))
    else:
        sys.stdout.write(render.FORMATS[args.output](doc, _color(args)))
    if args.fail_on == "never":
        return 0
    threshold = Severity.parse(args.fail_on)
    return 1 if any(f.severity >= threshold for f in result.findings) else 0


def cmd_fix(args: argparse.Namespace) -> int:
    from kubectl_tke_net.fix import command

    if args.output == "junit":
        raise UsageError("-o junit is for svc, ingress and loopback; fix prints table, wide, json or yaml")
    return command.run(args, open_source)


def cmd_dump(args: argparse.Namespace) -> int:
    from kubectl_tke_net import render
    from kubectl_tke_net.model import Unavailable
    from kubectl_tke_net.snapshot import KINDS

    if args.all_namespaces and args.namespace:
        raise UsageError("--namespace and --all-namespaces cannot be used together")
    if args.output == "junit":
        raise UsageError("-o junit is for svc, ingress and loopback; dump writes yaml or json")
    snap, _source = open_source(args)
    for name in KINDS:
        try:
            snap.list(name)
        except Unavailable as exc:
            print(f"warning: {name} not dumped: {exc.reason}", file=sys.stderr)
    fmt = "yaml" if args.output == "yaml" else "json"
    sys.stdout.write(render.FORMATS[fmt](snap.dump(), False))
    return 0


def cmd_checks(args: argparse.Namespace) -> int:
    from kubectl_tke_net import checks, render

    checks.load_all()
    if args.code:
        code = args.code.upper()
        if code not in checks.CHECKS:
            raise UsageError(f"unknown check code {args.code!r} (see `kubectl tke-net checks`)")
        chk = checks.CHECKS[code]
        if args.output == "table":
            sys.stdout.write(f"{code} ({chk.severity}): {chk.title}\n\n{chk.doc}\n\ndocs: {checks.docs_url(code)}\n")
        else:
            doc = {"code": code, "severity": str(chk.severity), "title": chk.title, "commands": sorted(chk.commands),
                   "doc": chk.doc, "docs": checks.docs_url(code)}
            sys.stdout.write(render.FORMATS[args.output](doc, False))
        return 0
    rows = [(c.code, str(c.severity), ",".join(sorted(c.commands)), c.title) for c in checks.CHECKS.values()]
    rows.sort()
    if args.output == "table":
        from tabulate import tabulate

        sys.stdout.write(tabulate(rows, ["CODE", "SEVERITY", "COMMANDS", "TITLE"], tablefmt="plain") + "\n")
    else:
        items = [{"code": r[0], "severity": r[1], "commands": r[2].split(","), "title": r[3]} for r in rows]
        sys.stdout.write(render.FORMATS[args.output]({"checks": items}, False))
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    if args.output == "table":
        print(f"{PROG} {__version__}")
    else:
        from kubectl_tke_net import render

        sys.stdout.write(render.FORMATS[args.output]({"version": __version__}, False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["__complete"]:  # hidden: what kubectl_complete-tke_net runs (see complete.py)
        from kubectl_tke_net.complete import main as complete

        return complete(argv[1:])
    verbose = "-v" in argv or "--verbose" in argv
    try:
        args = build_parser().parse_args(argv)
        if not hasattr(args, "func"):
            build_parser().print_help(sys.stderr)
            return 2
        return int(args.func(args))
    except TkeNetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (head, less) went away: not an error worth a line.
        sys.stderr.close()
        return 0
    except Exception as exc:
        if verbose:
            raise
        print(f"error: internal error: {type(exc).__name__}: {exc} (run with -v for details)", file=sys.stderr)
        return 1
