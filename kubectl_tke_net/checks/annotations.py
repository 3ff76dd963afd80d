"""Annotation checks TKE114-TKE116 (Services) and TKE213-TKE216 (Ingresses): what TKE's controllers will
reject or silently misread, judged offline from the annotation catalogue (tke_annotations) before they sync."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from kubectl_tke_net import i18n, tke, tke_annotations, tke_errors
from kubectl_tke_net.checks.registry import Hit, NotJudged, check
from kubectl_tke_net.facts import Context
from kubectl_tke_net.i18n import N_, _
from kubectl_tke_net.k8s import annotations_of, is_clb_ingress, meta, ref
from kubectl_tke_net.kinds import Obj
from kubectl_tke_net.model import Severity, Unavailable
from kubectl_tke_net.terminal import escape

SVC = ("service",)
ING = ("ingress",)


def _ns_name(obj: Obj) -> tuple[str, str]:
    return meta(obj).get("namespace", ""), meta(obj).get("name", "")


def _code_note(kind: str, code: str | None) -> str:
    """ "; the controller reports E4044 (meaning)", in the run's language, when the catalogue has the code."""
    row = tke_errors.lookup(kind, code) if code else None
    if row is None:
        return ""
    lang = 1 if i18n.language() == "zh" else 0
    return _("; the controller reports {code} ({meaning})").format(code=code, meaning=row.meaning[lang])


def _unknown_keys(kind: str, obj: Obj) -> tuple[list[str], Severity]:
    problems = []
    severity = Severity.INFO
    for key in sorted(annotations_of(obj)):
        if not tke_annotations.under_tke_prefix(key) or tke_annotations.known(kind, key):
            continue
        near = tke_annotations.closest(kind, key)
        if near is None:
            problems.append(_("{key} is not a documented TKE annotation").format(key=key))
            continue
        if near in tke_annotations.INTERNAL_KEYS:
            severity = Severity.ERROR
            problems.append(
                _(
                    "{key} is not a TKE annotation, did you mean {near}? Without it the CLB is created PUBLIC, "
                    "and TKE refuses to switch it to internal afterwards"
                ).format(key=key, near=near)
            )
        else:
            severity = max(severity, Severity.WARNING)
            problems.append(
                _("{key} is not a TKE annotation, did you mean {near}? The controller ignores it").format(
                    key=key, near=near
                )
            )
    return problems, severity


def _unknown_hint(kind: str) -> str:
    return _(
        "Correct the key (kubectl annotate {kind} -n NS NAME OLD- NEW=VALUE); for an internal CLB whose "
        "subnet key was misspelt, the public CLB must be replaced: switch the object to ClusterIP/NodePort "
        "or delete it, then apply it with the right key."
    ).format(kind=kind.lower())


