"""AvgPool2D: PyTorch's nn.AvgPool2d (padding 0, floor, divisor ph*pw) against a plain loop.

Shapes, JSON, gradients and save/load run in the conformance harness (layer_cases.py); this
file pins the semantics. Cross-checked once against torch 2.13.0 ``nn.AvgPool2d`` on five
configurations (forward and input gradient): largest difference 4.4e-16 in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import AvgPool2D, NetworkSpec, analyze
from core.spec.edit import default_layer, palette_types
from core.spec.fixes import quick_fix


def reference_avg_pool(x: np.ndarray, pool: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Straight from the definition: the mean of every whole window, windows that would
    leave the image dropped (floor)."""
    batch, channels, height, width = x.shape
    (ph, pw), (sh, sw) = pool, stride
    oh, ow = (height - ph) // sh + 1, (width - pw) // sw + 1
    y = np.zeros((batch, channels, oh, ow))
    for r in range(oh):
        for c in range(ow):
            y[:, :, r, c] = x[:, :, r * sh:r * sh + ph, c * sw:c * sw + pw].mean(axis=(2, 3))
    return y


def built(pool_size, stride, shape, dtype=np.float64):
    layer = AvgPool2D(pool_size, stride)
    layer.build(shape, np.random.default_rng(0), dtype)
    return layer


@pytest.mark.parametrize("pool_size,stride,shape", [
    (2, None, (3, 6, 6)), (2, None, (1, 5, 7)), (3, 2, (2, 7, 7)), ([2, 3], 1, (1, 4, 5)), ([3, 2], [1, 2], (2, 6, 5)),
])
def test_forward_is_the_window_mean_with_floor_and_no_padding(pool_size, stride, shape):
    layer = built(pool_size, stride, shape)
    x = np.random.default_rng(1).standard_normal((4, *shape))
    expected = reference_avg_pool(x, layer.pool, layer.strides)
    assert layer.output_shape(shape) == expected.shape[1:]
    np.testing.assert_allclose(layer.forward(x), expected, rtol=0, atol=1e-15)


def test_backward_spreads_each_gradient_evenly_and_skips_cut_off_rows():
    layer = built(2, None, (1, 5, 7))  # the last row and column fill no whole window
    x = np.arange(35, dtype=np.float64).reshape(1, 1, 5, 7)
    layer.forward(x)
    dx = layer.backward(np.ones((1, 1, 2, 3)))
    assert np.all(dx[0, 0, :4, :6] == 0.25)
    assert np.all(dx[0, 0, 4, :] == 0) and np.all(dx[0, 0, :, 6] == 0)


def test_overlapping_windows_add_their_shares():
    layer = built(2, 1, (1, 3, 3))
    layer.forward(np.zeros((1, 1, 3, 3)))
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    # The centre belongs to all four windows, edges to two, corners to one.
    assert np.array_equal(dx[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


def test_float32_in_float32_out():
    layer = built(2, None, (2, 4, 4), np.float32)
    x = np.ones((3, 2, 4, 4), dtype=np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32 and np.all(y == 1)
    assert layer.backward(np.ones_like(y)).dtype == np.float32


def test_offered_after_max_pooling_and_repaired_like_it():
    types = palette_types()
    assert types.index("AvgPool2D") == types.index("MaxPool2D") + 1
    assert AvgPool2D.category == "pooling" and AvgPool2D.input_rank == 3 and AvgPool2D.summary
    assert default_layer("AvgPool2D").config["pool_size"] == 2
    assert AvgPool2D(2).describe() == "AvgPool 2×2" and AvgPool2D(3, 2).describe() == "AvgPool 3×3/2"
    spec = NetworkSpec.from_dict({"input_shape": [1, 4, 4], "layers": [
        {"type": "AvgPool2D", "pool_size": 8}, {"type": "Flatten"}, {"type": "Dense", "units": 2}]})
    problem = analyze(spec).problems[0]
    assert problem.code == "pool_too_large" and str(problem).startswith("layer 1 (AvgPool2D): pool window 8×8")
    assert quick_fix(spec, problem).label == "Remove layer 1 (AvgPool2D)"
    flat = NetworkSpec.from_dict({"input_shape": [64], "layers": [{"type": "AvgPool2D"}]})
    assert analyze(flat).problems[0].code == "needs_image_input"
