"""The renderer, without a server: strokes in, pictures out.

Golden images live in ``tests/golden/``; after an intended change of the drawing, regenerate them
with ``UPDATE_GOLDEN=1 pytest tests/test_render.py`` and look at them before committing.
"""

from __future__ import annotations

import gc
import io
import itertools
import json
import math
import os
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pikepdf
import pytest
import skia
from hypothesis import given, settings
from hypothesis import strategies as st
from perfect_freehand import get_stroke
from PIL import Image, ImageChops, ImageSequence, ImageStat

from tests.system_tools import require_program
from whiteboard.board import Board
from whiteboard.export import parts, pdf
from whiteboard.export.frame import (
    EMPTY_BOARD_UNITS,
    FIT_MARGIN_PX,
    FIT_WINDOW_STEP_PX,
    MARGIN_UNITS,
    ExportOptionError,
    ExportOptions,
    board_bounds,
    decode,
    fit_view,
    parse_options,
)
from whiteboard.export.frame import plan_frame as plan_frame_capped
from whiteboard.export.freehand import OPTIONS as FREEHAND_OPTIONS
from whiteboard.export.freehand import outline
from whiteboard.export.job import run_export
from whiteboard.export.pdf import render_pdf
from whiteboard.export.pdfcontent import ascii_ints, path_data, smoothed_paths
from whiteboard.export.raster import render_image, render_pixels
from whiteboard.export.render import (
    BUILDERS,
    Painter,
    is_smoothed,
    polygon_path,
    smoothed_path,
)
from whiteboard.export.spec import BoardTooLarge, ExportDeadline, ExportLimits
from whiteboard.export.svg import render_svg
from whiteboard.protocol import Erase, Stroke, Style, Undo, delta_code

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"
MAX_FRAMES = ExportLimits().timelapse_max_frames
DEFAULT_MAX_PIXELS = ExportLimits().max_pixels
GOLDEN_MAX_MEAN_ABS_DIFF = 0.5
"""Per channel, 0..255: room for another AGG build's rounding, far below any visible change
(a stroke one unit off measures 3-4 on the browser comparison scene)."""


def plan_frame(bounds: Any, options: ExportOptions, max_pixels: int = DEFAULT_MAX_PIXELS) -> Any:
    return plan_frame_capped(bounds, options, max_pixels)


def stroke(
    tool: str,
    points: list[tuple[float, float]],
    color: str = "#000000",
    width: float = 4,
    pressure: list[int] | None = None,
    op_id: str = "s",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "type": "stroke",
        "id": op_id,
        "tool": tool,
        "color": color,
        "width": width,
        "pts": delta_code(points),
    }
    if pressure is not None:
        op["p"] = tuple(pressure)
    return op


def tools_scene() -> list[dict[str, Any]]:
    wave = [(10 + 3 * i, 30 + 15 * math.sin(i / 4)) for i in range(40)]
    return [
        stroke("pen", wave, "#1e88e5", 5),
        stroke("highlighter", [(5, 20), (120, 40), (10, 55), (130, 60)], "#fdd835", 16),
        stroke(
            "pen",
            [(140, 10 + 3 * i) for i in range(20)],
            "#e53935",
            8,
            [20 + 4 * i for i in range(20)],
        ),
        stroke("line", [(10, 80), (120, 100)], "#000000", 3),
        stroke("rect", [(20, 110), (70, 140)], "#43a047", 4),
        stroke("ellipse", [(90, 110), (160, 145)], "#8e24aa", 3),
        stroke("pen", [(180, 20)], "#3949ab", 12),
    ]


def render(strokes: list[dict[str, Any]], **options: Any) -> Image.Image:
    opts = ExportOptions(**options)
    return render_image(strokes, plan_frame(board_bounds(strokes), opts), opts.background)


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size and a.mode == b.mode, (a.size, b.size, a.mode, b.mode)
    stat = ImageStat.Stat(ImageChops.difference(a, b))
    return sum(stat.mean) / len(stat.mean)


def check_golden(name: str, image: Image.Image) -> None:
    path = GOLDEN / name
    if UPDATE_GOLDEN or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        image.save(path, optimize=True)
        if not UPDATE_GOLDEN:
            pytest.fail(f"created missing golden image {path}: look at it, then rerun")
        return
    golden = Image.open(path)
    golden.load()
    diff = mean_abs_diff(image, golden)
    assert diff < GOLDEN_MAX_MEAN_ABS_DIFF, f"{name} differs from the golden image by {diff:.3f}"


# --- golden images ----------------------------------------------------------------------------


def test_every_tool_matches_the_golden_image() -> None:
    check_golden("tools.png", render(tools_scene()))


def test_scale_two_matches_the_golden_image() -> None:
    check_golden("tools_scale2.png", render(tools_scene()[:3], scale=2))


