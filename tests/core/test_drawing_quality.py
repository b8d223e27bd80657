"""The canvas as an instrument: ink and stroke width against MNIST, centring and scaling of
small, off-centre and very large digits, and the hint for drawings hard to read
(core.data.drawing). Digits are synthetic strokes drawn with core.data.augment.draw_segments
on a 280×280 canvas image, as the Draw tab's canvas paints them (round-capped, anti-aliased)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.data import DataError, load_mnist
from core.data.augment import draw_segments
from core.data.drawing import (
    MNIST_INK_MASS,
    MNIST_INK_MASS_PER_DIGIT,
    MNIST_STROKE_WIDTH,
    center_of_mass,
    drawing_hint,
    ink_bounding_box,
    ink_mass,
    normalize_mnist,
    preprocess_drawing,
    shift_whole_pixels,
    stroke_width,
)

CANVAS = 280
#: The canvas's default brush today (nnstudio.widgets.draw.digit_canvas.DEFAULT_BRUSH; core
#: tests do not import the app).
DEFAULT_BRUSH = 24


def _arc(cx, cy, rx, ry, a0=0.0, a1=2 * np.pi, n=24):
    t = np.linspace(a0, a1, n)
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t), strict=True))


#: Digits as polylines in a unit box (x right, y down).
DIGITS = {
    0: [_arc(0.5, 0.5, 0.3, 0.5)],
    1: [[(0.5, 0.0), (0.5, 1.0)]],
    2: [[*_arc(0.5, 0.28, 0.3, 0.28, np.pi, 2.2 * np.pi, 12), (0.2, 1.0), (0.8, 1.0)]],
    3: [[*_arc(0.5, 0.25, 0.28, 0.25, -0.9 * np.pi, np.pi / 2, 14),
         *_arc(0.5, 0.75, 0.3, 0.25, -np.pi / 2, 0.9 * np.pi, 14)]],
    4: [[(0.6, 0.0), (0.15, 0.65), (0.85, 0.65)], [(0.6, 0.3), (0.6, 1.0)]],
    7: [[(0.2, 0.0), (0.8, 0.0), (0.4, 1.0)]],
    8: [_arc(0.5, 0.25, 0.25, 0.25), _arc(0.5, 0.74, 0.3, 0.26)],
}


def draw(digit: int, height: float, brush: float, centre=(140.0, 140.0), side: int = CANVAS) -> np.ndarray:
    """(side, side) float32 canvas image of ``digit`` ``height`` px tall (3/4 as wide)."""
    image = np.zeros((1, side, side), np.float32)
    for line in DIGITS[digit]:
        points = np.array([(centre[0] + (y - 0.5) * height, centre[1] + (x - 0.5) * height * 0.75) for x, y in line])
        for a, b in itertools.pairwise(points):
            image = draw_segments(image, a[None], b[None], np.array([brush], np.float32))
    return image[0]


def test_mnist_reference_numbers(mnist_dir):
    x, y, _, _ = load_mnist()
    mass = x.reshape(len(x), -1).sum(axis=1, dtype=np.int64) / 255
    assert mass.mean() == pytest.approx(MNIST_INK_MASS["mean"], abs=0.1)
    assert np.percentile(mass, 50) == pytest.approx(MNIST_INK_MASS["p50"], abs=0.1)
    masses = [mass[y == d].mean() for d in range(10)]
    assert masses == pytest.approx(MNIST_INK_MASS_PER_DIGIT, abs=0.1)
    assert max(masses) - min(masses) > 70  # a 1 against a 0
    assert ink_mass(x[0] / 255) == pytest.approx(x[0].sum() / 255)
    widths = np.array([stroke_width(image / 255) for image in x[:20000]])
    assert np.percentile(widths, [5, 50, 95]) == pytest.approx(
        [MNIST_STROKE_WIDTH["p5"], MNIST_STROKE_WIDTH["p50"], MNIST_STROKE_WIDTH["p95"]], abs=0.06)
    # The stroke width hardly depends on the digit, unlike the ink mass.
    medians = [np.median(widths[y[:20000] == d]) for d in range(10)]
    assert max(medians) - min(medians) < 0.45


def test_stroke_width_of_a_bar():
    image = np.zeros((28, 28))
    image[4:24, 12:15] = 1.0  # 3 px wide, 20 long: outline 2·20 + 2·3
    assert stroke_width(image) == pytest.approx(2 * 60 / 46)
    image[4:24, 11] = image[4:24, 15] = 0.4  # anti-aliased edges below 0.5: outside the outline
    assert stroke_width(image) == pytest.approx(2 * 60 / 46)
    specks = np.zeros((28, 28))
    specks[4:24:2, 10] = 0.6  # what is left of a very thin stroke: thin, not thick
    assert stroke_width(specks) == pytest.approx(2 * 0.6 / 4)
    assert stroke_width(np.full((28, 28), 0.3)) == 0.0  # only faint ink: no outline
    with pytest.raises(DataError, match="28×28"):
        ink_mass(np.zeros((280, 280)))
    with pytest.raises(DataError, match="28×28"):
        stroke_width(np.zeros((8, 8)))


@pytest.mark.parametrize("height", [130, 180, 230])
def test_default_brush_gives_mnist_like_strokes_at_typical_sizes(height):
    widths = [stroke_width(preprocess_drawing(draw(d, height, DEFAULT_BRUSH))) for d in DIGITS]
    assert MNIST_STROKE_WIDTH["p5"] <= min(widths) and max(widths) <= MNIST_STROKE_WIDTH["p95"], widths
    # Ink against the same digit's MNIST mean (a 1 has less ink than a 0).
    ratios = [ink_mass(preprocess_drawing(draw(d, height, DEFAULT_BRUSH))) / MNIST_INK_MASS_PER_DIGIT[d]
              for d in DIGITS]
    assert min(ratios) >= 0.5 and max(ratios) <= 1.5, ratios


@pytest.mark.parametrize("digit", sorted(DIGITS))
@pytest.mark.parametrize(("height", "centre"), [
    (40, (30.0, 25.0)),      # small, in the top-left corner
    (60, (240.0, 250.0)),    # small, bottom-right corner
    (150, (90.0, 190.0)),    # ordinary size, off centre
    (272, (140.0, 140.0)),   # very large: the strokes touch the canvas's edges
])
def test_small_off_centre_and_large_digits_are_centred_and_scaled(digit, height, centre):
    field = normalize_mnist(draw(digit, height, height / 8, centre))
    assert field is not None
    row, col = center_of_mass(field)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5  # whole-pixel shift, as MNIST did
    top, bottom, left, right = ink_bounding_box(field)
    assert max(bottom - top, right - left) in (20, 21)  # the 20-px box (+ a faint anti-aliased edge)
    assert top > 0 and left > 0 and bottom < 28 and right < 28  # nothing cut off


@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_position_and_size_do_not_change_what_the_network_sees(digit):
    centred = preprocess_drawing(draw(digit, 200, 28))
    # The same strokes moved by whole pixels into a corner: the same input (the whole-pixel
    # centring may round the other way by one pixel, as it did for MNIST).
    moved = preprocess_drawing(draw(digit, 200, 28, centre=(140.0 - 20, 140.0 + 35)))
    assert _shift_distance(moved, centred) < 0.01
    # Drawn half as large with half the brush: nearly the same input.
    half = preprocess_drawing(draw(digit, 100, 14, centre=(60.0, 200.0)))
    assert _shift_distance(half, centred) < 0.03


def _shift_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two 28×28 images, the smallest over moving ``a`` by at
    most one pixel each way."""
    return min(float(np.abs(shift_whole_pixels(a, dy, dx) - b).mean()) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_hints_for_drawings_hard_to_read():
    assert drawing_hint(np.zeros((280, 280))) is None  # empty: the prompt says "Draw a digit"
    for d in DIGITS:
        assert drawing_hint(draw(d, 180, DEFAULT_BRUSH)) is None, d
    small = drawing_hint(draw(3, 40, DEFAULT_BRUSH, centre=(40.0, 40.0)))  # 64 px with the brush
    assert small is not None and small.code == "too_small" and "larger" in small.message
    faint = drawing_hint(draw(3, 230, 6))
    assert faint is not None and faint.code == "too_faint" and faint.message.endswith(".")
    light = drawing_hint(draw(3, 180, DEFAULT_BRUSH) * 0.4)  # a light pen pressure
    assert light is not None and light.code == "too_faint"
    thick = drawing_hint(draw(8, 80, 30))
    assert thick is not None and thick.code == "too_thick"
