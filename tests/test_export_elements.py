"""Text, sticky notes, images and placements in every export format: at their place and size, in
the shipped fonts, drawing order and transforms applied; SVG and PDF self-contained."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageSequence

from whiteboard.board import Board
from whiteboard.export.frame import ExportOptions
from whiteboard.export.job import run_export
from whiteboard.protocol import Limits, decode_message

from .test_render import check_golden

BLUE = (0x1A, 0x73, 0xE8)
YELLOW = (0xFF, 0xF4, 0x75)
RED = (200, 40, 40)
HELLO = "Hello\n\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u0391\u03b2\u03b3"


def log_of(*messages: dict[str, Any]) -> list[bytes]:
    board = Board(max_strokes=1000)
    decoded = [msgpack.unpackb(msgpack.packb(m), use_list=False) for m in messages]
    return [board.commit(decode_message(m, Limits()), "author") for m in decoded]


def picture() -> bytes:
    image = Image.new("RGB", (120, 80), (230, 240, 255))
    ImageDraw.Draw(image).ellipse((10, 10, 110, 70), fill=RED)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def media(tmp_path: Path) -> tuple[Path, str]:
    data = picture()
    import hashlib

    name = f"{hashlib.sha256(data).hexdigest()}.png"
    (tmp_path / name).write_bytes(data)
    return tmp_path, name


def scene(src: str) -> list[bytes]:
    return log_of(
        {"type": "text", "id": "t", "x": 0, "y": 0, "size": 40, "color": "#1a73e8", "text": HELLO},
        {
            "type": "note",
            "id": "n",
            "x": 300,
            "y": 0,
            "size": 16,
            "color": "#fff475",
            "text": "A note",
        },
        {"type": "image", "id": "i", "src": src, "x": 300, "y": 200, "w": 240, "h": 160},
        {
            "type": "stroke",
            "id": "s",
            "tool": "pen",
            "color": "#000000",
            "width": 8,
            "pts": [0, 800, 400, 0],
        },
        {"type": "transform", "id": "m", "ids": ["s"], "m": [2, 2, 0, -100]},  # -> 0,700 to 200,700
    )


def share(image: Image.Image, box: tuple[int, int, int, int], rgb: tuple[int, int, int]) -> float:
    """The share of the pixels in ``box`` within 40 levels of ``rgb``."""
    pixels = np.asarray(image.convert("RGB").crop(box), dtype=np.int16)
    return float((np.abs(pixels - np.array(rgb)) <= 40).all(axis=2).mean())


class Picture:
    """An exported PNG and its frame: ``share`` takes boxes in board units."""

    def __init__(self, records: list[bytes], media_dir: Path | None) -> None:
        result = run_export("png", ExportOptions(), records=records, media=media_dir)
        self.image = Image.open(io.BytesIO(result.data))
        self.frame = result.frame

    def share(self, box: tuple[float, float, float, float], rgb: tuple[int, int, int]) -> float:
        f = self.frame
        pixels = [round((v - (f.x, f.y)[i % 2]) * f.scale) for i, v in enumerate(box)]
        return share(self.image, tuple(pixels), rgb)


def test_png_draws_text_notes_images_and_placed_strokes_where_they_are(
    media: tuple[Path, str],
) -> None:
    media_dir, src = media
    picture = Picture(scene(src), media_dir)
    check_golden("elements.png", picture.image.convert("RGB"))
    assert picture.share((0, 5, 100, 45), BLUE) > 0.1  # "Hello"
    assert picture.share((310, 40, 450, 150), YELLOW) > 0.95  # the note's paper
    assert picture.share((390, 260, 450, 300), RED) > 0.95  # the image
    assert picture.share((20, 297, 180, 303), (0, 0, 0)) > 0.9  # the stroke, moved and doubled
    assert picture.share((20, 190, 80, 210), (0, 0, 0)) == 0  # not where it was drawn


def test_missing_media_is_drawn_as_the_pages_placeholder(media: tuple[Path, str]) -> None:
    _, src = media
    picture = Picture(scene(src), None)
    assert picture.share((390, 260, 450, 300), (0xE8, 0xEA, 0xED)) > 0.95


def test_drawing_order_and_undo_of_a_move_apply(media: tuple[Path, str]) -> None:
    media_dir, src = media
    records = log_of(
        {"type": "image", "id": "i", "src": src, "x": 0, "y": 0, "w": 200, "h": 200},
        {
            "type": "note",
            "id": "n",
            "x": 100,
            "y": 100,
            "size": 20,
            "color": "#fff475",
            "text": "x",
        },
        {"type": "z", "id": "z", "ids": ["n"], "to": "back"},
    )
    picture = Picture(records, media_dir)
    assert picture.share((120, 120, 190, 190), YELLOW) == 0  # under the image
    assert picture.share((120, 210, 190, 290), YELLOW) > 0.95  # below it
    records = log_of(
        {"type": "note", "id": "n", "x": 0, "y": 0, "size": 20, "color": "#fff475", "text": "x"},
        {"type": "transform", "id": "m", "ids": ["n"], "m": [1, 1, 500, 0]},
        {"type": "undo", "id": "u"},
    )
    picture = Picture(records, media_dir)
    assert picture.share((20, 50, 150, 150), YELLOW) > 0.95  # where it was: the move is undone


def test_svg_embeds_fonts_and_images_and_escapes_text(media: tuple[Path, str]) -> None:
    media_dir, src = media
    records = scene(src) + log_of()
    records = log_of(
        {
            "type": "text",
            "id": "t",
            "x": 0,
            "y": 0,
            "size": 20,
            "color": "#1a73e8",
            "text": "<script>alert(1)</script> & \u05e9\u05dc\u05d5\u05dd",
        },
        {"type": "image", "id": "i", "src": src, "x": 0, "y": 50, "w": 120, "h": 80},
    )
    data = run_export("svg", ExportOptions(), records=records, media=media_dir).data.decode()
    root = ET.fromstring(data)  # well-formed: the text is escaped, never markup
    assert "<script>" not in data and "&lt;script&gt;" in data
    texts = [e.text for e in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["<script>alert(1)</script> & \u05e9\u05dc\u05d5\u05dd"]
    faces = re.findall(r"@font-face\{font-family:'([^']+)';src:url\(data:font/ttf;base64,", data)
    assert faces == ["Whiteboard Sans", "Whiteboard Fallback"]  # Hebrew needs the fallback
    assert 'href="data:image/png;base64,' in data
    assert "http" not in data.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch


def test_pdf_embeds_the_fonts_and_the_image(media: tuple[Path, str]) -> None:
    media_dir, src = media
    data = run_export("pdf", ExportOptions(), records=scene(src), media=media_dir).data
    assert data.startswith(b"%PDF")
    assert data.count(b"/FontFile2") >= 2  # Inter and DejaVu Sans, embedded
    assert b"/Subtype /Image" in data


def test_timelapse_shows_text_and_images_once_placed(media: tuple[Path, str]) -> None:
    media_dir, src = media
    data = run_export("gif", ExportOptions(), records=scene(src), media=media_dir).data
    frames = [f.convert("RGB") for f in ImageSequence.Iterator(Image.open(io.BytesIO(data)))]
    still = Picture(scene(src), media_dir)  # the same frame as the PNG (no pixel cap reached)
    assert frames[-1].size == still.image.size
    f = still.frame
    note = [round((v - (f.x, f.y)[i % 2]) * f.scale) for i, v in enumerate((310, 40, 450, 150))]
    photo = [round((v - (f.x, f.y)[i % 2]) * f.scale) for i, v in enumerate((390, 260, 450, 300))]
    assert share(frames[-1], tuple(note), YELLOW) > 0.9
    assert share(frames[-1], tuple(photo), RED) > 0.9
    assert share(frames[0], tuple(note), YELLOW) == 0
