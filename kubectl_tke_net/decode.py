"""JSON decoded straight into the declared fields (shape.SHAPES), never into whole objects first.

The decoders are generated from SHAPES and shape's metadata declaration when first used: one msgspec TypedDict
per kind, so a field or a kind added there is decoded with no change here, and what msgspec gives back are the
plain dicts and lists that `json.loads` + `kinds.clean` give (the checks read the same structures). Undeclared
fields (managedFields, env, a Secret's data) are skipped by the parser without being built. A value whose type
the declaration does not allow (a null, a number where text is declared) fails the typed decode; that object is
then decoded by the standard library and cleaned as before, so odd input gives exactly what it gave before (and
a snapshot file's error message names the field, shape.problem).

Measured (README "Performance"): 500 realistic Pods, json.loads + clean against this decoder. A small body (under
TYPED_AT bytes) is read by the standard library instead: importing msgspec and making a kind's decoders cost more
than they save on it (bench/decode_threshold.py measures both sides), and msgspec is imported only when a body
is large enough to pay for it.
"""

from __future__ import annotations

import functools
import gc
import itertools
import json
import operator
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypedDict

from kubectl_tke_net import kinds, shape
from kubectl_tke_net.kinds import BY_KIND, Kind, Obj
from kubectl_tke_net.shape import STR

if TYPE_CHECKING:
    import msgspec

# Off in tests only: every object is then read by json.loads and cleaned (kinds.clean), the path the typed
# decoders must agree with (tests/test_held.py).
TYPED = True
# A LIST page or snapshot file smaller than this (bytes) is read by json.loads + kinds.clean: below it msgspec's
# import and the kind's decoders, paid on the first body (about 11 ms), cost more than the typed decoding saves.
# bench/decode_threshold.py, first page of a fresh process: 100 realistic Pods (1.0 MB) 15.2 ms either way, 30
# (0.3 MB) 4.7 ms standard against 12.7 ms typed, 300 (3 MB) 46.5 ms against 22.2 ms. 0 in tests of both paths.
TYPED_AT = 1 << 20
# Once msgspec is loaded (a larger body came first), what is left to pay is the kind's decoders (Pod 1.2 ms,
# Service and EndpointSlice 0.5 ms), and the typed decoding saves about 11 ms a MB (Pods: 15.2 ms a MB
# standard, 3.5 typed): from this size on it pays. The paths give the same objects, so which one a body takes
# may depend on the order pages arrive in.
TYPED_AFTER = 128 << 10


def typed_for(size: int) -> bool:
    """Whether a body of `size` bytes is read by the typed decoders."""
    if not (TYPED and kinds.PROJECT):
        return False
    return size >= TYPED_AT or (size >= TYPED_AFTER and "msgspec" in sys.modules)


# The head of an item in a snapshot file: which kind it is, and whether it is a List of more items.
class _Head(TypedDict, total=False):
    kind: Any
    apiVersion: Any


# TypedDicts made at run time from the declaration (a type checker only knows those written out).
_typed_dict: Any = TypedDict


def _type(value: Any, name: str) -> Any:
    """The msgspec type of one declaration (shape's vocabulary: dicts, [item], _Map, _Any, types, tuples)."""
    if isinstance(value, shape._Any):
        return Any
    if isinstance(value, dict):
        fields = {key: _type(sub, f"{name}_{key}") for key, sub in value.items()}
        return _typed_dict(name, fields, total=False)
    if isinstance(value, list):
        return list[_type(value[0], name)]  # type: ignore[misc]
    if isinstance(value, shape._Map):
        return dict[str, _type(value.values, name)]  # type: ignore[misc]
    if isinstance(value, tuple):
        return functools.reduce(operator.or_, value)
    return value


def _has_any(value: Any) -> bool:
    if isinstance(value, shape._Any):
        return True
    if isinstance(value, dict):
        return any(_has_any(v) for v in value.values())
    if isinstance(value, list):
        return _has_any(value[0])
    return False


