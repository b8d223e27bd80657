"""Conv2D and MaxPool2D against slow loop references, finite differences and shape rules.

Everything numeric is checked in float64; one group checks that float32 stays float32.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import ShapeError, SpecError
from core.layers._im2col import Workspace, output_size_and_padding
from core.layers.conv import Conv2D
from core.layers.pooling import MaxPool2D
from core.registry import layer_from_config


# -- naive references (explicit loops; written independently of the layer code) ---------------
def ref_pads(size, kernel, stride, padding):
    """(out, pad_before) following TensorFlow's 'same' rule, or valid."""
    if padding == "valid":
        return (size - kernel) // stride + 1, 0
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2


def ref_conv_forward(x, w, b, stride, padding):
    """x (B, C, H, W), w (F, C, kh, kw), b (F,) or None -> (B, F, OH, OW), by loops."""
    batch, channels, height, width = x.shape
    filters, _, kh, kw = w.shape
    sh, sw = stride
    oh, top = ref_pads(height, kh, sh, padding)
    ow, left = ref_pads(width, kw, sw, padding)
    y = np.zeros((batch, filters, oh, ow))
    for n in range(batch):
        for f in range(filters):
            for r in range(oh):
                for c in range(ow):
                    total = 0.0 if b is None else b[f]
                    for ch in range(channels):
                        for i in range(kh):
                            for j in range(kw):
                                h, v = r * sh + i - top, c * sw + j - left
                                if 0 <= h < height and 0 <= v < width:
                                    total += x[n, ch, h, v] * w[f, ch, i, j]
                    y[n, f, r, c] = total
    return y


def ref_conv_backward(x, w, dy, stride, padding):
    """-> dx, dW, db by the same loops as the forward reference."""
    batch, channels, height, width = x.shape
    filters, _, kh, kw = w.shape
    sh, sw = stride
    _, oh, ow = dy.shape[1:]
    _, top = ref_pads(height, kh, sh, padding)
    _, left = ref_pads(width, kw, sw, padding)
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros(filters)
    for n in range(batch):
        for f in range(filters):
            for r in range(oh):
                for c in range(ow):
                    g = dy[n, f, r, c]
                    db[f] += g
                    for ch in range(channels):
                        for i in range(kh):
                            for j in range(kw):
                                h, v = r * sh + i - top, c * sw + j - left
                                if 0 <= h < height and 0 <= v < width:
                                    dw[f, ch, i, j] += g * x[n, ch, h, v]
                                    dx[n, ch, h, v] += g * w[f, ch, i, j]
    return dx, dw, db


def ref_pool(x, pool, stride, dy=None):
    """Max pooling by loops -> y, and dx if dy is given (first maximum in row-major order)."""
    batch, channels, height, width = x.shape
    (ph, pw), (sh, sw) = pool, stride
    oh, ow = (height - ph) // sh + 1, (width - pw) // sw + 1
    y = np.zeros((batch, channels, oh, ow))
    dx = np.zeros_like(x)
    for n in range(batch):
        for ch in range(channels):
            for r in range(oh):
                for c in range(ow):
                    best, where = -np.inf, None
                    for i in range(ph):
                        for j in range(pw):
                            value = x[n, ch, r * sh + i, c * sw + j]
                            if value > best:  # strict: the first maximum wins ties
                                best, where = value, (r * sh + i, c * sw + j)
                    y[n, ch, r, c] = best
                    if dy is not None:
                        dx[n, ch, where[0], where[1]] += dy[n, ch, r, c]
    return y, dx


# -- helpers ------------------------------------------------------------------------------------
def built(layer, input_shape, seed=0, dtype=np.float64):
    layer.build(input_shape, np.random.default_rng(seed), dtype)
    if "b" in layer.params:  # non-zero biases so the bias path is really tested
        layer.params["b"][...] = np.random.default_rng(seed + 1).standard_normal(layer.params["b"].shape)
    return layer


