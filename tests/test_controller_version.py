"""TKE217: annotations newer than the ingress controller; the controller's version read from its ConfigMap, and a
version that cannot be read said so (skipped, with the reason), never taken as "new enough"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_tke_net import tke
from tests.conftest import CLI

FIXTURE = Path(__file__).parent / "checks" / "TKE217.yaml"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("v2.10.0", (2, 10, 0)),
        ("2.8.0", (2, 8, 0)),
        ("1.3", (1, 3, 0)),
        (" v2.4.1 ", (2, 4, 1)),
        ("latest", None),
        ("v2", None),
        ("2.8.0-rc1", None),
        (None, None),
        (281, None),
    ],
)
def test_controller_version(text: object, parsed: tuple[int, int, int] | None) -> None:
    assert tke.controller_version(text) == parsed


def test_versions_compare_as_numbers_not_text() -> None:
    newer, older = tke.controller_version("v2.10.0"), tke.controller_version("v2.9.9")
    assert newer is not None and older is not None and newer > older


def _snapshot(tmp_path: Path, change: Any) -> str:
    _header, objects = list(yaml.safe_load_all(FIXTURE.read_text(encoding="utf-8")))
    objects["items"] = [o for o in objects["items"] if change(o) is not False]
    path = tmp_path / "snap.yaml"
    path.write_text(yaml.safe_dump(objects), encoding="utf-8")
    return str(path)


def _config(o: dict[str, Any]) -> bool:
    return bool(o["kind"] == "ConfigMap")


def _run(cli: CLI, path: str) -> dict[str, Any]:
    run = cli("ingress", "-A", "--snapshot", path, "--select", "TKE217", "-o", "json")
    assert run.status == 0, run.err
    return dict(json.loads(run.out))


def test_no_configmap_is_skipped_with_the_reason(cli: CLI, tmp_path: Path) -> None:
    doc = _run(cli, _snapshot(tmp_path, lambda o: not _config(o)))
    assert doc["findings"] == []
    assert doc["skipped"] == [
        {
            "codes": ["TKE217"],
            "reason": "the ingress controller's version is unknown: no ConfigMap "
            "kube-system/tke-ingress-controller-config",
        }
    ]


def test_no_version_key_is_skipped_with_the_reason(cli: CLI, tmp_path: Path) -> None:
    def drop(o: dict[str, Any]) -> bool:
        if _config(o):
            o["data"] = {"OTHER": "x"}
        return True

    doc = _run(cli, _snapshot(tmp_path, drop))
    assert doc["findings"] == []
    assert "has no VERSION" in doc["skipped"][0]["reason"]


def test_an_unreadable_version_is_escaped_in_the_reason(cli: CLI, tmp_path: Path) -> None:
    def bad(o: dict[str, Any]) -> bool:
        if _config(o):
            o["data"] = {"VERSION": "\x1b]0;owned\x07"}
        return True

    doc = _run(cli, _snapshot(tmp_path, bad))
    reason = doc["skipped"][0]["reason"]
    assert "\x1b" not in reason and "\x07" not in reason and "is unknown" in reason


def test_a_new_enough_controller_finds_nothing_and_skips_nothing(cli: CLI, tmp_path: Path) -> None:
    def upgrade(o: dict[str, Any]) -> bool:
        if _config(o):
            o["data"] = {"VERSION": "v2.11.0"}
        return True

    doc = _run(cli, _snapshot(tmp_path, upgrade))
    assert doc["findings"] == [] and doc["skipped"] == []


def test_no_versioned_annotation_needs_no_version(cli: CLI, tmp_path: Path) -> None:
    # Only keys of the first release (1.0.0) and a non-CLB Ingress, and no ConfigMap: nothing to judge, no skip.
    def first_release_only(o: dict[str, Any]) -> bool:
        if o["metadata"]["name"] == "ports":
            del o["metadata"]["annotations"]["ingress.cloud.tencent.com/listen-ports"]
        return o["metadata"]["name"] in ("ports", "nginx")

    doc = _run(cli, _snapshot(tmp_path, first_release_only))
    assert doc["findings"] == [] and doc["skipped"] == []