def test_transparent_background_matches_the_golden_image() -> None:
    check_golden("transparent.png", render(tools_scene()[:3], background="transparent"))


# --- drawing rules of docs/protocol.md ----------------------------------------------------------


def pixel(
    image: Image.Image, frame_x: float, frame_y: float, x: float, y: float, scale: float = 1
) -> tuple[int, ...]:
    return image.getpixel((int((x - frame_x) * scale), int((y - frame_y) * scale)))


def test_pen_has_round_caps_that_reach_half_the_width_beyond_the_end() -> None:
    ops = [stroke("pen", [(0, 0), (100, 0)], width=20)]
    frame = plan_frame(board_bounds(ops), ExportOptions())
    image = render_image(ops, frame)
    assert pixel(image, frame.x, frame.y, 107, 0) == (0, 0, 0)  # inside the round cap
    assert pixel(image, frame.x, frame.y, 107, 8) == (255, 255, 255)  # outside it (a butt: ink)
    assert pixel(image, frame.x, frame.y, 112, 0) == (255, 255, 255)


@pytest.mark.parametrize("tool", ["rect", "ellipse", "line"])
def test_shapes_do_not_depend_on_the_drag_direction(tool: str) -> None:
    corners = [[(10, 10), (90, 60)], [(90, 60), (10, 10)], [(90, 10), (10, 60)]]
    if tool == "line":
        corners = corners[:2]
    frame = plan_frame((4, 4, 96, 66), ExportOptions())
    images = [render_image([stroke(tool, c, width=6)], frame) for c in corners]
    assert all(mean_abs_diff(images[0], other) == 0 for other in images[1:])
    assert images[0].getpixel((int(50 - frame.x), int(35 - frame.y))) == (
        (0, 0, 0) if tool == "line" else (255, 255, 255)
    )  # outlined, not filled


def test_highlighter_is_translucent_and_its_own_overlaps_do_not_darken() -> None:
    zigzag = [(0, 0), (100, 0), (0, 10), (100, 10)]  # passes over itself
    ops = [stroke("highlighter", zigzag, "#0000ff", 30)]
    frame = plan_frame(board_bounds(ops), ExportOptions())
    image = render_image(ops, frame)
    once = pixel(image, frame.x, frame.y, 50, -12)
    overlapped = pixel(image, frame.x, frame.y, 50, 5)
    expected = round(255 * 0.65)
    assert abs(once[0] - expected) <= 1 and once[2] == 255
    assert overlapped == once


def test_pressure_changes_the_width_of_a_pen_stroke() -> None:
    light = render([stroke("pen", [(0, 0), (50, 0), (100, 0)], width=20, pressure=[0, 0, 0])])
    heavy = render([stroke("pen", [(0, 0), (50, 0), (100, 0)], width=20, pressure=[100] * 3)])
    ink = lambda image: sum(1 for v in image.convert("L").tobytes() if v < 128)  # noqa: E731
    assert ink(heavy) > 2.5 * ink(light)


def test_edges_are_anti_aliased() -> None:
    image = render([stroke("pen", [(0, 0), (100, 37)], width=5)]).convert("L")
    levels = set(image.tobytes())
    assert len(levels) > 30, "a diagonal line should have many grey levels on its edges"


def test_strokes_thinner_than_a_pixel_fade_instead_of_thickening() -> None:
    ops = [stroke("line", [(0, 0), (1000, 0)], width=2)]  # 0.2 px at scale 0.1
    opts = ExportOptions(scale=0.1, region=(-100, -100, 1200, 200))
    image = render_image(ops, plan_frame(None, opts)).convert("L")
    column = [image.getpixel((50, y)) for y in range(image.height)]
    ink = sum(255 - v for v in column) / 255  # pixels' worth of ink across the line
    assert ink == pytest.approx(0.2, abs=0.03)
    assert min(column) > 255 * 0.7


def test_transparent_background_keeps_colours_and_alpha() -> None:
    ops = [
        stroke("pen", [(0, 0), (100, 37)], "#ff0000", 5),
        stroke("highlighter", [(0, 50), (100, 50)], "#00ff00", 10),
    ]
    frame = plan_frame(board_bounds(ops), ExportOptions(background="transparent"))
    image = render_image(ops, frame, "transparent")
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0
    red, green, blue, alpha = pixel(image, frame.x, frame.y, 50, 50)
    assert (red, green, blue) == (0, 255, 0) and abs(alpha - 0.35 * 255) < 1.5
    edge = [p for p in image.get_flattened_data() if 0 < p[3] < 255 and p[1] == 0]
    assert edge and all(p[0] > 250 for p in edge), "edges must not darken towards black"