def numeric_grad(f, array, eps=1e-6):
    """Central differences of the scalar f() with respect to every entry of ``array`` (in place)."""
    grad = np.zeros_like(array)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        plus = f()
        flat[k] = old - eps
        minus = f()
        flat[k] = old
        gflat[k] = (plus - minus) / (2 * eps)
    return grad


def rel_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)


def check_gradients(layer, x, seed=3):
    """Analytic vs numeric gradients of loss = sum(forward(x) * R) for input and parameters."""
    rng = np.random.default_rng(seed)
    r = rng.standard_normal(layer.forward(x).shape)

    def loss():
        return float(np.sum(layer.forward(x) * r))

    layer.forward(x)
    dx = layer.backward(r.copy())
    analytic = {name: g.copy() for name, g in layer.grads.items()}
    assert rel_error(dx, numeric_grad(loss, x)) < 1e-6
    for name, p in layer.params.items():
        assert rel_error(analytic[name], numeric_grad(loss, p)) < 1e-6, name


# -- Conv2D vs the loop reference ------------------------------------------------------------------
CONV_CASES = [
    # (batch, in_c, H, W, filters, kernel, stride, padding)
    (1, 1, 5, 5, 1, 3, 1, "valid"),
    (2, 3, 7, 6, 4, 3, 1, "valid"),
    (3, 2, 8, 8, 3, 3, 2, "valid"),
    (2, 2, 9, 7, 3, (2, 3), (2, 1), "valid"),
    (2, 3, 6, 6, 2, 3, 1, "same"),
    (2, 2, 6, 7, 3, 2, 1, "same"),          # even kernel: extra padding bottom/right
    (1, 2, 7, 7, 2, 4, 1, "same"),
    (2, 2, 7, 8, 3, 3, 2, "same"),
    (2, 1, 5, 5, 2, 2, 2, "same"),
    (1, 2, 6, 5, 2, (3, 2), (2, 3), "same"),
    (2, 1, 3, 3, 2, 5, 1, "same"),          # kernel larger than the input with 'same'
    (1, 1, 4, 4, 1, 1, 3, "valid"),         # stride larger than the kernel: skipped pixels
    (4, 1, 28, 28, 2, 3, 1, "same"),
    (2, 2, 5, 6, 2, (3, 2), 1, "same"),     # non-square kernel, flat fast path
    (1, 1, 4, 4, 1, (1, 4), 1, "same"),
    (2, 3, 4, 5, 2, 1, 1, "valid"),         # 1x1 kernel: output grid == input grid
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("use_bias", [True, False])
def test_conv_matches_loop_reference(case, use_bias):
    batch, in_c, height, width, filters, kernel, stride, padding = case
    layer = built(Conv2D(filters, kernel, stride, padding, use_bias=use_bias), (in_c, height, width))
    rng = np.random.default_rng(7)
    x = rng.standard_normal((batch, in_c, height, width))
    y = layer.forward(x)
    s = stride if isinstance(stride, tuple) else (stride, stride)
    expected = ref_conv_forward(x, layer.params["W"], layer.params.get("b"), s, padding)
    assert y.shape == (batch, *layer.shape) == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)

    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    rdx, rdw, rdb = ref_conv_backward(x, layer.params["W"], dy, s, padding)
    np.testing.assert_allclose(dx, rdx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], rdw, rtol=1e-12, atol=1e-12)
    if use_bias:
        np.testing.assert_allclose(layer.grads["b"], rdb, rtol=1e-12, atol=1e-12)
    else:
        assert "b" not in layer.params and "b" not in layer.grads


