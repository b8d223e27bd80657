"""The engine's few compiled loops (numba): where NumPy needs several passes over a big array
for what one loop does in one. Each function here decides whether its kernel
(``core.layers._compiled_jit``) can run and returns None / False otherwise, so the caller runs
its NumPy path — which stays the reference: tests hold both equal, and both run
(``NNSTUDIO_JIT=0`` switches the kernels off; so does a missing or incompatible numba).

- 2×2 / stride-2 max pooling: NumPy needs ~5 passes for the gradient (compare every input with
  its window's maximum, the first-maximum rule on four quarters, a cast, a multiply); the
  kernels remember each window's winner in a byte during forward. Shipped model's first
  pooling (64 × 32 × 28 × 28, float32, one thread): 0.25 + 0.27 ms against 0.9 + 2.3 ms.
  Semantics exactly NumPy's: the gradient goes to the FIRST maximum in row-major window order
  (codes 0-3); a window holding a NaN outputs NaN and passes no gradient (code 4).
- Winograd F(2×2, 3×3)'s tile transforms (``winograd_*``, called by ``core.layers._winograd``
  only when ``kernels()`` is there; Conv2D runs im2col otherwise): each reads or writes 16
  rows of a tile per pass, which NumPy would do in ~30 strided passes.
- The stride-1 convolution input gradient's sums (``gather_input_gradient``), Adam's update on
  big parameters (``adam_update``) and relu's backward (``relu_backward``): the NumPy path's
  operations in its order, so the same bits.

numba is imported on the first call (never at start-up: ~0.15 s), compiles each kernel once
per signature (~0.25 s) and caches it on disk (``cache=True``); ``nogil``, so the training
thread lets the GUI run.
"""


from __future__ import annotations

import os
from typing import Any

import numpy as np

from core.layers._im2col import channels_last, to_channels_first

_kernels: Any = None
_failed = False


def _compile() -> Any:
    """Import numba (~0.15 s, never at start-up) and the kernels (compiled per signature on
    first call, or loaded from numba's on-disk cache)."""
    from core.layers import _compiled_jit

    return _compiled_jit


def kernels() -> Any:
    """The compiled kernels, or None (numba unavailable or switched off with NNSTUDIO_JIT=0):
    the caller then runs the NumPy path."""
    global _kernels, _failed
    if os.environ.get("NNSTUDIO_JIT", "1") == "0" or _failed:
        return None
    if _kernels is None:
        try:
            _kernels = _compile()
        except Exception:  # ImportError, or a numba too old/new for this NumPy: NumPy path
            _failed = True
            return None
    return _kernels


def max_pool_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """x (batch, C, H, W), stored channels-last or C-contiguous -> (y (batch, C, OH, OW) in
    x's memory order, winner codes uint8 in the same order), OH = H // 2, OW = W // 2; None
    when the kernels are unavailable or x has another memory order."""
    k = kernels()
    if k is None:
        return None
    batch, channels, height, width = x.shape
    oh, ow = height // 2, width // 2
    x_last = channels_last(x)
    if x_last.flags.c_contiguous:
        y = np.empty((batch, oh, ow, channels), dtype=x.dtype)
        winner = np.empty((batch, oh, ow, channels), dtype=np.uint8)
        k.forward_last(x_last, y, winner)
        return to_channels_first(y), to_channels_first(winner)
    if x.flags.c_contiguous:
        y = np.empty((batch, channels, oh, ow), dtype=x.dtype)
        winner = np.empty((batch, channels, oh, ow), dtype=np.uint8)
        k.forward_first(x, y, winner)
        return y, winner
    return None


def max_pool_backward(dy: np.ndarray, winner: np.ndarray, x: np.ndarray) -> np.ndarray | None:
    """dy (batch, C, OH, OW) -> dx shaped and ordered like x, for the winner codes of
    ``max_pool_forward(x)``; a last odd row / column (in no window) gets zero. None when the
    kernels were switched off since the forward pass (the caller's NumPy path then runs)."""
    k = kernels()
    if k is None:
        return None
    dx = np.empty_like(x)
    oh, ow = winner.shape[2:]
    dy = dy.astype(x.dtype, copy=False)
    if channels_last(winner).flags.c_contiguous:  # channels-last, like x
        k.backward_last(np.ascontiguousarray(channels_last(dy)), channels_last(winner), channels_last(dx))
    else:
        k.backward_first(np.ascontiguousarray(dy), winner, dx)
    if x.shape[2] > 2 * oh:
        dx[:, :, 2 * oh:] = 0
    if x.shape[3] > 2 * ow:
        dx[:, :, :, 2 * ow:] = 0
    return dx


def gather_input_gradient(dcols: np.ndarray, dx: np.ndarray, kernel: tuple[int, int], top: int, left: int) -> None:
    """dx (n, H, W, C), C-contiguous, from dcols (n, OH, OW, kh*kw, C) of a stride-1
    convolution (see ``_compiled_jit.gather_input_gradient``). Only when ``kernels()`` is not
    None (the caller checks: it sums with NumPy otherwise)."""
    k = kernels()
    if k is None or not dx.flags.c_contiguous or not dcols.flags.c_contiguous:
        raise RuntimeError("gather_input_gradient needs the compiled kernels and C-contiguous arrays")
    k.gather_input_gradient(dcols, dx, kernel[0], kernel[1], top, left)


def adam_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray,
                scalars: tuple[float, ...]) -> bool:
    """Adam's element-wise update in one compiled pass (``_compiled_jit.adam_update``;
    ``scalars``: b1, b2, 1 - b1, 1 - b2, 1 / sqrt(bias2), eps, lr / bias1); False (nothing
    done) when the kernels are unavailable or an array is not C-contiguous in param's dtype."""
    k = kernels()
    arrays = (param, grad, m, v)
    if k is None or any(not a.flags.c_contiguous or a.dtype != param.dtype for a in arrays):
        return False
    dt = param.dtype.type
    k.adam_update(*(a.reshape(-1) for a in arrays), *(dt(s) for s in scalars))
    return True


#: Arrays smaller than this take NumPy's relu backward: the compiled call's checks cost more
#: than they save (an MLP at batch 32: 0.69x PyTorch with NumPy, 0.75x compiled).
COMPILED_RELU_FROM = 1 << 16


def relu_backward(x: np.ndarray, dy: np.ndarray) -> np.ndarray | None:
    """dy · (x > 0) in one compiled pass, in x's memory order; None (the caller multiplies
    with NumPy) for small arrays, without the kernels, or when x and dy are not stored alike
    and contiguously."""
    if x.size < COMPILED_RELU_FROM:
        return None
    k = kernels()
    if k is None or x.dtype != dy.dtype or x.strides != dy.strides or x.shape != dy.shape:
        return None
    dx = np.empty_like(x)
    flats = [a.ravel(order="K") for a in (x, dy, dx)]
    if not all(np.may_share_memory(f, a) for f, a in zip(flats, (x, dy, dx), strict=True)):
        return None  # not contiguous in any order: ravel copied
    k.relu_backward(*flats, x.dtype.type(1), x.dtype.type(0))
    return dx
