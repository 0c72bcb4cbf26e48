"""The wire protocol: messages, their msgpack encoding, validation, close codes and errors.

Pure and I/O-free (no asyncio, no Quart), like python-websockets' ``Protocol``: bytes go in through
:func:`decode_frame`, validated messages come out; server messages are built by the ``encode_*``
functions. ``docs/protocol.md`` is the reference for third-party clients; keep the two in step.

Points travel and rest compactly: coordinates are quantised to ``1 / COORD_SCALE`` board units and
delta-coded as a flat msgpack array of small ints ``[x0, y0, dx1, dy1, ...]``, so a freehand point
costs 2-3 bytes (msgpack stores -32..127 in one byte), plus one byte of pressure when present.
"""

from __future__ import annotations

import enum
import math
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any
from urllib.parse import quote, urlencode

import msgpack

PROTOCOL_VERSION = 9
"""The protocol this server speaks: ``hello.v`` and ``welcome.v``. Every change to a message bumps
it (docs/protocol.md, "Versions"). A hello without ``v`` is version 1, from before versions."""

MIN_PROTOCOL_VERSION = 7
"""The oldest client version still served. A change old pages cannot follow raises it to the new
version; an older page is closed with UNSUPPORTED_VERSION and told to reload (a tab left open
across an upgrade runs the old JavaScript)."""


class Want(enum.IntFlag):
    """Kinds of ephemeral events a client subscribes to (``hello.want``); committed ops, its own
    welcome, acks, errors and answers always come. Frames are encoded once per combination."""

    LIVE = 1  # begin, points, abort: others' strokes as they are drawn
    CURSORS = 2  # cursors
    PRESENCE = 4  # join, leave, presence: who is here
    PRESENT = 8  # lead, laser: a presenter's view to follow, laser pointers
    ALL = 15


WANT_NAMES = {
    "live": Want.LIVE,
    "cursors": Want.CURSORS,
    "presence": Want.PRESENCE,
    "present": Want.PRESENT,
}

COORD_SCALE = 4
"""Quanta per board unit: a quarter of a CSS pixel at 100% zoom, finer than any pointer reports."""

PRESSURE_SCALE = 100
"""Pressure travels as an int 0..100 (one msgpack byte) instead of a float (nine bytes)."""

TOOLS = ("pen", "highlighter", "line", "rect", "ellipse")
SHAPE_TOOLS = ("line", "rect", "ellipse")
PRESENTING_VERSION = 8
"""The version that brought ``lead`` and ``laser``: older clients are not sent them."""
SUBPROTOCOL = "whiteboard"
"""The WebSocket subprotocol a client with a URL hello offers, and the server selects."""
CLIENT_SUBPROTOCOL_PREFIX = "whiteboard.client."
"""Before the client's secret id in the subprotocols it offers with a URL hello: a header, so that
the secret stays out of URLs, which proxies log (the way Kubernetes carries bearer tokens)."""
LEAD_MODES = ("follow", "once", "stop")
"""``lead``: everyone follows my view / jump to my view once / stop following me."""
"""Shapes carry exactly two points: the start and end corners of the drag."""

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def random_key() -> str:
    """128 random bits, URL-safe, never starting with '-' (safe as a command-line argument): new
    board ids and view tokens."""
    while True:
        key = secrets.token_urlsafe(16)
        if not key.startswith("-"):
            return key


