"""Every check code has its fixture, tests/checks/CODE.yaml: its findings and its clean objects, through the CLI.

The format is described in tests/checks/README.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_tke_net.checks import catalog as checks
from tests.conftest import CLI, finding_ref, ref

CHECK_FIXTURES = Path(__file__).parent / "checks"

# Codes that read facts a snapshot cannot hold would be listed here with the reason. None since issue 17: the
# snapshot holds probe results (ProbeResult items, TKE120-TKE125) and Tencent Cloud facts (CloudFacts items,
# TKE401-TKE405). The tests below keep the set honest: a code here that gets a fixture, or is no longer
# registered, fails.
WAITING_FOR_FACTS: frozenset[str] = frozenset()
# The command whose --probe records a ProbeResult of an object of this kind (its `probed`); `--snapshot` of the
# ProbeResult gives the probe's findings under that command.
PROBED_BY = {"Service": "service", "Ingress": "ingress"}


def registered() -> set[str]:
    checks.load_all()
    return set(checks.CHECKS)


def with_fixture() -> set[str]:
    return {p.stem for p in CHECK_FIXTURES.glob("*.yaml")}


def load(code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header (what the code must find and leave clean) and the List of a code's fixture."""
    header, objects = yaml.safe_load_all((CHECK_FIXTURES / f"{code}.yaml").read_text(encoding="utf-8"))
    assert (header["apiVersion"], header["kind"], header["code"]) == ("tke-net.test/v1", "CheckFixture", code)
    assert set(header) == {"apiVersion", "kind", "code", "findings", "clean"}, f"{code}: header fields"
    for entry in header["findings"]:
        assert {"object", "severity"} <= set(entry) <= {"object", "severity", "commands", "says", "not_says"}, entry
    assert objects["kind"] == "List"
    return header, objects


def commands(code: str) -> list[str]:
    """The commands that run a code (`service`, `ingress`, `loopback`; the Tencent Cloud codes with the cloud
    checks on, as a snapshot holding CloudFacts turns them on); the fixture must hold for each. A probe code runs
    under the commands that probed the fixture's ProbeResults."""
    checks.load_all()
    found = {c.removesuffix(" --cloud") for c in checks.CHECKS[code].commands}
    if "probe" in found:
        found.remove("probe")
        _header, objects = load(code)
        found |= {PROBED_BY[o["probed"]["kind"]] for o in objects["items"] if o["kind"] == "ProbeResult"}
    return sorted(found)


def test_every_code_has_a_fixture_or_waits_for_its_facts() -> None:
    missing = registered() - with_fixture() - WAITING_FOR_FACTS
    assert not missing, f"add tests/checks/CODE.yaml (see tests/checks/README.md) for {sorted(missing)}"


def test_every_fixture_is_of_a_registered_code() -> None:
    assert with_fixture() - registered() == set(), "a fixture whose code is not registered"


def test_the_codes_waiting_for_facts_are_registered_and_have_no_fixture() -> None:
    assert WAITING_FOR_FACTS - registered() == set(), "a code in WAITING_FOR_FACTS is gone: remove it from the set"
    assert WAITING_FOR_FACTS & with_fixture() == set(), "a code in WAITING_FOR_FACTS has its fixture: remove it"


@pytest.mark.parametrize(
    ("code", "command"), [(code, command) for code in sorted(with_fixture()) for command in commands(code)]
)
def test_fixture(cli: CLI, code: str, command: str) -> None:
    header, objects = load(code)
    path = CHECK_FIXTURES / f"{code}.yaml"
    entries = [f for f in header["findings"] if command in f.get("commands", [command])]
    expected = {f["object"]: f for f in entries}
    assert len(expected) == len(entries) > 0, "one entry per object, at least one"
    names = {ref(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects["items"]}
    clean = set(header["clean"])
    assert clean and clean <= names, f"clean objects not in the List: {sorted(clean - names)}"
    assert not clean & set(expected), "an object both expected and clean"

    run = cli(command, "-A", "--snapshot", str(path), "-o", "json", "--select", code)
    doc = run.json()
    assert (run.err, doc["skipped"]) == ("", [])
    got = {finding_ref(f): f for f in doc["findings"]}
    assert {f["code"] for f in doc["findings"]} <= {code}
    assert len(got) == len(doc["findings"]), "one finding per (code, object)"
    assert {o: f["severity"] for o, f in got.items()} == {o: f["severity"] for o, f in expected.items()}
    for obj, want in expected.items():
        message = got[obj]["message"]
        for text in want.get("says", []):
            assert text in message, f"{obj}: {text!r} not in {message!r}"
        for text in want.get("not_says", []):
            assert text not in message, f"{obj}: {text!r} in {message!r}"
    assert run.status == (1 if any(f["severity"] == "error" for f in got.values()) else 0)
