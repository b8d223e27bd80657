"""Cross-checks of the PyTorch project export, run with PyTorch installed (not a CI test:
PyTorch is not a dependency of nnstudio and CI does not install it).

Usage (from the repository root, with torch importable; MNIST presets use $NNSTUDIO_DATA
when MNIST is there and random inputs otherwise)::

    python benchmarks/check_pytorch_export.py            # everything below, a few minutes on 2 cores
    python benchmarks/check_pytorch_export.py --quick    # inference checks only

1. Inference: every preset, the shipped model, a network with every activation (conv with
   stride 2 and "same" padding, both poolings, dropout) in float32 and float64: the exported
   ``build_model()`` against ``net.predict_proba`` on 200 samples (≤ 1e-5, same argmax).
2. Same update: the engine trains 2 epochs (the whole set as one batch, no shuffling), the
   export continues for 2 more in ``train.py`` (weights and optimizer state), the engine for
   2 more by itself, for SGD (momentum, Nesterov, weight
   decay) with MSE, Adam (weight decay) with cross-entropy, and SGD with binary
   cross-entropy: the weights agree (the loss, optimizer and its state are the engine's).
3. ``python train.py --epochs 1`` on CPU and ``torchrun --nproc_per_node=2 train.py --epochs 1
   --out w.npz`` (gloo) on the 8×8 digits (a small classifier with dropout), then
   ``import_weights`` into a fresh engine network: its accuracy, against the engine's own
   epoch with the same settings.

Exits 1 when any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np

from core import Network, load_model
from core.data.datasets import load_dataset
from core.errors import SpecError
from core.export.check import CHECK_SAMPLES, TOLERANCE
from core.export.pytorch import to_pytorch
from core.export.weights import import_weights
from core.resource_files import resource_path

FAILURES: list[str] = []


def report(ok: bool, line: str) -> None:
    print(("PASS " if ok else "FAIL ") + line, flush=True)
    if not ok:
        FAILURES.append(line)


def dataset_for(preset: dict) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        data = load_dataset(preset["dataset"]["name"], **preset["dataset"].get("params", {}))
    except Exception as exc:  # MNIST missing: random inputs instead
        print(f"     ({preset['dataset']['name']}: {exc}; random inputs)")
        return None
    return data.x, data.y


def every_activation_net(dtype: str) -> Network:
    layers = [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "stride": 2, "padding": "same"},
              {"type": "Activation", "function": "leaky_relu"},
              {"type": "Conv2D", "filters": 4, "kernel_size": 2, "padding": "same"},
              {"type": "Activation", "function": "gelu"},
              {"type": "MaxPool2D", "pool_size": 2, "stride": 1},
              {"type": "AvgPool2D", "pool_size": 2},
              {"type": "Flatten"}, {"type": "Dropout", "rate": 0.3},
              {"type": "Dense", "units": 16}, {"type": "Activation", "function": "tanh"},
              {"type": "Dense", "units": 16, "use_bias": False}, {"type": "Activation", "function": "sigmoid"},
              {"type": "Dense", "units": 16}, {"type": "Activation", "function": "relu"},
              {"type": "Dense", "units": 10}, {"type": "Activation", "function": "linear"},
              {"type": "Activation", "function": "softmax"}]
    return Network.from_spec({"input_shape": [1, 8, 8], "layers": layers, "loss": "cross_entropy",
                              "optimizer": {"type": "Adam"}, "seed": 3, "dtype": dtype})


def check_inference(work: Path) -> None:
    cases: list[tuple[str, Network, np.ndarray | None]] = []
    for path in sorted(resource_path("presets").glob("*.json")):
        preset = json.loads(path.read_text(encoding="utf-8"))
        net = Network.from_spec(preset["spec"])
        data = dataset_for(preset)
        x = None if data is None else data[0]
        if data is not None:  # a few batches of training so the probabilities are not all alike
            net.fit(data[0][:2000], data[1][:2000], epochs=1, batch_size=32)
        cases.append((path.stem, net, x))
    shipped = load_model(resource_path("models") / "mnist_cnn.nnz")
    digits = load_dataset("digits8x8")
    mnist = dataset_for({"dataset": {"name": "mnist", "params": {"layout": "image"}}})
    cases.append(("shipped model", shipped, None if mnist is None else mnist[0]))
    for dtype in ("float32", "float64"):
        net = every_activation_net(dtype)
        net.fit(digits.x.reshape(-1, 1, 8, 8), digits.y, epochs=2, batch_size=32)
        cases.append((f"every activation {dtype}", net, digits.x.reshape(-1, 1, 8, 8)))
    for name, net, x in cases:
        # On the dataset's samples and, for a dataset smaller than CHECK_SAMPLES (XOR's four
        # points) or none, also on random inputs of the right shape.
        for inputs, what in ((x, "dataset"), (None, "random")):
            if what == "random" and x is not None and len(x) >= CHECK_SAMPLES:
                continue
            if what == "dataset" and x is None:
                continue
            check = to_pytorch(net, work / name.replace(" ", "_"), x=inputs)
            expected = CHECK_SAMPLES if inputs is None else min(CHECK_SAMPLES, len(inputs))
            report(check.ok and check.samples == expected,
                   f"inference {name} ({what} inputs): max |Δp| {check.max_prob_diff:.2e} (≤ {TOLERANCE:g}), "
                   f"argmax agreement {check.agreement:.3f} on {check.samples} samples")


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ""}  # the exported folder needs nothing of nnstudio
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def check_same_update(work: Path) -> None:
    digits = load_dataset("digits8x8")
    x, y = digits.x[:300], digits.y[:300]
    cases = [
        ("SGD momentum nesterov weight decay + mse", "mse", "sigmoid", 10,
         {"type": "SGD", "learning_rate": 0.5, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, y),
        ("Adam weight decay + cross_entropy", "cross_entropy", "softmax", 10,
         {"type": "Adam", "learning_rate": 0.01, "weight_decay": 0.001}, y),
        ("SGD + binary_cross_entropy", "binary_cross_entropy", "sigmoid", 1,
         {"type": "SGD", "learning_rate": 0.5, "momentum": 0.5}, (y >= 5).astype(np.int64)),
    ]
    for name, loss, last, units, optimizer, labels in cases:
        spec = {"input_shape": [1, 8, 8], "layers": [
            {"type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same"},
            {"type": "Activation", "function": "gelu"}, {"type": "Flatten"},
            {"type": "Dense", "units": 12}, {"type": "Activation", "function": "tanh"},
            {"type": "Dense", "units": units}, {"type": "Activation", "function": last}],
            "loss": loss, "optimizer": optimizer, "seed": 5, "dtype": "float64"}
        # The engine trains 2 full-batch epochs; the export of that state (weights and optimizer
        # slots) continues for 2 more in PyTorch, the engine for 2 more by itself.
        xs = x.reshape(-1, 1, 8, 8)
        engine = Network.from_spec(spec)
        engine.fit(xs, labels, epochs=2, batch_size=len(xs), shuffle=False)
        exported = engine.inference_copy()
        folder = work / f"update_{loss}"
        to_pytorch(engine, folder, data=(xs, labels))
        result = run([sys.executable, "train.py", "--epochs", "2", "--batch-size", str(len(xs)), "--no-shuffle",
                      "--validation-split", "0", "--out", "after.npz"], folder)
        start = engine.get_weights()
        engine.fit(xs, labels, epochs=2, batch_size=len(xs), shuffle=False)
        if result.returncode != 0:
            report(False, f"same update {name}: train.py failed: {result.stderr.strip()[-500:]}")
            continue
        import_weights(exported, folder / "after.npz")
        diff = max(float(np.max(np.abs(exported.get_weights()[k] - v))) for k, v in engine.get_weights().items())
        moved = max(float(np.max(np.abs(start[k] - v))) for k, v in engine.get_weights().items())
        report(diff < 1e-9 * max(1.0, moved) + 1e-10 and moved > 1e-3,
               f"same update {name}: 2 full-batch epochs continued from the engine's 2 (weights and optimizer "
               f"state), largest weight difference to the engine {diff:.1e} (weights moved up to {moved:.2f})")


#: The network the training checks export: a small digits classifier with dropout, so
#: train mode matters; one epoch of it reaches a clear accuracy.
TRAINING_SPEC = {"input_shape": [64], "layers": [
    {"type": "Dense", "units": 32}, {"type": "Activation", "function": "relu"}, {"type": "Dropout", "rate": 0.2},
    {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}],
    "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.01}, "seed": 7}
TRAINING_SETTINGS = {"epochs": 1, "batch_size": 32, "validation_split": 0.1, "shuffle": True}


def digits_folder(folder: Path) -> tuple[Network, np.ndarray, np.ndarray]:
    net = Network.from_spec(TRAINING_SPEC)
    net.metadata["training"] = dict(TRAINING_SETTINGS)
    digits = load_dataset("digits8x8")
    to_pytorch(net, folder, data=(digits.x, digits.y))
    return net, digits.x, digits.y


def check_training(work: Path) -> None:
    folder = work / "digits"
    net, x, y = digits_folder(folder)
    before = net.evaluate(x, y)["accuracy"]
    reference = Network.from_spec(TRAINING_SPEC)
    reference.fit(x, y, epochs=1, batch_size=32, validation_split=0.1)
    engine = reference.evaluate(x, y)["accuracy"]
    print(f"     digits 8×8: untrained accuracy {before:.3f}; the engine's own epoch reaches {engine:.3f}")
    help_text = run([sys.executable, "train.py", "--help"], folder)
    report(help_text.returncode == 0 and "--epochs" in help_text.stdout and "torchrun" in help_text.stdout,
           "python train.py --help")
    for label, command, out in (
            ("python train.py --epochs 1 (CPU)", [sys.executable, "train.py", "--epochs", "1", "--out", "one.npz",
                                                  "--cpu"], "one.npz"),
            ("torchrun --nproc_per_node=2 train.py --epochs 1 (gloo)",
             [shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun")), "--nproc_per_node=2",
              "train.py", "--epochs", "1", "--out", "w.npz"], "w.npz")):
        result = run(command, folder)
        print("     " + result.stdout.strip().replace("\n", "\n     "))
        if result.returncode != 0:
            report(False, f"{label} failed: {result.stderr.strip()[-1500:]}")
            continue
        fresh, _, _ = digits_folder(work / "fresh")
        import_weights(fresh, folder / out)
        metrics = fresh.evaluate(x, y)
        processes = "2 process(es)" if "torchrun" in label else "1 process(es)"
        report(metrics["accuracy"] > max(0.7, engine - 0.05) and processes in result.stdout,
               f"{label}: import_weights, then the engine evaluates accuracy {metrics['accuracy']:.3f}, "
               f"loss {metrics['loss']:.4f} on the {len(x):,} digits")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="inference checks only")
    parser.add_argument("--keep", help="write the exported folders here (default: a temporary folder)")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed (pip install torch): nothing to cross-check")
        return 1
    print(f"PyTorch {torch.__version__}, NumPy {np.__version__}")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="nnstudio-pytorch-check-"))
    try:
        check_inference(work)
        if not args.quick:
            check_same_update(work)
            check_training(work)
    except SpecError as exc:
        report(False, f"export refused: {exc}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(FAILURES)} failure(s)" if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