class _KindDecoder:
    """The decoders of one kind: an object, and a LIST page of them."""

    def __init__(self, kind: str) -> None:
        import msgspec

        body = shape.SHAPES.get(kind, {})
        meta = shape._METADATA
        if kind == "Secret":
            meta = {k: meta[k] for k in ("name", "namespace", "annotations")}
        fields = {**body, "metadata": meta}
        item: Any = _type(fields, f"_{kind}")
        # An item of a file also says its kind: decoded, so that the kind its head said is the one it has.
        self.object = msgspec.json.Decoder(_type({**fields, "kind": STR}, f"_{kind}Item"))
        # "continue" is a Python keyword: the functional form of TypedDict is the only one that can name it.
        list_meta = _typed_dict(f"_{kind}ListMeta", {"continue": str, "resourceVersion": str}, total=False)
        page = _typed_dict(f"_{kind}List", {"metadata": list_meta, "items": list[item]}, total=False)
        self.page = msgspec.json.Decoder(page)
        self.prune = _has_any(body)  # an ANY subtree may hold nulls and junk, as JSON gave them


@functools.cache
def _decoder(kind: str) -> _KindDecoder:
    return _KindDecoder(kind)


def finish(kind: Kind, obj: Obj) -> Obj:
    """A decoded object as kinds.clean leaves it: apiVersion and kind first, annotations kept as shape.keep says."""
    meta = obj.pop("metadata", None) or {}
    out: Obj = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta}
    out.update(obj)
    notes = meta.get("annotations")
    if notes is not None:
        if kind.kind == "Secret":
            notes = {k: v for k, v in notes.items() if k in shape.SECRET_ANNOTATIONS}
        elif kind.kind in shape.ALL_ANNOTATIONS:
            if shape.LAST_APPLIED in notes:
                notes = {k: v for k, v in notes.items() if k != shape.LAST_APPLIED}
        else:
            notes = {k: v for k, v in notes.items() if k.startswith(shape.ANNOTATION_PREFIXES)}
        if notes:
            meta["annotations"] = notes
        else:
            del meta["annotations"]
    if kind.kind == "Secret":
        out["metadata"] = {k: meta[k] for k in ("name", "namespace", "annotations") if k in meta}
    if _decoder(kind.kind).prune:
        shape.prune(out)
    _sharer(kind.kind)(out)
    return out


# Text that objects repeat ("True", "Ready", a namespace, a node, an image) is held once: the first copy read
# stands for the others decoded after it. Forgotten after each page or block (forget), so that the names and
# uids that no two objects share are not held twice.
_SHARED: dict[str, str] = {}
_SHORT = 64
# Fields no two objects of a kind share: looked up for sharing, they would only cost the lookup.
_UNIQUE = frozenset(
    {
        ("metadata", "name"),
        ("metadata", "uid"),
        ("metadata", "resourceVersion"),
        ("status", "podIP"),
        ("endpoints", "addresses"),  # a Pod's address
        ("endpoints", "targetRef", "name"),  # a Pod's name
        ("endpoints", "targetRef", "uid"),
    }
)


def _share(value: Any) -> None:
    """Any subtree (an ANY declaration: a custom resource's spec), walked whole."""
    shared = _SHARED.setdefault
    items = value.items() if type(value) is dict else enumerate(value)
    for key, item in items:
        kind = type(item)
        if kind is str:
            if len(item) < _SHORT:
                value[key] = shared(item, item)
        elif kind is dict or kind is list:
            _share(item)


# Kinds no fix ever writes and no check changes (tests/test_held.py proves it for every scenario): equal parts
# of them (a Pod's conditions, containers, ports, labels and container statuses, an endpoint's conditions) may be one
# object, found by its site and contents. Not where a part holds what no two objects share (an address, a uid).
# The 150k-Pod snapshot of `make bench`: 930 MB peak with text shared alone, 550 MB with flat parts shared too,
# 328 MB with parts made of parts (a container, a spec), for about 7 us more a Pod.
_READ_ONLY = frozenset({"Pod", "Node", "EndpointSlice"})
_DISTINCT = frozenset({("status", "addresses"), ("endpoints", "targetRef")})
_SHARED_PARTS: dict[str, dict[tuple[Any, ...], Any]] = {}  # by kind: a site's types are its kind's declaration
# Parts made of parts that hold something of their own in nearly every Pod: a spec names its node. They are
# never found, so they are not looked up; the parts in them (the containers and their ports) still are.
_PER_POD_PARTS = frozenset({("spec",)})
_SCALARS = (str, int, bool)


