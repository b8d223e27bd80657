"""The fast layer implementations against the plain references in ``core.layers.reference``.

Every padding, stride and kernel shape, both patch layouts (one channel / many), both output
memory orders (few filters / many), several blocks with a partial last one, inputs stored
channels-first and channels-last, float32 and float64. Max pooling and relu must agree
exactly (they only select values); convolutions and average pooling up to float rounding.
The layout tests pin down what makes the fast paths fast: outputs keep channels-last memory
from layer to layer, so nothing in between transposes them.
"""

from __future__ import annotations

import numpy as np
import pytest

import core.layers._compiled as compiled_loops
import core.layers.conv as conv_module
from core.layers import _winograd as winograd
from core.layers import reference
from core.layers.activations import Activation
from core.layers.conv import Conv2D
from core.layers.pooling import AvgPool2D, MaxPool2D
from core.layers.reshape import Flatten

DTYPES = [np.float32, np.float64]
#: Relative to the largest magnitude in the expected array: a float32 sum of thousands of
#: products (a weight gradient over a batch) rounds differently in any other order.
RELATIVE_ERROR = {np.float32: 2e-6, np.float64: 1e-13}


def assert_close(got: np.ndarray, want: np.ndarray, dtype) -> None:
    """got == want up to float rounding of dtype, and of the same shape."""
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max(initial=0.0)), 1.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=RELATIVE_ERROR[dtype] * scale)

# (input per sample, filters, kernel, stride, padding, use_bias)
CONV_CASES = [
    ((1, 28, 28), 8, 3, 1, "same", True),           # first layer: offset-major patches, channel-major output
    ((1, 28, 28), 32, 3, 1, "same", True),          # shipped model's first layer: channels-last output
    ((32, 14, 14), 64, 3, 1, "same", True),         # shipped model's second layer
    ((8, 14, 14), 16, 3, 1, "same", True),          # README CNN's second layer
    ((3, 9, 8), 5, 3, 2, "same", True),             # stride 2, odd size, uneven padding
    ((2, 7, 9), 4, [2, 3], [1, 2], "same", False),  # rectangular kernel and stride, no bias
    ((6, 6, 6), 17, 4, 1, "same", True),            # even kernel: extra padding bottom/right
    ((5, 8, 7), 3, 3, 1, "valid", True),            # no padding
    ((4, 9, 9), 20, 2, 2, "valid", True),           # non-overlapping windows, rows left over
    ((2, 5, 5), 16, 5, 3, "same", True),            # kernel as large as the image
    ((7, 6, 5), 18, 1, 1, "valid", True),           # 1x1 convolution
]


