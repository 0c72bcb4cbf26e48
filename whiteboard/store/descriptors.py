"""The file store's file descriptors: a bounded pool of open log files, and spares for when the
process runs out.

Before this, every loaded board kept its log open until it was unloaded (60 s idle), and nothing
capped loaded boards: one client creating 1,500 boards under the common limit of 1,024 descriptors
left nothing for other boards' log writes (they closed with 1011) nor for accepting connections.

Now a log is open only while it is written, or while it is among the ``capacity`` most recently
written (appending to a busy board then costs no open and close). Every open and close happens on
the event loop's thread, so nothing else (accepting a connection, another board) can take a
descriptor between freeing one and using it. When an open fails for want of descriptors (EMFILE,
ENFILE), the pool closes its least recently used idle logs and tries again, and failing that gives
up one of the ``spares`` it opened at start-up: a log write finds a descriptor even when
connections have taken every other one.
"""

from __future__ import annotations

import errno
import logging
import os
import resource
import weakref
from collections import OrderedDict
from collections.abc import Hashable

log = logging.getLogger(__name__)

SPARE_DESCRIPTORS = 8
"""Descriptors held in reserve (on /dev/null) for log writes when the process has no other."""
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)


class Descriptors:
    def __init__(self, capacity: int, spares: int = SPARE_DESCRIPTORS) -> None:
        self.capacity = capacity
        self._idle: OrderedDict[Hashable, int] = OrderedDict()  # open logs not being written
        self._spare_target = spares
        self._spares: list[int] = []  # opened with the first log, so a store never used holds none
        self._finalizer = weakref.finalize(self, _close_all, self._idle, self._spares)

    def open(self, path: os.PathLike[str] | str, flags: int, mode: int = 0o644) -> int:
        """``os.open``, making room if the process is out of descriptors."""
        self.refill_spares()
        while True:
            try:
                return os.open(path, flags, mode)
            except OSError as exc:
                if exc.errno not in _OUT_OF_DESCRIPTORS or not self._free_one():
                    raise

    def _free_one(self) -> bool:
        if self._idle:
            _, fd = self._idle.popitem(last=False)
            os.close(fd)
            return True
        if self._spares:
            os.close(self._spares.pop())
            log.warning("out of file descriptors: used a spare one for a board log")
            return True
        return False

    def take(self, owner: Hashable) -> int | None:
        """The idle descriptor ``owner`` left here, if still open: it is the caller's again."""
        return self._idle.pop(owner, None)

    def give_back(self, owner: Hashable, fd: int) -> None:
        """Keep ``fd`` open for ``owner``'s next write, closing the least recently used beyond
        the pool's capacity."""
        self._idle[owner] = fd
        while len(self._idle) > self.capacity:
            os.close(self._idle.popitem(last=False)[1])
        self.refill_spares()

    def close(self, fd: int) -> None:
        os.close(fd)
        self.refill_spares()

    def forget(self, owner: Hashable) -> None:
        """``owner`` is done (its board unloaded): close its idle descriptor."""
        fd = self._idle.pop(owner, None)
        if fd is not None:
            self.close(fd)

    def refill_spares(self) -> None:
        while len(self._spares) < self._spare_target:
            try:
                self._spares.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                return

    @property
    def open_count(self) -> int:
        return len(self._idle) + len(self._spares)

    def close_all(self) -> None:
        self._finalizer()


def _close_all(idle: OrderedDict[Hashable, int], spares: list[int]) -> None:
    for fd in [*idle.values(), *spares]:
        os.close(fd)
    idle.clear()
    spares.clear()


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft limit on open files to the hard limit (Linux distributions start services
    with 1,024 soft and far more hard); return the limit before and after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft >= hard:
        return soft, soft
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, target
