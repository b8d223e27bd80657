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


# -- Winograd F(2×2, 3×3) tile transforms (see core.layers._winograd) ----------------------------
# Each loop reads and writes whole channel rows (views), so the innermost loop runs over
# contiguous values and vectorises; a tile's values outside the image read a row of zeros.


@_jit
def winograd_input_tiles(x: np.ndarray, top: int, left: int, tiles_h: int, tiles_w: int, v: np.ndarray) -> None:
    """x (n, H, W, C) -> v (16, n*tiles_h*tiles_w, C): for every 4×4 input tile d (tile (a, b)
    starts at row 2a - top, column 2b - left; zeros outside the image), V = Bᵀ d B, entry
    (k, l) of V at v[4k + l, tile]. Tiles are ordered (sample, a, b)."""
    n, height, width, channels = x.shape
    zero = np.zeros(channels, x.dtype)
    rows = np.empty((4, 4, channels), x.dtype)  # Bᵀ d, the tile's rows combined
    t = 0
    for s in range(n):
        for a in range(tiles_h):
            r0 = 2 * a - top
            in0, in1 = 0 <= r0 < height, 0 <= r0 + 1 < height
            in2, in3 = 0 <= r0 + 2 < height, 0 <= r0 + 3 < height
            for b in range(tiles_w):
                c0 = 2 * b - left
                for j in range(4):
                    c = c0 + j
                    col = 0 <= c < width
                    d0 = x[s, r0, c] if col and in0 else zero
                    d1 = x[s, r0 + 1, c] if col and in1 else zero
                    d2 = x[s, r0 + 2, c] if col and in2 else zero
                    d3 = x[s, r0 + 3, c] if col and in3 else zero
                    e0, e1, e2, e3 = rows[0, j], rows[1, j], rows[2, j], rows[3, j]
                    for ch in range(channels):
                        e0[ch] = d0[ch] - d2[ch]
                        e1[ch] = d1[ch] + d2[ch]
                        e2[ch] = d2[ch] - d1[ch]
                        e3[ch] = d1[ch] - d3[ch]
                for k in range(4):
                    f0, f1, f2, f3 = rows[k, 0], rows[k, 1], rows[k, 2], rows[k, 3]
                    o0, o1, o2, o3 = v[4 * k, t], v[4 * k + 1, t], v[4 * k + 2, t], v[4 * k + 3, t]
                    for ch in range(channels):
                        o0[ch] = f0[ch] - f2[ch]
                        o1[ch] = f1[ch] + f2[ch]
                        o2[ch] = f2[ch] - f1[ch]
                        o3[ch] = f1[ch] - f3[ch]
                t += 1


@_jit
def winograd_output_tiles(m: np.ndarray, bias: np.ndarray, tiles_h: int, tiles_w: int, y: np.ndarray) -> None:
    """m (16, n*tiles_h*tiles_w, F) -> y (n, OH, OW, F): each tile's 2×2 outputs Aᵀ M A + bias
    (entry (k, l) of M at m[4k + l, tile]); outputs past OH / OW (odd sizes) are dropped."""
    n, oh, ow, filters = y.shape
    p = np.empty((4, filters), y.dtype)  # Aᵀ M, first row
    q = np.empty((4, filters), y.dtype)  # Aᵀ M, second row
    t = 0
    for s in range(n):
        for a in range(tiles_h):
            r = 2 * a
            for b in range(tiles_w):
                c = 2 * b
                for j in range(4):
                    m0, m1, m2, m3 = m[j, t], m[4 + j, t], m[8 + j, t], m[12 + j, t]
                    pj, qj = p[j], q[j]
                    for f in range(filters):
                        pj[f] = m0[f] + m1[f] + m2[f]
                        qj[f] = m1[f] - m2[f] - m3[f]
                for i in range(2):
                    if r + i >= oh:
                        continue
                    h0, h1, h2, h3 = (p[0], p[1], p[2], p[3]) if i == 0 else (q[0], q[1], q[2], q[3])
                    out = y[s, r + i, c]
                    for f in range(filters):
                        out[f] = h0[f] + h1[f] + h2[f] + bias[f]
                    if c + 1 < ow:
                        out = y[s, r + i, c + 1]
                        for f in range(filters):
                            out[f] = h1[f] - h2[f] - h3[f] + bias[f]
                t += 1


