"""Whether the boards directory can take writes: a full or read-only disk is noticed, logged once,
and watched until it recovers.

Before, a write to a full disk failed, the board's clients were closed with 1011, they reconnected
and resent, the board reloaded and failed again: 86 closes, 87 reconnects and 29 tracebacks in
15 s. Now the store refuses writes up front while the disk is full (less than
``min_free_disk_bytes`` free) or mounted read-only, so writers get ``storage_full`` and everyone
else carries on; a write that fails anyway (the disk filled between two checks, a quota) marks the
directory unwritable until a probe write succeeds again. The state is rechecked at most every
``RECHECK_S`` (a ``statvfs``, and while unwritable a probe file): cheap enough to ask on every op.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

RECHECK_S = 1.0
"""How often the free space, the mount flags and (while unwritable) a probe write are checked."""
DISK_ERRORS = {
    errno.ENOSPC: "the disk holding the boards is full",
    errno.EDQUOT: "the boards directory is over its disk quota",
    errno.EROFS: "the disk holding the boards is read-only",
    errno.EACCES: "the boards directory is not writable (permissions)",
    errno.EPERM: "the boards directory is not writable (permissions)",
}
"""Write errors that mean "no writes for now", as opposed to a failing disk (EIO)."""
PROBE_NAME = ".write-probe"


class DiskHealth:
    def __init__(self, root: Path, min_free_bytes: int) -> None:
        self.root = root
        self.min_free_bytes = min_free_bytes
        self._problem: str | None = None
        self._failed_write: str | None = None  # sticky until a probe write succeeds
        self._checked = -RECHECK_S

    def problem(self) -> str | None:
        """Why the boards directory cannot take writes now, or None."""
        now = time.monotonic()
        if now - self._checked >= RECHECK_S:
            self._checked = now
            self._set(self._check())
        return self._problem

    def write_failed(self, exc: OSError) -> str | None:
        """A log write failed with ``exc``: the reason writers are given when it means the disk
        cannot take writes for now (the directory is then unwritable until a probe succeeds), or
        None for other errors."""
        reason = DISK_ERRORS.get(exc.errno or 0)
        if reason is not None:
            self._failed_write = reason
            self._checked = time.monotonic()
            self._set(reason)
        return reason

    def _check(self) -> str | None:
        try:
            stat = os.statvfs(self.root)
        except OSError as exc:
            return f"the boards directory cannot be examined: {exc.strerror}"
        if stat.f_flag & os.ST_RDONLY:
            return DISK_ERRORS[errno.EROFS]
        free = stat.f_bavail * stat.f_frsize
        if free < self.min_free_bytes:
            return (
                f"the disk holding the boards has {free / 2**20:.1f} MiB free, less than "
                f"min_free_disk_bytes ({self.min_free_bytes / 2**20:.1f} MiB)"
            )
        if self._failed_write is not None:
            self._failed_write = self._probe()
        return self._failed_write

    def _probe(self) -> str | None:
        """Write and remove a small file: None when that works, else why not."""
        path = self.root / PROBE_NAME
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b"probe\n")
            finally:
                os.close(fd)
                path.unlink(missing_ok=True)
        except OSError as exc:
            return DISK_ERRORS.get(exc.errno or 0, f"a test write failed: {exc.strerror}")
        return None

    def _set(self, problem: str | None) -> None:
        if problem == self._problem:
            return
        if problem is None:
            log.warning("boards directory %s takes writes again", self.root)
        else:
            log.warning(
                "boards directory %s cannot take writes: %s. Writers get storage_full until it "
                "recovers (checked every %g s); reading and exports go on; /readyz says 503",
                self.root,
                problem,
                RECHECK_S,
            )
        self._problem = problem
