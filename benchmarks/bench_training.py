"""Time one MNIST training epoch: nnstudio's NumPy engine against PyTorch (CPU), same run.

Both sides use ONE BLAS / intra-op thread (on a 2-core machine a second thread mostly
waits on the busy core; see PITFALLS.md). Models are identical: same layers, same
initial-weight scheme family, same optimizer settings, same batch size and data order
strategy (a fresh permutation each epoch, batches gathered by fancy indexing).

    python benchmarks/bench_training.py                 # full epochs (60,000 samples)
    python benchmarks/bench_training.py --samples 12000 # quicker, same ratios
    python benchmarks/bench_training.py --only mlp

    python benchmarks/bench_training.py --only cnn      # the two CNNs (README's and the shipped one)

Rounds alternate between the two sides (one nnstudio epoch, one PyTorch epoch, ...); each
side's time is the median of its rounds and the ratio is the median of the per-round ratios,
so a burst of load elsewhere on the machine hits both sides alike. Prints seconds per epoch,
the ratio nnstudio / PyTorch (lower is better), the training GFLOP/s each side achieves and,
first, the machine's float32 matrix-multiply (sgemm) rate measured in the same run on the
shapes the convolutions multiply and on a big square product: the distance to the limit.

Targets (issue 20): MLP <= 1.0 at batch 128, <= 0.8 at batch 32; README CNN
(conv8-pool-conv16-pool-dense10) <= 0.7; shipped architecture (conv32-pool-conv64-pool-
dense128, batch 64 as its recipe trains) <= 0.8; float64 <= 1.8x float32 (printed beside the
float64 / float32 ratio of the model's matrix products alone on this machine, measured in the
same run: the hardware's share of it). Without PyTorch it prints nnstudio's times only.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = os.environ.get("BENCH_THREADS", "1")

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core import Network
from core.data.idx import load_idx

THREADS = int(os.environ["OMP_NUM_THREADS"])

MLP_LAYERS = [{"type": "Dense", "units": 128}, {"type": "Activation", "function": "relu"},
              {"type": "Dense", "units": 64}, {"type": "Activation", "function": "relu"},
              {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}]
CNN_LAYERS = [{"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same"},
              {"type": "Activation", "function": "relu"}, {"type": "MaxPool2D", "pool_size": 2},
              {"type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same"},
              {"type": "Activation", "function": "relu"}, {"type": "MaxPool2D", "pool_size": 2},
              {"type": "Flatten"}, {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}]
# core/recipes/train_shipped_model.py LAYERS, without the initializer settings (timing only).
SHIPPED_LAYERS = [{"type": "Conv2D", "filters": 32, "kernel_size": 3, "padding": "same"},
                  {"type": "Activation", "function": "relu"}, {"type": "MaxPool2D", "pool_size": 2},
                  {"type": "Conv2D", "filters": 64, "kernel_size": 3, "padding": "same"},
                  {"type": "Activation", "function": "relu"}, {"type": "MaxPool2D", "pool_size": 2},
                  {"type": "Flatten"}, {"type": "Dropout", "rate": 0.25}, {"type": "Dense", "units": 128},
                  {"type": "Activation", "function": "relu"}, {"type": "Dropout", "rate": 0.4},
                  {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}]
LAYERS = {"mlp": MLP_LAYERS, "cnn": CNN_LAYERS, "shipped": SHIPPED_LAYERS}


def mnist(samples: int) -> tuple[np.ndarray, np.ndarray]:
    folder = Path(os.environ.get("NNSTUDIO_DATA", Path(__file__).resolve().parents[2] / "shared/data/mnist"))
    x, y = load_idx(folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz")
    return (x[:samples].astype(np.float32) / 255.0), y[:samples]


def numpy_side(kind: str, optimizer: dict, batch: int, x: np.ndarray, y: np.ndarray,
               dtype: str = "float32") -> tuple[Callable[[], float], Network]:
    """A function timing one nnstudio epoch (seconds), after a warm-up (allocator, caches)."""
    image = kind != "mlp"
    spec = {"input_shape": [1, 28, 28] if image else [784], "layers": LAYERS[kind],
            "loss": "cross_entropy", "optimizer": optimizer, "seed": 0, "dtype": dtype}
    net = Network.from_spec(spec)
    data = (x.reshape(-1, 1, 28, 28) if image else x.reshape(-1, 784)).astype(dtype)
    net.fit(data[:batch * 4], y[:batch * 4], epochs=1, batch_size=batch)

    def epoch() -> float:
        start = time.perf_counter()
        net.fit(data, y, epochs=1, batch_size=batch)
        return time.perf_counter() - start
    return epoch, net


def torch_model(kind: str):
    """The PyTorch twin of ``LAYERS[kind]`` (the final softmax lives in CrossEntropyLoss)."""
    from torch import nn

    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
    if kind == "shipped":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                             nn.Dropout(0.4), nn.Linear(128, 10))
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def torch_side(kind: str, optimizer: dict, batch: int, x: np.ndarray, y: np.ndarray) -> Callable[[], float] | None:
    """A function timing one PyTorch epoch of the same model (None without PyTorch)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    nn = torch.nn
    model = torch_model(kind)
    data = torch.from_numpy(x.reshape(-1, 1, 28, 28).copy() if kind != "mlp" else x.reshape(-1, 784).copy())
    labels = torch.from_numpy(y.astype(np.int64))
    if optimizer["type"] == "Adam":
        opt = torch.optim.Adam(model.parameters(), lr=optimizer["learning_rate"])
    else:
        opt = torch.optim.SGD(model.parameters(), lr=optimizer["learning_rate"],
                              momentum=optimizer.get("momentum", 0.0))
    loss_fn = nn.CrossEntropyLoss()

    def run(n: int) -> None:
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(data[idx]), labels[idx])
            loss.backward()
            opt.step()

    run(batch * 4)  # warm-up

    def epoch() -> float:
        start = time.perf_counter()
        run(len(data))
        return time.perf_counter() - start
    return epoch


