"""Whole files read into memory of their own, and let go of without holding the event loop.

A board load reads its whole log (72.5 MB for the biggest board we measure) and its snapshot
(144 MB) into memory, takes what it needs, and drops the rest. Freed as a ``bytes`` object, such
a buffer goes back to the system (``munmap``) with the GIL held: the event loop, which every
board shares, stood still for ~4 ms for the log and ~9 ms for the snapshot. Read into an
anonymous ``mmap`` instead, the buffer is closed in a thread, and ``mmap.close`` lets go of the
GIL while the kernel unmaps it. An anonymous mapping is private memory, like ``bytes``: nothing
another process does to the file can change it or make reading it fault.
"""

from __future__ import annotations

import asyncio
import mmap
import os

from .records import Buffer

SMALL_BYTES = 1 << 20
"""Files up to this size are read as ``bytes``: freeing them costs nothing worth a thread."""


def read_whole(fd: int) -> Buffer:
    """The whole file behind ``fd`` (in a worker thread: reads let go of the GIL). Bytes that a
    writer appended while it was read are included."""
    size = os.fstat(fd).st_size
    if size <= SMALL_BYTES:
        chunks = [os.read(fd, size + 1)]
        while chunk := os.read(fd, SMALL_BYTES):
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    buffer = mmap.mmap(-1, size)
    got = 0
    with memoryview(buffer) as view:
        while got < size and (read := os.readv(fd, [view[got:]])):
            got += read
    more = os.read(fd, SMALL_BYTES) if got == size else b""
    if got == size and not more:
        return buffer
    data = buffer[:got] + more  # the file shrank or grew meanwhile (never during a load)
    buffer.close()
    while chunk := os.read(fd, SMALL_BYTES):
        data += chunk
    return data


async def release(buffer: Buffer | None) -> None:
    """Let go of a buffer ``read_whole`` gave, unmapping a big one in a thread. Nothing may use
    it afterwards (slices taken from it are copies, and stay)."""
    if isinstance(buffer, mmap.mmap):
        await asyncio.to_thread(buffer.close)
