"""Pressure outlines of many strokes at once: bit for bit ``freehand.outline``'s, one by one."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from whiteboard.export import outlines as outlines_module
from whiteboard.export.freehand import outline
from whiteboard.export.outlines import hypot, outlines

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