def alternate(ours: Callable[[], float], theirs: Callable[[], float] | None,
              rounds: int) -> tuple[float, float | None, float | None]:
    """(median nnstudio s, median PyTorch s, median per-round ratio), rounds alternating."""
    mine, ref = [], []
    for _ in range(rounds):
        mine.append(ours())
        if theirs is not None:
            ref.append(theirs())
    if not ref:
        return float(np.median(mine)), None, None
    ratios = [a / b for a, b in zip(mine, ref, strict=True)]
    return float(np.median(mine)), float(np.median(ref)), float(np.median(ratios))


def training_flops(net: Network, samples: int) -> float:
    """Multiply-add FLOPs of one training epoch: forward 2*MACs, backward 2*MACs for the
    weight gradients and 2*MACs for the input gradients (the first layer needs none)."""
    shape = net.known_input_shape()
    total = 0.0
    for n, layer in enumerate(net.layers):
        macs = layer.macs(shape)
        total += 2 * macs * (3 if n > 0 else 2)
        shape = layer.output_shape(shape)
    return total * samples


def _median_time(product: Callable[[], object], repeats: int = 5) -> float:
    product()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        product()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def product_shapes(net: Network, batch: int, dense: bool = True) -> list[tuple[str, int, int, int]]:
    """(name, m, k, n) of the model's forward matrix products at this batch size: each
    convolution's im2col product (batch*OH*OW, K+1) @ (K+1, filters) and, with ``dense``, each
    Dense layer's (batch, in) @ (in, units)."""
    shapes: list[tuple[str, int, int, int]] = []
    shape = net.known_input_shape()
    for layer in net.layers:
        out = layer.output_shape(shape)
        if layer.type_name == "Conv2D":
            m, k = batch * out[1] * out[2], int(np.prod(layer.params["W"].shape[1:])) + 1
            shapes.append((f"conv {shape[0]}->{out[0]} ({m}x{k} @ {k}x{out[0]})", m, k, out[0]))
        elif dense and layer.type_name == "Dense":
            shapes.append((f"dense {shape[0]}->{out[0]}", batch, int(np.prod(shape)), out[0]))
        shape = out
    return shapes


def sgemm_rates(net: Network | None, batch: int) -> list[tuple[str, float]]:
    """Measured float32 matmul GFLOP/s: each convolution's forward product at this batch
    size ((batch*OH*OW, K+1) @ (K+1, filters)) and a 2048-square product."""
    shapes = (product_shapes(net, batch, dense=False) if net is not None else []) + [("square 2048", 2048, 2048, 2048)]
    rng = np.random.default_rng(0)
    rates = []
    for name, m, k, n in shapes:
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        rates.append((name, 2 * m * k * n / _median_time(lambda a=a, b=b: a @ b) / 1e9))
    return rates


