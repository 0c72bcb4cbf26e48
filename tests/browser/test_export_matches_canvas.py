"""The PNG export looks like the browser's canvas: the same strokes, drawn by the real
``static/js/render.js`` in headless Chromium and by the server's export, differ by less than
``MAX_MEAN_ABS_DIFF`` per channel on average.

Both sides are Skia (the export through skia-python, making the calls Chromium's canvas makes),
so they differ only where the two Skia builds round differently, by a level or two on edges. The
negative controls below show what a real mistake costs on the same scene: every stroke one unit
off, or one unit too wide, is several times the threshold.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import io
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from tests.integration.client import BoardClient, is_op
from tests.serving import ServerThread
from tests.test_render import FREEHAND_CASES
from whiteboard.export.frame import ExportOptions, plan_frame
from whiteboard.export.raster import render_image
from whiteboard.protocol import delta_code

REGION = (0.0, 0.0, 400.0, 300.0)
SCALES = [0.1, 0.25, 0.5, 1.0, 2.0]
MAX_MEAN_ABS_DIFF = 0.5
"""The threshold at scales 0.25 and up (tests/browser/test_big_board.py uses it too)."""
MAX_MEAN_ABS_DIFF_AT_SCALE = {0.1: 1.5, 0.25: 0.5, 0.5: 0.5, 1.0: 0.5, 2.0: 0.5}
"""Mean |export - canvas| over all pixels and RGB channels, in 0..255 levels, by scale: the
targets of issue 11. Measured with Chromium 156 and skia-python 144: 0.34, 0.10, 0.04, 0.02,
0.01 (the SVG, drawn by Chromium: 0.003); the negative controls (every stroke 1 unit off, or
1 unit wider) measure 3.6 and 4.3 at scale 1. At 0.1 the scene is 40 x 30 pixels and nearly
every stroke a hairline, so one pixel's rounding weighs more."""
MAX_DIFFERING_FRACTION = 0.02
"""Share of pixels whose channels differ by more than 48 levels in all (measured 0 at every
scale): a missing or misplaced feature (a cap, a dot, a curve drawn straight) shows
here even when the mean stays small."""


def scene() -> list[dict[str, Any]]:
    """Every tool and the awkward cases: overlapping highlighter, pressure, dots, thin and wide."""
    rng = random.Random(4)
    ops: list[dict[str, Any]] = []

    def add(
        tool: str,
        color: str,
        width: float,
        points: list[tuple[float, float]],
        pressure: list[int] | None = None,
    ) -> None:
        op: dict[str, Any] = {
            "type": "stroke",
            "id": f"s{len(ops)}",
            "tool": tool,
            "color": color,
            "width": width,
            "pts": list(delta_code(points)),
        }
        if pressure is not None:
            op["p"] = pressure
        ops.append(op)

    wave = [(20 + 4 * i, 60 + 30 * math.sin(i / 6)) for i in range(60)]
    add("pen", "#1e88e5", 6, wave)
    zigzag = [(30 + 25 * i, 140 + (30 if i % 2 else 0)) for i in range(8)]
    add("pen", "#000000", 3, zigzag)
    scribble = [(250 + rng.uniform(-40, 40), 80 + rng.uniform(-40, 40)) for _ in range(25)]
    add("pen", "#8e24aa", 2.5, scribble)
    add("highlighter", "#fdd835", 24, [(10, 50), (200, 70), (30, 100), (220, 120)])
    spiral = [(320 + 3 * i * math.cos(i / 3), 220 + 3 * i * math.sin(i / 3)) for i in range(30)]
    add("pen", "#e53935", 10, spiral, [min(100, 20 + 3 * i) for i in range(30)])
    add(
        "pen",
        "#43a047",
        8,
        [(40 + 6 * i, 250 - 2 * i) for i in range(20)],
        [50 + (i * 7) % 50 for i in range(20)],
    )
    add("line", "#000000", 4, [(20, 280), (380, 200)])
    add("rect", "#ff6f00", 5, [(150, 170), (260, 240)])
    add("ellipse", "#00897b", 3, [(280, 20), (390, 110)])
    add("pen", "#3949ab", 14, [(360, 150)])
    add("pen", "#000000", 0.5, [(10, 10), (100, 20), (190, 12)])
    add("highlighter", "#00e5ff", 40, [(120, 200), (300, 150)])
    add("pen", "#6d4c41", 30, [(60, 180), (100, 200), (70, 230)])
    return ops


def draw_board(server: ServerThread, board: str, ops: list[dict[str, Any]]) -> None:
    async def run() -> None:
        client = await BoardClient.connect(server.ws_url, board)
        await client.send(*ops)
        await client.wait_for(is_op("stroke", ops[-1]["id"]))
        await client.close()

    # Playwright's sync API owns this thread's event loop: the client gets a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result(timeout=30)


def canvas_pixels(
    browser: Any, server: ServerThread, ops: list[dict[str, Any]], scale: float
) -> Image.Image:
    """The ops drawn by the app's own render.js on a white canvas mapping REGION at ``scale``."""
    x, y, w, h = REGION
    page = browser.new_page()
    try:
        page.goto(f"{server.http_url}/healthz")
        data_url = page.evaluate(
            """async ([ops, x, y, w, h, scale]) => {
                const { drawStroke } = await import('/static/js/render.js');
                const canvas = document.createElement('canvas');
                canvas.width = Math.ceil(w * scale);
                canvas.height = Math.ceil(h * scale);
                const ctx = canvas.getContext('2d');
                ctx.fillStyle = '#ffffff';
                ctx.fillRect(0, 0, canvas.width, canvas.height);
                ctx.setTransform(scale, 0, 0, scale, -x * scale, -y * scale);
                for (const op of ops) drawStroke(ctx, op);
                return canvas.toDataURL('image/png');
            }""",
            [ops, x, y, w, h, scale],
        )
    finally:
        page.close()
    png = base64.b64decode(data_url.split(",", 1)[1])
    return Image.open(io.BytesIO(png)).convert("RGB")


