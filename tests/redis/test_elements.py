"""Elements in Redis mode: text, notes, moves and images work from any worker. An image uploaded
through one worker is committed through another, served by every worker under the board's media
key, counted in the board's quota, and swept when no op ever named it."""

from __future__ import annotations

import asyncio
import io
import json
import time
import urllib.error
import urllib.request
from typing import Any

from PIL import Image

from tests.integration.test_elements import note
from tests.integration.test_media import picture
from tests.redis.cluster import RawClient, Workers
from whiteboard.store.redis_keys import TOTAL_BYTES_KEY
from whiteboard.store.redis_media import media_bytes_key, pending_key


def upload(base_url: str, board: str, data: bytes) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base_url}/b/{board}/media",
        data=data,
        method="POST",
        headers={"Content-Type": "image/png"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


def fetch(url: str) -> bytes | int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        return error.code


async def test_text_drafts_moves_and_images_cross_workers(workers: Workers) -> None:
    first, second = workers.start(), workers.start()
    ann = await RawClient.connect(first.ws_url, "elements", "ann")
    bob = await RawClient.connect(second.ws_url, "elements", "bob")
    assert ann.welcome["media"] == bob.welcome["media"]  # one media key, whichever worker

    # A note typed on one worker is seen live on the other, then committed through either.
    await bob.send({**note("n1", "He"), "type": "draft", "kind": "note"})
    draft = await ann.wait_for(lambda m: m.get("type") == "draft" and m.get("id") == "n1")
    assert draft["text"] == "He" and draft["peer"] == bob.welcome["peer"]
    await bob.send(note("n1", "Hello"))
    await ann.wait_for_seq(1)
    await bob.wait_for_seq(1)

    # An image uploaded through the second worker, placed by a client of the first.
    body = upload(second.http_url, "elements", picture())
    assert "elements" not in body["url"]
    served = fetch(first.http_url + body["url"])
    assert isinstance(served, bytes) and served == fetch(second.http_url + body["url"])
    image = {"type": "image", "id": "i1", "src": body["src"], "x": 0, "y": 0, "w": 40, "h": 30}
    await ann.send(image)
    await bob.wait_for_seq(2)
    await ann.send({"type": "transform", "id": "t1", "ids": ["i1", "n1"], "m": [1, 1, 10, 20]})
    await bob.wait_for_seq(3)
    kinds = [op["type"] for op in await workers.stored_ops("elements")]
    assert kinds == ["note", "image", "transform"]
    assert [op["type"] for op in bob.committed()] == kinds
    redis = workers.client()
    assert await redis.zcard(pending_key("elements")) == 0  # committed: kept for good
    assert int(await redis.get(media_bytes_key("elements"))) == len(served)
    await redis.aclose()
    await ann.close()
    await bob.close()


async def test_an_upload_no_op_names_is_swept_and_its_bytes_given_back(workers: Workers) -> None:
    worker = workers.start("--media-grace-s", "1")
    client = await RawClient.connect(worker.ws_url, "sweep", "ann")
    await client.send(note("n1", "keep the board"))
    await client.wait_for_seq(1)
    redis = workers.client()
    total_before = int(await redis.get(TOTAL_BYTES_KEY))
    body = upload(worker.http_url, "sweep", picture(size=(60, 50)))
    assert int(await redis.get(TOTAL_BYTES_KEY)) > total_before
    deadline = time.monotonic() + 20
    while fetch(worker.http_url + body["url"]) != 404:  # the worker sweeps every grace/4
        assert time.monotonic() < deadline, "the abandoned upload was never swept"
        await asyncio.sleep(0.25)
    assert int(await redis.get(TOTAL_BYTES_KEY)) == total_before
    assert int(await redis.get(media_bytes_key("sweep"))) == 0
    await redis.aclose()
    await client.close()


async def test_exports_draw_the_images_uploaded_through_any_worker(workers: Workers) -> None:
    """No shared disk: the exporting worker fetches the images the board names from Redis, so
    the picture shows the image, not the grey placeholder of a missing one."""
    first, second = workers.start(), workers.start()
    client = await RawClient.connect(first.ws_url, "pictures", "ann")
    body = upload(second.http_url, "pictures", picture(size=(80, 60)))
    await client.send(
        {"type": "image", "id": "i1", "src": body["src"], "x": 0, "y": 0, "w": 80, "h": 60}
    )
    await client.wait_for_seq(1)
    for worker in (first, second):
        exported = fetch(f"{worker.http_url}/b/pictures/export.png")
        assert isinstance(exported, bytes)
        colours = Image.open(io.BytesIO(exported)).convert("RGB").getcolors(1 << 20)
        red = sum(count for count, rgb in colours if rgb == (200, 40, 40))
        assert red >= 70 * 50  # the picture's body, whatever the margin and its blue top row
    await client.close()
