"""A second process of this one, forked to work beside it (checks/catalog.py judges a big run's checks in two).

The fork holds everything this process holds (copy on write) and sends back what its work returns, pickled,
through a pipe: it is this very program, never anything from outside. It writes nothing else, and ends without
running this process's exit handlers (os._exit), so it neither flushes this process's output nor removes its
files.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

_Here = TypeVar("_Here")
_There = TypeVar("_There")


def may_fork() -> bool:
    """Whether a second process can be forked safely and pays: on Linux, with two CPUs or more to run on, from a
    process that runs no other thread (a fleet's clusters are read side by side by threads, which a fork would
    copy in whatever state they are)."""
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and len(os.sched_getaffinity(0)) >= 2
        and threading.active_count() == 1
    )


def side_by_side(here: Callable[[], _Here], there: Callable[[], _There]) -> tuple[_Here, _There | None]:
    """What `here` returns, worked out in this process while a fork of it works out `there`; and what `there`
    returned, or None when no fork could be made or it did not send a whole answer (an exception, a signal, a
    broken pipe): the caller then does that work itself. An exception of `here` ends the fork."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # the fork must not hold (and never writes) what this process has yet to write
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # a limit on processes (a container's pids.max), or memory
        os.close(read_end)
        os.close(write_end)
        return here(), None
    if pid == 0:  # the fork: works, sends, ends
        status = 1
        try:
            os.close(read_end)
            data = pickle.dumps(there(), pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as answer:
            mine = here()
            data = answer.read()  # the fork may wait for this: a pipe holds less than it may send
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    _pid, status = os.waitpid(pid, 0)
    if status != 0:
        return mine, None
    try:
        theirs: _There = pickle.loads(data)
    except Exception:
        return mine, None
    return mine, theirs
