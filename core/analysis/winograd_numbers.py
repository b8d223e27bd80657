"""A Conv2D number computed by Winograd's F(2×2, 3×3) (``core.layers._winograd``), for the
step-through: replayed exactly as the engine computed it, or bounded.

``engine_output``, ``engine_weight_grad`` and ``engine_input_grad`` repeat the engine's
arithmetic for one number: the tile transforms in the compiled kernels' order, every entry of
the stacked BLAS products summed in the BLAS's order (learned by calibration,
``exact_sums.blas_order``, as for every other product the step-through explains), the blocks
and tiles added in the engine's order: the engine's bits. Each returns None when a BLAS order
is unknown; the formula then shows the direct sum of the products with a bound:

γₖ · E, where E is the engine's own computation carried out on absolute values (|Aᵀ|, |G|, |Bᵀ|
and the absolute inputs) and k counts the roundings on the longest path through it
(transforms, product, the sums over channels or tiles, the final additions), plus one for the
exactly rounded direct sum it is compared with: for any evaluation built from additions and
multiplications, |computed − exact| ≤ γₖ · E (Higham, Accuracy and Stability of Numerical
Algorithms, §3.1). E ≥ |exact|, so the direct sum's own rounding is covered.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from core.analysis.exact_sums import Product, blas_sum
from core.layers._winograd import A_T, B_T, KERNEL_TRANSFORM, G, tile_counts, transformed_weights

_ABS_A_T, _ABS_B_T, _ABS_G, _ABS_KERNEL = np.abs(A_T), np.abs(B_T), np.abs(G), np.abs(KERNEL_TRANSFORM)
#: Roundings besides the long sum: input or gradient transforms (2 + 2), the stored U (1), the
#: product (1), the output or input-gradient transform and the additions after it (up to 8),
#: the exactly rounded comparison (1); rounded up.
_EXTRA_ROUNDINGS = 16


def _gamma(k: int, dtype: np.dtype) -> float:
    u = float(np.finfo(dtype).eps) / 2
    return k * u / (1 - k * u)


def _abs_u(w: np.ndarray) -> np.ndarray:
    """|G| |g| |G|ᵀ of every kernel: W (F, C, 3, 3) -> (F, C, 4, 4)."""
    filters, channels = w.shape[:2]
    return (np.abs(np.asarray(w, np.float64)).reshape(filters * channels, 9) @ _ABS_KERNEL).reshape(
        filters, channels, 4, 4)


def _tiles_reading(yy: int, xx: int, top: int, left: int,
                   tiles: tuple[int, int]) -> Iterator[tuple[int, int, int, int]]:
    """(a, b, i, j) for every tile (a, b), in row-major order, whose 4×4 input tile holds pixel
    (yy, xx), at its row i and column j."""
    for a in range(tiles[0]):
        i = yy - (2 * a - top)
        if 0 <= i < 4:
            for b in range(tiles[1]):
                j = xx - (2 * b - left)
                if 0 <= j < 4:
                    yield a, b, i, j


def _transformed_tiles(d: np.ndarray) -> np.ndarray:
    """d (..., 4, 4) in the layer's dtype -> V (..., 16) = Bᵀ d B, entry (k, l) at 4k + l, each
    rounded in the order ``_compiled_jit.winograd_input_tiles`` computes it (rows, then columns)."""
    r = [d[..., i, :] for i in range(4)]
    e = np.stack([r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3]], axis=-2)  # (..., k, column)
    c = [e[..., j] for j in range(4)]
    return np.stack([c[0] - c[2], c[1] + c[2], c[2] - c[1], c[1] - c[3]], axis=-1).reshape(*d.shape[:-2], 16)


def _transformed_output_grads(g: np.ndarray) -> np.ndarray:
    """g (..., 2, 2) output-gradient tiles -> dM (..., 16) = A dY Aᵀ in the order
    ``_compiled_jit.winograd_output_grad_tiles`` computes it."""
    g00, g01, g10, g11 = g[..., 0, 0], g[..., 0, 1], g[..., 1, 0], g[..., 1, 1]
    pairs = [(g00, g01), (g00 + g10, g01 + g11), (g00 - g10, g01 - g11), (-g10, -g11)]
    return np.stack([t for u, w in pairs for t in (u, u + w, u - w, -w)], axis=-1)


def _value_tiles(image: np.ndarray, top: int, left: int, out_hw: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """image (..., H, W) -> its 4×4 input tiles (..., tiles_h, tiles_w, 4, 4) in ``dtype``, zeros outside."""
    tiles_h, tiles_w = tile_counts(out_hw)
    height, width = image.shape[-2:]
    padded = np.zeros((*image.shape[:-2], max(2 * tiles_h + 2, top + height), max(2 * tiles_w + 2, left + width)),
                      dtype=dtype)
    padded[..., top:top + height, left:left + width] = image
    windows = np.lib.stride_tricks.sliding_window_view(padded, (4, 4), axis=(-2, -1))
    return windows[..., ::2, ::2, :, :][..., :tiles_h, :tiles_w, :, :]


def _grad_tiles(grad: np.ndarray, out_hw: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """grad (..., OH, OW) -> its 2×2 tiles (..., tiles_h, tiles_w, 2, 2) in ``dtype``, zeros past the edge."""
    tiles_h, tiles_w = tile_counts(out_hw)
    padded = np.zeros((*grad.shape[:-2], 2 * tiles_h, 2 * tiles_w), dtype=dtype)
    padded[..., :out_hw[0], :out_hw[1]] = grad
    return padded.reshape(*grad.shape[:-2], tiles_h, 2, tiles_w, 2).swapaxes(-3, -2)


def _abs_input_tiles(image: np.ndarray, top: int, left: int, out_hw: tuple[int, int]) -> np.ndarray:
    """|image|'s 4×4 input tiles in float64 (``_value_tiles``), for the bounds."""
    return np.abs(_value_tiles(np.asarray(image, np.float64), top, left, out_hw, np.dtype(np.float64)))