def test_conv_random_configurations_match_reference():
    rng = np.random.default_rng(11)
    for _ in range(25):
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        padding = str(rng.choice(["valid", "same"]))
        height, width = kh + int(rng.integers(0, 5)), kw + int(rng.integers(0, 5))
        in_c, filters, batch = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        layer = built(Conv2D(filters, [kh, kw], [sh, sw], padding), (in_c, height, width), seed=int(rng.integers(100)))
        x = rng.standard_normal((batch, in_c, height, width))
        y = layer.forward(x)
        np.testing.assert_allclose(y, ref_conv_forward(x, layer.params["W"], layer.params["b"], (sh, sw), padding),
                                   rtol=1e-12, atol=1e-12)
        dy = rng.standard_normal(y.shape)
        dx = layer.backward(dy)
        rdx, rdw, rdb = ref_conv_backward(x, layer.params["W"], dy, (sh, sw), padding)
        np.testing.assert_allclose(dx, rdx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.grads["W"], rdw, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.grads["b"], rdb, rtol=1e-12, atol=1e-12)


def test_same_padding_follows_tensorflow_by_hand():
    # 5x5 ones, 2x2 ones kernel, stride 2, 'same': OH = 3, total pad 1 -> 0 top, 1 bottom.
    layer = built(Conv2D(1, 2, 2, "same", use_bias=False), (1, 5, 5))
    layer.params["W"][...] = 1
    y = layer.forward(np.ones((1, 1, 5, 5)))
    np.testing.assert_array_equal(y[0, 0], [[4, 4, 2], [4, 4, 2], [2, 2, 1]])
    assert output_size_and_padding(6, 4, 1, "same") == (6, 1, 2)
    assert output_size_and_padding(28, 3, 1, "same") == (28, 1, 1)
    assert output_size_and_padding(28, 3, 2, "same") == (14, 0, 1)
    assert output_size_and_padding(5, 1, 3, "same") == (2, 0, 0)


@pytest.mark.parametrize("stride", [1, 2])
def test_changing_batch_size_reuses_scratch_correctly(stride):
    # The column matrix is a reused buffer whose padding entries must stay zero.
    layer = built(Conv2D(3, 3, stride, "same"), (2, 6, 6))
    rng = np.random.default_rng(5)
    for batch in (4, 1, 3, 6, 2):
        x = rng.standard_normal((batch, 2, 6, 6)) * 10
        y = layer.forward(x)
        s = (stride, stride)
        np.testing.assert_allclose(y, ref_conv_forward(x, layer.params["W"], layer.params["b"], s, "same"),
                                   rtol=1e-12, atol=1e-12)
        dy = rng.standard_normal(y.shape)
        rdx, rdw, _ = ref_conv_backward(x, layer.params["W"], dy, s, "same")
        np.testing.assert_allclose(layer.backward(dy), rdx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.grads["W"], rdw, rtol=1e-12, atol=1e-12)


def test_oversized_scratch_is_not_kept(monkeypatch):
    import core.layers._im2col as im2col_module
    import core.layers.conv as conv_module

    monkeypatch.setattr(im2col_module, "WORKSPACE_LIMIT_BYTES", 64)
    monkeypatch.setattr(conv_module, "WORKSPACE_LIMIT_BYTES", 64)
    layer = built(Conv2D(2, 3, 1, "same"), (2, 5, 5))
    rng = np.random.default_rng(6)
    for _ in range(2):  # fresh (zeroed) buffers every call must give the same answers
        x = rng.standard_normal((3, 2, 5, 5))
        y = layer.forward(x, training=True)
        np.testing.assert_allclose(y, ref_conv_forward(x, layer.params["W"], layer.params["b"], (1, 1), "same"),
                                   rtol=1e-12, atol=1e-12)
        dy = rng.standard_normal(y.shape)
        np.testing.assert_allclose(layer.backward(dy), ref_conv_backward(x, layer.params["W"], dy, (1, 1), "same")[0],
                                   rtol=1e-12, atol=1e-12)
    assert layer._workspace._buffers == {}
    layer.forward(x, training=False)  # inference on a "huge" batch keeps no column matrix alive
    with pytest.raises(RuntimeError, match="forward first"):
        layer.backward(dy)


