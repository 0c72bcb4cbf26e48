"""Pressure outlines of many strokes at once: bit for bit ``freehand.outline``'s, one by one."""

from __future__ import annotations

import math
from typing import Any
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from whiteboard.export import outlines as outlines_module
from whiteboard.export import pdf
from whiteboard.export.frame import ExportOptions, decode, plan_frame, pressures, uses_pressure
from whiteboard.export.freehand import outline
from whiteboard.export.outlines import MIN_VECTOR_STROKES, hypot, outlines
from whiteboard.export.pdfcontent import path_data
from whiteboard.export.render import polygon_path, stroke_width
from whiteboard.export.svg import render_svg
from whiteboard.protocol import delta_code

Item = tuple[np.ndarray, list[float], float]


def one_by_one(items: list[Item]) -> list[list[tuple[float, float]]]:
    return [outline(xy[:, 0].tolist(), xy[:, 1].tolist(), p, size) for xy, p, size in items]


def cut(rows: np.ndarray, ends: np.ndarray) -> list[list[tuple[float, float]]]:
    starts = ends - np.diff(ends, prepend=0)
    return [
        [tuple(point) for point in rows[s:e].tolist()]
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


def test_hypot_is_pythons_to_the_last_bit() -> None:
    """numpy's hypot (the C library's) differs from Python's in the last bit for ~0.2% of these."""
    rng = np.random.default_rng(7)
    a = np.concatenate(
        [
            rng.normal(0, 1, 100_000) * 10.0 ** rng.uniform(-4, 5, 100_000),
            np.round(rng.normal(0, 30, 50_000) * 4) / 4,
            [0.0, 0.0, -0.0, 1e-310, 3.0, 1e300, 5e-324],
        ]
    )
    b = np.concatenate(
        [
            rng.normal(0, 1, 100_000) * 10.0 ** rng.uniform(-4, 5, 100_000),
            np.round(rng.normal(0, 30, 50_000) * 4) / 4,
            [0.0, 2.5, 0.0, 2e-310, -4.0, 1e299, 0.0],
        ]
    )
    expected = [math.hypot(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    assert hypot(a, b).tolist() == expected
    assert np.hypot(a, b).tolist() != expected  # what this replaces


def random_strokes(count: int, seed: int) -> list[Item]:
    """Random walks, quarter-unit grids with repeats (points that do not move), sharp back
    and forth turns, strokes of 1 and 2 points, points that collapse into one."""
    rng = np.random.default_rng(seed)
    items = []
    for k in range(count):
        n = int(rng.integers(1, 80))
        kind = k % 5
        if kind == 0:
            xy = np.cumsum(rng.normal(0, 3, (n, 2)), axis=0)
        elif kind == 1:
            xy = np.round(np.cumsum(rng.normal(0, 1, (n, 2)), axis=0) * 4) / 4
        elif kind == 2:
            xy = np.repeat(np.round(rng.uniform(0, 50, (n, 2)) * 4) / 4, 3, axis=0)[:n]
        elif kind == 3:
            xy = np.cumsum(rng.choice([-1.0, 0.0, 1.0, 0.25], (n, 2)), axis=0)
        else:
            xy = np.full((n, 2), 7.25)
        pressures = (rng.integers(0, 101, n) / 100).tolist()
        items.append((xy.astype(np.float64), pressures, float(rng.choice([0.5, 2, 3, 8, 30]))))
    return items


def test_many_strokes_at_once_are_the_outlines_one_by_one() -> None:
    items = random_strokes(600, 11)
    rows, ends = outlines(items)
    assert len(ends) == len(items)
    assert cut(rows, ends) == one_by_one(items)


coords = st.floats(-500, 500, allow_nan=False).map(lambda v: round(v * 4) / 4)
samples = st.lists(st.tuples(coords, coords, st.integers(0, 100)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(samples, st.sampled_from([0.5, 2, 8, 30, 500])), max_size=12))
def test_any_strokes_stepped_together_give_their_own_outlines(
    strokes: list[tuple[list[tuple[float, float, int]], float]],
) -> None:
    items = [
        (np.array([(x, y) for x, y, _ in points], np.float64), [p / 100 for *_, p in points], size)
        for points, size in strokes
    ]
    with mock.patch.object(outlines_module, "MIN_VECTOR_STROKES", 1):  # the vector loop always
        rows, ends = outlines(items)
    assert cut(rows, ends) == one_by_one(items)


def pressure_board(count: int) -> list[dict[str, Any]]:
    """Pen strokes with pressure (and a few without, and a highlighter) in drawing order."""
    rng = np.random.default_rng(5)
    ops: list[dict[str, Any]] = []
    for k in range(count):
        n = int(rng.integers(1, 60))
        xy = rng.normal(0, 3, (n, 2)).cumsum(axis=0) + rng.uniform(0, 400, 2)
        op: dict[str, Any] = {
            "type": "stroke",
            "id": f"s{k}",
            "tool": "highlighter" if k % 9 == 0 else "pen",
            "color": "#123456",
            "width": float(rng.choice([0.5, 3, 12, 30])),
            "pts": delta_code([(float(x), float(y)) for x, y in xy]),
        }
        if k % 7:
            op["p"] = tuple(int(p) for p in rng.integers(0, 101, n))
        if k % 11 == 0:
            op["m"] = (1.5, 0.5, 10.0, -20.0)
        ops.append(op)
    return ops


def own_outline(op: dict[str, Any], xy: np.ndarray) -> list[tuple[float, float]]:
    return outline(xy[:, 0].tolist(), xy[:, 1].tolist(), pressures(op), stroke_width(op))


def test_pdf_and_svg_write_each_pressure_stroke_as_its_own_outline() -> None:
    """The vector formats take their outlines from one ``outlines`` call per part (the vector
    loop: more than MIN_VECTOR_STROKES), and write what the outline of each stroke alone is."""
    ops = pressure_board(3 * MIN_VECTOR_STROKES)
    geometry = decode(ops)
    pressured = [i for i, op in enumerate(ops) if uses_pressure(op)]
    assert len(pressured) > MIN_VECTOR_STROKES
    written = pdf.outline_data(ops, geometry)
    assert sorted(written) == pressured
    document = render_svg(ops, plan_frame(geometry.bounds(), ExportOptions(), 16_000_000))
    for index in pressured:
        polygon = own_outline(ops[index], geometry.points(index))
        expected = path_data(polygon_path(polygon))  # the raster's path, as the PDF read it
        data = written[index]
        assert data is not None
        assert (data.verbs == expected.verbs).all() and (data.points == expected.points).all()
        if len(polygon) >= 3:
            d = " ".join(f"{x:.2f} {y:.2f}" for x, y in polygon)
            assert f'<path d="M{d}Z" fill="#123456"/>' in document