def export_pixels(server: ServerThread, board: str, scale: float) -> Image.Image:
    import urllib.request

    region = ",".join(f"{v:g}" for v in REGION)
    url = f"{server.http_url}/b/{board}/export.png?scale={scale}&region={region}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return Image.open(io.BytesIO(response.read())).convert("RGB")


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size, (a.size, b.size)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def differing_fraction(a: Image.Image, b: Image.Image, levels: int = 48) -> float:
    diff = ImageChops.difference(a, b).convert("L", (1, 1, 1, 0))  # R + G + B, clipped at 255
    histogram = diff.point(lambda v: 255 if v > levels else 0).histogram()
    return histogram[255] / (a.width * a.height)


def python_render(ops: list[dict[str, Any]], scale: float) -> Image.Image:
    frame = plan_frame(None, ExportOptions(scale=scale, region=REGION), 16_000_000)
    return render_image(ops, frame).convert("RGB")


@pytest.mark.parametrize("scale", SCALES)
def test_png_export_matches_the_browser_canvas(
    browser: Any, server: ServerThread, scale: float, tmp_path: Path
) -> None:
    ops = scene()
    draw_board(server, "compare", ops)
    exported = export_pixels(server, "compare", scale)
    drawn = canvas_pixels(browser, server, ops, scale)
    exported.save(tmp_path / "export.png")
    drawn.save(tmp_path / "canvas.png")
    diff = mean_abs_diff(exported, drawn)
    fraction = differing_fraction(exported, drawn)
    print(f"scale {scale}: mean abs diff {diff:.3f}, differing pixels {fraction:.4%}")
    assert diff <= MAX_MEAN_ABS_DIFF_AT_SCALE[scale], f"mean abs diff {diff:.3f} (see {tmp_path})"
    assert fraction < MAX_DIFFERING_FRACTION, f"{fraction:.2%} of pixels differ (see {tmp_path})"


def shifted(ops: list[dict[str, Any]], dx: int) -> list[dict[str, Any]]:
    return [{**op, "pts": [op["pts"][0] + dx, *op["pts"][1:]]} for op in ops]


def widened(ops: list[dict[str, Any]], extra: float) -> list[dict[str, Any]]:
    return [{**op, "width": op["width"] + extra} for op in ops]


def test_threshold_catches_a_one_unit_error(browser: Any, server: ServerThread) -> None:
    """Negative controls: the comparison would fail for a stroke one unit off or too wide."""
    ops = scene()
    drawn = canvas_pixels(browser, server, ops, 1.0)
    off_by_one = mean_abs_diff(python_render(shifted(ops, 4), 1.0), drawn)
    too_wide = mean_abs_diff(python_render(widened(ops, 1.0), 1.0), drawn)
    print(f"controls: shifted 1 unit {off_by_one:.3f}, 1 unit wider {too_wide:.3f}")
    assert off_by_one > 2 * MAX_MEAN_ABS_DIFF
    assert too_wide > 2 * MAX_MEAN_ABS_DIFF


def test_vendored_perfect_freehand_gives_the_golden_outlines(
    browser: Any, server: ServerThread
) -> None:
    """The same vectors tests/test_render.py checks the Python port against."""
    golden = json.loads(FREEHAND_CASES.read_text())
    options = golden["options"]
    page = browser.new_page()
    try:
        page.goto(f"{server.http_url}/healthz")
        outlines = page.evaluate(
            """async ([cases, o]) => {
                const { getStroke } = await import('/static/vendor/perfect-freehand/index.mjs');
                return cases.map((c) => getStroke(c.points, {
                    size: c.size, thinning: o.thinning, smoothing: o.smoothing,
                    streamline: o.streamline, simulatePressure: o.simulate_pressure,
                    last: o.last }));
            }""",
            [golden["cases"], options],
        )
    finally:
        page.close()
    for case, outline in zip(golden["cases"], outlines, strict=True):
        assert len(outline) == len(case["outline"])
        for (x, y), (gx, gy) in zip(outline, case["outline"], strict=True):
            assert abs(x - gx) < 1e-6 and abs(y - gy) < 1e-6


def test_svg_export_matches_the_browser_canvas(browser: Any, server: ServerThread) -> None:
    """The SVG, rendered by the same browser, is the canvas's picture too."""
    ops = scene()
    draw_board(server, "vector", ops)
    x, y, w, h = REGION
    page = browser.new_page(viewport={"width": int(w), "height": int(h)})
    try:
        page.goto(f"{server.http_url}/b/vector/export.svg?region={x:g},{y:g},{w:g},{h:g}")
        png = page.screenshot(clip={"x": 0, "y": 0, "width": w, "height": h})
    finally:
        page.close()
    shown = Image.open(io.BytesIO(png)).convert("RGB")
    diff = mean_abs_diff(shown, canvas_pixels(browser, server, ops, 1.0))
    print(f"svg: mean abs diff {diff:.3f}")
    assert diff <= MAX_MEAN_ABS_DIFF