def test_empty_board_is_a_small_blank_picture() -> None:
    frame = plan_frame(None, ExportOptions())
    image = render_image([], frame)
    assert image.size == (EMPTY_BOARD_UNITS, EMPTY_BOARD_UNITS)
    assert image.getextrema() == ((255, 255),) * 3


def test_frame_is_the_ink_plus_a_margin() -> None:
    ops = [stroke("line", [(100, 200), (300, 250)], width=10)]
    frame = plan_frame(board_bounds(ops), ExportOptions(scale=2))
    assert (frame.x, frame.y) == (95 - MARGIN_UNITS, 195 - MARGIN_UNITS)
    assert frame.width == 2 * (210 + 2 * MARGIN_UNITS)
    assert frame.height == 2 * (60 + 2 * MARGIN_UNITS)


def test_a_picture_over_the_pixel_cap_is_scaled_down() -> None:
    frame = plan_frame(None, ExportOptions(scale=4, region=(0, 0, 10_000, 10_000)), 1_000_000)
    assert frame.width * frame.height <= 1_000_000
    assert frame.scaled_down and frame.scale == pytest.approx(0.1, rel=0.01)


def test_region_selects_part_of_the_board() -> None:
    ops = [stroke("line", [(0, 0), (1000, 0)], width=10)]
    opts = ExportOptions(region=(490, -10, 20, 20), background="#102030")
    image = render_image(ops, plan_frame(board_bounds(ops), opts), opts.background)
    assert image.size == (20, 20)
    assert image.getpixel((10, 10)) == (0, 0, 0)
    assert image.getpixel((10, 1)) == (16, 32, 48)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"scale": "0"}, "scale must be between"),
        ({"scale": "nan"}, "scale must be between"),
        ({"scale": "big"}, "scale must be a number"),
        ({"background": "red"}, "background must be"),
        ({"region": "1,2,3"}, "region must be x,y,w,h"),
        ({"region": "0,0,-5,5"}, "region width and height"),
        ({"fit": "1280,800"}, "fit must be width,height,dpr"),
        ({"fit": "0,800,1"}, "fit must be width,height,dpr"),
        ({"fit": "1280,800,0"}, "fit must be width,height,dpr"),
        ({"fit": "1280,800,inf"}, "fit must be width,height,dpr"),
        ({"fit": "1280,800,1", "region": "0,0,5,5"}, "fit picks the scale and region"),
        ({"fit": "1280,800,1", "scale": "2"}, "fit picks the scale and region"),
    ],
)
def test_bad_options_say_what_is_wrong(query: dict[str, str], message: str) -> None:
    with pytest.raises(ExportOptionError, match=message):
        parse_options(**query)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.none(), st.text(max_size=20)),
    st.one_of(st.none(), st.text(max_size=20)),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_any_query_gives_options_or_a_clear_error(
    scale: str | None, background: str | None, region: str | None
) -> None:
    try:
        options = parse_options(scale, background, region)
    except ExportOptionError as exc:
        assert str(exc).split()[0] in ("scale", "background", "region")
    else:
        assert 0.1 <= options.scale <= 4


def test_options_key_tells_close_regions_apart() -> None:
    near = parse_options(region="1234567.25,0,10,10").key()
    assert near != parse_options(region="1234567.5,0,10,10").key()
    assert parse_options(scale="1").key() == parse_options(scale="1.0").key()


def test_a_fit_is_the_view_a_page_of_that_window_opens_at() -> None:
    """100% at the origin when the ink is in sight there; else canvas.js's zoom to fit: the
    ink (one unit around it, as the page's bounds) centred with 40 px around, at most 400%."""
    assert fit_view((10, 10, 500, 300), 1280, 800, 1) == (0.0, 0.0, 1.0)
    assert fit_view(None, 1280, 800, 2) == (0.0, 0.0, 1.0)
    x, y, zoom = fit_view((-1001, -501, 5999, 3499), 1280, 800, 1)  # 7002 x 4002 with the unit
    assert zoom == min((1280 - 80) / 7002, (800 - 80) / 4002)
    assert (x, y) == (2499 - 640 / zoom, 1499 - 400 / zoom)
    assert fit_view((0, 0, 10, 2000), 1280, 800, 1)[2] == 720 / 2002  # tall: the height decides
    assert fit_view((-5, 0, 10, 10), 1280, 800, 2)[2] == 2.0  # 4 px per unit at most (MAX_SCALE)
    assert fit_view((0, 0, 1e6, 1e6), 1280, 800, 1)[2] == 0.1  # the smallest scale drawn


