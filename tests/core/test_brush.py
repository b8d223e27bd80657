"""core.data.brush: the one brush model of the canvas and of training data (dot and segment
shapes, width, max compositing, device-pixel ratio, the batched renderer equal to painting
point by point)."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.augment import draw_segments
from core.data.brush import CANVAS_SIZE, DEFAULT_BRUSH, capsule_coverage, paint_segment, render_strokes
from core.data.errors import DataError


def blank(ratio: float = 1.0) -> np.ndarray:
    side = round(CANVAS_SIZE * ratio)
    return np.zeros((side, side), dtype=np.uint8)


def paint_one_by_one(strokes, ratio: float = 1.0) -> np.ndarray:
    """What the canvas does: a dot at point 0, then one segment per further point."""
    image = blank(ratio)
    for points, widths in strokes:
        for i in range(len(points)):
            paint_segment(image, points[max(i - 1, 0)], points[i], widths[i], ratio)
    return image


def test_a_dot_is_a_symmetric_disc_of_the_brush_width():
    image = blank()
    paint_segment(image, (140.0, 140.0), (140.0, 140.0), 20)
    # Pixel centres sit at x + 0.5: a dot at 140 is symmetric about the line between pixels
    # 139 and 140, so the image is symmetric under flips and the transpose.
    assert np.array_equal(image, image[::-1, :]) and np.array_equal(image, image[:, ::-1])
    assert np.array_equal(image, image.T)
    # The row of centres 0.5 below the dot's centre: 2 × 10 pixels reached, the outer two
    # anti-aliased (centre distance sqrt(9.5² + 0.5²) = 9.51: coverage 0.99).
    row = image[140]
    assert np.count_nonzero(row) == 20 and np.count_nonzero(row == 255) == 18 and row[130] == 252
    assert image.sum() / 255 == pytest.approx(np.pi * 10 ** 2, rel=0.02)


def test_a_segment_is_as_thick_as_the_brush_with_round_caps():
    image = blank()
    paint_segment(image, (60.0, 140.0), (200.0, 140.0), 24)
    for column in range(60, 200, 7):  # pixel centres on the segment (x + 0.5 <= 200)
        assert image[:, column].sum() == 24 * 255  # exactly the width across, full white in the middle
    # A round cap: ink reaches half a brush beyond each end along the axis, less off-axis.
    assert image[139, 200 + 10] == 255 and image[139, 200 + 11] > 250 and image[139, 200 + 12] == 0
    assert image[139 - 10, 200 + 10] == 0  # a square cap would be inked here
    assert np.array_equal(image, image[::-1, :])  # symmetric about the stroke's axis
    # Off the pixel grid, the anti-aliased edge still carries the exact width as ink.
    image = blank()
    paint_segment(image, (60.0, 100.3), (200.0, 100.3), 17)
    assert image[:, 130].sum() / 255 == pytest.approx(17, abs=0.01)
    assert ((image > 0) & (image < 255)).any()


def test_ink_never_accumulates_where_segments_meet():
    once = blank()
    paint_segment(once, (50.0, 50.0), (200.0, 180.0), 30)
    twice = once.copy()
    paint_segment(twice, (50.0, 50.0), (200.0, 180.0), 30)
    assert np.array_equal(once, twice)  # painting again changes nothing
    a, b = blank(), blank()
    paint_segment(a, (40.0, 100.0), (140.0, 100.0), 20)
    paint_segment(b, (140.0, 100.0), (180.0, 200.0), 20)
    joined = blank()
    paint_segment(joined, (40.0, 100.0), (140.0, 100.0), 20)
    paint_segment(joined, (140.0, 100.0), (180.0, 200.0), 20)
    assert np.array_equal(joined, np.maximum(a, b))  # MAX, not a sum: the join is not brighter


def test_the_device_pixel_ratio_scales_the_image_not_the_drawing():
    strokes = [(np.array([[50.0, 60.0], [200.0, 220.0], [230.0, 80.0]]), np.full(3, 18.0))]
    at_1 = render_strokes(strokes, ratio=1.0)
    at_2 = render_strokes(strokes, ratio=2.0)
    assert at_2.shape == (560, 560)
    # The same ink in canvas units, twice the pixels a side.
    assert at_2.sum() / 4 == pytest.approx(at_1.sum(), rel=0.01)
    assert at_2.reshape(280, 2, 280, 2).mean(axis=(1, 3)) == pytest.approx(at_1, abs=40)


@pytest.mark.parametrize("ratio", [1.0, 1.25, 1.5, 2.0])
def test_render_strokes_is_pixel_for_pixel_painting_point_by_point(ratio):
    rng = np.random.default_rng(int(ratio * 100))
    strokes = []
    for _ in range(4):
        n = int(rng.integers(1, 90))
        points = np.cumsum(rng.normal(0, rng.uniform(1, 25), (n, 2)), axis=0) + rng.uniform(-20, 300, 2)
        strokes.append((points, rng.uniform(4, 60, n)))  # partly outside the canvas too
    strokes.append((np.array([[140.0, 140.0]]), np.array([DEFAULT_BRUSH])))  # a click: one dot
    rendered = render_strokes(strokes, ratio=ratio)
    assert rendered.dtype == np.uint8 and rendered.shape == (round(280 * ratio),) * 2
    assert rendered.max() == 255
    assert np.array_equal(rendered, paint_one_by_one(strokes, ratio))


def test_render_strokes_refuses_strokes_it_cannot_paint():
    assert render_strokes([]).max() == 0
    with pytest.raises(DataError, match="stroke 1 must be points"):
        render_strokes([(np.zeros((3, 3)), np.ones(3))])
    with pytest.raises(DataError, match="stroke 2 must be points"):
        render_strokes([(np.zeros((2, 2)), np.ones(2)), (np.zeros((3, 2)), np.ones(2))])
    with pytest.raises(DataError, match="NaN or infinite"):
        render_strokes([(np.array([[1.0, np.nan]]), np.ones(1))])
    with pytest.raises(DataError, match="uint8"):
        paint_segment(np.zeros((10, 10)), (1, 1), (2, 2), 3)


def test_the_mnist_flag_augmentation_draws_with_the_same_brush():
    # draw_segments (pixel centres at integers, row/col order) shares capsule_coverage.
    images = np.zeros((1, 40, 40), dtype=np.float32)
    out = draw_segments(images, np.array([[20.0, 5.0]]), np.array([[20.0, 35.0]]), np.array([6.0]))
    rows = np.arange(40, dtype=np.float32)[:, None]
    cols = np.arange(40, dtype=np.float32)[None, :]
    expected = capsule_coverage(rows, cols, np.float32(20), np.float32(5), np.float32(20), np.float32(35),
                                np.float32(3))
    assert np.array_equal(out[0], expected)
    assert out[0, :, 20].sum() == pytest.approx(6.0)
