"""Conv2D's Winograd F(2×2, 3×3) path (``core.layers._winograd``): which layers take it, the
tile transforms against the documented matrices, the layer against the plain reference
(values and gradients, every shape of tiling), finite differences in float64, and the
step-through's explanation of its numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import core.layers.conv as conv_module
from core import Network
from core.analysis import winograd_numbers
from core.analysis.formulas import Pick, explain
from core.analysis.trace import trace_step
from core.layers import _compiled, reference
from core.layers import _winograd as winograd
from core.layers.conv import Conv2D

pytestmark = pytest.mark.skipif(_compiled.kernels() is None, reason="needs numba (a dependency)")

TOLERANCE = {np.float32: 3e-6, np.float64: 1e-13}  # × the largest reference value

# (input per sample, filters, padding, use_bias): odd and even sizes, rectangles, tiny images
CASES = [
    ((16, 14, 14), 32, "same", True),   # even: 7×7 whole tiles
    ((16, 13, 11), 5, "same", True),    # odd both ways: the last tiles cut off
    ((17, 9, 12), 3, "valid", True),    # valid: 7×10 outputs, no padding
    ((8, 6, 7), 4, "same", True),       # float64 from 8 channels (float32: im2col)
    ((16, 3, 3), 4, "valid", False),    # one output pixel, no bias
    ((16, 1, 1), 2, "same", True),      # a 1×1 image: every tile mostly padding
    ((20, 2, 5), 7, "same", False),
]


def _layer(shape, filters, padding, use_bias, dtype, seed=0) -> Conv2D:
    layer = Conv2D(filters, 3, 1, padding, use_bias=use_bias)
    layer.build(shape, np.random.default_rng(seed), dtype)
    if use_bias:
        layer.params["b"][...] = np.random.default_rng(seed + 1).standard_normal(filters)
    return layer


def _close(got: np.ndarray, want: np.ndarray, dtype) -> None:
    assert got.shape == want.shape and got.dtype == dtype
    scale = max(float(np.abs(want).max(initial=0.0)), 1.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE[dtype] * scale)


def _equals_reference(layer: Conv2D, x: np.ndarray, padding: str, dtype, rng) -> tuple[np.ndarray, np.ndarray]:
    """A training forward and backward of ``layer`` on x against the reference: the output, dx
    (in x's memory order), dW and db; returns (the dy used, the reference dW)."""
    w, b = layer.params["W"], layer.params.get("b")
    y = layer.forward(x, training=True)
    _close(y, reference.conv2d_forward(x, w, b, (1, 1), padding), dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dy)
    ref_dx, ref_dw, ref_db = reference.conv2d_backward(x, w, dy, (1, 1), padding)
    _close(dx, ref_dx, dtype)
    assert dx.strides == np.empty_like(x).strides
    _close(layer.grads["W"], ref_dw, dtype)
    if b is not None:
        _close(layer.grads["b"], ref_db, dtype)
    return dy, ref_dw


def test_which_layers_take_winograd(monkeypatch):
    def layout(channels, kernel=3, stride=1, dtype=np.float32):
        layer = Conv2D(8, kernel, stride, "same")
        layer.build((channels, 10, 10), np.random.default_rng(0), dtype)
        return layer.arithmetic(4).layout

    assert layout(16) == layout(64) == "winograd"
    assert layout(15) != "winograd"  # too few channels: the 16 products would be too thin
    assert layout(8, dtype=np.float64) == "winograd" and layout(7, dtype=np.float64) != "winograd"
    assert layout(32, kernel=5) != "winograd" and layout(32, stride=2) != "winograd"
    monkeypatch.setenv("NNSTUDIO_JIT", "0")  # no compiled transforms: im2col
    assert layout(32) == "pixel-major"


def test_tile_kernels_compute_the_documented_transforms():
    """The compiled transforms against B_T, A_T and G written as matrices (one tile, many channels)."""
    jit = _compiled.kernels()
    rng = np.random.default_rng(0)
    d = rng.standard_normal((1, 4, 4, 5))  # one 4×4 tile (a 2×2-output 'valid' layer)
    v = np.empty((16, 1, 5))
    jit.winograd_input_tiles(d, 0, 0, 1, 1, v)
    want = np.einsum("ki,ijc,lj->klc", winograd.B_T, d[0], winograd.B_T).reshape(16, 1, 5)
    np.testing.assert_allclose(v, want, atol=1e-13)

    m = rng.standard_normal((16, 1, 3))
    bias = rng.standard_normal(3)
    y = np.empty((1, 2, 2, 3))
    jit.winograd_output_tiles(m, bias, 1, 1, y)
    want_y = np.einsum("ik,klf,jl->ijf", winograd.A_T, m.reshape(4, 4, 3), winograd.A_T) + bias
    np.testing.assert_allclose(y[0], want_y, atol=1e-13)

    dy = rng.standard_normal((1, 2, 2, 3))  # the transposes: A dY Aᵀ and B dV Bᵀ
    dm = np.empty((16, 1, 3))
    jit.winograd_output_grad_tiles(dy, 1, 1, dm)
    np.testing.assert_allclose(dm.reshape(4, 4, 3), np.einsum("ki,ijf,lj->klf", winograd.A_T.T, dy[0],
                                                              winograd.A_T.T), atol=1e-13)
    dv = rng.standard_normal((16, 1, 5))
    dx = np.zeros((1, 4, 4, 5))
    jit.winograd_input_grad_tiles(dv, 0, 0, 1, 1, dx)
    np.testing.assert_allclose(dx[0], np.einsum("ik,klc,jl->ijc", winograd.B_T.T, dv.reshape(4, 4, 5),
                                                winograd.B_T.T), atol=1e-13)

    w = rng.standard_normal((3, 5, 3, 3))  # U = G g Gᵀ, and dW = Gᵀ dU G its transpose
    u = winograd.transformed_weights(w, np.dtype(np.float64))
    want_u = np.einsum("ki,fcij,lj->klcf", winograd.G, w, winograd.G).reshape(16, 5, 3)
    np.testing.assert_allclose(u, want_u, atol=1e-13)
    du = rng.standard_normal((16, 5, 3))
    np.testing.assert_allclose(winograd.weight_gradient(du), np.einsum("ki,klcf,lj->fcij", winograd.G,
                                                                       du.reshape(4, 4, 5, 3), winograd.G),
                               atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("memory", ["channels_first", "channels_last"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}f-{c[2]}")
def test_winograd_equals_the_reference_convolution(case, memory, dtype):
    shape, filters, padding, use_bias = case
    layer = _layer(shape, filters, padding, use_bias, dtype)
    assert (layer.arithmetic(5).layout == "winograd") == (shape[0] >= 16 or dtype == np.float64)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, *shape)).astype(dtype)
    if memory == "channels_last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    dy, ref_dw = _equals_reference(layer, x, padding, dtype, rng)
    assert layer.backward(dy, need_input_grad=False) is None  # the first layer's shortcut
    _close(layer.grads["W"], ref_dw, dtype)


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 11), width=st.integers(1, 11), extra_channels=st.integers(0, 3),
       filters=st.integers(1, 5), batch=st.integers(1, 4), padding=st.sampled_from(["same", "valid"]),
       float64=st.booleans(), channels_last=st.booleans(), seed=st.integers(0, 2**16))
