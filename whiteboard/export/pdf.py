"""A board as a one-page vector PDF, from Skia's PDF backend: the very drawing calls of the PNG.

Each stroke is a PDF path (curves stay curves) stroked with round caps and joins, or a filled
outline; highlighters get an alpha graphics state, so their self-overlaps blend once, as on the
canvas. The page is the frame: one board unit at scale 1 is one CSS pixel, 1/96 inch, so the
page prints at the size the board has on screen. Text, once boards have it, will be real PDF
text (selectable) through the same canvas.
"""

from __future__ import annotations

from collections.abc import Sequence

import skia

from .frame import Frame, Stroke, decode
from .render import Progress, draw_ops, frame_matrix

POINTS_PER_PX = 72 / 96
"""PDF points per CSS pixel."""


def render_pdf(
    ops: Sequence[Stroke],
    frame: Frame,
    background: str = "white",
    progress: Progress | None = None,
    title: str = "whiteboard",
) -> bytes:
    stream = skia.DynamicMemoryWStream()
    metadata = skia.PDF.Metadata()
    metadata.fTitle = title
    metadata.fCreator = "whiteboard"
    document = skia.PDF.MakeDocument(stream, metadata)
    canvas = document.beginPage(frame.width * POINTS_PER_PX, frame.height * POINTS_PER_PX)
    if background != "transparent":
        colour = "#ffffff" if background == "white" else background
        canvas.drawColor(
            skia.Color(int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))
        )
    canvas.setMatrix(frame_matrix(frame, unit_px=POINTS_PER_PX))
    geometry = decode(ops)
    margin = 2 / frame.scale
    x0, y0, x1, y1 = frame.box()
    draw_ops(
        canvas,
        ops,
        geometry,
        geometry.inside((x0 - margin, y0 - margin, x1 + margin, y1 + margin)).tolist(),
        progress,
    )
    document.endPage()
    document.close()
    return bytes(stream.detachAsData())
