"""Where one CNN training step goes: nnstudio per layer beside PyTorch per operator.

    python benchmarks/profile_cnn_step.py                  # the shipped architecture, batch 64
    python benchmarks/profile_cnn_step.py --model cnn --batch 128   # the README's CNN
    python benchmarks/profile_cnn_step.py --dtype float64

nnstudio: each layer's forward and backward, in the order the network computes them
(``core.layers.execution_order``: a relu before a max pooling runs after it), timed around
the layer calls on the same MNIST batches ``Network.train_step`` sees, plus what the step
spends outside the layers (loss, finiteness check, optimizer). Best of several rounds of
``--steps`` steps, one BLAS thread. PyTorch (when installed): the same model's operators,
self CPU time per step from ``torch.profiler``. The step totals of both sides are printed
first: the distance to the issue-20 targets is visible per part (e.g. convolution backward
against ``aten::convolution_backward``).
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_training import LAYERS, mnist, torch_model  # benchmarks share one model list

from core import Network
from core.layers.execution_order import execution_order


def ours(kind: str, batch: int, steps: int, rounds: int, dtype: str) -> tuple[float, list[tuple[str, float, float]]]:
    """(best step ms, [(layer, forward ms, backward ms)] in execution order, best of rounds)."""
    x, y = mnist(batch * steps)
    data = x.reshape(-1, 1, 28, 28).astype(dtype)
    net = Network.from_spec({"input_shape": [1, 28, 28], "layers": LAYERS[kind], "loss": "cross_entropy",
                             "optimizer": {"type": "Adam", "learning_rate": 1e-3}, "seed": 0, "dtype": dtype})
    targets = net.targets(y)
    body = execution_order(net.layers[:net._fused_split()])
    timings: dict[int, list[float]] = {i: [0.0, 0.0] for i in range(len(body))}

    def timed(i: int, method, *args):
        start = time.perf_counter()
        result = method(*args)
        timings[i][0 if method.__name__ == "forward" else 1] += time.perf_counter() - start
        return result

    originals = [(layer, layer.forward, layer.backward) for layer in body]
    best_step, best_layers = float("inf"), None
    for round_ in range(rounds + 1):  # round 0 warms caches and workspaces
        for i, (layer, forward, backward) in enumerate(originals):
            layer.forward = lambda a, training=False, i=i, f=forward: timed(i, f, a, training)
            layer.backward = lambda g, need_input_grad=True, i=i, b=backward: timed(i, b, g, need_input_grad)
        for entry in timings.values():
            entry[:] = [0.0, 0.0]
        start = time.perf_counter()
        for s in range(0, len(data), batch):
            net.train_step(data[s:s + batch], targets[s:s + batch])
        elapsed = (time.perf_counter() - start) / steps
        for layer, _, _ in originals:  # plain calls again (no wrapper) outside the timed loop
            del layer.forward, layer.backward
        if round_ and elapsed < best_step:
            best_step = elapsed
            best_layers = [(layer.describe(), timings[i][0] / steps, timings[i][1] / steps)
                           for i, (layer, _, _) in enumerate(originals)]
    assert best_layers is not None
    return best_step * 1000, [(name, f * 1000, b * 1000) for name, f, b in best_layers]


def theirs(kind: str, batch: int, steps: int, rounds: int) -> tuple[float, list[tuple[str, float]]] | None:
    """(best step ms, [(operator, self CPU ms per step)]) for the same model in PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    from torch.profiler import profile

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch_model(kind)
    x, y = mnist(batch * steps)
    data, labels = torch.from_numpy(x.reshape(-1, 1, 28, 28).copy()), torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run() -> float:
        start = time.perf_counter()
        for s in range(0, len(data), batch):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(data[s:s + batch]), labels[s:s + batch]).backward()
            opt.step()
        return (time.perf_counter() - start) / steps * 1000

    run()
    best = min(run() for _ in range(rounds))
    with profile() as prof:
        run()
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    return best, [(e.key, e.self_cpu_time_total / 1000 / steps) for e in events[:14]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["shipped", "cnn"], default="shipped")
    parser.add_argument("--batch", type=int, default=None, help="default: 64 (shipped), 128 (cnn)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args()
    batch = args.batch or (64 if args.model == "shipped" else 128)
    step, layers = ours(args.model, batch, args.steps, args.rounds, args.dtype)
    reference = theirs(args.model, batch, args.steps, args.rounds) if args.dtype == "float32" else None
    print(f"{args.model} model, batch {batch}, {args.dtype}, one thread, "
          f"best of {args.rounds} rounds of {args.steps} steps")
    print(f"nnstudio step: {step:.2f} ms" + (f"   PyTorch step: {reference[0]:.2f} ms   ratio {step / reference[0]:.2f}"
                                               if reference else ""))
    print(f"\nnnstudio, per layer in execution order {'forward':>9s} {'backward':>9s} {'share':>6s}")
    in_layers = 0.0
    for name, forward, backward in layers:
        in_layers += forward + backward
        print(f"  {name:36s} {forward:9.2f} {backward:9.2f} {(forward + backward) / step:6.1%}")
    outside = step - in_layers
    print(f"  {'outside the layers (loss, checks, optimizer)':36s} {outside:19.2f} {outside / step:6.1%}")
    if reference:
        print("\nPyTorch, self CPU time per step (ms), top operators")
        for name, ms in reference[1]:
            print(f"  {name:52s} {ms:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