def test_any_image_size_equals_the_reference(height, width, extra_channels, filters, batch, padding, float64,
                                             channels_last, seed):
    """Random image sizes (odd, even, 1 pixel), channel and filter counts, both paddings, dtypes
    and memory orders: forward and every gradient as the reference computes them."""
    dtype = np.float64 if float64 else np.float32
    if padding == "valid" and min(height, width) < 3:
        height, width = max(height, 3), max(width, 3)
    shape = ((8 if float64 else 16) + extra_channels, height, width)
    layer = _layer(shape, filters, padding, True, dtype, seed)
    assert layer.arithmetic(batch).layout == "winograd"
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *shape)).astype(dtype)
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    _equals_reference(layer, x, padding, dtype, rng)


@pytest.mark.parametrize("keep_bytes", [0, 1 << 30], ids=["tiles rebuilt", "tiles kept"])
def test_blocks_with_a_partial_last_one_and_kept_or_rebuilt_tiles(keep_bytes, monkeypatch):
    """One sample per block (a batch of 7: seven blocks) against one batch-wide block: the same
    numbers, whether forward's tiles are kept or rebuilt in backward."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 16, 10, 9))
    dy = rng.standard_normal((7, 6, 10, 9))
    results = []
    for block_bytes in (1 << 30, 1):
        monkeypatch.setattr(winograd, "BLOCK_BYTES", block_bytes)
        monkeypatch.setattr(conv_module, "KEEP_COLUMNS_BYTES", keep_bytes)
        layer = _layer((16, 10, 9), 6, "same", True, np.float64)
        blocks = layer.arithmetic(7).blocks()
        assert (len(blocks) == 1) == (block_bytes > 1)
        layer.forward(x, training=True)
        results.append((layer.backward(dy), layer.grads["W"].copy(), layer.grads["b"].copy()))
    for one, many in zip(*results, strict=True):
        np.testing.assert_allclose(one, many, rtol=1e-12, atol=1e-12)


def test_a_one_filter_layers_bias_gradient_is_replayed_to_the_last_bit():
    """With a single filter the bias gradient is still added pixel after pixel (NumPy would sum
    a one-column array pairwise), so the step-through's formula reproduces it exactly."""
    net = Network.from_spec({"input_shape": [16, 9, 9], "dtype": "float32", "loss": "mse", "seed": 1,
                             "optimizer": {"type": "SGD", "learning_rate": 0.1},
                             "layers": [{"type": "Conv2D", "filters": 1, "kernel_size": 3, "padding": "same"},
                                        {"type": "Flatten"}, {"type": "Dense", "units": 2}]})
    rng = np.random.default_rng(3)
    trace = trace_step(net, rng.normal(size=(9, 16, 9, 9)), rng.integers(0, 2, size=9))
    f = explain(trace, Pick(0, "grad:b", (0,)))
    assert f.exact and f.value == f.engine_value, "\n".join(f.lines)


