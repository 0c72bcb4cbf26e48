"""Check an uploaded image and re-encode it, or say precisely why not (one HTTP status each).

Pure CPU work, no I/O: ``prepare(data, declared_type, limits)`` returns the bytes to store. The
real type comes from the content's signature, never from the file name or the declared type (a
declared image type that disagrees with the content is refused as a lie). Pillow opens only that
format, the pixel count is checked from the header before a single pixel is decoded (the
decompression-bomb limit), a truncated file fails to load, and what is stored is a fresh encoding:
no metadata (EXIF, text chunks, ICC profiles) survives, the EXIF orientation is applied first,
only the first frame of a GIF or animated WebP is kept, and the image is scaled down to
``max_side_px``. JPEG stays JPEG, WebP stays WebP, PNG and GIF become PNG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
DECLARED = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/pjpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
"""Declared types we can compare with the content; ``application/octet-stream`` or none is
fine (the content decides), any other ``image/*`` type is refused as unsupported."""
STORED_AS = {"PNG": "png", "GIF": "png", "JPEG": "jpg", "WEBP": "webp"}
JPEG_QUALITY = 90
WEBP_QUALITY = 90


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int
    max_pixels: int
    max_side_px: int


@dataclass(frozen=True, slots=True)
class Prepared:
    data: bytes
    ext: str  # png | jpg | webp
    width: int
    height: int


class UploadRefused(Exception):
    """The upload is refused with ``status`` and a reason a person can act on."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sniff(data: bytes) -> str | None:
    """The image format the bytes start with (PNG, JPEG, GIF, WEBP), or None."""
    for signature, kind in SIGNATURES:
        if data.startswith(signature):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def prepare(data: bytes, declared_type: str | None, limits: Limits) -> Prepared:
    if len(data) > limits.max_bytes:
        raise UploadRefused(413, f"the file has {len(data)} bytes; the limit is {limits.max_bytes}")
    if not data:
        raise UploadRefused(400, "the upload is empty")
    kind = sniff(data)
    declared = (declared_type or "").split(";")[0].strip().lower()
    claimed = DECLARED.get(declared)
    if declared.startswith("image/") and claimed is None:
        raise UploadRefused(415, f"{declared} is not taken: PNG, JPEG, WebP or GIF")
    if kind is None:
        raise UploadRefused(415, "not an image this board takes: PNG, JPEG, WebP or GIF")
    if claimed is not None and claimed != kind:
        raise UploadRefused(415, f"declared as {declared} but the content is {kind}")
    try:
        image = Image.open(io.BytesIO(data), formats=[kind])
    except Image.DecompressionBombError:
        raise UploadRefused(413, "the image has far too many pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UploadRefused(400, f"the {kind} file is damaged: it cannot be read") from None
    width, height = image.size
    if width * height > limits.max_pixels:
        raise UploadRefused(
            413,
            f"the image is {width}x{height} = {width * height} pixels; "
            f"the limit is {limits.max_pixels}",
        )
    if width < 1 or height < 1:
        raise UploadRefused(400, "the image has no pixels")
    try:
        image.seek(0)  # the first frame of a GIF or animated WebP
        image.load()
        image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise UploadRefused(413, "the image has far too many pixels") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise UploadRefused(400, f"the {kind} file is truncated or damaged") from None
    if max(image.size) > limits.max_side_px:
        image.thumbnail((limits.max_side_px, limits.max_side_px), Image.Resampling.LANCZOS)
    ext = STORED_AS[kind]
    return Prepared(_encode(image, ext), ext, image.size[0], image.size[1])


def _encode(image: Image.Image, ext: str) -> bytes:
    """A fresh file with no metadata: Pillow writes only what it is given."""
    out = io.BytesIO()
    if ext == "jpg":
        image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif ext == "webp":
        alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image.convert("RGBA" if alpha else "RGB").save(out, "WEBP", quality=WEBP_QUALITY)
    else:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            alpha = "A" in image.mode or "transparency" in image.info
            image = image.convert("RGBA" if alpha else "RGB")
        info = {}
        if image.mode == "P" and "transparency" in image.info:
            info["transparency"] = image.info["transparency"]
        image.save(out, "PNG", optimize=False, **info)
    return out.getvalue()
