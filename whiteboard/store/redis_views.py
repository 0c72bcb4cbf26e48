"""View-only tokens in Redis: the ``BoardStore`` view-token half of ``RedisStore``.

The same two maps as the file store's (``views.py``), as two keys per board:

``wb:{<board>}:view``  string: the board's view token (how the share panel finds its view link);
``wb:view:<token>``    string: the board id (how a view link finds its board, on any worker).

A token is made by one script that stores both keys or, when the board has a token already,
returns that one: two workers whose share panels ask at once agree on one token. The token key
is only set when absent (``NX``), so a token, once made, always names the same board. Both keys
stay when retention archives a board out of Redis: a board imported back keeps its view link.
"""

from __future__ import annotations

from redis.asyncio import Redis

from .redis_keys import PREFIX, board_key
from .views import ViewTokens, new_view_token

MAKE_TOKEN = """
-- KEYS: the board's view key, a new token's key. ARGV: the new token, the board id.
-- Returns the board's token: the one it had, else the new one, now stored both ways; nil in
-- the (2^-128) chance that the new token is taken already: the caller tries another.
local have = redis.call('GET', KEYS[1])
if have then return have end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX') then return false end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
"""


def board_view_key(board_id: str) -> str:
    return board_key(board_id, "view")


def token_key(token: str) -> str:
    return f"{PREFIX}:view:{token}"


class RedisViewTokens(ViewTokens):
    def __init__(self, client: Redis) -> None:
        super().__init__()
        self.client = client
        self._make = client.register_script(MAKE_TOKEN)

    async def _stored_token(self, board_id: str) -> str:
        found = await self.client.get(board_view_key(board_id))
        while found is None:
            candidate = new_view_token()
            found = await self._make(
                keys=[board_view_key(board_id), token_key(candidate)], args=[candidate, board_id]
            )
        return found.decode()

    async def _existing_token(self, board_id: str) -> str | None:
        found = await self.client.get(board_view_key(board_id))
        return None if found is None else found.decode()

    async def _adopt(self, board_id: str, token: str) -> bool:
        kept = await self._make(
            keys=[board_view_key(board_id), token_key(token)], args=[token, board_id]
        )
        return kept is not None and kept.decode() == token

    async def _stored_board(self, token: str) -> str | None:
        found = await self.client.get(token_key(token))
        return None if found is None else found.decode()
