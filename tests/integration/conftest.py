from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import ServerThread
from whiteboard.settings import Settings


@pytest.fixture
def boards_dir(tmp_path: Path) -> Path:
    return tmp_path / "boards"


@pytest.fixture
def server(boards_dir: Path) -> Iterator[ServerThread]:
    with ServerThread(Settings(boards_dir=boards_dir, fsync=False)) as running:
        yield running
