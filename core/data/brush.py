"""The drawing canvas's brush, in NumPy: one model of ink for the canvas and for training data.

The Draw tab's canvas paints every stroke through :func:`paint_segment`, and
:func:`render_strokes` replays recorded strokes through the same arithmetic, so an image
rendered here for training is, pixel for pixel, what the canvas shows the network for the
same strokes.

Coordinates
    Points are ``(x, y)`` in *canvas units*: a ``CANVAS_SIZE``-square system, x to the right,
    y down. An image holds ``round(CANVAS_SIZE × ratio)`` pixels a side (``ratio`` = the
    screen's device-pixel ratio), so a canvas point ``p`` sits at ``p × ratio`` image pixels.
    Pixel ``(row, col)`` covers ``[col, col + 1) × [row, row + 1)`` in image pixels: its
    centre is ``(col + 0.5, row + 0.5)`` (Qt's convention, so the old QPainter canvas and
    this one put ink in the same place).

Brush model
    A segment from p0 to p1 of width w is a capsule (round caps; a dot when p0 == p1). A
    pixel's coverage is ``clip(w·ratio/2 − d + 0.5, 0, 1)`` where d is the distance from the
    pixel's centre to the segment (image pixels): full ink inside, a one-pixel linear ramp at
    the edge (anti-aliasing). Segments composite by MAXIMUM, so ink never accumulates where
    segments of a stroke join or strokes cross, and a grey level is quantised exactly once:
    ``image = max(image, round(255 · coverage))`` (round half to even, ``np.rint``). Because
    max and rounding commute, the order of painting never changes the result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.data.errors import DataError

__all__ = [
    "CANVAS_SIZE",
    "DEFAULT_BRUSH",
    "MAX_BRUSH",
    "MAX_SIDE",
    "MIN_BRUSH",
    "MIN_SIDE",
    "capsule_coverage",
    "image_side",
    "paint_segment",
    "render_strokes",
]

#: Side of the drawing's coordinate system (canvas units = logical pixels at 1:1).
CANVAS_SIZE = 280
#: Default pen width in canvas units. With digits drawn 130-230 units tall it gives
#: preprocessed strokes as thick as MNIST's (mean ink 102 grey-level units per 28×28 input
#: against MNIST's 103).
DEFAULT_BRUSH = 24
#: Range of the pen width the Draw tab offers (canvas units).
MIN_BRUSH, MAX_BRUSH = 4, 60
#: Range of the canvas widget's side on screen (logical pixels); a mouse position is a whole
#: widget pixel, so the side sets how finely a drawing's points fall in canvas units.
MIN_SIDE, MAX_SIDE = 160, 640

# Segments painted together by render_strokes (their boxes padded to the largest).
_BATCH = 64


def capsule_coverage(py: np.ndarray, px: np.ndarray, y0, x0, y1, x1, radius) -> np.ndarray:
    """Brush coverage in [0, 1] of a round-capped segment (y0, x0)-(y1, x1) of half-width
    ``radius`` at the points (py, px); all in the same pixel units, all broadcast together
    (so one call paints one segment on a grid or a batch of segments on a batch of grids).
    coverage = clip(radius − distance + 0.5, 0, 1). Only correctly rounded operations (no
    hypot), so the same numbers give the same coverage whatever the array shapes."""
    dy = y1 - y0
    dx = x1 - x0
    inverse = 1.0 / np.maximum(dy * dy + dx * dx, 1e-12)  # a dot: t = 0, the distance to p0
    ry = py - y0  # small broadcast operands first: only the products below are full grids
    rx = px - x0
    t = ry * dy + rx * dx
    t *= inverse
    np.clip(t, 0.0, 1.0, out=t)  # the nearest point of the segment is p0 + t (p1 - p0)
    ey = ry - t * dy
    ex = rx - t * dx
    ey *= ey
    ex *= ex
    ey += ex
    distance = np.sqrt(ey, out=ey)
    cover = np.subtract(radius + 0.5, distance, out=distance)
    return np.clip(cover, 0.0, 1.0, out=cover)


def image_side(size: int = CANVAS_SIZE, ratio: float = 1.0) -> int:
    """Pixels a side of the image of a ``size``-unit canvas at device-pixel ``ratio``."""
    return round(size * ratio)


def _box(x0: float, y0: float, x1: float, y1: float, radius: float) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the pixels a capsule can touch (coverage > 0 needs a
    centre closer than radius + 0.5 along each axis too), unclipped."""
    reach = radius + 0.5
    top = int(np.floor(min(y0, y1) - reach))
    left = int(np.floor(min(x0, x1) - reach))
    bottom = int(np.ceil(max(y0, y1) + reach))
    right = int(np.ceil(max(x0, x1) + reach))
    return top, left, bottom - top, right - left