def channels_last_copy(x: np.ndarray) -> np.ndarray:
    """The same values as x (batch, C, H, W), stored channels-last (as Conv2D returns them)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def is_channels_last(a: np.ndarray) -> bool:
    return bool(a.transpose(0, 2, 3, 1).flags.c_contiguous)


def built(layer, input_shape, dtype, seed=0):
    layer.build(input_shape, np.random.default_rng(seed), dtype)
    return layer


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("memory", ["channels_first", "channels_last"])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}-{c[1]}f-k{c[2]}-s{c[3]}-{c[4]}")
@pytest.mark.parametrize("jit", ["compiled", "numpy"])
def test_conv2d_equals_reference(case, memory, dtype, jit, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_JIT", "1" if jit == "compiled" else "0")  # the input gradient's two paths
    shape, filters, kernel, stride, padding, use_bias = case
    layer = built(Conv2D(filters, kernel, stride, padding, use_bias=use_bias), shape, dtype)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, *shape)).astype(dtype)
    if memory == "channels_last":
        x = channels_last_copy(x)
    w, b = layer.params["W"], layer.params.get("b")
    if b is not None:
        b[...] = rng.standard_normal(b.shape)  # a zero bias would hide a misplaced bias column
    y = layer.forward(x, training=True)
    assert y.dtype == dtype and y.shape == (5, *layer.shape)
    assert_close(y, reference.conv2d_forward(x, w, b, layer.strides, padding), dtype)

    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dy)
    ref_dx, ref_dw, ref_db = reference.conv2d_backward(x, w, dy, layer.strides, padding)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert_close(dx, ref_dx, dtype)
    assert_close(layer.grads["W"], ref_dw, dtype)
    if b is not None:
        assert_close(layer.grads["b"], ref_db, dtype)
    assert layer.backward(dy, need_input_grad=False) is None  # the first layer's shortcut
    assert_close(layer.grads["W"], ref_dw, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("memory", ["channels_first", "channels_last"])
@pytest.mark.parametrize("case", [c for c in CONV_CASES if c[3] == 1 and c[0][0] > 1],
                         ids=lambda c: f"{c[0]}-{c[1]}f-k{c[2]}-{c[4]}")
def test_compiled_input_gradient_is_the_numpy_sums_bit_for_bit(case, memory, dtype, monkeypatch):
    """The gathered input gradient adds each pixel's offsets from zero in the order the NumPy
    path adds its blocks, so the two give the same bits. (With one input channel the NumPy
    path's per-offset products are one column wide, which BLAS sums as matrix-vector products
    in another order; each path still explains itself exactly: test_formulas.py.) Winograd's
    path, which would take the 3×3 layers with 16+ channels, is switched off: test_winograd.py."""
    monkeypatch.setattr(winograd, "WINOGRAD_FROM_CHANNELS", {4: 1 << 30, 8: 1 << 30})
    shape, filters, kernel, stride, padding, use_bias = case
    rng = np.random.default_rng(13)
    x = rng.standard_normal((5, *shape)).astype(dtype)
    if memory == "channels_last":
        x = channels_last_copy(x)
    results = []
    for jit in ("1", "0"):
        monkeypatch.setenv("NNSTUDIO_JIT", jit)
        layer = built(Conv2D(filters, kernel, stride, padding, use_bias=use_bias), shape, dtype, seed=3)
        assert layer.arithmetic(5).gathered_input_grad == (jit == "1")
        y = layer.forward(x, training=True)
        results.append(layer.backward(np.linspace(-1, 1, y.size).reshape(y.shape).astype(dtype)))
    np.testing.assert_array_equal(results[0], results[1])
    assert results[0].strides == results[1].strides


@pytest.mark.parametrize("case", [CONV_CASES[0], CONV_CASES[2], CONV_CASES[4]], ids=["offset-major", "pixel-major",
                                                                                    "strided"])
def test_conv2d_blocks_with_a_partial_last_one(case, monkeypatch):
    """A tiny block size: every sample its own block, and a batch that does not divide evenly."""
    shape, filters, kernel, stride, padding, use_bias = case
    layer = built(Conv2D(filters, kernel, stride, padding, use_bias=use_bias), shape, np.float64)
    full_x = np.random.default_rng(2).standard_normal((7, *shape))
    expected = layer.forward(full_x, training=True)
    dy = np.random.default_rng(3).standard_normal(expected.shape)
    expected_dx = layer.backward(dy)
    expected_dw = layer.grads["W"].copy()
    monkeypatch.setattr(conv_module, "BLOCK_BYTES", 1)
    assert layer._chunk(7) == 1
    np.testing.assert_allclose(layer.forward(full_x, training=True), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dy), expected_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], expected_dw, rtol=1e-12, atol=1e-12)
    ref = reference.conv2d_forward(full_x[:3], layer.params["W"], layer.params["b"], layer.strides, padding)
    np.testing.assert_allclose(layer.forward(full_x[:3]), ref, rtol=1e-12, atol=1e-12)  # a smaller batch after


@pytest.mark.parametrize("keep_bytes", [0, 1 << 30], ids=["rebuilt", "kept"])
@pytest.mark.parametrize("case", [CONV_CASES[0], CONV_CASES[3], CONV_CASES[5]], ids=["offset-major", "pixel-major",
                                                                                    "rectangular"])
def test_conv2d_backward_with_kept_or_rebuilt_columns(case, keep_bytes, monkeypatch):
    """Small column matrices are kept from forward, big ones rebuilt from x: same gradients;
    an inference forward in between makes backward use that call's input. (im2col's columns:
    Winograd's tiles are checked alike in test_winograd.py.)"""
    monkeypatch.setattr(conv_module, "KEEP_COLUMNS_BYTES", keep_bytes)
    monkeypatch.setattr(winograd, "WINOGRAD_FROM_CHANNELS", {4: 1 << 30, 8: 1 << 30})
    shape, filters, kernel, stride, padding, use_bias = case
    layer = built(Conv2D(filters, kernel, stride, padding, use_bias=use_bias), shape, np.float64)
    rng = np.random.default_rng(12)
    x, other = rng.standard_normal((2, 6, *shape))
    y = layer.forward(x, training=True)
    assert layer._kept_columns == bool(keep_bytes)
    dy = rng.standard_normal(y.shape)
    for inputs in (x, other):
        if inputs is other:
            layer.forward(other, training=False)
        dx = layer.backward(dy)
        ref_dx, ref_dw, _ = reference.conv2d_backward(inputs, layer.params["W"], dy, layer.strides, padding)
        assert_close(dx, ref_dx, np.float64)
        assert_close(layer.grads["W"], ref_dw, np.float64)