def test_a_fit_frame_is_the_window_at_its_view() -> None:
    options = parse_options(fit="1280,800,2", background="transparent")
    frame = plan_frame((-1001, -501, 5999, 3499), options, 16_000_000)
    assert frame.view == fit_view((-1001, -501, 5999, 3499), 1280, 800, 2)
    assert (frame.x, frame.y) == frame.view[:2] and frame.scale == frame.view[2] * 2
    assert (frame.width, frame.height) in ((2560, 1600), (2561, 1600), (2560, 1601), (2561, 1601))
    assert not frame.scaled_down
    assert options.key() != parse_options(fit="1280,800,1", background="transparent").key()
    assert parse_options(scale="1").key() == "s1.0;bwhite;r-"  # unchanged without a fit


def test_nearby_windows_share_one_fit_picture_that_each_crops_exactly() -> None:
    """A first picture (view.png) is rendered for the windows whose sides round down to the same
    multiple of ``FIT_WINDOW_STEP_PX``: at the fit of the smallest of them, over the largest.
    Each page opens at that zoom with the ink centred in its own window, a whole number of
    device pixels into the picture, so the crop it shows is a render of its view; the ink stays
    in sight with at least the page's margin."""
    ink = (-1001.0, -501.0, 5999.0, 3499.0)
    step = FIT_WINDOW_STEP_PX
    for dpr in (1.0, 1.25, 2.0):
        shared = parse_options(fit=f"1300,812,{dpr}", background="transparent").shared_fit()
        frame = plan_frame(ink, shared, 16_000_000)
        zoom = fit_view(ink, 1280, 768, dpr)[2]  # the step's smallest window (800 = 12.5 steps)
        assert frame.scale == zoom * dpr and frame.width >= (1280 + step) * dpr
        for width, height in ((1280, 768), (1300, 812), (1343, 831)):
            x, y, page_zoom = frame.page_view(width, height)
            assert page_zoom == zoom
            for into in ((x - frame.x) * frame.scale, (y - frame.y) * frame.scale):
                assert into >= 0 and abs(into - round(into)) < 1e-6  # whole device pixels in
            assert (x + width / zoom - frame.x) * frame.scale <= frame.width  # covered
            assert (y + height / zoom - frame.y) * frame.scale <= frame.height
            x0, y0, x1, y1 = ink[0] - 1, ink[1] - 1, ink[2] + 1, ink[3] + 1
            margins = (x0 - x, y0 - y, x + width / zoom - x1, y + height / zoom - y1)
            assert min(margins) * zoom >= FIT_MARGIN_PX - 1  # in sight, as the page's own fit


def test_a_shared_fit_picture_of_ink_in_sight_at_the_origin_keeps_the_origin() -> None:
    shared = parse_options(fit="1300,812,1").shared_fit()
    frame = plan_frame((10, 10, 1200, 700), shared, 16_000_000)
    assert (frame.x, frame.y, frame.scale) == (0.0, 0.0, 1.0)
    assert frame.page_view(1300, 812) == (0.0, 0.0, 1.0)
    assert frame.width >= 1280 + FIT_WINDOW_STEP_PX


def test_windows_in_one_bucket_share_the_key_and_others_do_not() -> None:
    def key(window: str) -> str:
        return parse_options(fit=window, background="transparent").shared_fit().key()

    step = int(FIT_WINDOW_STEP_PX)
    assert key("1280,800,1") == key("1300,768,1") == key(f"{1280 + step - 1},{768 + step - 1},1")
    assert key("1280,800,1") != key(f"{1280 + step},800,1") != key("1280,800,2")
    assert key("1280,800,1") != parse_options(fit="1280,800,1", background="transparent").key()
    small = parse_options(fit="40,30,1")  # a window under one step: its own picture
    assert small.shared_fit() == small


def test_background_colour_may_omit_the_hash() -> None:
    assert parse_options(background="FF8800").background == "#ff8800"
    assert parse_options(background="#ff8800").background == "#ff8800"


# --- boards: erased and undone strokes ------------------------------------------------------------


def log_of(*messages: Any) -> list[bytes]:
    board = Board(max_strokes=1000)
    return [board.commit(message, "author") for message in messages]


def pen(op_id: str, points: list[tuple[float, float]]) -> Stroke:
    return Stroke(op_id, Style("pen", "#000000", 6.0), delta_code(points), None)


def test_erased_and_undone_strokes_are_not_exported() -> None:
    drawn = (
        pen("a", [(0, 0), (100, 0)]),
        pen("b", [(0, 50), (100, 50)]),
        pen("c", [(0, 100), (100, 100)]),
    )
    result = run_export("svg", ExportOptions(), records=log_of(*drawn, Erase("e", ("a",))))
    assert result.data.count(b"<path") == 2
    assert b"M0 0" not in result.data
    records = log_of(*drawn, Erase("e", ("a",)), Undo("u"))  # the erase undone: "a" is back
    assert run_export("svg", ExportOptions(), records=records).data.count(b"<path") == 3
    records = log_of(pen("a", [(0, 0), (100, 0)]), pen("b", [(0, 50), (100, 50)]), Undo("u"))
    result = run_export("svg", ExportOptions(), records=records)
    assert result.data.count(b"<path") == 1


