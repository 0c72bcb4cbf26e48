"""Element messages (elements.py): what is accepted, what is refused and why, and the codec's
robustness on random element messages (Hypothesis)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whiteboard.elements import (
    IDENTITY,
    Add,
    Draft,
    Edit,
    Image,
    Moving,
    Note,
    Text,
    Transform,
    ZOrder,
    item_fields,
)
from whiteboard.protocol import InvalidMessage, Limits, Stroke, decode_frame

LIMITS = Limits()
SRC = "0f" * 32 + ".png"


def decode_one(message: Any) -> Any:
    [decoded] = decode_frame(msgpack.packb(message), LIMITS)
    return decoded


def text(**fields: Any) -> dict[str, Any]:
    base = {"type": "text", "id": "t1", "x": 10, "y": -20.5, "size": 24, "color": "#AA0000"}
    return {**base, "text": "hello", **fields}


def test_a_text_keeps_its_fields_with_a_lower_case_colour_and_float_coordinates() -> None:
    assert decode_one(text()) == Text("t1", 10.0, -20.5, 24.0, "#aa0000", "hello", IDENTITY)


@pytest.mark.parametrize(
    "value",
    [
        "line one\nline two",
        "שלום עולם",  # right-to-left
        "مرحبا\u200f بالعالم",  # Arabic with an RLM
        "a\u200db",  # ZWJ
        "<script>alert(1)</script>",  # just text: never interpreted
        "漢字 and emoji 🎉",
    ],
)
def test_text_of_any_script_is_accepted_as_it_was_typed(value: str) -> None:
    assert decode_one(text(text=value)).text == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("a\rb", "U+000D"),
        ("tab\there", "U+0009"),
        ("nul\x00", "U+0000"),
        ("c1\x85", "U+0085"),
        ("line\u2028sep", "U+2028"),
        ("over\u202eride", "U+202E"),
        ("iso\u2067late", "U+2067"),
        ("bad\ufffe", "U+FFFE"),
        ("x" * 4001, "4001 characters"),
        ("\n" * 200, "201 lines"),
        (42, "must be a string"),
    ],
)
def test_bad_text_is_refused_with_the_reason(value: Any, reason: str) -> None:
    result = decode_one(text(text=value))
    assert isinstance(result, InvalidMessage) and reason in result.reason
    assert result.op_id == "t1"


@pytest.mark.parametrize(
    "fields",
    [
        {"size": 3},
        {"size": 401},
        {"x": float("nan")},
        {"y": 1e8},
        {"color": "red"},
        {"m": [1, 1, 0]},
        {"m": [0, 1, 0, 0]},
        {"m": [-1, 1, 0, 0]},
        {"m": [1001, 1, 0, 0]},
        {"m": [1, 1, float("inf"), 0]},
        {"m": [1, 1, 1e11, 0]},
        {"m": "identity"},
    ],
)
def test_text_fields_out_of_range_are_refused(fields: dict[str, Any]) -> None:
    assert isinstance(decode_one(text(**fields)), InvalidMessage)


def test_a_note_and_an_image_decode_with_their_placements() -> None:
    note = decode_one({**text(), "type": "note", "color": "#ffee88", "m": [2, 2, 5, -5]})
    assert note == Note("t1", 10.0, -20.5, 24.0, "#ffee88", "hello", (2.0, 2.0, 5.0, -5.0))
    image = {"type": "image", "id": "i", "src": SRC, "x": 0, "y": 0, "w": 320, "h": 200}
    assert decode_one(image) == Image("i", SRC, 0.0, 0.0, 320.0, 200.0, IDENTITY)


@pytest.mark.parametrize(
    "src",
    ["x.png", "0f" * 32 + ".gif", "0F" * 32 + ".png", "../" + "0f" * 31 + ".png", None],
)
def test_an_image_must_name_an_upload_by_its_hash(src: Any) -> None:
    image = {"type": "image", "id": "i", "src": src, "x": 0, "y": 0, "w": 32, "h": 20}
    assert isinstance(decode_one(image), InvalidMessage)


def test_an_add_holds_elements_of_every_kind_with_distinct_ids() -> None:
    stroke = {"type": "stroke", "id": "s", "tool": "pen", "color": "#000000", "width": 2}
    items = [text(id="a"), {**stroke, "pts": [0, 0, 4, 4], "m": [2, 2, 0, 0]}]
    add = decode_one({"type": "add", "id": "paste", "items": items})
    assert isinstance(add, Add) and [i.id for i in add.items] == ["a", "s"]
    assert isinstance(add.items[1], Stroke) and add.items[1].m == (2.0, 2.0, 0.0, 0.0)
    assert item_fields(add.items[1])["m"] == (2.0, 2.0, 0.0, 0.0)
    twice = decode_one({"type": "add", "id": "p", "items": [text(id="a"), text(id="a")]})
    assert isinstance(twice, InvalidMessage) and "differ" in twice.reason
    own = decode_one({"type": "add", "id": "a", "items": [text(id="a")]})
    assert isinstance(own, InvalidMessage)
    bad = decode_one({"type": "add", "id": "p", "items": [text(id="b", text="")]})
    assert isinstance(bad, InvalidMessage) and bad.reason.startswith("item 0:")
    for items in ([], [{"type": "erase", "id": "e", "ids": ["x"]}], "x"):
        assert isinstance(decode_one({"type": "add", "id": "p", "items": items}), InvalidMessage)


def test_changes_and_previews_decode() -> None:
    m = [1.5, 1.5, -10, 20]
    placed = (1.5, 1.5, -10.0, 20.0)
    assert decode_one({"type": "transform", "id": "t", "ids": ["a", "b"], "m": m}) == Transform(
        "t", ("a", "b"), placed
    )
    assert decode_one({"type": "z", "id": "z", "ids": ["a"], "to": "back"}) == ZOrder(
        "z", ("a",), "back"
    )
    assert decode_one({"type": "edit", "id": "e", "target": "a", "text": "new"}) == Edit(
        "e", "a", "new"
    )
    assert decode_one({"type": "moving", "id": "t", "ids": ["a"], "m": m}) == Moving(
        "t", ("a",), placed
    )
    draft = decode_one({**text(text=""), "type": "draft", "kind": "note", "target": "n1"})
    assert draft == Draft("t1", "note", 10.0, -20.5, 24.0, "#aa0000", "", IDENTITY, "n1")


@pytest.mark.parametrize(
    "message",
    [
        {"type": "transform", "id": "t", "ids": ["a"]},
        {"type": "transform", "id": "t", "ids": [], "m": [1, 1, 0, 0]},
        {"type": "transform", "id": "t", "ids": ["a b"], "m": [1, 1, 0, 0]},
        {"type": "z", "id": "z", "ids": ["a"], "to": "top"},
        {"type": "edit", "id": "e", "target": "a", "text": ""},
        {"type": "edit", "id": "e", "text": "x"},
        {
            "type": "draft",
            "id": "d",
            "kind": "image",
            "x": 0,
            "y": 0,
            "size": 9,
            "color": "#000000",
        },
        {"type": "moving", "id": "m", "ids": ["a"]},
    ],
)
def test_malformed_changes_are_refused(message: dict[str, Any]) -> None:
    assert isinstance(decode_one(message), InvalidMessage)


# --- Hypothesis -------------------------------------------------------------------------------

ids = st.text(alphabet="abcXYZ019_-", min_size=1, max_size=8)
numbers = st.one_of(
    st.integers(-(10**8), 10**8), st.floats(allow_nan=True, allow_infinity=True), st.none()
)
texts = st.text(max_size=40)
placements = st.one_of(st.none(), st.lists(numbers, min_size=0, max_size=5))
element_maps = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["text", "note", "image", "draft"]),
        "id": ids,
        "x": numbers,
        "y": numbers,
        "size": numbers,
        "color": st.sampled_from(["#000000", "#ABCDEF", "blue", ""]),
        "text": texts,
        "src": st.sampled_from([SRC, "x"]),
        "w": numbers,
        "h": numbers,
        "kind": st.sampled_from(["text", "note", "x"]),
    },
    optional={"m": placements, "target": ids},
)
change_maps = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["transform", "z", "edit", "moving", "add"]),
        "id": ids,
        "ids": st.lists(ids, max_size=4),
        "m": placements,
        "to": st.sampled_from(["front", "back", "side"]),
        "target": ids,
        "text": texts,
    },
    optional={"items": st.lists(element_maps, max_size=3)},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(element_maps, change_maps))
def test_random_element_messages_are_accepted_or_refused_with_invalid_message(
    message: dict[str, Any],
) -> None:
    result = decode_one(message)
    if isinstance(result, InvalidMessage):
        assert result.reason
        return
    assert type(result).__name__.lower().startswith(message["type"][:2]) or message["type"] == "z"


@settings(max_examples=200, deadline=None)
@given(
    st.builds(
        Text,
        ids,
        st.floats(-1e6, 1e6),
        st.floats(-1e6, 1e6),
        st.floats(4, 400),
        st.just("#123456"),
        st.text(
            alphabet=st.characters(
                codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp", "Cf"]
            ),
            min_size=1,
            max_size=50,
        ),
        st.tuples(
            st.floats(0.01, 100), st.floats(0.01, 100), st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)
        ),
    )
)
def test_a_text_round_trips_through_its_committed_fields(element: Text) -> None:
    message = {"type": "text", "id": element.id, **item_fields(element)}
    assert decode_one(message) == element