ID_CHARS = re.compile(r"[A-Za-z0-9_-]*")
ID_MAX_CHARS = 64
"""Board ids and op ids: URL- and file-name-safe, so an id never needs escaping anywhere."""
COLOR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")
NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
"""Control and bidi-override characters: they would let one name rewrite how others display."""


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server uses; 4000-4999 are the application's own."""

    GOING_AWAY = 1001  # server shutting down: reconnect and resume
    UNSUPPORTED_DATA = 1003  # a text frame: the protocol is binary msgpack only
    MESSAGE_TOO_BIG = 1009  # frame over max_frame_bytes (sent by Hypercorn itself)
    INTERNAL_ERROR = 1011  # a server bug or storage failure, never bad input
    SERVICE_RESTART = 1012  # (Redis mode) the board moved to another worker: reconnect, resume
    TRY_AGAIN_LATER = 1013  # (Redis mode) Redis is unreachable: reconnect with backoff
    BAD_HANDSHAKE = 4000  # the first frame was not a valid hello, or it never came
    BOARD_FULL = 4001  # max_connections_per_board reached
    RATE_LIMITED = 4002  # frames_per_second or bytes_per_second exceeded
    MALFORMED_FRAME = 4003  # not a msgpack map with a known type: the client is broken
    SLOW_CONSUMER = 4004  # the send queue overflowed; reconnect and resume from last seq
    TOO_MANY_ERRORS = 4005  # max_errors_per_connection invalid messages
    UNSUPPORTED_VERSION = 4006  # hello.v is a protocol version this server does not speak


class ErrorCode(enum.StrEnum):
    """``code`` of a recoverable ``error`` message: the op is rejected, the board is unchanged."""

    INVALID_MESSAGE = "invalid_message"
    STROKE_TOO_LONG = "stroke_too_long"
    BOARD_FULL = "board_full"
    STORAGE_FULL = "storage_full"
    UNKNOWN_STROKE = "unknown_stroke"
    TOO_MANY_LIVE_STROKES = "too_many_live_strokes"
    UNKNOWN_MEDIA = "unknown_media"
    VIEW_ONLY = "view_only"  # a view-only connection sent something other than a `peers` request


class ProtocolError(Exception):
    """Base of everything the protocol rejects."""


class MalformedFrame(ProtocolError):
    """Fatal: the frame is not a msgpack map with a known ``type``; close MALFORMED_FRAME."""