def test_conv2d_huge_inference_batch_runs_in_workspace_sized_chunks(monkeypatch):
    import core.layers._im2col as im2col_module

    limit = 20_000  # bytes: a few samples' column matrices
    monkeypatch.setattr(im2col_module, "WORKSPACE_LIMIT_BYTES", limit)
    monkeypatch.setattr(conv_module, "WORKSPACE_LIMIT_BYTES", limit)
    layer = built(Conv2D(16, 3, 1, "same"), (4, 8, 8), np.float64)
    x = np.random.default_rng(4).standard_normal((40, 4, 8, 8))
    y = layer.forward(x, training=False)
    np.testing.assert_allclose(y, reference.conv2d_forward(x, layer.params["W"], layer.params["b"], (1, 1), "same"),
                               rtol=1e-12, atol=1e-12)
    assert all(buffer.nbytes <= limit for buffer in layer._workspace._buffers.values())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("memory", ["channels_first", "channels_last"])
@pytest.mark.parametrize("pool, stride, shape", [
    (2, None, (3, 8, 8)), (2, None, (4, 7, 9)), (2, None, (1, 5, 4)),  # the 2x2 fast path, odd leftovers
    (3, 2, (2, 7, 7)), ([2, 3], 1, (2, 5, 6)), (2, 1, (3, 4, 4)), (3, None, (2, 9, 8)),
])
@pytest.mark.parametrize("jit", ["compiled", "numpy"])
def test_max_pool_equals_reference_exactly_with_ties(pool, stride, shape, memory, dtype, jit, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_JIT", "1" if jit == "compiled" else "0")
    layer = built(MaxPool2D(pool, stride), shape, dtype)
    rng = np.random.default_rng(5)
    # Values on a coarse grid with many zeros (as after relu): ties inside windows are common.
    x = np.maximum(np.round(rng.standard_normal((6, *shape)) * 2) / 2, 0).astype(dtype)
    if memory == "channels_last":
        x = channels_last_copy(x)
    y = layer.forward(x, training=True)
    np.testing.assert_array_equal(y, reference.max_pool2d_forward(x, layer.pool, layer.strides))
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dy)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, reference.max_pool2d_backward(x, dy, layer.pool, layer.strides))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("memory", ["channels_first", "channels_last"])
def test_compiled_max_pool_runs_and_matches_numpy_with_nan_and_infinities(memory, dtype, monkeypatch):
    """The 2×2 path is compiled (numba is a dependency) and gives the NumPy path's values and
    gradients, NaN and ±inf windows included (a NaN window outputs NaN and passes nothing)."""
    assert compiled_loops.kernels() is not None
    rng = np.random.default_rng(12)
    x = np.round(rng.standard_normal((3, 5, 6, 8)), 1).astype(dtype)
    x[0, 0, 0, 0], x[1, 2, 3, 5], x[2, 4, 5, 7] = np.nan, np.inf, -np.inf
    x[2, 1, :2, :2] = -np.inf  # a window of -inf only: its first entry wins
    if memory == "channels_last":
        x = channels_last_copy(x)
    dy = rng.standard_normal((3, 5, 3, 4)).astype(dtype)
    results = {}
    for jit in ("1", "0"):
        monkeypatch.setenv("NNSTUDIO_JIT", jit)
        layer = built(MaxPool2D(2), (5, 6, 8), dtype)
        results[jit] = (layer.forward(x, training=True), layer.backward(dy), layer._winner is not None)
    (y1, dx1, compiled), (y0, dx0, fallback) = results["1"], results["0"]
    assert compiled and not fallback
    np.testing.assert_array_equal(y1, y0)  # NaN == NaN here
    np.testing.assert_array_equal(dx1, dx0)
    assert np.isnan(y1[0, 0, 0, 0]) and not dx1[0, 0, :2, :2].any()
    assert is_channels_last(y1) == is_channels_last(x) and is_channels_last(dx1) == is_channels_last(x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("memory", ["channels_first", "channels_last"])
@pytest.mark.parametrize("pool, stride, shape", [(2, None, (3, 8, 8)), (2, None, (2, 7, 5)), (3, 2, (2, 7, 7)),
                                                 ([2, 3], 1, (2, 5, 6))])
def test_avg_pool_equals_reference(pool, stride, shape, memory, dtype):
    layer = built(AvgPool2D(pool, stride), shape, dtype)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, *shape)).astype(dtype)
    if memory == "channels_last":
        x = channels_last_copy(x)
    y = layer.forward(x, training=True)
    assert_close(y, reference.avg_pool2d_forward(x, layer.pool, layer.strides), dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    assert_close(layer.backward(dy), reference.avg_pool2d_backward(x, dy, layer.pool, layer.strides), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("memory", ["channels_first", "channels_last"])
@pytest.mark.parametrize("jit", ["compiled", "numpy"])
def test_relu_equals_reference_exactly(memory, dtype, jit, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_JIT", "1" if jit == "compiled" else "0")
    monkeypatch.setattr(compiled_loops, "COMPILED_RELU_FROM", 1)  # this small map takes the compiled pass too
    layer = built(Activation("relu"), (4, 6, 6), dtype)
    rng = np.random.default_rng(7)
    x = np.round(rng.standard_normal((3, 4, 6, 6)), 1).astype(dtype)  # exact zeros included
    if memory == "channels_last":
        x = channels_last_copy(x)
    np.testing.assert_array_equal(layer.forward(x, training=True), reference.relu_forward(x))
    dy = rng.standard_normal(x.shape).astype(dtype)
    if memory == "channels_last":
        dy = channels_last_copy(dy)  # stored like x: the compiled pass applies
    dx = layer.backward(dy)
    np.testing.assert_array_equal(dx, reference.relu_backward(x, dy))
    assert dx.strides == x.strides


# -- memory order: what keeps the layers from transposing each other's arrays -----------------------
def test_conv_output_is_channels_last_from_16_filters_and_pooling_keeps_it():
    rng = np.random.default_rng(8)
    conv = built(Conv2D(32, 3, padding="same"), (1, 12, 12), np.float32)
    relu = built(Activation("relu"), conv.shape, np.float32)
    pool = built(MaxPool2D(2), conv.shape, np.float32)
    avg = built(AvgPool2D(2), conv.shape, np.float32)
    x = rng.standard_normal((4, 1, 12, 12)).astype(np.float32)
    y = conv.forward(x, training=True)
    assert y.shape == (4, 32, 12, 12) and is_channels_last(y)
    h = relu.forward(y, training=True)
    assert is_channels_last(h)
    p = pool.forward(h, training=True)
    assert is_channels_last(p) and is_channels_last(avg.forward(h, training=True))
    dp = rng.standard_normal(p.shape).astype(np.float32)
    assert is_channels_last(pool.backward(channels_last_copy(dp)))
    assert is_channels_last(avg.backward(channels_last_copy(dp)))


def test_conv_input_gradient_has_the_inputs_memory_order():
    rng = np.random.default_rng(9)
    conv = built(Conv2D(16, 3, padding="same"), (8, 6, 6), np.float64)
    x = rng.standard_normal((3, 8, 6, 6))
    dy = rng.standard_normal((3, 16, 6, 6))
    conv.forward(channels_last_copy(x), training=True)
    assert is_channels_last(conv.backward(dy))
    conv.forward(x, training=True)
    assert conv.backward(dy).flags.c_contiguous


def test_flatten_gives_its_gradient_the_memory_order_of_its_input():
    rng = np.random.default_rng(11)
    flatten = built(Flatten(), (6, 3, 3), np.float32)
    x = rng.standard_normal((5, 6, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((5, 54)).astype(np.float32)
    for stored in (x, channels_last_copy(x)):
        np.testing.assert_array_equal(flatten.forward(stored), x.reshape(5, -1))  # channels, rows, columns
        dx = flatten.backward(dy)
        np.testing.assert_array_equal(dx, dy.reshape(x.shape))
        assert is_channels_last(dx) == is_channels_last(stored) and dx.flags.c_contiguous == stored.flags.c_contiguous


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("filters", [(8, 16), (32, 64)], ids=["readme-cnn", "shipped-cnn"])
def test_conv_relu_pool_chain_equals_reference_chain(filters, dtype):
    """Two conv-relu-pool blocks as in the README and shipped networks: forward and every gradient."""
    rng = np.random.default_rng(10)
    layers = [Conv2D(filters[0], 3, padding="same"), Activation("relu"), MaxPool2D(2),
              Conv2D(filters[1], 3, padding="same"), Activation("relu"), MaxPool2D(2)]
    shape: tuple[int, ...] = (1, 12, 12)
    for n, layer in enumerate(layers):
        built(layer, shape, dtype, seed=n)
        shape = layer.shape
    for layer in layers[::3]:
        layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape) * 0.1
    x = rng.random((4, 1, 12, 12)).astype(dtype)

    fast = x
    for layer in layers:
        fast = layer.forward(fast, training=True)
    dy = rng.standard_normal(fast.shape).astype(dtype)
    g = dy
    for layer in reversed(layers):
        g = layer.backward(g)

    c1, c2 = layers[0], layers[3]
    a1 = reference.conv2d_forward(x, c1.params["W"], c1.params["b"], (1, 1), "same")
    r1 = reference.relu_forward(a1)
    m1 = reference.max_pool2d_forward(r1, (2, 2), (2, 2))
    a2 = reference.conv2d_forward(m1, c2.params["W"], c2.params["b"], (1, 1), "same")
    r2 = reference.relu_forward(a2)
    m2 = reference.max_pool2d_forward(r2, (2, 2), (2, 2))
    assert_close(fast, m2, dtype)
    d_r2 = reference.max_pool2d_backward(r2, dy, (2, 2), (2, 2))
    d_a2 = reference.relu_backward(a2, d_r2)
    d_m1, d_w2, d_b2 = reference.conv2d_backward(m1, c2.params["W"], d_a2, (1, 1), "same")
    d_r1 = reference.max_pool2d_backward(r1, d_m1, (2, 2), (2, 2))
    d_a1 = reference.relu_backward(a1, d_r1)
    d_x, d_w1, d_b1 = reference.conv2d_backward(x, c1.params["W"], d_a1, (1, 1), "same")
    for got, want in [(c2.grads["W"], d_w2), (c2.grads["b"], d_b2), (c1.grads["W"], d_w1), (c1.grads["b"], d_b1),
                      (g, d_x)]:
        assert_close(got, want, dtype)


# -- inference batches sized for the cache ---------------------------------------------------------------
def test_predict_runs_big_feature_maps_in_cache_sized_batches():
    from core import Network
    from core.network import INFERENCE_BLOCK_BYTES

    spec = {"input_shape": [1, 28, 28], "seed": 0, "loss": "cross_entropy", "layers": [
        {"type": "Conv2D", "filters": 32, "kernel_size": 3, "padding": "same"},
        {"type": "Activation", "function": "relu"}, {"type": "MaxPool2D", "pool_size": 2},
        {"type": "Flatten"}, {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}]}
    net = Network.from_spec(spec)
    seen: list[int] = []
    first = net.layers[0]
    original = first.forward
    first.forward = lambda x, training=False: (seen.append(x.shape[0]), original(x, training))[1]
    x = np.random.default_rng(11).random((300, 1, 28, 28)).astype(np.float32)
    probabilities = net.predict_proba(x, batch_size=512)
    per_sample = 32 * 28 * 28 * 4  # the largest layer output of one image, in bytes
    assert max(seen) == INFERENCE_BLOCK_BYTES // per_sample < 300 and sum(seen) == 300
    whole = net._predict_batch(x)  # one batch of 300, as before
    np.testing.assert_allclose(probabilities, whole, rtol=1e-5, atol=1e-6)
    seen.clear()
    net.scores(x)
    assert max(seen) == INFERENCE_BLOCK_BYTES // per_sample

    mlp = Network.from_spec({"input_shape": [784], "seed": 0, "loss": "cross_entropy", "layers": [
        {"type": "Dense", "units": 128}, {"type": "Activation", "function": "relu"}, {"type": "Dense", "units": 10}]})
    assert mlp._inference_batch(512) == 512  # small activations: the caller's batch stands
