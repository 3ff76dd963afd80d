"""The real data path lab (lab.py) as a fixture: one per kube-proxy mode this kernel has, for the module's tests.

Skipped, saying why, only on a machine without root or network namespaces; missing Debian packages fail the run
(`make datapath-deps` installs them).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from controlplane import ControlPlaneError

# By its package name from tests/e2e (which tests/e2e/conftest.py puts on sys.path), as mypy names it.
from datapath.lab import Lab, LabError, lab_cluster, missing_packages, missing_prerequisites

# IPVS is not built into this kernel (CONFIG_IP_VS unset): its behaviour stays covered by the parsing tests.
MODES = ["iptables", "nftables"]
TIMES: dict[str, dict[str, float]] = {}


@pytest.fixture(scope="module", params=MODES)
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    why = missing_prerequisites()
    if why:
        pytest.skip(f"{why}: the real data path tests need it")
    missing = missing_packages()
    if missing:
        pytest.fail(f"the data path tests need the Debian packages {' '.join(missing)}: make datapath-deps", False)
    started = time.monotonic()
    error = None
    key = f"{request.param}, {request.module.__name__.rsplit('.', 1)[-1]}"
    try:
        with lab_cluster(request.param) as running:
            TIMES[key] = running.times
            yield running
            started = time.monotonic()
    except (LabError, ControlPlaneError) as e:
        error = str(e)
    if error is not None:
        pytest.fail(f"the data path lab ({request.param}) failed: {error}", False)
    TIMES[key]["teardown+control plane"] = time.monotonic() - started


@pytest.fixture
def healthy(lab: Lab) -> Iterator[Lab]:
    """The lab as healthy as it starts, whatever the test before it broke."""
    lab.reset()
    yield lab


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for mode, times in TIMES.items():
        shown = ", ".join(f"{k} {v:.1f}s" for k, v in times.items())
        terminalreporter.write_line(f"data path lab ({mode}): {shown}")
