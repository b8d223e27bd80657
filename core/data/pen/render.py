"""Pen-drawn digits as the Draw tab's canvas would show them to a network.

A :class:`~core.data.pen.unipen.PenDigit` holds tablet strokes. :func:`place_on_canvas`
turns them into canvas strokes as a person drawing with a mouse on the canvas would make
them, and :func:`render_pen_digits` paints those with the canvas's own brush
(:func:`core.data.brush.render_strokes`) and applies exactly the Draw tab's preprocessing
(:func:`core.data.drawing.preprocess_drawing`), so a model trains on what the canvas shows it.

What varies (``vary=True``), each drawn per digit from the ``rng`` given:

- size: the digit's height is uniform 40-85 % of ``CANVAS_SIZE`` (a wide digit is shrunk
  so its width fits in 90 % of the canvas);
- position: uniform, keeping the ink (strokes and brush) inside the canvas;
- slant and proportions: a rotation uniform ±10° and a horizontal shear uniform ±0.2;
- tremor: Gaussian jitter of every tablet point, σ = 0.6 canvas units;
- speed: each stroke's polyline resampled at one spacing uniform 1.5-12 canvas units
  (end points kept): a mouse reports its position at a fixed rate, so a fast hand leaves
  points far apart and the canvas joins them with straight segments;
- screen: the canvas widget's side on screen: the default 280 for half of the digits, uniform
  whole pixels MIN_SIDE..MAX_SIDE for the rest; points are rounded to whole widget pixels and
  converted back to canvas units (× CANVAS_SIZE / side), as the canvas does with mouse events;
- brush: whole canvas units, as the Draw tab's spin box gives: 70 % uniform 16-32 (around
  the default 24: most people keep it), 30 % uniform MIN_BRUSH..44 (those who change it).

``vary=False`` gives one fixed rendering per digit: height 65 %, centred, no rotation,
shear or jitter, spacing 14 units (a brisk mouse; fewer segments make the catalogue
dataset quick to load), side 280, brush DEFAULT_BRUSH.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.data.brush import CANVAS_SIZE, DEFAULT_BRUSH, MAX_SIDE, MIN_BRUSH, MIN_SIDE, render_strokes
from core.data.drawing import MNIST_SIZE, MODES, UCI_BITMAP, UCI_BLOCK, preprocess_drawing
from core.data.errors import DataError
from core.data.pen.unipen import PenDigit

__all__ = [
    "HELD_OUT_WRITERS",
    "RENDER_VERSION",
    "Placement",
    "place_on_canvas",
    "render_pen_digits",
    "writer_split",
]

#: Writers of the bundled file held out for reported figures: every 5th writer id in sorted
#: order (ids 1-30), starting with the first. Models measured "on unseen writers" never see
#: these 6 writers in training.
HELD_OUT_WRITERS: tuple[int, ...] = (1, 6, 11, 16, 21, 26)

#: Version of what :func:`render_pen_digits` makes of a digit (this module, the brush of
#: :mod:`core.data.brush` and the preprocessing of :mod:`core.data.drawing`). Part of the
#: on-disk cache's key (:mod:`core.data.pen.cache`): raise it whenever a change to any of
#: them changes a single rendered pixel, so every user's cached renderings are rebuilt.
RENDER_VERSION = 1

#: Canvas strokes: per stroke (points (n, 2) float64 x, y canvas units, widths (n,) float64).
Placement = list[tuple[np.ndarray, np.ndarray]]

_HEIGHT = (0.40, 0.85)
_FIXED_HEIGHT = 0.65
_MAX_WIDTH = 0.90
_ROTATION_DEG = 10.0
_SHEAR = 0.2
_JITTER = 0.6
_SPACING = (1.5, 12.0)
_FIXED_SPACING = 14.0
_DEFAULT_SIDE_SHARE = 0.5
_USUAL_BRUSH = (16, 32)
_USUAL_BRUSH_SHARE = 0.7
_WIDE_BRUSH_MAX = 44


def _resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """A polyline (n, 2) -> points every ``spacing`` units along it (the last step evened
    out so both end points are kept). A single point, or a stroke without length, stays one
    point."""
    steps = np.sqrt((np.diff(points, axis=0) ** 2).sum(axis=1))
    total = float(steps.sum())
    if len(points) < 2 or total <= 0:
        return points[:1].copy()
    along = np.concatenate([[0.0], np.cumsum(steps)])
    wanted = np.linspace(0.0, total, max(1, round(total / spacing)) + 1)
    return np.stack([np.interp(wanted, along, points[:, 0]), np.interp(wanted, along, points[:, 1])], axis=1)


def _mouse_points(points: np.ndarray, side: int) -> np.ndarray:
    """Canvas points (n, 2) -> where a mouse on a ``side``-pixel widget reports them: whole
    widget pixels inside the widget, back in canvas units; consecutive repeats dropped (a
    mouse that does not move sends no event)."""
    pixels = np.minimum(np.maximum(np.round(points * (side / CANVAS_SIZE)), 0), side - 1)
    keep = np.ones(len(pixels), dtype=bool)
    keep[1:] = np.any(pixels[1:] != pixels[:-1], axis=1)
    return pixels[keep] * (CANVAS_SIZE / side)


def _brush(rng: np.random.Generator) -> float:
    if rng.random() < _USUAL_BRUSH_SHARE:
        return float(rng.integers(_USUAL_BRUSH[0], _USUAL_BRUSH[1] + 1))
    return float(rng.integers(MIN_BRUSH, _WIDE_BRUSH_MAX + 1))


def place_on_canvas(digit: PenDigit, rng: np.random.Generator, vary: bool = True) -> Placement:
    """The digit's strokes as canvas strokes a mouse would make (see the module docs for
    what varies): per stroke (points (n, 2) float64 x, y canvas units, widths (n,)), ready for
    :func:`core.data.brush.render_strokes`."""
    if not digit.strokes:
        raise DataError(f"the pen digit (writer {digit.writer}, sample {digit.sample}) has no strokes")
    lengths = [len(stroke) for stroke in digit.strokes]
    # Tablet y points up, the canvas's down.
    points = np.concatenate(digit.strokes).astype(np.float64) * np.array([1.0, -1.0])
    points -= (points.min(axis=0) + points.max(axis=0)) / 2
    if vary:
        angle = np.deg2rad(rng.uniform(-_ROTATION_DEG, _ROTATION_DEG))
        shear = rng.uniform(-_SHEAR, _SHEAR)
        cos, sin = np.cos(angle), np.sin(angle)
        # x' = x + shear·y (a slant), then a rotation; y down.
        matrix = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, shear], [0.0, 1.0]])
        points = points @ matrix.T
        height_share = rng.uniform(*_HEIGHT)
        width = _brush(rng)
        spacing = rng.uniform(*_SPACING)
        side = CANVAS_SIZE if rng.random() < _DEFAULT_SIDE_SHARE else int(rng.integers(MIN_SIDE, MAX_SIDE + 1))
    else:
        height_share, width, spacing, side = _FIXED_HEIGHT, float(DEFAULT_BRUSH), _FIXED_SPACING, CANVAS_SIZE
    low, high = points.min(axis=0), points.max(axis=0)
    extent = np.maximum(high - low, 1e-9)
    margin = width / 2 + 1  # the brush's reach beyond the points, and a pixel to spare
    scale = min(height_share * CANVAS_SIZE / extent[1], _MAX_WIDTH * CANVAS_SIZE / extent[0],
                (CANVAS_SIZE - 2 * margin) / extent.max())  # the ink always fits whole
    points = (points - low) * scale  # the ink's box now starts at (0, 0)
    room = np.maximum(CANVAS_SIZE - 2 * margin - extent * scale, 0.0)  # free space, per axis
    if vary:
        points += margin + rng.uniform(0, 1, 2) * room
        points += rng.normal(0.0, _JITTER, points.shape)
    else:
        points += margin + room / 2
    strokes: Placement = []
    for part in np.split(points, np.cumsum(lengths)[:-1]):
        mouse = _mouse_points(_resample(part, spacing), side)
        strokes.append((mouse, np.full(len(mouse), width)))
    return strokes


def _output_size(mode: str) -> int:
    if mode not in MODES:
        raise DataError(f"unknown drawing mode {mode!r} (known: {', '.join(MODES)})")
    return MNIST_SIZE if mode == "mnist" else UCI_BITMAP // UCI_BLOCK


def render_pen_digits(digits: Sequence[PenDigit], rng: np.random.Generator, mode: str = "mnist",
                      vary: bool = True) -> np.ndarray:
    """digits -> (n, 1, s, s) float32 network inputs in [0, 1] (s = 28 for mode "mnist",
    8 for "digits8x8"): each digit placed by :func:`place_on_canvas`, painted by
    :func:`core.data.brush.render_strokes` at ratio 1 and preprocessed by
    :func:`core.data.drawing.preprocess_drawing` with the same ``mode``, exactly as the Draw
    tab does. A rendering with too little ink to read (preprocessing gives None, the canvas
    shows "Draw a digit") comes back all zeros, as :func:`~core.data.drawing.preprocess_batch`
    does; with the sizes drawn here that does not happen for the bundled digits."""
    size = _output_size(mode)
    out = np.zeros((len(digits), 1, size, size), dtype=np.float32)
    for i, digit in enumerate(digits):
        # As DigitCanvas.image_array: uint8 / 255 in float32 (one pass: cast, then divide).
        image = np.divide(render_strokes(place_on_canvas(digit, rng, vary)), np.float32(255), dtype=np.float32)
        result = preprocess_drawing(image, mode)
        if result is not None:
            out[i, 0] = result
    return out


def writer_split(digits: Sequence[PenDigit], test_writers: Sequence[int]) -> tuple[list[PenDigit], list[PenDigit]]:
    """(train, test): the digits of writers not in ``test_writers`` and of those in it, each
    in the given order. No writer is ever on both sides."""
    held = {int(w) for w in test_writers}
    train = [d for d in digits if d.writer not in held]
    test = [d for d in digits if d.writer in held]
    return train, test
