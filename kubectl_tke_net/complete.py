"""Shell completion through kubectl: `kubectl-tke_net __complete WORDS... WORD` answers in cobra's format.

kubectl (1.26+) completes `kubectl tke-net <TAB>` by running `kubectl_complete-tke_net WORDS... WORD` (the
words after the plugin name, the last one being the word to complete, possibly empty); that helper runs
`kubectl-tke_net __complete` with the same words. The answer is cobra's: one candidate a line, optionally
`candidate<TAB>description`, then `:<directive>`. Subcommands and flags come from the argparse parser itself;
namespace and object names from one LIST each (metadata only, short timeout), or from `--snapshot`. Nothing is
ever printed on stderr: a failed look-up completes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# cobra's ShellCompDirective values
DEFAULT = 0  # the shell may complete file names
NO_SPACE = 2
NO_FILE = 4
FILTER_DIRS = 16

TIMEOUT = 3.0  # seconds: a TAB must not hang on an unreachable API server
PARTIAL_METADATA = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"

FILE_VALUES = {"kubeconfig": DEFAULT, "snapshot": DEFAULT, "filenames": DEFAULT, "backup_dir": FILTER_DIRS}
OBJECT_ARGS = {"service": "services", "ingress": "ingresses", "gateway": "gateways"}
FIX_OBJECTS = {"prevent-loopback": "services", "ingress-keepalive": "ingresses"}

Candidates = tuple[list[str], int]


@dataclass
class Line:
    """What the words before the one being completed say: subcommand, flag values, positionals."""

    command: str | None = None
    parser: argparse.ArgumentParser | None = None
    values: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    positionals: list[str] = field(default_factory=list)
    pending: argparse.Action | None = None  # the previous word was a flag that takes a value


def _subcommands(parser: argparse.ArgumentParser) -> tuple[dict[str, argparse.ArgumentParser], dict[str, str]]:
    """Every name (aliases too) to its parser, and each primary name to its help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return dict(action.choices), helps
    return {}, {}


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {opt: a for a in parser._actions for opt in a.option_strings}


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def read_line(parser: argparse.ArgumentParser, words: Sequence[str]) -> Line:
    line = Line()
    names, _ = _subcommands(parser)
    current = parser
    for word in words:
        options = _options(current)
        if line.pending is not None:
            line.values[line.pending.dest] = word
            line.pending = None
        elif word.startswith("--") and "=" in word:
            action = options.get(word.split("=", 1)[0])
            if action is not None:
                line.values[action.dest] = word.split("=", 1)[1]
                line.flags.add(word.split("=", 1)[0])
        elif word.startswith("-") and word != "-":
            action = options.get(word) or options.get(word[:2])
            if action is None:
                continue
            line.flags.update(action.option_strings)
            if not _takes_value(action):
                line.values[action.dest] = "true"
            elif word in options:
                line.pending = action
            else:  # -nkube-system
                line.values[action.dest] = word[2:]
        elif line.command is None and word in names:
            current = names[word]
            line.command, line.parser = current.get_default("command") or word, current
        else:
            line.positionals.append(word)
    return line


def complete(words: Sequence[str]) -> Candidates:
    """Candidates and cobra directive for the last word of `words`, given the words before it."""
    from kubectl_tke_net.cli import build_parser

    words = list(words) or [""]
    word = words[-1]
    root = build_parser()
    line = read_line(root, words[:-1])
    parser = line.parser or root
    if line.pending is not None:
        return _value(line, line.pending, word, "")
    if word.startswith("--") and "=" in word:
        flag, partial = word.split("=", 1)
        action = _options(parser).get(flag)
        if action is None or not _takes_value(action):
            return [], NO_FILE
        return _value(line, action, partial, flag + "=")
    if word.startswith("-"):
        return _flags(parser, line, word), NO_FILE
    if line.parser is None:
        names, helps = _subcommands(root)
        primary = [n for n in helps if n.startswith(word)]
        # An alias is offered only when its command's name is not: `sv` gives svc, `s` gives service.
        covered = {id(names[n]) for n in primary}
        aliases = [n for n in names if n not in helps and n.startswith(word) and id(names[n]) not in covered]
        return [_entry(n, helps.get(n, "")) for n in primary] + aliases, NO_FILE
    return _positional(line, word)


def _entry(value: str, description: str = "") -> str:
    # One line per candidate: a description is cut at its first clause and never holds a tab or newline.
    text = " ".join(description.split()).split("; ")[0]
    return f"{value}\t{text}" if text else value


def _flags(parser: argparse.ArgumentParser, line: Line, word: str) -> list[str]:
    out = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        if set(action.option_strings) & line.flags:
            continue
        for opt in action.option_strings:
            if opt.startswith(word) and (opt.startswith("--") or not word.startswith("--")):
                out.append(_entry(opt, action.help or ""))
    return out


def _value(line: Line, action: argparse.Action, partial: str, prefix: str) -> Candidates:
    if action.choices:
        return [prefix + c for c in action.choices if str(c).startswith(partial)], NO_FILE
    if action.dest in FILE_VALUES:
        return [], FILE_VALUES[action.dest]
    if action.dest == "namespace":
        return _matching(prefix, partial, _namespaces(line)), NO_FILE
    if action.dest == "context":
        return _matching(prefix, partial, _contexts(line.values.get("kubeconfig"))), NO_FILE
    if action.dest == "service":  # fix coredns-rewrite --service NAME
        return _matching(prefix, partial, _objects(line, "services")), NO_FILE
    if action.dest in ("select", "ignore"):
        head, _, tail = partial.rpartition(",")
        head = head + "," if head else ""
        chosen = set(head.upper().split(","))
        codes = [c for c in _codes() if c not in chosen and c.startswith(tail.upper())]
        return [prefix + head + c for c in codes], NO_FILE
    return [], NO_FILE


