"""Snapshot and backup files: the plugin's only file I/O. Reads JSON or YAML (one object, a *List, several
documents, standard input) with guards against deep nesting and YAML alias bombs; writes backup files (0600)."""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from kubectl_tke_net import decode, kinds, shape, tke
from kubectl_tke_net.i18n import _
from kubectl_tke_net.kinds import (
    BY_KIND,
    FACT_KINDS,
    FACTS_API,
    KINDS,
    KUBE_SYSTEM,
    UNAVAILABLE_ANNOTATION,
    Kind,
    Obj,
    clean,
)
from kubectl_tke_net.model import Unavailable, UsageError

STDIN = Path("-")  # --snapshot -: the snapshot comes on standard input


_SAFE_DEPTH = 2000  # far below the nesting at which LibYAML's loader overflows the C stack


MAX_ALIASED = 1_000_000  # values that YAML aliases may add to a snapshot file by repeating their anchors


def _in_scope(kind: Kind, obj: Obj, namespace: str | None) -> bool:
    ns = (obj.get("metadata") or {}).get("namespace", "")
    if kind.scope == KUBE_SYSTEM:
        return bool(ns == KUBE_SYSTEM)
    if kind.scope == "namespaced" and namespace is not None:
        return bool(ns == namespace)
    return True


def documents(
    path: Path,
    cannot_read: str | None = None,
    malformed: str | None = None,
    lines: dict[int, int] | None = None,
    data: bytes | None = None,
) -> Iterator[tuple[Any, bool]]:
    """Each document of a JSON or YAML file (or of `data`, read from it already), and whether it came from YAML
    (which has values JSON has not).

    What cannot be read or parsed, nests too deeply or hides an alias bomb is a UsageError whose text is
    `cannot_read` or `malformed` (translated templates with {path} and {reason}; a snapshot's by default).
    `lines`, when given, is filled with where each object starts (`id(obj)` -> line, from 1): every document
    that is a mapping and every item of a *List, as the YAML parser saw them (for `lint`'s file:line); valid
    only while the documents are held.
    """
    cannot_read = cannot_read or _("cannot read snapshot {path}: {reason}")
    malformed = malformed or _("malformed snapshot {path}: {reason}")
    try:
        if data is not None:
            text = data.decode("utf-8-sig")
        elif path == STDIN:
            text = sys.stdin.buffer.read().decode("utf-8-sig")
        else:
            text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(cannot_read.format(path=path, reason=exc)) from exc
    if text.lstrip().startswith("{"):
        # JSON parses about a hundred times faster than YAML; a YAML flow mapping falls through below.
        try:
            doc = json.loads(text)
            if lines is not None:
                _locate_json(text, doc, lines)
            yield doc, False
            return
        except json.JSONDecodeError as exc:
            if path.suffix == ".json":
                where = _("line {line}, column {column}").format(line=exc.lineno, column=exc.colno)
                reason = _("not valid JSON: {where}: {problem}").format(where=where, problem=exc.msg)
                raise UsageError(malformed.format(path=path, reason=reason)) from None
        except (ValueError, RecursionError):
            if path.suffix == ".json":
                raise UsageError(malformed.format(path=path, reason=_("not valid JSON"))) from None
    import yaml  # here, not above: a JSON snapshot needs none of it

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        if _too_deep(text, loader):
            raise UsageError(malformed.format(path=path, reason=shape.too_deep()))
        aliases = "*" in text and "&" in text
        for doc in _load_all(text, loader, lines):
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


def _load_all(text: str, loader: Any, lines: dict[int, int] | None) -> Iterator[Any]:
    """yaml.load_all, which also notes where each object starts when `lines` is given."""
    import yaml

    if lines is None:
        yield from yaml.load_all(text, Loader=loader)
        return
    parser = loader(text)
    try:
        while parser.check_node():
            node = parser.get_node()
            doc = parser.construct_document(node)
            _locate(node, doc, lines)
            yield doc
    finally:
        parser.dispose()


def _locate(node: Any, data: Any, lines: dict[int, int]) -> None:
    """Where the mapping `data` (composed from `node`) starts, and so on for the items of a *List."""
    import yaml

    if isinstance(node, yaml.SequenceNode) and isinstance(data, list):
        lines[id(data)] = node.start_mark.line + 1  # not an object: for the error that says so
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        return
    lines[id(data)] = node.start_mark.line + 1
    if str(data.get("kind", "")).endswith("List") and isinstance(data.get("items"), list):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "items" and isinstance(value, yaml.SequenceNode):
                for child, item in zip(value.value, data["items"], strict=False):
                    _locate(child, item, lines)


