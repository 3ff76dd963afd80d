"""The objects the checks read: each kind listed at most once, from a cluster or from snapshot files."""

from __future__ import annotations

import builtins
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from kubectl_tke_net import shape, tke
from kubectl_tke_net.i18n import _
from kubectl_tke_net.model import Unavailable, UsageError

Obj = dict[str, Any]

KUBE_SYSTEM = "kube-system"
# Kept in a dump's List metadata so that a snapshot of a restricted user's run skips the same checks.
UNAVAILABLE_ANNOTATION = "tke-net.kubectl.io/unavailable"
STDIN = Path("-")  # --snapshot -: the snapshot comes on standard input
_SAFE_DEPTH = 2000  # far below the nesting at which LibYAML's loader overflows the C stack
MAX_ALIASED = 1_000_000  # values that YAML aliases may add to a snapshot file by repeating their anchors


@dataclass(frozen=True)
class Kind:
    """A kind the checks read. scope: "namespaced" (the user's -n/-A scope), "cluster", or "kube-system"."""

    name: str
    kind: str
    api_version: str
    scope: str
    field_selector: str | None = None
    metadata_only: bool = False

    @property
    def base_path(self) -> str:
        return "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"

    def path(self, namespace: str | None) -> str:
        if self.scope == "cluster" or namespace is None:
            return f"{self.base_path}/{self.name}"
        return f"{self.base_path}/namespaces/{namespace}/{self.name}"


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("nodes", "Node", "v1", "cluster"),
        Kind("services", "Service", "v1", "namespaced"),
        Kind("pods", "Pod", "v1", "namespaced"),
        Kind("endpointslices", "EndpointSlice", "discovery.k8s.io/v1", "namespaced"),
        Kind("events", "Event", "v1", "namespaced", field_selector="type=Warning"),
        Kind("ingresses", "Ingress", "networking.k8s.io/v1", "namespaced"),
        Kind("ingressclasses", "IngressClass", "networking.k8s.io/v1", "cluster"),
        Kind("secrets", "Secret", "v1", "namespaced", metadata_only=True),
        Kind("tkeserviceconfigs", "TkeServiceConfig", "cloud.tencent.com/v1alpha1", "namespaced"),
        Kind("daemonsets", "DaemonSet", "apps/v1", KUBE_SYSTEM),
        Kind("configmaps", "ConfigMap", "v1", KUBE_SYSTEM),
    )
}
_BY_KIND = {k.kind: k for k in KINDS.values()}


# Facts that are not Kubernetes objects but belong to a snapshot all the same, as items of its List under
# apiVersion tke-net/v1: what the Tencent Cloud source read (CloudFacts) and what the probe measured
# (ProbeResult). `dump` writes them, so --snapshot of a dump reproduces cloud and probe findings offline.
FACTS_API = "tke-net/v1"
FACT_KINDS = ("CloudFacts", "ProbeResult")


class Source(Protocol):
    def list(self, kind: Kind, namespace: str | None) -> list[Obj]:
        """Every object of `kind` in `namespace` (None: all); raises Unavailable."""
        ...


# Tests turn this off to prove that the checks read no field the projection drops (tests/test_snapshot.py).
PROJECT = True


def clean(kind: Kind, obj: Obj) -> Obj:
    """An object as the checks and dumps keep it: typed, and only the fields of shape.SHAPES (SPEC 9.2)."""
    obj["kind"] = kind.kind
    obj["apiVersion"] = kind.api_version
    if not isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {}
    if not PROJECT and kind.kind != "Secret":
        obj["metadata"].pop("managedFields", None)
        return obj
    return shape.keep(obj)


def _in_scope(kind: Kind, obj: Obj, namespace: str | None) -> bool:
    ns = (obj.get("metadata") or {}).get("namespace", "")
    if kind.scope == KUBE_SYSTEM:
        return bool(ns == KUBE_SYSTEM)
    if kind.scope == "namespaced" and namespace is not None:
        return bool(ns == namespace)
    return True


