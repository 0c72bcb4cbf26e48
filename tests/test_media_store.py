"""The file store's images (``whiteboard/store/media.py``): counted in the quotas, swept when
abandoned, never deleted while the log names them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from whiteboard.store.base import StorageFull, TooManyImages
from whiteboard.store.file import FileStore


def store_at(root: Path, **limits: int) -> FileStore:
    return FileStore(root, fsync=False, media_grace_s=60, **limits)


async def test_abandoned_uploads_are_swept_after_the_grace_period_but_referenced_ones_stay(
    tmp_path: Path,
) -> None:
    store = store_at(tmp_path)
    media = store.media
    names = [
        (await media.put(board, data, "png")).name
        for board, data in (("a", b"one"), ("a", b"two"), ("b", b"three"))
    ]
    total = store.total_bytes
    media.committed("a", names[0])
    (tmp_path / "b.log").write_bytes(b"...an image op naming " + names[2].encode() + b"...")
    old = time.time() - 120
    for board in ("a", "b"):
        for path in media.directory(board).iterdir():
            os.utime(path, (old, old))
    assert media.sweep_files(now=old + 30) == []  # within the grace period
    assert await media.sweep() == 1
    assert sorted(p.name for p in media.directory("a").iterdir()) == sorted(["board", names[0]])
    assert sorted(p.name for p in media.directory("b").iterdir()) == sorted(["board", names[2]])
    assert media.board_files("a") == 1 and media.board_bytes("a") == 3
    assert store.total_bytes == total - store.on_disk(3)
    assert await media.read(media.key("a"), names[1]) is None
    assert await media.read_for_board("b", names[2]) == b"three"


async def test_images_count_towards_the_board_quota_with_its_log(tmp_path: Path) -> None:
    store = store_at(tmp_path, max_board_bytes=100)
    log = store.log("a")
    await log.append([b"x" * 50])
    await store.media.put("a", b"y" * 30, "png")
    with pytest.raises(StorageFull):
        await store.media.put("a", b"z" * 20, "png")
    assert store.media.board_files("a") == 1
    with pytest.raises(StorageFull):
        log.reserve(20)  # the log may not take the images' room either


async def test_the_same_image_is_stored_once_and_the_image_count_is_capped(
    tmp_path: Path,
) -> None:
    store = store_at(tmp_path, max_images_per_board=2)
    first = await store.media.put("a", b"one", "png")
    again = await store.media.put("a", b"one", "png")
    assert first.created and not again.created and first.name == again.name
    await store.media.put("a", b"two", "png")
    with pytest.raises(TooManyImages):
        await store.media.put("a", b"three", "png")
    assert (await store.media.put("b", b"three", "png")).created  # another board's count


async def test_counts_survive_a_restart(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    await store.media.put("a", b"one" * 100, "png")
    again = store_at(tmp_path)
    assert again.media.board_bytes("a") == 300 and again.media.board_files("a") == 1
    assert again.total_bytes == store.total_bytes
    assert (
        again.media.key("a") == store.media.key("a") != store_at(tmp_path / "other").media.key("a")
    )


async def test_an_upload_whose_op_is_accepted_is_spared_by_a_sweep_until_its_write(
    tmp_path: Path,
) -> None:
    """The op naming an old upload is accepted while a sweep runs: renewed, not deleted; once
    the op is durable the upload is kept for good."""
    media = store_at(tmp_path).media
    name = (await media.put("a", b"old", "png")).name
    old = time.time() - 120
    for path in media.directory("a").iterdir():
        os.utime(path, (old, old))
    media.accepted("a", name)
    assert media.sweep_files() == []
    assert [p.name for p in media.directory("a").iterdir() if p.name != "board"] == [
        name + ".pending"
    ]
    media.committed("a", name)
    assert media.sweep_files(now=time.time() + 120) == []
    assert await media.read_for_board("a", name) == b"old"