def test_workspace_reuses_and_grows():
    ws = Workspace()
    a = ws.get("a", 4, (2, 3), np.float32, init=lambda buf: buf.fill(7))
    assert a.shape == (4, 2, 3) and a.flags.c_contiguous and (a == 7).all()
    a[...] = 1
    b = ws.get("a", 2, (2, 3), np.float32, init=lambda buf: buf.fill(7))
    assert np.shares_memory(a, b) and (b == 1).all()  # kept content, init not re-run
    c = ws.get("a", 5, (2, 3), np.float32, init=lambda buf: buf.fill(7))
    assert c.shape == (5, 2, 3) and (c == 7).all()


# -- Conv2D gradient checks ------------------------------------------------------------------------------
@pytest.mark.parametrize("settings, input_shape", [
    (dict(filters=3, kernel_size=3), (2, 6, 5)),
    (dict(filters=2, kernel_size=3, stride=2), (2, 7, 7)),
    (dict(filters=2, kernel_size=3, padding="same"), (3, 5, 5)),
    (dict(filters=2, kernel_size=[2, 3], stride=[2, 1], padding="same"), (2, 6, 5)),
    (dict(filters=3, kernel_size=4, stride=2, padding="same", use_bias=False), (1, 7, 6)),
])
def test_conv_gradient_check(settings, input_shape):
    layer = built(Conv2D(**settings), input_shape)
    x = np.random.default_rng(2).standard_normal((2, *input_shape))
    check_gradients(layer, x)


# -- Conv2D contract --------------------------------------------------------------------------------------
def test_conv_backward_overwrites_and_skips_input_grad():
    layer = built(Conv2D(2, 3, padding="same"), (2, 5, 5))
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((3, 2, 5, 5)), rng.standard_normal((3, 2, 5, 5))
    x0, dy0 = x.copy(), dy.copy()
    layer.forward(x)
    dx = layer.backward(dy)
    first = {k: g.copy() for k, g in layer.grads.items()}
    assert layer.backward(dy, need_input_grad=False) is None
    for k in first:  # overwritten, not accumulated
        np.testing.assert_array_equal(layer.grads[k], first[k])
    np.testing.assert_array_equal(layer.backward(dy), dx)
    np.testing.assert_array_equal(x, x0)  # inputs never mutated
    np.testing.assert_array_equal(dy, dy0)


def test_conv_float32_stays_float32():
    layer = built(Conv2D(4, 3, 2, "same"), (3, 9, 9), dtype=np.float32)
    assert all(p.dtype == np.float32 for p in layer.params.values())
    rng = np.random.default_rng(0)
    for x in (rng.standard_normal((2, 3, 9, 9)).astype(np.float32), rng.standard_normal((2, 3, 9, 9))):
        y = layer.forward(x)  # a float64 input is not allowed to upcast the layer
        assert y.dtype == np.float32
        dx = layer.backward(np.ones(y.shape, dtype=x.dtype))
        assert dx.dtype == np.float32
        assert all(g.dtype == np.float32 for g in layer.grads.values())
    layer.params["W"] = layer.params["W"].astype(np.float64)  # e.g. carelessly loaded weights
    assert layer.forward(rng.standard_normal((2, 3, 9, 9)).astype(np.float32)).dtype == np.float32
    layer.params["W"] = layer.params["W"].astype(np.float32)
    x32 = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    ref = built(Conv2D(4, 3, 2, "same"), (3, 9, 9), dtype=np.float64)
    ref.params["W"][...] = layer.params["W"]
    ref.params["b"][...] = layer.params["b"]
    np.testing.assert_allclose(layer.forward(x32), ref.forward(x32.astype(np.float64)), rtol=1e-4, atol=1e-5)


