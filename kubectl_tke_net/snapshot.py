"""The objects the checks read: each kind listed at most once, from a cluster or from snapshot files."""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from kubectl_tke_net import tke
from kubectl_tke_net.kinds import FACT_KINDS, KINDS, KUBE_SYSTEM, UNAVAILABLE_ANNOTATION, Kind, Obj, clean, narrowed
from kubectl_tke_net.model import Unavailable


class Source(Protocol):
    def list(self, kind: Kind, namespace: str | None) -> list[Obj]:
        """Every object of `kind` in `namespace` (None: all); raises Unavailable."""
        ...


class Snapshot:
    """Lazily lists each kind once from its source and keeps the result (or the reason it is unavailable)."""

    def __init__(self, source: Source, namespace: str | None) -> None:
        self.source = source
        self.namespace = namespace
        self._lists: dict[str, list[Obj]] = {}
        self._unavailable: dict[str, str] = {}
        self._not_served: set[str] = set()  # of those, the kinds whose API the server does not serve at all
        self._failed: dict[str, BaseException] = {}
        self._configmaps_kept = False
        self._facts: dict[str, list[Obj]] = {
            kind: list((getattr(source, "facts", None) or {}).get(kind, [])) for kind in FACT_KINDS
        }

    def _from_resource(self, kind: Kind) -> bool:
        """A narrow read (Kind.resource) that the resource's own list of this run already holds: -A or -n
        kube-system, so no second LIST."""
        return kind.resource is not None and self.namespace in (None, KUBE_SYSTEM)

    def _fetch(self, name: str) -> builtins.list[Obj]:
        kind = KINDS[name]
        if self._from_resource(kind):
            return [o for o in self.list(kind.plural) if narrowed(kind, o)]
        namespace = KUBE_SYSTEM if kind.scope == KUBE_SYSTEM else self.namespace
        found = self.source.list(kind, namespace)
        # decode.py decodes what it reads into the declared fields; anything else is projected here.
        objs = found if getattr(self.source, "cleaned", False) else [clean(kind, o) for o in found]
        # A file source hands over the whole resource: keep what the selectors name, as the API server would.
        return [o for o in objs if narrowed(kind, o)] if kind.resource else objs

    def list(self, name: str) -> builtins.list[Obj]:
        if name in self._failed:
            raise self._failed.pop(name)
        if name in self._unavailable:
            raise Unavailable(name, self._unavailable[name], served=name not in self._not_served)
        if name not in self._lists:
            try:
                self._lists[name] = self._fetch(name)
            except Unavailable as exc:
                self._unavailable[name] = exc.reason
                if not exc.served:
                    self._not_served.add(name)
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
            if n not in self._lists
            and n not in self._unavailable
            and n not in self._failed
            and not self._from_resource(KINDS[n])  # read from its resource's list, once that is here
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
                if not exc.served:
                    self._not_served.add(name)
            else:
                self._failed[name] = exc

    def held(self, name: str) -> builtins.list[Obj] | None:
        """The kind's objects when they were already listed, else None (not read yet, or unavailable): for views
        such as `trace` that show what the checks read and must not list anything more."""
        if name in self._lists:
            if name == "configmaps":
                self._keep_configmaps()
            return self._lists[name]
        return None

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
        """Every object listed so far, each once (a narrow read repeats objects of its resource's list)."""
        self._keep_configmaps()
        narrowed_resources = {k.resource for k in KINDS.values() if k.resource}
        seen: set[tuple[str, str, str]] = set()
        for name, kind in KINDS.items():
            dedupe = kind.resource is not None or name in narrowed_resources
            for obj in self._lists.get(name, []):
                if dedupe:
                    meta = obj.get("metadata") or {}
                    key = (str(obj.get("kind")), str(meta.get("namespace")), str(meta.get("name")))
                    if key in seen:
                        continue
                    seen.add(key)
                yield obj

    def annotated(self, key: str) -> builtins.list[Obj]:
        """The objects listed so far whose annotations hold `key`, each once, as loaded() would give them: what
        may suppress a finding, found without giving every object of a big cluster a key."""
        self._keep_configmaps()
        found: dict[tuple[str, str, str], Obj] = {}
        for name in KINDS:
            for obj in self._lists.get(name, ()):
                meta = obj.get("metadata") or {}
                notes = meta.get("annotations")
                if isinstance(notes, dict) and key in notes:
                    found.setdefault((str(obj.get("kind")), str(meta.get("namespace")), str(meta.get("name"))), obj)
        return builtins.list(found.values())

    def dump(self) -> Obj:
        """Everything read so far as one v1 List, the --snapshot format."""
        items = [*self.loaded(), *(fact for kind in FACT_KINDS for fact in self._facts[kind])]
        doc: Obj = {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}
        if self._unavailable:
            doc["metadata"]["annotations"] = {UNAVAILABLE_ANNOTATION: json.dumps(self._unavailable, sort_keys=True)}
        return doc


def open_snapshot(
    path: str, namespace: str | None, progress: Callable[[str, int, int], None] | None = None
) -> Snapshot:
    from kubectl_tke_net.sources.files import FileSource

    return Snapshot(FileSource(os.path.expanduser(path), progress), namespace)
