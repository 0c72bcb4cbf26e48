"""Image uploads through the real server: what is stored, what is refused (and that a refusal
leaves nothing on disk), how images are served, and how image ops need their upload."""

from __future__ import annotations

import errno
import io
import json
import os
import struct
import time
import urllib.error
import urllib.request
import zlib
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.integration.client import BoardClient, is_op
from tests.serving import ServerThread
from whiteboard.settings import Settings
from whiteboard.store.file import FileLog, FileStore


def picture(fmt: str = "PNG", size: tuple[int, int] = (40, 30), **save: Any) -> bytes:
    image = Image.new("RGB", size, (200, 40, 40))
    for x in range(size[0] // 2):
        image.putpixel((x, 0), (0, 0, 255))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def upload(
    server: ServerThread, data: bytes, board: str = "pics", **headers: str
) -> tuple[int, Message, dict[str, Any]]:
    request = urllib.request.Request(
        f"{server.http_url}/b/{board}/media", data=data, method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def get(url: str) -> tuple[int, Message, bytes]:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def media_files(boards_dir: Path) -> list[str]:
    root = boards_dir / "media"
    if not root.exists():
        return []
    return sorted(
        p.name for d in root.iterdir() if d.is_dir() for p in d.iterdir() if p.name != "board"
    )


def test_an_upload_is_re_encoded_stored_once_and_served_forever_without_the_board_id(
    server: ServerThread, boards_dir: Path
) -> None:
    data = picture("PNG")
    status, _, body = upload(server, data, **{"Content-Type": "image/png"})
    assert status == 201, body
    assert body["width"] == 40 and body["height"] == 30
    assert body["src"].endswith(".png") and "pics" not in body["url"]
    assert upload(server, data)[2]["src"] == body["src"]  # the same picture: the same file
    assert media_files(boards_dir) == [body["src"] + ".pending"]
    status, headers, served = get(server.http_url + body["url"])
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert (
        "immutable" in headers["Cache-Control"] and "max-age=31536000" in headers["Cache-Control"]
    )
    assert Image.open(io.BytesIO(served)).size == (40, 30)
    assert get(server.http_url + body["url"].replace(".png", ".jpg"))[0] == 404
    assert get(server.http_url + "/media/short/" + body["src"])[0] == 404


def test_metadata_is_stripped_and_the_exif_orientation_applied(server: ServerThread) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    exif[0x010F] = "SecretCamera"
    data = picture("JPEG", (40, 20), exif=exif.tobytes())
    status, _, body = upload(server, data, **{"Content-Type": "image/jpeg"})
    assert status == 201 and body["src"].endswith(".jpg")
    assert (body["width"], body["height"]) == (20, 40)
    _, _, served = get(server.http_url + body["url"])
    assert b"SecretCamera" not in served and not Image.open(io.BytesIO(served)).getexif()


def test_a_gif_keeps_its_first_frame_as_a_png_and_huge_images_are_scaled_down(
    boards_dir: Path,
) -> None:
    frames = [Image.new("P", (16, 16), i) for i in (1, 2, 3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    with ServerThread(Settings(boards_dir=boards_dir, fsync=False, max_image_side_px=64)) as server:
        status, _, body = upload(server, out.getvalue())
        assert status == 201 and body["src"].endswith(".png")
        status, _, body = upload(server, picture("PNG", (300, 100)))
        assert status == 201 and (body["width"], body["height"]) == (64, 21)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


BAD_UPLOADS = [
    ("not an image", b"<html><script>alert(1)</script></html>", {}, 415, "not an image"),
    ("empty", b"", {}, 400, "empty"),
    ("lies about its type", picture("JPEG"), {"Content-Type": "image/png"}, 415, "declared"),
    ("unsupported type", picture("BMP"), {"Content-Type": "image/bmp"}, 415, "image/bmp"),
    ("a bmp without a type", picture("BMP"), {}, 415, "not an image"),
    ("decompression bomb", png_header_only(100_000, 100_000), {}, 413, "pixels"),
    ("truncated", picture("PNG", (300, 300))[:300], {}, 400, "truncated"),
    ("damaged", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, {}, 400, "damaged"),
]


@pytest.mark.parametrize(
    ("data", "headers", "status", "reason"),
    [case[1:] for case in BAD_UPLOADS],
    ids=[case[0] for case in BAD_UPLOADS],
)
def test_a_bad_upload_gets_a_clear_4xx_and_leaves_nothing_on_disk(
    server: ServerThread,
    boards_dir: Path,
    data: bytes,
    headers: dict[str, str],
    status: int,
    reason: str,
) -> None:
    got, _, body = upload(server, data, **headers)
    assert got == status and reason in body["error"], body
    assert media_files(boards_dir) == []


def test_size_images_per_board_quota_origin_and_rate_limits(boards_dir: Path) -> None:
    settings = Settings(
        boards_dir=boards_dir,
        fsync=False,
        max_upload_bytes=20_000,
        max_images_per_board=1,
        max_board_bytes=3_000,
        uploads_per_minute=3,
    )
    with ServerThread(settings) as server:
        status, _, body = upload(server, os.urandom(30_000))
        assert status == 413 and "limit is 20000" in body["error"]
        noise = Image.frombytes("RGB", (40, 40), os.urandom(4800))
        out = io.BytesIO()
        noise.save(out, "PNG")
        status, _, body = upload(server, out.getvalue(), board="full")
        assert status == 507 and "3000 bytes" in body["error"], body
        assert upload(server, picture(), board="one")[0] == 201
        status, _, body = upload(server, picture("PNG", (8, 8)), board="one")
        assert status == 409 and "1 images" in body["error"]
        assert upload(server, picture(), Origin="https://evil.example")[0] == 403
        answers = [upload(server, picture(), board="rate") for _ in range(3)]
        assert [status for status, _, _ in answers] == [201, 201, 429]  # a burst is 2 x 3
        assert int(answers[2][1]["Retry-After"]) >= 1
    assert len(media_files(boards_dir)) == 2  # the one of "one" and the one of "rate"


async def test_an_image_op_needs_its_upload_and_commits_it(
    server: ServerThread, boards_dir: Path
) -> None:
    ann = await BoardClient.connect(server.ws_url, "pics", "ann")
    assert ann.welcome["media"].startswith("/media/") and "pics" not in ann.welcome["media"]
    image = {"type": "image", "id": "i1", "x": 0, "y": 0, "w": 40, "h": 30}
    missing = "00" * 32 + ".png"
    await ann.send({**image, "src": missing})
    error = await ann.wait_for(lambda m: m.get("type") == "error")
    assert error["code"] == "unknown_media" and error["id"] == "i1"
    status, _, body = upload(server, picture())
    assert status == 201
    assert ann.welcome["media"] + body["src"] == body["url"]
    await ann.send({**image, "id": "i2", "src": body["src"]})
    committed = await ann.wait_for(is_op("image", "i2"))
    assert committed["src"] == body["src"] and committed["seq"] == 1
    assert media_files(boards_dir) == [body["src"]]  # referenced now: no longer pending
    await ann.close()


async def test_an_upload_whose_op_fails_its_log_write_stays_pending_and_is_swept_after_the_grace(
    server: ServerThread, boards_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = await BoardClient.connect(server.ws_url, "pics", "ann")
    status, _, body = upload(server, picture())
    assert status == 201

    async def disk_full(log: FileLog, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileLog, "_write", disk_full)
    image = {"type": "image", "id": "i1", "src": body["src"], "x": 0, "y": 0, "w": 40, "h": 30}
    await ann.send(image)
    error = await ann.wait_for(lambda m: m.get("type") == "error")
    assert error["code"] == "storage_full" and error["id"] == "i1"
    # Refused, so not kept: still pending (it was renamed as committed before the write, and a
    # committed file is never swept).
    assert media_files(boards_dir) == [body["src"] + ".pending"]
    await ann.close()
    grace_s = server.settings.media_grace_s
    media = FileStore(boards_dir, fsync=False, media_grace_s=grace_s).media
    assert media.sweep_files(now=time.time()) == []
    assert len(media.sweep_files(now=time.time() + grace_s + 1)) == 1
    assert media_files(boards_dir) == []
