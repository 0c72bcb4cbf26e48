"""PNG files from bands encoded in parallel: each band is compressed where it was drawn.

A PNG's pixels are one zlib stream, but deflate allows what pigz does: pieces compressed by
separate compressors, each ended with a sync flush (an empty stored block, byte-aligned, not
final), concatenate into one valid stream; the last piece ends it, and the stream's adler32 is
combined from the pieces' own. So every band process filters and deflates its own rows, and the
caller only stitches (``png_file``). Pillow's encoder takes the whole picture on one core.

Rows are stored with PNG filter type 0 (none) and deflated by zlib-ng at ``level`` with the
default strategy: on whiteboard pictures (mostly background, anti-aliased ink) that was both
faster and smaller than Pillow's adaptive filters with zlib's RLE strategy at level 1
(docs/performance.md).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import putchunk
from zlib_ng import zlib_ng

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ADLER_BASE = 65521
"""The adler32 modulus (RFC 1950)."""
FILTER_NONE = 0
SCANLINE_BYTES_PER_PIECE = 1 << 20
"""Scanlines filtered and deflated at once: small enough to stay in cache, big enough that the
per-call cost does not show."""


@dataclass(frozen=True, slots=True)
class BandStream:
    """One band's rows as a piece of the picture's deflate stream."""

    deflated: bytes  # raw deflate, sync-flushed (or final, for the last band)
    adler32: int  # of the band's filtered rows alone
    length: int  # bytes of filtered rows


def band_rows_bytes(pixels: np.ndarray, transparent: bool) -> np.ndarray:
    """PNG scanlines of ``pixels`` (rows x width x 4, Skia's premultiplied BGRA): a filter byte,
    then RGB (opaque background) or straight RGBA (transparent)."""
    rows, width = pixels.shape[:2]
    channels = 4 if transparent else 3
    lines = np.empty((rows, 1 + width * channels), np.uint8)
    lines[:, 0] = FILTER_NONE
    # Pillow's unpackers, not numpy: a strided 3-of-4-byte copy took ~40 ms for half of a
    # 16 MP picture's rows, Pillow's C loops ~12 ms.
    mode, raw = ("RGBA", "BGRa") if transparent else ("RGB", "BGRX")
    image = Image.frombuffer(mode, (width, rows), np.ascontiguousarray(pixels), "raw", raw, 0, 1)
    lines[:, 1:] = np.frombuffer(image.tobytes(), np.uint8).reshape(rows, width * channels)
    return lines


def encode_band(pixels: np.ndarray, transparent: bool, level: int, last: bool) -> BandStream:
    """Filter and deflate one band's rows; ``last`` ends the stream. A few rows at a time
    (``SCANLINE_BYTES_PER_PIECE``): the band's scanlines whole were a second copy of its pixels
    (19 MB of a 1M-point board's band) at the process's peak."""
    rows, width = pixels.shape[:2]
    line_bytes = 1 + width * (4 if transparent else 3)
    step = max(1, SCANLINE_BYTES_PER_PIECE // line_bytes)
    compressor = zlib_ng.compressobj(level, zlib_ng.DEFLATED, -zlib_ng.MAX_WBITS)
    pieces, adler = [], 1
    for top in range(0, rows, step):
        lines = band_rows_bytes(pixels[top : top + step], transparent)
        pieces.append(compressor.compress(lines))
        adler = zlib_ng.adler32(lines, adler)
    pieces.append(compressor.flush(zlib_ng.Z_FINISH if last else zlib_ng.Z_SYNC_FLUSH))
    return BandStream(b"".join(pieces), adler, rows * line_bytes)


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """The adler32 of two byte strings joined, from each one's (zlib's ``adler32_combine``,
    which neither Python's zlib nor zlib-ng's binding exposes)."""
    remainder = second_length % ADLER_BASE
    low = (first & 0xFFFF) + (second & 0xFFFF) + ADLER_BASE - 1
    high = (remainder * (first & 0xFFFF)) % ADLER_BASE
    high += (first >> 16) + (second >> 16) + ADLER_BASE - remainder
    return (low % ADLER_BASE) | ((high % ADLER_BASE) << 16)


def png_file(width: int, height: int, transparent: bool, bands: list[BandStream]) -> bytes:
    """The PNG of ``bands`` (top to bottom, the last one final): 8-bit RGB or RGBA."""
    colour_type = 6 if transparent else 2
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    adler = 1
    for band in bands:
        adler = adler32_combine(adler, band.adler32, band.length)
    out = io.BytesIO()
    out.write(PNG_SIGNATURE)
    putchunk(out, b"IHDR", header)
    zlib_header = b"\x78\x01"  # deflate, 32 KiB window, "fastest" (informative only)
    pieces = [zlib_header, *(band.deflated for band in bands), struct.pack(">I", adler)]
    for piece in pieces:
        if piece:
            putchunk(out, b"IDAT", piece)
    putchunk(out, b"IEND", b"")
    return out.getvalue()
