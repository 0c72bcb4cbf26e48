"""Several `whiteboard serve --redis` workers serve one board as if they were one server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from redis.asyncio import Redis

from tests.integration.client import pen_stroke
from tests.redis.cluster import RawClient, Workers
from tests.redis_server import RedisServer
from whiteboard.protocol import encode_op
from whiteboard.store.media import existing_media_directory, write_images
from whiteboard.store.records import frame_record
from whiteboard.store.redis_views import RedisViewTokens
from whiteboard.store.views import FileViewTokens

STROKES_EACH = 200


async def test_clients_of_two_workers_see_one_order_with_gap_free_seqs(workers: Workers) -> None:
    first, second = workers.start(), workers.start()
    ann = await RawClient.connect(first.ws_url, "shared", "ann")
    bob = await RawClient.connect(second.ws_url, "shared", "bob")

    async def draw(client: RawClient, name: str) -> None:
        for index in range(0, STROKES_EACH, 10):
            await client.send(
                *[pen_stroke(f"{name}{i}", pts=[i, 1, 2, 3]) for i in range(index, index + 10)]
            )

    await asyncio.gather(draw(ann, "a"), draw(bob, "b"))
    total = 2 * STROKES_EACH
    await asyncio.gather(ann.wait_for_seq(total), bob.wait_for_seq(total))

    assert sorted(ann.raw) == list(range(1, total + 1))
    assert ann.raw == bob.raw  # the same ops, byte for byte, in the same order
    ids = [op["id"] for op in ann.committed()]
    assert len(set(ids)) == total
    # Each author's strokes keep the order they were sent in.
    for name in "ab":
        mine = [int(i[1:]) for i in ids if i.startswith(name)]
        assert mine == sorted(mine)
    stored = await workers.stored_ops("shared")
    assert [op["id"] for op in stored] == ids
    await ann.close()
    await bob.close()


async def test_late_joiner_and_resume_on_a_third_worker_get_the_same_bytes(
    workers: Workers,
) -> None:
    first, second, third = workers.start(), workers.start(), workers.start()
    ann = await RawClient.connect(first.ws_url, "replay", "ann")
    await ann.send(*[pen_stroke(f"s{i}") for i in range(30)])
    await ann.wait_for_seq(30)
    await ann.send({"type": "undo", "id": "u1"}, {"type": "erase", "id": "e1", "ids": ["s3"]})
    await ann.wait_for_seq(32)

    late = await RawClient.connect(third.ws_url, "replay", "late")
    await late.wait_for_seq(32)
    assert late.raw == ann.raw

    resumed = await RawClient.connect(
        second.ws_url, "replay", "ann", since=20, epoch=ann.welcome.get("epoch")
    )
    assert resumed.welcome["reset"] is False
    await resumed.wait_for_seq(32)
    assert sorted(resumed.raw) == list(range(21, 33))
    assert all(resumed.raw[seq] == ann.raw[seq] for seq in resumed.raw)
    for client in (ann, late, resumed):
        await client.close()


async def test_a_client_of_another_history_gets_the_whole_board_again(workers: Workers) -> None:
    worker = workers.start()
    ann = await RawClient.connect(worker.ws_url, "epochs", "ann")
    await ann.send(*[pen_stroke(f"s{i}") for i in range(5)])
    await ann.wait_for_seq(5)
    stranger = await RawClient.connect(worker.ws_url, "epochs", "zed", since=3, epoch="elsewhere")
    assert stranger.welcome["reset"] is True
    assert stranger.welcome["since"] == 0
    await stranger.wait_for_seq(5)
    assert stranger.raw == ann.raw
    await ann.close()
    await stranger.close()


async def test_live_strokes_and_cursors_cross_workers(workers: Workers) -> None:
    first, second = workers.start(), workers.start()
    ann = await RawClient.connect(first.ws_url, "live", "ann")
    bob = await RawClient.connect(second.ws_url, "live", "bob")
    ann_peer = ann.welcome["peer"]
    # Bob learns of Ann in his welcome or in a join after it, depending on which comes first:
    # his worker hearing from hers, or his own welcome.
    if ann_peer not in [p["peer"] for p in bob.welcome["peers"]]:
        await bob.wait_for(lambda m: m.get("type") == "join" and m.get("peer") == ann_peer)
    style = {"tool": "pen", "color": "#000000", "width": 3}
    await ann.send({"type": "begin", "id": "l1", "pts": [0, 0, 4, 4], **style})
    begin = await bob.wait_for(lambda m: m.get("type") == "begin" and m.get("id") == "l1")
    assert begin["peer"] == ann_peer
    await ann.send({"type": "points", "id": "l1", "pts": [4, 4]})
    await bob.wait_for(lambda m: m.get("type") == "points" and m.get("id") == "l1")
    await ann.send({"type": "cursor", "x": 12.0, "y": 34.0})
    cursors = await bob.wait_for(lambda m: m.get("type") == "cursors")
    assert cursors["c"][:3] == [ann_peer, 12, 34]
    await ann.send({"type": "end", "id": "l1"})
    stroke = await bob.wait_for(lambda m: m.get("type") == "stroke" and m.get("id") == "l1")
    assert stroke["pts"] == [0, 0, 4, 4, 4, 4]
    assert stroke["by"] == ann.welcome["author"]
    await ann.close()
    bye = await bob.wait_for(lambda m: m.get("type") == "leave" and m.get("peer") == ann_peer)
    assert bye
    await bob.close()


async def test_an_op_forwarded_to_the_owner_is_answered_to_its_sender(workers: Workers) -> None:
    first, second = workers.start(), workers.start()
    ann = await RawClient.connect(first.ws_url, "answers", "ann")
    owner = await workers.wait_for_owner("answers")
    follower = second if owner == first.proc.pid else first  # type: ignore[union-attr]
    bob = await RawClient.connect(follower.ws_url, "answers", "bob")
    await bob.send({"type": "undo", "id": "nothing"})  # nothing of bob's to undo
    error = await bob.wait_for(lambda m: m.get("type") == "error")
    assert error["id"] == "nothing" and error["code"] == "unknown_stroke"
    await bob.send(pen_stroke("once"))
    await bob.wait_for_seq(1)
    await bob.send(pen_stroke("once"))  # a resend: acknowledged, not stored again
    ack = await bob.wait_for(lambda m: m.get("type") == "ack")
    assert ack == {"type": "ack", "id": "once", "seq": 1}
    assert [op["id"] for op in await workers.stored_ops("answers")] == ["once"]
    await ann.close()
    await bob.close()


def test_import_then_export_is_byte_identical(tmp_path: Path, redis_server: RedisServer) -> None:
    source = tmp_path / "source"
    source.mkdir()
    ops = [
        encode_op(
            seq,
            "stroke",
            f"s{seq}",
            "a",
            tool="pen",
            color="#000000",
            width=3.0,
            pts=(seq, 2, 1, 1),
        )
        for seq in range(1, 2001)
    ] + [encode_op(2001, "clear", "c1", "a"), encode_op(2002, "undo", "u1", "a", target="c1")]
    picture = "ab" * 32 + ".png"
    ops.append(encode_op(2003, "image", "i1", "a", src=picture, x=0, y=0, w=4, h=3))
    log = b"".join(frame_record(op) for op in ops)
    (source / "moved.log").write_bytes(log)
    write_images(source, "moved", {picture: b"picture bytes"})  # as the file store keeps it
    view_token = asyncio.run(FileViewTokens(source, fsync=False).token_for("moved"))
    cli = [sys.executable, "-m", "whiteboard", "redis"]
    imported = subprocess.run(
        [*cli, "import", "--boards-dir", str(source), "--redis", redis_server.url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    again = subprocess.run(
        [*cli, "import", "--boards-dir", str(source), "--redis", redis_server.url, "moved"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 1 and "already holds" in again.stderr
    assert "view link kept" in imported.stdout
    assert asyncio.run(board_for_view_in_redis(redis_server.url, view_token)) == "moved"
    target = tmp_path / "target"
    exported = subprocess.run(
        [*cli, "export", "--boards-dir", str(target), "--redis", redis_server.url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    assert (target / "moved.log").read_bytes() == log
    images = existing_media_directory(target, "moved")  # under the target's own media secret
    assert images is not None and (images / picture).read_bytes() == b"picture bytes"
    # The view link handed out before the moves opens the board in the target directory too.
    assert asyncio.run(FileViewTokens(target, fsync=False).board_for(view_token)) == "moved"


async def board_for_view_in_redis(url: str, token: str) -> str | None:
    client = Redis.from_url(url)
    try:
        return await RedisViewTokens(client).board_for(token)
    finally:
        await client.aclose()
