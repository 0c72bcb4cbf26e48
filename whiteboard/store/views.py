"""View-only tokens kept in files: the ``BoardStore`` view-token half of ``FileStore``.

A view link (``/v/<token>``) carries a token of 128 random bits instead of the board id, so whoever
holds it can watch the board but can neither draw on it nor learn its id (which is the key to
editing it). The token is random, not derived from the id, so nothing short of this store links
the two. Layout, under ``<boards_dir>/views/``:

- ``by-token/<token>`` holds the board id (how a view link finds its board);
- ``by-board/<board id>`` holds the token (how the share panel finds a board's view link).

A token is written before the board's pointer to it (both by a write to a temporary file and a
rename), so a crash in between leaves at worst an unused token file, never a board pointing to a
token that finds nothing. A Redis store keeps the same two maps (``redis_views.py``).
"""

from __future__ import annotations

import asyncio
import os
import re
from abc import ABC, abstractmethod
from pathlib import Path

from ..protocol import random_key
from .base import check_board_id

VIEW_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
"""``secrets.token_urlsafe(16)``: 22 URL-safe characters, 128 random bits."""
CACHED_TOKENS = 10_000
"""Lookups kept in memory each way (a view link is looked up on every page, socket and export)."""


def new_view_token() -> str:
    return random_key()


class ViewTokens(ABC):
    """Board id <-> view token, with lookups kept in memory (a view link is looked up on every
    page, socket and export); where the two maps are stored is the subclass's."""

    def __init__(self) -> None:
        self._token_of: dict[str, str] = {}
        self._board_of: dict[str, str] = {}

    async def token_for(self, board_id: str) -> str:
        """The board's view token, made and stored on first use."""
        check_board_id(board_id)
        token = self._token_of.get(board_id)
        if token is None:
            token = await self._stored_token(board_id)
            self._remember(board_id, token)
        return token

    async def board_for(self, token: str) -> str | None:
        """The board a view token shows, or None for a token this store never made."""
        if not VIEW_TOKEN_PATTERN.fullmatch(token):
            return None
        board_id = self._board_of.get(token)
        if board_id is None:
            board_id = await self._stored_board(token)
            if board_id is None:
                return None
            check_board_id(board_id)
            self._remember(board_id, token)
        return board_id

    async def existing(self, board_id: str) -> str | None:
        """The board's view token if it has one; never makes one (a board moved between stores
        takes its view link along, but gains none on the way)."""
        check_board_id(board_id)
        token = await self._existing_token(board_id)
        return token if token is not None and VIEW_TOKEN_PATTERN.fullmatch(token) else None

    async def adopt(self, board_id: str, token: str) -> bool:
        """Keep a moved board's view link: store ``token`` as the board's, unless the board has
        a token already or the token names another board here. True when the board's view link
        is ``token`` afterwards, so links handed out before the move keep working."""
        check_board_id(board_id)
        if not VIEW_TOKEN_PATTERN.fullmatch(token):
            return False
        if await self._adopt(board_id, token):
            self._remember(board_id, token)
            return True
        return False

    @abstractmethod
    async def _existing_token(self, board_id: str) -> str | None:
        """The stored token of the board, or None."""

    @abstractmethod
    async def _adopt(self, board_id: str, token: str) -> bool:
        """Store ``token`` both ways unless the board or the token is taken; True when the
        board's stored token is ``token`` afterwards."""

    @abstractmethod
    async def _stored_token(self, board_id: str) -> str:
        """The stored token of the board, made (and stored both ways) when it has none."""

    @abstractmethod
    async def _stored_board(self, token: str) -> str | None:
        """The board the stored token names, or None."""

    def _remember(self, board_id: str, token: str) -> None:
        for cache, key, value in (
            (self._token_of, board_id, token),
            (self._board_of, token, board_id),
        ):
            cache[key] = value
            if len(cache) > CACHED_TOKENS:
                del cache[next(iter(cache))]


class FileViewTokens(ViewTokens):
    def __init__(self, root: Path, fsync: bool) -> None:
        super().__init__()
        self.by_token_dir = root / "views" / "by-token"
        self.by_board_dir = root / "views" / "by-board"
        self.fsync = fsync
        self._lock = asyncio.Lock()

    async def _stored_token(self, board_id: str) -> str:
        async with self._lock:  # two share panels opening at once get the same token
            token = await asyncio.to_thread(self._read, self.by_board_dir / board_id)
            if token is None or not VIEW_TOKEN_PATTERN.fullmatch(token):
                token = new_view_token()
                await asyncio.to_thread(self._write, self.by_token_dir / token, board_id)
                await asyncio.to_thread(self._write, self.by_board_dir / board_id, token)
        return token

    async def _stored_board(self, token: str) -> str | None:
        return await asyncio.to_thread(self._read, self.by_token_dir / token)

    async def _existing_token(self, board_id: str) -> str | None:
        return await asyncio.to_thread(self._read, self.by_board_dir / board_id)

    async def _adopt(self, board_id: str, token: str) -> bool:
        async with self._lock:
            have = await asyncio.to_thread(self._read, self.by_board_dir / board_id)
            if have is not None and VIEW_TOKEN_PATTERN.fullmatch(have):
                return have == token
            named = await asyncio.to_thread(self._read, self.by_token_dir / token)
            if named is not None and named != board_id:
                return False
            await asyncio.to_thread(self._write, self.by_token_dir / token, board_id)
            await asyncio.to_thread(self._write, self.by_board_dir / board_id, token)
        return True

    @staticmethod
    def _read(path: Path) -> str | None:
        try:
            return path.read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None

    def _write(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "w", encoding="ascii") as file:
            file.write(text)
            if self.fsync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, path)
        if self.fsync:
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