@check("TKE114", Severity.WARNING, N_("unknown TKE annotation on the Service"), needs=("services",), commands=SVC)
def service_unknown_annotation(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Service has an annotation under `service.kubernetes.io/`, `service.cloud.tencent.com/`,
    `ingress.cloud.tencent.com/` or `kubernetes.io/ingress.` that TKE does not document for Services, and
    names the documented key closest to it ("did you mean"). Error when that key is
    `service.kubernetes.io/qcloud-loadbalancer-internal-subnetid`; warning when another documented key is
    close; info when none is (a key this catalogue may not know yet).

    ## Why it breaks traffic
    The service controller silently ignores keys it does not know: no event, no error. A misspelt
    internal-subnet key creates a PUBLIC CLB, and TKE refuses to switch a CLB between public and internal in
    place; a misspelt `tke-existed-lbid` buys a new CLB instead of reusing one; a misspelt `prevent-loopback`
    or `pass-to-target` leaves the behaviour it was meant to change. Tables copied from third-party mirrors
    put keys under the wrong prefix (`service.cloud.tencent.com/local-svc-only-bind-node-with-pod`).

    ## How to fix it
    Use the key the message suggests (TKE's Service Annotation page lists them). For an internal CLB whose
    key was misspelt, the public CLB cannot be made internal: change the Service to ClusterIP or NodePort
    first, then back to LoadBalancer with the right key.
    """
    for svc in ctx.services:
        problems, severity = _unknown_keys(tke_annotations.SERVICE, svc)
        if problems:
            yield Hit(ref(svc), "; ".join(problems), _unknown_hint("Service"), severity)


@check("TKE213", Severity.WARNING, N_("unknown TKE annotation on the Ingress"), needs=("ingresses",), commands=ING)
def ingress_unknown_annotation(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a CLB Ingress has an annotation under `kubernetes.io/ingress.`, `ingress.cloud.tencent.com/`,
    `service.kubernetes.io/` or `service.cloud.tencent.com/` that TKE does not document for Ingresses, and
    names the documented key closest to it ("did you mean"). Error when that key is
    `kubernetes.io/ingress.subnetId`; warning when another documented key is close; info when none is.

    ## Why it breaks traffic
    The ingress controller silently ignores keys it does not know. `kubernetes.io/ingress.subnetid` or
    `ingress.cloud.tencent.com/subnetId` instead of `kubernetes.io/ingress.subnetId` (camel case) creates a
    PUBLIC CLB, which TKE refuses to switch to internal in place; `existedLbId` instead of `existLbId` buys
    a new CLB.

    ## How to fix it
    Use the key the message suggests (TKE's Ingress Annotation page lists them). For an internal CLB whose
    key was misspelt, delete the Ingress and create it again with the right key.
    """
    for ing in ctx.ingresses:
        if not is_clb_ingress(ing):
            continue
        problems, severity = _unknown_keys(tke_annotations.INGRESS, ing)
        if problems:
            yield Hit(ref(ing), "; ".join(problems), _unknown_hint("Ingress"), severity)


def _bad_values(kind: str, obj: Obj) -> tuple[list[str], Severity]:
    problems = []
    severity = Severity.WARNING
    for key, value in sorted(annotations_of(obj).items()):
        note = tke_annotations.BY_KEY.get((kind, key))
        if note is None:
            continue
        problem = tke_annotations.value_problem(note, str(value))
        if problem is None:
            continue
        # JSON the controller cannot read, and values it rejects with a code, fail the whole sync.
        if note.type == "json" or note.code:
            severity = Severity.ERROR
        problems.append(f"{key}: {problem}{_code_note(kind, note.code)}")
    return problems, severity


def specified_tls_secrets(svc: Obj) -> list[tuple[str, str | None, str]]:
    """(port, host or None, Secret name) of each TLS Secret that `service.cloud.tencent.com/specify-protocol`
    names for a port of a LoadBalancer Service: an entry's `tls` (TCP_SSL) and its `hosts.HOST.tls` (HTTPS).
    The annotation acts on LoadBalancer Services only, and entries of ports the Service does not have are
    ignored by the controller [S8], so neither is returned; nor anything of a value TKE115's static part
    rejects as malformed."""
    spec = svc.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return []
    try:
        value = json.loads(annotations_of(svc).get(tke.SVC_SPECIFY_PROTOCOL) or "{}")
    except ValueError:
        return []
    ports = {str(p.get("port")) for p in spec.get("ports") or [] if isinstance(p, dict)}
    found: list[tuple[str, str | None, str]] = []
    for port, entry in value.items() if isinstance(value, dict) else ():
        if str(port) not in ports or not isinstance(entry, dict):
            continue
        if isinstance(entry.get("tls"), str) and entry["tls"]:
            found.append((str(port), None, entry["tls"]))
        hosts = entry.get("hosts")
        for host, conf in sorted(hosts.items()) if isinstance(hosts, dict) else ():
            if isinstance(conf, dict) and isinstance(conf.get("tls"), str) and conf["tls"]:
                found.append((str(port), str(host), conf["tls"]))
    return found


def _tls_secret_problems(
    svc: Obj, secrets: dict[tuple[str, str], str | None]
) -> tuple[list[str], Severity, str | None]:
    """What is wrong with the specify-protocol TLS Secrets of the Service (missing: error; not Opaque: warning),
    and the first missing Secret's name."""
    ns = meta(svc).get("namespace", "")
    problems: list[str] = []
    severity = Severity.WARNING
    first: str | None = None
    for port, host, secret in specified_tls_secrets(svc):
        where = _("port {port}").format(port=port) + (_(" host {host}").format(host=host) if host else "")
        if (ns, secret) not in secrets:
            severity = Severity.ERROR
            first = first or secret
            problems.append(
                _(
                    "{annotation} {where}: TLS Secret {secret} does not exist in namespace {ns}, so the CLB "
                    "listener gets no certificate"
                ).format(annotation=tke.SVC_SPECIFY_PROTOCOL, where=where, secret=secret, ns=ns)
            )
            continue
        kind = secrets[(ns, secret)]
        if kind is not None and kind != "Opaque":
            problems.append(
                _(
                    "{annotation} {where}: TLS Secret {secret} is of type {type}, but TKE reads the certificate "
                    "ID from the key qcloud_cert_id of an Opaque Secret"
                ).format(annotation=tke.SVC_SPECIFY_PROTOCOL, where=where, secret=secret, type=kind)
            )
    return problems, severity, first


@check("TKE115", Severity.ERROR, N_("invalid TKE annotation value on the Service"), needs=("services",), commands=SVC)
def service_invalid_annotation_value(ctx: Context) -> Iterator[Hit | NotJudged]:
    """
    ## What it does
    Fires when a documented TKE Service annotation has a value of the wrong type: JSON that does not parse
    (the message gives the line and column) or lacks the documented shape
    (`service.kubernetes.io/service.extensiveParameters` is an object, `service.cloud.tencent.com/specify-protocol`
    an object keyed by port whose entries have a `protocol` list), a value outside its enum
    (`...-internet-charge-type`, `loadbalance-type`, `mode`) or its range (bandwidth 1-2048), or an ID that
    does not look like one (`subnet-`, `lb-`, `vpc-`, region (`ap-guangzhou`)), or a
    `service.kubernetes.io/qcloud-loadbalancer-backends-label` that is not a label selector (`group=access-layer`;
    one that selects no node is TKE118). Error for JSON and for values the controller rejects with a code;
    warning for an ID format or a selector, whose effect only the controller can confirm.

    On a LoadBalancer Service it also judges the TLS Secrets `specify-protocol` names for the Service's ports
    (an entry's `tls`, TCP_SSL; `hosts.HOST.tls`, HTTPS): error when the Secret does not exist in the
    Service's namespace, warning when it is not of type `Opaque`. Only the Secrets' names and types are
    read, never their data, so the certificate ID in them (key `qcloud_cert_id`) is not judged. A live run
    lists Secrets as metadata only, which carries no type: the type is judged where a snapshot holds it
    (`kubectl get secrets -o yaml`). When the Secrets cannot be read (RBAC), and in `lint` without
    `--cluster` or `--snapshot` (TLS Secrets are seldom in manifests), that part is listed in `skipped`
    and the rest of the check still runs.

    ## Why it breaks traffic
    The service controller syncs the Service as one unit: a malformed `extensiveParameters` fails the CLB
    creation (`E4005`, no address: TKE107), a wrong subnet ID fails it too (`E4037`), and a `specify-protocol`
    of the wrong shape leaves the listener on the Service port's protocol. TKE's own guides contain such
    JSON (`'{ Vip: "1.1.1.1" }'`, an unquoted key). A TCP_SSL or HTTPS listener needs a certificate, which
    the controller takes from the Secret: without it (or from a Secret of another type, against TKE's
    documentation) the listener has no certificate. TKE documents no Service error code for a missing
    Secret (`E4062` is an expired certificate).

    ## How to fix it
    Write the value as documented: JSON with double-quoted keys and strings
    (`{"VipIsp":"CMCC"}`, `{"80":{"protocol":["TCP_SSL"],"tls":"cert-secret"}}`), an enum value exactly as
    spelt, IDs copied from the console. A `specify-protocol` TLS Secret is an Opaque Secret in the Service's
    namespace whose key `qcloud_cert_id` holds the ID of a certificate uploaded to Tencent Cloud SSL
    Certificates: `kubectl create secret generic NAME -n NS --from-literal=qcloud_cert_id=CERT_ID`.
    Source: Tencent Cloud, "Service 扩展协议" (TKE-FACTS-2 [S8]).
    """
    secrets: dict[tuple[str, str], str | None] | None = None
    if any(specified_tls_secrets(svc) for svc in ctx.services):
        try:
            secrets = {_ns_name(s): s.get("type") for s in ctx.snap.list("secrets")}
        except Unavailable as exc:
            yield NotJudged(
                _("the TLS Secrets named in {annotation} are not judged (the rest of TKE115 ran): {reason}").format(
                    annotation=tke.SVC_SPECIFY_PROTOCOL, reason=exc.reason
                )
            )
    for svc in ctx.services:
        ns, name = _ns_name(svc)
        problems, severity = _bad_values(tke_annotations.SERVICE, svc)
        fix = _("Fix the values as TKE documents them: kubectl edit service -n {ns} {name}").format(ns=ns, name=name)
        if secrets is not None:
            tls_problems, tls_severity, missing = _tls_secret_problems(svc, secrets)
            if tls_problems:
                severity = max(severity, tls_severity)
                problems += tls_problems
                if missing:
                    fix += _("; create the TLS Secret: {command}").format(
                        command=f"kubectl create secret generic {missing} -n {ns} --from-literal=qcloud_cert_id=CERT_ID"
                    )
        if problems:
            yield Hit(ref(svc), "; ".join(problems), fix, severity)


@check("TKE214", Severity.ERROR, N_("invalid TKE annotation value on the Ingress"), needs=("ingresses",), commands=ING)
def ingress_invalid_annotation_value(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a documented annotation of a CLB Ingress has a value of the wrong type: JSON that does not
    parse (the message gives the line and column) or lacks the documented shape
    (`kubernetes.io/ingress.http-rules` and `https-rules`: arrays of `{"host", "path", "backend":
    {"serviceName", "servicePort"}}`; `ingress.cloud.tencent.com/listen-ports`: `[{"HTTP":80},{"HTTPS":443}]`;
    `ingress.cloud.tencent.com/certificate`: `[{"hosts":[...],"qcloud_cert_id":[...]}]`;
    `kubernetes.io/ingress.extensiveParameters`: an object), a boolean other than exactly `"true"` or
    `"false"` where the controller rejects it (`direct-access`, `rule-mix`, `tke-service-config-auto`), an
    enum or range violation (`internetChargeType`, `internetMaxBandwidthOut` 1-2048) or an ID that does not
    look like one (`subnetId`, `existLbId`). The message names the code the controller will give.

    ## Why it breaks traffic
    The ingress controller syncs the Ingress as one unit and fails it on these values: `E4022`/`E4023`
    (http-rules/https-rules), `E4026` (extensiveParameters), `E4037`/`E4044`/`E4050` (booleans),
    `E4045`/`E4046` (charge type, bandwidth), `E4091`/`E4098` (subnet, CLB ID). Without an address that is
    TKE206; with one, the rules stop being updated.

    ## How to fix it
    Write the value as documented: JSON with double-quoted keys and strings, booleans as `"true"` or
    `"false"`, IDs copied from the console.
    """
    for ing in ctx.ingresses:
        if not is_clb_ingress(ing):
            continue
        problems, severity = _bad_values(tke_annotations.INGRESS, ing)
        if problems:
            yield Hit(
                ref(ing),
                "; ".join(problems),
                _("Fix the values as TKE documents them: kubectl edit ingress -n {ns} {name}").format(
                    ns=_ns_name(ing)[0], name=_ns_name(ing)[1]
                ),
                severity,
            )


# --- Ingress rules the controller rejects ---------------------------------------------------------------------

# E4052: the ingress controller's host pattern (lower case, at least one dot, `*` only as the whole first label).
HOST = re.compile(r"(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+")
# E4031: a path starts with /, has 1-120 characters of these; no regular expressions.
PATH = re.compile(r"/[a-zA-Z0-9.\-/=?]{0,119}")


def _covers(tls_host: str, host: str) -> bool:
    if tls_host == host:
        return True
    return tls_host.startswith("*.") and host.endswith(tls_host[1:]) and "." not in host[: -len(tls_host) + 1]


def _ipv6(ing: Obj) -> bool:
    """The Ingress asks for an IPv6 CLB (AddressIPVersion IPV6 or IPv6FullChain in its extensiveParameters)."""
    try:
        params = json.loads(annotations_of(ing).get("kubernetes.io/ingress.extensiveParameters") or "{}")
    except ValueError:
        return False
    return isinstance(params, dict) and str(params.get("AddressIPVersion") or "").upper().startswith("IPV6")


def rule_problems(ing: Obj) -> list[str]:
    """What the TKE ingress controller rejects in spec.rules and spec.tls, each with its code."""
    spec: dict[str, Any] = ing.get("spec") or {}
    problems = []
    hosts: list[str] = []
    for rule in spec.get("rules") or []:
        host = str(rule.get("host") or "")
        if host:
            hosts.append(host)
            if not HOST.fullmatch(host):
                problems.append(_("host {host} is not a valid domain (E4052)").format(host=repr(host)))
        paths = (rule.get("http") or {}).get("paths")
        if not paths:
            problems.append(_("rule {host} has no http paths (E4013)").format(host=host or "*"))
        for path in paths or []:
            value = str(path.get("path") or "/")
            if not PATH.fullmatch(value):
                problems.append(
                    _(
                        "path {path} is not accepted: it must start with /, have at most 120 characters of "
                        "a-z A-Z 0-9 . - / = ? and no regular expression (E4031)"
                    ).format(path=repr(value))
                )
    if _ipv6(ing) and any(not rule.get("host") for rule in spec.get("rules") or []):
        problems.append(_("an IPv6 CLB needs a host on every rule, and a rule has none (E4034)"))
    tls = spec.get("tls") or []
    defaults = 0
    seen: dict[str, int] = {}
    for entry in tls:  # an entry without secretName (E4009) is TKE205's
        entry_hosts = [str(h) for h in entry.get("hosts") or []]
        if not entry_hosts:
            defaults += 1
        for host in dict.fromkeys(entry_hosts):
            seen[host] = seen.get(host, 0) + 1
    if defaults > 1:
        problems.append(
            _("{n} spec.tls entries without hosts: only one default certificate is allowed (E4048)").format(n=defaults)
        )
    for host, count in seen.items():
        if count > 1:
            problems.append(_("host {host} is in {n} spec.tls entries (E4049)").format(host=host, n=count))
    mixed = tke_annotations.HTTP_RULES_KEYS & set(annotations_of(ing))
    if tls and not defaults and not mixed:
        tls_hosts = list(seen)
        uncovered = [h for h in dict.fromkeys(hosts) if not any(_covers(t, h) for t in tls_hosts)]
        if uncovered:
            problems.append(
                _("under TLS, host {hosts} has no certificate: no spec.tls entry covers it (E4040)").format(
                    hosts=", ".join(uncovered)
                )
            )
    return problems


@check("TKE215", Severity.ERROR, N_("Ingress rule the TKE controller rejects"), needs=("ingresses",), commands=ING)
def ingress_rule_rejected(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a CLB Ingress has rules or TLS entries TKE's ingress controller rejects: a host that is not a
    lower-case domain with at least one dot (`E4052`), a path that does not start with `/`, is longer than
    120 characters, or uses characters other than `a-z A-Z 0-9 . - / = ?` (regular expressions are not
    supported, `E4031`), a rule with a host but no `http` paths (`E4013`), a rule without a host on an
    IPv6 CLB (`AddressIPVersion` in `kubernetes.io/ingress.extensiveParameters`, `E4034`), more than one
    `spec.tls` entry without hosts (several default certificates, `E4048`), a host in several `spec.tls`
    entries (`E4049`), and, with TLS and no default certificate, a rule host that no `spec.tls` entry
    covers (`E4040`; not judged when `http-rules`/`https-rules` decide which rules are HTTPS). A `spec.tls`
    entry without `secretName` (`E4009`) is TKE205's.

    ## Why it breaks traffic
    The controller syncs the Ingress as one unit: one rejected rule stops the sync of all of them, so a new
    Ingress gets no CLB (TKE206) and an existing one stops taking changes; the event quotes the code.

    ## How to fix it
    Write hosts in lower case with their domain (`shop.example.com`, `*.example.com`), paths as plain
    prefixes (`/api`), keep one default certificate and each host in one
    tls entry, and list every HTTPS host in a tls entry.
    """
    for ing in ctx.ingresses:
        if not is_clb_ingress(ing):
            continue
        problems = rule_problems(ing)
        if problems:
            ns, name = _ns_name(ing)
            yield Hit(
                ref(ing),
                "; ".join(problems),
                _("Fix the rules and tls entries: kubectl edit ingress -n {ns} {name}").format(ns=ns, name=name),
            )


# --- combinations -----------------------------------------------------------------------------------------------

AUTO_SUFFIXES = ("-auto-service-config", "-auto-ingress-config")


def _set(kind: str, key: str, value: str) -> bool:
    """An annotation counts as set when present, and for a boolean when "true" (an explicit "false" is off)."""
    note = tke_annotations.BY_KEY.get((kind, key))
    return note is None or note.type != "boolean" or tke.is_true(value)


def _combination_problems(kind: str, obj: Obj) -> list[str]:
    """The documented combination rules (tke_annotations.COMBINATIONS) an object breaks, and a custom
    TkeServiceConfig name the controller reserves for its own (E4051)."""
    notes = annotations_of(obj)
    problems = []
    for rule in tke_annotations.COMBINATIONS:
        if rule.kind != kind or rule.key not in notes or (rule.only_true and not tke.is_true(notes[rule.key])):
            continue
        if rule.needs and not tke.is_true(notes.get(rule.needs)):
            problems.append(_('{key} needs {needs}: "true"').format(key=rule.key, needs=rule.needs))
        clashes = [c for c in rule.conflicts if c in notes and _set(kind, c, notes[c])]
        if clashes:
            problems.append(_("{key} cannot be combined with {others}").format(key=rule.key, others=", ".join(clashes)))
    prefix = "service.cloud.tencent.com/" if kind == tke_annotations.SERVICE else "ingress.cloud.tencent.com/"
    name = notes.get(prefix + "tke-service-config")
    if name and name.endswith(AUTO_SUFFIXES):
        problems.append(
            _("the TkeServiceConfig name {name} ends in a suffix the controller keeps for its own (E4051)").format(
                name=repr(name)
            )
        )
    return problems


REUSE_KEY = "service.kubernetes.io/tke-existed-lbid"


def _listeners(svc: Obj) -> set[str]:
    return {f"{p.get('protocol') or 'TCP'} {p.get('port')}" for p in (svc.get("spec") or {}).get("ports") or []}


def _shared_clb_ports(svc: Obj, reusers: dict[str, list[Obj]]) -> dict[str, str]:
    """The other Services that reuse this Service's existing CLB and listen on one of its ports and protocols,
    with the listener they share: one CLB listener per port and protocol (E4014)."""
    clb = annotations_of(svc).get(REUSE_KEY)
    mine = _listeners(svc)
    found = {}
    for other in reusers.get(clb or "", []):
        if other is not svc and (shared := mine & _listeners(other)):
            found["/".join(_ns_name(other))] = ", ".join(sorted(shared))
    return found


@check("TKE116", Severity.WARNING, N_("TKE annotations that do not go together"), needs=("services",), commands=SVC)
def service_annotation_combination(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a Service's TKE annotations break a documented rule:
    `service.cloud.tencent.com/local-svc-weighted-balance` without
    `service.kubernetes.io/local-svc-only-bind-node-with-pod: "true"`; the latter without
    `externalTrafficPolicy: Local`; `enable-grace-shutdown` or `enable-grace-shutdown-tkex` without
    `direct-access`; both `tke-service-config` and `tke-service-config-auto`; a custom TkeServiceConfig
    name ending in `-auto-service-config` or `-auto-ingress-config`. Error when another Service carries the
    same `service.cloud.tencent.com/client-token` (it was copied with a manifest), or reuses the same existing
    CLB (`service.kubernetes.io/tke-existed-lbid`) on the same port and protocol (`E4014`).

    ## Why it breaks traffic
    The controller applies what it can and ignores the rest: weighted balancing without binding only nodes
    with Pods, or graceful shutdown without direct access, silently does nothing. A `client-token` is the
    controller's idempotency token for creating the CLB: a Service created from another's YAML with the
    token still in it reuses the old token, and the controller does not create the new CLB it should.
    Two Services cannot share one listener of a reused CLB: the second one's sync fails. Warning, not error,
    for the rest: the Service still works, just not as its annotations say.

    ## How to fix it
    Add the annotation the rule needs or remove the one that cannot be combined; rename a custom
    TkeServiceConfig; delete `service.cloud.tencent.com/client-token` from a copied Service
    (`kubectl annotate service -n NS NAME service.cloud.tencent.com/client-token-`); give each Service on a
    reused CLB its own ports.
    """
    token_key = "service.cloud.tencent.com/client-token"
    owners: dict[str, list[Obj]] = {}
    for svc in ctx.snap.list("services"):
        token = annotations_of(svc).get(token_key)
        if token:
            owners.setdefault(token, []).append(svc)
    reusers: dict[str, list[Obj]] = {}
    for svc in ctx.snap.list("services"):
        if annotations_of(svc).get(REUSE_KEY):
            reusers.setdefault(annotations_of(svc)[REUSE_KEY], []).append(svc)
    for svc in ctx.services:
        notes = annotations_of(svc)
        problems = _combination_problems(tke_annotations.SERVICE, svc)
        only_pods = "service.kubernetes.io/local-svc-only-bind-node-with-pod"
        if tke.is_true(notes.get(only_pods)) and (svc.get("spec") or {}).get("externalTrafficPolicy") != "Local":
            problems.append(_("{key} needs externalTrafficPolicy: Local").format(key=only_pods))
        severity = Severity.WARNING
        others = [o for o in owners.get(notes.get(token_key, ""), []) if o is not svc]
        if others:
            severity = Severity.ERROR
            problems.append(
                _("{key} is the same as on Service {others}: copied with a manifest").format(
                    key=token_key, others=", ".join("/".join(_ns_name(o)) for o in others)
                )
            )
        clashes = _shared_clb_ports(svc, reusers)
        if clashes:
            severity = Severity.ERROR
            problems.append(
                _("reuses CLB {clb} with Service {others} on the same port and protocol {ports} (E4014)").format(
                    clb=notes[REUSE_KEY], others=", ".join(sorted(clashes)), ports=", ".join(sorted(clashes.values()))
                )
            )
        if problems:
            ns, name = _ns_name(svc)
            yield Hit(
                ref(svc),
                "; ".join(problems),
                _("Make the annotations agree: kubectl edit service -n {ns} {name}").format(ns=ns, name=name),
                severity,
            )


EXIST_LB_KEY = "kubernetes.io/ingress.existLbId"
GROUP_KEY = "ingress.cloud.tencent.com/enable-group"


@check("TKE216", Severity.ERROR, N_("TKE annotations that do not go together"), needs=("ingresses",), commands=ING)
def ingress_annotation_combination(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Fires when a CLB Ingress's annotations break a documented rule: both
    `ingress.cloud.tencent.com/tke-service-config` and `tke-service-config-auto`;
    `kubernetes.io/ingress.rule-mix-both` with `rule-mix`, `rewrite-support` or `auto-rewrite`;
    `ingress.cloud.tencent.com/certificate` together with `spec.tls` (the annotation replaces `spec.tls`); a
    custom TkeServiceConfig name ending in `-auto-ingress-config` or `-auto-service-config` (`E4051`); two
    CLB Ingresses on one existing CLB (`kubernetes.io/ingress.existLbId`) unless all of them have
    `ingress.cloud.tencent.com/enable-group: "true"` (`E4020`).

    ## Why it breaks traffic
    TKE documents these as combinations that cannot be used together; the controller rejects them or
    applies only one side, so listeners, redirects, certificates or the CLB configuration are not what the
    Ingress says.

    ## How to fix it
    Keep one side: a custom or an automatic TkeServiceConfig; `rule-mix-both` alone; certificates either in
    the annotation or in `spec.tls`; rename a custom TkeServiceConfig.
    """
    sharing: dict[str, list[Obj]] = {}
    for ing in ctx.snap.list("ingresses"):
        if is_clb_ingress(ing) and annotations_of(ing).get(EXIST_LB_KEY):
            sharing.setdefault(annotations_of(ing)[EXIST_LB_KEY], []).append(ing)
    for ing in ctx.ingresses:
        if not is_clb_ingress(ing):
            continue
        problems = _combination_problems(tke_annotations.INGRESS, ing)
        notes = annotations_of(ing)
        others = [o for o in sharing.get(notes.get(EXIST_LB_KEY, ""), []) if o is not ing]
        if others and not all(tke.is_true(annotations_of(i).get(GROUP_KEY)) for i in [ing, *others]):
            problems.append(
                _('uses CLB {clb} with Ingress {others}, and not every one has {group}: "true" (E4020)').format(
                    clb=notes[EXIST_LB_KEY], others=", ".join("/".join(_ns_name(o)) for o in others), group=GROUP_KEY
                )
            )
        if "ingress.cloud.tencent.com/certificate" in annotations_of(ing) and (ing.get("spec") or {}).get("tls"):
            problems.append(_("ingress.cloud.tencent.com/certificate replaces spec.tls and cannot be used with it"))
        if problems:
            ns, name = _ns_name(ing)
            yield Hit(
                ref(ing),
                "; ".join(problems),
                _("Make the annotations agree: kubectl edit ingress -n {ns} {name}").format(ns=ns, name=name),
            )


# --- Annotations newer than the controller ---------------------------------------------------------------------

# Every ingress controller knows the annotations of its first release: those never need a version to judge.
_FIRST_RELEASE = (1, 0, 0)


@check(
    "TKE217",
    Severity.WARNING,
    N_("TKE annotation newer than the ingress controller"),
    needs=("ingresses", "configmaps"),
    commands=ING,
)
def ingress_annotation_newer_than_controller(ctx: Context) -> Iterator[Hit]:
    """
    ## What it does
    Reads the ingress controller's version (key `VERSION` of ConfigMap
    `kube-system/tke-ingress-controller-config`) and fires when a CLB Ingress carries a documented annotation
    whose minimum controller version is above it (`ingress.cloud.tencent.com/listen-ports` needs 2.4.1,
    `ingress.cloud.tencent.com/certificate` and `kubernetes.io/ingress.rule-mix-both` 2.8.0, `auto-rewrite-code`
    2.11.0; the message names the key, the version it needs and the version that runs). Annotations of the
    controller's first release (1.0.0) are never judged. When some Ingress carries a newer annotation but the
    version cannot be read (no ConfigMap, no `VERSION`, or a value that is not `X.Y[.Z]`), the check is listed
    in `skipped` with that reason instead of passing.

    ## Why it breaks traffic
    The ingress controller ignores keys it does not know: no event, no error. An older controller builds the
    listeners on 80/443 whatever `listen-ports` says, leaves the annotation certificates unbound (HTTPS
    listeners without a certificate), and keeps the old rewrite behaviour. The Ingress looks right and the
    CLB does something else.

    ## How to fix it
    Upgrade the ingress controller (TKE console: cluster, Component management, or the add-on's version), or
    configure the CLB the way the running version supports (`spec.tls` instead of the certificate
    annotation, the default listeners). Minimum versions come from TKE's Ingress Annotation page.
    """
    wanted = []
    for ing in ctx.ingresses:
        if not is_clb_ingress(ing):
            continue
        newer = []
        for key in sorted(annotations_of(ing)):
            note = tke_annotations.BY_KEY.get((tke_annotations.INGRESS, key))
            if note is None or note.min_version is None:
                continue
            needed = tke.controller_version(note.min_version)
            if needed is not None and needed > _FIRST_RELEASE:
                newer.append((key, note.min_version, needed))
        if newer:
            wanted.append((ing, newer))
    if not wanted:
        return
    config = ctx.configmaps.get(tke.INGRESS_CONTROLLER_CONFIG)
    text = ((config or {}).get("data") or {}).get(tke.CONTROLLER_VERSION)
    running = tke.controller_version(text)
    if running is None:
        where = f"kube-system/{tke.INGRESS_CONTROLLER_CONFIG}"
        if config is None:
            reason = _("the ingress controller's version is unknown: no ConfigMap {where}").format(where=where)
        elif text is None:
            reason = _("the ingress controller's version is unknown: ConfigMap {where} has no {key}").format(
                where=where, key=tke.CONTROLLER_VERSION
            )
        else:
            reason = _("the ingress controller's version is unknown: {key} '{value}' in {where}").format(
                key=tke.CONTROLLER_VERSION, value=escape(str(text)[:40]), where=where
            )
        raise Unavailable("configmaps", reason)
    for ing, newer in wanted:
        old = [(key, version) for key, version, needed in newer if needed > running]
        if not old:
            continue
        yield Hit(
            ref(ing),
            "; ".join(
                _("{key} needs ingress controller {version} or later, this cluster runs {running}").format(
                    key=key, version=version, running=str(text).strip()
                )
                for key, version in old
            )
            + _(": the controller ignores it"),
            _(
                "Upgrade the ingress controller (TKE console: Component management), or remove the annotation "
                "and configure what the running version supports"
            ),
        )
