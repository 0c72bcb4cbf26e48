"""Work is cut between an export's processes by what each stroke costs in that format."""

from __future__ import annotations

from typing import Any

import pytest

from whiteboard.export import parts
from whiteboard.export.frame import (
    PRESSURE_COSTS,
    ExportOptions,
    decode,
    plan_frame,
    stroke_costs,
)
from whiteboard.export.pdf import render_pdf
from whiteboard.export.raster import band_rows
from whiteboard.export.svg import render_svg
from whiteboard.protocol import delta_code


def board(pressure_strokes: int, pens: int, points: int = 50) -> list[dict[str, Any]]:
    """Pressure strokes first, then plain pens, each a horizontal line one unit lower."""
    ops = []
    for k in range(pressure_strokes + pens):
        line = delta_code([(float(x), float(k)) for x in range(points)])
        op: dict[str, Any] = {
            "type": "stroke",
            "id": f"s{k}",
            "tool": "pen",
            "color": "#000000",
            "width": 3.0,
            "pts": line,
        }
        if k < pressure_strokes:
            op["p"] = (50,) * points
        ops.append(op)
    return ops


def test_a_pressure_point_counts_the_formats_cost() -> None:
    ops = board(2, 3, points=10)
    costs = stroke_costs(ops, decode(ops), 2.5)
    assert costs.tolist() == [25.0, 25.0, 10.0, 10.0, 10.0]


@pytest.mark.parametrize("kind", ["svg", "pdf"])
def test_vector_parts_are_cut_by_their_formats_cost(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights: list[float] = []
    real = parts.stroke_costs

    def spy(ops: Any, geometry: Any, pressure_cost: float) -> Any:
        weights.append(pressure_cost)
        return real(ops, geometry, pressure_cost)

    monkeypatch.setattr(parts, "stroke_costs", spy)
    ops = board(4, 4)
    frame = plan_frame(decode(ops).bounds(), ExportOptions(), 10**6)
    (render_svg if kind == "svg" else render_pdf)(ops, frame)
    assert weights == [PRESSURE_COSTS[kind]]


def test_png_bands_are_cut_where_the_drawing_cost_halves() -> None:
    """Pressure strokes on top, pens below: a pressure point costing 1.6 pen points, the cut
    lies inside the pressure strokes' rows, above where the points alone put it."""
    ops = board(40, 60)  # 40 x 50 x 1.6 = 3,200 above, 60 x 50 = 3,000 below: half is 3,100
    geometry = decode(ops)
    frame = plan_frame(geometry.bounds(), ExportOptions(scale=4), 10**7)
    row_of_stroke = lambda k: round((k - frame.y) * frame.scale)  # noqa: E731
    assert PRESSURE_COSTS["png"] == 1.6
    cut = band_rows(geometry, frame, 2, stroke_costs(ops, geometry, PRESSURE_COSTS["png"]))
    assert cut == [0, row_of_stroke(38), frame.height]  # 39 x 80 = 3,120 >= 3,100
    assert band_rows(geometry, frame, 2) == [0, row_of_stroke(49), frame.height]  # points
