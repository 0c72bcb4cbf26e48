"""Redis-mode tests: a private ``redis-server`` per test and real ``whiteboard serve --redis``
worker processes. Without redis-server they fail in CI (it must run them) and skip locally."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis.cluster import Workers
from tests.redis_server import RedisServer, redis_server_path


def require_redis_server() -> None:
    if redis_server_path() is None:
        message = "Debian's redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message + "; Redis tests must run in CI", pytrace=False)
        pytest.skip(message)


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