def _locate_json(text: str, doc: Any, lines: dict[int, int]) -> None:
    """Where the objects of a JSON document start: JSON is YAML, so its parser's nodes tell (without
    constructing anything again); a JSON text the YAML parser does not take keeps its objects unplaced."""
    import yaml

    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return
    _locate(node, doc, lines)


def _too_deep(text: str, loader: Any) -> bool:
    """Whether the YAML nests deeper than shape.MAX_DEPTH, found out before loading it when it could crash:
    LibYAML's loader recurses in C once per level and kills the process (no exception) some ten thousand
    levels down. Each level takes a flow bracket, or an indentation column, or an inline "- " or ": ", so the
    cheap bound below clears every ordinary file; the others are read as a stream of events, which does not
    recurse. Shallower junk is loaded, and refused by shape.plain."""
    longest = max((len(line) for line in text.splitlines()), default=0)
    if len(text) < _SAFE_DEPTH or 2 * longest + text.count("[") + text.count("{") <= _SAFE_DEPTH:
        return False
    import yaml

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


# A JSON file up to this size is parsed in one go (with msgspec: its bytes, the items unparsed, then each item
# into its declared fields); a larger one is read as a stream of blocks, the items of its List decoded a block
# at a time, so that the whole file is never in memory.
WHOLE_AT = 64 << 20
_BLOCK = 16 << 20
_BOM = b"\xef\xbb\xbf"
_PER_PAGE = 500  # items of a file read in one go, told as one page of progress
# Where the items of a pretty-printed List (`kubectl get -o json`, `dump`) begin: each item then starts and ends
# on a line of its own at one indentation, its insides deeper (a JSON string cannot hold a raw line break).
_ITEMS = re.compile(rb'\n([ \t]*)"items":[ \t]*\[[ \t]*\r?\n([ \t]+)\{')


class _Refused(Exception):
    """What the fast reading cannot read: the standard one reads it, or says exactly why it cannot."""


def _fast_json(file: Path, data: bytes | None, source: FileSource) -> bool:
    """Read a JSON file the fast way (decode.py) into the source; False (and nothing kept) when it is not JSON
    or not as expected, for the standard reading to do it, with its messages."""
    if not (decode.TYPED and kinds.PROJECT):
        return False
    mark = source.mark()
    try:
        if data is None:
            try:
                fh = file.open("rb")
            except OSError:
                return False
            with fh:
                start = fh.read(_BLOCK)
                if not _json_start(start):
                    return False
                if os.fstat(fh.fileno()).st_size > WHOLE_AT and _stream(fh, start, file, source):
                    return True
                data = start + fh.read()
        elif not _json_start(data):
            return False
        if decode.typed_for(len(data)):
            _whole(data, file, source)
        else:
            _small(data, file, source)
        return True
    except (_Refused, ValueError, RecursionError):
        source.reset(mark)
        return False


def _json_start(data: bytes) -> bool:
    return data.removeprefix(_BOM).lstrip(b" \t\r\n").startswith(b"{")


def _utf8(block: bytes, decoder: Any) -> None:
    """UnicodeDecodeError (a ValueError) if the block is not UTF-8, as reading the file as text would say."""
    if not block.isascii():
        decoder.decode(block)


