"""`lint -f PATH`: reads manifests (files, folders, standard input; YAML with many documents, Helm output as it
is, JSON) through the guarded reader of files.py, with where each object starts as the YAML parser saw it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubectl_tke_net import shape
from kubectl_tke_net.findings import Ref
from kubectl_tke_net.i18n import _
from kubectl_tke_net.kinds import BY_KIND, KINDS, Obj, clean
from kubectl_tke_net.lint import CLUSTER_SCOPED, TEMPLATES, Manifests, Place, stand_in
from kubectl_tke_net.model import UsageError
from kubectl_tke_net.sources.files import STDIN, documents

SUFFIXES = (".yaml", ".yml", ".json")


def _files(path: str) -> list[tuple[Path, str]]:
    """The files of a -f PATH, each with the name findings give it."""
    root = Path(path)
    if root == STDIN:
        return [(STDIN, "-")]
    if root.is_dir():
        found = sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        return [(p, str(p)) for p in found]
    if root.is_file():
        return [(root, path)]
    raise UsageError(_("manifest {path} does not exist").format(path=path))


def _objects(doc: Any, where: str) -> list[Any]:
    """The objects of a document: itself, or the items of a *List; nothing for an empty document."""
    if doc is None:
        return []
    if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        return [o for item in doc["items"] for o in _objects(item, where)]
    return [doc]


def _malformed(place: Place, what: str, reason: str) -> UsageError:
    return UsageError(_("malformed manifest {place}: {what}: {reason}").format(place=place, what=what, reason=reason))


def read(paths: list[str], namespace: str) -> Manifests:
    """Every object of the -f PATHs; objects without a namespace get `namespace`. The same kind, namespace and
    name defined again replaces the earlier one (as `kubectl apply` would) and is noted in `duplicates`."""
    if paths.count("-") > 1:
        raise UsageError(_("-f - (standard input) can be given only once"))
    cannot_read = _("cannot read manifest {path}: {reason}")
    malformed = _("malformed manifest {path}: {reason}")
    found: dict[Ref, tuple[Place, Obj]] = {}
    places: dict[Ref, list[Place]] = {}
    for path in paths:
        for file, name in _files(path):
            lines: dict[int, int] = {}
            for doc, from_yaml in documents(file, cannot_read, malformed, lines):
                for raw in _objects(doc, name):
                    place = Place(name, lines.get(id(raw)))
                    if not isinstance(raw, dict):
                        raise _malformed(
                            place,
                            _("a document"),
                            _("not a Kubernetes object ({type})").format(type=type(raw).__name__),
                        )
                    try:
                        obj = shape.plain(raw) if from_yaml else raw
                        if not from_yaml:
                            shape.prune(obj)
                    except shape.TooDeep as exc:
                        raise _malformed(place, _("an object"), str(exc)) from None
                    kind = obj.get("kind")
                    if not isinstance(kind, str) or not kind:
                        raise _malformed(place, _("an object"), _("it has no kind"))
                    given = obj.get("metadata")
                    first: dict[str, Any] = given if isinstance(given, dict) else {}
                    if not first.get("name") and first.get("generateName"):
                        continue  # named by the API server when created: nothing can refer to it
                    why = shape.problem(obj) if kind in BY_KIND or kind in TEMPLATES else _name_problem(obj)
                    if why:
                        raise _malformed(place, kind, why)
                    meta = obj["metadata"]
                    if kind in CLUSTER_SCOPED or (kind in BY_KIND and BY_KIND[kind].scope == "cluster"):
                        meta.pop("namespace", None)
                        ns = ""
                    else:
                        ns = meta.get("namespace") or namespace
                        meta["namespace"] = ns
                    key = Ref(kind, ns, meta["name"])
                    places.setdefault(key, []).append(place)
                    found[key] = (place, obj)
    if not found:
        raise UsageError(
            _("{paths} hold no Kubernetes object").format(paths=", ".join(paths))
            + (_(" (did `helm template` print nothing?)") if "-" in paths else "")
        )
    out = Manifests(list(paths))
    out.count = len(found)
    out.duplicates = {key: where for key, where in places.items() if len(where) > 1}
    for key, (place, obj) in found.items():
        out.places[key] = place
        if key.namespace:
            out.namespaces.add(key.namespace)
        if key.kind in TEMPLATES:
            pod = stand_in(key.kind, obj, key.namespace)
            if pod is not None:
                why = shape.problem(pod)
                if why:
                    raise _malformed(
                        place, f"{key.kind} {key.name}", _("its Pod template: {reason}").format(reason=why)
                    )
                pod = clean(KINDS["pods"], pod)
                out.objects["pods"].append(pod)
                out.stand_ins[Ref("Pod", key.namespace, pod["metadata"]["name"])] = key
        kind = BY_KIND.get(key.kind)
        if kind is not None:
            out.objects[kind.name].append(clean(kind, obj))
    return out


def _name_problem(obj: Obj) -> str | None:
    """Of a kind the checks do not read, only what names it: metadata.name as text."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta.get("name"):
        return _("metadata.name is missing")
    if "namespace" in meta and not isinstance(meta["namespace"], str):
        return _("metadata.namespace is not text")
    return None