def _scalar(decl: Any) -> bool:
    return decl in _SCALARS or (isinstance(decl, tuple) and all(t in _SCALARS for t in decl))


def _flat(decl: Any) -> bool:
    """A dict declaration whose fields are all text, numbers or booleans."""
    return isinstance(decl, dict) and all(_scalar(sub) for sub in decl.values())


def _shareable(decl: Any, site: tuple[str, ...]) -> bool:
    """Whether equal values of the declaration may be one object: nothing in it is what no two objects share."""
    if site in _DISTINCT or site in _UNIQUE or isinstance(decl, shape._Any):
        return False
    if isinstance(decl, dict):
        return all(_shareable(sub, (*site, key)) for key, sub in decl.items())
    if isinstance(decl, list):
        return _shareable(decl[0], site)
    return True


class _Code:
    """The lines of a sharer being made, and the names of its variables."""

    def __init__(self, parts: bool) -> None:
        self.lines: list[str] = []
        self.parts = parts
        self.names = itertools.count()

    def name(self) -> str:
        return f"v{next(self.names)}"


def _field(code: _Code, sub: Any, place: str, key: str, site: tuple[str, ...], *, indent: str) -> None:
    """The statements for the field `key` of the dict `place` (declared `sub`)."""
    out = code.lines
    var = code.name()
    here = f"{place}.get({key!r})"
    part = code.parts and _shareable(sub, site)
    if isinstance(sub, shape._Any):
        out += [f"{indent}{var} = {here}", f"{indent}if type({var}) is dict or type({var}) is list:"]
        out += [f"{indent}    walk({var})"]
    elif _scalar(sub):
        if str in (sub if isinstance(sub, tuple) else (sub,)) and site not in _UNIQUE:
            text = f"type({var}) is str" if isinstance(sub, tuple) else f"{var} is not None"  # as declared
            out += [f"{indent}{var} = {here}", f"{indent}if {text} and len({var}) < {_SHORT}:"]
            out += [f"{indent}    {place}[{key!r}] = s({var}, {var})"]
    elif isinstance(sub, list) and _scalar(sub[0]):
        if sub[0] is str and site not in _UNIQUE:
            out += [f"{indent}{var} = {here}", f"{indent}if {var}:"]
            out += [f"{indent}    {var}[:] = [s(x, x) if len(x) < {_SHORT} else x for x in {var}]"]
            if part:
                out += _found(code, f"({site!r}, '[]', *{var})", var, f"{place}[{key!r}]", indent=indent + "    ")
    elif isinstance(sub, list):
        _list(code, sub[0], place, key, site, indent=indent, part=part)
    elif isinstance(sub, (dict, shape._Map)):
        out += [f"{indent}{var} = {here}", f"{indent}if {var} is not None:"]
        _dict(code, sub, var, f"{place}[{key!r}]", site, indent=indent + "    ", part=part)


def _found(code: _Code, key: str, var: str, target: str, *, indent: str, inner: list[str] | None = None) -> list[str]:
    """Look `var` up by `key`: the one found stands in `target`; else `inner` (sharing its insides) and kept."""
    n = next(code.names)
    return [
        f"{indent}k{n} = {key}",
        f"{indent}f{n} = parts.get(k{n})",
        f"{indent}if f{n} is None:",
        *["    " + line for line in inner or []],
        f"{indent}    parts[k{n}] = {var}",
        f"{indent}else:",
        f"{indent}    {target} = f{n}",
    ]


def _dict(code: _Code, decl: Any, var: str, target: str, site: tuple[str, ...], *, indent: str, part: bool) -> None:
    """The statements for a dict (a declared dict, or a map of text) held in `var` and stored at `target`."""
    inner = _Code(code.parts)
    inner.names = code.names
    if isinstance(decl, shape._Map):
        if decl.values is not str:
            return
        inner.lines += [f"{indent}for key_, x in {var}.items():", f"{indent}    if len(x) < {_SHORT}:"]
        inner.lines += [f"{indent}        {var}[key_] = s(x, x)"]
    else:
        for key, sub in decl.items():
            _field(inner, sub, var, key, (*site, key), indent=indent)
    if not part:
        code.lines += inner.lines or [f"{indent}pass"]
    elif isinstance(decl, shape._Map) or _flat(decl):
        # Its contents are its key: looked up first, its text shared only when it is the first.
        code.lines += _found(code, f"({site!r}, *{var}.items())", var, target, indent=indent, inner=inner.lines)
    else:
        # Its fields' identities are its key: its parts are shared already, and so is most of its text. Equal
        # keys are the same objects, so equal contents; a value not shared (a long text, a large number) only
        # keeps it from being found.
        code.lines += inner.lines
        if site not in _PER_POD_PARTS:
            lookup = f"({site!r}, *{var}.keys(), *map(id, {var}.values()))"
            code.lines += _found(code, lookup, var, target, indent=indent)