def test_conv_description_counts_and_config():
    layer = Conv2D(8, 3)
    assert layer.describe() == "Conv2D 8 3×3"
    assert Conv2D(16, 3, 2, "same").describe() == "Conv2D 16 3×3/2 same"
    assert Conv2D(4, [3, 5], [2, 1]).describe() == "Conv2D 4 3×5/2×1"
    assert layer.output_shape((1, 28, 28)) == (8, 26, 26)
    assert Conv2D(8, 3, padding="same").output_shape((1, 28, 28)) == (8, 28, 28)
    assert Conv2D(8, 3, 2, "same").output_shape((1, 28, 28)) == (8, 14, 14)
    assert Conv2D(8, 3, 2).output_shape((1, 28, 28)) == (8, 13, 13)
    assert layer.param_shapes((3, 10, 10)) == {"W": (8, 3, 3, 3), "b": (8,)}
    assert layer.param_count((3, 10, 10)) == 8 * 27 + 8
    assert layer.macs((3, 10, 10)) == 8 * 8 * 8 * 3 * 9
    config = Conv2D(4, [3, 5], [2, 1], "same", "he_normal", False).get_config()
    assert config == {"filters": 4, "kernel_size": [3, 5], "stride": [2, 1], "padding": "same",
                      "kernel_initializer": "he_normal", "use_bias": False}
    again = layer_from_config({"type": "Conv2D", **config})
    assert again.get_config() == config and isinstance(again, Conv2D)
    assert Conv2D(8, 3).config["kernel_initializer"] == "glorot_uniform"


def test_conv_initializer_uses_conv_fans():
    layer = Conv2D(16, 3, kernel_initializer="glorot_uniform")
    layer.build((8, 10, 10), np.random.default_rng(0), np.float64)
    limit = math.sqrt(6 / (8 * 9 + 16 * 9))
    w = layer.params["W"]
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
    np.testing.assert_array_equal(layer.params["b"], 0)


@pytest.mark.parametrize("bad", [dict(filters=0, kernel_size=3), dict(filters=2, kernel_size=[3, 3, 3]),
                                 dict(filters=2, kernel_size=3, padding="full"),
                                 dict(filters=2, kernel_size=3, stride=0)])
def test_conv_rejects_bad_settings(bad):
    with pytest.raises(SpecError):
        Conv2D(**bad)


def test_conv_shape_errors_explain_and_fix():
    with pytest.raises(ShapeError) as info:
        Conv2D(8, 3).output_shape((784,))
    problem = info.value.problems[0]
    assert problem.message == "Conv2D needs an image input (channels, height, width) but receives (784,)"
    assert "(1, 28, 28)" in problem.fix
    assert "layer" not in problem.message.lower()  # the network adds the position itself

    with pytest.raises(ShapeError) as info:
        Conv2D(8, 3).output_shape((28, 28))
    assert "(1, 28, 28)" in info.value.problems[0].fix

    with pytest.raises(ShapeError) as info:
        Conv2D(8, 5).output_shape((1, 3, 3))
    problem = info.value.problems[0]
    assert problem.message == "kernel 5×5 is larger than the input 3×3"
    assert "smaller kernel_size" in problem.fix and "same" in problem.fix
    with pytest.raises(ShapeError):
        Conv2D(8, [1, 4]).param_shapes((1, 5, 3))
    # with 'same' padding a big kernel is fine
    assert Conv2D(8, 5, padding="same").output_shape((1, 3, 3)) == (8, 3, 3)


