"""The file store's images (``MediaStore``): ``<boards_dir>/media/<key>/<sha256>.<ext>``, once
per board.

The **key** is ``HMAC-SHA256(secret, board id)``, 128 bits in URL-safe base64: media URLs
(``/media/<key>/<file>``) name a board's images without naming the board, whose id is the key to
editing it (a view-only viewer loads the images without learning it), and without letting anyone
who guesses a readable board name compute its key. The secret is 32 random bytes in
``<boards_dir>/media/secret``, made on first use: back it up with the boards (without it, media
URLs of existing boards change and their files are orphaned).

A file is stored under the sha256 of the bytes the server wrote (``images.py`` re-encodes every
upload), so the same picture uploaded twice is stored once. An upload first lands as
``<name>.pending``; once an ``image`` op naming it is durable in the log, it is renamed to
``<name>``. Pending files older than ``media_grace_s`` are abandoned uploads (their op was never
committed, or was refused because its log write failed) and the sweep deletes them, unless the
board's log names them after all (a crash between the log write and the rename): then they are
renamed. Accepting an op renews its upload's grace (``accepted``: its mtime), so a sweep never
deletes an upload whose op is on its way to the log. So the directory never keeps a file the
log does not reference for longer than the grace period, and nothing the log references is ever
deleted.
``<dir>/board`` holds the board id, for the sweep.

Every byte here counts towards the board's quota (``max_board_bytes``, log plus media) and the
server's (``max_total_bytes``, whole blocks), through the file store's accounting (``FileStore``
passes ``reserve`` and ``release``). No path is ever built from
client input: keys and names are checked against their exact patterns first.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..elements import MEDIA_NAME
from .base import StorageFull, StoredMedia, TooManyImages, check_board_id

log = logging.getLogger(__name__)

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
PENDING = ".pending"
SECRET_BYTES = 32
KEYS_CACHED = 4096
"""Board id -> media key pairs remembered (a commit asks for its board's media bytes)."""


class FileMedia:
    """The media directories of all boards, with their byte counts (for quotas)."""

    def __init__(
        self,
        root: Path,
        *,
        max_images_per_board: int,
        grace_s: float,
        fsync: bool,
        reserve: Callable[[str, int], None],
        release: Callable[[int], None],
        log_path: Callable[[str], Path],
    ) -> None:
        self.root = root
        self.max_images_per_board = max_images_per_board
        self.grace_s = grace_s
        self.fsync = fsync
        self._reserve = reserve  # (board id, bytes): count against the quotas or StorageFull
        self._release = release  # bytes deleted: the file store's total goes down
        self._log_path = log_path
        self._secret: bytes | None = None
        self._warned = False
        self._keys: dict[str, str] = {}
        self._bytes_by_key: dict[str, int] = {}
        self._files_by_key: dict[str, int] = {}
        self.disk_bytes = 0  # whole blocks of every image at start, for the store's total
        if self.root.is_dir():
            for directory in self.root.iterdir():
                if directory.is_dir() and KEY_PATTERN.fullmatch(directory.name):
                    stats = [p.stat() for p in directory.iterdir() if _is_media(p.name)]
                    self._bytes_by_key[directory.name] = sum(st.st_size for st in stats)
                    self._files_by_key[directory.name] = len(stats)
                    self.disk_bytes += sum(st.st_blocks * 512 for st in stats)

    # --- keys ------------------------------------------------------------------------------------

    def key(self, board_id: str) -> str:
        """The board's media key (see the module comment)."""
        key = self._keys.get(board_id)
        if key is None:
            try:
                secret = self._load_secret()
            except OSError as exc:
                # A full or read-only disk before the first image was ever stored: no image can
                # exist, so a throwaway key names none. Not remembered: the real one is made once
                # the disk takes writes (an upload needs it anyway).
                if not self._warned:
                    log.warning("media: cannot make the media key secret yet: %s", exc)
                    self._warned = True
                return _key_of(secrets.token_bytes(SECRET_BYTES), board_id)
            key = _key_of(secret, board_id)
            if len(self._keys) >= KEYS_CACHED:
                self._keys.pop(next(iter(self._keys)))
            self._keys[board_id] = key
        return key

    def _load_secret(self) -> bytes:
        if self._secret is None:
            self._secret = load_secret(self.root)
        return self._secret

    def directory(self, board_id: str) -> Path:
        return self.root / self.key(board_id)

    # --- counting --------------------------------------------------------------------------------

    def board_bytes(self, board_id: str) -> int:
        if not self._bytes_by_key:
            return 0
        return self._bytes_by_key.get(self.key(board_id), 0)

    def board_files(self, board_id: str) -> int:
        return self._files_by_key.get(self.key(board_id), 0)

    # --- reading ---------------------------------------------------------------------------------

    def exists(self, board_id: str, name: str) -> bool:
        if not MEDIA_NAME.fullmatch(name):
            return False
        directory = self.directory(board_id)
        return (directory / name).exists() or (directory / (name + PENDING)).exists()

    async def read(self, key: str, name: str) -> bytes | None:
        if not KEY_PATTERN.fullmatch(key) or not MEDIA_NAME.fullmatch(name):
            return None
        return await asyncio.to_thread(read_media_file, self.root / key, name)

    async def read_for_board(self, board_id: str, name: str) -> bytes | None:
        return await self.read(self.key(board_id), name)

    # --- writing ---------------------------------------------------------------------------------

    async def put(self, board_id: str, data: bytes, ext: str) -> StoredMedia:
        """Count, then write (fsynced, in a thread); on a failed write the count is given back."""
        name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
        if not MEDIA_NAME.fullmatch(name):
            raise ValueError(f"cannot store a .{ext} file")
        key = self.key(board_id)
        directory = self.root / key
        if (directory / name).exists():
            return StoredMedia(name, False)
        if (directory / (name + PENDING)).exists():
            os.utime(directory / (name + PENDING))
            return StoredMedia(name, False)
        if self._files_by_key.get(key, 0) >= self.max_images_per_board:
            raise TooManyImages(f"this board holds {self.max_images_per_board} images, its limit")
        self._reserve(board_id, len(data))
        self._bytes_by_key[key] = self._bytes_by_key.get(key, 0) + len(data)
        self._files_by_key[key] = self._files_by_key.get(key, 0) + 1
        try:
            await asyncio.to_thread(self._write, board_id, directory, name, data)
        except OSError as exc:
            self._forget(key, len(data))
            raise StorageFull(f"the image could not be written: {exc.strerror}") from exc
        except BaseException:
            self._forget(key, len(data))
            raise
        return StoredMedia(name, True)

    def _write(self, board_id: str, directory: Path, name: str, data: bytes) -> None:
        _make_board_directory(directory, board_id)
        _write_file(directory, name + PENDING, data, self.fsync)

    def accepted(self, board_id: str, name: str) -> None:
        pending = self.directory(board_id) / (name + PENDING)
        with contextlib.suppress(FileNotFoundError):
            os.utime(pending)

    def committed(self, board_id: str, name: str) -> None:
        directory = self.directory(board_id)
        pending = directory / (name + PENDING)
        if pending.exists():
            os.replace(pending, directory / name)

    # --- sweeping abandoned uploads --------------------------------------------------------------

    async def sweep(self) -> int:
        deleted = await asyncio.to_thread(self.sweep_files)
        for path, size in deleted:  # the counts belong to the event loop, not the thread
            self._forget(path.parent.name, size)
        return len(deleted)

    def sweep_files(self, now: float | None = None) -> list[tuple[Path, int]]:
        """Delete stale pending files whose board log does not name them (those it names were
        committed just before a crash: they are renamed instead). Returns what was deleted."""
        deadline = (time.time() if now is None else now) - self.grace_s
        deleted: list[tuple[Path, int]] = []
        for directory, board_id in self._directories():
            stale = [
                p
                for p in directory.iterdir()
                if p.name.endswith(PENDING) and _is_media(p.name) and p.stat().st_mtime < deadline
            ]
            if not stale:
                continue
            log_bytes = _read_or_empty(self._log_path(board_id))
            for path in stale:
                name = path.name[: -len(PENDING)]
                if name.encode() in log_bytes:
                    os.replace(path, directory / name)
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # committed meanwhile
                if stat.st_mtime >= deadline:
                    continue  # an op naming it was accepted meanwhile (accepted)
                path.unlink(missing_ok=True)
                deleted.append((path, stat.st_size))
        if deleted:
            log.info("media: deleted %d abandoned uploads", len(deleted))
        return deleted

    def _forget(self, key: str, size: int) -> None:
        self._bytes_by_key[key] = self._bytes_by_key.get(key, 0) - size
        self._files_by_key[key] = self._files_by_key.get(key, 0) - 1
        self._release(size)

    def _directories(self) -> Iterator[tuple[Path, str]]:
        if not self.root.is_dir():
            return
        for directory in self.root.iterdir():
            if not directory.is_dir() or not KEY_PATTERN.fullmatch(directory.name):
                continue
            try:
                board_id = check_board_id((directory / "board").read_text().strip())
            except (OSError, ValueError):
                continue  # not ours, or being created: never delete what we cannot place
            yield directory, board_id


def load_secret(root: Path) -> bytes:
    """The media key secret in ``root`` (``<boards_dir>/media``), made on first use."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
    else:
        secret = secrets.token_bytes(SECRET_BYTES)
        try:
            os.write(fd, secret)
            os.fsync(fd)
        finally:
            os.close(fd)
    if len(secret) != SECRET_BYTES:
        raise RuntimeError(f"{path} must hold {SECRET_BYTES} bytes; restore it from backup")
    return secret


def committed_images(boards_dir: Path, board_id: str) -> dict[str, bytes]:
    """The board's committed images under ``boards_dir`` by name (pending uploads left out: no
    op names them), for ``whiteboard redis import``."""
    directory = existing_media_directory(boards_dir, board_id)
    if directory is None or not directory.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in directory.iterdir() if MEDIA_NAME.fullmatch(p.name)}


def write_images(boards_dir: Path, board_id: str, images: dict[str, bytes]) -> list[Path]:
    """Put a board's images where the file store keeps them (``redis export`` and ``expire``):
    each fsynced under a temporary name, then renamed. Returns the files this call created (a
    name already there holds the same bytes: names are their sha256)."""
    if not images:
        return []
    directory = (
        Path(boards_dir) / "media" / _key_of(load_secret(Path(boards_dir) / "media"), board_id)
    )
    _make_board_directory(directory, board_id)
    created = []
    for name, data in sorted(images.items()):
        if not MEDIA_NAME.fullmatch(name):
            raise ValueError(f"not an image name: {name!r}")
        if not (directory / name).exists():
            _write_file(directory, name, data, fsync=True)
            created.append(directory / name)
    return created


def _make_board_directory(directory: Path, board_id: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / "board"  # for the sweep
    if not marker.exists():
        marker.write_text(board_id)


def _write_file(directory: Path, name: str, data: bytes, fsync: bool) -> None:
    """Under a temporary name, fsynced, then renamed: a crash never leaves half a file under a
    real name."""
    temporary = directory / f".{name}.{secrets.token_hex(4)}.tmp"
    try:
        with open(temporary, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(temporary, directory / name)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def existing_media_directory(boards_dir: Path, board_id: str) -> Path | None:
    """The board's media directory under ``boards_dir`` if images were ever stored there, read
    only (the CLI export, beside a running server): None without the secret."""
    try:
        secret = (Path(boards_dir) / "media" / "secret").read_bytes()
    except FileNotFoundError:
        return None
    return Path(boards_dir) / "media" / _key_of(secret, board_id)


def _key_of(secret: bytes, board_id: str) -> str:
    digest = hmac.new(secret, check_board_id(board_id).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def _is_media(name: str) -> bool:
    return MEDIA_NAME.fullmatch(name.removesuffix(PENDING)) is not None


def read_media_file(directory: Path, name: str) -> bytes | None:
    """The image ``name`` in a board's media directory, committed or still pending."""
    for candidate in (directory / name, directory / (name + PENDING)):
        try:
            return candidate.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            continue
    return None


def _read_or_empty(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
