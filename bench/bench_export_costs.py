"""What a point costs each export format, by stroke kind: the weights ``frame.PRESSURE_COSTS``
uses to cut an export's work evenly between its processes.

    python bench/bench_export_costs.py [--points 1000000] [--formats png svg pdf]

Builds ``bench_export.py``'s synthetic board, takes the strokes of its first half (about what one
of two processes gets) and, in this process, draws (PNG: elements built and drawn by Skia into
the picture's buffer) or writes (one SVG or PDF part) the pressure strokes alone, the plain pens
alone and the highlighters alone, best of two, in CPU time (``time.process_time``: other jobs
slow it down less than wall time). Prints the microseconds per point of each kind and the ratio
of a pressure point to a pen's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


Writer = Callable[[Sequence[dict], Any], object]


def writers(frame: Any) -> dict[str, Writer]:
    """Format -> what one process does with its strokes (ops, their geometry)."""
    import skia

    from whiteboard.export import pdf, raster, render, svg

    def png(ops: Sequence[dict], geometry: Any) -> None:
        pixels = np.empty((frame.height, frame.width, 4), np.uint8)
        info = skia.ImageInfo.Make(
            frame.width, frame.height, raster.COLOR_TYPE, skia.kPremul_AlphaType
        )
        surface = skia.Surface.MakeRasterDirect(info, pixels)
        canvas = surface.getCanvas()
        canvas.clear(skia.ColorWHITE)
        canvas.setMatrix(render.frame_matrix(frame))
        render.draw_ops(canvas, ops, geometry, None, None, frame.scale)

    return {
        "png": png,
        "svg": lambda ops, geometry: svg._part(ops, geometry, 0, None),
        "pdf": lambda ops, geometry: pdf._part(frame, ops, geometry, 0, None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--formats", nargs="+", default=["png", "svg", "pdf"])
    args = parser.parse_args()
    from bench_export import write_log

    from whiteboard.export.frame import PRESSURE_COSTS, ExportOptions, uses_pressure
    from whiteboard.export.loading import prepare
    from whiteboard.export.spec import ExportLimits
    from whiteboard.store.file import read_board_log

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "board.log"
        write_log(log, args.points)
        prepared = prepare(read_board_log(log), ExportOptions(), ExportLimits())
    ops, geometry = prepared.strokes, prepared.geometry
    half = range(len(ops) // 2)
    kinds = {
        "pressure": [i for i in half if uses_pressure(ops[i])],
        "pen": [i for i in half if ops[i]["tool"] == "pen" and not uses_pressure(ops[i])],
        "highlighter": [i for i in half if ops[i]["tool"] == "highlighter"],
    }
    for kind, write in writers(prepared.frame).items():
        if kind not in args.formats:
            continue
        per_point = {}
        for name, indices in kinds.items():
            run = np.asarray(indices, np.int64)
            part, part_geometry = [ops[i] for i in indices], geometry.take(run)
            points = int((part_geometry.end - part_geometry.start).sum())
            best = min(timed(write, part, part_geometry) for _ in range(2))
            per_point[name] = best / points * 1e6
        print(
            f"{kind}: "
            + ", ".join(f"{name} {us:.2f} us/point" for name, us in per_point.items())
            + f"; pressure/pen {per_point['pressure'] / per_point['pen']:.2f}"
            f" (PRESSURE_COSTS: {PRESSURE_COSTS[kind]}),"
            f" highlighter/pen {per_point['highlighter'] / per_point['pen']:.2f}",
            flush=True,
        )


def timed(write: Writer, ops: Sequence[dict], geometry: Any) -> float:
    started = time.process_time()
    write(ops, geometry)
    return time.process_time() - started


if __name__ == "__main__":
    main()
