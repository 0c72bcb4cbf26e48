"""Redis-mode tests: a private ``redis-server`` per test and real ``whiteboard serve --redis``
worker processes. Without redis-server they fail in CI (it must run them) and skip locally."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis.cluster import Workers
from tests.redis_server import RedisServer
from tests.system_tools import require_program


def require_redis_server() -> None:
    require_program("redis-server", "redis-server", "Redis tests")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require_redis_server()
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workers(tmp_path: Path, redis_server: RedisServer) -> Iterator[Workers]:
    pool = Workers(tmp_path, redis_server)
    try:
        yield pool
    finally:
        pool.stop_all()