# --- SVG, PDF, GIF ------------------------------------------------------------------------------


def test_svg_has_one_vector_element_per_stroke() -> None:
    ops = tools_scene()
    frame = plan_frame(board_bounds(ops), ExportOptions())
    document = render_svg(ops, frame)
    root = ET.fromstring(document)
    elements = [e for e in root if not e.tag.endswith("rect") or e.get("stroke")]
    assert len(elements) == len(ops)
    assert root.get("width") == str(frame.width)
    assert 'stroke-linecap="round"' in document and 'opacity="0.35"' in document
    assert len(document) < 8000


def test_pdf_is_one_page() -> None:
    result = run_export("pdf", ExportOptions(), records=log_of(pen("a", [(0, 0), (100, 0)])))
    assert result.data.startswith(b"%PDF")
    assert b"/Count 1" in result.data


def gif_frames(data: bytes) -> list[Image.Image]:
    return [frame.convert("RGB") for frame in ImageSequence.Iterator(Image.open(io.BytesIO(data)))]


def test_timelapse_of_one_stroke_animates_from_a_blank_board() -> None:
    result = run_export("gif", ExportOptions(), records=log_of(pen("a", [(0, 0), (100, 0)])))
    frames = gif_frames(result.data)
    assert len(frames) == 2
    assert frames[0].getextrema() == ((255, 255),) * 3
    assert frames[-1].convert("L").getextrema()[0] < 10


def test_timelapse_of_one_freehand_stroke_shows_it_growing() -> None:
    wave = [(3 * i, 20 * math.sin(i / 5)) for i in range(60)]
    records = log_of(Stroke("w", Style("pen", "#000000", 4.0), delta_code(wave), None))
    frames = gif_frames(run_export("gif", ExportOptions(), records=records).data)
    ink = [sum(1 for v in frame.convert("L").tobytes() if v < 128) for frame in frames]
    assert len(frames) == 1 + 12 + 1  # blank, MAX_GROWTH_FRAMES partial strokes, the stroke
    assert ink[0] == 0 and all(a < b for a, b in itertools.pairwise(ink))


def test_timelapse_replays_erase_and_has_a_bounded_frame_count() -> None:
    strokes = [pen(f"s{i}", [(i * 3, 0), (i * 3, 50)]) for i in range(400)]
    records = log_of(*strokes, Erase("e", tuple(f"s{i}" for i in range(400))))
    frames = gif_frames(run_export("gif", ExportOptions(), records=records).data)
    assert 2 < len(frames) <= MAX_FRAMES + 1
    assert frames[-1].getextrema() == ((255, 255),) * 3  # everything erased at the end
    assert frames[-2].convert("L").getextrema()[0] < 10


def test_timelapse_shows_an_undo_in_the_middle_of_the_history() -> None:
    records = log_of(
        pen("a", [(0, 0), (100, 0)]),
        pen("b", [(0, 50), (100, 50)]),
        Undo("u"),
        pen("c", [(0, 100), (100, 100)]),
    )
    frames = gif_frames(run_export("gif", ExportOptions(), records=records).data)
    assert len(frames) == 5  # blank, a, a+b, a (b undone), a+c
    ink = [[frame.getpixel((66, 19 + y))[0] < 128 for y in (0, 50, 100)] for frame in frames]
    assert ink == [
        [False] * 3,
        [True, False, False],
        [True, True, False],
        [True, False, False],
        [True, False, True],
    ]


# --- perfect-freehand: the same outlines as the browser's module ---------------------------------

FREEHAND_CASES = GOLDEN / "freehand_outlines.json"


def freehand_inputs() -> list[dict[str, Any]]:
    spiral = [
        [10 + 3 * i * math.cos(i / 3), 20 + 3 * i * math.sin(i / 3), min(1, 0.2 + 0.03 * i)]
        for i in range(30)
    ]
    return [
        {"size": 4, "points": [[0, 0, 0.5]]},
        {"size": 6, "points": [[0, 0, 0.5], [10, 5, 0.6]]},
        {"size": 10, "points": spiral},
        {
            "size": 8,
            "points": [[40 + 6 * i, 250 - 2 * i, (50 + (i * 7) % 50) / 100] for i in range(20)],
        },
        {"size": 20, "points": [[0, 0, 0], [30, 0, 1], [30, 30, 0.5], [0, 0, 0.25]]},
    ]