def _abs_grad_tiles(grad: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """|grad|'s 2×2 output tiles in float64 (``_grad_tiles``), for the bounds."""
    return np.abs(_grad_tiles(np.asarray(grad, np.float64), out_hw, np.dtype(np.float64)))


def output_bound(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, f: int, r: int, c: int, top: int, left: int,
                 out_hw: tuple[int, int], dtype: np.dtype) -> float:
    """Output (f, r, c) of one sample x (C, H, W): Σ_c over the channels in one product."""
    tiles = _abs_input_tiles(x, top, left, out_hw)[:, r // 2, c // 2]  # (C, 4, 4)
    v = _ABS_B_T @ tiles @ _ABS_B_T.T
    s = (_abs_u(w[f:f + 1])[0] * v).sum(axis=0)
    e = (_ABS_A_T @ s @ _ABS_A_T.T)[r % 2, c % 2] + (0.0 if b is None else abs(float(b[f])))
    return _gamma(x.shape[0] + _EXTRA_ROUNDINGS, dtype) * float(e)


def weight_grad_bound(x: np.ndarray, dy: np.ndarray, f: int, ch: int, i: int, j: int, top: int, left: int,
                      dtype: np.dtype) -> float:
    """dL/dW[f, ch, i, j] of a batch x (N, C, H, W), dy (N, F, OH, OW): a sum over every tile."""
    out_hw = dy.shape[2:]
    v = _ABS_B_T @ _abs_input_tiles(x[:, ch], top, left, out_hw) @ _ABS_B_T.T  # (N, th, tw, 4, 4)
    dm = _ABS_A_T.T @ _abs_grad_tiles(dy[:, f], out_hw) @ _ABS_A_T  # (N, th, tw, 4, 4)
    s = (v * dm).sum(axis=(0, 1, 2))
    e = (_ABS_G.T @ s @ _ABS_G)[i, j]
    tiles = x.shape[0] * v.shape[1] * v.shape[2]
    return _gamma(tiles + _EXTRA_ROUNDINGS, dtype) * float(e)


def input_grad_bound(dy: np.ndarray, w: np.ndarray, ch: int, yy: int, xx: int, top: int, left: int,
                     dtype: np.dtype) -> float:
    """dL/dx[ch, yy, xx] of one sample's output gradient dy (F, OH, OW): Σ over the filters in
    one product, then over the (up to 4) tiles that read the pixel."""
    out_hw = dy.shape[1:]
    tiles_h, tiles_w = tile_counts(out_hw)
    dm = _ABS_A_T.T @ _abs_grad_tiles(dy, out_hw) @ _ABS_A_T  # (F, th, tw, 4, 4)
    u = _abs_u(w)[:, ch]  # (F, 4, 4)
    total = 0.0
    for a, b, i, j in _tiles_reading(yy, xx, top, left, (tiles_h, tiles_w)):
        dv = (dm[:, a, b] * u).sum(axis=0)
        total += float((_ABS_B_T.T @ dv @ _ABS_B_T)[i, j])
    return _gamma(dy.shape[0] + _EXTRA_ROUNDINGS, dtype) * total


def engine_output(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, f: int, r: int, c: int, top: int, left: int,
                  out_hw: tuple[int, int], block: tuple[int, int, int],
                  dtype: np.dtype) -> tuple[float, list[float]] | None:
    """Output (f, r, c) of one sample x (C, H, W) recomputed the way the engine computed it, to
    the last bit: the sample's 4×4 input tile transformed (V = Bᵀ d B), each of the 16 entries
    M_kl = Σ_c V_kl,c · U_kl,c,f added over the channels as the BLAS adds entry (tile, f) of
    the block's stacked product (learned by calibration, ``exact_sums.blas_order``), then
    Aᵀ M A + b in the kernel's order. ``block``: (tile of this output within its block, tiles
    in the block, filters). Returns (value, the 16 M_kl), or None when the BLAS order is unknown."""
    channels = x.shape[0]
    tile, tiles, filters = block
    d = _value_tiles(np.asarray(x, dtype=dtype), top, left, out_hw, dtype)[:, r // 2, c // 2]  # (C, 4, 4)
    v = _transformed_tiles(d).T  # (16, C)
    u = transformed_weights(w, dtype)  # (16, C, F), exactly the engine's
    product = Product(tiles, channels, filters, dtype.name, stacked=16)
    m = []
    for kl in range(16):
        found = blas_sum(v[kl], u[kl, :, f], product, tile, f)
        if found is None:
            return None
        m.append(dtype.type(found[0]))
    one = dtype.type
    if r % 2 == 0:  # first row of Aᵀ M: rows 0, 1, 2 of M added
        h = [(m[j] + m[4 + j]) + m[8 + j] for j in range(4)]
    else:  # second row: rows 1 − 2 − 3
        h = [(m[4 + j] - m[8 + j]) - m[12 + j] for j in range(4)]
    bias = one(0) if b is None else one(b[f])
    value = ((h[0] + h[1]) + h[2]) + bias if c % 2 == 0 else ((h[1] - h[2]) - h[3]) + bias
    return float(one(value)), [float(entry) for entry in m]


def engine_weight_grad(x: np.ndarray, dy: np.ndarray, f: int, ch: int, i: int, j: int, top: int, left: int,
                       blocks: list[tuple[int, int]], dtype: np.dtype) -> float | None:
    """dL/dW[f, ch, i, j] of a batch x (N, C, H, W), dy (N, F, OH, OW) recomputed the way the engine
    computed it: per block of samples, each of the 16 entries dU_kl = Σ over the block's tiles of
    V_kl · dM_kl added as the BLAS adds that stacked product, the blocks added in order in the
    layer's dtype; then Gᵀ dU G in float64 as its BLAS product adds it, rounded to the dtype.
    None when a BLAS order is unknown."""
    batch, channels = x.shape[:2]
    filters, out_hw = dy.shape[1], dy.shape[2:]
    tiles_h, tiles_w = tile_counts(out_hw)
    per_sample = tiles_h * tiles_w
    v = _transformed_tiles(_value_tiles(np.asarray(x[:, ch], dtype=dtype), top, left, out_hw, dtype))
    dm = _transformed_output_grads(_grad_tiles(np.asarray(dy[:, f], dtype=dtype), out_hw, dtype))
    v, dm = v.reshape(batch * per_sample, 16), dm.reshape(batch * per_sample, 16)
    du = np.zeros(16, dtype=dtype)
    for start, stop in blocks:
        rows = slice(start * per_sample, stop * per_sample)
        product = Product(channels, (stop - start) * per_sample, filters, dtype.name, a_transposed=True, stacked=16)
        for kl in range(16):
            found = blas_sum(v[rows, kl], dm[rows, kl], product, ch, f)
            if found is None:
                return None
            du[kl] = du[kl] + dtype.type(found[0])
    column = 3 * i + j
    found = blas_sum(du.astype(np.float64), KERNEL_TRANSFORM.T[:, column],
                     Product(filters * channels, 16, 9, "float64"), f * channels + ch, column)
    return None if found is None else float(dtype.type(found[0]))


def engine_input_grad(dy: np.ndarray, w: np.ndarray, ch: int, yy: int, xx: int, top: int, left: int,
                      block: tuple[int, int], dtype: np.dtype) -> float | None:
    """dL/dx[ch, yy, xx] of one sample from its output gradient dy (F, OH, OW), recomputed the way
    the engine computed it: for each tile that read the pixel, in tile order, dV_kl = Σ_f dM_kl,f ·
    U_kl,ch,f added as the BLAS adds that stacked product, B dV Bᵀ in the kernel's order, its
    entry at the pixel added onto a zero. ``block``: (this sample's first tile within its block,
    tiles in the block). None when a BLAS order is unknown."""
    first_tile, tiles = block
    filters, out_hw = dy.shape[0], dy.shape[1:]
    tiles_h, tiles_w = tile_counts(out_hw)
    dm = _transformed_output_grads(_grad_tiles(np.asarray(dy, dtype=dtype), out_hw, dtype))  # (F, th, tw, 16)
    u_t = transformed_weights(w, dtype).transpose(0, 2, 1)  # (16, F, C), as the engine multiplies it
    product = Product(tiles, filters, w.shape[1], dtype.name, stacked=16)
    total = dtype.type(0)
    for a, b, i, j in _tiles_reading(yy, xx, top, left, (tiles_h, tiles_w)):  # in the kernel's tile order
        tile = first_tile + a * tiles_w + b
        dv = []
        for kl in range(16):
            found = blas_sum(dm[:, a, b, kl], u_t[kl, :, ch], product, tile, ch)
            if found is None:
                return None
            dv.append(dtype.type(found[0]))
        rows = [[dv[jc], (dv[4 + jc] - dv[8 + jc]) + dv[12 + jc], (dv[4 + jc] + dv[8 + jc]) - dv[jc], -dv[12 + jc]]
                for jc in range(4)]  # rows[column][k] of B dV
        f0, f1, f2, f3 = (rows[jc][i] for jc in range(4))
        total = total + [f0, (f1 - f2) + f3, (f1 + f2) - f0, -f3][j]
    return float(total)
