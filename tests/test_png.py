"""PNG files stitched from bands deflated separately (whiteboard/export/png.py)."""

from __future__ import annotations

import io
import itertools
import random
import zlib

import numpy as np
import pytest
from PIL import Image

from whiteboard.export import png as png_module
from whiteboard.export.png import adler32_combine, encode_band, png_file


def test_adler32_of_two_pieces_combines_into_that_of_both() -> None:
    rng = random.Random(5)
    for _ in range(100):
        first = rng.randbytes(rng.randint(0, 100_000))
        second = rng.randbytes(rng.choice([0, 1, 65521, 65522, rng.randint(0, 300_000)]))
        combined = adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
        assert combined == zlib.adler32(first + second)


def idat_stream(png: bytes) -> bytes:
    """The concatenated IDAT data of a PNG file."""
    data, at = b"", 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        if png[at + 4 : at + 8] == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        assert zlib.crc32(png[at + 4 : at + 8 + length]) == int.from_bytes(
            png[at + 8 + length : at + 12 + length], "big"
        )
        at += 12 + length
    return data


@pytest.mark.parametrize("cuts", [[0, 37], [0, 10, 37], [0, 1, 2, 36, 37]])
@pytest.mark.parametrize("transparent", [False, True])
@pytest.mark.parametrize("piece_bytes", [1 << 20, 200, 1])  # a band at once, 2-3 rows, 1 row
def test_bands_deflated_apart_make_one_valid_png(
    cuts: list[int], transparent: bool, piece_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(png_module, "SCANLINE_BYTES_PER_PIECE", piece_bytes)
    rng = np.random.default_rng(len(cuts))
    bgra = rng.integers(0, 256, (37, 19, 4), np.uint8)
    bgra[:20, :, 3] = 255
    bgra[20:, :, 3] = 0
    bgra[20:, :, :3] = 0  # premultiplied: no colour where alpha is 0
    bgra[30:] = (20, 40, 60, 128)  # premultiplied half-transparent (blue 20, green 40, red 60)
    bands = [
        encode_band(bgra[top:bottom], transparent, 1, bottom == 37)
        for top, bottom in itertools.pairwise(cuts)
    ]
    png = png_file(19, 37, transparent, bands)
    stream = idat_stream(png)
    zlib.decompress(stream)  # raises unless the stream and its adler32 are right
    image = Image.open(io.BytesIO(png))
    image.load()
    if not transparent:
        assert image.mode == "RGB"
        assert (np.asarray(image) == bgra[..., 2::-1]).all()  # Skia's BGRA as RGB
    else:
        assert image.mode == "RGBA"
        expected = Image.frombuffer("RGBA", (19, 37), bgra.tobytes(), "raw", "BGRa", 0, 1)
        assert (np.asarray(image) == np.asarray(expected)).all()
        red, green, blue, alpha = np.asarray(image)[35, 3].tolist()  # straight alpha
        assert alpha == 128 and abs(red - 120) <= 1 and abs(green - 80) <= 1 and abs(blue - 40) <= 1