def _whole(data: bytes, file: Path, source: FileSource) -> None:
    view = memoryview(data)[len(_BOM) :] if data.startswith(_BOM) else memoryview(data)
    _utf8(data, codecs.getincrementaldecoder("utf-8-sig")())
    top = decode.top(view)
    source.unavailable.update(_unavailable(top, file))
    items = top.get("items")
    if str(top.get("kind", "")).endswith("List") and items is not None:
        for n, raw in enumerate(items, 1):
            source._raw(raw, file)
            if n % _PER_PAGE == 0 or n == len(items):
                decode.forget()
                source.progress(file.name, (n - 1) % _PER_PAGE + 1, (n - 1) // _PER_PAGE + 1)
    else:
        source._raw(view, file)
        source.progress(file.name, 1, 1)


def _small(data: bytes, file: Path, source: FileSource) -> None:
    """A file below decode.TYPED_AT: parsed by json.loads and each object taken the standard way (msgspec's
    import would cost more than it saves), with the progress _whole tells."""
    doc = json.loads(data.decode("utf-8-sig"))
    if not isinstance(doc, dict):
        raise _Refused
    source.unavailable.update(_unavailable(doc, file))
    items = doc.get("items")
    if str(doc.get("kind", "")).endswith("List") and isinstance(items, list):
        for n, item in enumerate(items, 1):
            for found in _items(item, file):
                source._take(found, False, file)
            if n % _PER_PAGE == 0 or n == len(items):
                source.progress(file.name, (n - 1) % _PER_PAGE + 1, (n - 1) // _PER_PAGE + 1)
    else:
        source._take(doc, False, file)
        source.progress(file.name, 1, 1)


def _stream(fh: Any, start: bytes, file: Path, source: FileSource) -> bool:
    """The items of a pretty-printed List a block at a time; False when the file is not one."""
    start = start.removeprefix(_BOM)
    found = _ITEMS.search(start)
    if not found:
        return False
    utf8 = codecs.getincrementaldecoder("utf-8")()
    _utf8(start, utf8)
    head = start[: found.start()]
    end = b"\n" + found.group(2) + b"}"
    close = b"\n" + found.group(1) + b"]"
    buf = start[found.end() - 1 :]
    pages = 0
    eof = False
    try:
        while True:
            # The array closes after the last item: looked for past the last item's end (a search of the
            # whole block would stop at every line of it), and in the whole of what is left at the end.
            cut = buf.rfind(end)
            at = buf.find(close, max(cut, 0))
            if at < 0 and eof:
                at = buf.find(close)
            if at >= 0:
                rest = b"" if eof else fh.read()
                _utf8(rest, utf8)
                tail = buf[at + len(close) :] + rest
                _batch(buf, at, pages, file, source, end=end)
                break
            if eof:
                raise _Refused
            if cut >= 0:
                cut += len(end)
                _batch(buf, cut, pages, file, source, end=end)
                pages += 1
                buf = buf[cut:]
            block = fh.read(_BLOCK)
            _utf8(block, utf8)
            eof = not block
            buf += block
        doc = json.loads(head + b'\n"items": []' + tail)
        if not isinstance(doc, dict) or not str(doc.get("kind", "")).endswith("List"):
            raise _Refused
        source.unavailable.update(_unavailable(doc, file))
    except UsageError:
        raise _Refused from None  # the standard reading names the first problem, as it always did
    return True


_SPACE = re.compile(rb"[ \t\r\n]*")


def _batch(buf: bytes, stop: int, pages: int, file: Path, source: FileSource, *, end: bytes) -> None:
    """The items in buf[:stop] (after the first block, each after a comma), each decoded where it lies.

    An item ends where a line holds its closing brace at the items' indentation, followed by the comma before
    the next: found by a byte search, not by parsing. Each piece is then decoded as one JSON value, so a piece
    that is not a whole item (a file indented otherwise) fails to decode and the file is read the standard way;
    pieces that all decode, joined by their commas, are the array itself.
    """
    start = _SPACE.match(buf, 0, stop).end()  # type: ignore[union-attr]
    if start == stop:
        return
    if pages:
        if buf[start : start + 1] != b",":  # each item after the first follows a comma
            raise _Refused
        start += 1
    view = memoryview(buf)
    between = end + b","
    items = 0
    while True:
        cut = buf.find(between, start, stop)
        at = stop if cut < 0 else cut + len(end)
        source._raw(view[start:at], file)
        items += 1
        if cut < 0:
            break
        start = at + 1
    decode.forget()
    source.progress(file.name, items, pages + 1)


class FileSource:
    """Objects read from files: one object, a *List, or several YAML documents per file."""

    cleaned = True  # list() gives objects as kinds.clean keeps them
    in_memory = True  # list() reads nothing (the files were read whole): a forked process may call it

    def __init__(self, path: str, progress: Callable[[str, int, int], None] | None = None) -> None:
        self.progress = progress or (lambda _what, _objects, _pages: None)
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
        data = None
        if file == STDIN:
            data = sys.stdin.buffer.read()
        with decode.collector_paused():
            if _fast_json(file, data, self):
                return
            for doc, from_yaml in documents(file, data=data):
                if isinstance(doc, dict):
                    self.unavailable.update(_unavailable(doc, file))
                for found in _items(doc, file):
                    self._take(found, from_yaml, file)

    def mark(self) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, str]]:
        lengths = {k: len(v) for k, v in self.objects.items()}
        return lengths, {k: len(v) for k, v in self.facts.items()}, dict(self.other_kinds), dict(self.unavailable)

    def reset(self, mark: tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, str]]) -> None:
        """Back to what was read before `mark`: a fast reading that gave up leaves nothing half-read."""
        objects, facts, self.other_kinds, self.unavailable = mark
        for name, n in objects.items():
            del self.objects[name][n:]
        for name, n in facts.items():
            del self.facts[name][n:]

    def _take(self, found: Obj, from_yaml: bool, file: Path) -> None:
        """One object of a file, as parsed whole (YAML, or JSON the typed decoder refused): typed, cleaned, kept."""
        if found.get("apiVersion") == FACTS_API and found.get("kind") in FACT_KINDS:
            self.facts[str(found["kind"])].append(shape.plain(found) if from_yaml else found)
            return
        kind = BY_KIND.get(str(found.get("kind", "")))
        if kind is None:
            other = str(found.get("kind") or "?")
            self.other_kinds[other] = self.other_kinds.get(other, 0) + 1
            return
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

    def _raw(self, raw: Any, file: Path) -> None:
        """One item of a JSON file, unparsed (msgspec.Raw, or its bytes): decoded straight into its kind's declared
        fields."""
        kind = decode.kind_at(raw)
        if kind is not None:  # its head as written by the API server, kubectl or dump: no decoding for it
            self._typed(kind, raw, file)
            return
        head = decode.head(raw)
        if not isinstance(head, dict):
            raise _Refused  # the standard path names what it is
        name = str(head.get("kind", ""))
        if name.endswith("List"):
            for found in _items(json.loads(bytes(raw)), file):  # a List in the List: rare, read whole
                self._take(found, False, file)
            return
        if head.get("apiVersion") == FACTS_API and head.get("kind") in FACT_KINDS:
            self.facts[name].append(json.loads(bytes(raw)))
            return
        kind = BY_KIND.get(name)
        if kind is None:
            other = str(head.get("kind") or "?")
            self.other_kinds[other] = self.other_kinds.get(other, 0) + 1
            return
        self._typed(kind, raw, file)

    def _typed(self, kind: Kind, raw: Any, file: Path) -> None:
        obj = decode.typed(kind, raw)
        if obj is None:
            self._take(json.loads(bytes(raw)), False, file)  # refused with shape.problem's reason, or kept as before
        else:
            self.objects[kind.name].append(obj)

    def list(self, kind: Kind, namespace: str | None) -> list[Obj]:
        if kind.name in self.unavailable:
            raise Unavailable(kind.name, self.unavailable[kind.name])
        # A narrow read (Kind.resource) gets its resource's objects in kube-system; the Snapshot applies its selectors.
        return [o for o in self.objects[kind.plural] if _in_scope(kind, o, namespace)]


# --- backups ---


def _backup_name(context: str | None, now: datetime) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", context or "in-cluster")
    return f"{safe}-{now.strftime('%Y%m%dT%H%M%SZ')}"


def save_backup(text: str, directory: str, context: str | None, now: datetime) -> str:
    """Write a backup's text to a new file (mode 0600, in a folder of mode 0700) named after the context and
    the time; its path."""
    directory = os.path.expanduser(directory)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    base = os.path.join(directory, _backup_name(context, now))
    for n in range(100):
        path = base + (f"-{n}" if n else "") + ".yaml"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path
    raise OSError(_("cannot create a new backup file beside {path}").format(path=f"{base}.yaml"))


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half of either: a
    temporary file beside it (a dot name without the .prom suffix, which node-exporter's textfile collector
    skips), flushed to disk, then renamed over it. The file is readable by all (the collector runs as another
    user), as a metrics file is no secret."""
    import tempfile

    from kubectl_tke_net.model import TkeNetError

    target = os.path.expanduser(path)
    folder = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(_("--metrics-file {path}: {reason}").format(path=path, reason=exc.strerror or exc)) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        error = TkeNetError(_("--metrics-file {path}: {reason}").format(path=path, reason=exc.strerror or exc))
        raise error from exc
