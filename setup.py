"""Build hook: compile the message catalogues (.po -> .mo) into every build, wheel and editable install alike.

The .mo files are build output (never committed); the configuration itself is in pyproject.toml.
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithCatalogs(build_py):
    """build_py, then tools.i18n_catalog.compile_all (tools/ is in the repository and the sdist, never installed):
    beside the .po for an editable install (the package runs from the source tree), else into the build directory
    that becomes the wheel."""

    def run(self) -> None:
        super().run()
        sys.path.insert(0, str(HERE))
        try:
            from tools.i18n_catalog import compile_all
        finally:
            sys.path.remove(str(HERE))
        if getattr(self, "editable_mode", False):
            compile_all()
        else:
            compile_all(Path(self.build_lib))


setup(cmdclass={"build_py": BuildPyWithCatalogs})
