"""Micro-benchmark: Conv2D / MaxPool2D forward+backward at one thread, optionally vs PyTorch.

Usage (from the repository root)::

    python benchmarks/bench_conv.py              # core layers (+ torch if importable)
    python benchmarks/bench_conv.py --layouts    # also the column-matrix layout comparison

Thread counts are pinned to 1 before numpy/torch are imported, so BLAS does not use other
cores (the comparison target is single-threaded PyTorch CPU).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core.layers.conv import Conv2D
from core.layers.pooling import MaxPool2D

BATCH = 128
CONV_CASES = [((1, 28, 28), 8), ((8, 14, 14), 16)]  # (input per sample, filters); 3x3 'same'


def best_ms(fn, repeat: int = 30) -> tuple[float, float]:
    """(min, median) wall time of fn() in milliseconds, after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3, float(np.median(times)) * 1e3


def bench_core() -> None:
    rng = np.random.default_rng(0)
    print(f"core (numpy {np.__version__}), batch {BATCH}, float32, min / median ms")
    for shape, filters in CONV_CASES:
        _bench_core_case(shape, filters, rng)


def _bench_core_case(shape: tuple[int, int, int], filters: int, rng: np.random.Generator) -> None:
    """Conv2D then MaxPool2D on one (channels, height, width) input shape."""
    layer = Conv2D(filters, 3, padding="same")
    layer.build(shape, rng, np.float32)
    x = rng.standard_normal((BATCH, *shape), dtype=np.float32)
    dy = rng.standard_normal((BATCH, *layer.shape), dtype=np.float32)

    def step(need_dx: bool = True) -> None:
        layer.forward(x, training=True)
        layer.backward(dy, need_input_grad=need_dx)

    fwd = best_ms(lambda: layer.forward(x, training=True))
    both = best_ms(step)
    no_dx = best_ms(lambda: step(False))
    print(f"  Conv2D {shape}->{filters} 3x3 same: forward {fwd[0]:.2f} / {fwd[1]:.2f}, "
          f"fwd+bwd {both[0]:.2f} / {both[1]:.2f}, fwd+bwd without dx {no_dx[0]:.2f} / {no_dx[1]:.2f}")

    pool = MaxPool2D(2)
    pool.build(layer.shape, rng, np.float32)
    y = layer.forward(x)
    dz = rng.standard_normal((BATCH, *pool.shape), dtype=np.float32)
    pf = best_ms(lambda: pool.forward(y, training=True))
    pb = best_ms(lambda: (pool.forward(y, training=True), pool.backward(dz)))
    print(f"  MaxPool2D 2x2 on {layer.shape}: forward {pf[0]:.2f} / {pf[1]:.2f}, "
          f"fwd+bwd {pb[0]:.2f} / {pb[1]:.2f}")


def bench_torch() -> None:
    try:
        import torch
        import torch.nn.functional as functional
    except ImportError:
        print("torch not importable: skipping the PyTorch comparison")
        return
    torch.set_num_threads(1)
    print(f"torch {torch.__version__} (1 thread), batch {BATCH}, float32, min / median ms")
    gen = torch.Generator().manual_seed(0)
    for (channels, height, width), filters in CONV_CASES:
        _bench_torch_case(torch, functional, gen, channels, height, width, filters)


def _bench_torch_case(torch, functional, gen, channels: int, height: int, width: int, filters: int) -> None:
    """PyTorch's conv2d then max_pool2d on one input shape (the same cases as bench_core)."""
    x = torch.randn(BATCH, channels, height, width, generator=gen)
    w = torch.randn(filters, channels, 3, 3, generator=gen) * 0.1
    b = torch.zeros(filters)
    dy = torch.randn(BATCH, filters, height, width, generator=gen)

    def step(need_dx: bool = True) -> None:
        xr = x.clone().requires_grad_(need_dx)
        wr, br = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
        functional.conv2d(xr, wr, br, padding=1).backward(dy)

    def forward() -> None:
        with torch.no_grad():
            functional.conv2d(x, w, b, padding=1)

    fwd = best_ms(forward)
    both = best_ms(step)
    no_dx = best_ms(lambda: step(False))
    print(f"  conv2d ({channels}, {height}, {width})->{filters} 3x3 pad 1: forward {fwd[0]:.2f} / {fwd[1]:.2f}, "
          f"fwd+bwd {both[0]:.2f} / {both[1]:.2f}, fwd+bwd without dx {no_dx[0]:.2f} / {no_dx[1]:.2f}")
    y = functional.conv2d(x, w, b, padding=1).detach()
    dz = torch.randn(BATCH, filters, height // 2, width // 2, generator=gen)
    pf = best_ms(lambda: functional.max_pool2d(y, 2))
    pb = best_ms(lambda: functional.max_pool2d(y.clone().requires_grad_(True), 2).backward(dz))
    print(f"  max_pool2d 2x2: forward {pf[0]:.2f} / {pf[1]:.2f}, fwd+bwd {pb[0]:.2f} / {pb[1]:.2f}")


# -- a small MNIST CNN, one training step without the optimizer --------------------------------------
def bench_network() -> None:
    """conv 8 same, relu, pool, conv 16 same, relu, pool, flatten, dense 10: forward + backward."""
    from core.layers import Activation, Dense, Flatten

    rng = np.random.default_rng(0)
    layers = [Conv2D(8, 3, padding="same"), Activation("relu"), MaxPool2D(2),
              Conv2D(16, 3, padding="same"), Activation("relu"), MaxPool2D(2), Flatten(), Dense(10)]
    shape: tuple[int, ...] = (1, 28, 28)
    for layer in layers:
        layer.build(shape, rng, np.float32)
        shape = layer.shape
    x = rng.standard_normal((BATCH, 1, 28, 28), dtype=np.float32)
    dlogits = rng.standard_normal((BATCH, 10), dtype=np.float32)

    def step() -> None:
        h = x
        for layer in layers:
            h = layer.forward(h, training=True)
        g = dlogits
        for n, layer in enumerate(reversed(layers)):
            g = layer.backward(g, need_input_grad=n < len(layers) - 1)

    t = best_ms(step)
    print(f"core CNN training step (batch {BATCH}): {t[0]:.2f} / {t[1]:.2f} ms "
          f"-> {t[1] * 60000 / BATCH / 1000:.2f} s per 60k-sample epoch (median, no optimizer/loss)")
    try:
        import torch
        from torch import nn
    except ImportError:
        return
    torch.set_num_threads(1)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(784, 10))
    tx, tg = torch.from_numpy(x), torch.from_numpy(dlogits)

    def torch_step() -> None:
        net.zero_grad(set_to_none=True)
        net(tx).backward(tg)

    t = best_ms(torch_step)
    print(f"torch CNN training step (batch {BATCH}, 1 thread): {t[0]:.2f} / {t[1]:.2f} ms "
          f"-> {t[1] * 60000 / BATCH / 1000:.2f} s per epoch")