def test_freehand_outlines_match_the_shared_golden_vectors() -> None:
    """The same JSON is checked against static/vendor/perfect-freehand in tests/browser."""
    outlines = [
        get_stroke(case["points"], size=case["size"], **FREEHAND_OPTIONS)
        for case in freehand_inputs()
    ]
    if UPDATE_GOLDEN or not FREEHAND_CASES.exists():
        cases = [
            {**case, "outline": [list(point) for point in outline]}
            for case, outline in zip(freehand_inputs(), outlines, strict=True)
        ]
        FREEHAND_CASES.write_text(json.dumps({"options": FREEHAND_OPTIONS, "cases": cases}))
    golden = json.loads(FREEHAND_CASES.read_text())
    fast = [
        outline(
            [p[0] for p in case["points"]],
            [p[1] for p in case["points"]],
            [p[2] for p in case["points"]],
            case["size"],
        )
        for case in freehand_inputs()
    ]
    for case, port, ours in zip(golden["cases"], outlines, fast, strict=True):
        assert len(port) == len(ours) == len(case["outline"])
        for (x, y), (gx, gy) in zip(port, case["outline"], strict=True):
            assert abs(x - gx) < 1e-6 and abs(y - gy) < 1e-6
        assert ours == [tuple(point) for point in port]


# --- robustness -------------------------------------------------------------------------------

coords = st.floats(-500, 500, allow_nan=False).map(lambda v: round(v * 4) / 4)


@st.composite
def strokes(draw: st.DrawFn) -> dict[str, Any]:
    tool = draw(st.sampled_from(["pen", "highlighter", "line", "rect", "ellipse"]))
    count = 2 if tool in ("line", "rect", "ellipse") else draw(st.integers(1, 30))
    points = draw(st.lists(st.tuples(coords, coords), min_size=count, max_size=count))
    pressure = None
    if tool == "pen" and draw(st.booleans()):
        pressure = draw(st.lists(st.integers(0, 100), min_size=count, max_size=count))
    width = draw(st.sampled_from([0.5, 1, 3.5, 40, 500]))
    return stroke(tool, points, "#123456", width, pressure)


@settings(max_examples=40, deadline=None)
@given(st.lists(strokes(), min_size=1, max_size=4), st.sampled_from([0.1, 1, 2.5]))
def test_any_strokes_render_within_the_frame(ops: list[dict[str, Any]], scale: float) -> None:
    frame = plan_frame(board_bounds(ops), ExportOptions(scale=scale), 4_000_000)
    image = render_image(ops, frame)
    assert image.size == (frame.width, frame.height)
    assert image.convert("L").getextrema()[0] < 255 or all(op["width"] * scale < 1 for op in ops)
    render_svg(ops, frame)


# --- the fast paths are the same drawing -------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(coords, coords, st.integers(0, 100)), min_size=1, max_size=60),
    st.sampled_from([0.5, 2, 3.5, 8, 30, 500]),
)
def test_fast_freehand_outline_is_bit_identical_to_the_port(
    samples: list[tuple[float, float, int]], size: float
) -> None:
    points = [(x, y, p / 100) for x, y, p in samples]
    expected = [tuple(point) for point in get_stroke(points, size=size, **FREEHAND_OPTIONS)]
    assert (
        outline(
            [x for x, _, _ in points], [y for _, y, _ in points], [p for _, _, p in points], size
        )
        == expected
    )


def test_paths_built_from_arrays_equal_paths_built_call_by_call() -> None:
    xy = np.array([(0.25, 0.5), (10.0, 3.75), (20.5, -7.0), (31.0, 2.0), (40.0, 0.0)])
    fast = smoothed_path(xy)
    slow = skia.Path()
    slow.moveTo(0.25, 0.5)
    for i in range(1, len(xy) - 1):
        slow.quadTo(*xy[i], *((xy[i] + xy[i + 1]) / 2))
    slow.lineTo(40.0, 0.0)
    assert fast == slow
    assert polygon_path([(0, 0), (5, 0), (5, 5)]) == skia.Path.Polygon(
        [skia.Point(0, 0), skia.Point(5, 0), skia.Point(5, 5)], True
    )


def big_board(strokes: int = 600, points: int = 400) -> list[dict[str, Any]]:
    rng = np.random.default_rng(3)
    ops = []
    for i in range(strokes):
        steps = rng.normal(0, 2.5, (points, 2)).cumsum(axis=0) + rng.uniform(0, 1500, 2)
        pressure = [int(v) for v in rng.integers(10, 100, points)] if i % 5 == 0 else None
        ops.append(
            stroke(
                "highlighter" if i % 4 == 0 else "pen",
                [(float(x), float(y)) for x, y in steps],
                "#%06x" % (i * 7919 % 2**24),
                float(rng.choice([0.5, 3, 12, 30])),
                pressure,
                f"s{i}",
            )
        )
    return ops


