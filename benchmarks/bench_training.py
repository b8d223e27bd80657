"""Time one MNIST training epoch: nnstudio's NumPy engine against PyTorch (CPU), same run.

Both sides use ONE BLAS / intra-op thread (on a 2-core machine a second thread mostly
waits on the busy core; see PITFALLS.md). Models are identical: same layers, same
initial-weight scheme family, same optimizer settings, same batch size and data order
strategy (a fresh permutation each epoch, batches gathered by fancy indexing).

    python benchmarks/bench_training.py                 # full epochs (60,000 samples)
    python benchmarks/bench_training.py --samples 12000 # quicker, same ratios
    python benchmarks/bench_training.py --only mlp

Prints seconds per epoch for each side and the ratio nnstudio / PyTorch (lower is
better; targets from issue 3: MLP <= 1.0 at batch 128, <= 0.8 at batch 32, CNN <= 1.5,
float64 <= 2x float32). Without PyTorch it prints nnstudio's times only.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = os.environ.get("BENCH_THREADS", "1")

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core import Network
from core.data.idx import load_idx

THREADS = int(os.environ["OMP_NUM_THREADS"])
REPEAT = 3  # best of REPEAT epochs on each side: the least disturbed by the rest of the machine

MLP_LAYERS = [{"type": "Dense", "units": 128}, {"type": "Activation", "function": "relu"},
              {"type": "Dense", "units": 64}, {"type": "Activation", "function": "relu"},
              {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}]
CNN_LAYERS = [{"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same"},
              {"type": "Activation", "function": "relu"}, {"type": "MaxPool2D", "pool_size": 2},
              {"type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same"},
              {"type": "Activation", "function": "relu"}, {"type": "MaxPool2D", "pool_size": 2},
              {"type": "Flatten"}, {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}]


def mnist(samples: int) -> tuple[np.ndarray, np.ndarray]:
    folder = Path(os.environ.get("NNSTUDIO_DATA", Path(__file__).resolve().parents[2] / "shared/data/mnist"))
    x, y = load_idx(folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz")
    return (x[:samples].astype(np.float32) / 255.0), y[:samples]


def time_numpy(kind: str, optimizer: dict, batch: int, x: np.ndarray, y: np.ndarray, dtype: str = "float32") -> float:
    image = kind == "cnn"
    spec = {"input_shape": [1, 28, 28] if image else [784], "layers": CNN_LAYERS if image else MLP_LAYERS,
            "loss": "cross_entropy", "optimizer": optimizer, "seed": 0, "dtype": dtype}
    net = Network.from_spec(spec)
    data = x.reshape(-1, 1, 28, 28) if image else x.reshape(-1, 784)
    data = data.astype(dtype)
    net.fit(data[:batch * 4], y[:batch * 4], epochs=1, batch_size=batch)  # warm-up (allocator, caches)
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        net.fit(data, y, epochs=1, batch_size=batch)
        times.append(time.perf_counter() - start)
    return min(times)


def time_torch(kind: str, optimizer: dict, batch: int, x: np.ndarray, y: np.ndarray) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    nn = torch.nn
    if kind == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
        data = torch.from_numpy(x.reshape(-1, 1, 28, 28).copy())
    else:
        model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
        data = torch.from_numpy(x.reshape(-1, 784).copy())
    labels = torch.from_numpy(y.astype(np.int64))
    if optimizer["type"] == "Adam":
        opt = torch.optim.Adam(model.parameters(), lr=optimizer["learning_rate"])
    else:
        opt = torch.optim.SGD(model.parameters(), lr=optimizer["learning_rate"],
                              momentum=optimizer.get("momentum", 0.0))
    loss_fn = nn.CrossEntropyLoss()

    def epoch(n: int) -> None:
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(data[idx]), labels[idx])
            loss.backward()
            opt.step()

    epoch(batch * 4)  # warm-up
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        epoch(len(data))
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--only", choices=["mlp", "cnn", "float64"], default=None)
    parser.add_argument("--repeat", type=int, default=3, help="epochs timed per case; the best counts")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    global REPEAT
    REPEAT = args.repeat
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
        cases += [("CNN conv8-pool-conv16-pool-dense10, Adam, batch 128", "cnn", adam, 128)]
    results = []
    print(f"MNIST {len(x):,} samples, {THREADS} thread(s), numpy {np.__version__}")
    print(f"{'case':55s} {'nnstudio s':>10s} {'torch s':>9s} {'ratio':>6s}")
    for name, kind, opt, batch in cases:
        ours = time_numpy(kind, opt, batch, x, y)
        ref = time_torch(kind, opt, batch, x, y)
        ratio = ours / ref if ref else None
        results.append({"case": name, "nnstudio_s": ours, "torch_s": ref, "ratio": ratio})
        print(f"{name:55s} {ours:10.2f} {ref if ref else float('nan'):9.2f} {ratio if ratio else float('nan'):6.2f}",
              flush=True)
    if args.only in (None, "float64"):
        f32 = time_numpy("mlp", adam, 128, x, y, "float32")
        f64 = time_numpy("mlp", adam, 128, x, y, "float64")
        results.append({"case": "MLP Adam batch 128 float64 / float32", "float32_s": f32, "float64_s": f64,
                        "ratio": f64 / f32})
        print(f"{'MLP Adam batch 128: float64 vs float32':55s} {f64:10.2f} {f32:9.2f} {f64 / f32:6.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