def _list(code: _Code, decl: Any, place: str, key: str, site: tuple[str, ...], *, indent: str, part: bool) -> None:
    """The statements for a list of dicts, field `key` of `place`: each item, then (as a part) the list."""
    n = next(code.names)
    item = code.name()
    code.lines += [f"{indent}l{n} = {place}.get({key!r})", f"{indent}if l{n}:"]
    items = _Code(code.parts)
    items.names = code.names
    items.lines += [f"{indent}    for i{n}, {item} in enumerate(l{n}):"]
    _dict(items, decl, item, f"l{n}[i{n}]", site, indent=indent + "        ", part=part)
    if part and _flat(decl):
        # A list of flat dicts (a Pod's conditions, a container's ports) is looked up whole by its contents, the
        # items' fields in C (map); only a list not seen before has its items looked up and its text shared.
        lookup = f"({site!r}, '[]', *map(tuple, map(dict.items, l{n})))"
        code.lines += _found(code, lookup, f"l{n}", f"{place}[{key!r}]", indent=indent + "    ", inner=items.lines)
        return
    code.lines += items.lines
    if part:
        # Its items are all held by `parts` until forget(), so their identities stand for them.
        lookup = f"({site!r}, '[]', *map(id, l{n}))"
        code.lines += _found(code, lookup, f"l{n}", f"{place}[{key!r}]", indent=indent + "    ")


@functools.cache
def _sharer(kind: str) -> Callable[[Obj], None]:
    """The kind's sharing as straight-line code made from its declaration (as dataclasses makes its methods):
    a walk that asks each value its type costs twice as much (30,000 Pods: 0.55 s against 0.30 s)."""
    code = _Code(parts=kind in _READ_ONLY)
    for key, sub in {**shape.SHAPES.get(kind, {}), "metadata": shape._METADATA}.items():
        _field(code, sub, "o", key, (key,), indent="    ")
    source = "\n".join(["def share(o):", *code.lines, "    return None"])
    parts = _SHARED_PARTS.setdefault(kind, {})
    scope: dict[str, Any] = {"s": _SHARED.setdefault, "walk": _share, "parts": parts}
    exec(compile(source, f"<sharing of {kind}>", "exec"), scope)  # made from shape.SHAPES alone, never from input
    made: Callable[[Obj], None] = scope["share"]
    return made


def forget() -> None:
    """The end of a page or block: the text read so far is no longer looked up for sharing."""
    _SHARED.clear()
    # Lists are read side by side: another thread may make a kind's sharer (and its parts) meanwhile, so the
    # kinds are taken first; iterating the dict itself raised "dictionary changed size during iteration".
    for parts in tuple(_SHARED_PARTS.values()):
        parts.clear()


# --- the collector ---------------------------------------------------------------------------------------


# Python's cyclic collector walks every container it tracks each time enough new ones were made: while
# tens of thousands of objects are decoded, that is most of the time spent. It is paused while decoding
# (reference counting still frees what is dropped), and what was decoded is then frozen out of its walks:
# those objects are held for the whole run anyway.
class _Pause:
    depth = 0  # decodings under way (lists are read side by side)
    was_enabled = False


_lock = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    with _lock:
        _Pause.depth += 1
        if _Pause.depth == 1:
            _Pause.was_enabled = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with _lock:
            _Pause.depth -= 1
            if _Pause.depth == 0:
                gc.freeze()
                if _Pause.was_enabled:
                    gc.enable()


# --- LIST pages ------------------------------------------------------------------------------------------


