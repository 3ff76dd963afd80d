"""Entering a network namespace from Python (3.11 has no os.setns): the calling thread only, as setns(2) does."""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


class Entered:
    """`with Entered("/run/netns/x"):` the calling thread is in that network namespace, then back in its own."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.home = -1

    def __enter__(self) -> Entered:
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(self.path, os.O_RDONLY)
        try:
            setns(target)
        finally:
            os.close(target)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            setns(self.home)
        finally:
            os.close(self.home)
