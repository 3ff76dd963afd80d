"""The executable's entry point: `__complete` (shell completion through kubectl) or the command line.

Kept apart from cli.py so that complete.py, which reads the command line's parser, and cli.py never import
each other.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["__complete"]:  # hidden: what kubectl_complete-tke_net runs (see complete.py)
        from kubectl_tke_net.complete import main as complete

        return complete(args[1:])
    from kubectl_tke_net.cli import main as run

    return run(args)
