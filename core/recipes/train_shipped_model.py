"""Train the shipped digit model ``resources/models/mnist_cnn.nnz``, reproducibly.

    NNSTUDIO_DATA=/path/to/mnist OPENBLAS_NUM_THREADS=1 python -m core.recipes.train_shipped_model

Data: the 60,000 MNIST training images (never the test set), each epoch a fresh random
variant of every image, made to look like a digit drawn on nnstudio's canvas and then put
through the canvas's own preprocessing:

- 15 % of the images are used as they are (MNIST as the test set shows it);
- 85 % go through :func:`core.data.augment.augment_digits` (stroke thickness, rotation ±15°,
  scale 0.8-1.2, aspect and shear changes, shifts, elastic distortion for 60 %, contrast),
  drawn at twice the resolution; of those, 75 % are then shrunk by the canvas preprocessing
  (:func:`core.data.drawing.preprocess_batch`: crop, 20-px box with area averaging, centre
  of mass at (14, 14)), exactly as a drawing is, and 25 % are simply halved (2×2 mean), so
  the network also sees digits that are not perfectly centred or sized;
- before that, 35 % of the augmented upright "1"s get a flag at the top
  (:func:`core.data.augment.add_flags`): MNIST's writers rarely drew one, people on the
  canvas often do, and without it a "1" with a flag reads as a "7".

The augmentation generator of epoch ``e`` is ``default_rng([seed, e])``, so a resumed run
makes the same data. Network: the engine itself (:mod:`core`), Adam, softmax +
cross-entropy, learning rate ``lr * decay ** (epoch // step)``, the network's own seeded
generator for initial weights, shuffling and dropout. Set ``OPENBLAS_NUM_THREADS=1`` (as
above) for bit-exact reproduction: BLAS reads it when NumPy loads, which ``core`` does before
this module runs, so the script can only warn when it is missing.

**Stage 2: real pen handwriting.** MNIST is scanned paper from one population; people
draw on the canvas with a mouse or a pen, and finish a 9 with a hook, cross a 7, put a flag
and a foot on a 1. Stage 2 continues from stage 1's weights with a fresh Adam (learning rate
``PEN_LEARNING_RATE``, halved every ``PEN_DECAY_EVERY`` epochs) for ``PEN_EPOCHS`` epochs,
each made of

- ``PEN_MNIST_PER_EPOCH`` MNIST training images (a fresh random subset, augmented exactly as
  in stage 1), so the model keeps what it knows, and
- ``PEN_REPEATS`` fresh renderings of every digit of the UCI pen-digit writers (bundled, CC BY
  4.0; :mod:`core.data.pen`) except the held-out writers ``HELD_OUT_WRITERS``: the strokes
  placed on the canvas with the variation people and screens bring (size, position, slant,
  shear, jitter, stroke speed, mouse-pixel rounding, brush width), painted with the canvas's
  own brush (:mod:`core.data.brush`) and preprocessed exactly as the Draw tab does
  (:func:`core.data.pen.render_pen_digits`).

``--base PATH`` starts stage 2 from a stage-1 model file instead of training stage 1 (its
weights are all stage 2 reads; the file's sha256 goes into the recipe metadata). The held-out
writers never reach training, so the figure measured on them (``benchmarks/pen_canvas_replay.py``)
is a figure on people the model never saw.

After every epoch the whole run (weights, optimizer state, generator, history) is saved to
``--checkpoint``; ``--resume`` continues from it. At the end the test accuracy is measured
on the 10,000 MNIST test images, and an inference copy (weights only, no optimizer state,
so the file stays small) is saved to ``--output`` with metadata describing the data, the
preprocessing, this recipe and the measured accuracy. Test accuracy is printed after every
epoch for information only: the shipped model is always the last epoch (no selection on the
test set).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from core import Network, TrainingConfig, load_model, save_model
from core.data import load_dataset, user_cache_dir
from core.data.augment import AugmentConfig, add_flags, augment_digits, downsample_mean
from core.data.drawing import preprocess_batch
from core.data.errors import DataError
from core.data.pen import HELD_OUT_WRITERS, pen_digits_path, read_unipen, render_pen_digits

#: The shipped network. Two 3×3 convolution blocks (32 and 64 maps) and a 128-unit layer:
#: about 0.42 M parameters (1.7 MB as float32), one epoch of 60,000 in about 40 s on one core.
LAYERS = [
    {"type": "Conv2D", "filters": 32, "kernel_size": 3, "padding": "same", "kernel_initializer": "he_uniform"},
    {"type": "Activation", "function": "relu"},
    {"type": "MaxPool2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 64, "kernel_size": 3, "padding": "same", "kernel_initializer": "he_uniform"},
    {"type": "Activation", "function": "relu"},
    {"type": "MaxPool2D", "pool_size": 2},
    {"type": "Flatten"},
    {"type": "Dropout", "rate": 0.25},
    {"type": "Dense", "units": 128, "kernel_initializer": "he_uniform"},
    {"type": "Activation", "function": "relu"},
    {"type": "Dropout", "rate": 0.4},
    {"type": "Dense", "units": 10},
    {"type": "Activation", "function": "softmax"},
]

DEFAULTS = {"epochs": 30, "batch_size": 64, "learning_rate": 1e-3, "decay": 0.5, "decay_every": 6, "seed": 0}
#: Fractions of each epoch's images: augmented at all; of those, canvas-preprocessed.
AUGMENTED_FRACTION = 0.85
CANVAS_FRACTION = 0.75
#: Fraction of the augmented "1"s that get a flag at the top (see ``add_flags``).
FLAG_FRACTION = 0.35
#: Images augmented per chunk (bounds memory: a chunk at 56×56 is 2048 * 12.5 kB).
CHUNK = 2048


def build_network(seed: int, learning_rate: float) -> Network:
    spec = {"input_shape": [1, 28, 28], "layers": LAYERS, "loss": "cross_entropy",
            "optimizer": {"type": "Adam", "learning_rate": learning_rate}, "seed": seed}
    return Network.from_spec(spec)


def epoch_inputs(images: np.ndarray, labels: np.ndarray, seed: int, epoch: int,
                 config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """images (n, 28, 28) in [0, 1], labels (n,) -> this epoch's training inputs
    (n, 1, 28, 28) float32 (see the module docstring for the mix). Deterministic in
    (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    n = len(images)
    out = np.array(images, dtype=np.float32)  # the un-augmented share stays as it is
    augmented = np.flatnonzero(rng.random(n) < AUGMENTED_FRACTION)
    canvas = rng.random(len(augmented)) < CANVAS_FRACTION
    flag = (labels[augmented] == 1) & (rng.random(len(augmented)) < FLAG_FRACTION)
    for start in range(0, len(augmented), CHUNK):
        idx = augmented[start:start + CHUNK]
        use_canvas = canvas[start:start + CHUNK]
        source = np.array(images[idx], dtype=np.float32)
        flagged = flag[start:start + CHUNK]
        if flagged.any():
            source[flagged] = add_flags(source[flagged], rng)
        big = augment_digits(source, rng, config)
        chunk = downsample_mean(big, config.upsample)
        if use_canvas.any():
            chunk[use_canvas] = preprocess_batch(big[use_canvas], "mnist")
        out[idx] = chunk
    return out[:, None]


#: Stage 2 (pen handwriting): epochs, learning rate and its halving, MNIST images per epoch
#: and fresh renderings of every training writer's digit per epoch.
PEN_EPOCHS = 5
PEN_LEARNING_RATE = 2e-4
PEN_DECAY_EVERY = 2
PEN_MNIST_PER_EPOCH = 60_000
PEN_REPEATS = 3


def pen_epoch_inputs(images: np.ndarray, labels: np.ndarray, pen_digits: list, seed: int,
                     epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """Stage 2's epoch ``epoch``: (x (n, 1, 28, 28) float32, labels (n,)) — a random subset of
    PEN_MNIST_PER_EPOCH MNIST images augmented as in stage 1, then PEN_REPEATS renderings of
    every pen digit. Deterministic in (seed, epoch)."""
    rng = np.random.default_rng([seed, 1000 + epoch])
    pick = rng.choice(len(images), size=min(PEN_MNIST_PER_EPOCH, len(images)), replace=False)
    mnist_x = epoch_inputs(images[pick], labels[pick], seed, 1000 + epoch)
    pen_x = [render_pen_digits(pen_digits, rng, mode="mnist", vary=True) for _ in range(PEN_REPEATS)]
    pen_y = np.array([d.label for d in pen_digits], dtype=labels.dtype)
    x = np.concatenate([mnist_x, *pen_x]).astype(np.float32, copy=False)
    y = np.concatenate([labels[pick], *([pen_y] * PEN_REPEATS)])
    return x, y


def learning_rate_for(epoch: int, base: float, decay: float, every: int) -> float:
    return base * decay ** (epoch // every)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_stage_1(args: argparse.Namespace, images: np.ndarray, labels: np.ndarray, x_test: np.ndarray,
                  y_test: np.ndarray, x_test_canvas: np.ndarray, recipe: dict) -> Network:
    """Stage 1: ``args.epochs`` epochs on augmented MNIST from seeded initial weights (see the
    module docstring); checkpointed after every epoch, resumable."""
    if args.resume and args.checkpoint.is_file():
        net = load_model(args.checkpoint)
        print(f"resumed from {args.checkpoint} after epoch {net.epochs_done}", flush=True)
    else:
        net = build_network(args.seed, args.learning_rate)
    print(net.summary(), flush=True)

    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    for epoch in range(net.epochs_done, args.epochs):
        start = time.perf_counter()
        net.optimizer.learning_rate = learning_rate_for(epoch, args.learning_rate, args.decay, args.decay_every)
        x = epoch_inputs(images, labels, args.seed, epoch)
        made = time.perf_counter() - start
        net.fit(x, labels, epochs=1, batch_size=args.batch_size)
        trained = time.perf_counter() - start - made
        report = net.history.epochs[-1]
        test_acc = net.evaluate(x_test, y_test)["accuracy"]
        test_canvas_acc = net.evaluate(x_test_canvas, y_test)["accuracy"]
        print(f"epoch {epoch + 1}/{args.epochs}  lr {net.optimizer.learning_rate:.3g}  loss {report.loss:.4f}  "
              f"train acc {report.accuracy:.4f}  test acc {test_acc:.4f}  "
              f"test acc (re-preprocessed) {test_canvas_acc:.4f}  "
              f"data {made:.0f} s  train {trained:.0f} s", flush=True)
        net.metadata = {"recipe": recipe, "checkpoint_of_epoch": epoch + 1}
        save_model(net, args.checkpoint)

    return net


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train nnstudio's shipped MNIST model (see the module docstring).")
    parser.add_argument("--output", type=Path, default=Path("resources/models/mnist_cnn.nnz"))
    parser.add_argument("--checkpoint", type=Path, default=user_cache_dir() / "recipes" / "mnist_cnn.checkpoint.nnz",
                        help="the whole run after each epoch (default: in the user cache folder)")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    parser.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    parser.add_argument("--learning-rate", type=float, default=DEFAULTS["learning_rate"])
    parser.add_argument("--decay", type=float, default=DEFAULTS["decay"])
    parser.add_argument("--decay-every", type=int, default=DEFAULTS["decay_every"])
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    parser.add_argument("--base", type=Path, default=None,
                        help="start stage 2 from this stage-1 model file (skips stage 1)")
    parser.add_argument("--pen-checkpoint", type=Path,
                        default=user_cache_dir() / "recipes" / "mnist_cnn.pen.checkpoint.nnz",
                        help="the whole stage-2 run after each epoch")
    parser.add_argument("--pen-epochs", type=int, default=PEN_EPOCHS)
    parser.add_argument("--all-writers", action="store_true",
                        help="train stage 2 on every pen writer (no held-out figure is then possible)")
    parser.add_argument("--samples", type=int, default=None, help="train on the first N images only (quick checks)")
    parser.add_argument("--test-samples", type=int, default=None, help="evaluate on the first N test images only")
    args = parser.parse_args(argv)
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        print("warning: OPENBLAS_NUM_THREADS is not 1; the weights will not be bit-identical to the "
              "shipped model's", file=sys.stderr)

    data = load_dataset("mnist", layout="image")
    images = np.asarray(data.x[:args.samples, 0])
    labels = np.asarray(data.y[:args.samples])
    if data.x_test is None or data.y_test is None:
        raise DataError("the MNIST dataset has no official test split")
    x_test, y_test = data.x_test[:args.test_samples], data.y_test[:args.test_samples]
    # The test images as the canvas would present them (re-preprocessed): close to MNIST's own.
    x_test_canvas = preprocess_batch(x_test[:, 0], "mnist")[:, None]

    recipe = {
        "script": "python -m core.recipes.train_shipped_model", "epochs": args.epochs,
        "batch_size": args.batch_size, "optimizer": "Adam", "learning_rate": args.learning_rate,
        "schedule": f"learning_rate * {args.decay:g} ** (epoch // {args.decay_every})", "seed": args.seed,
        "training_samples": len(images), "augmented_fraction": AUGMENTED_FRACTION,
        "canvas_preprocessed_fraction_of_augmented": CANVAS_FRACTION,
        "flagged_fraction_of_augmented_ones": FLAG_FRACTION,
        "augmentation": {k: v for k, v in AugmentConfig().__dict__.items()},
    }
    if args.base is not None:
        base = load_model(args.base)
        recipe["stage_1"] = {"base_file": args.base.name, "sha256": _sha256(args.base)}
        print(f"stage 1: weights from {args.base}", flush=True)
    else:
        base = train_stage_1(args, images, labels, x_test, y_test, x_test_canvas, recipe)

    pen_all = read_unipen(pen_digits_path())
    held_out = set() if args.all_writers else set(HELD_OUT_WRITERS)
    pen_train = [d for d in pen_all if d.writer not in held_out]
    pen_test = [d for d in pen_all if d.writer in held_out]
    pen_test_x = render_pen_digits(pen_test, np.random.default_rng(0), mode="mnist", vary=False) if pen_test else None
    pen_test_y = np.array([d.label for d in pen_test])
    recipe["stage_2"] = {
        "epochs": args.pen_epochs, "optimizer": "Adam (fresh)", "learning_rate": PEN_LEARNING_RATE,
        "schedule": f"learning_rate * 0.5 ** (epoch // {PEN_DECAY_EVERY})",
        "mnist_images_per_epoch": PEN_MNIST_PER_EPOCH, "pen_renderings_per_digit_per_epoch": PEN_REPEATS,
        "pen_training_digits": len(pen_train), "pen_training_writers": len({d.writer for d in pen_train}),
        "pen_held_out_writers": sorted(held_out),
    }
    if args.resume and args.pen_checkpoint.is_file():
        net = load_model(args.pen_checkpoint)
        print(f"stage 2 resumed from {args.pen_checkpoint} after epoch {net.epochs_done}", flush=True)
    else:
        net = build_network(args.seed + 1, PEN_LEARNING_RATE)
        net.set_weights(base.get_weights())
    args.pen_checkpoint.parent.mkdir(parents=True, exist_ok=True)
    for epoch in range(net.epochs_done, args.pen_epochs):
        start = time.perf_counter()
        net.optimizer.learning_rate = learning_rate_for(epoch, PEN_LEARNING_RATE, 0.5, PEN_DECAY_EVERY)
        x, y = pen_epoch_inputs(images, labels, pen_train, args.seed, epoch)
        made = time.perf_counter() - start
        net.fit(x, y, epochs=1, batch_size=args.batch_size)
        trained = time.perf_counter() - start - made
        report = net.history.epochs[-1]
        test_acc = net.evaluate(x_test, y_test)["accuracy"]
        pen_acc = net.evaluate(pen_test_x, pen_test_y)["accuracy"] if pen_test_x is not None else float("nan")
        print(f"stage 2 epoch {epoch + 1}/{args.pen_epochs}  lr {net.optimizer.learning_rate:.3g}  "
              f"loss {report.loss:.4f}  train acc {report.accuracy:.4f}  MNIST test acc {test_acc:.4f}  "
              f"held-out pen writers (rendered, not replayed) {pen_acc:.4f}  "
              f"data {made:.0f} s  train {trained:.0f} s", flush=True)
        net.metadata = {"recipe": recipe, "checkpoint_of_epoch": epoch + 1}
        save_model(net, args.pen_checkpoint)

    test = net.evaluate(x_test, y_test)
    test_canvas = net.evaluate(x_test_canvas, y_test)
    shipped = net.inference_copy()
    # per-epoch curves only (small): stage 1's (when it ran here or is in the base file), then stage 2's
    shipped.history.epochs = list(base.history.epochs) + list(net.history.epochs)
    shipped.epochs_done = len(shipped.history.epochs)
    pen_held_out = net.evaluate(pen_test_x, pen_test_y) if pen_test_x is not None else None
    shipped.metadata = {
        "dataset": {"name": "mnist", "fingerprint": data.fingerprint(), "params": {"layout": "image"}},
        "class_names": list(data.class_names),
        "preprocessing": dict(data.preprocessing),
        "drawing_preprocessing": {"mode": "mnist", "function": "core.data.drawing.preprocess_drawing"},
        "training": TrainingConfig(epochs=args.epochs, batch_size=args.batch_size, validation_split=0.0).to_dict(),
        "recipe": recipe,
        "test_accuracy": round(float(test["accuracy"]), 6),
        "test_loss": round(float(test["loss"]), 6),
        "test_samples": len(y_test),
        "test_accuracy_re_preprocessed": round(float(test_canvas["accuracy"]), 6),
        "pen_held_out_accuracy_rendered": (round(float(pen_held_out["accuracy"]), 6)
                                           if pen_held_out is not None else None),
        "attribution": ("MNIST (Y. LeCun, C. Cortes, C. J. C. Burges); Pen-Based Recognition of Handwritten "
                        "Digits (E. Alpaydin, F. Alimoglu, UCI Machine Learning Repository, CC BY 4.0)"),
        "note": ("MNIST CNN shipped with nnstudio: trained on augmented MNIST training images that "
                 "mimic canvas drawings, then on MNIST plus real pen handwriting rendered through the "
                 "canvas's brush and preprocessing (see recipe); test accuracy measured on the 10,000 "
                 "MNIST test images; the pen figure on writers never trained on."),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_model(shipped, args.output, training_config=shipped.metadata["training"])
    size = args.output.stat().st_size
    print(json.dumps({"output": str(args.output), "bytes": size, "test_accuracy": test["accuracy"],
                      "test_loss": test["loss"], "test_accuracy_re_preprocessed": test_canvas["accuracy"],
                      "pen_held_out_accuracy_rendered": pen_held_out["accuracy"] if pen_held_out else None}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
