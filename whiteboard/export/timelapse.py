"""A board's history as an animated GIF: replay its log from the blank board, op by op.

The log is replayed with :meth:`Board.apply` (the rules every client uses), so erase, clear, undo
and redo show as they happened. A frame is taken after every ``ceil(ops / max_frames)`` ops; when
only new strokes appeared since the previous frame they are drawn over it, otherwise (something
was hidden, or an undone older stroke came back under newer ones) the frame is drawn afresh.
The picture area is the bounds of every stroke ever drawn, so the view never jumps. A history
shorter than the frame budget spends the spare frames on drawing its freehand strokes growing.

Every frame is mapped, without dithering, to one palette taken from all the strokes: frames
then differ only where the drawing changed, and the GIF encoder stores just those rectangles.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import Any

import msgpack
from PIL import Image, ImageChops

from ..board import Board, CorruptLog
from .frame import ExportOptions, Frame, board_bounds, plan_frame
from .raster import draw_onto, render_image
from .render import Progress

MAX_GROWTH_FRAMES = 12
"""Frames in which one stroke of a short history grows before it is complete."""
FRAME_MS = 80
"""Time each frame shows; the animation lasts at most max_frames * FRAME_MS (12 s by default)."""
FIRST_FRAME_MS = 500
LAST_FRAME_MS = 3000
"""The blank board and the finished board stay on screen long enough to be seen."""


def _replay(ops: Sequence[dict[str, Any]], records: Sequence[bytes]) -> tuple[Board, int]:
    """Apply ops in order; return the board and how many applied (up to a corrupt record)."""
    board = Board(max_strokes=2**62)
    for index, op in enumerate(ops):
        try:
            board.apply(op, records[index])
        except (CorruptLog, KeyError, TypeError):
            return board, index
    return board, len(ops)


def _visible(board: Board, strokes: dict[str, dict[str, Any]]) -> list[str]:
    """Ids of the strokes visible now, in drawing order (later strokes are not drawn yet)."""
    return [i for i in strokes if board.is_visible(i)]


def render_timelapse(
    records: Sequence[bytes],
    options: ExportOptions,
    max_frames: int,
    max_pixels: int,
    progress: Progress | None = None,
    with_images: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda ops: ops,
) -> bytes:
    """GIF bytes animating ``records`` (a board's log) stroke by stroke from a blank board, in at
    most ``max_frames`` frames (bounds its size and drawing time whatever the log's length) of at
    most ``max_pixels`` (larger boards are scaled down: a GIF is for looking, not printing)."""
    ops = [msgpack.unpackb(record, raw=False, use_list=False) for record in records]
    final, applied = _replay(ops, records)  # the history ends at the first record that does not fit
    ops = ops[:applied]
    strokes = {op["id"]: op for op in ops if op.get("type") == "stroke"}
    # Text, notes, images, moves: frames where they change are drawn from the board as it is then.
    finished = with_images(final.visible_strokes())
    frame = plan_frame(board_bounds([*strokes.values(), *finished]), options, max_pixels)
    background = "white" if options.transparent else options.background
    blank = render_image([], frame, background).copy()
    # Every stroke ever drawn, erased ones too, and the board as it ends: the colours of frames.
    palette = _palette(blank, render_image([*strokes.values(), *finished], frame, background))
    frames = [_indexed(blank, blank, palette)]
    canvas = blank.copy()
    board = Board(max_strokes=2**62)
    every = max(1, math.ceil(len(ops) / max_frames))
    drawn: list[str] = []  # stroke ids on the canvas, in drawing order
    added: list[str] = []  # strokes committed since the last frame
    only_added = True  # no erase, clear, undo or redo since the last frame
    growing = _growth_frames(ops, max_frames) if every == 1 else {}
    for index, op in enumerate(ops, start=1):
        for partial in _prefixes(op, growing.get(op.get("id"), 0)):
            grown = canvas.copy()
            draw_onto(grown, [partial], frame)
            frames.append(_indexed(grown, blank, palette))
        board.apply(op, records[index - 1])
        if op.get("type") == "stroke":
            added.append(op["id"])
        else:
            only_added = False
        if index % every and index != len(ops):
            continue
        if only_added:  # the common case: draw the new strokes over the last frame
            draw_onto(canvas, [strokes[i] for i in added], frame)
            drawn += added
        else:
            drawn = _visible(board, strokes)
            current = with_images(board.visible_strokes())
            canvas = render_image(current, frame, background).copy()
        added, only_added = [], True
        frames.append(_indexed(canvas, blank, palette))
        if progress is not None:
            progress(index, len(ops))
    durations = [FIRST_FRAME_MS] + [FRAME_MS] * (len(frames) - 2) + [LAST_FRAME_MS]
    if len(frames) == 1:  # nothing was ever drawn: a still, blank GIF
        durations = [LAST_FRAME_MS]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=0,
        disposal=1,
    )
    return buffer.getvalue()


def _growth_frames(ops: Sequence[dict[str, Any]], max_frames: int) -> dict[str, int]:
    """Frames to spare on a short history (one frame per op leaves many unused): freehand strokes
    grow over a few frames each, in proportion to their points, so even one stroke animates."""
    spare = max_frames - len(ops)
    growable = {
        op["id"]: len(op["pts"]) // 2
        for op in ops
        if op.get("type") == "stroke"
        and op.get("tool") in ("pen", "highlighter")
        and len(op["pts"]) >= 6
    }
    total = sum(growable.values())
    if spare <= 0 or not total:
        return {}
    return {
        op_id: min(MAX_GROWTH_FRAMES, points - 1, spare * points // total)
        for op_id, points in growable.items()
    }


def _prefixes(op: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """``count`` ever longer beginnings of a stroke (its points are delta-coded: a prefix of the
    array is the beginning of the stroke)."""
    if count <= 0:
        return []
    points = len(op["pts"]) // 2
    out = []
    for step in range(1, count + 1):
        shown = max(1, math.ceil(points * step / (count + 1)))
        partial = {**op, "pts": op["pts"][: 2 * shown]}
        if op.get("p") is not None:
            partial["p"] = op["p"][:shown]
        out.append(partial)
    return out


def _indexed(image: Image.Image, blank: Image.Image, palette: Image.Image) -> Image.Image:
    """``image`` in ``palette``; the background exactly (index 0), whatever Pillow's colour cache
    would pick for it."""
    indexed = image.quantize(palette=palette, dither=Image.Dither.NONE)
    untouched = ImageChops.difference(image, blank).convert("L").point(lambda v: 255 * (v == 0))
    indexed.paste(0, mask=untouched)
    return indexed


def _palette(blank: Image.Image, finished: Image.Image) -> Image.Image:
    """256 colours: the background's exactly, then the drawing's 255 most useful."""
    background = blank.getpixel((0, 0))
    found = (
        finished.quantize(
            colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        ).getpalette()
        or []
    )
    colours = list(background)
    for i in range(0, min(len(found), 255 * 3), 3):
        # Pillow maps colours through a coarse cache, so a near-copy of the background could
        # take its place: keep only colours clearly apart from it.
        if sum(abs(a - b) for a, b in zip(found[i : i + 3], background, strict=True)) > 12:
            colours += found[i : i + 3]
    palette = Image.new("P", (1, 1))
    palette.putpalette(colours)
    return palette


__all__ = ["Frame", "render_timelapse"]
