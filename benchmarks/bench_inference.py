"""Time inference with the shipped MNIST CNN: nnstudio's engine against PyTorch (CPU), same run.

    python benchmarks/bench_inference.py             # 10,000 test images, 5 alternating rounds
    python benchmarks/bench_inference.py --rounds 9

1. The whole MNIST test set (10,000 images) through ``Network.predict_proba`` (its default
   batches of 512) and through the same network in PyTorch (``torch.no_grad``, eval mode,
   the same weights, batches of 512, softmax), one thread each side, rounds alternating;
   medians and the median per-round ratio (target: <= 0.6). PyTorch is also timed with
   batches of 64, and the ratio is taken against whichever of its two batch sizes is faster.
   The two sides' predicted classes are compared, so a fast but wrong engine cannot pass.
2. One canvas drawing -> probabilities, as the Draw tab does it
   (``core.data.drawing.to_network_input`` on a 280x280 image, then ``predict_proba``):
   median of many calls (target: <= 3 ms).
Both print GFLOP/s beside the machine's measured float32 matmul rate.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = os.environ.get("BENCH_THREADS", "1")

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core import Network, load_model
from core.data.drawing import to_network_input
from core.data.idx import load_idx
from core.resource_files import resource_file

SHIPPED_MODEL = "models/mnist_cnn.nnz"
BATCH = 512
TORCH_BATCHES = (512, 64)
CANVAS = 280


def test_images() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST test images (n, 1, 28, 28) float32 in [0, 1] and their labels."""
    folder = Path(os.environ.get("NNSTUDIO_DATA", Path(__file__).resolve().parents[2] / "shared/data/mnist"))
    x, y = load_idx(folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz")
    return (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28), y


def torch_copy(net: Network) -> Callable[[np.ndarray, int], np.ndarray] | None:
    """The same network in PyTorch with the same weights: (x (n, 1, 28, 28), batch size) ->
    probabilities."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    nn = torch.nn
    modules = []
    for layer in net.layers:
        kind, cfg = layer.type_name, layer.config
        if kind == "Conv2D":
            if cfg["padding"] != "same" or tuple(layer.strides) != (1, 1):
                raise SystemExit("bench_inference knows only stride-1 'same' convolutions")
            conv = nn.Conv2d(layer.input_shape[0], cfg["filters"], layer.kernel, padding="same")
            conv.weight.data = torch.from_numpy(layer.params["W"].copy())
            conv.bias.data = torch.from_numpy(layer.params["b"].copy())
            modules.append(conv)
        elif kind == "Dense":
            dense = nn.Linear(*layer.params["W"].shape)
            dense.weight.data = torch.from_numpy(layer.params["W"].T.copy())
            dense.bias.data = torch.from_numpy(layer.params["b"].copy())
            modules.append(dense)
        elif kind == "MaxPool2D":
            modules.append(nn.MaxPool2d(layer.pool, layer.strides))
        elif kind == "Flatten":
            modules.append(nn.Flatten())
        elif kind == "Dropout":
            modules.append(nn.Dropout(cfg["rate"]))
        elif kind == "Activation":
            modules.append({"relu": nn.ReLU(), "softmax": nn.Softmax(dim=1)}[cfg["function"]])
        else:
            raise SystemExit(f"bench_inference has no PyTorch twin for {kind}")
    model = nn.Sequential(*modules).eval()

    def predict(x: np.ndarray, batch: int) -> np.ndarray:
        with torch.no_grad():
            parts = [model(torch.from_numpy(x[i:i + batch])) for i in range(0, len(x), batch)]
        return torch.cat(parts).numpy()
    return predict


def inference_flops(net: Network, samples: int) -> float:
    """2 * multiply-adds of one forward pass, times the samples."""
    shape, macs = net.known_input_shape(), 0
    for layer in net.layers:
        macs += layer.macs(shape)
        shape = layer.output_shape(shape)
    return 2.0 * macs * samples


def sgemm_rate() -> float:
    """Measured float32 GFLOP/s of a 2048-square matmul (the machine's practical limit)."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    a @ a
    times = []
    for _ in range(5):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * 2048 ** 3 / float(np.median(times)) / 1e9


def a_drawing() -> np.ndarray:
    """A 280x280 canvas image in [0, 1] with a thick "7" (two strokes), like the Draw tab's."""
    image = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    rows, cols = np.mgrid[0:CANVAS, 0:CANVAS]
    for (r0, c0), (r1, c1) in [((70, 80), (70, 200)), ((70, 200), (220, 120))]:
        t = np.clip(((rows - r0) * (r1 - r0) + (cols - c0) * (c1 - c0)) / ((r1 - r0) ** 2 + (c1 - c0) ** 2), 0, 1)
        distance = np.hypot(rows - (r0 + t * (r1 - r0)), cols - (c0 + t * (c1 - c0)))
        image = np.maximum(image, np.clip(1.5 - distance / 8, 0, 1))
    return image


def median_ms(fn: Callable[[], object], calls: int) -> float:
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the median counts")
    args = parser.parse_args()
    with resource_file(SHIPPED_MODEL) as path:
        net = load_model(path)
    x, labels = test_images()
    theirs = torch_copy(net)
    print("shipped model: " + ", ".join(layer.describe() for layer in net.layers))
    print(f"MNIST test set {len(x):,} images, 1 thread, numpy {np.__version__}; "
          f"float32 sgemm (2048 square): {sgemm_rate():.1f} GFLOP/s")

    ours_probs = net.predict_proba(x, BATCH)  # warm-up, and the answers to compare
    mine: list[float] = []
    ref: dict[int, list[float]] = {batch: [] for batch in TORCH_BATCHES}
    for _ in range(args.rounds):
        start = time.perf_counter()
        net.predict_proba(x, BATCH)
        mine.append(time.perf_counter() - start)
        if theirs is not None:
            for batch in TORCH_BATCHES:
                start = time.perf_counter()
                theirs(x, batch)
                ref[batch].append(time.perf_counter() - start)
    flops = inference_flops(net, len(x))
    ours_s = float(np.median(mine))
    accuracy = float(np.mean(ours_probs.argmax(axis=1) == labels))
    print(f"  nnstudio, predict_proba(batch_size={BATCH})  {ours_s * 1e3:8.1f} ms  "
          f"{flops / ours_s / 1e9:6.1f} GFLOP/s  test accuracy {accuracy:.4f}")
    if theirs is not None:
        torch_probs = theirs(x, BATCH)
        agree = float(np.mean(torch_probs.argmax(axis=1) == ours_probs.argmax(axis=1)))
        for batch in TORCH_BATCHES:
            torch_s = float(np.median(ref[batch]))
            print(f"  PyTorch, batches of {batch:<4d}                 {torch_s * 1e3:8.1f} ms  "
                  f"{flops / torch_s / 1e9:6.1f} GFLOP/s")
        best = min(TORCH_BATCHES, key=lambda batch: float(np.median(ref[batch])))
        ratio = float(np.median([a / b for a, b in zip(mine, ref[best], strict=True)]))
        print(f"  same class for {agree:.2%} of the images, max |p - p_torch| "
              f"{float(np.abs(torch_probs - ours_probs).max()):.1e}")
        print(f"  ratio nnstudio / PyTorch (its faster batch size, {best}): {ratio:.2f} (target <= 0.6)")

    drawing = a_drawing()
    preprocessing = net.metadata.get("preprocessing")

    def canvas_to_probabilities() -> np.ndarray:
        made = to_network_input(drawing, net.known_input_shape(), preprocessing)
        assert made is not None
        return net.predict_proba(made[0])

    probabilities = canvas_to_probabilities()[0]
    made = to_network_input(drawing, net.known_input_shape(), preprocessing)
    assert made is not None
    one = made[0]
    total = median_ms(canvas_to_probabilities, 300)
    predict_only = median_ms(lambda: net.predict_proba(one), 300)
    print(f"one {CANVAS}x{CANVAS} drawing -> probabilities: {total:.2f} ms median "
          f"(of which predict_proba {predict_only:.2f} ms; target <= 3 ms); "
          f"it reads as {int(probabilities.argmax())} ({probabilities.max():.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
