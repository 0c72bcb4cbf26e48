"""A board as a one-page vector PDF: the elements of the PNG, as PDF paths, written in parts by
the export's processes and put together by pikepdf (qpdf).

Each stroke is a PDF path (curves stay curves: a pen's quadratics become exact cubics) stroked
with round caps and joins, or a filled outline; highlighters get an alpha graphics state, so
their self-overlaps blend once, as on the canvas. The page is the frame: one board unit at scale
1 is one CSS pixel, 1/96 inch, so the page prints at the size the board has on screen.

Why paths are not written by Skia's PDF backend, which the raster shares its drawing calls with:
it deflates the page at zlib's default level inside ``endPage``, 3.6 of the 5.2 s of a 1M-point
board, on one core, and skia-python 144 exposes no level. Here the elements are cut into runs of
about equal points, in drawing order; each run's content (``pdfcontent.py``) is written and
deflated at level 1 by its own process, and the page's ``Contents`` array joins the runs (PDF
reads it as one stream).

Every other element kind (text, images: whatever ``render.Painter`` draws) goes through Skia's
PDF backend after all (``SkiaPages``): each run of such elements is one page of a Skia document,
placed on our page as a form XObject at its place in the drawing order. So a new element kind
needs no PDF code, and Skia embeds its fonts and keeps its text selectable.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pikepdf
import skia
from zlib_ng import zlib_ng

from .frame import PRESSURE_COSTS, Frame, Geometry, Stroke, decode
from .parts import in_parts
from .pdfcontent import (
    UNITS_PER_BOARD_UNIT,
    PathData,
    PdfPath,
    Placed,
    content_part,
    smoothed_paths,
)
from .penpaths import LINE, MOVE
from .render import (
    Element,
    Painter,
    PathElement,
    Progress,
    elements,
    frame_matrix,
    is_smoothed,
    pressure_outlines,
    stroke_alpha,
    stroke_width,
)

POINTS_PER_PX = 72 / 96
"""PDF points per CSS pixel."""
DEFLATE_LEVEL = 1
"""zlib level of the page's content: path operators compress ~3x at level 1 and hardly better
at 6, which took 5x as long (docs/performance.md)."""
POINTS_PER_PIECE = 100_000
"""Points whose operators are built at once: bounds the numpy work arrays (~300 B a point)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One run of the page's content, deflated; the alpha states it names; and the Skia PDF
    whose pages are its placed elements (``{prefix}{page}``)."""

    deflated: bytes
    alphas: frozenset[str]
    prefix: str
    skia_pdf: bytes | None


class SkiaPages:
    """Elements with no PDF writer here, drawn by Skia's PDF backend on pages of the frame's
    size and matrix: one page per run of consecutive such elements, placed as ``Placed``."""

    def __init__(self, frame: Frame, prefix: str) -> None:
        self.frame, self.prefix = frame, prefix
        self.stream: skia.DynamicMemoryWStream | None = None
        self.document: skia.Document | None = None
        self.painter: Painter | None = None
        self.pages = 0

    def new_page(self) -> Placed:
        if self.document is None:
            self.stream = skia.DynamicMemoryWStream()
            self.document = skia.PDF.MakeDocument(self.stream)
        else:
            self.document.endPage()
        size = (self.frame.width * POINTS_PER_PX, self.frame.height * POINTS_PER_PX)
        canvas = self.document.beginPage(*size)
        canvas.setMatrix(frame_matrix(self.frame, unit_px=POINTS_PER_PX))
        self.painter = Painter(canvas)
        self.pages += 1
        return Placed(f"{self.prefix}{self.pages - 1}")

    def draw(self, element: Element) -> None:
        assert self.painter is not None
        self.painter.draw(element)

    def finish(self) -> bytes | None:
        if self.document is None or self.stream is None:
            return None
        self.document.endPage()
        self.document.close()
        return bytes(self.stream.detachAsData())


def _opening(frame: Frame) -> bytes:
    """Save the state and map content units (1/24 board unit, y down) to the page's points."""
    scale = frame.scale * POINTS_PER_PX
    unit = scale / UNITS_PER_BOARD_UNIT
    height_pt = frame.height * POINTS_PER_PX
    matrix = (unit, 0, 0, -unit, -frame.x * scale, height_pt + frame.y * scale)
    return ("q " + " ".join(_number(v) for v in matrix) + " cm\n").encode()