@_jit
def winograd_output_grad_tiles(dy: np.ndarray, tiles_h: int, tiles_w: int, dm: np.ndarray) -> None:
    """dy (n, OH, OW, F) -> dm (16, n*tiles_h*tiles_w, F): per tile dM = A dY Aᵀ, dY the
    tile's 2×2 output gradient (zeros past OH / OW): the transpose of the output transform."""
    n, oh, ow, filters = dy.shape
    zero = np.zeros(filters, dy.dtype)
    t = 0
    for s in range(n):
        for a in range(tiles_h):
            r = 2 * a
            for b in range(tiles_w):
                c = 2 * b
                g00 = dy[s, r, c]
                g01 = dy[s, r, c + 1] if c + 1 < ow else zero
                g10 = dy[s, r + 1, c] if r + 1 < oh else zero
                g11 = dy[s, r + 1, c + 1] if r + 1 < oh and c + 1 < ow else zero
                for k in range(4):  # row k of A dY: (g0 + ... ) per column, then (.) Aᵀ
                    o0, o1, o2, o3 = dm[4 * k, t], dm[4 * k + 1, t], dm[4 * k + 2, t], dm[4 * k + 3, t]
                    for f in range(filters):
                        if k == 0:
                            u, w = g00[f], g01[f]
                        elif k == 1:
                            u, w = g00[f] + g10[f], g01[f] + g11[f]
                        elif k == 2:
                            u, w = g00[f] - g10[f], g01[f] - g11[f]
                        else:
                            u, w = -g10[f], -g11[f]
                        o0[f] = u
                        o1[f] = u + w
                        o2[f] = u - w
                        o3[f] = -w
                t += 1


@_jit
def winograd_input_grad_tiles(dv: np.ndarray, top: int, left: int, tiles_h: int, tiles_w: int,
                              dx: np.ndarray) -> None:
    """dv (16, n*tiles_h*tiles_w, C) -> dx (n, H, W, C) += B dV Bᵀ of every tile, at the 4×4
    pixels it read (those inside the image), tiles in order: the transpose of the input
    transform. The caller zeroes dx."""
    n, height, width, channels = dx.shape
    rows = np.empty((4, 4, channels), dx.dtype)  # B dV
    tile = np.empty((4, 4, channels), dx.dtype)  # B dV Bᵀ
    t = 0
    for s in range(n):
        for a in range(tiles_h):
            r0 = 2 * a - top
            for b in range(tiles_w):
                c0 = 2 * b - left
                for j in range(4):
                    v0, v1, v2, v3 = dv[j, t], dv[4 + j, t], dv[8 + j, t], dv[12 + j, t]
                    e0, e1, e2, e3 = rows[0, j], rows[1, j], rows[2, j], rows[3, j]
                    for ch in range(channels):
                        e0[ch] = v0[ch]
                        e1[ch] = v1[ch] - v2[ch] + v3[ch]
                        e2[ch] = v1[ch] + v2[ch] - v0[ch]
                        e3[ch] = -v3[ch]
                for i in range(4):
                    f0, f1, f2, f3 = rows[i, 0], rows[i, 1], rows[i, 2], rows[i, 3]
                    o0, o1, o2, o3 = tile[i, 0], tile[i, 1], tile[i, 2], tile[i, 3]
                    for ch in range(channels):
                        o0[ch] = f0[ch]
                        o1[ch] = f1[ch] - f2[ch] + f3[ch]
                        o2[ch] = f1[ch] + f2[ch] - f0[ch]
                        o3[ch] = -f3[ch]
                first, stop = max(0, -c0), min(4, width - c0)
                for i in range(4):
                    r = r0 + i
                    if r < 0 or r >= height:
                        continue
                    for j in range(first, stop):
                        out, add = dx[s, r, c0 + j], tile[i, j]
                        for ch in range(channels):
                            out[ch] += add[ch]
                t += 1