def documents(path: Path, cannot_read: str | None = None, malformed: str | None = None) -> Iterator[tuple[Any, bool]]:
    """Each document of a JSON or YAML file, and whether it came from YAML (which has values JSON has not).

    What cannot be read or parsed, nests too deeply or hides an alias bomb is a UsageError whose text is
    `cannot_read` or `malformed` (translated templates with {path} and {reason}; a snapshot's by default).
    """
    cannot_read = cannot_read or _("cannot read snapshot {path}: {reason}")
    malformed = malformed or _("malformed snapshot {path}: {reason}")
    try:
        text = sys.stdin.buffer.read().decode("utf-8-sig") if path == STDIN else path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(cannot_read.format(path=path, reason=exc)) from exc
    if text.lstrip().startswith("{"):
        # JSON parses about a hundred times faster than YAML; a YAML flow mapping falls through below.
        try:
            yield json.loads(text), False
            return
        except json.JSONDecodeError as exc:
            if path.suffix == ".json":
                where = _("line {line}, column {column}").format(line=exc.lineno, column=exc.colno)
                reason = _("not valid JSON: {where}: {problem}").format(where=where, problem=exc.msg)
                raise UsageError(malformed.format(path=path, reason=reason)) from None
        except (ValueError, RecursionError):
            if path.suffix == ".json":
                raise UsageError(malformed.format(path=path, reason=_("not valid JSON"))) from None
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        if _too_deep(text, loader):
            raise UsageError(malformed.format(path=path, reason=shape.too_deep()))
        aliases = "*" in text and "&" in text
        for doc in yaml.load_all(text, Loader=loader):
            # An alias repeats what its anchor holds (PyYAML writes them for shared values); nine of nine of
            # nine... is a billion values, which would take every check and renderer forever.
            if aliases and not shape.expanded_size(doc, len(text) + MAX_ALIASED):
                raise UsageError(
                    malformed.format(
                        path=path,
                        reason=_(
                            "its YAML aliases (*name) stand for more than {n} values; write the objects out in full"
                        ).format(n=f"{MAX_ALIASED:,}"),
                    )
                )
            yield doc, True
    except (yaml.YAMLError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        if isinstance(exc, yaml.MarkedYAMLError) and mark is not None:
            where = _("line {line}, column {column}").format(line=mark.line + 1, column=mark.column + 1)
            first = f"{where}: {exc.problem or exc.context or first}"
        if isinstance(exc, RecursionError):
            first = _("it nests too deeply")
        raise UsageError(malformed.format(path=path, reason=first)) from exc


def _too_deep(text: str, loader: Any) -> bool:
    """Whether the YAML nests deeper than shape.MAX_DEPTH, found out before loading it when it could crash:
    LibYAML's loader recurses in C once per level and kills the process (no exception) some ten thousand
    levels down. Each level takes a flow bracket, or an indentation column, or an inline "- " or ": ", so the
    cheap bound below clears every ordinary file; the others are read as a stream of events, which does not
    recurse. Shallower junk is loaded, and refused by shape.plain."""
    longest = max((len(line) for line in text.splitlines()), default=0)
    if len(text) < _SAFE_DEPTH or 2 * longest + text.count("[") + text.count("{") <= _SAFE_DEPTH:
        return False
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > shape.MAX_DEPTH:
                return True
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
    return False


def _items(doc: Any, path: Path) -> Iterator[Obj]:
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise UsageError(
            _("malformed snapshot {path}: expected Kubernetes objects, found {type}").format(
                path=path, type=type(doc).__name__
            )
        )
    if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            yield from _items(item, path)
    else:
        yield doc


def _unavailable(doc: Obj, path: Path) -> dict[str, str]:
    """The kinds a dump could not read (the annotation `dump` writes on its List), so they stay skipped."""
    meta = doc.get("metadata")
    notes = (meta.get("annotations") if isinstance(meta, dict) else None) or {}
    text = notes.get(UNAVAILABLE_ANNOTATION) if isinstance(notes, dict) else None
    if not text:
        return {}
    try:
        found = json.loads(str(text))
    except ValueError:
        found = None
    if not isinstance(found, dict) or not all(k in KINDS and isinstance(v, str) for k, v in found.items()):
        raise UsageError(
            _(
                "malformed snapshot {path}: annotation {annotation} is not a JSON map of kinds (nodes, "
                "secrets, ...) to reasons"
            ).format(path=path, annotation=UNAVAILABLE_ANNOTATION)
        )
    return found


class FileSource:
    """Objects read from files: one object, a *List, or several YAML documents per file."""

    def __init__(self, path: str) -> None:
        root = Path(path)
        if root == STDIN:
            files = [STDIN]
        elif root.is_dir():
            files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file())
        elif root.is_file():
            files = [root]
        else:
            raise UsageError(_("snapshot {path} does not exist").format(path=path))
        self.objects: dict[str, list[Obj]] = {name: [] for name in KINDS}
        self.unavailable: dict[str, str] = {}
        self.other_kinds: dict[str, int] = {}  # objects of kinds the checks do not read, by kind
        self.facts: dict[str, list[Obj]] = {kind: [] for kind in FACT_KINDS}
        for file in files:
            try:
                self._read(file)
            except RecursionError:
                raise UsageError(
                    _("malformed snapshot {path}: {reason}").format(path=file, reason=_("it nests too deeply"))
                ) from None
        if not any(self.objects.values()) and not any(self.facts.values()) and not self.unavailable:
            # SPEC 9.1: a run over nothing would report "No problems found" about objects it never saw.
            others = ", ".join(f"{kind} ({n})" for kind, n in sorted(self.other_kinds.items()))
            raise UsageError(
                _("snapshot {path} holds no object the checks read").format(path=path)
                + (_(", only objects of other kinds: {kinds}").format(kinds=others) if others else "")
                + _(" (it needs Services, Ingresses, Pods, ...: `kubectl tke-net dump` writes them)")
            )
        system = [d for d in self.objects["daemonsets"] if (d.get("metadata") or {}).get("namespace") == KUBE_SYSTEM]
        self.objects["configmaps"] = tke.keep_configmaps(self.objects["configmaps"], system)

    def _read(self, file: Path) -> None:
        for doc, from_yaml in documents(file):
            if isinstance(doc, dict):
                self.unavailable.update(_unavailable(doc, file))
            for found in _items(doc, file):
                if found.get("apiVersion") == FACTS_API and found.get("kind") in FACT_KINDS:
                    self.facts[str(found["kind"])].append(shape.plain(found) if from_yaml else found)
                    continue
                kind = _BY_KIND.get(str(found.get("kind", "")))
                if kind is None:
                    other = str(found.get("kind") or "?")
                    self.other_kinds[other] = self.other_kinds.get(other, 0) + 1
                    continue
                try:
                    if from_yaml:
                        obj = shape.plain(found)
                    else:
                        shape.prune(found)
                        obj = found
                except shape.TooDeep as exc:
                    raise UsageError(
                        _("malformed snapshot {path}: a {kind} {reason}").format(path=file, kind=kind.kind, reason=exc)
                    ) from None
                why = shape.problem(obj)
                if why:
                    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
                    name = "/".join(str(meta[k]) for k in ("namespace", "name") if meta.get(k))
                    raise UsageError(
                        _("malformed snapshot {path}: {kind} {name}: {reason}").format(
                            path=file, kind=kind.kind, name=name or _("(no name)"), reason=why
                        )
                    )
                self.objects[kind.name].append(clean(kind, obj))

    def list(self, kind: Kind, namespace: str | None) -> list[Obj]:
        if kind.name in self.unavailable:
            raise Unavailable(kind.name, self.unavailable[kind.name])
        return [o for o in self.objects[kind.name] if _in_scope(kind, o, namespace)]


