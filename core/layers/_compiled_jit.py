"""The numba kernels behind ``core.layers._compiled`` (imported only from there, lazily:
importing this module imports numba). Module-level functions, so numba can cache them.

Every window is decided without branches (selects the compiler vectorises): the running
maximum takes a later value only when it is strictly greater, so the first maximum in
row-major order wins (codes 0-3); a window holding a NaN outputs NaN and code 4 (no winner).
"""

from __future__ import annotations

import numba
import numpy as np

#: Winner code of a window whose maximum is NaN: no input receives its gradient.
NO_WINNER = 4

_jit = numba.njit(cache=True, nogil=True)


@_jit
def window_max(va: float, vb: float, vc: float, vd: float) -> tuple[float, int]:
    """(maximum, winner code) of one window's values in row-major order, without branches:
    a later value wins only when strictly greater, so the first maximum does; a NaN anywhere
    gives NaN and ``NO_WINNER``."""
    m, k = va, 0
    t = vb > m
    m, k = (vb, 1) if t else (m, k)
    t = vc > m
    m, k = (vc, 2) if t else (m, k)
    t = vd > m
    m, k = (vd, 3) if t else (m, k)
    nan = (va != va) | (vb != vb) | (vc != vc) | (vd != vd)
    return (va + vb + vc + vd, NO_WINNER) if nan else (m, k)


@_jit
def forward_last(x: np.ndarray, y: np.ndarray, winner: np.ndarray) -> None:
    """x (B, H, W, C) -> y, winner (B, OH, OW, C); channels innermost (channels-last memory)."""
    batch, oh, ow, channels = y.shape
    for n in range(batch):
        for r in range(oh):
            top, bottom = x[n, 2 * r], x[n, 2 * r + 1]
            for c in range(ow):
                a, b, cc, d = top[2 * c], top[2 * c + 1], bottom[2 * c], bottom[2 * c + 1]
                out, won = y[n, r, c], winner[n, r, c]
                for ch in range(channels):
                    va, vb, vc, vd = a[ch], b[ch], cc[ch], d[ch]
                    out[ch], won[ch] = window_max(va, vb, vc, vd)


@_jit
def forward_first(x: np.ndarray, y: np.ndarray, winner: np.ndarray) -> None:
    """x (B, C, H, W) -> y, winner (B, C, OH, OW); columns innermost (channels-first memory)."""
    batch, channels, oh, ow = y.shape
    for n in range(batch):
        for ch in range(channels):
            for r in range(oh):
                top, bottom = x[n, ch, 2 * r], x[n, ch, 2 * r + 1]
                out, won = y[n, ch, r], winner[n, ch, r]
                for c in range(ow):
                    va, vb, vc, vd = top[2 * c], top[2 * c + 1], bottom[2 * c], bottom[2 * c + 1]
                    out[c], won[c] = window_max(va, vb, vc, vd)


@_jit
def backward_last(dy: np.ndarray, winner: np.ndarray, dx: np.ndarray) -> None:
    """dy, winner (B, OH, OW, C) -> every whole window of dx (B, H, W, C): dy at the winner, 0 elsewhere."""
    batch, oh, ow, channels = dy.shape
    for n in range(batch):
        for r in range(oh):
            for i in range(2):
                for c in range(ow):
                    for j in range(2):
                        code = 2 * i + j
                        for ch in range(channels):
                            dx[n, 2 * r + i, 2 * c + j, ch] = dy[n, r, c, ch] if winner[n, r, c, ch] == code else 0.0


@_jit
def backward_first(dy: np.ndarray, winner: np.ndarray, dx: np.ndarray) -> None:
    """dy, winner (B, C, OH, OW) -> every whole window of dx (B, C, H, W): dy at the winner, 0 elsewhere."""
    batch, channels, oh, ow = dy.shape
    for n in range(batch):
        for ch in range(channels):
            for r in range(oh):
                g, won = dy[n, ch, r], winner[n, ch, r]
                top, bottom = dx[n, ch, 2 * r], dx[n, ch, 2 * r + 1]
                for c in range(ow):
                    v, k = g[c], won[c]
                    top[2 * c] = v if k == 0 else 0.0
                    top[2 * c + 1] = v if k == 1 else 0.0
                    bottom[2 * c] = v if k == 2 else 0.0
                    bottom[2 * c + 1] = v if k == 3 else 0.0


@_jit
def gather_input_gradient(dcols: np.ndarray, dx: np.ndarray, kh: int, kw: int, top: int, left: int) -> None:
    """A stride-1 convolution's input gradient from its per-offset blocks.

    dcols: (n, OH, OW, kh*kw, C), entry [s, r, c, i*kw + j, ch] = what output pixel (r, c)
    passes back through kernel offset (i, j) to channel ch (Σ over filters, one matrix product).
    dx:    (n, H, W, C), written whole: zeroed, then one pass per kernel offset in row-major
           (i, j) order adds that offset's block onto the pixels it read (whole row runs; what
           it read from the padding is left out): the order ``col2im_offsets`` adds its blocks
           in, so the same bits.
    """
    batch, oh, ow, _, channels = dcols.shape
    height, width = dx.shape[1], dx.shape[2]
    dx[:] = 0.0
    for i in range(kh):
        for j in range(kw):
            offset = i * kw + j
            first, stop = max(0, j - left), min(width, ow + j - left)
            for n in range(batch):
                for y in range(height):
                    r = y + top - i
                    if r < 0 or r >= oh:
                        continue
                    for x in range(first, stop):
                        c = x + left - j
                        for ch in range(channels):
                            dx[n, y, x, ch] += dcols[n, r, c, offset, ch]


@_jit
def adam_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, b1: float, b2: float,
                one_minus_b1: float, one_minus_b2: float, inv_sqrt_bias2: float, eps: float, step: float) -> None:
    """One Adam step over flat C-contiguous arrays in one pass, with exactly the NumPy path's
    operations per element (each rounded to the arrays' dtype; no fused multiply-add):
    m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g²; p -= step · m / (sqrt(v) · inv_sqrt_bias2 + eps).
    The scalars arrive already in the arrays' dtype."""
    for k in range(param.size):
        g = grad[k]
        scaled = g * one_minus_b1
        mk = m[k] * b1
        mk = mk + scaled
        m[k] = mk
        sq = g * g
        sq = sq * one_minus_b2
        vk = v[k] * b2
        vk = vk + sq
        v[k] = vk
        denom = np.sqrt(vk)
        denom = denom * inv_sqrt_bias2
        denom = denom + eps
        update = mk / denom
        update = update * step
        param[k] = param[k] - update


@_jit
def relu_backward(x: np.ndarray, dy: np.ndarray, dx: np.ndarray, one: float, zero: float) -> None:
    """Flat arrays in one memory order: dx = dy · (x > 0), the factor 1 or 0 in the arrays'
    dtype (``one``, ``zero``) as the NumPy path multiplies; one pass instead of a comparison
    and a mixed-type product."""
    for k in range(x.size):
        dx[k] = dy[k] * (one if x[k] > 0 else zero)