@pytest.mark.parametrize("keep_bytes", [0, 1 << 30], ids=["tiles rebuilt", "tiles kept"])
def test_an_inference_forward_in_between_makes_backward_use_its_input(keep_bytes, monkeypatch):
    """As with im2col's kept columns: backward differentiates the last forward's input, never
    tiles a training forward left behind."""
    monkeypatch.setattr(conv_module, "KEEP_COLUMNS_BYTES", keep_bytes)
    rng = np.random.default_rng(12)
    layer = _layer((16, 6, 5), 4, "same", True, np.float64)
    x, other = rng.standard_normal((2, 3, 16, 6, 5))
    dy = rng.standard_normal((3, 4, 6, 5))
    layer.forward(x, training=True)
    assert layer._kept_winograd == bool(keep_bytes)
    for inputs in (x, other):
        if inputs is other:
            layer.forward(other, training=False)
        dx = layer.backward(dy)
        ref_dx, ref_dw, _ = reference.conv2d_backward(inputs, layer.params["W"], dy, (1, 1), "same")
        _close(dx, ref_dx, np.float64)
        _close(layer.grads["W"], ref_dw, np.float64)


def test_winograd_gradients_match_finite_differences():
    """dL/dx and dL/dW of L = Σ y·R (R fixed) by central differences, float64."""
    rng = np.random.default_rng(5)
    layer = _layer((16, 5, 6), 3, "same", True, np.float64)
    x = rng.standard_normal((2, 16, 5, 6))
    r = rng.standard_normal((2, 3, 5, 6))
    layer.forward(x, training=True)
    dx = layer.backward(r)
    dw = layer.grads["W"].copy()

    def loss() -> float:
        return float((layer.forward(x) * r).sum())

    def central_difference(array: np.ndarray, index: tuple[int, ...], h: float = 1e-6) -> float:
        saved = array[index]
        array[index] = saved + h
        up = loss()
        array[index] = saved - h
        down = loss()
        array[index] = saved
        return (up - down) / (2 * h)

    for index in [(0, 0, 0, 0), (1, 15, 4, 5), (0, 7, 2, 3), (1, 3, 0, 5)]:
        assert central_difference(x, index) == pytest.approx(dx[index], rel=1e-6, abs=1e-8)
    for index in [(0, 0, 0, 0), (2, 15, 2, 2), (1, 8, 1, 0)]:
        assert central_difference(layer.params["W"], index) == pytest.approx(dw[index], rel=1e-6, abs=1e-8)


