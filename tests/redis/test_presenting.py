"""Presenting in Redis mode: a view link made through one worker works on every worker (one
token, however many share panels ask at once), and a presenter's view and laser pointer reach
viewers on other workers, late joiners included."""

from __future__ import annotations

import asyncio
import json
import urllib.request

from tests.redis.cluster import RawClient, Workers, pen_stroke_op
from tests.serving import ServerProcess


def view_link(worker: ServerProcess, board: str) -> str:
    """An editor's share panel on ``worker``: the board's view link path, ``/v/<token>``."""
    with urllib.request.urlopen(f"{worker.http_url}/b/{board}/share.json", timeout=10) as answer:
        view_url = json.loads(answer.read())["view_url"]
    assert view_url is not None
    return "/v/" + view_url.rsplit("/v/", 1)[1]


def status_of(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status


def lead(mode: str, x: float = 0) -> dict:
    return {"type": "lead", "mode": mode, "x": x, "y": 0, "w": 800, "h": 600}


async def test_a_view_link_made_on_one_worker_shows_the_presenter_on_another(
    workers: Workers,
) -> None:
    first, second = workers.start(), workers.start()
    ann = await RawClient.connect(first.ws_url, "talk", "ann")
    await ann.send(pen_stroke_op("s1", 0))
    await ann.wait_for_seq(1)

    # Share panels on both workers at once: one token, stored both ways in Redis.
    asked = [asyncio.to_thread(view_link, w, "talk") for w in (first, second, first, second)]
    paths = set(await asyncio.gather(*asked))
    assert len(paths) == 1
    path = paths.pop()
    token = path.rsplit("/", 1)[1]
    client = workers.client()
    try:
        assert await client.get(f"wb:view:{token}") == b"talk"
        assert await client.get("wb:{talk}:view") == token.encode()
    finally:
        await client.aclose()

    # The link opens on the other worker: the page, and a view-only socket with the board.
    assert await asyncio.to_thread(status_of, f"{second.http_url}{path}") == 200
    viewer = await RawClient.connect(second.ws_url, "", "viewer", path=path)
    assert viewer.welcome["view"] is True and viewer.welcome["board"] == token
    await viewer.wait_for_seq(1)
    ann_peer = ann.welcome["peer"]
    if ann_peer not in [p["peer"] for p in viewer.welcome["peers"]]:
        await viewer.wait_for(lambda m: m.get("type") == "join" and m.get("peer") == ann_peer)

    # Follow me, from the first worker to a viewer of the second, and to a late joiner there.
    await ann.send(lead("follow", 100))
    followed = await viewer.wait_for(lambda m: m.get("type") == "lead")
    assert followed["mode"] == "follow" and followed["peer"] == ann_peer and followed["x"] == 100
    late = await RawClient.connect(second.ws_url, "", "late", path=path)
    assert late.welcome["lead"]["peer"] == ann_peer and late.welcome["lead"]["x"] == 100

    # The laser trail crosses too; the viewer's own laser is refused, on its worker.
    await ann.send({"type": "laser", "pts": [400, 400, 404, 404], "new": True})
    laser = await viewer.wait_for(lambda m: m.get("type") == "laser")
    assert laser == {"type": "laser", "peer": ann_peer, "pts": [400, 400, 404, 404], "new": True}
    await viewer.send({"type": "laser", "pts": [1, 1], "new": True})
    refused = await viewer.wait_for(lambda m: m.get("type") == "error")
    assert refused["code"] == "view_only"

    # The presenter leaves: nobody on the second worker follows any more.
    await ann.close()
    for client_ in (viewer, late):
        await client_.wait_for(lambda m: m.get("type") == "lead" and m.get("mode") == "stop")
    again = await RawClient.connect(second.ws_url, "", "again", path=path)
    assert "lead" not in again.welcome
    for client_ in (viewer, late, again):
        await client_.close()
