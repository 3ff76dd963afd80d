"""Unified diffs of objects as YAML, like `kubectl diff`, without the fields the server maintains."""

from __future__ import annotations

import copy
import difflib
from typing import Any

import yaml

from kubectl_tke_net.kinds import Obj

NOISY_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_FIRST = ("apiVersion", "kind", "metadata")


class Dumper(yaml.SafeDumper):
    """Block style, multi-line strings (a Corefile) as literal blocks, no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


Dumper.add_representer(str, _str)


def quiet(obj: Obj) -> Obj:
    """The object without status and the metadata the server maintains; apiVersion, kind, metadata first."""
    out: Obj = {k: copy.deepcopy(obj[k]) for k in _FIRST if k in obj}
    out.update({k: copy.deepcopy(v) for k, v in obj.items() if k not in _FIRST and k != "status"})
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        for key in NOISY_METADATA:
            metadata.pop(key, None)
        notes = metadata.get("annotations")
        if isinstance(notes, dict) and LAST_APPLIED in notes:
            del notes[LAST_APPLIED]
            if not notes:
                del metadata["annotations"]
    return out


def to_yaml(obj: Obj) -> str:
    return yaml.dump(
        quiet(obj), Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
    )


def unified(ref: str, before: Obj, after: Obj) -> str:
    """`--- a/REF` / `+++ b/REF` unified diff of the two objects' YAML; "" when they render the same."""
    lines = difflib.unified_diff(
        to_yaml(before).splitlines(), to_yaml(after).splitlines(), f"a/{ref}", f"b/{ref}", lineterm=""
    )
    text = "\n".join(lines)
    return text + "\n" if text else ""
