"""Messages for board elements beyond ink: text, sticky notes, images, and changing elements
(move and resize, z-order, text edits, several elements added as one action), with their
validation. ``docs/protocol.md`` ("Elements") is the reference.

Pure, like ``protocol.py``, which holds the codec: this module registers its decoders there when
it is imported (``protocol`` imports it, so decoding always knows them). Kept apart so that the
rules of text (what characters, how long) and of placements read in one sitting.

A *placement* ``m = (sx, sy, tx, ty)`` maps an element's own coordinates to the board:
``(x, y) -> (sx * x + tx, sy * y + ty)``. Scales are positive (no flips, no rotation), so a box
stays an axis-aligned box and an inverse always exists.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

from . import protocol
from .protocol import (
    ID_PATTERN,
    InvalidMessage,
    Limits,
    Stroke,
    _color,
    _decode_stroke,
    _kind,
    _number,
    _op_id,
)

Placement = tuple[float, float, float, float]
IDENTITY: Placement = (1.0, 1.0, 0.0, 0.0)

TEXT_LINE_HEIGHT = 1.25
"""Line pitch of text and notes, in font sizes (docs/protocol.md, Rendering)."""
TEXT_BASELINE = 0.95
"""The first line's baseline below the element's top, in font sizes."""
NOTE_SIDE = 10.0
"""A sticky note is at least this many font sizes wide and high; it grows with its text."""
NOTE_PADDING = 1.0
"""Space between a note's edge and its text, in font sizes."""
NOTE_TEXT_COLOR = "#1f2328"

MEDIA_NAME = re.compile(r"[0-9a-f]{64}\.(png|jpg|webp)")
"""An image's ``src``: the sha256 of the stored file and the extension of what the server wrote."""

MEDIA_NAME_BYTES = re.compile(MEDIA_NAME.pattern.encode())
"""The same, found in log records without decoding them (which images a board names)."""

TEXT_FORBIDDEN = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffe\uffff]"
)
"""Control characters (a newline is allowed), line and paragraph separators (the page and the
export would break lines at different places), bidi embeddings, overrides and isolates (they
would make one text render differently in the browser and in the export), and the two
noncharacters XML cannot hold (SVG export). Right-to-left letters and the marks LRM/RLM, ZWJ and
ZWNJ are allowed: they are text."""

Z_TARGETS = ("front", "back")
ELEMENT_TYPES = ("stroke", "text", "note", "image")


# --- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    """A text element: lines split on ``\\n``, top-left corner at (x, y), font size ``size``."""

    id: str
    x: float
    y: float
    size: float
    color: str
    text: str
    m: Placement = IDENTITY


@dataclass(frozen=True, slots=True)
class Note:
    """A sticky note: a square of ``color`` at (x, y), at least NOTE_SIDE font sizes wide, that
    grows with its text (drawn in NOTE_TEXT_COLOR)."""

    id: str
    x: float
    y: float
    size: float
    color: str
    text: str
    m: Placement = IDENTITY


@dataclass(frozen=True, slots=True)
class Image:
    """An uploaded image (``src``, from ``POST /b/<id>/media``) drawn into the box x, y, w, h."""

    id: str
    src: str
    x: float
    y: float
    w: float
    h: float
    m: Placement = IDENTITY


Item = Stroke | Text | Note | Image


@dataclass(frozen=True, slots=True)
class Add:
    """Several elements added as one action (a paste, a duplicate): one undo removes them all."""

    id: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Transform:
    """Move and/or resize: ``m`` is applied on top of each element's placement."""

    id: str
    ids: tuple[str, ...]
    m: Placement


