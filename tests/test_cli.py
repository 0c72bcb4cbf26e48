"""``whiteboard serve``: what the settings change in Hypercorn's configuration."""

from __future__ import annotations

from hypercorn.config import Config

from whiteboard.cli import hypercorn_config
from whiteboard.settings import Settings


def test_the_listen_backlog_holds_a_room_arriving_at_once() -> None:
    assert Config().backlog == 100  # Hypercorn's own: a room of phones would overflow it
    assert hypercorn_config(Settings()).backlog == Settings().listen_backlog >= 2000
    assert hypercorn_config(Settings(listen_backlog=300)).backlog == 300
