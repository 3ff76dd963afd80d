"""Ingress checks TKE201-TKE212: from the CLB rule to the Service, its port and its Pods."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from kubectl_tke_net import tke
from kubectl_tke_net.checks.registry import Hit, check
from kubectl_tke_net.checks.service import (
    _selector_text,
    _why_not_ready,
    no_address_message,
    warning_events_message,
)
from kubectl_tke_net.facts import Context
from kubectl_tke_net.i18n import N_, _, ngettext
from kubectl_tke_net.k8s import (
    Backend,
    annotations_of,
    backends,
    default_backend,
    failing_gates,
    has_backends,
    is_clb_ingress,
    meta,
    mixed_rules,
    pod_ready,
    port_value,
    ref,
    rule_paths,
    rule_text,
    service_port_matches,
    service_ref,
)
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Severity

ING = ("ingress",)


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def _ns_name(obj: Obj) -> tuple[str, str]:
    return meta(obj).get("namespace", ""), meta(obj).get("name", "")


def _target_text(backend: dict[str, Any]) -> str:
    target = service_ref(backend)
    if target is None:
        return _("(resource backend)")
    service, port = target
    return service if port is None else f"{service}:{port}"


def _used_by(items: Iterable[Backend], limit: int = 3) -> str:
    wheres = list(dict.fromkeys(b.where for b in items))
    more = _(" and {n} more").format(n=len(wheres) - limit) if len(wheres) > limit else ""
    return _("used by {backends}").format(backends=", ".join(wheres[:limit]) + more)


def _by_service(items: Iterable[Backend]) -> dict[str, list[Backend]]:
    grouped: dict[str, list[Backend]] = defaultdict(list)
    for backend in items:
        grouped[backend.service].append(backend)
    return grouped


def _only_in(name: str, ns: str, keys: Iterable[tuple[str, str]]) -> str:
    """ ", only in namespace X, which ..." when objects of that name exist in other namespaces only."""
    others = sorted(kns for kns, kname in keys if kname == name and kns != ns)
    return (
        _(", only in namespace {namespaces}, which an Ingress in {ns} cannot use").format(
            namespaces=", ".join(others), ns=ns
        )
        if others
        else ""
    )


def _ports_text(svc: Obj) -> str:
    ports = [
        (f"{p['name']} " if p.get("name") else "") + f"{p.get('port')}/{p.get('protocol') or 'TCP'}"
        for p in _spec(svc).get("ports") or []
    ]
    return ", ".join(ports) if ports else _("none")


def _target_port_hint(svc: Obj, port: int | str) -> str:
    """The usual mistake behind a wrong port number: the container port (targetPort) was given."""
    if isinstance(port, str):
        return ""
    for p in _spec(svc).get("ports") or []:
        if port_value(p.get("targetPort")) == port:
            return _("; {port} is the targetPort of port {service_port}, and a backend names the Service port").format(
                port=port, service_port=p.get("port")
            )
    return ""


def _svc_type(svc: Obj) -> str:
    return str(_spec(svc).get("type") or "ClusterIP")


def _without_address(ing: Obj) -> bool:
    return is_clb_ingress(ing) and not ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress")


def _no_endpoint_reason(ctx: Context, svc: Obj) -> str:
    """Why a Service with a selector has no ready endpoint, as TKE101/TKE102/TKE111 would explain it."""
    ns, _name = _ns_name(svc)
    pods = ctx.selected_pods(svc)
    if not pods:
        return _("selector {selector} matches no Pod in namespace {ns}").format(selector=_selector_text(svc), ns=ns)
    unready = [p for p in pods if not pod_ready(p)]
    if not unready:
        return ngettext(
            "its {n} Pod is ready but its EndpointSlices list no ready endpoint (check its targetPort, see TKE104)",
            "its {n} Pods are ready but its EndpointSlices list no ready endpoint (check its targetPort, see TKE104)",
            len(pods),
        ).format(n=len(pods))
    reason = _("{n} of {total} Pods not ready: {pods}").format(
        n=len(unready), total=len(pods), pods=_why_not_ready(unready)
    )
    if any(tke.BACKENDGROUP_GATE in failing_gates(p) for p in unready):
        reason += _("; a failing CLB readiness gate means the CLB cannot bind or health-check the Pod (TKE111)")
    return reason


@check("TKE201", Severity.ERROR, N_("backend Service missing"), needs=("ingresses", "services"), commands=ING)
def backend_service_missing(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a backend of an Ingress (a rule's path or the default backend) names a Service that does
    not exist in the Ingress's namespace. The message names each missing Service and the rules that use
    it, and suggests a Service with a similar name when there is one. The backends named in TKE's mixed
    HTTP/HTTPS rules (`kubernetes.io/ingress.http-rules`, `https-rules`) count too, here and in
    TKE202-TKE204, TKE207 and TKE208.

    ## Why it breaks traffic
    An Ingress can only send traffic to Services of its own namespace. For a missing Service TKE's
    ingress controller has nothing to bind behind the CLB forwarding rule, so requests matching that
    rule fail (see the Ingress's events); other ingress controllers answer 503.

    ## How to fix it
    Create the Service in the Ingress's namespace, or correct `backend.service.name`
    (`kubectl get services -n NS` lists the names). A Service in another namespace cannot be used
    directly: create the Ingress in that namespace instead.
    """
    for ing in ctx.ingresses:
        ns, name = _ns_name(ing)
        missing = _by_service(b for b in backends(ing) if (ns, b.service) not in ctx.services_by_key)
        if not missing:
            continue
        names = [n for (sns, n) in ctx.services_by_key if sns == ns]
        problems = []
        for service, items in missing.items():
            similar = difflib.get_close_matches(service, names, n=1)
            hint = _only_in(service, ns, ctx.services_by_key)
            if not hint and similar:
                hint = _(", did you mean {name}?").format(name=similar[0])
            problems.append(
                _("Service {service} does not exist in namespace {ns}{hint} ({used_by})").format(
                    service=service, ns=ns, hint=hint, used_by=_used_by(items)
                )
            )
        yield Hit(
            ref(ing),
            "; ".join(problems),
            _(
                "Create the Service in namespace {ns} or correct backend.service.name in the Ingress: "
                "kubectl get services -n {ns}; kubectl edit ingress -n {ns} {name}"
            ).format(ns=ns, name=name),
        )