@dataclass(frozen=True, slots=True)
class ZOrder:
    """Bring elements to the front or send them to the back, keeping their order among them."""

    id: str
    ids: tuple[str, ...]
    to: str


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text of a text element or a note."""

    id: str
    target: str
    text: str


@dataclass(frozen=True, slots=True)
class Draft:
    """Ephemeral: the text or note being typed (``target``: the element being edited), whole."""

    id: str
    kind: str
    x: float
    y: float
    size: float
    color: str
    text: str
    m: Placement
    target: str | None


@dataclass(frozen=True, slots=True)
class Moving:
    """Ephemeral: elements being dragged or resized, ``m`` on top of their placements."""

    id: str
    ids: tuple[str, ...]
    m: Placement


ElementMessage = Text | Note | Image | Add | Transform | ZOrder | Edit
"""Element messages that commit (get a seq)."""
PreviewMessage = Draft | Moving


# --- validation -------------------------------------------------------------------------------


def clean_text(value: Any, limits: Limits, allow_empty: bool = False) -> str:
    """Text as stored: at most ``max_text_chars`` characters and ``max_text_lines`` lines, no
    forbidden characters (``TEXT_FORBIDDEN``). Kept as sent otherwise (spaces included)."""
    if not isinstance(value, str):
        raise InvalidMessage(f"text must be a string, got {_kind(value)}")
    if not value and not allow_empty:
        raise InvalidMessage("text must not be empty")
    if len(value) > limits.max_text_chars:
        raise InvalidMessage(f"text has {len(value)} characters; limit is {limits.max_text_chars}")
    lines = value.count("\n") + 1
    if lines > limits.max_text_lines:
        raise InvalidMessage(f"text has {lines} lines; limit is {limits.max_text_lines}")
    bad = TEXT_FORBIDDEN.search(value)
    if bad:
        raise InvalidMessage(f"text holds a forbidden character U+{ord(bad.group()):04X}")
    return value


def placement(obj: dict, limits: Limits, key: str = "m") -> Placement:
    """``m`` as ``(sx, sy, tx, ty)``: scales within 1/max_element_scale..max_element_scale,
    translations within +-max_coord * max_element_scale; absent means the identity."""
    value = obj.get(key)
    if value is None:
        return IDENTITY
    if not isinstance(value, tuple) or len(value) != 4:
        raise InvalidMessage(f"{key} must be an array [sx, sy, tx, ty]")
    if not all(type(v) in (int, float) and math.isfinite(v) for v in value):
        raise InvalidMessage(f"{key} must hold four finite numbers")
    result = (float(value[0]), float(value[1]), float(value[2]), float(value[3]))
    check_placement(result, limits, key)
    return result


def check_placement(m: Placement, limits: Limits, what: str = "m") -> None:
    """Raise unless ``m`` is within the placement bounds (see :func:`placement`)."""
    top = limits.max_element_scale
    bound = limits.max_coord * top
    if not (1 / top <= m[0] <= top and 1 / top <= m[1] <= top):
        raise InvalidMessage(f"{what} scales must be between 1/{top:g} and {top:g}")
    if not (abs(m[2]) <= bound and abs(m[3]) <= bound):
        raise InvalidMessage(f"{what} translations must be within +-{bound:g} board units")


def compose(outer: Placement, inner: Placement) -> Placement:
    """``outer`` applied after ``inner``. The same float operations, in the same order, as
    ``compose`` in static/js/board.js: both sides must get bit-identical placements."""
    return (
        outer[0] * inner[0],
        outer[1] * inner[1],
        outer[0] * inner[2] + outer[2],
        outer[1] * inner[3] + outer[3],
    )


def _ids(obj: dict, limits: Limits, key: str = "ids") -> tuple[str, ...]:
    value = obj.get(key)
    if not isinstance(value, tuple) or not 1 <= len(value) <= limits.max_erase_ids:
        raise InvalidMessage(f"{key} must be an array of 1-{limits.max_erase_ids} element ids")
    if not all(isinstance(i, str) and ID_PATTERN.fullmatch(i) for i in value):
        raise InvalidMessage(f"{key} must hold element ids")
    return value


def _coord(obj: dict, key: str, limits: Limits) -> float:
    return float(_number(obj, key, -limits.max_coord, limits.max_coord))


def _size(obj: dict, limits: Limits) -> float:
    return float(_number(obj, "size", limits.min_text_size, limits.max_text_size))


def _decode_text_like(obj: dict, limits: Limits, cls: type[Text] | type[Note]) -> Text | Note:
    op_id = _op_id(obj)
    x, y, size = _coord(obj, "x", limits), _coord(obj, "y", limits), _size(obj, limits)
    text = clean_text(obj.get("text"), limits)
    return cls(op_id, x, y, size, _color(obj), text, placement(obj, limits))


def _decode_text(obj: dict, limits: Limits) -> Text:
    return _decode_text_like(obj, limits, Text)  # type: ignore[return-value]


def _decode_note(obj: dict, limits: Limits) -> Note:
    return _decode_text_like(obj, limits, Note)  # type: ignore[return-value]


def _decode_image(obj: dict, limits: Limits) -> Image:
    op_id, src = _op_id(obj), obj.get("src")
    if not isinstance(src, str) or not MEDIA_NAME.fullmatch(src):
        raise InvalidMessage("src must name an uploaded image: <sha256 hex>.<png|jpg|webp>")
    x, y = _coord(obj, "x", limits), _coord(obj, "y", limits)
    smallest, largest = 1 / protocol.COORD_SCALE, 2 * limits.max_coord
    w = float(_number(obj, "w", smallest, largest))
    h = float(_number(obj, "h", smallest, largest))
    return Image(op_id, src, x, y, w, h, placement(obj, limits))


def _decode_placed_stroke(obj: dict, limits: Limits) -> Stroke:
    stroke, m = _decode_stroke(obj, limits), placement(obj, limits)
    return stroke if m == IDENTITY else replace(stroke, m=m)


_ITEM_DECODERS = {
    "stroke": _decode_placed_stroke,
    "text": _decode_text,
    "note": _decode_note,
    "image": _decode_image,
}


def _decode_add(obj: dict, limits: Limits) -> Add:
    op_id, items = _op_id(obj), obj.get("items")
    if not isinstance(items, tuple) or not 1 <= len(items) <= limits.max_add_items:
        raise InvalidMessage(f"items must be an array of 1-{limits.max_add_items} elements")
    decoded: list[Item] = []
    for item in items:
        kind = item.get("type") if isinstance(item, dict) else None
        decoder = _ITEM_DECODERS.get(kind) if isinstance(kind, str) else None
        if decoder is None:
            raise InvalidMessage(f"items must be elements ({', '.join(ELEMENT_TYPES)})")
        try:
            decoded.append(decoder(item, limits))
        except InvalidMessage as exc:
            raise InvalidMessage(f"item {len(decoded)}: {exc.reason}") from None
    ids = {op_id, *(item.id for item in decoded)}
    if len(ids) != len(decoded) + 1:
        raise InvalidMessage("item ids must differ from each other and from the op id")
    return Add(op_id, tuple(decoded))


def _decode_transform(obj: dict, limits: Limits) -> Transform:
    op_id, ids = _op_id(obj), _ids(obj, limits)
    if obj.get("m") is None:
        raise InvalidMessage("m must be an array [sx, sy, tx, ty]")
    return Transform(op_id, ids, placement(obj, limits))


def _decode_z(obj: dict, limits: Limits) -> ZOrder:
    op_id, ids, to = _op_id(obj), _ids(obj, limits), obj.get("to")
    if to not in Z_TARGETS:
        raise InvalidMessage("to must be 'front' or 'back'")
    return ZOrder(op_id, ids, to)


def _decode_edit(obj: dict, limits: Limits) -> Edit:
    return Edit(_op_id(obj), _op_id(obj, "target"), clean_text(obj.get("text"), limits))


def _decode_draft(obj: dict, limits: Limits) -> Draft:
    op_id, kind = _op_id(obj), obj.get("kind")
    if kind not in ("text", "note"):
        raise InvalidMessage("kind must be 'text' or 'note'")
    target = None if obj.get("target") is None else _op_id(obj, "target")
    x, y, size = _coord(obj, "x", limits), _coord(obj, "y", limits), _size(obj, limits)
    text = clean_text(obj.get("text"), limits, allow_empty=True)
    return Draft(op_id, kind, x, y, size, _color(obj), text, placement(obj, limits), target)


def _decode_moving(obj: dict, limits: Limits) -> Moving:
    op_id, ids = _op_id(obj), _ids(obj, limits)
    if obj.get("m") is None:
        raise InvalidMessage("m must be an array [sx, sy, tx, ty]")
    return Moving(op_id, ids, placement(obj, limits))


DECODERS = {
    "stroke": _decode_placed_stroke,
    "text": _decode_text,
    "note": _decode_note,
    "image": _decode_image,
    "add": _decode_add,
    "transform": _decode_transform,
    "z": _decode_z,
    "edit": _decode_edit,
    "draft": _decode_draft,
    "moving": _decode_moving,
}


# --- encoding ---------------------------------------------------------------------------------


def _placed(m: Placement) -> dict[str, Any]:
    return {} if m == IDENTITY else {"m": m}


def item_fields(item: Item) -> dict[str, Any]:
    """An element's fields as committed (``type`` and ``id`` aside); ``m`` only when not the
    identity, so an element op stays as small as it can."""
    if isinstance(item, Stroke):
        return protocol.stroke_fields(item.style, item.pts, item.pressure) | _placed(item.m)
    if isinstance(item, Image):
        fields: dict[str, Any] = {"src": item.src, "x": item.x, "y": item.y}
        return {**fields, "w": item.w, "h": item.h, **_placed(item.m)}
    fields = {"x": item.x, "y": item.y, "size": item.size, "color": item.color}
    return {**fields, "text": item.text, **_placed(item.m)}


def item_kind(item: Item) -> str:
    return _ITEM_KIND[type(item)]


_ITEM_KIND: dict[type, str] = {Stroke: "stroke", Text: "text", Note: "note", Image: "image"}


def element_wire(message: ElementMessage) -> dict[str, Any]:
    """The map a client would send for ``message`` (decoding it gives ``message`` back): how a
    follower worker forwards an element op to the board's owner in Redis mode."""
    head: dict[str, Any] = {"type": _MESSAGE_KIND[type(message)], "id": message.id}
    if isinstance(message, Text | Note | Image):
        return head | item_fields(message)
    if isinstance(message, Add):
        items = [{"type": item_kind(i), "id": i.id, **item_fields(i)} for i in message.items]
        return head | {"items": items}
    if isinstance(message, Transform):
        return head | {"ids": list(message.ids), "m": list(message.m)}
    if isinstance(message, ZOrder):
        return head | {"ids": list(message.ids), "to": message.to}
    return head | {"target": message.target, "text": message.text}


_MESSAGE_KIND: dict[type, str] = {
    **{Text: "text", Note: "note", Image: "image"},
    **{Add: "add", Transform: "transform", ZOrder: "z", Edit: "edit"},
}


def draft_fields(draft: Draft) -> dict[str, Any]:
    """A draft as relayed to others (``peer`` added by the hub)."""
    fields: dict[str, Any] = {"id": draft.id, "kind": draft.kind, "x": draft.x, "y": draft.y}
    fields |= {"size": draft.size, "color": draft.color, "text": draft.text, **_placed(draft.m)}
    if draft.target is not None:
        fields["target"] = draft.target
    return fields


protocol.register_decoders(DECODERS)