def gemm_dtype_ratio(net: Network, batch: int) -> float:
    """The machine's own float64 / float32 time for the model's matrix products at this batch
    size (``product_shapes``), summed: what a training step could at best achieve if it were
    nothing but those products."""
    rng = np.random.default_rng(0)
    totals = {}
    for dtype in (np.float32, np.float64):
        operands = [(rng.random((m, k)).astype(dtype), rng.random((k, n)).astype(dtype))
                    for _, m, k, n in product_shapes(net, batch)]
        totals[dtype] = sum(_median_time(lambda a=a, b=b: a @ b) for a, b in operands)
    return totals[np.float64] / totals[np.float32]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--only", choices=["mlp", "cnn", "float64"], default=None)
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds per case; the median counts")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    x, y = mnist(args.samples)
    sgd = {"type": "SGD", "learning_rate": 0.05}
    adam = {"type": "Adam", "learning_rate": 0.001}
    cases = []
    if args.only in (None, "mlp"):
        cases += [("MLP 784-128-64-10, SGD, batch 128", "mlp", sgd, 128),
                  ("MLP 784-128-64-10, Adam, batch 128", "mlp", adam, 128),
                  ("MLP 784-128-64-10, SGD, batch 32", "mlp", sgd, 32),
                  ("MLP 784-128-64-10, Adam, batch 32", "mlp", adam, 32)]
    if args.only in (None, "cnn"):
        cases += [("CNN conv8-pool-conv16-pool-dense10, Adam, batch 128", "cnn", adam, 128),
                  ("shipped conv32-pool-conv64-pool-dense128, Adam, batch 64", "shipped", adam, 64),
                  ("shipped conv32-pool-conv64-pool-dense128, Adam, batch 128", "shipped", adam, 128)]
    results: list[dict] = []
    print(f"MNIST {len(x):,} samples, {THREADS} thread(s), numpy {np.__version__}, "
          f"{args.repeat} alternating rounds per case (medians)")
    if any(kind != "mlp" for _, kind, _, _ in cases):
        probe = Network.from_spec({"input_shape": [1, 28, 28], "layers": SHIPPED_LAYERS, "seed": 0})
        print("float32 matmul (sgemm) on this machine, GFLOP/s:")
        for name, rate in sgemm_rates(probe, 64):
            print(f"  {name:55s} {rate:7.1f}")
            results.append({"sgemm": name, "gflops": rate})
    print(f"{'case':58s} {'nnstudio s':>10s} {'torch s':>8s} {'ratio':>6s} {'GFLOP/s':>8s} {'torch':>6s}")
    for name, kind, opt, batch in cases:
        ours, net = numpy_side(kind, opt, batch, x, y)
        theirs = torch_side(kind, opt, batch, x, y)
        mine, ref, ratio = alternate(ours, theirs, args.repeat)
        flops = training_flops(net, len(x))
        results.append({"case": name, "nnstudio_s": mine, "torch_s": ref, "ratio": ratio,
                        "nnstudio_gflops": flops / mine / 1e9, "torch_gflops": flops / ref / 1e9 if ref else None})
        print(f"{name:58s} {mine:10.2f} {ref if ref else float('nan'):8.2f} {ratio if ratio else float('nan'):6.2f} "
              f"{flops / mine / 1e9:8.1f} {flops / ref / 1e9 if ref else float('nan'):6.1f}", flush=True)
    if args.only in (None, "float64"):
        for title, kind, batch in [("MLP Adam batch 128", "mlp", 128), ("CNN Adam batch 128", "cnn", 128)]:
            f32, net32 = numpy_side(kind, adam, batch, x, y, "float32")
            f64, _ = numpy_side(kind, adam, batch, x, y, "float64")
            t64, t32, ratio = alternate(f64, f32, args.repeat)  # ratio = float64 / float32
            products = gemm_dtype_ratio(net32, batch)
            results.append({"case": f"{title} float64 / float32", "float32_s": t32, "float64_s": t64,
                            "ratio": ratio, "matrix_products_ratio": products})
            print(f"{title + ': float64 s, float32 s, ratio':58s} {t64:10.2f} {t32 or float('nan'):8.2f} "
                  f"{ratio or float('nan'):6.2f}   (its matrix products alone: {products:.2f})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