def page(kind: Kind) -> Callable[[bytes], Any]:
    """The decoder of a LIST page of the kind: its metadata and its items, each already as kinds.clean keeps it.

    ValueError when the body is not JSON (the caller sends the request again); a body that is JSON but not of
    the declared types is read by the standard library and cleaned item by item (kinds.clean), as before.
    """

    def decode(data: bytes) -> Any:
        with collector_paused():
            if typed_for(len(data)):
                import msgspec

                try:
                    doc = _decoder(kind.kind).page.decode(data)
                except msgspec.ValidationError:
                    pass
                else:
                    doc["items"] = [finish(kind, item) for item in doc.get("items") or []]
                    forget()
                    return doc
            doc = json.loads(data)
            if isinstance(doc, dict) and isinstance(doc.get("items"), list):
                doc["items"] = [kinds.clean(kind, i) for i in doc["items"] if isinstance(i, dict)]
            return doc

    return decode


def continue_token(data: bytes) -> str | None:
    """The continue token of a LIST page from its head alone (the API server writes the List's metadata before
    its items); None when it has none, or the head is not that."""
    at = data.find(b'"items"', 0, 1 << 16)
    if at < 0:
        return None
    try:
        head = json.loads(data[:at].rstrip().removesuffix(b",") + b"}")
    except ValueError:
        return None
    meta = head.get("metadata") if isinstance(head, dict) else None
    token = meta.get("continue") if isinstance(meta, dict) else None
    return token if isinstance(token, str) and token else None


# --- snapshot files --------------------------------------------------------------------------------------


class _FileDecoders:
    """The decoders of a snapshot file's structure: an item's head, and the top level."""

    def __init__(self) -> None:
        import msgspec

        self.head = msgspec.json.Decoder(_Head)
        top = _typed_dict("_Top", {"kind": Any, "metadata": Any, "items": list[msgspec.Raw]}, total=False)
        self.top = msgspec.json.Decoder(top)


@functools.cache
def _files() -> _FileDecoders:
    return _FileDecoders()


def head(raw: msgspec.Raw | bytes) -> Any:
    """The kind and apiVersion of one item of a file (a dict), or the item itself when it is not an object."""
    import msgspec

    try:
        return _files().head.decode(raw)
    except msgspec.ValidationError:
        return json.loads(bytes(raw))


def typed(kind: Kind, raw: msgspec.Raw | bytes) -> Obj | None:
    """The item decoded into the kind's declared fields and cleaned; None when its types are not the declared
    ones or it has no name (the caller reads it the standard way, to refuse it with shape.problem's reason)."""
    if not (TYPED and kinds.PROJECT):
        return None
    import msgspec

    try:
        obj = _decoder(kind.kind).object.decode(raw)
    except msgspec.ValidationError:
        return None
    meta = obj.get("metadata")
    if meta is None or not meta.get("name") or obj.pop("kind", None) != kind.kind:
        return None
    return finish(kind, obj)


# The head of an item as the API server, kubectl and dump write it: apiVersion then kind, first of its fields.
_WS = rb"[ \t\r\n]*"
_KIND_AT = re.compile(
    _WS
    + rb"\{"
    + _WS
    + rb'"apiVersion"'
    + _WS
    + rb":"
    + _WS
    + rb'"[^"\\]*"'
    + _WS
    + rb","
    + _WS
    + rb'"kind"'
    + _WS
    + rb":"
    + _WS
    + rb'"([A-Za-z0-9]+)"'
)


def kind_at(raw: msgspec.Raw | bytes | memoryview) -> Kind | None:
    """The kind an item of a file names first, from its first bytes, when it is one the checks read: no decoding
    of the whole item for its head. `typed` then decodes the item's own kind too, and refuses the item when it is
    not this one (a second "kind" further on: JSON's last one counts)."""
    found = _KIND_AT.match(raw)
    return BY_KIND.get(found.group(1).decode()) if found else None


def kind_of(found: Any) -> Kind | None:
    return BY_KIND.get(str(found.get("kind", ""))) if isinstance(found, dict) else None


def top(data: bytes | memoryview) -> Any:
    """A whole file's top level: kind and metadata, and its items unparsed (msgspec.Raw); ValueError if not JSON,
    msgspec.ValidationError if it is not a List of items."""
    return _files().top.decode(data)
