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


class _End:
    """The last exit handler: registered before any other, so it runs after all of them (atexit's order is the
    reverse), when nothing is left to do but flush the streams and free the objects (what the run read is held
    to the end, model.HELD), which it skips: 30,000 Pods' objects take 0.2 s of CPU to free one by one."""

    status: int | None = None  # None: the process ends as Python ends it (an uncaught exception)

    def __call__(self) -> None:
        if self.status is None:
            return
        import os

        status = self.status
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: Python's own end says 120 for it
                status = status or 120
        os._exit(status)


def run() -> None:
    """The executable (the console script, `python -m kubectl_tke_net` and the frozen binary): main()."""
    import atexit

    end = _End()
    atexit.register(end)
    try:
        end.status = main()
    except SystemExit as exc:  # argparse's --help and usage errors
        end.status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        raise
    raise SystemExit(end.status)
