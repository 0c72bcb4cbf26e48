"""The wire codec: what the server accepts, what it rejects and why, and the encodings it emits."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whiteboard import protocol
from whiteboard.protocol import (
    PRESENTING_VERSION,
    PROTOCOL_VERSION,
    Begin,
    Cursor,
    Erase,
    Hello,
    InvalidMessage,
    Limits,
    MalformedFrame,
    Points,
    Stroke,
    StrokeTooLong,
    Style,
    Want,
)

LIMITS = Limits()


def decode_one(obj: dict) -> object:
    (message,) = protocol.decode_frame(msgpack.packb(obj), LIMITS)
    return message


def pen(**fields: object) -> dict:
    return {
        "type": "stroke",
        "id": "s1",
        "tool": "pen",
        "color": "#112233",
        "width": 3,
        "pts": [40, 40, 4, 2, -3, 1],
        **fields,
    }


HELLO = {"type": "hello", "client": "c1", "name": "Ann", "color": "#abcdef"}


def test_hello_is_decoded_with_its_resume_point() -> None:
    hello = decode_one(
        {"type": "hello", "client": "c1", "name": "  Ann   Lee ", "color": "#ABCDEF", "since": 7}
    )
    assert hello == Hello("c1", "Ann Lee", "#abcdef", 7, want=Want.ALL & ~Want.PRESENT)
    current = decode_one({**HELLO, "v": PROTOCOL_VERSION})
    assert current.version == PROTOCOL_VERSION and current.want == Want.ALL


def test_a_page_older_than_presenting_is_not_subscribed_to_lead_and_laser() -> None:
    old = decode_one({**HELLO, "v": PRESENTING_VERSION - 1})
    assert old.want == Want.LIVE | Want.CURSORS | Want.PRESENCE
    asked = {**HELLO, "v": PRESENTING_VERSION, "want": ["present"]}
    assert decode_one(asked).want == Want.PRESENT


def test_complete_stroke_keeps_delta_coded_points_and_pressure() -> None:
    stroke = decode_one(pen(p=[10, 50, 100]))
    assert stroke == Stroke(
        "s1", Style("pen", "#112233", 3.0), (40, 40, 4, 2, -3, 1), (10, 50, 100)
    )


def test_batch_decodes_each_message_and_isolates_a_bad_one() -> None:
    frame = msgpack.packb(
        {
            "type": "batch",
            "ops": [
                {"type": "cursor", "x": 1.5, "y": -2},
                pen(color="red"),
                {"type": "erase", "id": "e1", "ids": ["s1"]},
            ],
        }
    )
    cursor, bad, erase = protocol.decode_frame(frame, LIMITS)
    assert cursor == Cursor(1.5, -2.0)
    assert isinstance(bad, InvalidMessage) and bad.op_id == "s1" and "color" in bad.reason
    assert erase == Erase("e1", ("s1",))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"tool": "laser"}, "tool must be one of"),
        ({"width": 0}, "width must be between"),
        ({"width": float("nan")}, "width must be between"),
        ({"width": True}, "width must be a number"),
        ({"pts": [1, 2, 3]}, "x, y pairs"),
        ({"pts": []}, "at least one point"),
        ({"pts": [1.5, 2]}, "array of integers"),
        ({"pts": [2**62, 0]}, "between"),
        ({"pts": [40_000_000, 0, 40_000_000, 0]}, "coordinates must be within"),
        ({"p": [1, 2]}, "p has 2 values for 3 points"),
        ({"p": [1, 2, 101]}, "between 0 and 100"),
        ({"id": "../etc"}, "id must be"),
        ({"id": "x" * 65}, "id must be"),
        ({"tool": "rect"}, "exactly two points"),
    ],
)
def test_invalid_stroke_fields_are_rejected_with_a_reason(fields: dict, reason: str) -> None:
    message = decode_one(pen(**fields))
    assert isinstance(message, InvalidMessage)
    assert reason in message.reason


def test_stroke_over_the_point_limit_is_too_long() -> None:
    limits = Limits(max_points_per_stroke=3)
    (message,) = protocol.decode_frame(msgpack.packb(pen(pts=[0, 0] * 4)), limits)
    assert isinstance(message, StrokeTooLong)
    assert message.reason == "stroke has 4 points; limit is 3"


@pytest.mark.parametrize("name", ["", " ", "x" * 41, "evil\u202eeman", "bell\x07"])
def test_bad_display_names_are_rejected(name: str) -> None:
    message = decode_one({"type": "hello", "client": "c1", "name": name, "color": "#000000"})
    assert isinstance(message, InvalidMessage)


def test_a_shape_streams_live_as_a_begin_with_its_two_points() -> None:
    shape = {"type": "begin", "id": "r", "tool": "rect", "color": "#000000", "width": 2}
    begin = decode_one({**shape, "pts": [0, 0, 40, 20]})
    assert isinstance(begin, Begin) and begin.pts == (0, 0, 40, 20)
    for pts in ([0, 0], [0, 0, 4, 4, 4, 4]):
        message = decode_one({**shape, "pts": pts})
        assert isinstance(message, InvalidMessage) and "exactly two points" in message.reason


def test_live_points_are_deltas_that_may_be_empty() -> None:
    assert decode_one({"type": "points", "id": "s", "pts": []}) == Points("s", (), None)
    begin = decode_one(
        {"type": "begin", "id": "s", "tool": "pen", "color": "#000000", "width": 2, "pts": [4, 4]}
    )
    assert isinstance(begin, Begin)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"\x93\x01\x02\x03",
        msgpack.packb("hello"),
        msgpack.packb({"type": "batch", "ops": 5}),
    ],
)
def test_frames_that_are_not_message_maps_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedFrame):
        protocol.decode_frame(data, LIMITS)


def test_batch_over_the_op_limit_is_malformed() -> None:
    frame = msgpack.packb({"type": "batch", "ops": [{"type": "cursor"}] * 3})
    with pytest.raises(MalformedFrame, match="limit is 2"):
        protocol.decode_frame(frame, Limits(max_ops_per_frame=2))


def test_unknown_type_is_an_invalid_message() -> None:
    message = decode_one({"type": "teleport", "id": "t1"})
    assert isinstance(message, InvalidMessage) and message.op_id == "t1"


def test_batch_framing_is_the_same_as_encoding_the_list() -> None:
    ops = [protocol.encode_event("cursor", peer=1, x=1.0, y=2.0)] * 20
    framed = protocol.encode_batch(ops)
    assert msgpack.unpackb(framed) == {"type": "batch", "ops": [msgpack.unpackb(o) for o in ops]}
    assert msgpack.unpackb(protocol.encode_batch([])) == {"type": "batch", "ops": []}


def test_delta_coding_round_trips_through_quanta() -> None:
    points = [(10.5, -3.0), (11.0, -2.25), (11.0, -2.25)]
    pts = protocol.delta_code(points)
    assert pts == (42, -12, 2, 3, 0, 0)
    assert protocol.absolute_points(pts) == points


def test_importing_the_protocol_does_not_import_quart() -> None:
    code = "import sys, whiteboard.protocol, whiteboard.board; print('quart' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- properties --------------------------------------------------------------------------------

ids = st.text(alphabet="abcXYZ019_-", min_size=1, max_size=64)
small_ints = st.integers(min_value=-1000, max_value=1000)


@st.composite
def strokes(draw: st.DrawFn) -> dict:
    count = draw(st.integers(min_value=1, max_value=50))
    pts = draw(st.lists(small_ints, min_size=2 * count, max_size=2 * count))
    stroke = {
        "type": "stroke",
        "id": draw(ids),
        "tool": draw(st.sampled_from(["pen", "highlighter"])),
        "color": "#" + draw(st.text(alphabet="0123456789abcdef", min_size=6, max_size=6)),
        "width": draw(st.floats(min_value=0.5, max_value=500)),
        "pts": pts,
    }
    if draw(st.booleans()):
        stroke["p"] = draw(st.lists(st.integers(0, 100), min_size=count, max_size=count))
    return stroke


@given(strokes())
def test_valid_strokes_decode_to_what_was_sent(stroke: dict) -> None:
    message = decode_one(stroke)
    assert isinstance(message, Stroke)
    assert message.id == stroke["id"] and list(message.pts) == stroke["pts"]
    assert message.style.width == stroke["width"]
    assert message.pressure == (tuple(stroke["p"]) if "p" in stroke else None)


@given(st.binary(max_size=4096))
def test_any_bytes_are_decoded_or_rejected_with_a_protocol_error(data: bytes) -> None:
    try:
        messages = protocol.decode_frame(data, LIMITS)
    except MalformedFrame:
        return
    assert all(isinstance(m, protocol.ProtocolError | protocol.Message) for m in messages)


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(suppress_health_check=[HealthCheck.too_slow])  # CI shares 2 cores with a browser
@given(
    st.sampled_from(
        [
            "hello",
            "stroke",
            "begin",
            "points",
            "end",
            "erase",
            "clear",
            "undo",
            "redo",
            "cursor",
            "rename",
            "batch",
        ]
    ),
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "pts",
                "p",
                "tool",
                "color",
                "width",
                "ids",
                "x",
                "y",
                "name",
                "client",
                "since",
                "ops",
            ]
        ),
        values,
        max_size=8,
    ),
)
def test_hostile_message_maps_are_accepted_or_rejected_never_crash(kind: str, fields: dict) -> None:
    try:
        messages = protocol.decode_frame(msgpack.packb({"type": kind, **fields}), LIMITS)
    except MalformedFrame:
        return
    assert all(isinstance(m, protocol.ProtocolError | protocol.Message) for m in messages)


def _range_by_lists(pts: list[int], bound: int) -> tuple[int, int] | None:
    x = y = 0
    for index in range(0, len(pts), 2):
        x, y = x + pts[index], y + pts[index + 1]
        if abs(x) > bound or abs(y) > bound:
            return None
    return x, y


@given(
    st.lists(st.integers(-50, 50), max_size=200).map(lambda v: v[: len(v) // 2 * 2]),
    st.integers(1, 400),
)
def test_range_check_agrees_for_short_and_long_point_lists(pts: list[int], bound: int) -> None:
    expected = _range_by_lists(pts, bound)
    try:
        assert protocol.check_absolute_range(tuple(pts), 0, 0, bound) == expected
    except InvalidMessage:
        assert expected is None


@pytest.mark.parametrize(
    ("ids", "ok"),
    [
        (["s1", "a-b_C9"], True),
        (["x" * 64], True),
        (["x" * 65], False),
        ([""], False),
        (["s1", "s 2"], False),
        (["s1", "s.2"], False),
        (["s1", 5], False),
        (["s1", b"s2"], False),
        (["ok", "é"], False),
        ([["s1"]], False),
    ],
)
def test_erase_ids_are_checked_one_by_one_even_in_bulk(ids: list, ok: bool) -> None:
    (message,) = protocol.decode_frame(
        msgpack.packb({"type": "erase", "id": "e", "ids": ids}), LIMITS
    )
    assert isinstance(message, Erase) is ok
    assert ok or "ids must" in str(message)


@pytest.mark.parametrize("pts", [[1, 2, 3, 4], [1, True], [1, 2.0], [1, "2"], [1, None]])
def test_points_must_be_integers(pts: list) -> None:
    op = {"type": "stroke", "id": "s", "tool": "pen", "color": "#000000", "width": 2, "pts": pts}
    (message,) = protocol.decode_frame(msgpack.packb(op), LIMITS)
    assert isinstance(message, protocol.Stroke) is (pts == [1, 2, 3, 4])


@pytest.mark.parametrize("fields", [1, 13, 14, 15, 16, 40])
def test_encoded_values_are_spliced_into_an_event_as_if_encoded_with_it(fields: int) -> None:
    """Whatever the map's size (fixmap or map 16 before or after splicing)."""
    plain = {f"f{n}": n for n in range(fields)}
    peers = [{"peer": n, "name": f"guest {n}"} for n in range(20)]
    encoded = {"peers": protocol.encode_array([protocol.pack(p) for p in peers]), "next": b"\xc0"}
    spliced = protocol.encode_event_with("welcome", encoded, **plain)
    assert msgpack.unpackb(spliced) == {"type": "welcome", **plain, "peers": peers, "next": None}


def test_a_hello_in_the_url_means_what_the_hello_frame_means() -> None:
    from urllib.parse import parse_qsl

    for since, want, epoch in [(None, None, None), (7, ["live", "presence"], "e1"), (3, [], None)]:
        query, offered = protocol.hello_url("c-1", "Ann Lee é", "#12AB34", since, want, epoch)
        assert "c-1" not in query
        frame = protocol.encode_hello("c-1", "Ann Lee é", "#12AB34", since, want)
        expected = protocol.decode_frame(frame, Limits())[0]
        if epoch is not None:
            expected = dataclasses.replace(expected, epoch=epoch)
        assert protocol.hello_from_url(parse_qsl(query, True), offered, Limits()) == expected
    assert protocol.hello_from_url([("name", "A")], offered, Limits()) is None  # no v: a frame
