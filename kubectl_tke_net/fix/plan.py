"""What each fix action would change: pure planners from a snapshot to a `Plan` of before/after objects.

A change is written as a patch of only the fields that differ between before and after (`Field`s): for the
built-in kinds a strategic merge patch, which names list elements such as containers by their `name`, so that a
patch never carries a list copied from the object as the snapshot kept it (the snapshot keeps only what the
checks read); for the TkeServiceConfig CRD, which has no strategic merge, a JSON merge patch (RFC 7386).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubectl_tke_net import tke
from kubectl_tke_net.facts import Context
from kubectl_tke_net.i18n import N_, _, ngettext
from kubectl_tke_net.k8s import (
    annotations_of,
    cluster_domain,
    corefile_code,
    is_clb_ingress,
    is_internal_ingress,
    is_internal_service,
    meta,
    tke_service_config_name,
)
from kubectl_tke_net.kinds import BY_KIND, KINDS, KUBE_SYSTEM, Obj
from kubectl_tke_net.model import Unavailable

ROLLOUT_STATUS = "kubectl -n kube-system rollout status ds/kube-proxy"
BEGIN = "# BEGIN kubectl-tke-net managed rewrites (do not edit)"
END = "# END kubectl-tke-net managed rewrites"
# The only places a backup may restore: what the actions change lies there; status, metadata the server or
# controllers keep (ownerReferences, resourceVersion, ...) never.
RESTORABLE = (("metadata", "annotations"), ("metadata", "labels"), ("spec",), ("data",))
# CRDs: the API server has no strategic merge for them, so they get a JSON merge patch (lists replaced whole).
JSON_MERGE_KINDS = ("TkeServiceConfig",)
_BY_KIND = BY_KIND  # a narrow read (Kind.resource) is never the kind of an object


class _Absent:
    """A field that does not exist (None is a value: JSON null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
# A step of a field's path: a map key, or {"name": N}, the element named N of a list (containers).
Step = str | dict[str, str]


@dataclass(frozen=True)
class Field:
    """One field a change sets: its path, and its value before and after (ABSENT: not there)."""

    path: tuple[Step, ...]
    before: Any = ABSENT
    after: Any = ABSENT

    def saved(self) -> Obj:
        """As a backup file keeps it (fix.apply.write_backup); a value that was not there is left out."""
        entry: Obj = {"path": list(self.path)}
        for key, value in (("before", self.before), ("after", self.after)):
            if value is not ABSENT:
                entry[key] = copy.deepcopy(value)
        return entry

    def __str__(self) -> str:
        out = ""
        for step in self.path:
            if isinstance(step, dict):
                out += f"[name={step['name']}]"
            elif re.fullmatch(r"[A-Za-z0-9_-]+", step):
                out += ("." if out else "") + step
            else:
                out += f"[{step}]"
        return out


def _by_name(items: Any) -> dict[str, Any] | None:
    """A list of maps with distinct names, by name; None for any other value."""
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    named = {i["name"]: i for i in items}
    return named if len(named) == len(items) else None


def changed_fields(before: Any, after: Any, by_name: bool, path: tuple[Step, ...] = ()) -> list[Field]:
    """The leaves in which `after` differs from `before`. Maps are compared key by key (a missing map counts as
    empty); with by_name, lists of named maps element by element, as a strategic merge patch merges them."""
    maps = (dict, type(None), _Absent)
    if (isinstance(before, dict) or isinstance(after, dict)) and isinstance(before, maps) and isinstance(after, maps):
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        out: list[Field] = []
        for key in [*old, *(k for k in new if k not in old)]:
            out += changed_fields(old.get(key, ABSENT), new.get(key, ABSENT), by_name, (*path, key))
        return out
    old_items, new_items = (_by_name(before), _by_name(after)) if by_name else (None, None)
    if old_items is not None and new_items is not None and old_items.keys() == new_items.keys():
        out = []
        for name, item in new_items.items():
            out += changed_fields(old_items[name], item, by_name, (*path, {"name": name}))
        return out
    return [] if before == after else [Field(path, before, after)]


def patch_of(fields: list[Field]) -> Obj:
    """The patch that sets each field to its `after` value (null removes it); a {"name": N} step becomes a list
    of the one element named N, which a strategic merge patch merges into the element of that name."""
    body: Obj = {}
    for f in fields:
        node: Obj = body
        for step, following in zip(f.path, f.path[1:], strict=False):
            if isinstance(step, dict):
                continue  # entered with the key before it
            if isinstance(following, dict):
                items = node.setdefault(step, [])
                item = next((i for i in items if i["name"] == following["name"]), None)
                if item is None:
                    item = {"name": following["name"]}
                    items.append(item)
                node = item
            else:
                node = node.setdefault(step, {})
        key = f.path[-1]
        assert isinstance(key, str)
        node[key] = None if f.after is ABSENT else copy.deepcopy(f.after)
    return body


def _holder(obj: Obj, path: tuple[Step, ...], create: bool = False) -> Obj | None:
    """The map that holds the last step of `path` (missing maps made when `create`); None when it is not there."""
    node: Any = obj
    for step in path[:-1]:
        if isinstance(step, dict):
            items = node if isinstance(node, list) else []
            node = next((i for i in items if isinstance(i, dict) and i.get("name") == step["name"]), None)
        elif isinstance(node, dict):
            if create and node.get(step) is None:
                node[step] = {}
            node = node.get(step)
        else:
            return None
    return node if isinstance(node, dict) else None


def value_at(obj: Obj, path: tuple[Step, ...]) -> Any:
    holder = _holder(obj, path)
    return ABSENT if holder is None else holder.get(str(path[-1]), ABSENT)


@dataclass(frozen=True)
class Change:
    """One object to change: as read, and as it should be. The patch is derived from the two."""

    kind: str
    namespace: str
    name: str
    path: str
    before: Obj
    after: Obj

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    @property
    def resource_version(self) -> str | None:
        return meta(self.before).get("resourceVersion") or None

    @property
    def strategic(self) -> bool:
        """A strategic merge patch (built-in kinds), else a JSON merge patch (CRDs)."""
        return self.kind not in JSON_MERGE_KINDS

    @property
    def fields(self) -> list[Field]:
        return changed_fields(self.before, self.after, self.strategic)

    @property
    def patch(self) -> Obj:
        """Only the changed fields, and the resourceVersion read: a concurrent edit gives 409."""
        diff = patch_of(self.fields)
        body: Obj = {"metadata": diff.pop("metadata", {})}
        if self.resource_version:
            body["metadata"]["resourceVersion"] = self.resource_version
        if not body["metadata"]:
            del body["metadata"]
        body.update(diff)
        return body


@dataclass(frozen=True)
class Refusal:
    kind: str
    namespace: str
    name: str
    reason: str

    @property
    def ref(self) -> str:
        return "/".join(part for part in (self.kind, self.namespace, self.name) if part)


@dataclass(frozen=True)
class Plan:
    """What an action would do. `pending`: objects a controller has yet to create (ingress-keepalive --wait)."""

    action: str
    changes: tuple[Change, ...] = ()
    refused: tuple[Refusal, ...] = ()
    notes: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()


@dataclass(frozen=True)
class Options:
    names: tuple[str, ...] = ()
    version: str | None = None
    all_lb: bool = False
    force: bool = False
    host: str | None = None
    service: str | None = None
    namespace: str | None = None
    backup: tuple[Obj, ...] = ()


@dataclass
class _Builder:
    action: str
    changes: list[Change] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    def change(self, before: Obj, after: Obj) -> None:
        if before == after:
            return
        kind, ns, name = _key(before)
        change = Change(kind, ns, name, object_path(before), before, after)
        # A whole list in a strategic merge patch would be the list as the snapshot kept it, which may lack
        # fields (env, resources, ...) that the server would then drop or replace.
        whole = [f for f in change.fields if isinstance(f.before, list) or isinstance(f.after, list)]
        if change.strategic and whole:
            self.refuse(
                before,
                _("{field} would have to be sent as a whole list; change it by hand").format(field=whole[0]),
            )
            return
        self.changes.append(change)

    def refuse(self, obj_or_kind: Obj | str, reason: str, namespace: str = "", name: str = "") -> None:
        if isinstance(obj_or_kind, dict):
            kind, namespace, name = _key(obj_or_kind)
        else:
            kind = obj_or_kind
        self.refused.append(Refusal(kind, namespace, name, reason))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def build(self) -> Plan:
        return Plan(self.action, tuple(self.changes), tuple(self.refused), tuple(self.notes), tuple(self.pending))


def _key(obj: Obj) -> tuple[str, str, str]:
    m = meta(obj)
    return str(obj.get("kind", "")), str(m.get("namespace") or ""), str(m.get("name") or "")


def object_path(obj: Obj) -> str:
    """The API path of an object of a kind tke-net reads."""
    kind, ns, name = _key(obj)
    return f"{_BY_KIND[kind].path(ns or None)}/{name}"


def _annotated(obj: Obj, key: str, value: str) -> Obj:
    after = copy.deepcopy(obj)
    after.setdefault("metadata", {}).setdefault("annotations", {})
    if after["metadata"]["annotations"] is None:
        after["metadata"]["annotations"] = {}
    after["metadata"]["annotations"][key] = value
    return after


# --- kube-proxy ------------------------------------------------------------------------------------


def plan_kube_proxy(ctx: Context, opts: Options) -> Plan:
    """Set the tag of the kube-proxy image to the loopback-fixed build of its minor (or --version)."""
    plan = _Builder("kube-proxy")
    ds = ctx.kube_proxy_daemonset
    if ds is None:
        plan.refuse(
            "DaemonSet",
            _(
                "no DaemonSet kube-system/kube-proxy: kube-proxy runs on the nodes, not in-cluster, "
                "so it cannot be patched; upgrade the cluster in the TKE console"
            ),
            KUBE_SYSTEM,
            "kube-proxy",
        )
        return plan.build()
    containers = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    container = tke.kube_proxy_container(ds)
    if container is None:
        plan.refuse(ds, _("the DaemonSet has no containers"))
        return plan.build()
    index = next(i for i, c in enumerate(containers) if c is container)
    image = str(container.get("image") or "")
    repository, tag = tke.split_image(image)
    if "@" in image:
        plan.refuse(
            ds,
            _("image {image} is pinned by digest; change it by hand to {repository}:<fixed tag>").format(
                image=image, repository=repository
            ),
        )
        return plan.build()
    current = tke.TkeVersion.parse(tag or "")
    if current is None:
        plan.refuse(
            ds,
            _(
                "image tag {tag} of {image} is not a TKE version (vX.Y.Z-tke.N), so the "
                "fixed build cannot be chosen; use TKE's kube-proxy image"
            ).format(tag=tag or _("(none)"), image=image),
        )
        return plan.build()
    minor = f"{current.minor[0]}.{current.minor[1]}"
    fixed_tag, _every = tke.min_fixed(current)
    if opts.version:
        target = tke.TkeVersion.parse(opts.version)
        if target is None:
            plan.refuse(ds, _("--version {version} is not a TKE version (vX.Y.Z-tke.N)").format(version=opts.version))
            return plan.build()
        if target.minor != current.minor:
            plan.refuse(
                ds,
                _(
                    "--version {version} is not of kube-proxy's minor {minor}: kube-proxy must "
                    "not be newer or older than the cluster's minor; upgrade the cluster instead"
                ).format(version=target.tag, minor=minor),
            )
            return plan.build()
        if target < current:
            plan.refuse(
                ds,
                _("--version {version} is lower than the current tag {current} (no downgrade)").format(
                    version=target.tag, current=current.tag
                ),
            )
            return plan.build()
    else:
        _fixed, every = tke.min_fixed(current)
        if fixed_tag is None and every:
            plan.note(
                _("kube-proxy {current}: every TKE build of {minor} has the loopback fix; nothing to do").format(
                    current=current.tag, minor=minor
                )
            )
            return plan.build()
        if fixed_tag is None and every is False:
            plan.refuse(
                ds,
                _(
                    "no TKE build of Kubernetes {minor} has the loopback fix; upgrade the cluster to 1.12 or later"
                ).format(minor=minor),
            )
            return plan.build()
        if fixed_tag is None:
            plan.refuse(
                ds, _("no loopback-fixed build of {minor} is known; pass --version vX.Y.Z-tke.N").format(minor=minor)
            )
            return plan.build()
        target = tke.TkeVersion.parse(fixed_tag)
        assert target is not None
    if target <= current:
        plan.note(
            _("kube-proxy is at {current}, at or above {target}; nothing to do").format(
                current=current.tag, target=target.tag
            )
        )
        return plan.build()
    after = copy.deepcopy(ds)
    after["spec"]["template"]["spec"]["containers"][index]["image"] = f"{repository}:{target.tag}"
    plan.change(ds, after)
    fixed = tke.TkeVersion.parse(fixed_tag) if fixed_tag else None
    if fixed is not None and target < fixed:
        plan.note(
            _("{target} is still below {fixed}, the first build of {minor} with the loopback fix").format(
                target=target.tag, fixed=fixed.tag, minor=minor
            )
        )
    if ctx.kube_proxy.mode != "ipvs":
        plan.note(
            _(
                "kube-proxy runs in {mode} mode: the CLB loopback problem (TKE301) needs IPVS "
                "mode, so this upgrade is optional"
            ).format(mode=ctx.kube_proxy.mode)
        )
    if ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") == "OnDelete":
        plan.note(_("the DaemonSet's updateStrategy is OnDelete: its Pods keep the old image until each is deleted"))
    plan.note(_("watch the rollout: {command}").format(command=ROLLOUT_STATUS))
    return plan.build()


# --- prevent-loopback ------------------------------------------------------------------------------


def _named(plan: _Builder, ctx: Context, kind: str, objs: list[Obj], names: tuple[str, ...]) -> list[Obj]:
    """The objects with one of the names; each name that matches none is refused."""
    found = [o for o in objs if meta(o).get("name") in names]
    matched = {meta(o).get("name") for o in found}
    scope = _("namespace {ns}").format(ns=ctx.snap.namespace) if ctx.snap.namespace else _("any namespace")
    for name in names:
        if name not in matched:
            plan.refuse(
                kind,
                _("no {kind} {name} in {scope}").format(kind=kind, name=name, scope=scope),
                ctx.snap.namespace or "",
                name,
            )
    return found


def plan_prevent_loopback(ctx: Context, opts: Options) -> Plan:
    """Annotate internal (or --all-lb, or named) LoadBalancer Services with prevent-loopback: "true"."""
    plan = _Builder("prevent-loopback")
    if opts.names:
        candidates = _named(plan, ctx, "Service", ctx.services, opts.names)
        for svc in candidates:
            svc_type = (svc.get("spec") or {}).get("type") or "ClusterIP"
            if svc_type != "LoadBalancer":
                plan.refuse(
                    svc, _("type {type}, not LoadBalancer: it has no CLB to loop back through").format(type=svc_type)
                )
        candidates = [s for s in candidates if (s.get("spec") or {}).get("type") == "LoadBalancer"]
    else:
        candidates = [
            s
            for s in ctx.services
            if (s.get("spec") or {}).get("type") == "LoadBalancer" and (opts.all_lb or is_internal_service(s))
        ]
    todo = [s for s in candidates if not tke.is_true(annotations_of(s).get(tke.SVC_PREVENT_LOOPBACK))]
    done = len(candidates) - len(todo)
    if done:
        plan.note(
            ngettext(
                "{n} Service already annotated, left alone", "{n} Services already annotated, left alone", done
            ).format(n=done)
        )
    blocker = None if opts.force or not todo else _kube_proxy_blocker(ctx)
    for svc in todo:
        if blocker:
            plan.refuse(svc, blocker)
        else:
            plan.change(svc, _annotated(svc, tke.SVC_PREVENT_LOOPBACK, "true"))
    if plan.changes:
        plan.note(
            _(
                "prerequisites the API cannot check: the CLB feature 'health-check source IP other than the VIP' "
                "(ticket to Tencent Cloud), and node security groups allowing the CLB health checks from "
                "100.64.0.0/10"
            )
        )
    return plan.build()


def _kube_proxy_blocker(ctx: Context) -> str | None:
    """Why prevent-loopback must wait for kube-proxy, or None when kube-proxy has the fix."""
    how = _("fix kube-proxy first (kubectl tke-net fix kube-proxy --apply), or pass --force")
    try:
        proxy = ctx.kube_proxy
    except Unavailable as exc:
        return _(
            "cannot read the kube-proxy DaemonSet ({reason}), so its loopback fix cannot be confirmed; {how}"
        ).format(reason=exc.reason, how=how)
    if ctx.kube_proxy_daemonset is None:
        return _(
            "kube-proxy runs on the nodes (no DaemonSet), so its loopback fix cannot be confirmed; check "
            "`kube-proxy --version` on a node, then pass --force"
        )
    if proxy.loopback_fixed is False:
        below = (
            _("below {fixed}").format(fixed=proxy.min_fixed)
            if proxy.min_fixed
            else _("of a minor with no loopback-fixed build")
        )
        return _("kube-proxy {version} is {below}, so the annotation would have no effect; {how}").format(
            version=proxy.version, below=below, how=how
        )
    if proxy.loopback_fixed is None:
        return _(
            "kube-proxy's image {image} has no known loopback-fixed version, so the fix cannot be "
            "confirmed; pass --force"
        ).format(image=proxy.image)
    return None


# --- ingress-keepalive -----------------------------------------------------------------------------

KEEPALIVE_PREREQUISITES = (
    N_(
        "prerequisites the API cannot check: a ticket to Tencent Cloud to add the account to the CLB L7 SNAT and "
        "keep-alive allow-list; the node security group must allow 100.127.0.0/16 (or the CLB must allow traffic "
        "by default)"
    ),
    N_("with keep-alive the backends see the CLB's address as the client: read the real client from X-Forwarded-For"),
)


def plan_ingress_keepalive(ctx: Context, opts: Options) -> Plan:
    """Turn CLB keep-alive on for internal (or named) CLB Ingresses through their TkeServiceConfig."""
    plan = _Builder("ingress-keepalive")
    if opts.names:
        candidates = _named(plan, ctx, "Ingress", ctx.ingresses, opts.names)
        for ing in candidates:
            if not is_clb_ingress(ing):
                plan.refuse(
                    ing, _("not a CLB Ingress (its class is not qcloud): TKE's CLB controller does not serve it")
                )
        candidates = [i for i in candidates if is_clb_ingress(i)]
    else:
        candidates = [i for i in ctx.ingresses if is_internal_ingress(i)]
    configs = ctx.tkeserviceconfigs if candidates else {}
    for ing in candidates:
        ns, name = meta(ing).get("namespace", ""), meta(ing).get("name", "")
        notes = annotations_of(ing)
        config_name = tke_service_config_name(ing)
        auto = not notes.get(tke.ING_TSC)  # a hand-named config is never created by the controller
        if config_name is None:
            if tke.ING_TSC_AUTO in notes:
                plan.refuse(
                    ing,
                    _('{auto} is "{value}": set it to "true" or name a TkeServiceConfig with {config}').format(
                        auto=tke.ING_TSC_AUTO, value=notes[tke.ING_TSC_AUTO], config=tke.ING_TSC
                    ),
                )
                continue
            plan.change(ing, _annotated(ing, tke.ING_TSC_AUTO, "true"))
            config_name = f"{name}-auto-ingress-config"
        config = configs.get((ns, config_name))
        listeners = tke.l7_listeners(config)
        if listeners is None:
            plan.refuse(
                ing,
                _(
                    "its TkeServiceConfig {name}: spec.loadBalancer.l7Listeners is not a list of "
                    "listeners; correct it by hand (kubectl -n {ns} edit tkeserviceconfig {name})"
                ).format(name=config_name, ns=ns),
            )
            continue
        if config is None or not listeners:
            what = _("does not exist") if config is None else _("has no l7Listeners")
            if not auto:
                plan.refuse(
                    ing,
                    _(
                        "its TkeServiceConfig {name} (annotation {config}) {what}; create it with the "
                        'Ingress\'s listeners, or use {auto}: "true" instead'
                    ).format(name=config_name, config=tke.ING_TSC, what=what, auto=tke.ING_TSC_AUTO),
                )
                continue
            plan.pending.append(f"TkeServiceConfig/{ns}/{config_name}")
            plan.note(
                _(
                    "TkeServiceConfig {ns}/{name} {what} yet: run this action again once TKE's controller "
                    "has filled it in (or add --wait 2m to --apply)"
                ).format(ns=ns, name=config_name, what=what)
            )
            continue
        assert config is not None
        after = copy.deepcopy(config)
        for listener in after["spec"]["loadBalancer"]["l7Listeners"]:
            if str(listener.get("keepaliveEnable")) != "1":
                listener["keepaliveEnable"] = 1
        plan.change(config, after)
    if candidates:
        for text in KEEPALIVE_PREREQUISITES:
            plan.note(_(text))
    return plan.build()


# --- coredns-rewrite -------------------------------------------------------------------------------

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_ROOT = re.compile(r"\s*(?:dns://)?\.(?::53)?\s*\{\s*(?:#.*)?")
_MATCH_TYPES = ("exact", "prefix", "suffix", "substring", "regex")


def _valid_domain(host: str) -> bool:
    labels = host.split(".")
    return (
        len(host) <= 253
        and len(labels) >= 2
        and not labels[-1].isdigit()
        and all(_LABEL.fullmatch(label) for label in labels)
    )


def _blocks(lines: list[str]) -> list[tuple[int, int]] | None:
    """(first, last) line of every top-level server block; None when the braces do not balance."""
    blocks: list[tuple[int, int]] = []
    depth, start = 0, 0
    for i, line in enumerate(lines):
        code = corefile_code(line)
        opened, closed = code.count("{"), code.count("}")
        if depth == 0 and opened:
            start = i
        depth += opened - closed
        if depth < 0:
            return None
        if opened + closed and depth == 0 and opened <= closed:
            blocks.append((start, i))
    return blocks if depth == 0 else None


def _rewrite_from(line: str) -> str | None:
    """The name a `rewrite ... name [type] FROM TO` line matches, lower-cased, or None."""
    words = corefile_code(line).split()
    if not words or words[0] != "rewrite":
        return None
    words = words[1:]
    if words and words[0] in ("continue", "stop"):
        words = words[1:]
    if not words or words[0] != "name":
        return None
    words = words[1:]
    if words and words[0] in _MATCH_TYPES:
        words = words[1:]
    return words[0].lower().rstrip(".") if words else None


def _zones(line: str) -> list[tuple[str, str]]:
    """(zone, port) of a server block's opening line."""
    zones = []
    for word in corefile_code(line).split("{", 1)[0].split():
        zone, _colon, port = word.split("://", 1)[-1].partition(":")
        zones.append((zone.lower().rstrip(".") or ".", port or "53"))
    return zones


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def rewrite_corefile(corefile: str, host: str, target: str) -> tuple[str | None, str | None]:
    """(new Corefile, None) with `rewrite stop name exact HOST TARGET` in the managed block; (None, why) if refused."""
    lines = corefile.split("\n")
    blocks = _blocks(lines)
    if blocks is None:
        return None, _("the Corefile's braces do not balance; fix it by hand")
    roots = [(a, b) for a, b in blocks if _ROOT.fullmatch(lines[a])]
    if len(roots) != 1:
        return None, _(
            "the Corefile has {n} root server blocks (`.:53 {{`), not exactly one; add the rewrite by hand"
        ).format(n=len(roots))
    root, root_end = roots[0]
    for start, _end in blocks:
        for zone, port in _zones(lines[start]):
            if zone != "." and port == "53" and (host == zone or host.endswith("." + zone)):
                return None, _(
                    "server block `{block}` serves {host}, so a rewrite in the root block "
                    "would never see its queries; add the rewrite to that block by hand"
                ).format(block=lines[start].strip(), host=host)
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if begins or ends:
        if not (len(begins) == len(ends) == 1 and root < begins[0] < ends[0] < root_end):
            return None, _(
                "the managed block markers are damaged (not one BEGIN/END pair inside the root block); "
                "fix the Corefile by hand"
            )
        first, last = begins[0], ends[0]
    else:
        first, last = root + 1, root
    for i, line in enumerate(lines):
        if not first <= i <= last and _rewrite_from(line) == host:
            return None, _(
                "the Corefile already has a rewrite for {host} outside the tke-net managed block "
                "(line {line}: `{text}`); remove it or edit it by hand"
            ).format(host=host, line=i + 1, text=line.strip())
    rule = f"rewrite stop name exact {host} {target}"
    rules = [line.strip() for line in lines[first + 1 : last] if _rewrite_from(line)]
    if any(_rewrite_from(r) == host for r in rules):
        rules = [rule if _rewrite_from(r) == host else r for r in rules]
    else:
        rules.append(rule)
    if begins:
        indent = _indent(lines[first])
    else:
        following = next((line for line in lines[root + 1 : root_end] if line.strip()), None)
        indent = _indent(following) if following is not None else _indent(lines[root]) + "    "
    block = [indent + line for line in (BEGIN, *rules, END)]
    return "\n".join(lines[:first] + block + lines[last + 1 :]), None


def _has_reload(corefile: str) -> bool:
    lines = corefile.split("\n")
    for start, end in _blocks(lines) or []:
        if _ROOT.fullmatch(lines[start]):
            return any(corefile_code(line).split()[:1] == ["reload"] for line in lines[start : end + 1])
    return False


def plan_coredns_rewrite(ctx: Context, opts: Options) -> Plan:
    """Resolve --host to the Service's cluster name in CoreDNS, inside a block of lines tke-net owns."""
    plan = _Builder("coredns-rewrite")
    namespace = opts.namespace or ctx.snap.namespace or "default"
    host = (opts.host or "").lower().rstrip(".")
    service = opts.service or ""
    cm = ctx.configmaps.get("coredns")
    cm_ref = ("ConfigMap", KUBE_SYSTEM, "coredns")
    if (namespace, service) not in ctx.services_by_key:
        plan.refuse(
            "Service", _("Service {ns}/{name} does not exist").format(ns=namespace, name=service), namespace, service
        )
    if not _valid_domain(host):
        plan.refuse(
            cm_ref[0],
            _("--host {host} is not a valid DNS name (letters, digits, '-', at least two labels)").format(
                host=repr(opts.host)
            ),
            *cm_ref[1:],
        )
    corefile = ((cm or {}).get("data") or {}).get("Corefile")
    if cm is None:
        plan.refuse(
            cm_ref[0], _("no ConfigMap kube-system/coredns: CoreDNS is not managed as TKE installs it"), *cm_ref[1:]
        )
    elif not isinstance(corefile, str):
        plan.refuse(cm_ref[0], _("ConfigMap kube-system/coredns has no Corefile key"), *cm_ref[1:])
    if plan.refused or cm is None or not isinstance(corefile, str):
        return plan.build()
    domain = cluster_domain(corefile)
    if host == domain or host.endswith("." + domain):
        plan.refuse(
            cm_ref[0],
            _(
                "--host {host} is inside the cluster domain {domain}; call the Service by its cluster name instead"
            ).format(host=host, domain=domain),
            *cm_ref[1:],
        )
        return plan.build()
    target = f"{service}.{namespace}.svc.{domain}"
    new, why = rewrite_corefile(corefile, host, target)
    if new is None:
        plan.refuse(cm_ref[0], str(why), *cm_ref[1:])
        return plan.build()
    after = copy.deepcopy(cm)
    after["data"]["Corefile"] = new
    plan.change(cm, after)
    if new == corefile:
        plan.note(_("CoreDNS already rewrites {host} to {target}; nothing to do").format(host=host, target=target))
    elif _has_reload(new):
        plan.note(_("CoreDNS loads the new Corefile within about 2 minutes (reload plugin)"))
    else:
        plan.note(
            _(
                "the root server block has no `reload` plugin: after --apply restart CoreDNS with "
                "kubectl -n kube-system rollout restart deploy/coredns"
            )
        )
    for ds in ctx.snap.maybe("daemonsets"):
        ds_name = str(meta(ds).get("name", ""))
        if "node-local-dns" in ds_name or "nodelocaldns" in ds_name:
            plan.note(
                _(
                    "NodeLocal DNSCache (DaemonSet kube-system/{ds}) sends names outside {domain} to the "
                    "upstream resolvers, not to CoreDNS: Pods using it will not see this rewrite unless its "
                    "Corefile forwards {host} to CoreDNS"
                ).format(ds=ds_name, domain=domain, host=host)
            )
    plan.note(
        _("check it: {command}").format(
            command=f"kubectl run dnstest -it --rm --restart=Never --image=busybox:1.36 -- nslookup {host}"
        )
    )
    return plan.build()


# --- rollback --------------------------------------------------------------------------------------


def saved_fields(entries: list[Obj]) -> list[Field]:
    """The fields of one object of a backup file (their form is checked by fix.command.read_backup)."""
    return [Field(tuple(e["path"]), e.get("before", ABSENT), e.get("after", ABSENT)) for e in entries]


def plan_rollback(ctx: Context, opts: Options) -> Plan:
    """Set the fields a backup names back to their values before the action, where they still have the values
    the action gave them; every other field (a controller's, anyone's) stays as it is now."""
    plan = _Builder("rollback")
    lists: dict[str, dict[tuple[str, str], Obj]] = {}
    for saved in opts.backup:
        kind_name, ns, name = str(saved["kind"]), str(saved.get("namespace") or ""), str(saved["name"])
        kind = _BY_KIND.get(kind_name)
        if kind is None or kind.api_version != saved.get("apiVersion"):
            plan.refuse(kind_name, _("not a kind tke-net changes; restore it by hand"), ns, name)
            continue
        if kind.name not in lists:
            lists[kind.name] = {
                (meta(o).get("namespace") or "", meta(o).get("name") or ""): o for o in ctx.snap.list(kind.name)
            }
        current = lists[kind.name].get((ns, name))
        if current is None:
            plan.refuse(kind_name, _("no longer exists; tke-net does not recreate objects"), ns, name)
            continue
        after = copy.deepcopy(current)
        moved = []
        for f in saved_fields(saved["fields"]):
            now = value_at(current, f.path)
            if now == f.before:
                continue
            holder = _holder(after, f.path, create=True) if now == f.after else None
            if holder is None:
                moved.append(str(f))
            elif f.before is ABSENT:
                del holder[str(f.path[-1])]
            else:
                holder[str(f.path[-1])] = copy.deepcopy(f.before)
        if moved:
            plan.refuse(
                current,
                _(
                    "{fields} changed after the backup was taken (by a controller or by hand), so the object is "
                    "left as it is; restore it by hand if needed"
                ).format(fields=", ".join(moved)),
            )
            continue
        plan.change(current, after)
    if not plan.changes and not plan.refused:
        plan.note(_("every object already matches the backup; nothing to do"))
    return plan.build()


PLANNERS: dict[str, Callable[[Context, Options], Plan]] = {
    "kube-proxy": plan_kube_proxy,
    "prevent-loopback": plan_prevent_loopback,
    "ingress-keepalive": plan_ingress_keepalive,
    "coredns-rewrite": plan_coredns_rewrite,
    "rollback": plan_rollback,
}


def make_plan(action: str, ctx: Context, opts: Options) -> Plan:
    """The plan of an action; a kind that cannot be read refuses the whole action, with the reason."""
    try:
        return PLANNERS[action](ctx, opts)
    except Unavailable as exc:
        kind = KINDS[exc.kind].kind if exc.kind in KINDS else exc.kind
        why = _("cannot read {kind}: {reason}").format(kind=exc.kind, reason=exc.reason)
        return Plan(action, refused=(Refusal(kind, "", "", why),))
