"""Decoding stored ops for a board load without building their points (``stored_ops.py``)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whiteboard.board import Board
from whiteboard.protocol import Stroke, Style
from whiteboard.stored_ops import UnbuiltArray, decode_for_apply


def unbuilt(value: Any) -> Any:
    """What ``decode_for_apply`` should give for the value ``unpackb`` gives."""
    if not isinstance(value, dict):
        return value
    return {
        key: UnbuiltArray(len(item)) if key in ("pts", "p") and isinstance(item, tuple) else item
        for key, item in value.items()
    }


def test_a_stroke_decodes_with_its_points_counted_not_built() -> None:
    pts = tuple(range(-3000, 3000))
    encoded = msgpack.packb(
        {
            "type": "stroke",
            "seq": 7,
            "id": "s",
            "by": "a",
            "pts": pts,
            "p": [1, 2],
            "m": [2, 2, 0, 0],
        }
    )
    op = decode_for_apply(encoded)
    assert op == {
        "type": "stroke",
        "seq": 7,
        "id": "s",
        "by": "a",
        "pts": UnbuiltArray(6000),
        "p": UnbuiltArray(2),
        "m": (2, 2, 0, 0),  # fields after the skipped arrays are read
    }
    assert len(op["pts"]) == 6000


def test_points_nested_in_an_add_and_points_that_are_not_an_array_are_decoded() -> None:
    item = {"type": "stroke", "id": "i", "pts": [1, 2, 3, 4]}
    encoded = msgpack.packb({"type": "add", "items": [item], "pts": "not an array", "p": None})
    assert decode_for_apply(encoded) == msgpack.unpackb(encoded, use_list=False)


@pytest.mark.parametrize(
    "encoded",
    [
        msgpack.packb({"pts": [1, 2, 3]})[:-1],  # cut inside the points
        msgpack.packb({"pts": [1, 2]}) + b"\x01",  # a byte after the map
        msgpack.packb({1: 2}),  # a key unpackb refuses
        b"\x81\xa3pts\xdc\x00",  # an array header cut short
        b"\x82\xa3pts\x91\xc1\xa1m\x01",  # a byte that is no msgpack inside the points
    ],
)
def test_what_unpackb_refuses_is_refused(encoded: bytes) -> None:
    with pytest.raises((ValueError, msgpack.UnpackException)):
        msgpack.unpackb(encoded, raw=False, use_list=False)
    with pytest.raises((ValueError, msgpack.UnpackException)):
        decode_for_apply(encoded)


scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=5)
values = scalars | st.lists(scalars, max_size=8) | st.dictionaries(st.text(max_size=3), scalars)
maps = st.dictionaries(st.sampled_from(["type", "pts", "p", "m"]) | st.text(max_size=3), values)


@settings(max_examples=60, deadline=None)
@given(maps)
def test_a_map_decodes_as_unpackb_decodes_it_but_for_unbuilt_points(op: dict[str, Any]) -> None:
    encoded = msgpack.packb(op)
    assert decode_for_apply(encoded) == unbuilt(msgpack.unpackb(encoded, use_list=False))


@settings(max_examples=60, deadline=None)
@given(maps, st.data())
def test_damaged_bytes_are_refused_or_decoded_as_unpackb_decodes_them(
    op: dict[str, Any], data: st.DataObject
) -> None:
    encoded = bytearray(msgpack.packb(op))
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] = data.draw(st.integers(0, 255))
    damaged = bytes(encoded[: data.draw(st.integers(1, len(encoded)))])
    try:
        expected = unbuilt(msgpack.unpackb(damaged, raw=False, use_list=False))
    except (ValueError, msgpack.UnpackException):
        with pytest.raises((ValueError, msgpack.UnpackException)):
            decode_for_apply(damaged)
    else:
        assert decode_for_apply(damaged) == expected


def test_a_board_loaded_from_its_records_counts_every_point() -> None:
    board = Board(max_strokes=10)
    for number, points in enumerate((1, 16, 70_000)):
        pts = (5, 5, *([1, -1] * (points - 1)))
        board.commit(Stroke(f"s{number}", Style("pen", "#000000", 2.0), pts, None), "a")
    loaded = Board(max_strokes=10)
    assert loaded.load(board.ops).rejected == []
    assert loaded.stats == board.stats and loaded.stats.points == 70_017
    assert loaded.stroke_ids == board.stroke_ids and loaded.ops == board.ops