# -- MaxPool2D --------------------------------------------------------------------------------------------
POOL_CASES = [
    # (batch, C, H, W, pool_size, stride)
    (2, 3, 8, 8, 2, None),
    (1, 2, 7, 9, 2, None),          # odd sizes: the remainder row/column is cropped
    (2, 2, 9, 9, 3, 2),             # overlapping windows
    (2, 1, 7, 8, 2, 1),
    (1, 2, 9, 10, 2, 3),            # gaps between windows
    (2, 2, 8, 9, (2, 3), (1, 2)),   # non-square, mixed overlap
    (1, 1, 5, 5, 1, None),
    (3, 2, 6, 6, 3, None),
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_matches_loop_reference(case):
    batch, channels, height, width, pool, stride = case
    layer = built(MaxPool2D(pool, stride), (channels, height, width))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, channels, height, width))
    dy = rng.standard_normal((batch, *layer.shape))
    p = pool if isinstance(pool, tuple) else (pool, pool)
    s = p if stride is None else (stride if isinstance(stride, tuple) else (stride, stride))
    y_ref, dx_ref = ref_pool(x, p, s, dy)
    y = layer.forward(x)
    assert y.shape == (batch, *layer.shape) == y_ref.shape
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(layer.backward(dy), dx_ref, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_ties_route_to_the_first_maximum_once(case):
    batch, channels, height, width, pool, stride = case
    layer = built(MaxPool2D(pool, stride), (channels, height, width))
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, size=(batch, channels, height, width)).astype(np.float64)  # many ties
    x0 = x.copy()
    dy = rng.integers(1, 5, size=(batch, *layer.shape)).astype(np.float64)
    p = pool if isinstance(pool, tuple) else (pool, pool)
    s = p if stride is None else (stride if isinstance(stride, tuple) else (stride, stride))
    y_ref, dx_ref = ref_pool(x, p, s, dy)
    np.testing.assert_array_equal(layer.forward(x), y_ref)
    dx = layer.backward(dy)
    np.testing.assert_array_equal(dx, dx_ref)
    assert dx.sum() == dy.sum()  # every window's gradient lands exactly once
    np.testing.assert_array_equal(x, x0)
    # With all-equal windows the gradient goes to each window's top-left element only.
    ones = np.ones_like(x)
    layer.forward(ones)
    dx = layer.backward(np.ones((batch, *layer.shape)))
    assert dx.sum() == np.prod(dx.shape[:2]) * np.prod(layer.shape[1:])
    assert dx[:, :, 0, 0].min() >= 1


@pytest.mark.parametrize("pool, stride, input_shape", [
    (2, None, (2, 6, 6)), (3, 2, (1, 7, 7)), ((2, 3), (1, 2), (2, 5, 7))])
def test_pool_gradient_check(pool, stride, input_shape):
    layer = built(MaxPool2D(pool, stride), input_shape)
    x = np.random.default_rng(8).standard_normal((2, *input_shape))
    check_gradients(layer, x)


def test_pool_float32_and_contract():
    layer = built(MaxPool2D(), (3, 6, 6), dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert layer.backward(np.ones_like(y), need_input_grad=False) is None
    assert layer.params == {} and layer.param_count((3, 6, 6)) == 0 and layer.macs((3, 6, 6)) == 0


def test_pool_description_shapes_and_errors():
    assert MaxPool2D().describe() == "MaxPool 2×2"
    assert MaxPool2D(3, 2).describe() == "MaxPool 3×3/2"
    assert MaxPool2D().get_config() == {"pool_size": 2, "stride": None}
    assert MaxPool2D([2, 3], [1, 2]).get_config() == {"pool_size": [2, 3], "stride": [1, 2]}
    assert layer_from_config({"type": "MaxPool2D", "pool_size": 3}).output_shape((4, 9, 10)) == (4, 3, 3)
    assert MaxPool2D().output_shape((8, 28, 28)) == (8, 14, 14)
    assert MaxPool2D().output_shape((8, 7, 7)) == (8, 3, 3)
    assert MaxPool2D(3, 2).output_shape((1, 7, 8)) == (1, 3, 3)
    with pytest.raises(ShapeError) as info:
        MaxPool2D(3).output_shape((4, 2, 5))
    assert info.value.problems[0].message == "pool window 3×3 is larger than the input 2×5"
    with pytest.raises(ShapeError) as info:
        MaxPool2D().output_shape((10,))
    assert "image input" in info.value.problems[0].message
    with pytest.raises(SpecError):
        MaxPool2D(0)


def test_forward_refuses_a_batch_of_the_wrong_shape():
    layer = built(Conv2D(2, 3), (1, 8, 8))
    with pytest.raises(ValueError, match="built for inputs"):
        layer.forward(np.zeros((2, 1, 9, 8)))
    pool = built(MaxPool2D(), (1, 8, 8))
    with pytest.raises(ValueError, match="built for inputs"):
        pool.forward(np.zeros((2, 8, 8)))