def _positional(line: Line, word: str) -> Candidates:
    command, given = line.command, line.positionals
    if command in OBJECT_ARGS and not given:
        return _matching("", word, _objects(line, OBJECT_ARGS[command])), NO_FILE
    if command == "trace" and not given:  # trace svc/NAME | ing/NAME | gw/NAME
        kind, slash, partial = word.partition("/")
        if not slash:
            return [t for t in ("svc/", "ing/", "gw/") if t.startswith(word)], NO_FILE | NO_SPACE
        plural = {
            "svc": "services",
            "service": "services",
            "ing": "ingresses",
            "ingress": "ingresses",
            "gw": "gateways",
            "gateway": "gateways",
        }.get(kind)
        return (_matching(kind + "/", partial, _objects(line, plural)) if plural else []), NO_FILE
    if command == "checks" and not given:
        if word[:1].upper() in ("E", "W"):
            return _error_codes(word.upper()), NO_FILE
        from kubectl_tke_net.checks import catalog as checks

        checks.load_all()
        return [_entry(c, checks.CHECKS[c].title) for c in _codes() if c.startswith(word.upper())], NO_FILE
    if command == "fix":
        from kubectl_tke_net.fix import ACTIONS

        if not given:
            return [a for a in ACTIONS if a.startswith(word)], NO_FILE
        if given[0] == "rollback":
            return [], DEFAULT if len(given) == 1 else NO_FILE
        if given[0] in FIX_OBJECTS:
            names = [n for n in _objects(line, FIX_OBJECTS[given[0]]) if n not in given[1:]]
            return _matching("", word, names), NO_FILE
    return [], NO_FILE


def _error_codes(partial: str) -> list[str]:
    """`checks E40<TAB>`: the TKE controller codes, each with its meaning (both kinds' when they differ)."""
    from kubectl_tke_net import i18n, tke_errors

    lang = 1 if i18n.language() == "zh" else 0
    codes = sorted({code for _kind, code in tke_errors.CATALOGUE if code.startswith(partial)})
    return [
        _entry(code, " / ".join(dict.fromkeys(r.meaning[lang] for r in tke_errors.entries(code)))) for code in codes
    ]


def _matching(prefix: str, partial: str, names: list[str]) -> list[str]:
    return [prefix + n for n in names if n.startswith(partial)]


def _codes() -> list[str]:
    from kubectl_tke_net.checks import catalog as checks

    checks.load_all()
    return sorted(checks.CHECKS)


def _quietly(lookup: Callable[[], list[str]]) -> list[str]:
    try:
        return lookup()
    except Exception:  # completion must never print a traceback into the shell
        return []


def _namespaces(line: Line) -> list[str]:
    snapshot = line.values.get("snapshot")
    if snapshot:

        def from_snapshot() -> list[str]:
            from kubectl_tke_net.snapshot import open_snapshot

            snap = open_snapshot(snapshot, None)
            found = set()
            for kind in ("services", "ingresses", "pods"):
                found |= {(o.get("metadata") or {}).get("namespace") for o in snap.maybe(kind)}
            return sorted(str(ns) for ns in found if ns)

        return _quietly(from_snapshot)
    return _quietly(lambda: _list_names(line, "/api/v1/namespaces"))


def _objects(line: Line, kind: str) -> list[str]:
    namespace = None if line.values.get("all_namespaces") else line.values.get("namespace")
    snapshot = line.values.get("snapshot")
    if snapshot:

        def from_snapshot() -> list[str]:
            from kubectl_tke_net.snapshot import open_snapshot

            snap = open_snapshot(snapshot, None if line.values.get("all_namespaces") else namespace or "default")
            return sorted({str(o["metadata"]["name"]) for o in snap.maybe(kind)})

        return _quietly(from_snapshot)

    def path(cluster_namespace: str) -> str:
        from kubectl_tke_net.kinds import KINDS

        if line.values.get("all_namespaces"):
            return KINDS[kind].path(None)
        return KINDS[kind].path(namespace or cluster_namespace)

    return _quietly(lambda: _list_names(line, path))


def _list_names(line: Line, path: str | Callable[[str], str]) -> list[str]:
    """Names from one LIST request (metadata only); [] on any answer but 200."""
    from kubectl_tke_net.sources.cluster import Cluster

    cluster = Cluster(line.values.get("kubeconfig"), line.values.get("context"), TIMEOUT, line.values.get("as_user"))
    url = path if isinstance(path, str) else path(cluster.target.namespace)
    status, payload = cluster.request("GET", url, accept=PARTIAL_METADATA)
    if status != 200 or not isinstance(payload, dict):
        return []
    return sorted({str(item["metadata"]["name"]) for item in payload.get("items") or []})


def _contexts(kubeconfig: str | None) -> list[str]:
    """Context names of the kubeconfig (no request): --kubeconfig, else $KUBECONFIG, else ~/.kube/config."""
    from kubectl_tke_net.sources.kubeconfig import context_names

    return _quietly(lambda: context_names(kubeconfig))


def main(words: Sequence[str]) -> int:
    """Print the candidates and the directive; always exit 0, as cobra's __complete does."""
    try:
        candidates, directive = complete(words)
    except Exception:  # an unexpected failure completes nothing, never a traceback
        candidates, directive = [], NO_FILE
    out = "".join(f"{c}\n" for c in candidates) + f":{directive}\n"
    sys.stdout.write(out)
    sys.stdout.flush()
    return 0