def _pieces(geometry: Geometry, indices: np.ndarray) -> list[np.ndarray]:
    points = int((geometry.end - geometry.start)[indices].sum())
    return geometry.split(indices, max(1, points // POINTS_PER_PIECE))


def outline_data(ops: Sequence[Stroke], geometry: Geometry) -> dict[int, PathData | None]:
    """The filled outline of every pressure stroke of ``ops``, computed together (one call for a
    whole run: ``render.pressure_outlines``), as the closed polygon the raster fills; None for
    a stroke without one. Points through float32 as in a Skia path, so the page is the one
    ``path_data`` of the raster's path gave."""
    found = pressure_outlines(ops, geometry, range(len(ops)))
    out: dict[int, PathData | None] = {}
    for k, index in enumerate(found.strokes):
        polygon = found.polygon(k)
        if not len(polygon):
            out[index] = None
            continue
        closed = np.concatenate([polygon, polygon[:1]]).astype(np.float32).astype(np.float64)
        verbs = np.full(len(closed), LINE, np.uint8)
        verbs[0] = MOVE
        out[index] = PathData(closed, verbs)
    return out


def _items(
    ops: Sequence[Stroke],
    geometry: Geometry,
    indices: Sequence[int],
    skia_pages: SkiaPages,
    outlines: dict[int, PathData | None],
) -> Iterable[PdfPath | Placed]:
    """The drawing of ``indices`` in order. Smoothed pens (most of the ink) go from the geometry
    to PDF paths without a Skia path, pressure strokes from ``outlines``; other paths through
    ``render.elements``; other kinds onto ``skia_pages``."""
    counts = (geometry.end - geometry.start).tolist()
    pens = [
        i
        for i in indices
        if ops[i].get("type", "stroke") == "stroke" and is_smoothed(ops[i], counts[i])
    ]
    pen_paths = (
        dict(zip(pens, smoothed_paths(geometry, np.asarray(pens, np.int64)), strict=True))
        if pens
        else {}
    )
    placing = False  # the previous element went onto the current Skia page
    for index in indices:
        op = ops[index]
        path = pen_paths.get(index)
        if path is not None:
            placing = False
            yield PdfPath(path, False, op["color"], float(op["width"]), stroke_alpha(op))
            continue
        if index in outlines:
            outline = outlines[index]
            if outline is not None:
                placing = False
                yield PdfPath(outline, True, op["color"], stroke_width(op), stroke_alpha(op))
            continue
        for element in elements(ops, geometry, (index,)):
            if element is None:
                continue
            if isinstance(element, PathElement):
                placing = False
                yield PdfPath.of(element)
                continue
            if not placing:
                yield skia_pages.new_page()
                placing = True
            skia_pages.draw(element)


def _part(
    frame: Frame,
    ops: Sequence[Stroke],
    geometry: Geometry,
    number: int,
    progress: Progress | None,
) -> Part:
    """One run of elements as deflated content, built a piece at a time (``parts.Writer``)."""
    opening = _opening(frame)
    compressor = zlib_ng.compressobj(DEFLATE_LEVEL)
    deflated: list[bytes] = []
    alphas: set[str] = set()
    prefix = f"E{number}p"
    skia_pages = SkiaPages(frame, prefix)
    outlines = outline_data(ops, geometry)
    done = 0
    for piece in _pieces(geometry, np.arange(len(ops))):
        if progress is not None:
            progress(done, len(ops))
        items = list(_items(ops, geometry, piece.tolist(), skia_pages, outlines))
        content = content_part(items, opening)
        deflated.append(compressor.compress(content.operators))
        alphas |= content.alphas
        done += len(piece)
    deflated.append(compressor.flush())
    return Part(b"".join(deflated), frozenset(alphas), prefix, skia_pages.finish())


def _number(value: float) -> str:
    return f"{value:.9g}"


def render_pdf(
    ops: Sequence[Stroke],
    frame: Frame,
    background: str = "white",
    progress: Progress | None = None,
    title: str = "whiteboard",
    processes: int = 1,
    niceness: int = 0,
    deadline: float | None = None,
    geometry: Geometry | None = None,
) -> bytes:
    """The PDF of ``ops`` over the frame (``geometry``: ``decode(ops)`` if the caller has it)."""
    geometry = decode(ops) if geometry is None else geometry
    margin = 2 / frame.scale
    x0, y0, x1, y1 = frame.box()
    inside = geometry.inside((x0 - margin, y0 - margin, x1 + margin, y1 + margin))
    write = functools.partial(_part, frame)
    cost = PRESSURE_COSTS["pdf"]
    parts = in_parts(write, ops, geometry, inside, cost, processes, niceness, deadline, progress)
    return _document(frame, background, title, parts)


def _document(frame: Frame, background: str, title: str, parts: list[Part]) -> bytes:
    width_pt, height_pt = frame.width * POINTS_PER_PX, frame.height * POINTS_PER_PX
    pdf = pikepdf.new()
    pdf.docinfo["/Title"] = title
    pdf.docinfo["/Creator"] = "whiteboard"
    page = pdf.add_blank_page(page_size=(width_pt, height_pt))
    streams = []
    if background != "transparent":
        colour = "#ffffff" if background == "white" else background
        rgb = " ".join(f"{int(colour[i : i + 2], 16) / 255:.4g}" for i in (1, 3, 5))
        fill = f"q {rgb} rg 0 0 {_number(width_pt)} {_number(height_pt)} re f Q\n"
        streams.append(_stream(pdf, zlib_ng.compress(fill.encode(), DEFLATE_LEVEL)))
    streams += [_stream(pdf, part.deflated) for part in parts]
    page.obj.Contents = pikepdf.Array(streams)
    alphas = sorted(frozenset().union(*(part.alphas for part in parts)))
    resources = pikepdf.Dictionary(
        ExtGState=pikepdf.Dictionary({f"/{name}": _alpha_state(int(name[1:])) for name in alphas})
    )
    forms = {}
    for part in parts:
        if part.skia_pdf is not None:
            with pikepdf.open(io.BytesIO(part.skia_pdf)) as source:
                for number, skia_page in enumerate(source.pages):
                    form = pdf.copy_foreign(skia_page.as_form_xobject())
                    forms[f"/{part.prefix}{number}"] = form
    if forms:
        resources.XObject = pikepdf.Dictionary(forms)
    page.obj.Resources = resources
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


def _stream(pdf: pikepdf.Pdf, deflated: bytes) -> pikepdf.Stream:
    stream = pikepdf.Stream(pdf, b"")
    stream.write(deflated, filter=pikepdf.Name.FlateDecode)
    return stream


def _alpha_state(alpha_255: int) -> pikepdf.Dictionary:
    alpha = float(np.float32(alpha_255 / 255))
    return pikepdf.Dictionary(Type=pikepdf.Name.ExtGState, CA=alpha, ca=alpha)
