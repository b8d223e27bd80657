"""Winograd's minimal filtering F(2×2, 3×3): a 3×3, stride-1 convolution with 16 multiplications
per 2×2 block of outputs and input channel instead of 36 (Lavin & Gray, "Fast Algorithms for
Convolutional Neural Networks", 2016).

The output is cut into 2×2 tiles; tile (a, b) reads the 4×4 input tile d starting at row
2a − top, column 2b − left (zeros outside the image, as with the padding). Per tile and filter:

    Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A        (g_c: the filter's 3×3 kernel on channel c)

With U = G g Gᵀ (16 values per channel and filter, computed once per step) and V = Bᵀ d B
(16 per tile and channel), the sum over channels is 16 matrix products, one per entry (k, l)
of the 4×4 transformed tile: M_kl (tiles, F) = V_kl (tiles, C) @ U_kl (C, F). That is the
whole saving: 16·C·F multiply-adds per tile instead of 36·C·F, in products as long as the
channel count.

Backward is that computation transposed, so it is the exact gradient of what forward
computed (which equals the convolution's in exact arithmetic):
    dM = A dY Aᵀ per tile;  dU_kl = V_klᵀ @ dM_kl (summed over tiles);  dW = Gᵀ dU G;
    dV_kl = dM_kl @ U_klᵀ;   dx += B dV Bᵀ at the pixels each tile read.

Rounding: each value is a different sum from the direct convolution's (the transforms add and
subtract inputs before multiplying), so it differs from the im2col path by rounding only; the
step-through formulas bound that difference (``core.analysis.formulas``). The tile transforms
are compiled loops (``core.layers._compiled_jit.winograd_*``); without numba Conv2D uses its
im2col path. Here: the transform matrices, the weight transforms and when the path applies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.layers._im2col import Geometry, Workspace, channels_last, fill_block, to_channels_first

#: Input transform: V = Bᵀ d B for a 4×4 input tile d.
B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
#: Kernel transform: U = G g Gᵀ for a 3×3 kernel g.
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
#: The kernel transform on flattened kernels: (G g Gᵀ).ravel() = g.ravel() @ KERNEL_TRANSFORM (9, 16),
#: so all kernels transform in one matrix product.
KERNEL_TRANSFORM = np.kron(G, G).T
#: Output transform: Y = Aᵀ M A, the 2×2 outputs of a 4×4 transformed tile M.
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)

#: Target size of one block's transformed tiles (V and M): about the L2 cache of one core.
BLOCK_BYTES = 1 << 20
#: Input channels from which Winograd is the faster path, by item size (float32: 4 bytes,
#: float64: 8); fewer stay on im2col, whose single long product then wins. Measured, forward +
#: backward of one layer, one thread, Winograd vs im2col, float32: 8 -> 16 channels at 14×14,
#: batch 128: 4.1 vs 3.6 ms; 4 -> 8 at 28×28: 12.2 vs 7.6; 12 -> 16 at 14×14: 5.1 vs 5.2;
#: 16 -> 16 at 14×14, batch 64: 2.9 vs 3.3; 32 -> 64 at 14×14 (the shipped model): 7.2 vs
#: 12.8; 64 -> 64 at 7×7: 4.2 vs 6.1. float64 (im2col's wide products are memory-bound there):
#: 8 -> 16 at 14×14, batch 128: 5.9 vs 7.3; 8 -> 8 at 28×28: 22.2 vs 21.5; 4 -> 8: 15.4 vs 13.3;
#: 32 -> 64 at 14×14: 15.6 vs 26.2.
WINOGRAD_FROM_CHANNELS = {4: 16, 8: 8}


def applies(kernel: tuple[int, int], strides: tuple[int, int], channels: int, dtype: np.dtype) -> bool:
    """Whether a convolution has the shape F(2×2, 3×3) computes (3×3 kernel, stride 1) and
    enough input channels, for its dtype, for the 16 products to pay for the transforms."""
    enough = WINOGRAD_FROM_CHANNELS.get(np.dtype(dtype).itemsize, WINOGRAD_FROM_CHANNELS[4])
    return kernel == (3, 3) and strides == (1, 1) and channels >= enough


def tile_counts(out_hw: tuple[int, int]) -> tuple[int, int]:
    """(tiles down, tiles across): 2×2 output tiles covering OH × OW (the last ones cut off
    when a size is odd)."""
    return (out_hw[0] + 1) // 2, (out_hw[1] + 1) // 2


def transformed_weights(w: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """W (F, C, 3, 3) -> U (16, C, F) in ``dtype``, U[4k + l, c, f] = (G W[f, c] Gᵀ)[k, l]
    (computed in float64, rounded once)."""
    filters, channels = w.shape[:2]
    u = np.asarray(w, dtype=np.float64).reshape(filters * channels, 9) @ KERNEL_TRANSFORM  # (F*C, 16)
    return np.ascontiguousarray(u.reshape(filters, channels, 16).transpose(2, 1, 0), dtype=dtype)


def weight_gradient(du: np.ndarray) -> np.ndarray:
    """dU (16, C, F) -> dW (F, C, 3, 3) = Gᵀ dU G per channel and filter, in float64."""
    channels, filters = du.shape[1:]
    per_kernel = np.asarray(du, dtype=np.float64).transpose(2, 1, 0).reshape(filters * channels, 16)
    dw: np.ndarray = (per_kernel @ KERNEL_TRANSFORM.T).reshape(filters, channels, 3, 3)
    return dw


def block_samples(geometry: Geometry, filters: int, batch: int, itemsize: int) -> int:
    """Samples per block: the block's V (16, tiles, C) and M (16, tiles, F) about BLOCK_BYTES."""
    tiles_h, tiles_w = tile_counts(geometry.out_hw)
    per_sample = 16 * tiles_h * tiles_w * (geometry.channels + filters) * itemsize
    return max(1, min(batch, BLOCK_BYTES // per_sample))


def _tiles_of(workspace: Workspace, name: str, rows: int, start: int, stop: int, per_sample: int,
              width: int, dtype: np.dtype) -> np.ndarray:
    """Samples start:stop of a (rows-sample) tile buffer, as one C-contiguous (16, tiles, width) block."""
    buffer = workspace.get(name, rows, (16 * per_sample * width,), dtype)
    return buffer[start:stop].reshape(16, (stop - start) * per_sample, width)


def _block_input(x_cl: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Samples start:stop of a (batch, H, W, C) view, C-contiguous (copied if stored otherwise)."""
    return np.ascontiguousarray(x_cl[start:stop])


def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geometry: Geometry, workspace: Workspace,
            keep: bool, jit: Any) -> np.ndarray:
    """x (batch, C, H, W), any memory order; W (F, C, 3, 3); b (F,) or None -> y (batch, OH, OW, F),
    C-contiguous (channels-last). Block by block: V = input tiles, M_kl = V_kl @ U_kl, Y = output
    tiles + bias. ``keep``: V of the whole batch stays in the workspace for ``backward``."""
    batch, filters, dtype = x.shape[0], w.shape[0], np.dtype(x.dtype)
    tiles_h, tiles_w = tile_counts(geometry.out_hw)
    per_sample, channels = tiles_h * tiles_w, geometry.channels
    top, left = geometry.pads[0], geometry.pads[2]
    u = transformed_weights(w, dtype)
    bias = np.zeros(filters, dtype) if b is None else np.asarray(b, dtype=dtype)
    y = np.empty((batch, *geometry.out_hw, filters), dtype=dtype)
    x_cl = channels_last(x)
    chunk = block_samples(geometry, filters, batch, dtype.itemsize)
    for start in range(0, batch, chunk):
        stop = min(start + chunk, batch)
        if keep:
            v = _tiles_of(workspace, "winograd_v_kept", batch, start, stop, per_sample, channels, dtype)
        else:
            v = _tiles_of(workspace, "winograd_v", chunk, 0, stop - start, per_sample, channels, dtype)
        jit.winograd_input_tiles(_block_input(x_cl, start, stop), top, left, tiles_h, tiles_w, v)
        m = _tiles_of(workspace, "winograd_m", chunk, 0, stop - start, per_sample, filters, dtype)
        np.matmul(v, u, out=m)
        jit.winograd_output_tiles(m, bias, tiles_h, tiles_w, y[start:stop])
    return y


def backward(x: np.ndarray, dy: np.ndarray, w: np.ndarray, geometry: Geometry, workspace: Workspace,
             kept: bool, need_input_grad: bool, jit: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The gradients of ``forward``'s computation: x (batch, C, H, W) as given to forward,
    dy (batch, F, OH, OW) -> (dW (F, C, 3, 3) float64, db (F,) in x's dtype, dx (batch, C, H, W)
    in x's memory order, or None). ``kept``: forward kept V (else recomputed per block)."""
    batch, filters, dtype = x.shape[0], w.shape[0], np.dtype(x.dtype)
    tiles_h, tiles_w = tile_counts(geometry.out_hw)
    per_sample, channels = tiles_h * tiles_w, geometry.channels
    top, left = geometry.pads[0], geometry.pads[2]
    # U_klᵀ (16, F, C), contiguous: the input gradient's products read it row by row
    u_t = np.ascontiguousarray(transformed_weights(w, dtype).transpose(0, 2, 1)) if need_input_grad else None
    du = np.zeros((16, channels, filters), dtype=dtype)
    db = np.zeros(filters, dtype=dtype)
    x_cl, dy_cl = channels_last(x), channels_last(dy)
    dx_cl = None  # dx in x's memory order, so the layer before reads it as it wrote x
    if need_input_grad:
        dx_cl = channels_last(np.empty_like(x, dtype=dtype))
    chunk = block_samples(geometry, filters, batch, dtype.itemsize)
    for start in range(0, batch, chunk):
        stop = min(start + chunk, batch)
        n = stop - start
        if kept:
            v = _tiles_of(workspace, "winograd_v_kept", batch, start, stop, per_sample, channels, dtype)
        else:
            v = _tiles_of(workspace, "winograd_v", chunk, 0, n, per_sample, channels, dtype)
            jit.winograd_input_tiles(_block_input(x_cl, start, stop), top, left, tiles_h, tiles_w, v)
        dy_block = np.ascontiguousarray(dy_cl[start:stop], dtype=dtype)
        # Pixel after pixel, whatever the filter count (a sum over axis 0 of a one-column array
        # would switch to pairwise summation): the order the step-through's formula replays.
        db += np.cumsum(dy_block.reshape(-1, filters), axis=0)[-1]
        dm = _tiles_of(workspace, "winograd_m", chunk, 0, n, per_sample, filters, dtype)
        jit.winograd_output_grad_tiles(dy_block, tiles_h, tiles_w, dm)
        du += np.matmul(v.transpose(0, 2, 1), dm)
        if dx_cl is not None and u_t is not None:
            dv = _tiles_of(workspace, "winograd_dv", chunk, 0, n, per_sample, channels, dtype)
            np.matmul(dm, u_t, out=dv)
            def sum_tiles(target: np.ndarray, dv: np.ndarray = dv) -> None:
                target.fill(0)
                jit.winograd_input_grad_tiles(dv, top, left, tiles_h, tiles_w, target)

            fill_block(dx_cl[start:stop], workspace, "winograd_dx", chunk, sum_tiles)
    dx = None if dx_cl is None else to_channels_first(dx_cl)
    return weight_gradient(du), db, dx
