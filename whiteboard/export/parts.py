"""Vector exports (PDF, SVG) written in parts, in drawing order, by the export's processes.

A vector file is its elements in drawing order, so the elements are cut into consecutive runs of
about equal cost: the calling process writes the first run while the raster's band helpers
(``raster.helpers``: started once, low priority) write the others, each getting its strokes'
points as numpy arrays (``Geometry.take``), not as pickled lists. The caller joins the parts.
A run's cost is ``frame.stroke_costs``: points, a pressure point counting the format's
``frame.PRESSURE_COSTS``.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

import numpy as np

from .frame import Geometry, Stroke, stroke_costs
from .raster import deadline_progress, helpers, shutdown_helpers, without_points
from .render import Progress
from .spec import collector_paused

MIN_COST_PER_PART = 100_000
"""Below this cost (points) a second process is not worth its round trip (~10-30 ms)."""

Part = TypeVar("Part")
Writer = Callable[[Sequence[Stroke], Geometry, int, Progress | None], Part]
"""Writes one run: (its ops, their geometry, the run's number, progress) -> its part. A helper
calls it too, so it must be picklable (a module-level function or a ``functools.partial``)."""


def in_parts(
    write: Writer[Part],
    ops: Sequence[Stroke],
    geometry: Geometry,
    indices: np.ndarray,
    pressure_cost: float,
    processes: int = 1,
    niceness: int = 0,
    deadline: float | None = None,
    progress: Progress | None = None,
) -> list[Part]:
    """``write`` of consecutive runs of the elements at ``indices``, in order, of about equal
    cost (a pressure point counting ``pressure_cost`` points)."""
    costs = stroke_costs(ops, geometry, pressure_cost)
    parts = max(1, min(processes, int(costs[indices].sum() // MIN_COST_PER_PART)))
    runs = geometry.split(indices, parts, costs)
    futures = []
    if len(runs) > 1:
        pool = helpers(len(runs) - 1, niceness)
        futures = [
            pool.submit(
                _in_helper,
                write,
                [without_points(ops[i]) for i in run.tolist()],
                geometry.take(run),
                number,
                deadline,
            )
            for number, run in enumerate(runs[1:], start=1)
        ]
    try:
        first = write(
            [ops[i] for i in runs[0].tolist()],
            geometry.take(runs[0]),
            0,
            deadline_progress(deadline, progress),
        )
    finally:
        concurrent.futures.wait(futures)
    written = [first]
    for future in futures:
        try:
            written.append(future.result())  # a helper's error (or its deadline) is the export's
        except BrokenProcessPool:
            shutdown_helpers()  # a helper died (out of memory?): fresh ones next time
            raise
    if progress is not None:
        progress(len(indices), len(indices))
    return written


def _in_helper(
    write: Writer[Part],
    ops: list[Stroke],
    geometry: Geometry,
    number: int,
    deadline: float | None,
) -> Part:
    """Helper-process entry."""
    with collector_paused():
        return write(ops, geometry, number, deadline_progress(deadline, None))