def records_of(ops: list[dict[str, Any]]) -> list[bytes]:
    """The log of a board on which ``ops`` (as ``stroke`` builds them) were drawn in turn."""
    return log_of(
        *(
            Stroke(op["id"], Style(op["tool"], op["color"], op["width"]), op["pts"], op.get("p"))
            for op in ops
        )
    )


@pytest.mark.parametrize("background", ["white", "transparent"])
def test_bands_drawn_by_helper_processes_give_the_same_picture(background: str) -> None:
    """Each process loads the board from its records and draws its own band. Equal but for
    anti-aliasing near the cut: Skia picks its path blitter by the clipped size of a path, so a
    stroke cut in two rounds some edge pixels differently (measured mean 0.008, every other
    pixel identical); a missing or misplaced band would be far off."""
    ops = big_board()  # 240,000 points: two bands
    records = records_of(ops)
    options = ExportOptions(scale=0.5, background=background)
    timings: dict[str, float] = {}
    two = ExportLimits(processes=2)
    tiled = run_export("png", options, records=records, limits=two, timings=timings)
    whole = run_export("png", options, records=records, limits=ExportLimits(processes=1))
    assert timings["helper_load_s"] > 0  # a helper loaded the board and drew a band
    assert tiled.frame == whole.frame and tiled.seq == whole.seq == len(ops)
    tiled_image, whole_image = (Image.open(io.BytesIO(r.data)) for r in (tiled, whole))
    expected_mode = "RGBA" if background == "transparent" else "RGB"
    assert tiled_image.mode == whole_image.mode == expected_mode
    assert tiled_image.size == whole_image.size
    one_process = render_image(ops, whole.frame, background)
    assert ImageChops.difference(whole_image, one_process).getbbox() is None
    assert mean_abs_diff(tiled_image, whole_image) < 0.05
    off = (
        ImageChops.difference(tiled_image, whole_image).convert("L").point(lambda v: 255 * (v > 16))
    )
    assert off.histogram()[255] < 0.001 * whole.frame.width * whole.frame.height


def test_an_export_past_its_deadline_stops_with_a_reason() -> None:
    ops = big_board(60)
    frame = plan_frame(board_bounds(ops), ExportOptions())
    with pytest.raises(ExportDeadline, match="stopped at stroke 0 of"):
        render_pixels(ops, frame, deadline=time.time() - 1)


def test_an_export_pauses_the_cyclic_collector_and_restores_it() -> None:
    seen = []
    records = log_of(pen("a", [(i, 0) for i in range(50)]))
    run_export(
        "png", ExportOptions(), records=records, progress=lambda *_: seen.append(gc.isenabled())
    )
    assert seen and not any(seen)
    assert gc.isenabled()
    with pytest.raises(BoardTooLarge):
        run_export("png", ExportOptions(), records=records, limits=ExportLimits(max_points=2))
    assert gc.isenabled()


def test_a_board_over_max_points_is_refused_before_drawing() -> None:
    records = log_of(pen("a", [(i, 0) for i in range(50)]), pen("b", [(i, 9) for i in range(50)]))
    with pytest.raises(BoardTooLarge, match=r"100 visible points.*limited to 60"):
        run_export("png", ExportOptions(), records=records, limits=ExportLimits(max_points=60))


