"""PDF content streams for path elements, written from numpy arrays in one pass.

Skia's PDF backend drew the same paths but deflated its ~30 MB page stream at zlib's default
level inside ``endPage`` (3.6 of the 5.2 s of a 1M-point PDF), and skia-python exposes no
compression level. So paths are written here and deflated by the caller at level 1.

Coordinates are integers in 1/24 of a board unit (``UNITS_PER_BOARD_UNIT``): points are quarter
units, the pen's quadratic ends are midpoints (eighths), and a quadratic becomes the cubic PDF
needs with controls at two thirds of the way to its control point (thirds of eighths). So a pen
path is written exactly, with no float formatting: every number of every element goes through
one vectorised integer-to-ASCII conversion (``ascii_ints``), about 0.1 µs per number.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import skia

from .frame import Geometry
from .penpaths import pen_paths
from .render import PathElement

UNITS_PER_BOARD_UNIT = 24
"""Content-stream units per board unit (see the module docstring)."""
MAX_DIGITS = 12
"""Digits of the largest coordinate: +-10,000,000 board units is 2.4e8 content units."""
_CHUNK_NUMBERS = 1 << 20
"""Numbers formatted per numpy pass (bounds the pass's memory to ~60 MB)."""
_HEADER = struct.Struct("<iiii")
_PLAIN_PATH = 5
"""``SkPath::writeToMemory`` header of a general path (version 5, no oval or rrect shortcut)."""
_MOVE, _LINE, _QUAD, _CONIC, _CUBIC, _CLOSE = 0, 1, 2, 3, 4, 5
_POINTS_PER_VERB = np.array([1, 1, 2, 2, 3, 0], np.int64)
_SUFFIXES = [b" ", b" m\n", b" l\n", b" c\n"]
"""What follows a number: a space, or the operator its verb ends with."""
_SUFFIX_OF_VERB = np.array([1, 2, 3, 0, 3, 0], np.uint8)
"""Index into ``_SUFFIXES`` of each verb's operator."""


@dataclass(frozen=True, slots=True)
class PathData:
    """A path as PDF draws it: float64 board-unit points and verbs (move, line, quad, cubic).

    A close becomes a line back to the contour's start: every stroke here has round caps and
    round joins, so the two look the same stroked (a round join and two round caps on one point
    cover the same disc), and fill the same."""

    points: np.ndarray
    verbs: np.ndarray


def path_data(path: skia.Path) -> PathData:
    """The verbs and points of a Skia path: from its serialised form in one call when it is a
    general path (every pen stroke), else by iterating it (ovals: conics become quadratics)."""
    data = bytes(path.serialize())
    version, count, conics, verb_count = _HEADER.unpack_from(data)
    if version == _PLAIN_PATH and not conics:
        points = np.frombuffer(data, np.float32, 2 * count, _HEADER.size).reshape(-1, 2)
        verbs = np.frombuffer(data, np.uint8, verb_count, _HEADER.size + 8 * count)
        closes = np.count_nonzero(verbs == _CLOSE)
        if not closes:
            return PathData(points.astype(np.float64), verbs)
        if closes == 1 and verbs[-1] == _CLOSE and np.count_nonzero(verbs == _MOVE) == 1:
            points = np.concatenate([points, points[:1]]).astype(np.float64)
            return PathData(points, np.concatenate([verbs[:-1], [_LINE]]).astype(np.uint8))
    return _iterated(path)


def _iterated(path: skia.Path) -> PathData:
    points: list[tuple[float, float]] = []
    verbs: list[int] = []
    contour_start = (0.0, 0.0)
    iterator = skia.Path.Iter(path, False)
    while True:
        verb, pts = iterator.next()
        kind = int(verb)
        if kind == int(skia.Path.kDone_Verb):
            break
        if kind == _MOVE:
            contour_start = (pts[0].x(), pts[0].y())
            points.append(contour_start)
            verbs.append(_MOVE)
        elif kind == _CLOSE:
            points.append(contour_start)
            verbs.append(_LINE)
        elif kind == _CONIC:
            quads = skia.Path.ConvertConicToQuads(pts[0], pts[1], pts[2], iterator.conicWeight(), 2)
            points.extend((p.x(), p.y()) for p in quads[1:])
            verbs.extend([_QUAD] * ((len(quads) - 1) // 2))
        else:
            points.extend((p.x(), p.y()) for p in pts[1:])
            verbs.append(kind)
    return PathData(np.array(points, np.float64).reshape(-1, 2), np.array(verbs, np.uint8))


def _suffix_cells() -> tuple[np.ndarray, np.ndarray]:
    table = np.zeros((len(_SUFFIXES), 3), np.uint8)
    mask = np.zeros((len(_SUFFIXES), 3), bool)
    for code, text in enumerate(_SUFFIXES):
        table[code, : len(text)] = np.frombuffer(text, np.uint8)
        mask[code, : len(text)] = True
    return table, mask


def _decimal_cells(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's decimal text, left-aligned in a row of ``MAX_DIGITS + 1`` bytes, and its
    length: laid out right-aligned digit by digit, then shifted left by the unused columns."""
    magnitude = np.abs(values)
    digits = np.searchsorted(_POWERS, magnitude, side="right").astype(np.int64) + 1
    width = MAX_DIGITS + 1
    right = np.zeros((len(values), width), np.uint8)
    rest = magnitude
    for column in range(width - 1, 0, -1):
        rest, digit = np.divmod(rest, 10)
        right[:, column] = digit + ord("0")
    negative = np.flatnonzero(values < 0)
    right[negative, width - 1 - digits[negative]] = ord("-")
    length = digits + (values < 0)
    start = width - length  # where the text begins in the right-aligned row
    columns = (start[:, None] + np.arange(width)[None, :]) % width
    cells = np.take_along_axis(right, columns, axis=1)
    return cells, length


_POWERS = 10 ** np.arange(1, MAX_DIGITS, dtype=np.int64)
_TABLE_RANGE = 1 << 17
"""Numbers with a precomputed text: +-131,072 content units, +-5,461 board units (most boards)."""


def _with_suffixes(
    text: np.ndarray, length: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``text`` (left-aligned, ``length`` long) with each code's suffix after the text:
    the rows' cells and which of them to keep."""
    suffix_table, suffix_mask = _suffix_cells()
    width = text.shape[1]
    cells = np.empty((len(text), width + 3), np.uint8)
    keep = np.empty(cells.shape, bool)
    cells[:, :width] = text
    np.less(np.arange(width)[None, :], length[:, None], out=keep[:, :width])
    cells[:, width:] = suffix_table[codes]
    keep[:, width:] = suffix_mask[codes]
    return cells, keep


@functools.cache
def number_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells, kept cells and lengths of every number in the table range with every suffix:
    row ``code * 2 * _TABLE_RANGE + value + _TABLE_RANGE``. Built on first use (0.2 s, ~30 MB),
    so a process that never writes a PDF never pays for it."""
    text, length = _decimal_cells(np.arange(-_TABLE_RANGE, _TABLE_RANGE))
    text = np.ascontiguousarray(text[:, : int(length.max())])
    codes = np.repeat(np.arange(len(_SUFFIXES), dtype=np.int64), len(text))
    cells, keep = _with_suffixes(
        np.tile(text, (len(_SUFFIXES), 1)), np.tile(length, len(_SUFFIXES)), codes
    )
    return cells, keep, keep.sum(axis=1)


def ascii_ints(values: np.ndarray, suffixes: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Each integer of ``values`` in decimal followed by ``_SUFFIXES[suffixes[i]]``, all joined;
    and the byte length of each. Vectorised: each number's text and suffix are looked up in a
    table (or laid out digit by digit past its range) as a row of cells, and the unused cells
    masked out, so no Python runs per number (~80 ns a number)."""
    pieces: list[bytes] = []
    lengths = np.empty(len(values), np.int64)
    table_cells, table_keep, table_lengths = number_table()
    for at in range(0, len(values), _CHUNK_NUMBERS):
        chunk = values[at : at + _CHUNK_NUMBERS]
        codes = suffixes[at : at + _CHUNK_NUMBERS].astype(np.int64)
        if len(chunk) and -_TABLE_RANGE <= chunk.min() and chunk.max() < _TABLE_RANGE:
            row = codes * (2 * _TABLE_RANGE) + chunk + _TABLE_RANGE
            pieces.append(table_cells[row][table_keep[row]].tobytes())
            lengths[at : at + len(chunk)] = table_lengths[row]
        else:
            cells, keep = _with_suffixes(*_decimal_cells(chunk), codes)
            pieces.append(cells[keep].tobytes())
            lengths[at : at + len(chunk)] = keep.sum(axis=1)
    return b"".join(pieces), lengths


def path_operators(paths: Sequence[PathData]) -> tuple[bytes, np.ndarray]:
    """The path-construction operators of ``paths`` joined (``m``, ``l``, ``c``; no paint
    operator), in content units; and the offset where each path's operators end."""
    verbs = np.concatenate([p.verbs for p in paths] or [np.zeros(0, np.uint8)]).astype(np.int64)
    if not len(verbs):
        return b"", np.zeros(len(paths), np.int64)
    points = np.concatenate([p.points for p in paths]) * UNITS_PER_BOARD_UNIT
    starts = np.cumsum(_POINTS_PER_VERB[verbs]) - _POINTS_PER_VERB[verbs]
    numbers = np.zeros((len(verbs), 6))
    count = np.where((verbs == _QUAD) | (verbs == _CUBIC), 6, 2)
    single = (verbs == _MOVE) | (verbs == _LINE)
    numbers[single, :2] = points[starts[single]]
    quad = verbs == _QUAD
    if quad.any():  # the cubic of a quadratic: controls 2/3 of the way to its control point
        before, control, end = (points[starts[quad] + k] for k in (-1, 0, 1))
        numbers[quad, 0:2] = before + (control - before) * 2 / 3
        numbers[quad, 2:4] = end + (control - end) * 2 / 3
        numbers[quad, 4:6] = end
    cubic = verbs == _CUBIC
    if cubic.any():
        numbers[cubic] = np.concatenate([points[starts[cubic] + k] for k in range(3)], axis=1)
    used = np.arange(6)[None, :] < count[:, None]
    suffixes = np.zeros((len(verbs), 6), np.uint8)
    suffixes[np.arange(len(verbs)), count - 1] = _SUFFIX_OF_VERB[verbs]
    text, lengths = ascii_ints(np.rint(numbers[used]).astype(np.int64), suffixes[used])
    verb_ends = np.cumsum(np.add.reduceat(lengths, np.cumsum(count) - count))
    path_verbs = np.cumsum([len(p.verbs) for p in paths])
    return text, np.where(path_verbs > 0, verb_ends[np.maximum(path_verbs - 1, 0)], 0)


def _colour(color: str) -> str:
    return " ".join(f"{int(color[i : i + 2], 16) / 255:.4g}" for i in (1, 3, 5))


def alpha_name(alpha: float) -> str:
    """The graphics state of one 8-bit alpha (as Chromium keeps ``globalAlpha``)."""
    return f"A{round(alpha * 255)}"


def smoothed_paths(geometry: Geometry, indices: np.ndarray) -> list[PathData]:
    """``render.smoothed_path`` of the strokes at ``indices``, all at once (``penpaths``)."""
    pens = pen_paths(geometry, indices)
    return [
        PathData(p, v)
        for p, v in zip(
            np.split(pens.points, pens.point_ends[:-1]),
            np.split(pens.verbs, pens.verb_ends[:-1]),
            strict=True,
        )
    ]


@dataclass(frozen=True, slots=True)
class PdfPath:
    """A path element as the page draws it: stroked with ``width`` (round caps and joins) or
    filled (nonzero), in ``color`` at ``alpha``."""

    data: PathData
    fill: bool
    color: str
    width: float
    alpha: float

    @classmethod
    def of(cls, element: PathElement) -> PdfPath:
        return cls(
            path_data(element.path), element.fill, element.color, element.width, element.alpha
        )


@dataclass(frozen=True, slots=True)
class Placed:
    """Elements drawn elsewhere (by Skia's PDF backend, see ``pdf.SkiaPages``) and placed here
    by name, as a form XObject the page's resources hold."""

    name: str


@dataclass
class ContentPart:
    """One piece of the page's content (the page's ``Contents`` array joins them) and the alpha
    graphics states it names."""

    operators: bytes
    alphas: set[str]


def content_part(items: Sequence[PdfPath | Placed], opening: bytes) -> ContentPart:
    """Operators drawing ``items`` in order: paths in content units after ``opening`` (which
    saves the graphics state and sets the matrix to the page), with paint state only when it
    changes and round caps and joins throughout; a ``Placed`` item is drawn in page space, its
    own form's, between a restore and a fresh ``opening``."""
    text, ends = path_operators([item.data for item in items if isinstance(item, PdfPath)])
    part = ContentPart(b"", set())
    begin = opening + b"1 J 1 j\n"
    out = [begin]
    colour = alpha = width = None
    start = 0
    path_ends = iter(ends.tolist())
    for item in items:
        if isinstance(item, Placed):
            out.append(f"Q /{item.name} Do\n".encode())
            out.append(begin)
            colour = alpha = width = None
            continue
        end = next(path_ends)
        if item.color != colour:
            rgb = _colour(item.color)
            out.append(f"{rgb} RG {rgb} rg\n".encode())
            colour = item.color
        name = alpha_name(item.alpha)
        if name != alpha:
            out.append(f"/{name} gs\n".encode())
            part.alphas.add(name)
            alpha = name
        if not item.fill and item.width != width:
            out.append(f"{item.width * UNITS_PER_BOARD_UNIT:.6g} w\n".encode())
            width = item.width
        out.append(text[start:end])
        start = end
        if len(item.data.verbs):
            out.append(b"f\n" if item.fill else b"S\n")
    out.append(b"Q\n")
    part.operators = b"".join(out)
    return part