class Snapshot:
    """Lazily lists each kind once from its source and keeps the result (or the reason it is unavailable)."""

    def __init__(self, source: Source, namespace: str | None) -> None:
        self.source = source
        self.namespace = namespace
        self._lists: dict[str, list[Obj]] = {}
        self._unavailable: dict[str, str] = {}
        self._failed: dict[str, BaseException] = {}
        self._configmaps_kept = False
        self._facts: dict[str, list[Obj]] = {
            kind: list((getattr(source, "facts", None) or {}).get(kind, [])) for kind in FACT_KINDS
        }

    def _fetch(self, name: str) -> builtins.list[Obj]:
        kind = KINDS[name]
        namespace = KUBE_SYSTEM if kind.scope == KUBE_SYSTEM else self.namespace
        return [clean(kind, o) for o in self.source.list(kind, namespace)]

    def list(self, name: str) -> builtins.list[Obj]:
        if name in self._failed:
            raise self._failed.pop(name)
        if name in self._unavailable:
            raise Unavailable(name, self._unavailable[name])
        if name not in self._lists:
            try:
                self._lists[name] = self._fetch(name)
            except Unavailable as exc:
                self._unavailable[name] = exc.reason
                raise
        if name == "configmaps":
            self._keep_configmaps()
        return self._lists[name]

    def _keep_configmaps(self) -> None:
        """Of kube-system's ConfigMaps only those the checks read (which ones depends on kube-proxy's DaemonSet)."""
        if not self._configmaps_kept and "configmaps" in self._lists:
            self._configmaps_kept = True
            self._lists["configmaps"] = tke.keep_configmaps(self._lists["configmaps"], self.maybe("daemonsets"))

    def prefetch(self, names: Iterable[str]) -> None:
        """List these kinds now, side by side when the source allows (`parallel_reads`), each still once.

        A run reads several kinds of one page each before its checks can start; one after the other, their
        round trips add up. What fails is kept and raised when the kind is read, so errors surface where they
        would have without prefetching.
        """
        todo = [
            n
            for n in dict.fromkeys(names)
            if n not in self._lists and n not in self._unavailable and n not in self._failed
        ]
        workers = min(int(getattr(self.source, "parallel_reads", 1)), len(todo))
        if workers < 2:
            return
        import queue
        import threading

        pending: queue.SimpleQueue[str] = queue.SimpleQueue()
        for name in todo:
            pending.put(name)
        done: dict[str, tuple[builtins.list[Obj] | None, BaseException | None]] = {}

        def work() -> None:
            while True:
                try:
                    name = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    done[name] = (self._fetch(name), None)
                except BaseException as exc:  # kept for the reader of the kind, like a sequential read's
                    done[name] = (None, exc)

        # Daemon threads: Ctrl-C interrupts the join below, and the process exits without waiting for LISTs
        # that may never answer (--request-timeout 0).
        threads = [threading.Thread(target=work, name=f"list-{i}", daemon=True) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for name in todo:
            objs, exc = done[name]
            if exc is None:
                self._lists[name] = objs or []
            elif isinstance(exc, Unavailable):
                self._unavailable[name] = exc.reason
            else:
                self._failed[name] = exc

    def maybe(self, name: str) -> builtins.list[Obj]:
        """The kind's objects, or none when it cannot be read (for checks that only use it to explain)."""
        try:
            return self.list(name)
        except Unavailable:
            return []

    def facts(self, kind: str) -> builtins.list[Obj]:
        """The tke-net/v1 items of a kind (FACT_KINDS): from the snapshot file, or added by this run's sources."""
        return self._facts[kind]

    def add_facts(self, obj: Obj) -> None:
        """Keep what a source measured or read beside the Kubernetes objects (and in `dump`)."""
        self._facts[str(obj["kind"])].append(obj)

    def loaded(self) -> Iterator[Obj]:
        """Every object listed so far."""
        self._keep_configmaps()
        for name in KINDS:
            yield from self._lists.get(name, [])

    def dump(self) -> Obj:
        """Everything read so far as one v1 List, the --snapshot format."""
        items = [*self.loaded(), *(fact for kind in FACT_KINDS for fact in self._facts[kind])]
        doc: Obj = {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}
        if self._unavailable:
            doc["metadata"]["annotations"] = {UNAVAILABLE_ANNOTATION: json.dumps(self._unavailable, sort_keys=True)}
        return doc


def open_snapshot(path: str, namespace: str | None) -> Snapshot:
    return Snapshot(FileSource(os.path.expanduser(path)), namespace)
