"""A board's records -> what an export draws: the board replayed, its visible elements (with their
images), their points decoded once for every format, and the picture's frame.

Deterministic: every process drawing a part of one export may run it on the same records and gets
the same elements, geometry and frame, so a helper can be handed the records (bytes, cheap to
pickle) instead of the decoded board (``pngbands``). Pure apart from reading images from a
media directory.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from ..board import Board
from ..elements import MEDIA_NAME
from ..snapshot import Snapshot
from ..store.media import read_media_file
from .frame import ExportOptions, Frame, Geometry, decode, plan_frame
from .spec import BoardTooLarge, ExportLimits

ImageSource = Path | Mapping[str, bytes] | None
"""Where an export finds a board's images: the file store's media directory (read as needed), the
images themselves by name (Redis mode: the server fetched them), or nowhere."""


def load_board(
    records: list[bytes], decoded: dict[int, Any] | None = None, snapshot: bytes | None = None
) -> Board:
    """The board of ``records`` as the server loads it (records that do not apply are skipped);
    with ``snapshot`` (encoded, checked by ``store.file.read_board_after_snapshot``), the
    board it holds and ``records`` the ones after it.

    With ``decoded``, each record is decoded in full once and the ops that applied are kept there
    by seq, for ``Board.visible_strokes(decoded)``: a server's load counts a stroke's points
    without building them, but an export builds them all anyway, and decoding every visible
    stroke a second time cost ~0.07 s of a 1M-point board's ~0.4 s load."""
    board = Board(max_strokes=2**62)
    if snapshot is not None:  # with the limits of a replay, not those of the server that wrote it
        limits = board.max_strokes, board.max_images, board.limits
        board = Snapshot.decode(snapshot).board()
        board.max_strokes, board.max_images, board.limits = limits
    if decoded is None:
        board.load(records)
        return board
    by_record: dict[int, Any] = {}  # id() of a record in ``records`` (alive throughout) -> op

    def decode_record(encoded: bytes) -> Any:
        op = msgpack.unpackb(encoded, raw=False, use_list=False)
        by_record[id(encoded)] = op
        return op

    board.load(records, decode_record)
    for seq, encoded in enumerate(board.ops, start=1):
        op = by_record.get(id(encoded))  # None for a lost seq's placeholder
        if op is not None:
            decoded[seq] = op
    return board


def with_images(elements: list[dict[str, Any]], media: ImageSource) -> list[dict[str, Any]]:
    """``elements`` with each image's stored file in ``data`` (None when it cannot be read: the
    export draws the page's grey placeholder). ``src`` is checked against its pattern first."""
    out = []
    for element in elements:
        if element.get("type") == "image":
            data = None
            src = element.get("src", "")
            if media is not None and MEDIA_NAME.fullmatch(src):
                data = read_media_file(media, src) if isinstance(media, Path) else media.get(src)
            element = {**element, "data": data}
        out.append(element)
    return out


@dataclass(frozen=True, slots=True)
class Prepared:
    """A board ready to draw: its visible elements in drawing order, their geometry, the frame."""

    board: Board
    strokes: list[dict[str, Any]]
    geometry: Geometry
    frame: Frame


def prepare(
    records: list[bytes],
    options: ExportOptions,
    limits: ExportLimits,
    media: ImageSource = None,
    phases: dict[str, float] | None = None,
    snapshot: bytes | None = None,
) -> Prepared:
    """Replay ``records`` (after ``snapshot``, see :func:`load_board`) and decode what is
    visible; ``phases`` gets ``replay_s``, ``decode_s`` and ``replayed_records``. Raises
    ``BoardTooLarge`` past ``limits.max_points``."""
    phases = {} if phases is None else phases
    started = time.perf_counter()
    decoded: dict[int, Any] = {}
    board = load_board(records, decoded, snapshot)
    phases["replayed_records"] = len(records)
    strokes = with_images(board.visible_strokes(decoded), media)
    del decoded
    if limits.max_points is not None:
        points = sum(len(stroke.get("pts", ())) for stroke in strokes) // 2
        if points > limits.max_points:
            raise BoardTooLarge(points, limits.max_points)
    replayed = time.perf_counter()
    phases["replay_s"] = replayed - started
    geometry = decode(strokes)  # once, for the frame and the drawing
    frame = plan_frame(geometry.bounds(), options, limits.max_pixels)
    phases["decode_s"] = time.perf_counter() - replayed
    return Prepared(board, strokes, geometry, frame)