def pdf_page_content(data: bytes) -> bytes:
    """The page's content streams, decoded and joined as a PDF reader joins them."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        contents = pdf.pages[0].obj.Contents
        streams = contents if isinstance(contents, pikepdf.Array) else [contents]
        return b"\n".join(stream.read_bytes() for stream in streams)


def test_pdf_holds_vector_paths_not_a_picture() -> None:
    result = run_export("pdf", ExportOptions(), records=log_of(pen("a", [(0, 0), (100, 0)])))
    assert b"/Subtype /Image" not in result.data and b"/DCTDecode" not in result.data
    page = pdf_page_content(result.data)
    assert b" m\n" in page and b" l\n" in page and b"S\n" in page  # moveto, lineto, stroke
    assert b"1 J 1 j" in page  # round caps and joins


@pytest.mark.parametrize("scale", [1, 2])
def test_pdf_rendered_by_poppler_looks_like_the_png(scale: float, tmp_path: Path) -> None:
    """Every tool (pressure outlines, highlighter alpha, shapes, a dot) at its place and size:
    a stroke one unit off measures 3-4."""
    ops = tools_scene()
    frame = plan_frame(board_bounds(ops), ExportOptions(scale=scale))
    poppler = poppler_page(render_pdf(ops, frame), tmp_path)
    assert mean_abs_diff(poppler, render_image(ops, frame)) < 1.2


def test_pdf_pens_from_numpy_are_the_skia_paths_of_the_png() -> None:
    ops = big_board(40, 30)
    geometry = decode(ops)
    indices = np.arange(len(ops))
    pens = [i for i in indices.tolist() if is_smoothed(ops[i], 30)]
    for index, fast in zip(pens, smoothed_paths(geometry, np.array(pens)), strict=True):
        slow = path_data(smoothed_path(geometry.points(index)))
        assert (fast.verbs == slow.verbs).all()
        assert np.allclose(fast.points, slow.points, atol=1e-3)  # Skia keeps float32


def test_pdf_numbers_are_written_exactly() -> None:
    values = np.array([0, 5, -5, 10, -131_072, 131_071, 131_072, -240_000_000, 7], np.int64)
    suffixes = np.array([0, 1, 2, 3, 0, 0, 0, 0, 3], np.uint8)
    text, lengths = ascii_ints(values, suffixes)
    assert text == b"0 5 m\n-5 l\n10 c\n-131072 131071 131072 -240000000 7 c\n"
    assert lengths.sum() == len(text)
    rng = np.random.default_rng(7)
    for high in (100_000, 10**9):
        values = rng.integers(-high, high, 50_000)
        text, _ = ascii_ints(values, np.zeros(len(values), np.uint8))
        assert text == (" ".join(map(str, values.tolist())) + " ").encode()


def poppler_page(data: bytes, tmp_path: Path) -> Image.Image:
    """The PDF's page as poppler draws it: a second, independent reader of our PDFs."""
    pdftoppm = require_program("pdftoppm", "poppler-utils", "the PDF tests")
    (tmp_path / "page.pdf").write_bytes(data)
    subprocess.run(
        [pdftoppm, "-r", "96", "-png", "-singlefile", tmp_path / "page.pdf", tmp_path / "p"],
        check=True,
    )
    return Image.open(tmp_path / "p.png").convert("RGB")


def test_pdf_parts_from_helper_processes_make_the_same_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Content cut into runs (each its own process) and pieces (each its own operators) draws
    what one process writing one piece draws."""
    ops = big_board(40, 60)
    frame = plan_frame(board_bounds(ops), ExportOptions(scale=0.5))
    whole = poppler_page(render_pdf(ops, frame), tmp_path)
    monkeypatch.setattr(parts, "MIN_COST_PER_PART", 500)
    monkeypatch.setattr(pdf, "POINTS_PER_PIECE", 300)
    data = render_pdf(ops, frame, processes=2)
    with pikepdf.open(io.BytesIO(data)) as document:
        assert len(document.pages[0].obj.Contents) == 3  # background, two runs
    assert mean_abs_diff(poppler_page(data, tmp_path), whole) < 0.01


@dataclass(frozen=True)
class Disc:
    """A stand-in for an element kind the PDF writer does not know (text, images)."""

    x: float
    y: float
    radius: float


def test_pdf_places_other_element_kinds_drawn_by_skia_in_drawing_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kind ``render.Painter`` draws needs no PDF code: Skia's PDF backend draws it and the
    page places it between the strokes drawn before and after it."""

    def disc(op: dict[str, Any], xy: np.ndarray) -> Disc:
        return Disc(float(xy[0, 0]), float(xy[0, 1]), op["width"] / 2)

    def draw(painter: Painter, element: Any) -> None:
        if isinstance(element, Disc):
            paint = skia.Paint(AntiAlias=True, Color=skia.ColorRED)
            painter.canvas.drawCircle(element.x, element.y, element.radius, paint)
        else:
            painter.draw_path(element)

    monkeypatch.setitem(BUILDERS, "disc", disc)
    monkeypatch.setattr(Painter, "draw", draw)
    ops = [
        stroke("pen", [(0, 50), (50, 50), (100, 50)], "#0000ff", 10),
        {**stroke("pen", [(50, 50)], width=60), "type": "disc"},
        {**stroke("pen", [(20, 50)], width=20), "type": "disc"},
        stroke("pen", [(50, 0), (50, 50), (50, 100)], "#000000", 10),
    ]
    frame = plan_frame(board_bounds(ops), ExportOptions())
    data = render_pdf(ops, frame)
    with pikepdf.open(io.BytesIO(data)) as document:
        assert list(document.pages[0].Resources.XObject.keys()) == ["/E0p0"]  # one run, one page
    page = poppler_page(data, tmp_path)
    assert mean_abs_diff(page, render_image(ops, frame)) < 1.2  # poppler's anti-aliasing
    to_px = lambda x, y: (round((x - frame.x) * frame.scale), round((y - frame.y) * frame.scale))  # noqa: E731
    assert page.getpixel(to_px(5, 50))[2] > 200  # the blue pen, under nothing
    assert page.getpixel(to_px(30, 50)) == (255, 0, 0)  # the disc over the blue pen
    assert page.getpixel(to_px(50, 30))[:2] == (0, 0)  # the black pen over the disc