# -- layout comparison (standalone re-implementations, 3x3 stride 1 'same' only) --------------------
def _padded(x: np.ndarray) -> np.ndarray:
    xp = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2, x.shape[3] + 2), x.dtype)
    xp[:, :, 1:-1, 1:-1] = x
    return xp


def _col2im_padded(dcols6: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """dcols6 (B, C, 3, 3, H, W) -> dx (B, C, H, W) via a padded accumulator."""
    b, c, h, w = shape
    dxp = np.zeros((b, c, h + 2, w + 2), dcols6.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + h, j:j + w] += dcols6[:, :, i, j]
    return dxp[:, :, 1:-1, 1:-1].copy()


def layout_rows(x, w, dy):
    """Columns (B*OH*OW, C*kh*kw): one big GEMM, but output and dy need transposing copies."""
    b, c, h, wd = x.shape
    f = w.shape[0]
    cols = np.ascontiguousarray(sliding_window_view(_padded(x), (3, 3), axis=(2, 3)).transpose(0, 2, 3, 1, 4, 5))
    cols = cols.reshape(b * h * wd, -1)
    w2 = w.reshape(f, -1)
    np.ascontiguousarray((cols @ w2.T).reshape(b, h, wd, f).transpose(0, 3, 1, 2))
    dy2 = np.ascontiguousarray(dy.transpose(0, 2, 3, 1)).reshape(-1, f)
    dy2.T @ cols
    dcols = (dy2 @ w2).reshape(b, h, wd, c, 3, 3).transpose(0, 3, 4, 5, 1, 2)
    return _col2im_padded(dcols, x.shape)


def layout_cols(x, w, dy):
    """Columns (C*kh*kw, B*OH*OW): one big GEMM, output (F, B, ...) needs a transposing copy."""
    b, c, h, wd = x.shape
    f = w.shape[0]
    cols = np.ascontiguousarray(sliding_window_view(_padded(x), (3, 3), axis=(2, 3)).transpose(1, 4, 5, 0, 2, 3))
    cols = cols.reshape(c * 9, -1)
    w2 = w.reshape(f, -1)
    np.ascontiguousarray((w2 @ cols).reshape(f, b, h, wd).transpose(1, 0, 2, 3))
    dy2 = np.ascontiguousarray(dy.transpose(1, 0, 2, 3)).reshape(f, -1)
    dy2 @ cols.T
    dcols = (w2.T @ dy2).reshape(c, 3, 3, b, h, wd).transpose(3, 0, 1, 2, 4, 5)
    return _col2im_padded(dcols, x.shape)


def layout_per_sample(x, w, dy):
    """Columns (B, C*kh*kw, OH*OW): batched GEMM whose output is already (B, F, OH*OW)."""
    b, c, h, wd = x.shape
    f = w.shape[0]
    cols = np.ascontiguousarray(sliding_window_view(_padded(x), (3, 3), axis=(2, 3)).transpose(0, 1, 4, 5, 2, 3))
    cols = cols.reshape(b, c * 9, h * wd)
    w2 = w.reshape(f, -1)
    np.matmul(w2, cols)
    dy3 = dy.reshape(b, f, -1)
    np.matmul(dy3, cols.transpose(0, 2, 1)).sum(axis=0)
    dcols = np.matmul(w2.T, dy3).reshape(b, c, 3, 3, h, wd)
    return _col2im_padded(dcols, x.shape)


def bench_layouts() -> None:
    rng = np.random.default_rng(0)
    print("column-matrix layouts (fresh temporaries each call, sliding_window_view im2col), fwd+bwd ms")
    for (channels, height, width), filters in CONV_CASES:
        x = rng.standard_normal((BATCH, channels, height, width), dtype=np.float32)
        w = rng.standard_normal((filters, channels, 3, 3), dtype=np.float32)
        dy = rng.standard_normal((BATCH, filters, height, width), dtype=np.float32)
        results = {fn.__name__: best_ms(lambda fn=fn, x=x, w=w, dy=dy: fn(x, w, dy), repeat=15)
                   for fn in (layout_rows, layout_cols, layout_per_sample)}
        text = ", ".join(f"{name} {t[0]:.2f} / {t[1]:.2f}" for name, t in results.items())
        print(f"  ({channels}, {height}, {width})->{filters}: {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", action="store_true", help="also compare column-matrix layouts")
    args = parser.parse_args()
    bench_core()
    bench_torch()
    bench_network()
    if args.layouts:
        bench_layouts()


if __name__ == "__main__":
    main()
