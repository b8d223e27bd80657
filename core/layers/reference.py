"""Plain reference versions of the layers that have fast paths: what they compute, nothing else.

Each function is the textbook formulation, channels-first, with an explicit zero-padded copy
and a Python loop over kernel or window offsets (never over pixels or samples, so tests can
run them on real batch sizes). Nothing here is used for training: the layers in
``core.layers.conv`` / ``pooling`` / ``activations`` must give the same numbers (up to float
rounding; max pooling and relu exactly), which ``tests/core/test_fast_paths.py`` checks for
every padding, stride, kernel, memory order and dtype. Read these first to learn what a
layer does; read the layer for how it is made fast.

Shapes: x (batch, C, H, W); conv weights w (F, C, kh, kw), bias b (F,) or None; outputs and
gradients in the shapes of what they belong to; every result is C-contiguous, in x's dtype.
"""

from __future__ import annotations

import numpy as np

from core.layers._im2col import output_size_and_padding


def _padded(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
            padding: str) -> tuple[np.ndarray, tuple[int, int]]:
    """x zero-padded for ``padding`` ("valid" / "same", TensorFlow's split), and (OH, OW)."""
    oh, top, bottom = output_size_and_padding(x.shape[2], kernel[0], stride[0], padding)
    ow, left, right = output_size_and_padding(x.shape[3], kernel[1], stride[1], padding)
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))), (oh, ow)


def _window(a: np.ndarray, i: int, j: int, out_hw: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """View of a (batch, C, H, W) at kernel / window offset (i, j): (batch, C, OH, OW)."""
    (oh, ow), (sh, sw) = out_hw, stride
    return a[:, :, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw]


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, int],
                   padding: str) -> np.ndarray:
    """y[n, f, r, c] = b[f] + sum over (ch, i, j) of xpad[n, ch, r*sh + i, c*sw + j] * w[f, ch, i, j]."""
    kh, kw = w.shape[2:]
    xp, out_hw = _padded(x, (kh, kw), stride, padding)
    y = np.zeros((x.shape[0], w.shape[0], *out_hw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nchw,fc->nfhw", _window(xp, i, j, out_hw, stride), w[:, :, i, j])
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv2d_backward(x: np.ndarray, w: np.ndarray, dy: np.ndarray, stride: tuple[int, int],
                    padding: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dW, db) for dy = dE/dy: each kernel offset's share, accumulated on the padded
    input and cropped (gradients that fall on the padding are dropped)."""
    kh, kw = w.shape[2:]
    xp, out_hw = _padded(x, (kh, kw), stride, padding)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            dw[:, :, i, j] = np.einsum("nchw,nfhw->fc", _window(xp, i, j, out_hw, stride), dy)
            _window(dxp, i, j, out_hw, stride)[...] += np.einsum("nfhw,fc->nchw", dy, w[:, :, i, j])
    _, top, _ = output_size_and_padding(x.shape[2], kh, stride[0], padding)
    _, left, _ = output_size_and_padding(x.shape[3], kw, stride[1], padding)
    dx = np.ascontiguousarray(dxp[:, :, top:top + x.shape[2], left:left + x.shape[3]])
    return dx, dw, dy.sum(axis=(0, 2, 3))


def _pool_windows(x: np.ndarray, pool: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """(batch, C, OH, OW, ph*pw): every window's values, in row-major window order (a copy)."""
    oh = (x.shape[2] - pool[0]) // stride[0] + 1
    ow = (x.shape[3] - pool[1]) // stride[1] + 1
    offsets = [(i, j) for i in range(pool[0]) for j in range(pool[1])]
    return np.stack([_window(x, i, j, (oh, ow), stride) for i, j in offsets], axis=-1)


def max_pool2d_forward(x: np.ndarray, pool: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """The maximum of each window (no padding; incomplete windows are ignored)."""
    return np.asarray(_pool_windows(x, pool, stride).max(axis=-1))


def max_pool2d_backward(x: np.ndarray, dy: np.ndarray, pool: tuple[int, int],
                        stride: tuple[int, int]) -> np.ndarray:
    """dx: each window's gradient goes to its FIRST maximum in row-major order (argmax),
    as PyTorch does; overlapping windows add up."""
    first = _pool_windows(x, pool, stride).argmax(axis=-1)  # (batch, C, OH, OW)
    dx = np.zeros_like(x)
    out_hw = dy.shape[2:]
    for k in range(pool[0] * pool[1]):
        i, j = divmod(k, pool[1])
        _window(dx, i, j, out_hw, stride)[...] += np.where(first == k, dy, 0)
    return dx


def avg_pool2d_forward(x: np.ndarray, pool: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """The mean of each window (divisor ph*pw)."""
    return np.asarray(_pool_windows(x, pool, stride).mean(axis=-1), dtype=x.dtype)


def avg_pool2d_backward(x: np.ndarray, dy: np.ndarray, pool: tuple[int, int],
                        stride: tuple[int, int]) -> np.ndarray:
    """dx: every element of a window receives dy / (ph*pw); overlapping windows add up."""
    dx = np.zeros_like(x)
    share = dy / (pool[0] * pool[1])
    for i in range(pool[0]):
        for j in range(pool[1]):
            _window(dx, i, j, dy.shape[2:], stride)[...] += share
    return dx


def relu_forward(x: np.ndarray) -> np.ndarray:
    """max(x, 0)."""
    return np.where(x > 0, x, 0).astype(x.dtype, copy=False)


def relu_backward(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """dy where x > 0, else 0 (the derivative at the kink x = 0 taken as 0)."""
    return np.where(x > 0, dy, 0).astype(dy.dtype, copy=False)