def test_a_nan_reaches_exactly_the_outputs_whose_window_holds_it():
    """The transforms mix a tile's inputs, but an output's formula uses only its own 3×3 window
    (its transform coefficients for the others are structurally absent, not zero multiples)."""
    layer = _layer((16, 8, 8), 4, "same", True, np.float32)
    x = np.ones((1, 16, 8, 8), np.float32)
    x[0, 3, 4, 5] = np.nan
    y = layer.forward(x)
    want = np.isnan(reference.conv2d_forward(x, layer.params["W"], layer.params["b"], (1, 1), "same"))
    np.testing.assert_array_equal(np.isnan(y), want)
    assert want.sum() == 4 * 9


def _traced_winograd_layer(dtype: str, batch: int = 6):
    """A trace of a net whose first layer runs Winograd (16 channels, 7×6 images: odd tiles)."""
    net = Network.from_spec({"input_shape": [16, 7, 6], "dtype": dtype, "loss": "mse", "seed": 6,
                             "optimizer": {"type": "SGD", "learning_rate": 0.1},
                             "layers": [{"type": "Conv2D", "filters": 5, "kernel_size": 3, "padding": "same"},
                                        {"type": "Activation", "function": "tanh"},
                                        {"type": "Flatten"}, {"type": "Dense", "units": 3}]})
    assert net.layers[0].arithmetic(batch).layout == "winograd"
    rng = np.random.default_rng(7)
    x = rng.normal(size=(batch, 16, 7, 6))
    return trace_step(net, x, rng.integers(0, 3, size=batch))


def _random_picks(record, rng, per_quantity: int = 6):
    shapes = {"output": record.output.shape[1:], "grad_input": record.input.shape[1:],
              "grad:W": record.grads["W"].shape, "grad:b": record.grads["b"].shape}
    batch = record.input.shape[0]
    for quantity, shape in shapes.items():
        for _ in range(per_quantity):
            index = tuple(int(rng.integers(d)) for d in shape)
            yield Pick(0, quantity, index, None if quantity.startswith("grad:") else int(rng.integers(batch)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_step_through_replays_every_winograd_number_to_the_last_bit(dtype, monkeypatch):
    """Output, weight gradient, input gradient, bias gradient of a Winograd layer: each
    recomputed by the engine's own arithmetic (transforms in the kernels' order, the stacked
    products' sums in the BLAS's calibrated order), in several blocks of samples."""
    monkeypatch.setattr(winograd, "BLOCK_BYTES", 1)  # a block per sample: the blocks' order matters too
    trace = _traced_winograd_layer(dtype)
    for pick in _random_picks(trace.layers[0], np.random.default_rng(8)):
        f = explain(trace, pick)
        assert f.exact and f.value == f.engine_value, "\n".join(f.lines)
        if pick.quantity != "grad:b":
            assert "Winograd's F(2×2, 3×3)" in "\n".join(f.lines) and "bit for bit" in "\n".join(f.lines)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_without_the_blas_order_a_winograd_number_is_shown_within_a_bound_that_holds(dtype, monkeypatch):
    """Should the BLAS's order not be found, the direct sum is shown with a worst-case bound on
    its distance to the engine's number: the bound holds, and is small beside the numbers."""
    monkeypatch.setattr(winograd_numbers, "blas_sum", lambda *args: None)
    trace = _traced_winograd_layer(dtype)
    record = trace.layers[0]
    arrays = {"output": record.output, "grad_input": record.grad_input, "grad:W": record.grads["W"]}
    worst = 0.0
    for pick in _random_picks(record, np.random.default_rng(9)):
        f = explain(trace, pick)
        if pick.quantity == "grad:b":  # a plain sum, not a BLAS product
            assert f.exact
            continue
        assert f.exact or abs(f.value - f.engine_value) <= f.tolerance, "\n".join(f.lines)
        assert f.tolerance_reason == "Winograd's arithmetic" or f.exact
        worst = max(worst, f.tolerance / float(np.abs(arrays[pick.quantity]).max()))
    # Worst case: every rounding the same way, magnified by the transforms' absolute values.
    assert 0 < worst < (1e-3 if dtype == "float32" else 1e-12)
