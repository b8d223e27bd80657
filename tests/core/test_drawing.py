"""Canvas -> network input preprocessing (core.data.drawing): MNIST and UCI recipes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.data import DataError, apply_preprocessing, load_dataset
from core.data.drawing import (
    area_resize,
    area_resize_matrix,
    bitmap_32,
    block_counts,
    center_of_mass,
    dataset_preprocessing,
    drawing_to_raw,
    has_enough_ink,
    ink_bounding_box,
    mode_for_input_shape,
    preprocess_batch,
    preprocess_drawing,
    sample_as_image,
    sample_fits,
    sample_to_network_input,
    shift_whole_pixels,
    to_network_input,
)

CANVAS = 280


def stroke_image(size: int, points: list[tuple[float, float]], width: float, offset=(0.0, 0.0), scale: float = 1.0):
    """A (size, size) anti-aliased polyline, white on black. ``points`` in a unit box
    (row, col in 0..1) mapped to ``scale * 200`` px at ``offset``; ``width`` in px before
    scaling (so a scaled drawing has proportionally thicker strokes, like a scaled image)."""
    rr, cc = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    p = np.array(points, dtype=np.float64) * 200 * scale + np.array(offset)
    dist = np.full((size, size), np.inf)
    for (r0, c0), (r1, c1) in itertools.pairwise(p):
        d = np.array([r1 - r0, c1 - c0])
        t = np.clip(((rr - r0) * d[0] + (cc - c0) * d[1]) / max(d @ d, 1e-12), 0, 1)
        dist = np.minimum(dist, np.hypot(rr - (r0 + t * d[0]), cc - (c0 + t * d[1])))
    return np.clip(width * scale / 2 - dist + 0.5, 0.0, 1.0)


SEVEN = [(0.05, 0.1), (0.05, 0.6), (0.95, 0.25)]
TWO = [(0.2, 0.1), (0.02, 0.35), (0.2, 0.6), (0.5, 0.4), (0.95, 0.05), (0.95, 0.65)]


# --------------------------------------------------------------------------- building blocks


def test_area_resize_matrix_is_an_exact_box_filter():
    for n_in, n_out in [(280, 20), (7, 3), (3, 7), (20, 20), (1, 4), (13, 5)]:
        m = area_resize_matrix(n_in, n_out)
        assert m.shape == (n_out, n_in)
        np.testing.assert_allclose(m.sum(axis=1), 1.0)
        # Independent reference: repeat every pixel n_out times (length n_in * n_out), then
        # average consecutive runs of n_in: exact area averaging on a common fine grid.
        repeat = np.kron(np.eye(n_in), np.ones((n_out, 1)))  # (n_in * n_out, n_in)
        average = np.kron(np.eye(n_out), np.ones((1, n_in))) / n_in  # (n_out, n_in * n_out)
        reference = average @ repeat
        np.testing.assert_allclose(m, reference, atol=1e-12)


def test_area_resize_integer_ratio_is_block_mean_and_keeps_mean():
    rng = np.random.default_rng(0)
    image = rng.random((60, 40))
    np.testing.assert_allclose(area_resize(image, 6, 4), image.reshape(6, 10, 4, 10).mean(axis=(1, 3)))
    odd = area_resize(image, 17, 23)
    assert odd.shape == (17, 23)
    assert odd.mean() == pytest.approx(image.mean(), rel=1e-12)


def test_bounding_box_centre_of_mass_and_shift():
    image = np.zeros((10, 12))
    image[2:5, 3:9] = 1.0
    image[0, 0] = 0.05  # below the ink threshold: ignored by the box
    assert ink_bounding_box(image) == (2, 5, 3, 9)
    assert ink_bounding_box(np.zeros((4, 4))) is None
    row, col = center_of_mass(image[1:, 1:])
    assert row == pytest.approx(2.0, abs=0.05) and col == pytest.approx(4.5, abs=0.1)
    moved = shift_whole_pixels(image, 3, -2)
    np.testing.assert_array_equal(moved[5:8, 1:7], 1.0)
    assert moved.sum() == pytest.approx(18.0)
    assert shift_whole_pixels(image, 20, 0).sum() == 0


# --------------------------------------------------------------------------- MNIST recipe


def test_output_follows_the_mnist_recipe():
    out = preprocess_drawing(stroke_image(CANVAS, SEVEN, 18, offset=(30, 50)))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1 and out.max() > 0.9
    top, bottom, left, right = ink_bounding_box(out)
    assert max(bottom - top, right - left) in (20, 21)  # 20-px box (+ a faint rounding edge)
    row, col = center_of_mass(out)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
    # Values are MNIST's: whole 1/255 steps, exactly what the dataset's scaling makes.
    np.testing.assert_allclose(out * 255, np.round(out * 255), atol=1e-3)


def test_translation_changes_nothing_and_scale_very_little():
    base = preprocess_drawing(stroke_image(CANVAS, TWO, 18, offset=(20, 20)))
    moved = preprocess_drawing(stroke_image(CANVAS, TWO, 18, offset=(60, 45)))
    np.testing.assert_array_equal(base, moved)  # whole-pixel moves: identical crops
    for scale, offset in [(0.6, (90, 100)), (1.25, (5, 5))]:
        other = preprocess_drawing(stroke_image(CANVAS, TWO, 18, offset=offset, scale=scale))
        assert np.abs(other - base).mean() < 0.03, scale
        assert np.corrcoef(other.ravel(), base.ravel())[0, 1] > 0.95


def test_empty_or_nearly_empty_canvas_gives_none():
    assert preprocess_drawing(np.zeros((CANVAS, CANVAS))) is None
    faint = np.full((CANVAS, CANVAS), 0.05)  # background noise below the ink threshold
    assert preprocess_drawing(faint) is None
    dot = np.zeros((CANVAS, CANVAS))
    dot[100:108, 100:108] = 1.0  # a click, not a digit
    assert not has_enough_ink(dot)
    assert preprocess_drawing(dot) is None and preprocess_drawing(dot, "digits8x8") is None
    assert preprocess_drawing(stroke_image(CANVAS, [(0.1, 0.5), (0.9, 0.5)], 16)) is not None


def test_bad_input_is_named():
    with pytest.raises(DataError, match="2-D"):
        preprocess_drawing(np.zeros((3, 28, 28)))
    with pytest.raises(DataError, match="NaN"):
        preprocess_drawing(np.full((28, 28), np.nan))
    with pytest.raises(DataError, match="unknown drawing mode 'emnist'"):
        preprocess_drawing(np.zeros((28, 28)), "emnist")


def test_batch_matches_single_images():
    images = np.stack([stroke_image(84, SEVEN, 6, scale=0.3), np.zeros((84, 84)),
                       stroke_image(84, TWO, 6, scale=0.35)])
    batch = preprocess_batch(images)
    assert batch.shape == (3, 28, 28) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0], preprocess_drawing(images[0]))
    assert batch[1].sum() == 0
    np.testing.assert_array_equal(batch[2], preprocess_drawing(images[2]))


# --------------------------------------------------------------------------- UCI recipe


def test_block_counts_are_the_uci_features():
    rng = np.random.default_rng(3)
    bitmap = rng.random((32, 32)) < 0.4
    counts = block_counts(bitmap)
    assert counts.shape == (8, 8) and counts.min() >= 0 and counts.max() <= 16
    for i in range(8):
        for j in range(8):
            assert counts[i, j] == bitmap[4 * i:4 * i + 4, 4 * j:4 * j + 4].sum()
    with pytest.raises(DataError, match="4×4 blocks"):
        block_counts(np.zeros((30, 32)))


def test_digits8x8_mode_on_a_synthetic_bitmap():
    # A 32-row-tall, 16-column-wide bitmap centred in 32×32: the recipe must give it back
    # (then thickened by its documented 3×3 dilation) and count its blocks.
    bitmap = np.zeros((32, 32), dtype=bool)
    bitmap[:, 8:12] = True  # left bar
    bitmap[:, 20:24] = True  # right bar
    bitmap[0:3, 8:24] = True  # top
    bitmap[29:32, 8:24] = True  # bottom: a "0" of width 16
    canvas = np.zeros((CANVAS, CANVAS))
    canvas[10:10 + 256, 7:7 + 256] = np.kron(bitmap, np.ones((8, 8)))  # drawn 8× larger, off-centre
    dilated = np.zeros((34, 34), dtype=bool)
    for dy in range(3):
        for dx in range(3):
            dilated[dy:dy + 32, dx:dx + 32] |= bitmap
    expected = dilated[1:33, 1:33]
    np.testing.assert_array_equal(bitmap_32(canvas), expected)
    raw = drawing_to_raw(canvas, "digits8x8")
    np.testing.assert_array_equal(raw, block_counts(expected))
    out = preprocess_drawing(canvas, "digits8x8")
    assert out.shape == (8, 8) and out.dtype == np.float32
    np.testing.assert_allclose(out, block_counts(expected) / 16, atol=1e-6)


def test_drawing_and_dataset_share_the_preprocessing():
    digits = load_dataset("digits8x8")
    assert digits.preprocessing == dataset_preprocessing("digits8x8", "flat")
    raw = np.arange(64).reshape(1, 8, 8) % 17
    np.testing.assert_array_equal(apply_preprocessing(raw, digits.preprocessing)[0],
                                  apply_preprocessing(raw, dataset_preprocessing("digits8x8", "image")).ravel())


def test_digits8x8_drawing_looks_like_the_dataset():
    # Every UCI sample fills all 8 block rows and leaves the outer columns mostly empty.
    out = preprocess_drawing(stroke_image(CANVAS, TWO, 20, offset=(30, 60)), "digits8x8")
    assert (out > 0).any(axis=1).all()
    assert out[:, 0].sum() == 0
    assert 0.15 < out.mean() < 0.5  # the bundled set's mean is 0.31


# --------------------------------------------------------------------------- network inputs


def test_mode_and_network_input_for_each_input_shape():
    assert mode_for_input_shape((784,)) == mode_for_input_shape((1, 28, 28)) == "mnist"
    assert mode_for_input_shape((64,)) == mode_for_input_shape((1, 8, 8)) == "digits8x8"
    assert mode_for_input_shape((2,)) is None
    image = stroke_image(CANVAS, SEVEN, 18)
    expected = preprocess_drawing(image)
    for shape in [(784,), (1, 28, 28)]:
        x, preview = to_network_input(image, shape)
        assert x.shape == (1, *shape) and x.dtype == np.float32
        np.testing.assert_array_equal(preview, expected)
        np.testing.assert_array_equal(x.ravel(), expected.ravel())
    x, preview = to_network_input(image, (64,), {"scale": 1 / 16, "layout": "flat", "image_shape": [8, 8]})
    assert x.shape == (1, 64) and preview.shape == (8, 8)
    np.testing.assert_array_equal(preview, preprocess_drawing(image, "digits8x8"))
    assert to_network_input(np.zeros((CANVAS, CANVAS)), (784,)) is None
    with pytest.raises(DataError, match=r"cannot feed a network whose input is \(2,\)"):
        to_network_input(image, (2,))


def test_sample_to_network_input():
    sample = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    np.testing.assert_array_equal(sample_to_network_input(sample, (784,)), sample.reshape(1, 784))
    assert sample_to_network_input(sample, (1, 28, 28)).shape == (1, 1, 28, 28)
    with pytest.raises(DataError, match="does not fit"):
        sample_to_network_input(sample, (64,))
    assert sample_fits(sample, (784,)) and sample_fits(sample, (1, 28, 28)) and not sample_fits(sample, (64,))
    np.testing.assert_array_equal(sample_as_image(sample.reshape(1, 784)), sample)
    assert sample_as_image(np.zeros(64)).shape == (8, 8)
    with pytest.raises(DataError, match="not a square image"):
        sample_as_image(np.zeros(10))


# --------------------------------------------------------------------------- real digits


def _shipped_model():
    from core import load_model
    from core.resource_files import resource_file

    with resource_file("models/mnist_cnn.nnz") as path:
        return load_model(path)


@pytest.mark.mnist
def test_mnist_digits_drawn_large_small_and_off_centre_come_back(mnist_dir, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA", str(mnist_dir))
    data = load_dataset("mnist", layout="image")
    model = _shipped_model()
    originals = data.x_test[:40, 0]
    placements = [(10, 10, 40), (5, 13, 7), (7.5, 90, 30), (13, 150, 160)]  # (factor, row, col)
    errors = []
    for factor, row, col in placements:
        canvases = []
        for image in originals:
            # Upscale with exact area averaging (block copies for integer factors), keep the
            # ink's box and place it on the canvas (as far as it fits).
            size = round(float(28 * factor))
            big = np.clip(area_resize(image, size, size), 0, 1)
            top, bottom, left, right = ink_bounding_box(big)
            crop = big[top:bottom, left:right]
            r, c = min(row, CANVAS - crop.shape[0]), min(col, CANVAS - crop.shape[1])
            canvas = np.zeros((CANVAS, CANVAS))
            canvas[r:r + crop.shape[0], c:c + crop.shape[1]] = crop
            canvases.append(canvas)
        back = preprocess_batch(np.stack(canvases))
        errors.append(np.abs(back - originals).mean())
        predicted = model.predict_classes(back[:, None])
        expected = model.predict_classes(originals[:, None])
        assert (predicted == expected).mean() >= 0.975, (factor, row, col)
    assert max(errors) < 0.02, errors