class InvalidMessage(ProtocolError):
    """Recoverable: the client gets an ``error`` naming ``op_id``; the board is unchanged."""

    code: ErrorCode = ErrorCode.INVALID_MESSAGE

    def __init__(self, reason: str, op_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.op_id = op_id


class StrokeTooLong(InvalidMessage):
    code = ErrorCode.STROKE_TOO_LONG

    def __init__(self, points: int, limit: int, op_id: str | None = None) -> None:
        super().__init__(f"stroke has {points} points; limit is {limit}", op_id)


@dataclass(frozen=True, slots=True)
class Limits:
    """The validation limits; built from ``Settings`` so every one is a documented setting."""

    max_points_per_stroke: int = 20_000
    max_coord: float = 10_000_000.0
    min_width: float = 0.5
    max_width: float = 500.0
    max_name_chars: int = 40
    max_ops_per_frame: int = 512
    max_erase_ids: int = 10_000
    max_text_chars: int = 4_000
    max_text_lines: int = 200
    min_text_size: float = 4.0
    max_text_size: float = 400.0
    max_element_scale: float = 1_000.0
    max_add_items: int = 1_000
    max_laser_points: int = 64


# --- client -> server messages ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """First frame of every connection. ``since`` is the last seq the client saw (None: all);
    ``version`` is the client's protocol version (1 when it sent none); ``want`` the ephemeral
    events it subscribes to."""

    client_id: str
    name: str
    color: str
    since: int | None
    version: int = 1
    want: Want = Want.ALL
    epoch: str | None = None  # the history the client's ``since`` counts in (welcome.epoch)


@dataclass(frozen=True, slots=True)
class Style:
    tool: str
    color: str
    width: float


@dataclass(frozen=True, slots=True)
class Stroke:
    """A complete stroke: a shape, a resend after reconnect, or a stroke drawn offline. ``m`` is
    its placement (``elements.py``), the identity unless it is a copy of a moved stroke."""

    id: str
    style: Style
    pts: tuple[int, ...]
    pressure: tuple[int, ...] | None
    m: tuple[float, float, float, float] = (1.0, 1.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Begin:
    """Starts a live stroke; ``pts`` opens with the absolute first point."""

    id: str
    style: Style
    pts: tuple[int, ...]
    pressure: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class Points:
    """Appends to a live stroke; every pair is a delta from the previous point."""

    id: str
    pts: tuple[int, ...]
    pressure: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class End:
    """Ends a live stroke and commits it to the board's log."""

    id: str


@dataclass(frozen=True, slots=True)
class Abort:
    """Drops one's own live stroke without committing it (a touch stroke that became a pinch)."""

    id: str


@dataclass(frozen=True, slots=True)
class Erase:
    id: str
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Clear:
    id: str


@dataclass(frozen=True, slots=True)
class Undo:
    id: str


@dataclass(frozen=True, slots=True)
class Redo:
    id: str


@dataclass(frozen=True, slots=True)
class Cursor:
    """Ephemeral pointer position in board units; ``None`` hides the cursor."""

    x: float | None
    y: float | None


@dataclass(frozen=True, slots=True)
class Rename:
    name: str
    color: str


@dataclass(frozen=True, slots=True)
class Laser:
    """Ephemeral laser-pointer points, absolute, in quanta (``[x0, y0, x1, y1, ...]``); ``new``
    starts a new trail rather than continuing the last one."""

    pts: tuple[int, ...]
    new: bool


@dataclass(frozen=True, slots=True)
class Lead:
    """A presenter's view (``rect``: x, y, width, height in board units) for everyone: to follow
    (``follow``), to jump to once (``once``); ``stop`` ends following (no rect)."""

    mode: str
    rect: tuple[float, float, float, float] | None


@dataclass(frozen=True, slots=True)
class PeersRequest:
    """Asks for the next page of the participant list: peers whose ``peer`` is above ``after``."""

    after: int


Message = (
    Hello
    | Stroke
    | Begin
    | Points
    | End
    | Abort
    | Erase
    | Clear
    | Undo
    | Redo
    | Cursor
    | Rename
    | PeersRequest
    | Laser
    | Lead
)
CommittingMessage = Stroke | End | Erase | Clear | Undo | Redo
"""Messages that append to the log and get a seq (``End`` commits the live stroke it ends)."""


# --- decoding -------------------------------------------------------------------------------------


def unpack(data: bytes) -> Any:
    """msgpack-decode untrusted bytes; every failure becomes :class:`MalformedFrame`."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=False)
    except Exception as exc:  # msgpack raises several types (ValueError, StackError, ...)
        raise MalformedFrame(f"frame is not valid msgpack: {type(exc).__name__}") from None


def decode_frame(data: bytes, limits: Limits) -> list[Message | InvalidMessage]:
    """Decode one client frame: a message map, or a ``batch`` map of message maps.

    Raises :class:`MalformedFrame` when the frame as a whole is unusable. An individual message
    that fails validation is returned in place as its :class:`InvalidMessage`, so one bad op in a
    batch costs only that op.
    """
    return [decode_or_error(obj, limits) for obj in frame_maps(data, limits)]


def frame_maps(data: bytes, limits: Limits) -> tuple[Any, ...]:
    """The messages of a frame, msgpack-decoded but not validated (``decode_or_error`` does one):
    a server validates them one at a time, so that a frame of big messages is work it can slice.
    Raises :class:`MalformedFrame` like ``decode_frame``."""
    obj = unpack(data)
    if not isinstance(obj, dict):
        raise MalformedFrame(f"frame must be a msgpack map, got {_kind(obj)}")
    if obj.get("type") != "batch":
        return (obj,)
    ops = obj.get("ops")
    if not isinstance(ops, tuple):
        raise MalformedFrame("batch.ops must be an array")
    if len(ops) > limits.max_ops_per_frame:
        raise MalformedFrame(f"batch has {len(ops)} ops; limit is {limits.max_ops_per_frame}")
    return ops


def decode_message(obj: Any, limits: Limits) -> Message:
    """Validate one decoded message map and build its dataclass; raise InvalidMessage if bad."""
    if not isinstance(obj, dict):
        raise InvalidMessage(f"message must be a map, got {_kind(obj)}")
    kind = obj.get("type")
    decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        raise InvalidMessage(f"unknown message type {kind!r}", _maybe_id(obj))
    try:
        return decoder(obj, limits)
    except InvalidMessage as exc:
        if exc.op_id is None:
            exc.op_id = _maybe_id(obj)
        raise


def decode_or_error(obj: Any, limits: Limits) -> Message | InvalidMessage:
    try:
        return decode_message(obj, limits)
    except InvalidMessage as exc:
        return exc


def _kind(value: Any) -> str:
    return type(value).__name__


def _maybe_id(obj: Any) -> str | None:
    op_id = obj.get("id") if isinstance(obj, dict) else None
    return op_id if isinstance(op_id, str) and ID_PATTERN.fullmatch(op_id) else None


def _op_id(obj: dict, key: str = "id") -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise InvalidMessage(f"{key} must be 1-64 characters of A-Z a-z 0-9 _ -")
    return value


def _number(obj: dict, key: str, low: float, high: float) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidMessage(f"{key} must be a number, got {_kind(value)}")
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidMessage(f"{key} must be between {low} and {high}, got {value}")
    return value


def _color(obj: dict) -> str:
    value = obj.get("color")
    if not isinstance(value, str) or not COLOR_PATTERN.fullmatch(value):
        raise InvalidMessage("color must be '#rrggbb'")
    return value.lower()


def clean_name(value: Any, limits: Limits) -> str:
    """A display name: trimmed, 1..max_name_chars, no control or bidi-override characters."""
    if not isinstance(value, str):
        raise InvalidMessage("name must be a string")
    name = " ".join(value.split())
    if not 1 <= len(name) <= limits.max_name_chars:
        raise InvalidMessage(f"name must be 1-{limits.max_name_chars} characters")
    if NAME_FORBIDDEN.search(name):
        raise InvalidMessage("name contains control or direction-override characters")
    return name


def _style(obj: dict, limits: Limits) -> Style:
    tool = obj.get("tool")
    if tool not in TOOLS:
        raise InvalidMessage(f"tool must be one of {', '.join(TOOLS)}")
    width = _number(obj, "width", limits.min_width, limits.max_width)
    return Style(tool, _color(obj), float(width))


def _int_array(obj: dict, key: str, low: int, high: int) -> tuple[int, ...]:
    value = obj.get(key)
    # set(map(type, ...)) runs in C: a 20,000-point stroke is checked in well under a millisecond
    if not isinstance(value, tuple) or (value and set(map(type, value)) != {int}):
        raise InvalidMessage(f"{key} must be an array of integers")
    if value and (min(value) < low or max(value) > high):
        raise InvalidMessage(f"{key} values must be between {low} and {high}")
    return value


def _points(
    obj: dict, limits: Limits, absolute: bool
) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    bound = quantise(limits.max_coord)
    pts = _int_array(obj, "pts", -2 * bound, 2 * bound)
    if len(pts) % 2:
        raise InvalidMessage("pts must hold x, y pairs")
    count = len(pts) // 2
    if count > limits.max_points_per_stroke:
        raise StrokeTooLong(count, limits.max_points_per_stroke)
    if absolute:
        if count == 0:
            raise InvalidMessage("a stroke needs at least one point")
        check_absolute_range(pts, 0, 0, bound)
    pressure = None
    if obj.get("p") is not None:
        pressure = _int_array(obj, "p", 0, PRESSURE_SCALE)
        if len(pressure) != count:
            raise InvalidMessage(f"p has {len(pressure)} values for {count} points")
    return pts, pressure


SHORT_POINTS = 64
"""Up to this many ints of ``pts``, ranges are checked in one loop rather than with lists."""


def check_absolute_range(pts: Sequence[int], x0: int, y0: int, bound: int) -> tuple[int, int]:
    """Raise unless every point of delta-coded ``pts`` (after x0, y0) is within +-bound quanta.

    Returns the last absolute point, so a live stroke can check its next batch against it.
    A live ``points`` op has a few points: one plain loop is 3x cheaper than building lists
    (``docs/performance.md``); a whole stroke of thousands is cheaper with C-level ``accumulate``.
    """
    if len(pts) <= SHORT_POINTS:
        x, y, low = x0, y0, -bound
        for index in range(0, len(pts) - 1, 2):
            x += pts[index]
            y += pts[index + 1]
            if not (low <= x <= bound and low <= y <= bound):
                raise InvalidMessage(
                    f"coordinates must be within +-{bound / COORD_SCALE} board units"
                )
        return x, y
    xs = list(accumulate(pts[0::2], initial=x0))
    ys = list(accumulate(pts[1::2], initial=y0))
    if min(xs) < -bound or max(xs) > bound or min(ys) < -bound or max(ys) > bound:
        raise InvalidMessage(f"coordinates must be within +-{bound / COORD_SCALE} board units")
    return xs[-1], ys[-1]


def _decode_hello(obj: dict, limits: Limits) -> Hello:
    since = obj.get("since")
    if since is not None and (type(since) is not int or since < 0):
        raise InvalidMessage("since must be a non-negative integer or nil")
    version = obj.get("v", 1)
    if type(version) is not int or version < 1:
        raise InvalidMessage("v must be a positive integer")
    want = obj.get("want")
    if want is None:
        wanted = Want.ALL
    elif isinstance(want, tuple) and len(want) <= len(WANT_NAMES) * 2:
        # Names this server does not know are ignored: a newer client may ask for more kinds.
        wanted = Want(0)
        for kind in want:
            wanted |= WANT_NAMES.get(kind, Want(0)) if isinstance(kind, str) else Want(0)
    else:
        raise InvalidMessage("want must be an array of event kinds")
    if version < PRESENTING_VERSION:
        wanted &= ~Want.PRESENT  # an older page would only drop lead and laser: not sent to it
    epoch = obj.get("epoch")
    if epoch is not None and (not isinstance(epoch, str) or not ID_CHARS.fullmatch(epoch)):
        raise InvalidMessage("epoch must be a string of A-Z a-z 0-9 _ -")
    if epoch is not None and len(epoch) > ID_MAX_CHARS:
        raise InvalidMessage(f"epoch must be at most {ID_MAX_CHARS} characters")
    name, color = clean_name(obj.get("name"), limits), _color(obj)
    return Hello(_op_id(obj, "client"), name, color, since, version, wanted, epoch or None)


def hello_from_url(
    query: Sequence[tuple[str, str]], subprotocols: Sequence[str], limits: Limits
) -> Hello | None:
    """The hello a client puts in its socket's URL instead of a first frame, so the server can send
    the welcome with the handshake: no round trip (docs/protocol.md, "Hello in the URL"). None when
    the query has no ``v`` (the first frame is the hello). ``query`` holds the decoded pairs of the
    query string; the client's secret id comes in ``subprotocols``, never in the URL. The same
    checks as a ``hello`` frame; :class:`InvalidMessage` when it is not one."""
    fields = dict(query)
    if "v" not in fields:
        return None
    obj: dict[str, Any] = {"name": fields.get("name"), "color": fields.get("color")}
    for key in ("v", "since"):
        text = fields.get(key)
        if text is not None and text != "":
            if not text.isascii() or not text.isdigit() or len(text) > 18:
                raise InvalidMessage(f"{key} must be a non-negative integer")
            obj[key] = int(text)
    if "want" in fields:  # comma-separated kinds; empty: none
        obj["want"] = tuple(kind for kind in fields["want"].split(",") if kind)
    if fields.get("epoch"):
        obj["epoch"] = fields["epoch"]
    clients = [
        offered[len(CLIENT_SUBPROTOCOL_PREFIX) :]
        for offered in subprotocols
        if offered.startswith(CLIENT_SUBPROTOCOL_PREFIX)
    ]
    if SUBPROTOCOL not in subprotocols or len(clients) != 1:
        raise InvalidMessage(
            f"a hello in the URL comes with the subprotocols {SUBPROTOCOL!r} and "
            f"'{CLIENT_SUBPROTOCOL_PREFIX}<client>'"
        )
    obj["client"] = clients[0]
    return _decode_hello(obj, limits)


def speaks(version: int) -> bool:
    """Whether this server serves a client of protocol ``version``."""
    return MIN_PROTOCOL_VERSION <= version <= PROTOCOL_VERSION


def _decode_stroke(obj: dict, limits: Limits) -> Stroke:
    op_id, style = _op_id(obj), _style(obj, limits)
    pts, pressure = _points(obj, limits, absolute=True)
    if style.tool in SHAPE_TOOLS and len(pts) != 4:
        raise InvalidMessage(f"a {style.tool} has exactly two points")
    return Stroke(op_id, style, pts, pressure)


def _decode_begin(obj: dict, limits: Limits) -> Begin:
    op_id, style = _op_id(obj), _style(obj, limits)
    pts, pressure = _points(obj, limits, absolute=True)
    if style.tool in SHAPE_TOOLS and len(pts) != 4:
        raise InvalidMessage(f"a {style.tool} has exactly two points")
    return Begin(op_id, style, pts, pressure)


def _decode_points(obj: dict, limits: Limits) -> Points:
    pts, pressure = _points(obj, limits, absolute=False)
    return Points(_op_id(obj), pts, pressure)


def _decode_erase(obj: dict, limits: Limits) -> Erase:
    ids = obj.get("ids")
    if not isinstance(ids, tuple) or not 1 <= len(ids) <= limits.max_erase_ids:
        raise InvalidMessage(f"ids must be an array of 1-{limits.max_erase_ids} stroke ids")
    if not _all_ids(ids):
        raise InvalidMessage("ids must hold stroke ids")
    return Erase(_op_id(obj), ids)


def _all_ids(values: tuple[Any, ...]) -> bool:
    """``ID_PATTERN.fullmatch`` on each of ``values``, as a few C-level passes (10,000 ids)."""
    return (
        set(map(type, values)) == {str}
        and 1 <= min(map(len, values))
        and max(map(len, values)) <= ID_MAX_CHARS
        and ID_CHARS.fullmatch("".join(values)) is not None
    )


def _decode_cursor(obj: dict, limits: Limits) -> Cursor:
    if obj.get("x") is None and obj.get("y") is None:
        return Cursor(None, None)
    bound = limits.max_coord
    return Cursor(float(_number(obj, "x", -bound, bound)), float(_number(obj, "y", -bound, bound)))


def _decode_rename(obj: dict, limits: Limits) -> Rename:
    return Rename(clean_name(obj.get("name"), limits), _color(obj))


def _decode_laser(obj: dict, limits: Limits) -> Laser:
    bound = quantise(limits.max_coord)
    pts = _int_array(obj, "pts", -bound, bound)
    if len(pts) % 2 or not pts:
        raise InvalidMessage("pts must hold at least one x, y pair")
    if len(pts) // 2 > limits.max_laser_points:
        raise InvalidMessage(f"a laser message holds at most {limits.max_laser_points} points")
    return Laser(pts, obj.get("new") is True)


def _decode_lead(obj: dict, limits: Limits) -> Lead:
    mode = obj.get("mode")
    if mode not in LEAD_MODES:
        raise InvalidMessage(f"mode must be one of {', '.join(LEAD_MODES)}")
    if mode == "stop":
        return Lead(mode, None)
    bound = limits.max_coord
    x, y = _number(obj, "x", -bound, bound), _number(obj, "y", -bound, bound)
    w, h = _number(obj, "w", 0, 2 * bound), _number(obj, "h", 0, 2 * bound)
    if not (w > 0 and h > 0):
        raise InvalidMessage("w and h must be above 0")
    return Lead(mode, (float(x), float(y), float(w), float(h)))


def _decode_peers(obj: dict, limits: Limits) -> PeersRequest:
    after = obj.get("after")
    if after is None:
        return PeersRequest(0)
    if type(after) is not int or after < 0:
        raise InvalidMessage("after must be a peer number or nil")
    return PeersRequest(after)


def message_types() -> frozenset[str]:
    """Every client message type this server decodes (``elements.py``'s included once imported):
    what a view-only connection must be refused, but for ``hello`` and ``peers``."""
    return frozenset(_DECODERS)


def register_decoders(decoders: dict[str, Any]) -> None:
    """Add message decoders (``elements.py`` registers the element messages here)."""
    _DECODERS.update(decoders)


_DECODERS: dict[str, Any] = {
    "hello": _decode_hello,
    "stroke": _decode_stroke,
    "begin": _decode_begin,
    "points": _decode_points,
    "end": lambda obj, limits: End(_op_id(obj)),
    "abort": lambda obj, limits: Abort(_op_id(obj)),
    "erase": _decode_erase,
    "clear": lambda obj, limits: Clear(_op_id(obj)),
    "undo": lambda obj, limits: Undo(_op_id(obj)),
    "redo": lambda obj, limits: Redo(_op_id(obj)),
    "cursor": _decode_cursor,
    "rename": _decode_rename,
    "peers": _decode_peers,
    "laser": _decode_laser,
    "lead": _decode_lead,
}


# --- re-encoding client messages ------------------------------------------------------------------

_WIRE_TYPES = {Stroke: "stroke", Erase: "erase", Clear: "clear", Undo: "undo", Redo: "redo"}
"""Committing messages a server forwards to another (Redis mode): ``End`` is never forwarded (the
live stroke it ends lives where its points arrived; it travels as a whole ``stroke``)."""


def to_wire(message: CommittingMessage) -> dict[str, Any]:
    """The message map a client would send for ``message``: ``decode_message`` gives it back.

    Field names follow the dataclasses, except that a ``style`` spreads into ``tool``, ``color``
    and ``width`` and ``pressure`` travels as ``p``. ``tests/test_protocol.py`` round-trips an
    example of every committing message type.
    """
    kind = _WIRE_TYPES.get(type(message))
    if kind is None:
        raise TypeError(f"{type(message).__name__} is not forwarded between servers")
    wire: dict[str, Any] = {"type": kind}
    for name in message.__dataclass_fields__:  # type: ignore[union-attr]
        value = getattr(message, name)
        if isinstance(value, Style):
            wire.update(tool=value.tool, color=value.color, width=value.width)
        elif name == "pressure":
            if value is not None:
                wire["p"] = value
        elif value is not None:
            wire[name] = value
    return wire


# --- encoding ------------------------------------------------------------------------------------

_packer = msgpack.Packer()


def pack(obj: dict) -> bytes:
    return _packer.pack(obj)


def quantise(value: float) -> int:
    return round(value * COORD_SCALE)


def delta_code(points: Iterable[tuple[float, float]]) -> tuple[int, ...]:
    """Board-unit points -> the wire's ``[x0, y0, dx1, dy1, ...]`` in quanta (tests, benchmarks)."""
    out: list[int] = []
    last_x = last_y = 0
    for x, y in points:
        qx, qy = quantise(x), quantise(y)
        out += (qx - last_x, qy - last_y)
        last_x, last_y = qx, qy
    return tuple(out)


def absolute_points(pts: Sequence[int]) -> list[tuple[float, float]]:
    """Delta-coded quanta -> absolute board-unit points (the renderer's view of a stroke)."""
    xs = accumulate(pts[0::2])
    ys = accumulate(pts[1::2])
    return [(x / COORD_SCALE, y / COORD_SCALE) for x, y in zip(xs, ys, strict=True)]


def stroke_fields(style: Style, pts: Sequence[int], pressure: Sequence[int] | None) -> dict:
    fields = {"tool": style.tool, "color": style.color, "width": style.width, "pts": pts}
    if pressure is not None:
        fields["p"] = pressure
    return fields


def encode_op(seq: int, kind: str, op_id: str, author: str, **fields: Any) -> bytes:
    """A committed op as stored in the log and broadcast: encoded once, the same bytes for all."""
    return pack({"type": kind, "seq": seq, "id": op_id, "by": author, **fields})


def encode_event(kind: str, **fields: Any) -> bytes:
    """An ephemeral event (presence, cursor, live stroke): broadcast, never logged."""
    return pack({"type": kind, **fields})


def encode_event_with(kind: str, encoded: Mapping[str, bytes], **fields: Any) -> bytes:
    """``encode_event`` where the values in ``encoded`` are msgpack bytes already (a welcome's
    list of peers, each encoded once when it joined): they are spliced in, not re-encoded."""
    body = pack({"type": kind, **fields})
    if body[0] & 0xF0 == 0x80:
        entries, start = body[0] & 0x0F, 1
    else:  # map 16: a map of 16 entries or more
        entries, start = int.from_bytes(body[1:3], "big"), 3
    entries += len(encoded)
    header = bytes((0x80 | entries,)) if entries < 16 else b"\xde" + entries.to_bytes(2, "big")
    parts = [header, body[start:]]
    for key, value in encoded.items():
        parts += (_packer.pack(key), value)
    return b"".join(parts)


def encode_array(encoded_items: Sequence[bytes]) -> bytes:
    """A msgpack array of items that are msgpack bytes already."""
    return array_header(len(encoded_items)) + b"".join(encoded_items)


def array_header(items: int) -> bytes:
    if items < 16:
        return bytes((0x90 | items,))
    if items < 0x10000:
        return b"\xdc" + items.to_bytes(2, "big")
    return b"\xdd" + items.to_bytes(4, "big")


_BATCH_PREFIX = pack({"type": "batch"})[1:]  # the map's key/value bytes without its header


def batch_header(op_count: int) -> bytes:
    """The bytes of ``{"type": "batch", "ops": [`` for ``op_count`` ops that follow, encoded."""
    return b"\x82" + _BATCH_PREFIX + b"\xa3ops" + array_header(op_count)


def encode_batch(encoded_ops: Sequence[bytes]) -> bytes:
    """Frame already-encoded ops as ``{"type": "batch", "ops": [...]}`` without re-encoding them."""
    return batch_header(len(encoded_ops)) + b"".join(encoded_ops)


def encode_hello(
    client_id: str,
    name: str,
    color: str,
    since: int | None = None,
    want: Sequence[str] | None = None,
) -> bytes:
    """A client's first frame at this protocol version (tests, benchmarks, other clients)."""
    hello = {"type": "hello", "v": PROTOCOL_VERSION, "client": client_id, "name": name}
    if want is not None:
        hello["want"] = list(want)
    return pack({**hello, "color": color, "since": since})


def hello_url(
    client_id: str,
    name: str,
    color: str,
    since: int | None = None,
    want: Sequence[str] | None = None,
    epoch: str | None = None,
) -> tuple[str, list[str]]:
    """The same hello for the socket's URL: its query string (after ``?``) and the subprotocols
    to offer (tests, benchmarks, other clients; the page builds it in ``session.js``)."""
    fields = {"v": str(PROTOCOL_VERSION), "name": name, "color": color}
    if since:
        fields["since"] = str(since)
        if epoch:
            fields["epoch"] = epoch
    if want is not None:
        fields["want"] = ",".join(want)
    return urlencode(fields, quote_via=quote), [SUBPROTOCOL, CLIENT_SUBPROTOCOL_PREFIX + client_id]


def encode_cursors(positions: Sequence[int], hidden: Sequence[int] = ()) -> bytes:
    """Peers' cursors in one message: ``c`` is ``[peer, x, y, peer, x, y, ...]`` with x, y in
    whole board units (a cursor needs no more), ``hide`` the peers whose cursor is gone."""
    fields: dict[str, Any] = {"c": positions}
    if hidden:
        fields["hide"] = hidden
    return encode_event("cursors", **fields)


def encode_error(code: ErrorCode, reason: str, op_id: str | None = None) -> bytes:
    fields: dict[str, Any] = {"code": code.value, "reason": reason}
    if op_id is not None:
        fields["id"] = op_id
    return encode_event("error", **fields)


from . import elements as _elements  # noqa: E402, F401  registers the element messages
