"""The executable's declared hidden imports name modules that exist (a stale name only logs an ERROR in
PyInstaller's output, and the module it meant is then missing from the binary)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _build_binary() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_binary", ROOT / "packaging" / "build_binary.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", _build_binary().HIDDEN_IMPORTS)
def test_hidden_import_exists(name: str) -> None:
    assert importlib.util.find_spec(name) is not None, f"{name} is not importable: the binary would lack it"


def test_every_tencent_sdk_client_the_cloud_source_uses_is_declared() -> None:
    text = (ROOT / "kubectl_tke_net" / "sources" / "cloud.py").read_text()
    hidden = set(_build_binary().HIDDEN_IMPORTS)
    used = set(re.findall(r"from (tencentcloud\.\w+\.v\d+\.\w+_client) import", text))
    assert used, "no Tencent Cloud SDK client found in sources/cloud.py"
    assert used <= hidden, f"not declared in HIDDEN_IMPORTS: {sorted(used - hidden)}"
