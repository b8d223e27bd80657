"""Drawing-like augmentations (core.data.augment): seeded, shape-preserving, each doing its job."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.data import DataError
from core.data.augment import (
    AugmentConfig,
    adjust_thickness,
    augment_digits,
    downsample_mean,
    elastic_field,
    gaussian_matrix,
    random_affine,
    warp_bilinear,
)
from core.data.drawing import center_of_mass, preprocess_batch

IDENTITY = AugmentConfig(rotation=0.0, scale=(1.0, 1.0), aspect=(1.0, 1.0), shear=0.0, shift=0.0,
                         thickness=(0.0, 0.0), elastic_probability=0.0, gamma=(1.0, 1.0))


def digits(n: int = 6) -> np.ndarray:
    """(n, 28, 28) simple digit-like shapes: rings and bars of different sizes."""
    rr, cc = np.mgrid[0:28, 0:28] + 0.5
    out = []
    for i in range(n):
        if i % 2 == 0:
            radius = 6 + i % 4
            dist = np.abs(np.hypot(rr - 14, cc - 14) - radius)
        else:
            dist = np.abs(cc - 14 - 0.2 * (rr - 14)) + np.where(np.abs(rr - 14) > 9, 10, 0)
        out.append(np.clip(1.6 - dist, 0, 1))
    return np.array(out, dtype=np.float32)


def test_same_seed_same_images_other_seed_other_images():
    x = digits()
    a = augment_digits(x, np.random.default_rng(7))
    b = augment_digits(x, np.random.default_rng(7))
    c = augment_digits(x, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0.01


def test_output_shape_range_and_full_white_strokes():
    x = digits(5)
    out = augment_digits(x, np.random.default_rng(0))
    assert out.shape == (5, 56, 56) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out.max(axis=(1, 2)), 1.0, atol=1e-6)  # like a brush stroke
    plain = augment_digits(x, np.random.default_rng(0), dataclasses.replace(IDENTITY, upsample=1))
    assert plain.shape == (5, 28, 28)


def test_identity_settings_give_the_image_back():
    x = digits()
    out = augment_digits(x, np.random.default_rng(0), IDENTITY)
    back = downsample_mean(out, 2)
    assert np.abs(back - x).mean() < 0.02  # only bilinear resampling blur
    same = augment_digits(x, np.random.default_rng(0), dataclasses.replace(IDENTITY, upsample=1))
    np.testing.assert_allclose(same, x / x.max(axis=(1, 2), keepdims=True), atol=1e-5)


def test_thickness_dilates_and_erodes():
    line = np.zeros((1, 28, 28), dtype=np.float32)
    line[0, 5:23, 10:13] = 1.0  # a 3-px stroke
    thick = adjust_thickness(line, np.array([1.0]))
    thin = adjust_thickness(line, np.array([-1.0]))
    same = adjust_thickness(line, np.array([0.0]))
    np.testing.assert_array_equal(same, line)
    assert (thick[0, 14] > 0.5).sum() == 5  # +1 px each side
    assert (thin[0, 14] > 0.5).sum() == 1  # -1 px each side
    half = adjust_thickness(line, np.array([0.5]))
    assert line.sum() < half.sum() < thick.sum()
    with pytest.raises(DataError, match="1 images but 2 thickness"):
        adjust_thickness(line, np.array([0.1, 0.2]))


def test_warp_bilinear_shifts_interpolates_and_zero_fills():
    rng = np.random.default_rng(1)
    images = rng.random((100, 9, 11)).astype(np.float32)  # > one chunk: chunked path too
    rows, cols = np.mgrid[0:9, 0:11].astype(np.float32)
    rows = np.broadcast_to(rows, (100, 9, 11))
    cols = np.broadcast_to(cols, (100, 9, 11))
    np.testing.assert_allclose(warp_bilinear(images, rows, cols), images, atol=1e-6)
    shifted = warp_bilinear(images, rows - 2, cols + 1)  # out[r, c] = in[r - 2, c + 1]
    np.testing.assert_allclose(shifted[:, 2:, :-1], images[:, :-2, 1:], atol=1e-6)
    assert np.all(shifted[:, :2] == 0) and np.all(shifted[:, :, -1] == 0)
    half = warp_bilinear(images, rows, cols + 0.5)
    np.testing.assert_allclose(half[:, :, :-1], (images[:, :, :-1] + images[:, :, 1:]) / 2, atol=1e-6)


def test_random_affine_stays_in_its_ranges():
    config = AugmentConfig()
    maps = random_affine(2000, np.random.default_rng(0), config)
    assert maps.shape == (2000, 2, 3)
    # Area change of the forward map = 1 / det(inverse): scale² × aspect, within the ranges.
    area = 1 / np.linalg.det(maps[:, :, :2])
    assert area.min() >= 0.8 ** 2 * 0.85 - 1e-9 and area.max() <= 1.2 ** 2 * 1.15 + 1e-9
    assert np.abs(maps[:, :, 2]).max() <= config.shift
    assert area.std() > 0.05  # really random


def test_rotation_turns_a_bar():
    bar = np.zeros((1, 28, 28), dtype=np.float32)
    bar[0, 4:24, 13:15] = 1.0  # vertical
    tilted = augment_digits(bar, np.random.default_rng(3), dataclasses.replace(IDENTITY, rotation=15.0, upsample=1))
    rows, cols = np.nonzero(tilted[0] > 0.5)
    slope = np.polyfit(rows, cols, 1)[0]  # columns per row: tan(angle)
    assert 0.01 < abs(slope) <= np.tan(np.deg2rad(15.5))


def test_elastic_field_is_smooth_and_sized():
    field = elastic_field(50, 28, 28, np.random.default_rng(0), alpha=25.0, sigma=4.5)
    assert field.shape == (50, 2, 28, 28)
    spread = field.std()
    assert 0.3 < spread < 3.0  # about a pixel: bends strokes, does not tear them
    step = np.abs(np.diff(field, axis=-1)).mean()
    assert step < 0.25 * spread
    g = gaussian_matrix(28, 4.5)
    assert g[14].sum() == pytest.approx(1.0, abs=0.01)


def test_augmented_digits_survive_the_canvas_preprocessing():
    x = digits()
    out = preprocess_batch(augment_digits(x, np.random.default_rng(5)))
    assert out.shape == (6, 28, 28)
    for image in out:
        row, col = center_of_mass(image)
        assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
        assert image.max() > 0.9


def test_bad_batch_is_named():
    with pytest.raises(DataError, match=r"\(n, height, width\)"):
        augment_digits(np.zeros((28, 28)), np.random.default_rng(0))
    with pytest.raises(DataError, match="upsample"):
        augment_digits(digits(1), np.random.default_rng(0), dataclasses.replace(IDENTITY, upsample=0))