def paint_segment(image: np.ndarray, p0, p1, width: float, ratio: float = 1.0) -> None:
    """Paint, in place, one round-capped anti-aliased segment from p0 to p1 ((x, y) canvas
    units; a dot when p0 == p1) of ``width`` canvas units into ``image``, a uint8 (H, W)
    array at device-pixel ``ratio``. Only the segment's bounding box is computed (this runs
    on every mouse move). See the module docstring for the brush model."""
    if image.dtype != np.uint8 or image.ndim != 2:
        raise DataError(f"the brush paints into a (height, width) uint8 image, not {image.dtype} {image.shape}")
    x0, y0 = float(p0[0]) * ratio, float(p0[1]) * ratio
    x1, y1 = float(p1[0]) * ratio, float(p1[1]) * ratio
    radius = float(width) * ratio / 2
    top, left, h, w = _box(x0, y0, x1, y1, radius)
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + h, image.shape[0]), min(left + w, image.shape[1])
    if r0 >= r1 or c0 >= c1:
        return
    f = np.float32  # float32: twice as fast, and exact enough for coordinates below 10^4
    py = (np.arange(r0, r1, dtype=f) + f(0.5))[:, None]
    px = (np.arange(c0, c1, dtype=f) + f(0.5))[None, :]
    cover = capsule_coverage(py, px, f(y0), f(x0), f(y1), f(x1), f(radius))
    ink = np.rint(f(255) * cover).astype(np.uint8)
    region = image[r0:r1, c0:c1]
    np.maximum(region, ink, out=region)


def _segments(strokes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The segments the canvas paints for ``strokes``: starts (k, 2), ends (k, 2) (x, y canvas
    units) and widths (k,): per stroke a dot at point 0 with widths[0], then segment i-1 -> i
    with widths[i]."""
    starts, ends, widths = [], [], []
    for number, (points, stroke_widths) in enumerate(strokes):
        points = np.asarray(points, dtype=np.float64)
        stroke_widths = np.asarray(stroke_widths, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or stroke_widths.shape != (len(points),):
            raise DataError(f"stroke {number + 1} must be points (n, 2) and widths (n,), "
                            f"not {points.shape} and {stroke_widths.shape}")
        if len(points) == 0:
            continue
        if not (np.all(np.isfinite(points)) and np.all(np.isfinite(stroke_widths))):
            raise DataError(f"stroke {number + 1} holds NaN or infinite values")
        starts += [points[:1], points[:-1]]
        ends += [points[:1], points[1:]]
        widths.append(stroke_widths)
    if not widths:
        return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0)
    return np.concatenate(starts), np.concatenate(ends), np.concatenate(widths)


def render_strokes(strokes: Sequence[tuple[np.ndarray, np.ndarray]], size: int = CANVAS_SIZE,
                   ratio: float = 1.0) -> np.ndarray:
    """strokes: a sequence of (points (n, 2) float (x, y) canvas units, widths (n,)) ->
    uint8 image (S, S), S = round(size × ratio), painted exactly as the canvas paints them
    (pixel for pixel what :func:`paint_segment` gives, one call per point).

    Faster than a loop of paint_segment: segments are computed in batches on boxes padded to
    the batch's largest, then composited by maximum."""
    side = image_side(size, ratio)
    image = np.zeros((side, side), dtype=np.uint8)
    starts, ends, widths = _segments(strokes)
    if len(widths) == 0:
        return image
    f = np.float32
    x0, y0 = starts[:, 0] * ratio, starts[:, 1] * ratio
    x1, y1 = ends[:, 0] * ratio, ends[:, 1] * ratio
    radius = widths * ratio / 2
    reach = radius + 0.5
    tops = np.floor(np.minimum(y0, y1) - reach).astype(np.int64)
    lefts = np.floor(np.minimum(x0, x1) - reach).astype(np.int64)
    heights = np.ceil(np.maximum(y0, y1) + reach).astype(np.int64) - tops
    lengths = np.ceil(np.maximum(x0, x1) + reach).astype(np.int64) - lefts
    # The part of each box inside the image (a stroke may leave the canvas).
    r0, c0 = np.clip(tops, 0, side), np.clip(lefts, 0, side)
    r1, c1 = np.clip(tops + heights, 0, side), np.clip(lefts + lengths, 0, side)
    # Batches of similar boxes waste little padding (the order of painting does not matter).
    order = np.argsort(heights * lengths, kind="stable")
    params = np.stack([y0, x0, y1, x1, radius]).astype(f)[:, :, None, None]  # (5, k, 1, 1)
    for lo in range(0, len(order), _BATCH):
        batch = order[lo:lo + _BATCH]
        top, left = tops[batch], lefts[batch]
        bh, bw = int(heights[batch].max()), int(lengths[batch].max())
        py = (top[:, None, None] + np.arange(bh)[None, :, None]).astype(f) + f(0.5)
        px = (left[:, None, None] + np.arange(bw)[None, None, :]).astype(f) + f(0.5)
        p = params[:, batch]
        ink = np.rint(f(255) * capsule_coverage(py, px, p[0], p[1], p[2], p[3], p[4])).astype(np.uint8)
        boxes = np.stack([r0[batch], r1[batch], c0[batch], c1[batch], r0[batch] - top, r1[batch] - top,
                          c0[batch] - left, c1[batch] - left], axis=1).tolist()
        for j, (a, b, c, d, ia, ib, ic, id_) in enumerate(boxes):
            if a < b and c < d:
                region = image[a:b, c:d]
                np.maximum(region, ink[j, ia:ib, ic:id_], out=region)
    return image