@check("TKE202", Severity.ERROR, N_("backend port not a Service port"), needs=("ingresses", "services"), commands=ING)
def backend_port_not_in_service(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a backend's port is not a port of its Service: a `port.name` must equal some
    `spec.ports[].name` of the Service, a `port.number` some `spec.ports[].port` (not the `targetPort`,
    not the `nodePort`). The message names the Service, the port and the Service's actual ports.
    ExternalName Services are not checked for numeric ports: the number is used as-is on the external host.

    ## Why it breaks traffic
    The ingress controller resolves the backend to a Service port, and on TKE to that port's NodePort,
    which the CLB binds. With no such port there is nothing to bind: the rule gets no backend and
    requests matching it fail.

    ## How to fix it
    Set the backend's `port.number` to the Service's `port` (or `port.name` to its name), e.g.
    `kubectl get service -n NS NAME -o jsonpath='{.spec.ports}'`, then edit the Ingress. A frequent
    mistake is giving the container port (the `targetPort`) instead of the Service port.
    """
    for ing in ctx.ingresses:
        ns, name = _ns_name(ing)
        bad: dict[tuple[str, int | str], list[Backend]] = defaultdict(list)
        services: dict[str, Obj] = {}
        for backend, svc in ctx.existing_backends(ing):
            port = backend.port
            if port is None or service_port_matches(svc, port):
                continue
            if isinstance(port, int) and _svc_type(svc) == "ExternalName":
                continue
            bad[(backend.service, port)].append(backend)
            services[backend.service] = svc
        if not bad:
            continue
        problems = []
        for (service, port), items in bad.items():
            svc = services[service]
            what = (
                _("no port named {port}").format(port=repr(port))
                if isinstance(port, str)
                else _("no port {port}").format(port=port)
            )
            problems.append(
                _("Service {service} has {what} (its ports: {ports}{hint}; {used_by})").format(
                    service=service,
                    what=what,
                    ports=_ports_text(svc),
                    hint=_target_port_hint(svc, port),
                    used_by=_used_by(items),
                )
            )
        yield Hit(
            ref(ing),
            "; ".join(problems),
            _(
                "Set the backend's port.number to the Service's port (or port.name to its name): "
                "kubectl get service -n {ns} {service} -o jsonpath='{{.spec.ports}}'; "
                "kubectl edit ingress -n {ns} {name}"
            ).format(ns=ns, service=next(iter(bad))[0], name=name),
        )


@check("TKE203", Severity.ERROR, N_("CLB Ingress backend is ClusterIP"), needs=("ingresses", "services"), commands=ING)
def clb_backend_cluster_ip(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires for a CLB Ingress (class `qcloud`, by annotation `kubernetes.io/ingress.class` or
    `spec.ingressClassName`, or no class at all) without `ingress.cloud.tencent.com/direct-access: "true"`
    when a backend Service is of type ClusterIP (the default type).

    ## Why it breaks traffic
    Without direct access, the CLB that TKE creates for the Ingress forwards to a NodePort on every
    node. A ClusterIP Service has no NodePort, so TKE's ingress controller has nothing to bind: the
    rule has no backend and its requests fail (see the Ingress's events).

    ## How to fix it
    Change the Service to type NodePort (or LoadBalancer):
    `kubectl patch service -n NS NAME -p '{"spec":{"type":"NodePort"}}'`. Or, on a VPC-CNI cluster, set
    `ingress.cloud.tencent.com/direct-access: "true"` on the Ingress so the CLB binds the Pods directly.
    """
    for ing in ctx.ingresses:
        if not is_clb_ingress(ing) or tke.is_true(annotations_of(ing).get(tke.ING_DIRECT_ACCESS)):
            continue
        ns, _name = _ns_name(ing)
        cluster_ip = _by_service(b for b, svc in ctx.existing_backends(ing) if _svc_type(svc) == "ClusterIP")
        if not cluster_ip:
            continue
        problems = [
            _("Service {service} is type ClusterIP ({used_by})").format(service=service, used_by=_used_by(items))
            for service, items in cluster_ip.items()
        ]
        patch = """'{"spec":{"type":"NodePort"}}'"""
        patches = "; ".join(f"kubectl patch service -n {ns} {service} -p {patch}" for service in cluster_ip)
        yield Hit(
            ref(ing),
            _("{problems}: the CLB forwards to NodePorts and a ClusterIP Service has none").format(
                problems="; ".join(problems)
            ),
            _('{patches}; or, with VPC-CNI Pods, set {annotation}: "true" on the Ingress').format(
                patches=patches, annotation=tke.ING_DIRECT_ACCESS
            ),
        )


@check(
    "TKE204",
    Severity.ERROR,
    N_("backend Service without ready endpoint"),
    needs=("ingresses", "services", "pods", "endpointslices"),
    commands=ING,
)
def backend_without_ready_endpoint(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a backend Service exists but has no ready endpoint, and says why: its selector matches
    no Pod, its Pods are not ready (with each Pod's reason, such as `CrashLoopBackOff` or the TKE
    readiness gate `cloud.tencent.com/load-balancer-backendgroup-ready`), or its EndpointSlices list
    no ready endpoint. Ready endpoints come from the Service's EndpointSlices when any exist, else from
    its Pods' Ready condition. Services without a selector and ExternalName Services are not checked.

    ## Why it breaks traffic
    The CLB (through the NodePort, or directly with direct access) reaches only ready Pods. With none,
    every request matching the rule fails: TKE's CLB answers 502 or 504, as the troubleshooting guide
    describes for an Ingress whose backend Service cannot be reached in the cluster.

    ## How to fix it
    `kubectl tke-net service -n NS NAME` shows the Service's own findings (TKE101, TKE102, TKE111);
    fix the selector or Pod labels, the readiness probe or crash (`kubectl describe pod -n NS POD`), or
    the CLB health check when the readiness gate is failing.
    """
    for ing in ctx.ingresses:
        ns, _name = _ns_name(ing)
        without = _by_service(
            b for b, svc in ctx.existing_backends(ing) if has_backends(svc) and not ctx.endpoints(svc).ready
        )
        if not without:
            continue
        problems = []
        for service, items in without.items():
            svc = ctx.services_by_key[(ns, service)]
            problems.append(
                _("Service {service} has no ready endpoint ({used_by}): {reason}").format(
                    service=service, used_by=_used_by(items), reason=_no_endpoint_reason(ctx, svc)
                )
            )
        yield Hit(
            ref(ing),
            "; ".join(problems),
            _("{commands} and fix what it reports (selector, readiness probe, crash, CLB readiness gate)").format(
                commands="; ".join(f"kubectl tke-net service -n {ns} {service}" for service in without)
            ),
        )


def _ingress_tls_problems(ing: Obj, secrets: set[tuple[str, str]]) -> tuple[list[str], str | None]:
    """What is wrong with the Secrets of an Ingress's spec.tls, and the first missing Secret's name."""
    ns, _name = _ns_name(ing)
    missing: dict[str, list[str]] = {}
    problems = []
    for tls in _spec(ing).get("tls") or []:
        secret = tls.get("secretName")
        hosts = [str(h) for h in tls.get("hosts") or []]
        if not secret:
            # Other controllers serve their default certificate for such an entry; TKE's refuses it.
            if is_clb_ingress(ing):
                problems.append(
                    _(
                        "a spec.tls entry{hosts} has no secretName, so the CLB gets no certificate for it (E4009)"
                    ).format(hosts=_(" (hosts {hosts})").format(hosts=", ".join(hosts)) if hosts else "")
                )
        elif (ns, secret) not in secrets:
            missing.setdefault(secret, []).extend(hosts)
    problems += [
        _("TLS Secret {secret} does not exist in namespace {ns}{elsewhere}").format(
            secret=secret, ns=ns, elsewhere=_only_in(secret, ns, secrets)
        )
        + (_(" (hosts {hosts})").format(hosts=", ".join(dict.fromkeys(hosts))) if hosts else "")
        for secret, hosts in missing.items()
    ]
    return problems, next(iter(missing), None)


@check("TKE205", Severity.ERROR, N_("TLS Secret missing"), needs=("ingresses", "secrets"), commands=ING)
def tls_secret_missing(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Secret named in the Ingress's `spec.tls` does not exist in the Ingress's namespace, and
    when a `spec.tls` entry of a CLB Ingress has no `secretName` at all (controller error `E4009`; other
    controllers serve their default certificate for such an entry). Only the Secrets' names are read,
    never their data. When the user may not list Secrets the check is reported as skipped, not as a
    missing Secret. The certificate IDs of `ingress.cloud.tencent.com/certificate` are Tencent Cloud SSL
    certificates, not Secrets: TKE406 reads them through the SSL API (`--cloud`); without it the controller's
    events say what is wrong with them (`E4012`/`E4036`, see TKE212).

    ## Why it breaks traffic
    Without the Secret the controller has no certificate for the hosts. TKE's ingress controller
    reports error `E4010` (Secret not found) or `E4009` (no secretName) as an event on the Ingress and
    cannot create the HTTPS listener, so HTTPS requests for those hosts fail; other controllers serve a
    default, untrusted certificate.

    ## How to fix it
    Create the Secret in the Ingress's namespace. For TKE's controllers it is an Opaque Secret whose key
    `qcloud_cert_id` holds the ID of a certificate uploaded to Tencent Cloud SSL Certificates:
    `kubectl create secret generic NAME -n NS --from-literal=qcloud_cert_id=CERT_ID`. For other
    controllers: `kubectl create secret tls NAME -n NS --cert=tls.crt --key=tls.key`. Give every
    `spec.tls` entry a `secretName`, or drop the entry.
    """
    secrets = {_ns_name(s) for s in ctx.snap.list("secrets")}
    for ing in ctx.ingresses:
        ns, name = _ns_name(ing)
        problems, first = _ingress_tls_problems(ing, secrets)
        if not problems:
            continue
        if first is None:
            fix = _(
                "Set spec.tls[].secretName to a Secret with the certificate, or remove the entry: "
                "kubectl edit ingress -n {ns} {name}"
            ).format(ns=ns, name=name)
        else:
            if is_clb_ingress(ing):
                create = f"kubectl create secret generic {first} -n {ns} --from-literal=qcloud_cert_id=CERT_ID"
            else:
                create = f"kubectl create secret tls {first} -n {ns} --cert=tls.crt --key=tls.key"
            fix = _("Create the Secret in namespace {ns} ({command}) or correct spec.tls[].secretName").format(
                ns=ns, command=create
            )
        yield Hit(ref(ing), "; ".join(problems), fix)


@check("TKE206", Severity.ERROR, N_("CLB Ingress without address"), needs=("ingresses",), commands=ING)
def clb_ingress_without_address(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a CLB Ingress has no address in `status.loadBalancer.ingress`: TKE's ingress controller
    has not created or bound its CLB. The message quotes the Ingress's newest Warning event, where the
    controller says why (events are read when the user may list them).

    ## Why it breaks traffic
    Without a CLB nothing receives the Ingress's traffic. Typical causes on TKE: an invalid subnet in
    `kubernetes.io/ingress.subnetId`, an existing CLB (`kubernetes.io/ingress.existLbId`) that still has
    other listeners or lives in another VPC, a CLB quota or account balance problem, a backend the
    controller cannot bind (see TKE201-TKE203), a missing TLS Secret (TKE205), or a malformed annotation.

    ## How to fix it
    `kubectl describe ingress -n NS NAME` and fix what the controller's events name; it retries by
    itself. The controller's version:
    `kubectl -n kube-system get cm tke-ingress-controller-config -o jsonpath='{.data.VERSION}'`.
    """
    for ing in ctx.ingresses:
        if not _without_address(ing):
            continue
        message = no_address_message(ctx, ing, _("CLB Ingress without a CLB address"))
        ns, name = _ns_name(ing)
        yield Hit(
            ref(ing),
            message,
            _(
                "kubectl describe ingress -n {ns} {name}: fix what the controller's event names (subnet, "
                "existing CLB, quota, balance, backends, certificate, annotations); it retries by itself."
            ).format(ns=ns, name=name),
        )


@check("TKE207", Severity.INFO, N_("no default backend"), needs=("ingresses",), commands=ING)
def no_default_backend(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when an Ingress has no default backend (`spec.defaultBackend`). The message lists its host/path
    rules with their Services, so that a 404 can be compared with what the Ingress actually routes.

    ## Why it matters
    A request whose host and path match none of the rules has nowhere to go: the CLB (or the ingress
    controller) answers 404. TKE's troubleshooting guide:
    "若请求返回404，请检查 Ingress 转发规则是否正确设置".
    This is normal when only the listed hosts and paths are meant to be served.

    ## How to fix it
    If a URL gets 404, check that its host and path match one of the listed rules (`Prefix` matches
    whole path segments, `Exact` the exact path). To serve everything else too, add
    `spec.defaultBackend: {service: {name: NAME, port: {number: PORT}}}`.
    """
    for ing in ctx.ingresses:
        if default_backend(ing):
            continue
        rules = [
            f"{rule_text(host, path, path_type)} -> {_target_text(backend)}"
            for host, path, path_type, backend in rule_paths(ing)
        ] + [
            f"{protocol} {rule_text(host, path, None)} -> {_target_text(backend)}"
            for protocol, host, path, backend in mixed_rules(ing)
        ]
        limit = 10
        listed = "; ".join(rules[:limit]) + (
            _("; and {n} more").format(n=len(rules) - limit) if len(rules) > limit else ""
        )
        ns, name = _ns_name(ing)
        yield Hit(
            ref(ing),
            _("no default backend: requests matching none of these rules get 404: {rules}").format(
                rules=listed or _("none")
            ),
            _(
                "If a URL gets 404, compare its host and path with these rules "
                "(kubectl describe ingress -n {ns} {name}); to serve all other requests, "
                "add spec.defaultBackend."
            ).format(ns=ns, name=name),
        )


@check("TKE208", Severity.WARNING, N_("duplicate host and path"), needs=("ingresses",), commands=ING)
def duplicate_host_path(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when the same host and path appear more than once in one Ingress (in one rule or in several
    rules for the same host), whatever their `pathType`.

    ## Why it matters
    Only one of the duplicates can take effect. Which one is up to the controller: TKE's CLB has one
    forwarding rule per domain and URL, so the other backend never receives traffic, and a later edit
    can silently switch which backend serves the path.

    ## How to fix it
    Keep one entry per host and path: delete the duplicate or give it a different path
    (`kubectl edit ingress -n NS NAME`).
    """
    for ing in ctx.ingresses:
        # The mixed-rules annotations list spec rules again, per protocol: duplicates count within each list.
        seen: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for host, path, _path_type, backend in rule_paths(ing):
            seen[("", host, path)].append(_target_text(backend))
        for protocol, host, path, backend in mixed_rules(ing):
            seen[(protocol, host, path)].append(_target_text(backend))
        dups = [(key, targets) for key, targets in seen.items() if len(targets) > 1]
        if not dups:
            continue
        ns, name = _ns_name(ing)
        problems = [
            _("{rule} appears {n} times (-> {targets})").format(
                rule=(f"{protocol} " if protocol else "") + f"{host}{path}", n=len(targets), targets=", ".join(targets)
            )
            for (protocol, host, path), targets in dups
        ]
        yield Hit(
            ref(ing),
            _("{problems}; only one of them takes effect").format(problems="; ".join(problems)),
            _("Keep one entry per host and path: kubectl edit ingress -n {ns} {name}").format(ns=ns, name=name),
        )


@check("TKE209", Severity.ERROR, N_("IngressClass missing"), needs=("ingresses", "ingressclasses"), commands=ING)
def ingress_class_missing(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when `spec.ingressClassName` names an IngressClass that does not exist. `qcloud` is excepted:
    TKE's ingress controller serves it without an IngressClass object. When the user may not list
    IngressClasses the check is reported as skipped, not as a missing class.

    ## Why it breaks traffic
    An ingress controller only serves Ingresses of its own class. With a class no controller owns, no
    controller picks the Ingress up: it never gets an address and nothing forwards its traffic.

    ## How to fix it
    `kubectl get ingressclass` lists the classes; set `spec.ingressClassName` to one of them, or to
    `qcloud` for a TKE CLB Ingress, or install the controller the class belongs to.
    """
    classes = {meta(c).get("name", "") for c in ctx.snap.list("ingressclasses")}
    for ing in ctx.ingresses:
        wanted = _spec(ing).get("ingressClassName")
        if not wanted or wanted == tke.QCLOUD_CLASS or wanted in classes:
            continue
        known = ", ".join(sorted(classes)) or _("none")
        ns, name = _ns_name(ing)
        yield Hit(
            ref(ing),
            _(
                "IngressClass {wanted} does not exist (IngressClasses: {known}); no controller serves this Ingress"
            ).format(wanted=wanted, known=known),
            _(
                "Set spec.ingressClassName to an existing class (kubectl get ingressclass) or to {qcloud} for a "
                "TKE CLB: kubectl edit ingress -n {ns} {name}"
            ).format(qcloud=tke.QCLOUD_CLASS, ns=ns, name=name),
        )


@check("TKE210", Severity.ERROR, N_("malformed security-groups annotation"), needs=("ingresses",), commands=ING)
def malformed_ingress_security_groups(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a CLB Ingress's `ingress.cloud.tencent.com/security-groups` is not a comma-separated
    list of security group IDs (`sg-` followed by 8 or more lowercase letters and digits), or lists
    more than 5.

    ## Why it breaks traffic
    TKE's ingress controller cannot bind the security groups to the CLB: the sync fails (see the
    Ingress's events) and the CLB keeps its old security groups, or none, so it may accept or drop
    traffic other than intended.

    ## How to fix it
    Write the IDs as `"sg-xxxxxxxx,sg-yyyyyyyy"`, at most 5, copied from the VPC console.
    """
    for ing in ctx.ingresses:
        value = annotations_of(ing).get(tke.ING_SECURITY_GROUPS)
        if value is None or not is_clb_ingress(ing):
            continue
        problem = tke.security_group_problem(value)
        if problem:
            ns, name = _ns_name(ing)
            yield Hit(
                ref(ing),
                _("{annotation} is malformed: {problem}").format(annotation=tke.ING_SECURITY_GROUPS, problem=problem),
                _(
                    'Use a comma-separated list of at most 5 IDs, e.g. "sg-12345678,sg-abcdefgh": '
                    "kubectl annotate ingress -n {ns} {name} --overwrite "
                    "{annotation}=sg-xxxxxxxx,sg-yyyyyyyy"
                ).format(ns=ns, name=name, annotation=tke.ING_SECURITY_GROUPS),
            )


@check("TKE211", Severity.INFO, N_("CLB security group must allow 443"), needs=("ingresses",), commands=ING)
def clb_tls_needs_443(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires for a CLB Ingress with `spec.tls`: its CLB listens on 443 for HTTPS, and the CLB's security
    group (not visible through the Kubernetes API) must allow it. `--cloud` checks it (TKE402).

    ## Why it matters
    TKE's troubleshooting guide: "检查 Ingress 绑定的 CLB 是否设置了未放通443端口的安全组". A CLB security
    group that allows 80 but not 443 makes HTTP work and HTTPS time out. Internal CLBs may not support
    security groups at all, depending on the CLB generation.

    ## How to fix it
    In the CLB console (the ID is in the Ingress's `kubernetes.io/ingress.qcloud-loadbalance-id`
    annotation), check the security groups bound to the CLB (or those named in
    `ingress.cloud.tencent.com/security-groups`) and allow inbound TCP 443 from the clients.
    """
    for ing in ctx.ingresses:
        if not is_clb_ingress(ing) or not _spec(ing).get("tls"):
            continue
        notes = annotations_of(ing)
        clb = _("CLB {id}").format(id=notes[tke.ING_LB_ID]) if notes.get(tke.ING_LB_ID) else _("the CLB")
        hosts = list(dict.fromkeys(str(h) for tls in _spec(ing)["tls"] for h in tls.get("hosts") or []))
        for_hosts = _(" for {hosts}").format(hosts=", ".join(hosts)) if hosts else ""
        groups = notes.get(tke.ING_SECURITY_GROUPS)
        where = (
            _("security groups {groups}").format(groups=groups)
            if groups
            else _("the security groups bound to {clb}").format(clb=clb)
        )
        yield Hit(
            ref(ing),
            _(
                "TLS is configured{hosts}: {clb} serves HTTPS on 443, which its security groups must "
                "allow (not visible through the Kubernetes API)"
            ).format(hosts=for_hosts, clb=clb),
            _("Check that {where} allow inbound TCP 443 (CLB console, Security Groups tab).").format(where=where),
        )


@check("TKE212", Severity.WARNING, N_("Warning events on the Ingress"), needs=("ingresses", "events"), commands=ING)
def ingress_warning_events(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when an Ingress has Warning events, listing each distinct reason once with its newest message,
    and saying what the TKE ingress controller's error code in it (`E4xxx`, `E5xxx`, `E6xxx`, `W1xxx`)
    means and what to do. The event that TKE206 already quotes (a CLB Ingress without address) is left out;
    an Ingress that has an address is not: this is the check that shows its errors.

    ## Why it breaks traffic
    TKE's ingress controller syncs an Ingress as one unit and reports what fails as a Warning event on it.
    Since the controller's "error protection" change it skips the part it cannot apply and keeps the rest:
    an Ingress can have its CLB address and still carry a blocking error, such as a missing TLS Secret
    (`E4010`) that leaves the CLB without its HTTPS listener, or a backend it cannot bind (`E4041`,
    `E4042`, `E4047`). The events are the only trace of it, and are kept about an hour.

    ## How to fix it
    Read the events (`kubectl describe ingress -n NS NAME`) and fix what they name;
    `kubectl tke-net checks E4010` explains a code. The events stop once the controller's next sync
    succeeds.
    """
    for ing in ctx.ingresses:
        message = warning_events_message(ctx, ing, _without_address(ing))
        if message:
            ns, name = _ns_name(ing)
            yield Hit(
                ref(ing),
                message,
                _("kubectl describe ingress -n {ns} {name} and fix what the events name.").format(ns=ns, name=name),
            )
